package reports

import (
	"slices"
	"strings"
	"time"

	"github.com/herald-msg/herald/store"
)

// The statements of this package that differ between MySQL and Oracle, built through the
// store's dialect; their Oracle and MySQL text is compared with store/testdata/{oracle,mysql}
// by TestStatementsGolden (go test ./reports/ -run Golden -update rewrites the files).

// historyCols are the columns of a history insert.
var historyCols = []string{"app_id", "user_id", "rtime", "message_id", "task_id", "channel", "address", "title", "body", "status", "created_at"}

// historyInsertSQL writes n history rows, skipping those already written.
func historyInsertSQL(dl store.Dialect, n int) string {
	return dl.Rebind(dl.InsertIgnore("history", historyCols, n, historyKey))
}

// historyListSQL reads a page of a user's history; where ends with its own conditions and
// the page size is the last argument.
func historyListSQL(dl store.Dialect, where string) string {
	return dl.Rebind("SELECT message_id, task_id, channel, address, title, body, status, created_at FROM history WHERE " + where +
		" ORDER BY rtime, message_id" + dl.Limit("?"))
}

// deliveryCols are the columns of a delivery insert; sent_at is NULL for a message not sent.
var deliveryCols = []string{"id", "app_id", "task_id", "template_id", "user_id", "channel", "address", "provider", "vendor_id", "status",
	"reason", "cost_units", "cost", "created_at", "updated_at", "sent_at TIMESTAMP(3)"}

// recordSQL inserts n delivery rows into the detail of day, skipping ids already recorded.
func recordSQL(dl store.Dialect, day string, n int) string {
	return dl.Rebind(dl.InsertDayIgnore(day, deliveryCols, n))
}

// inIDs is the condition "id IN (…n placeholders)".
func inIDs(n int) string { return "id IN (" + store.Placeholders(n) + ")" }

// deliverySelect is the column list deliveryDest scans.
const deliverySelect = "SELECT id, app_id, task_id, template_id, user_id, channel, address, provider, vendor_id, status, reason, cost_units, cost, created_at, updated_at FROM "

// deliveryDest are the destinations of deliverySelect's columns in d.
func deliveryDest(d *Delivery) []any {
	return []any{&d.ID, &d.AppID, &d.TaskID, &d.TemplateID, &d.UserID, &d.Channel, store.Text(&d.Address), store.Text(&d.Provider),
		store.Text(&d.VendorID), &d.Status, store.Text(&d.Reason), &d.CostUnits, &d.Cost, &d.CreatedAt, &d.UpdatedAt}
}

// detailSQL reads a page of the detail of day, oldest first; where holds the conditions and the
// page size is the last argument.
func detailSQL(dl store.Dialect, day, where string) string {
	return dl.Rebind(deliverySelect + dl.DayTable(day) + " WHERE " + where + " ORDER BY created_at, id" + dl.Limit("?"))
}

// statusRanks orders statuses; an update applies only when it ranks above the stored one.
var statusRanks = []string{"QUEUED", "SENT", "FAILED", "DELIVERED", "DISPLAYED", "CLICKED"}

// applySQL moves n rows of the detail of day forward, one update each (id, status, provider,
// vendor_id, reason, cost_units, cost, at). A SUPPRESSED message was never sent: nothing about
// it changes. Every assignment reads the values the row had before the statement.
func applySQL(dl store.Dialect, day string, n int) string {
	row := "SELECT ? AS id, ? AS status, ? AS provider, ? AS vendor_id, ? AS reason, ? AS cost_units, ? AS cost, ? AS at" + dl.FromDual()
	source := strings.TrimSuffix(strings.Repeat(row+" UNION ALL ", n), " UNION ALL ")
	higher := dl.Rank("s.status", statusRanks) + " > " + dl.Rank("t.status", statusRanks)
	milestone := func(col, statuses string) string {
		return "t." + col + " = " + dl.If("s.status IN ("+statuses+")", "COALESCE(t."+col+", s.at)", "t."+col)
	}
	set := []string{
		"t.provider = " + dl.If(dl.NotEmpty("s.provider"), "s.provider", "t.provider"),
		"t.vendor_id = " + dl.If(dl.NotEmpty("s.vendor_id"), "s.vendor_id", "t.vendor_id"),
		"t.reason = " + dl.If(dl.NotEmpty("s.reason")+" AND "+higher, "s.reason", "t.reason"),
		"t.cost_units = GREATEST(t.cost_units, s.cost_units)",
		"t.cost = GREATEST(t.cost, s.cost)",
		milestone("sent_at", "'SENT','DELIVERED','DISPLAYED','CLICKED'"),
		milestone("delivered_at", "'DELIVERED','DISPLAYED','CLICKED'"),
		milestone("displayed_at", "'DISPLAYED','CLICKED'"),
		milestone("clicked_at", "'CLICKED'"),
		"t.updated_at = GREATEST(t.updated_at, s.at)",
		"t.status = CASE WHEN t.status IN ('SUPPRESSED','REDUNDANT') THEN t.status" +
			" WHEN t.fallback_at IS NOT NULL AND s.status IN ('DELIVERED','DISPLAYED','CLICKED') THEN 'REDUNDANT'" +
			" WHEN " + higher + " THEN s.status ELSE t.status END",
	}
	return dl.Rebind(dl.UpdateDayFrom(day, source, "t.id = s.id", "t.status <> 'SUPPRESSED'", set))
}

