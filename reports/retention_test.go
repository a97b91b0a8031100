package reports_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
)

func TestHistoryPurgeDeletesOlderEntriesInBatches(t *testing.T) {
	t.Parallel()
	b := setupHistory(t)
	cutoff := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	var es []reports.HistoryEntry
	old, kept := 0, map[string][]string{}
	for i := range 230 {
		user := fmt.Sprintf("user-%d", i%9)
		// Old and recent entries interleave in every user's history and on both shards.
		at := cutoff.Add(time.Duration(i%5-3) * 24 * time.Hour).Add(time.Duration(i) * time.Second)
		id := fmt.Sprintf("m%03d", i)
		if at.Before(cutoff) {
			old++
		} else {
			kept[user] = append(kept[user], id)
		}
		es = append(es, reports.HistoryEntry{AppID: 1 + int64(i%2), UserID: user, MessageID: id, TaskID: 1, Channel: channels.SMS, Body: "b", Status: channels.Sent, CreatedAt: at})
	}
	// One entry exactly at the cutoff is kept.
	es = append(es, reports.HistoryEntry{AppID: 1, UserID: "user-edge", MessageID: "edge", TaskID: 1, Channel: channels.SMS, Body: "b", Status: channels.Sent, CreatedAt: cutoff})
	require.NoError(t, b.history.Append(t.Context(), es))
	require.Greater(t, old, 2*7, "several batches per shard")

	n, err := b.history.PurgeBefore(t.Context(), cutoff, 7)
	require.NoError(t, err)
	require.EqualValues(t, old, n)

	for app := int64(1); app <= 2; app++ {
		for u := range 9 {
			user := fmt.Sprintf("user-%d", u)
			var want []string
			for _, e := range es {
				if e.AppID == app && e.UserID == user && !e.CreatedAt.Before(cutoff) {
					want = append(want, e.MessageID)
				}
			}
			got := ids(b.page(t, app, user, reports.HistoryQuery{First: 200}))
			require.ElementsMatch(t, want, got, "app %d %s", app, user)
		}
	}
	require.Len(t, b.page(t, 1, "user-edge", reports.HistoryQuery{First: 10}), 1)

	n, err = b.history.PurgeBefore(t.Context(), cutoff, 0)
	require.NoError(t, err)
	require.Zero(t, n, "nothing older is left")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = b.history.PurgeBefore(ctx, cutoff.AddDate(1, 0, 0), 0)
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, b.page(t, 1, "user-edge", reports.HistoryQuery{First: 10}), 1, "a cancelled purge deletes nothing")
}
