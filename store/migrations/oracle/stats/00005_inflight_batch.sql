-- +goose Up
-- The Oracle form of migrations/stats/00005_inflight_batch.sql: one row per vendor call whose
-- answer is not recorded yet, holding the call's message ids.
CREATE TABLE inflight_batch (
  batch CHAR(32) NOT NULL PRIMARY KEY,
  first_id VARCHAR2(64 CHAR) NOT NULL,
  last_id VARCHAR2(64 CHAR) NOT NULL,
  provider VARCHAR2(32 CHAR) NOT NULL,
  ids CLOB NOT NULL,
  started_at TIMESTAMP(3) NOT NULL
);
CREATE INDEX inflight_batch_first ON inflight_batch (first_id);
CREATE INDEX inflight_batch_started ON inflight_batch (started_at);
DROP TABLE inflight;

-- +goose Down
CREATE TABLE inflight (
  id VARCHAR2(64 CHAR) NOT NULL PRIMARY KEY,
  provider VARCHAR2(32 CHAR) NOT NULL,
  started_at TIMESTAMP(3) NOT NULL
);
CREATE INDEX inflight_started ON inflight (started_at);
DROP TABLE inflight_batch;