// markFallbackSQL marks the fallback of a message (fallback_at, id) whose milestone column col
// is not reached.
func markFallbackSQL(dl store.Dialect, day, col string) string {
	return dl.Rebind("UPDATE " + dl.DayTable(day) + " SET fallback_at = ? WHERE id = ? AND fallback_at IS NULL AND " + col + " IS NULL")
}

// fallbackAtSQL reads a message's fallback mark.
func fallbackAtSQL(dl store.Dialect, day string) string {
	return dl.Rebind("SELECT fallback_at FROM " + dl.DayTable(day) + " WHERE id = ?")
}

// markSavedSQL marks n messages of the detail of day as having saved an SMS, each with the
// cost of that SMS (id and cost, per message, then the n ids); a message
// marked before keeps its mark.
func markSavedSQL(dl store.Dialect, day string, n int) string {
	return dl.Rebind("UPDATE " + dl.DayTable(day) + " SET saved = 1, saved_cost = CASE id" + strings.Repeat(" WHEN ? THEN ?", n) +
		" ELSE saved_cost END WHERE " + inIDs(n) + " AND saved = 0")
}

// getDeliverySQL reads one delivery by id.
func getDeliverySQL(dl store.Dialect, day string) string {
	return dl.Rebind(deliverySelect + dl.DayTable(day) + " WHERE id = ?")
}

// statusRangeSQL reads the id and status of the rows of the detail of day whose ids lie
// between the two arguments, both included.
func statusRangeSQL(dl store.Dialect, day string) string {
	return dl.Rebind("SELECT id, status FROM " + dl.DayTable(day) + " WHERE id BETWEEN ? AND ?")
}

// statusesSQL reads the status of n deliveries of day by id.
func statusesSQL(dl store.Dialect, day string, n int) string {
	return dl.Rebind("SELECT id, status FROM " + dl.DayTable(day) + " WHERE " + inIDs(n))
}

// taskRollupCountsSQL sums a task's groups of the task-hourly rollup: every count of Counts
// but Fallbacks, which the rollup does not keep.
func taskRollupCountsSQL(dl store.Dialect) string {
	sumIf := func(cond, col string) string { return "COALESCE(SUM(" + dl.If(cond, col, "0") + "), 0)" }
	return dl.Rebind("SELECT COALESCE(SUM(messages), 0), COALESCE(SUM(sent), 0), COALESCE(SUM(delivered), 0), COALESCE(SUM(displayed), 0), " +
		"COALESCE(SUM(clicked), 0), " + sumIf("status = 'FAILED'", "messages") + ", " + sumIf("status = 'SUPPRESSED'", "messages") + ", " +
		sumIf("status = 'REDUNDANT'", "messages") + ", COALESCE(SUM(cost), 0), COALESCE(SUM(saved), 0), COALESCE(SUM(saved_cost), 0), " +
		sumIf("status = 'REDUNDANT'", "cost") + " FROM " + TaskHourly.Table + " WHERE task_id = ?")
}

// taskFallbacksSQL counts the messages of a task in the detail of day after which a fallback
// chain moved on.
func taskFallbacksSQL(dl store.Dialect, day string) string {
	return dl.Rebind("SELECT COUNT(fallback_at) FROM " + dl.DayTable(day) + " WHERE id > ? AND id < ?")
}

