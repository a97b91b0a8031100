-- +goose Up
-- The Oracle form of migrations/stats/00002_rollup.sql: the statistics of the delivery rows of
-- a shard at three levels (see there). period is a DATE, which holds seconds.
CREATE TABLE rollup_task_hourly (
  app_id NUMBER(19) NOT NULL,
  period DATE NOT NULL,
  task_id NUMBER(19) NOT NULL,
  template_id NUMBER(19) NOT NULL,
  channel VARCHAR2(16 CHAR) NOT NULL,
  status VARCHAR2(16 CHAR) NOT NULL,
  messages NUMBER(19) DEFAULT 0 NOT NULL,
  sent NUMBER(19) DEFAULT 0 NOT NULL,
  delivered NUMBER(19) DEFAULT 0 NOT NULL,
  displayed NUMBER(19) DEFAULT 0 NOT NULL,
  clicked NUMBER(19) DEFAULT 0 NOT NULL,
  cost_units NUMBER(19) DEFAULT 0 NOT NULL,
  cost NUMBER(20,4) DEFAULT 0 NOT NULL,
  CONSTRAINT rollup_task_hourly_pk PRIMARY KEY (app_id, period, task_id, template_id, channel, status)
);
CREATE INDEX rollup_task_hourly_period ON rollup_task_hourly (period);
CREATE INDEX rollup_task_hourly_task ON rollup_task_hourly (task_id, period);
CREATE TABLE rollup_hourly (
  app_id NUMBER(19) NOT NULL,
  period DATE NOT NULL,
  task_id NUMBER(19) NOT NULL,
  template_id NUMBER(19) NOT NULL,
  channel VARCHAR2(16 CHAR) NOT NULL,
  status VARCHAR2(16 CHAR) NOT NULL,
  messages NUMBER(19) DEFAULT 0 NOT NULL,
  sent NUMBER(19) DEFAULT 0 NOT NULL,
  delivered NUMBER(19) DEFAULT 0 NOT NULL,
  displayed NUMBER(19) DEFAULT 0 NOT NULL,
  clicked NUMBER(19) DEFAULT 0 NOT NULL,
  cost_units NUMBER(19) DEFAULT 0 NOT NULL,
  cost NUMBER(20,4) DEFAULT 0 NOT NULL,
  CONSTRAINT rollup_hourly_pk PRIMARY KEY (app_id, period, task_id, template_id, channel, status)
);
CREATE INDEX rollup_hourly_period ON rollup_hourly (period);
CREATE TABLE rollup_daily (
  app_id NUMBER(19) NOT NULL,
  period DATE NOT NULL,
  task_id NUMBER(19) NOT NULL,
  template_id NUMBER(19) NOT NULL,
  channel VARCHAR2(16 CHAR) NOT NULL,
  status VARCHAR2(16 CHAR) NOT NULL,
  messages NUMBER(19) DEFAULT 0 NOT NULL,
  sent NUMBER(19) DEFAULT 0 NOT NULL,
  delivered NUMBER(19) DEFAULT 0 NOT NULL,
  displayed NUMBER(19) DEFAULT 0 NOT NULL,
  clicked NUMBER(19) DEFAULT 0 NOT NULL,
  cost_units NUMBER(19) DEFAULT 0 NOT NULL,
  cost NUMBER(20,4) DEFAULT 0 NOT NULL,
  CONSTRAINT rollup_daily_pk PRIMARY KEY (app_id, period, task_id, template_id, channel, status)
);
CREATE INDEX rollup_daily_period ON rollup_daily (period);

-- +goose Down
DROP TABLE rollup_daily;
DROP TABLE rollup_hourly;
DROP TABLE rollup_task_hourly;
