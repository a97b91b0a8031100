-- +goose Up
ALTER TABLE tasks
  ADD COLUMN user_ids JSON NULL,
  ADD COLUMN parent_id BIGINT NULL,
  ADD COLUMN planned BOOLEAN NOT NULL DEFAULT FALSE,
  ADD COLUMN error VARCHAR(255) NULL,
  ADD KEY tasks_due (status, start_at),
  ADD KEY tasks_cron (next_run_at);

-- The shards a bulk task was split into: about a thousand users each, a keyset range of the
-- audience. A shard is recorded after its message was confirmed by RabbitMQ.
CREATE TABLE task_shards (
  task_id BIGINT NOT NULL,
  shard_no INT NOT NULL,
  first_user VARCHAR(128) NOT NULL,
  last_user VARCHAR(128) NOT NULL,
  size INT NOT NULL,
  done BOOLEAN NOT NULL DEFAULT FALSE,
  claimed_by CHAR(32) NULL,
  claimed_at DATETIME(3) NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (task_id, shard_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE task_shards;
ALTER TABLE tasks DROP KEY tasks_cron, DROP KEY tasks_due, DROP COLUMN error, DROP COLUMN planned, DROP COLUMN parent_id, DROP COLUMN user_ids;
