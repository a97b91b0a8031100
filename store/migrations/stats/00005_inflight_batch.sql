-- +goose Up
-- inflight_batch marks the messages of one vendor call whose answer is not recorded yet: one
-- row per call (and statistics shard), holding the call's message ids, so that a vendor call
-- of a thousand messages costs one row written before it and one deleted after. A worker that
-- dies during a vendor call leaves its mark behind; the worker that takes the job over reads
-- it and does not send those messages blindly again (see docs/architecture.md, "Exactly
-- once"). It replaces the per-message marks of inflight; upgrade with the workers stopped,
-- as every migration asks.
CREATE TABLE inflight_batch (
  batch CHAR(32) NOT NULL PRIMARY KEY,
  first_id VARCHAR(64) NOT NULL,
  last_id VARCHAR(64) NOT NULL,
  provider VARCHAR(32) NOT NULL,
  ids MEDIUMTEXT NOT NULL,
  started_at DATETIME(3) NOT NULL,
  KEY inflight_batch_first (first_id),
  KEY inflight_batch_started (started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
DROP TABLE inflight;

-- +goose Down
CREATE TABLE inflight (
  id VARCHAR(64) NOT NULL PRIMARY KEY,
  provider VARCHAR(32) NOT NULL,
  started_at DATETIME(3) NOT NULL,
  KEY inflight_started (started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
DROP TABLE inflight_batch;
