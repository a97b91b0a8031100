-- +goose Up
-- Retention deletes a user's history past HERALD_HISTORY_RETENTION_DAYS in bounded batches
-- ordered by this index, oldest first, instead of scanning every user's rows.
CREATE INDEX history_created_at ON history (created_at);

-- +goose Down
DROP INDEX history_created_at;
