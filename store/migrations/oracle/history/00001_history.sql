-- +goose Up
-- One row per message a user was sent, keyed the way an HBase row key would be:
-- (app, user, reversed time, message id), so a user's newest messages come first. An
-- index-organized table keeps the rows in key order, as InnoDB's clustered primary key does;
-- the body goes to the overflow segment.
CREATE TABLE history (
  app_id NUMBER(19) NOT NULL,
  user_id VARCHAR2(128 CHAR) NOT NULL,
  rtime NUMBER(19) NOT NULL,
  message_id VARCHAR2(64 CHAR) NOT NULL,
  task_id NUMBER(19) NOT NULL,
  channel VARCHAR2(16 CHAR) NOT NULL,
  address VARCHAR2(512 CHAR) NULL,
  title VARCHAR2(255 CHAR) NULL,
  body CLOB NULL,
  status VARCHAR2(16 CHAR) NOT NULL,
  created_at TIMESTAMP(3) NOT NULL,
  CONSTRAINT history_pk PRIMARY KEY (app_id, user_id, rtime, message_id)
) ORGANIZATION INDEX OVERFLOW;

-- +goose Down
DROP TABLE history;
