package dispatch

import "github.com/herald-msg/herald/store"

// The statements of this package that differ between MySQL and Oracle, built through the
// store's dialect; their text is compared with store/testdata/{mysql,oracle}/dispatch_*.sql by
// TestStatementsGolden (go test ./dispatch/ -run Golden -update rewrites the files). Boolean
// columns (planned, done) are compared with 1 and 0, which both servers read alike.

// shardCols are the columns of a shard as the planner records it.
func shardCols(dl store.Dialect) []string {
	return []string{"task_id", "shard_no", "first_user", "last_user", dl.Quote("size"), "updated_at"}
}

var shardKey = []string{"task_id", "shard_no"}

// recordShardsSQL records n shards (task_id, shard_no, first_user, last_user, size,
// updated_at), skipping those recorded.
func recordShardsSQL(dl store.Dialect, n int) string {
	return dl.Rebind(dl.InsertIgnore("task_shards", shardCols(dl), n, shardKey))
}

// lastShardSQL reads the number and last user of a task's last recorded shard.
func lastShardSQL(dl store.Dialect) string {
	return dl.Rebind("SELECT shard_no, last_user FROM task_shards WHERE task_id = ? ORDER BY shard_no DESC" + dl.Limit("1"))
}

// planTotalsSQL counts a task's shards and their users.
func planTotalsSQL(dl store.Dialect) string {
	return dl.Rebind("SELECT COUNT(*), COALESCE(SUM(" + dl.Quote("size") + "), 0) FROM task_shards WHERE task_id = ?")
}

// claimShardSQL takes a shard (task_id, shard_no, first_user, last_user, size, token, now,
// now, lease start, lease start) unless it is done or another token holds a claim newer than
// the lease start. claimed_at moves only when the claim is now the token's; its condition
// holds alike whether it reads claimed_by before the statement (Oracle) or after the first
// assignment (MySQL, which assigns in order): either the claim was free or stale, or it was
// the token's already.
func claimShardSQL(dl store.Dialect) string {
	cols := []string{"task_id", "shard_no", "first_user", "last_user", dl.Quote("size"), "claimed_by", "claimed_at", "updated_at"}
	done := dl.Stored("done") + " = 1"
	held := "(" + dl.Stored("claimed_by") + " IS NOT NULL AND " + dl.Stored("claimed_at") + " > ?)"
	return dl.Rebind(dl.UpsertSet("task_shards", cols, 1, shardKey, []string{
		"claimed_by = " + dl.If(done+" OR "+held, dl.Stored("claimed_by"), dl.Inserted("claimed_by")),
		"claimed_at = " + dl.If(dl.Stored("done")+" = 0 AND ("+dl.Stored("claimed_by")+" = "+dl.Inserted("claimed_by")+" OR NOT "+held+")",
			dl.Inserted("claimed_at"), dl.Stored("claimed_at")),
	}))
}

// sendDoneSQL completes a send's task (now, task id): RUNNING becomes COMPLETED, and its one
// shard is done.
func sendDoneSQL(dl store.Dialect) string {
	return dl.Rebind("UPDATE tasks SET status = " + dl.If("status = 'RUNNING'", "'COMPLETED'", "status") +
		", shards_done = LEAST(shards_done + 1, shards_total), updated_at = ? WHERE id = ?")
}

// tasksSQL ends the task list query q, newest first, with its row count as last argument.
func tasksSQL(dl store.Dialect, q string) string {
	return dl.Rebind(q + " ORDER BY id DESC" + dl.Limit("?"))
}

// dueTasksSQL reads up to 100 scheduled tasks due at a time: one-off tasks, or with cron
// campaigns whose next run is due.
func dueTasksSQL(dl store.Dialect, cron bool) string {
	if cron {
		return dl.Rebind("SELECT " + taskColumns + " FROM tasks WHERE status = 'SCHEDULED' AND cron IS NOT NULL AND next_run_at <= ?" + dl.Limit("100"))
	}
	return dl.Rebind("SELECT " + taskColumns + " FROM tasks WHERE status = 'SCHEDULED' AND cron IS NULL AND start_at <= ?" + dl.Limit("100"))
}

// cronRunSourceSQL reads what a cron run copies from its campaign.
const cronRunSourceSQL = `SELECT app_id, name, kind, lane, template_id, template_version, rule_id, rule_version,
		audience_id, user_ids, variables, priority FROM tasks WHERE id = ?`

// createCronRunSQL inserts a run of a cron campaign; Dialect.InsertID runs it.
const createCronRunSQL = `INSERT INTO tasks (app_id, name, kind, lane, status, template_id, template_version, rule_id, rule_version,
		audience_id, user_ids, variables, priority, day, parent_id, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduler', ?, ?)`

// createBulkSQL inserts a bulk task; Dialect.InsertID runs it.
const createBulkSQL = `INSERT INTO tasks (app_id, name, kind, lane, status, template_id, template_version, rule_id, rule_version,
		audience_id, user_ids, variables, priority, cron, start_at, next_run_at, day, created_by, created_at, updated_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// createSendSQL inserts the task of a send; Dialect.InsertID runs it.
const createSendSQL = `INSERT INTO tasks (app_id, name, kind, lane, status, template_id, template_version, rule_id, rule_version,
		variables, priority, day, total, shards_total, shards_done, created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
