-- +goose Up
-- History is written once per message with keys in random order, the load an LSM engine is
-- built for. Measured at 30 million rows (docs/architecture.md, "History storage engine"),
-- MariaDB's RocksDB engine wrote faster, took a fifth of InnoDB's disk and answered a user's
-- newest messages with a lower p99, so history uses it when the server has it: the
-- ROCKSDB engine present (Debian: mariadb-plugin-rocksdb, loaded at server start) and the
-- table still empty. Otherwise history stays InnoDB; moving a filled table copies it, which
-- is left to a maintenance window (ALTER TABLE history ENGINE=ROCKSDB).
SET @herald_history_engine = (SELECT IF(COUNT(*) > 0 AND NOT EXISTS (SELECT 1 FROM history), 'ALTER TABLE history ENGINE=ROCKSDB', 'DO 0')
  FROM information_schema.engines WHERE engine = 'ROCKSDB' AND support IN ('YES', 'DEFAULT'));
EXECUTE IMMEDIATE @herald_history_engine;

-- +goose Down
SET @herald_history_engine = (SELECT IF(COUNT(*) > 0, 'ALTER TABLE history ENGINE=InnoDB', 'DO 0')
  FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'history' AND engine = 'ROCKSDB');
EXECUTE IMMEDIATE @herald_history_engine;
