package dispatch

import (
	"testing"

	"github.com/herald-msg/herald/store/storetest"
)

// TestStatementsGolden compares the text of this package's dialect-dependent statements with
// store/testdata/<dialect>/dispatch_*.sql (go test ./dispatch/ -run Golden -update rewrites them).
func TestStatementsGolden(t *testing.T) {
	t.Parallel()
	for _, dl := range storetest.Dialects {
		storetest.GoldenStatements(t, dl, "dispatch", map[string]string{
			"record_shards":   recordShardsSQL(dl, 2),
			"last_shard":      lastShardSQL(dl),
			"plan_totals":     planTotalsSQL(dl),
			"claim_shard":     claimShardSQL(dl),
			"send_done":       sendDoneSQL(dl),
			"tasks":           tasksSQL(dl, "SELECT "+taskColumns+" FROM tasks WHERE app_id = ? AND status = ? AND id < ?"),
			"due_tasks":       dueTasksSQL(dl, false),
			"due_cron":        dueTasksSQL(dl, true),
			"create_cron_run": storetest.InsertIDSQL(dl, createCronRunSQL),
			"create_bulk":     storetest.InsertIDSQL(dl, createBulkSQL),
			"create_send":     storetest.InsertIDSQL(dl, createSendSQL),
		})
	}
}
