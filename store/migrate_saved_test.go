package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/store/storetest"
)

// Statistics migration 4 adds the fallback-saving columns to the day tables created before
// it, copies of delivery_template without them, and to the template and rollups; migration 6
// turns the template and the empty day tables to rows updated in place.
func TestMigrationAddsSavedColumnsToExistingDayTables(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	db := open(t, cfg)
	now := time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)
	require.NoError(t, db.Migrate(t.Context(), now, 1))
	stats := db.Stats[0]
	// The shard as version 3 left it, with a day table full of rows.
	for _, q := range []string{
		// without what version 6 changed,
		"ALTER TABLE delivery_template ROW_FORMAT=DYNAMIC, MODIFY status VARCHAR(16) NOT NULL",
		"ALTER TABLE delivery_20310506 ROW_FORMAT=DYNAMIC, MODIFY status VARCHAR(16) NOT NULL",
		"ALTER TABLE delivery_20310507 ROW_FORMAT=DYNAMIC, MODIFY status VARCHAR(16) NOT NULL",
		"DELETE FROM goose_db_version WHERE version_id = 6",
		// nor what version 4 did,
		"ALTER TABLE rollup_daily DROP COLUMN saved, DROP COLUMN saved_cost",
		"ALTER TABLE rollup_hourly DROP COLUMN saved, DROP COLUMN saved_cost",
		"ALTER TABLE rollup_task_hourly DROP COLUMN saved, DROP COLUMN saved_cost",
		"ALTER TABLE delivery_template DROP COLUMN saved, DROP COLUMN saved_cost",
		"ALTER TABLE delivery_20310506 DROP COLUMN saved, DROP COLUMN saved_cost",
		"ALTER TABLE delivery_20310507 DROP COLUMN saved, DROP COLUMN saved_cost",
		"CREATE TABLE delivery_20310401 LIKE delivery_template",
		"INSERT INTO delivery_20310401 (id, app_id, task_id, template_id, user_id, channel, status, created_at, updated_at) VALUES ('x', 1, 1, 1, 'u', 'SMS', 'SENT', NOW(3), NOW(3))",
		"DELETE FROM goose_db_version WHERE version_id = 4",
		// nor what version 5 changed.
		"CREATE TABLE inflight (id VARCHAR(64) NOT NULL PRIMARY KEY, provider VARCHAR(32) NOT NULL, started_at DATETIME(3) NOT NULL, KEY inflight_started (started_at))",
		"DROP TABLE inflight_batch",
		"DELETE FROM goose_db_version WHERE version_id = 5",
	} {
		_, err := stats.ExecContext(t.Context(), q)
		require.NoError(t, err, q)
	}

	require.NoError(t, db.Migrate(t.Context(), now, 1))
	for _, table := range []string{"delivery_template", "delivery_20310401", "delivery_20310506", "delivery_20310507", "rollup_task_hourly", "rollup_hourly", "rollup_daily"} {
		var n int
		require.NoError(t, stats.QueryRowContext(t.Context(),
			"SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name IN ('saved', 'saved_cost')", table).Scan(&n))
		require.Equal(t, 2, n, table)
	}
	var saved int
	var cost string
	require.NoError(t, stats.QueryRowContext(t.Context(), "SELECT saved, saved_cost FROM delivery_20310401 WHERE id = 'x'").Scan(&saved, &cost))
	require.Zero(t, saved, "rows recorded before count no saving")
	require.Equal(t, "0.0000", cost)
	// Version 6: the template and the empty day tables change format; a table holding rows
	// keeps its own.
	for table, want := range map[string]string{"delivery_template": "Redundant", "delivery_20310506": "Redundant",
		"delivery_20310507": "Redundant", "delivery_20310401": "Dynamic"} {
		var format, status string
		require.NoError(t, stats.QueryRowContext(t.Context(),
			"SELECT t.row_format, c.column_type FROM information_schema.tables t JOIN information_schema.columns c "+
				"ON c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'status' "+
				"WHERE t.table_schema = DATABASE() AND t.table_name = ?", table).Scan(&format, &status))
		require.Equal(t, want, format, table)
		if want == "Redundant" {
			require.Equal(t, "char(16)", status, table)
		} else {
			require.Equal(t, "varchar(16)", status, table)
		}
	}
	var procs int
	require.NoError(t, stats.QueryRowContext(t.Context(),
		"SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = DATABASE()").Scan(&procs))
	require.Zero(t, procs, "the migration leaves no procedure behind")
}
