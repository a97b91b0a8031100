-- +goose Up
ALTER TABLE apps ADD COLUMN settings JSON NULL;
ALTER TABLE template_versions ADD COLUMN class VARCHAR(16) NOT NULL DEFAULT 'TRANSACTIONAL';

-- A user's opt-outs: channel '' means every channel, class '' every class.
CREATE TABLE user_optouts (
  app_id BIGINT NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  channel VARCHAR(16) NOT NULL,
  class VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (app_id, user_id, channel, class)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE user_optouts;
ALTER TABLE template_versions DROP COLUMN class;
ALTER TABLE apps DROP COLUMN settings;
