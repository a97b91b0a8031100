-- +goose Up
CREATE TABLE apps (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  UNIQUE KEY apps_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE console_users (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email VARCHAR(254) NOT NULL,
  password_hash VARCHAR(100) NOT NULL,
  role VARCHAR(16) NOT NULL,
  all_apps BOOLEAN NOT NULL DEFAULT FALSE,
  created_at DATETIME(3) NOT NULL,
  UNIQUE KEY console_users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE console_user_apps (
  user_id BIGINT NOT NULL,
  app_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, app_id)
) ENGINE=InnoDB;

CREATE TABLE api_keys (
  id VARCHAR(24) NOT NULL PRIMARY KEY,
  app_id BIGINT NOT NULL,
  role VARCHAR(16) NOT NULL,
  secret_hash BINARY(32) NOT NULL,
  created_by VARCHAR(254) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  last_used_at DATETIME(3) NULL,
  revoked_at DATETIME(3) NULL,
  KEY api_keys_app (app_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE settings (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  value VARCHAR(1024) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE users (
  app_id BIGINT NOT NULL,
  id VARCHAR(128) NOT NULL,
  attributes JSON NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (app_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE identities (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  app_id BIGINT NOT NULL,
  channel VARCHAR(16) NOT NULL,
  address VARCHAR(512) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  UNIQUE KEY identities_address (app_id, channel, address)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE user_identities (
  app_id BIGINT NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  identity_id BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (app_id, user_id, identity_id),
  KEY user_identities_identity (identity_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE user_tags (
  app_id BIGINT NOT NULL,
  tag VARCHAR(64) NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  PRIMARY KEY (app_id, tag, user_id),
  KEY user_tags_user (app_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE templates (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  app_id BIGINT NOT NULL,
  name VARCHAR(100) NOT NULL,
  version INT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY templates_name (app_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE template_versions (
  template_id BIGINT NOT NULL,
  version INT NOT NULL,
  variables JSON NOT NULL,
  variants JSON NOT NULL,
  created_by VARCHAR(254) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (template_id, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE rules (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  app_id BIGINT NOT NULL,
  name VARCHAR(100) NOT NULL,
  version INT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY rules_name (app_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE rule_versions (
  rule_id BIGINT NOT NULL,
  version INT NOT NULL,
  routes JSON NOT NULL,
  created_by VARCHAR(254) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (rule_id, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE tasks (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  app_id BIGINT NOT NULL,
  name VARCHAR(200) NOT NULL,
  kind VARCHAR(16) NOT NULL,
  lane VARCHAR(16) NOT NULL,
  status VARCHAR(16) NOT NULL,
  template_id BIGINT NOT NULL,
  template_version INT NOT NULL,
  rule_id BIGINT NOT NULL,
  rule_version INT NOT NULL,
  audience_id BIGINT NULL,
  variables JSON NULL,
  priority TINYINT NOT NULL DEFAULT 0,
  cron VARCHAR(100) NULL,
  start_at DATETIME(3) NULL,
  next_run_at DATETIME(3) NULL,
  day CHAR(8) NOT NULL,
  total BIGINT NOT NULL DEFAULT 0,
  shards_total INT NOT NULL DEFAULT 0,
  shards_done INT NOT NULL DEFAULT 0,
  created_by VARCHAR(254) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  KEY tasks_app (app_id, id),
  KEY tasks_app_status (app_id, status, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE idempotency_keys (
  app_id BIGINT NOT NULL,
  idem_key VARCHAR(128) NOT NULL,
  task_id BIGINT NOT NULL,
  result JSON NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (app_id, idem_key),
  KEY idempotency_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE audit_log (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at DATETIME(3) NOT NULL,
  actor VARCHAR(254) NOT NULL,
  action VARCHAR(64) NOT NULL,
  app_id BIGINT NULL,
  target VARCHAR(254) NULL,
  remote_addr VARCHAR(64) NULL,
  detail JSON NULL,
  KEY audit_app (app_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE audit_log;
DROP TABLE idempotency_keys;
DROP TABLE tasks;
DROP TABLE rule_versions;
DROP TABLE rules;
DROP TABLE template_versions;
DROP TABLE templates;
DROP TABLE user_tags;
DROP TABLE user_identities;
DROP TABLE identities;
DROP TABLE users;
DROP TABLE settings;
DROP TABLE api_keys;
DROP TABLE console_user_apps;
DROP TABLE console_users;
DROP TABLE apps;
