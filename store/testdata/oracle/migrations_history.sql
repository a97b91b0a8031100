-- 00001_history.sql
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
) ORGANIZATION INDEX OVERFLOW
/
-- 00002_history_created_at.sql
CREATE INDEX history_created_at ON history (created_at)
/
