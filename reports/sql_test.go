package reports

import (
	"strings"
	"testing"
	"time"

	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

// TestStatementsGolden compares the text of this package's dialect-dependent statements with
// store/testdata/<dialect>/reports_*.sql (go test ./reports/ -run Golden -update rewrites
// them). The MySQL text runs in every other test; the Oracle text is checked here only.
func TestStatementsGolden(t *testing.T) {
	t.Parallel()
	statsFrom := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	statsTo := statsFrom.Add(24 * time.Hour)
	statsQ := StatsQuery{AppID: 1, Dimensions: []Dimension{DimHour, DimChannel, DimStatus}, Channel: "SMS"}
	first := func(q string, _ []any) string { return q }
	for _, dl := range []store.Dialect{store.MySQL{}, store.Oracle{}} {
		after, _ := dl.RowsAfter([]string{"created_at", "id"}, []any{1, "x"})
		hafter, _ := dl.RowsAfter([]string{"rtime", "message_id"}, []any{1, "x"})
		cases := map[string]string{
			"history_insert":     historyInsertSQL(dl, 2),
			"history_list":       historyListSQL(dl, "app_id = ? AND user_id = ? AND "+hafter+" AND channel = ?"),
			"record":             recordSQL(dl, "20261127", 2),
			"statuses":           statusesSQL(dl, "20261127", 3),
			"status_range":       statusRangeSQL(dl, "20261127"),
			"apply":              applySQL(dl, "20261127", 2),
			"mark_fallback":      markFallbackSQL(dl, "20261127", "delivered_at"),
			"mark_saved":         markSavedSQL(dl, "20261127", 2),
			"fallback_at":        fallbackAtSQL(dl, "20261127"),
			"get_delivery":       getDeliverySQL(dl, "20261127"),
			"detail":             detailSQL(dl, "20261127", "app_id = ? AND created_at >= ? AND created_at < ? AND "+after),
			"task_rollup_counts": taskRollupCountsSQL(dl),
			"task_fallbacks":     taskFallbacksSQL(dl, "20261127"),
			"rollup_add":         rollupAddSQL(dl, Hourly.Table, 2),
			"row_states":         rowStatesSQL(dl, "20261127", 2, true),
			"rollup_from_rows": func() string {
				lock, q := rollupFromRowsSQL(dl, "20261127")
				return strings.TrimSpace(lock + "\n" + q)
			}(),
			"stored_rollup":       storedRollupSQL(dl, Daily.Table),
			"delete_rollup":       deleteRollupSQL(dl, Daily.Table),
			"rollup_stats":        first(rollupStatsSQL(dl, Hourly, statsQ, statsFrom, statsTo)),
			"rows_stats":          first(rowsStatsSQL(dl, statsQ, "20261127", statsFrom, statsTo)),
			"mark_sending":        markSendingSQL(dl),
			"interrupted":         interruptedSQL(dl),
			"clear_sending":       clearSendingSQL(dl, 2),
			"drop_stale_inflight": dropStaleInflightSQL(dl),
			"purge_history":       purgeHistorySQL(dl),
			"batch_ref":           batchRangeSQL(dl, "20261127"),
		}
		for name, got := range cases {
			t.Run(dl.Name()+"/"+name, func(t *testing.T) {
				storetest.Golden(t, "../store/testdata/"+dl.Name()+"/reports_"+name+".sql", got)
				if dl.Name() == "oracle" {
					for _, mysqlOnly := range []string{"?", "`", " LIMIT ", "IGNORE", "IF(", "FIELD(", " JOIN ", "delivery_2026",
						"DUPLICATE", "VALUES(", "TIMESTAMPDIFF", " DIV ", "LOCK IN", "SUM(status"} {
						if strings.Contains(got, mysqlOnly) {
							t.Errorf("the Oracle statement holds %q:\n%s", mysqlOnly, got)
						}
					}
				}
			})
		}
	}
}
