-- +goose Up
-- The Oracle form of the day tables: one table, delivery, with a daily interval partition per
-- day (the day the message's task queued it, also the first part of its id) instead of one
-- delivery_YYYYMMDD table per day. Oracle creates a day's partition on its first insert;
-- Herald materialises the coming days ahead (LOCK TABLE … PARTITION FOR) and drops old days
-- with ALTER TABLE … DROP PARTITION FOR. The indexes are local, so a dropped day takes its
-- index entries with it. Oracle stores '' as NULL: the columns MySQL declares NOT NULL
-- DEFAULT '' are nullable here.
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
(PARTITION delivery_p0 VALUES LESS THAN (DATE '2020-01-01'));

CREATE INDEX delivery_app_time ON delivery (app_id, created_at) LOCAL;

-- +goose Down
DROP TABLE delivery PURGE;
