-- +goose Up
-- The rollups keep the statistics of a shard's delivery rows, maintained by the delivery
-- writer in the transaction that changes the rows they summarise, at three levels:
--
--   rollup_task_hourly  one row per (hour, app, task, template, channel, status)
--   rollup_hourly       the same without the task
--   rollup_daily        the same per day, without the task
--
-- period is the UTC instant at which the local hour (or day), in Herald's time zone, of the
-- rows' created_at begins; status is the rows' current status, so a status change moves a
-- message from one row to another. messages counts the rows; sent, delivered, displayed and
-- clicked count those that reached the milestone; cost_units and cost are their sums. The
-- coarser levels exist because a realtime send is a task of its own: grouping by task keeps
-- almost a row per message for OTP traffic, while the task-free rows stay few.
-- The rollups are not day tables: dropping day tables past retention leaves them.
-- task_id is always 0 in the task-free levels; it keeps one shape for every level.
CREATE TABLE rollup_task_hourly (
  app_id BIGINT NOT NULL,
  period DATETIME NOT NULL,
  task_id BIGINT NOT NULL,
  template_id BIGINT NOT NULL,
  channel VARCHAR(16) NOT NULL,
  status VARCHAR(16) NOT NULL,
  messages BIGINT NOT NULL DEFAULT 0,
  sent BIGINT NOT NULL DEFAULT 0,
  delivered BIGINT NOT NULL DEFAULT 0,
  displayed BIGINT NOT NULL DEFAULT 0,
  clicked BIGINT NOT NULL DEFAULT 0,
  cost_units BIGINT NOT NULL DEFAULT 0,
  cost DECIMAL(20,4) NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, period, task_id, template_id, channel, status),
  KEY rollup_task_hourly_period (period),
  KEY rollup_task_hourly_task (task_id, period)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE rollup_hourly (
  app_id BIGINT NOT NULL,
  period DATETIME NOT NULL,
  task_id BIGINT NOT NULL,
  template_id BIGINT NOT NULL,
  channel VARCHAR(16) NOT NULL,
  status VARCHAR(16) NOT NULL,
  messages BIGINT NOT NULL DEFAULT 0,
  sent BIGINT NOT NULL DEFAULT 0,
  delivered BIGINT NOT NULL DEFAULT 0,
  displayed BIGINT NOT NULL DEFAULT 0,
  clicked BIGINT NOT NULL DEFAULT 0,
  cost_units BIGINT NOT NULL DEFAULT 0,
  cost DECIMAL(20,4) NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, period, task_id, template_id, channel, status),
  KEY rollup_hourly_period (period)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE rollup_daily (
  app_id BIGINT NOT NULL,
  period DATETIME NOT NULL,
  task_id BIGINT NOT NULL,
  template_id BIGINT NOT NULL,
  channel VARCHAR(16) NOT NULL,
  status VARCHAR(16) NOT NULL,
  messages BIGINT NOT NULL DEFAULT 0,
  sent BIGINT NOT NULL DEFAULT 0,
  delivered BIGINT NOT NULL DEFAULT 0,
  displayed BIGINT NOT NULL DEFAULT 0,
  clicked BIGINT NOT NULL DEFAULT 0,
  cost_units BIGINT NOT NULL DEFAULT 0,
  cost DECIMAL(20,4) NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, period, task_id, template_id, channel, status),
  KEY rollup_daily_period (period)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE rollup_daily;
DROP TABLE rollup_hourly;
DROP TABLE rollup_task_hourly;
