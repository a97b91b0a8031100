package server_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/server/servertest"
)

// The history retention job runs when a worker starts and daily after: entries older than
// HERALD_HISTORY_RETENTION_DAYS go, newer ones stay.
func TestHistoryRetentionJob(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.HistoryRetentionDays = 30 }))
	h := reports.NewSQLHistory(env.DB)
	now := time.Now()
	var es []reports.HistoryEntry
	var kept []string
	for i := range 40 {
		at := now.AddDate(0, 0, -31-i%3)
		if i%2 == 0 {
			at = now.AddDate(0, 0, -29+i%3)
			kept = append(kept, fmt.Sprintf("m%02d", i))
		}
		es = append(es, reports.HistoryEntry{AppID: 1, UserID: fmt.Sprintf("user-%d", i%5), MessageID: fmt.Sprintf("m%02d", i), TaskID: 1,
			Channel: channels.SMS, Body: "b", Status: channels.Sent, CreatedAt: at})
	}
	require.NoError(t, h.Append(t.Context(), es))
	env.Restart(t)

	list := func() []string {
		var ids []string
		for u := range 5 {
			got, err := h.List(t.Context(), 1, fmt.Sprintf("user-%d", u), reports.HistoryQuery{First: 100})
			require.NoError(t, err)
			for _, e := range got {
				ids = append(ids, e.MessageID)
			}
		}
		slices.Sort(ids)
		return ids
	}
	env.Await(t, func() error {
		if got := list(); len(got) != len(kept) {
			return fmt.Errorf("%d entries left, want %d", len(got), len(kept))
		}
		return nil
	})
	require.Equal(t, kept, list())
}
