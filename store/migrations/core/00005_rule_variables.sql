-- +goose Up
ALTER TABLE rule_versions ADD COLUMN variables JSON NULL;

-- +goose Down
ALTER TABLE rule_versions DROP COLUMN variables;
