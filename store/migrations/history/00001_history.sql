-- +goose Up
-- One row per message a user was sent, keyed the way an HBase row key would be:
-- (app, user, reversed time, message id), so a user's newest messages come first.
CREATE TABLE history (
  app_id BIGINT NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  rtime BIGINT NOT NULL,
  message_id VARCHAR(64) NOT NULL,
  task_id BIGINT NOT NULL,
  channel VARCHAR(16) NOT NULL,
  address VARCHAR(512) NOT NULL DEFAULT '',
  title VARCHAR(255) NOT NULL DEFAULT '',
  body TEXT NOT NULL,
  status VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (app_id, user_id, rtime, message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE history;
