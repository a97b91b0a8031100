-- 00001_delivery.sql
CREATE TABLE delivery (
  day DATE NOT NULL,
  id VARCHAR2(64 CHAR) NOT NULL,
  app_id NUMBER(19) NOT NULL,
  task_id NUMBER(19) NOT NULL,
  template_id NUMBER(19) NOT NULL,
  user_id VARCHAR2(128 CHAR) NOT NULL,
  channel VARCHAR2(16 CHAR) NOT NULL,
  address VARCHAR2(512 CHAR) NULL,
  provider VARCHAR2(32 CHAR) NULL,
  vendor_id VARCHAR2(128 CHAR) NULL,
  status VARCHAR2(16 CHAR) NOT NULL,
  reason VARCHAR2(255 CHAR) NULL,
  cost_units NUMBER(10) DEFAULT 0 NOT NULL,
  cost NUMBER(14,4) DEFAULT 0 NOT NULL,
  created_at TIMESTAMP(3) NOT NULL,
  updated_at TIMESTAMP(3) NOT NULL,
  sent_at TIMESTAMP(3) NULL,
  delivered_at TIMESTAMP(3) NULL,
  displayed_at TIMESTAMP(3) NULL,
  clicked_at TIMESTAMP(3) NULL,
  fallback_at TIMESTAMP(3) NULL,
  CONSTRAINT delivery_pk PRIMARY KEY (day, id) USING INDEX LOCAL
)
PARTITION BY RANGE (day) INTERVAL (NUMTODSINTERVAL(1, 'DAY'))
(PARTITION delivery_p0 VALUES LESS THAN (DATE '2020-01-01'))
/
-- 00001_delivery.sql
CREATE INDEX delivery_app_time ON delivery (app_id, created_at) LOCAL
/
-- 00002_rollup.sql
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
)
/
-- 00002_rollup.sql
CREATE INDEX rollup_task_hourly_period ON rollup_task_hourly (period)
/
-- 00002_rollup.sql
CREATE INDEX rollup_task_hourly_task ON rollup_task_hourly (task_id, period)
/
-- 00002_rollup.sql
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
)
/
-- 00002_rollup.sql
CREATE INDEX rollup_hourly_period ON rollup_hourly (period)
/
-- 00002_rollup.sql
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
)
/
-- 00002_rollup.sql
CREATE INDEX rollup_daily_period ON rollup_daily (period)
/
-- 00003_inflight.sql
CREATE TABLE inflight (
  id VARCHAR2(64 CHAR) NOT NULL PRIMARY KEY,
  provider VARCHAR2(32 CHAR) NOT NULL,
  started_at TIMESTAMP(3) NOT NULL
)
/
-- 00003_inflight.sql
CREATE INDEX inflight_started ON inflight (started_at)
/
-- 00004_saved.sql
ALTER TABLE delivery ADD (saved NUMBER(1) DEFAULT 0 NOT NULL, saved_cost NUMBER(14,4) DEFAULT 0 NOT NULL)
/
-- 00004_saved.sql
ALTER TABLE rollup_task_hourly ADD (saved NUMBER(19) DEFAULT 0 NOT NULL, saved_cost NUMBER(20,4) DEFAULT 0 NOT NULL)
/
-- 00004_saved.sql
ALTER TABLE rollup_hourly ADD (saved NUMBER(19) DEFAULT 0 NOT NULL, saved_cost NUMBER(20,4) DEFAULT 0 NOT NULL)
/
-- 00004_saved.sql
ALTER TABLE rollup_daily ADD (saved NUMBER(19) DEFAULT 0 NOT NULL, saved_cost NUMBER(20,4) DEFAULT 0 NOT NULL)
/
-- 00005_inflight_batch.sql
CREATE TABLE inflight_batch (
  batch CHAR(32) NOT NULL PRIMARY KEY,
  first_id VARCHAR2(64 CHAR) NOT NULL,
  last_id VARCHAR2(64 CHAR) NOT NULL,
  provider VARCHAR2(32 CHAR) NOT NULL,
  ids CLOB NOT NULL,
  started_at TIMESTAMP(3) NOT NULL
)
/
-- 00005_inflight_batch.sql
CREATE INDEX inflight_batch_first ON inflight_batch (first_id)
/
-- 00005_inflight_batch.sql
CREATE INDEX inflight_batch_started ON inflight_batch (started_at)
/
-- 00005_inflight_batch.sql
DROP TABLE inflight
/
-- 00006_delivery_in_place.sql
ALTER TABLE delivery MODIFY DEFAULT ATTRIBUTES PCTFREE 20
/
