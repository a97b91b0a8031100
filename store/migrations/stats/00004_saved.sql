-- +goose Up
-- saved marks a message that reached its FALLBACK chain's milestone before an SMS later in
-- the chain was started: the user was reached without the SMS. saved_cost is what that SMS
-- would have cost (the app's SMS price times the template's SMS segments). The rollups sum
-- both, per group, like cost.
ALTER TABLE delivery_template ADD COLUMN saved TINYINT NOT NULL DEFAULT 0, ADD COLUMN saved_cost DECIMAL(14,4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_task_hourly ADD COLUMN saved BIGINT NOT NULL DEFAULT 0, ADD COLUMN saved_cost DECIMAL(20,4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_hourly ADD COLUMN saved BIGINT NOT NULL DEFAULT 0, ADD COLUMN saved_cost DECIMAL(20,4) NOT NULL DEFAULT 0;
ALTER TABLE rollup_daily ADD COLUMN saved BIGINT NOT NULL DEFAULT 0, ADD COLUMN saved_cost DECIMAL(20,4) NOT NULL DEFAULT 0;

-- The day tables already created (past days, and the days created ahead) were copied from
-- delivery_template before it had the columns: each gets them too. Adding a column with a
-- default at the end of a table changes only its metadata (instant ADD COLUMN), whatever its
-- size.
-- +goose StatementBegin
CREATE PROCEDURE herald_add_saved_columns()
BEGIN
  DECLARE done INT DEFAULT 0;
  DECLARE day_table VARCHAR(64);
  DECLARE days CURSOR FOR
    SELECT t.table_name FROM information_schema.tables t
    WHERE t.table_schema = DATABASE() AND t.table_name REGEXP '^delivery_[0-9]{8}$'
      AND NOT EXISTS (SELECT 1 FROM information_schema.columns c
                      WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'saved');
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;
  OPEN days;
  each_day: LOOP
    FETCH days INTO day_table;
    IF done THEN
      LEAVE each_day;
    END IF;
    SET @herald_alter = CONCAT('ALTER TABLE `', day_table, '` ADD COLUMN saved TINYINT NOT NULL DEFAULT 0, ADD COLUMN saved_cost DECIMAL(14,4) NOT NULL DEFAULT 0');
    PREPARE add_columns FROM @herald_alter;
    EXECUTE add_columns;
    DEALLOCATE PREPARE add_columns;
  END LOOP;
  CLOSE days;
END;
-- +goose StatementEnd
CALL herald_add_saved_columns();
DROP PROCEDURE herald_add_saved_columns;

-- +goose Down
ALTER TABLE rollup_daily DROP COLUMN saved, DROP COLUMN saved_cost;
ALTER TABLE rollup_hourly DROP COLUMN saved, DROP COLUMN saved_cost;
ALTER TABLE rollup_task_hourly DROP COLUMN saved, DROP COLUMN saved_cost;
ALTER TABLE delivery_template DROP COLUMN saved, DROP COLUMN saved_cost;
