-- +goose Up
-- Retention deletes a user's history past HERALD_HISTORY_RETENTION_DAYS in bounded batches
-- ordered by this index, oldest first, instead of scanning every user's rows.
ALTER TABLE history ADD INDEX history_created_at (created_at);

-- +goose Down
ALTER TABLE history DROP INDEX history_created_at;
