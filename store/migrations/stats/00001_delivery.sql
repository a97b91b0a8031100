-- +goose Up
-- delivery_template is the shape of every day table delivery_YYYYMMDD, which Herald creates
-- ahead of time with CREATE TABLE ... LIKE delivery_template.
--
-- The indexes are chosen to stay insert-friendly at tens of millions of rows a day: the
-- primary key (the message id: day, zero-padded task, zero-padded position, channel) grows
-- at one point per running task, and (app_id, created_at) grows with time. A task's rows are
-- a primary-key range. Per-user lookups belong to the history store, not to this table.
CREATE TABLE delivery_template (
  id VARCHAR(64) NOT NULL PRIMARY KEY,
  app_id BIGINT NOT NULL,
  task_id BIGINT NOT NULL,
  template_id BIGINT NOT NULL,
  user_id VARCHAR(128) NOT NULL,
  channel VARCHAR(16) NOT NULL,
  address VARCHAR(512) NOT NULL DEFAULT '',
  provider VARCHAR(32) NOT NULL DEFAULT '',
  vendor_id VARCHAR(128) NOT NULL DEFAULT '',
  status VARCHAR(16) NOT NULL,
  reason VARCHAR(255) NOT NULL DEFAULT '',
  cost_units INT NOT NULL DEFAULT 0,
  cost DECIMAL(14,4) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  sent_at DATETIME(3) NULL,
  delivered_at DATETIME(3) NULL,
  displayed_at DATETIME(3) NULL,
  clicked_at DATETIME(3) NULL,
  fallback_at DATETIME(3) NULL,
  KEY delivery_app_time (app_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE delivery_template;
