-- +goose Up
CREATE TABLE audiences (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  app_id BIGINT NOT NULL,
  name VARCHAR(100) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  expr TEXT NULL,
  created_by VARCHAR(254) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  UNIQUE KEY audiences_name (app_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE audience_members (
  audience_id BIGINT NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  PRIMARY KEY (audience_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE audience_members;
DROP TABLE audiences;