// rollupCols are the columns of a rollup upsert; period and cost carry their Oracle types,
// which the MERGE casts its binds to (cost is bound as decimal text, exact).
var rollupCols = []string{"app_id", "period DATE", "task_id", "template_id", "channel", "status",
	"messages", "sent", "delivered", "displayed", "clicked", "cost_units", "cost NUMBER(20,4)", "saved", "saved_cost NUMBER(20,4)"}

// rollupKeyCols are the primary key of a rollup table, rollupSumCols the metrics an upsert adds.
var (
	rollupKeyCols = []string{"app_id", "period", "task_id", "template_id", "channel", "status"}
	rollupSumCols = []string{"messages", "sent", "delivered", "displayed", "clicked", "cost_units", "cost", "saved", "saved_cost"}
)

// rollupAddSQL adds n rows of metrics to table, inserting the groups that have no row yet.
func rollupAddSQL(dl store.Dialect, table string, n int) string {
	return dl.Rebind(dl.UpsertAdd(table, rollupCols, n, rollupKeyCols, rollupSumCols))
}

// isSet is 1 when the column col is not NULL, else 0.
func isSet(dl store.Dialect, col string) string { return dl.If(col+" IS NOT NULL", "1", "0") }

// rowStatesSQL reads what n rows of the detail of day contribute to the rollup; lock makes it
// a locking read.
func rowStatesSQL(dl store.Dialect, day string, n int, lock bool) string {
	q := "SELECT id, app_id, task_id, template_id, channel, status, created_at, " + isSet(dl, "sent_at") + ", " + isSet(dl, "delivered_at") +
		", " + isSet(dl, "displayed_at") + ", " + isSet(dl, "clicked_at") + ", cost_units, cost, saved, saved_cost, " + isSet(dl, "fallback_at") + " FROM " + dl.DayTable(day) + " WHERE " + inIDs(n)
	if lock {
		q += " FOR UPDATE"
	}
	return dl.Rebind(q)
}

// rowsBucket is the quarter hour (UTC) of created_at, counted from 2000-01-01 (bucketEpoch).
func rowsBucket(dl store.Dialect) string { return dl.QuarterHours("created_at") }

// rollupFromRowsSQL sums the rows of the detail of day created in [?, ?) by quarter hour and
// rollup group, reading them in share mode; lock is a statement to run first in the
// transaction ("" for none).
func rollupFromRowsSQL(dl store.Dialect, day string) (lock, query string) {
	lock, suffix := dl.ShareLockDay(day)
	q := rowsBucket(dl)
	return lock, dl.Rebind("SELECT " + q + " AS q, app_id, task_id, template_id, channel, status, COUNT(*), COUNT(sent_at)," +
		" COUNT(delivered_at), COUNT(displayed_at), COUNT(clicked_at), COALESCE(SUM(cost_units), 0), COALESCE(SUM(cost), 0)," +
		" COALESCE(SUM(saved), 0), COALESCE(SUM(saved_cost), 0) FROM " + dl.DayTable(day) +
		" WHERE created_at >= ? AND created_at < ? GROUP BY " + q + ", app_id, task_id, template_id, channel, status" + suffix)
}

// storedRollupSQL reads and locks the rows of a rollup table whose period is in [?, ?).
func storedRollupSQL(dl store.Dialect, table string) string {
	return dl.Rebind("SELECT app_id, period, task_id, template_id, channel, status, messages, sent, delivered, displayed, clicked, cost_units, cost, saved, saved_cost FROM " +
		table + " WHERE period >= ? AND period < ? FOR UPDATE")
}

// deleteRollupSQL deletes the rows of a rollup table whose period is in [?, ?).
func deleteRollupSQL(dl store.Dialect, table string) string {
	return dl.Rebind("DELETE FROM " + table + " WHERE period >= ? AND period < ?")
}

// failedLike are the statuses a statistics row counts apart, in the order of its columns.
var failedLike = []string{"FAILED", "SUPPRESSED", "REDUNDANT"}

// rollupStatsSQL is the statement that answers q from the rows of a rollup level whose
// period starts in [from, to).
func rollupStatsSQL(dl store.Dialect, level RollupLevel, q StatsQuery, from, to time.Time) (string, []any) {
	cols, _ := groupBy(q, "period")
	sel := append(slices.Clone(cols), "SUM(messages)", "SUM(sent)", "SUM(delivered)", "SUM(displayed)", "SUM(clicked)")
	for _, st := range failedLike {
		sel = append(sel, "SUM("+dl.If("status = '"+st+"'", "messages", "0")+")")
	}
	sel = append(sel, "SUM(cost)", "SUM("+dl.If("status = 'REDUNDANT'", "cost", "0")+")", "SUM(saved)", "SUM(saved_cost)")
	where, fargs := filters(q)
	query := "SELECT " + strings.Join(sel, ", ") + " FROM " + level.Table + " WHERE app_id = ? AND period >= ? AND period < ?" + where
	if len(cols) > 0 {
		query += " GROUP BY " + strings.Join(cols, ", ")
	}
	return dl.Rebind(query), append([]any{q.AppID, from.UTC(), to.UTC()}, fargs...)
}

