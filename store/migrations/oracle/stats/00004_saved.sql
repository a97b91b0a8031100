-- +goose Up
-- The Oracle form of migrations/stats/00004_saved.sql: a message that saved its fallback
-- chain an SMS, and what that SMS would have cost, on the rows and summed in the rollups.
-- The day tables are the partitions of delivery, which takes the columns at once.
ALTER TABLE delivery ADD (saved NUMBER(1) DEFAULT 0 NOT NULL, saved_cost NUMBER(14,4) DEFAULT 0 NOT NULL);
ALTER TABLE rollup_task_hourly ADD (saved NUMBER(19) DEFAULT 0 NOT NULL, saved_cost NUMBER(20,4) DEFAULT 0 NOT NULL);
ALTER TABLE rollup_hourly ADD (saved NUMBER(19) DEFAULT 0 NOT NULL, saved_cost NUMBER(20,4) DEFAULT 0 NOT NULL);
ALTER TABLE rollup_daily ADD (saved NUMBER(19) DEFAULT 0 NOT NULL, saved_cost NUMBER(20,4) DEFAULT 0 NOT NULL);

-- +goose Down
ALTER TABLE rollup_daily DROP (saved, saved_cost);
ALTER TABLE rollup_hourly DROP (saved, saved_cost);
ALTER TABLE rollup_task_hourly DROP (saved, saved_cost);
ALTER TABLE delivery DROP (saved, saved_cost);
