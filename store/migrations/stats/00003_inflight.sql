-- +goose Up
-- inflight marks messages handed to a vendor whose answer is not recorded yet. A worker that
-- dies during a vendor call leaves its marks behind; the worker that takes the job over reads
-- them and does not send those messages blindly again (see docs/architecture.md, "Exactly
-- once"). Marks are removed when the answer is recorded.
CREATE TABLE inflight (
  id VARCHAR(64) NOT NULL PRIMARY KEY,
  provider VARCHAR(32) NOT NULL,
  started_at DATETIME(3) NOT NULL,
  KEY inflight_started (started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- +goose Down
DROP TABLE inflight;
