-- +goose Up
ALTER TABLE tasks ADD (
  user_ids CLOB NULL CHECK (user_ids IS JSON),
  parent_id NUMBER(19) NULL,
  planned NUMBER(1) DEFAULT 0 NOT NULL,
  error VARCHAR2(255 CHAR) NULL
);
CREATE INDEX tasks_due ON tasks (status, start_at);
CREATE INDEX tasks_cron ON tasks (next_run_at);

-- The shards a bulk task was split into: about a thousand users each, a keyset range of the
-- audience. A shard is recorded after its message was confirmed by RabbitMQ.
CREATE TABLE task_shards (
  task_id NUMBER(19) NOT NULL,
  shard_no NUMBER(10) NOT NULL,
  first_user VARCHAR2(128 CHAR) NOT NULL,
  last_user VARCHAR2(128 CHAR) NOT NULL,
  "SIZE" NUMBER(10) NOT NULL,
  done NUMBER(1) DEFAULT 0 NOT NULL,
  claimed_by CHAR(32) NULL,
  claimed_at TIMESTAMP(3) NULL,
  updated_at TIMESTAMP(3) NOT NULL,
  PRIMARY KEY (task_id, shard_no)
);

-- +goose Down
DROP TABLE task_shards;
DROP INDEX tasks_cron;
DROP INDEX tasks_due;
ALTER TABLE tasks DROP (error, planned, parent_id, user_ids);
