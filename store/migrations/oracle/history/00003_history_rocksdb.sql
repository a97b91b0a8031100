-- +goose Up
-- The MySQL migration of this version picks the storage engine of history; Oracle has no
-- engines to pick from (history is index-organized since 00001): nothing to do.

-- +goose Down
