-- +goose Up
-- The Oracle form of migrations/stats/00003_inflight.sql: messages handed to a vendor whose
-- answer is not recorded yet.
CREATE TABLE inflight (
  id VARCHAR2(64 CHAR) NOT NULL PRIMARY KEY,
  provider VARCHAR2(32 CHAR) NOT NULL,
  started_at TIMESTAMP(3) NOT NULL
);
CREATE INDEX inflight_started ON inflight (started_at);

-- +goose Down
DROP TABLE inflight;
