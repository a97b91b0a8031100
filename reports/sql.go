package reports

import (
	"strings"

	"github.com/herald-msg/herald/store"
)

// The statements of this package that differ between MySQL and Oracle, built through the
// store's dialect; their Oracle and MySQL text is compared with store/testdata/{oracle,mysql}
// by TestStatementsGolden (go test ./reports/ -run Golden -update rewrites the files).

// historyCols are the columns of a history insert.
var historyCols = []string{"app_id", "user_id", "rtime", "message_id", "task_id", "channel", "address", "title", "body", "status", "created_at"}

// historyInsertSQL writes n history rows, skipping those already written.
func historyInsertSQL(dl store.Dialect, n int) string {
	return dl.Rebind(dl.InsertIgnore("history", historyCols, n, []string{"app_id", "user_id", "rtime", "message_id"}))
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

// getDeliverySQL reads one delivery by id.
func getDeliverySQL(dl store.Dialect, day string) string {
	return dl.Rebind(deliverySelect + dl.DayTable(day) + " WHERE id = ?")
}

// statusesSQL reads the status of n deliveries of day by id.
func statusesSQL(dl store.Dialect, day string, n int) string {
	return dl.Rebind("SELECT id, status FROM " + dl.DayTable(day) + " WHERE " + inIDs(n))
}

// taskCountsSQL counts the deliveries of a task in the detail of day: its ids lie strictly
// between the two arguments.
func taskCountsSQL(dl store.Dialect, day string) string {
	return dl.Rebind("SELECT COUNT(*), COUNT(sent_at), COUNT(delivered_at), COUNT(displayed_at), COUNT(clicked_at), " +
		dl.CountIf("status = 'FAILED'") + ", " + dl.CountIf("status = 'SUPPRESSED'") + ", " + dl.CountIf("status = 'REDUNDANT'") +
		", COUNT(fallback_at), COALESCE(SUM(cost), 0) FROM " + dl.DayTable(day) + " WHERE id > ? AND id < ?")
}