// rowsStatsSQL is the statement that answers q from the detail of day's rows created in
// [from, to).
func rowsStatsSQL(dl store.Dialect, q StatsQuery, day string, from, to time.Time) (string, []any) {
	cols, _ := groupBy(q, rowsBucket(dl))
	sel := append(slices.Clone(cols), "COUNT(*)", "COUNT(sent_at)", "COUNT(delivered_at)", "COUNT(displayed_at)", "COUNT(clicked_at)")
	for _, st := range failedLike {
		sel = append(sel, dl.CountIf("status = '"+st+"'"))
	}
	sel = append(sel, "COALESCE(SUM(cost), 0)", "COALESCE(SUM("+dl.If("status = 'REDUNDANT'", "cost", "0")+"), 0)", "COALESCE(SUM(saved), 0)",
		"COALESCE(SUM(saved_cost), 0)")
	where, fargs := filters(q)
	query := "SELECT " + strings.Join(sel, ", ") + " FROM " + dl.DayTable(day) + " WHERE app_id = ? AND created_at >= ? AND created_at < ?" + where
	if len(cols) > 0 {
		query += " GROUP BY " + strings.Join(cols, ", ")
	}
	return dl.Rebind(query), append([]any{q.AppID, createdBound(from), createdBound(to)}, fargs...)
}

// createdBound is t as a bound of created_at, which holds milliseconds: the first millisecond
// at or after t, so that created_at >= t and created_at < t select the same rows. A bound in
// nanoseconds is no DATETIME value to MariaDB (it keeps microseconds at most): it is cut with
// a note, and the statement then reads every row of the app in the day table through
// (app_id, created_at) instead of the range of the bounds.
func createdBound(t time.Time) time.Time {
	if ms := t.Truncate(time.Millisecond); ms.Before(t) {
		return ms.Add(time.Millisecond).UTC()
	}
	return t.UTC()
}

// markSendingSQL marks the ids of one vendor call in flight: batch, first_id, last_id,
// provider, ids (comma-separated) and started_at.
func markSendingSQL(dl store.Dialect) string {
	return dl.Rebind("INSERT INTO inflight_batch (batch, first_id, last_id, provider, ids, started_at) VALUES (?, ?, ?, ?, ?, ?)")
}

// interruptedSQL reads the in-flight marks whose ids may fall between the second argument
// and the first.
func interruptedSQL(dl store.Dialect) string {
	return dl.Rebind("SELECT batch, provider, ids, started_at FROM inflight_batch WHERE first_id <= ? AND last_id >= ?")
}

// clearSendingSQL removes n in-flight marks by batch.
func clearSendingSQL(dl store.Dialect, n int) string {
	return dl.Rebind("DELETE FROM inflight_batch WHERE batch IN (" + store.Placeholders(n) + ")")
}

// staleInflightBatch is the most in-flight marks one DropStaleInflight statement removes.
const staleInflightBatch = "10000"

// dropStaleInflightSQL removes up to staleInflightBatch marks started before the argument.
func dropStaleInflightSQL(dl store.Dialect) string {
	return dl.Rebind(dl.DeleteFirst("inflight_batch", "started_at < ?", "", staleInflightBatch, []string{"batch"}))
}

// historyKey is the primary key of history.
var historyKey = []string{"app_id", "user_id", "rtime", "message_id"}

// purgeHistorySQL deletes the oldest history rows created before the first argument, at most
// the second argument of them.
func purgeHistorySQL(dl store.Dialect) string {
	return dl.Rebind(dl.DeleteFirst("history", "created_at < ?", "created_at", "?", historyKey))
}

// batchRangeSQL reads the id and address of the rows of the detail of day whose ids lie
// between the two arguments, both included, in id order.
func batchRangeSQL(dl store.Dialect, day string) string {
	return dl.Rebind("SELECT id, address FROM " + dl.DayTable(day) + " WHERE id BETWEEN ? AND ? ORDER BY id")
}
