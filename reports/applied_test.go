package reports

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/store/storetest"
)

// TestAppliedIsWhatTheUpdateDoes applies one receipt to rows of every status, with and
// without a fallback mark and a cost, through the real statement, and compares each row read
// back with what applied computed from the row read before: the receipts' rollup deltas rest
// on applied instead of a second read.
func TestAppliedIsWhatTheUpdateDoes(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	w := NewWriter(db, time.UTC, nil, nil)
	ctx := t.Context()
	day := "20240405"
	at := time.Date(2024, 4, 5, 8, 0, 0, 0, time.UTC)

	recorded := []channels.Status{Queued, channels.Sent, channels.Failed, channels.Delivered, channels.Displayed, channels.Clicked, Suppressed, Redundant}
	receipts := []channels.Status{channels.Sent, channels.Failed, channels.Delivered, channels.Displayed, channels.Clicked}
	var (
		ds      []Delivery
		us      []Update
		ids     []string
		marks   []string
		seq     int64
		outcome = map[string]string{}
	)
	for _, st := range recorded {
		for _, fallback := range []bool{false, true} {
			for _, rc := range receipts {
				for _, cost := range []float64{0, 0.045} {
					id := MessageID(day, 7, seq, channels.SMS)
					seq++
					ds = append(ds, Delivery{ID: id, AppID: 1, TaskID: 7, TemplateID: 3, UserID: "u", Channel: channels.SMS, Address: "a",
						Status: st, CostUnits: 1, Cost: 0.03, CreatedAt: at})
					us = append(us, Update{ID: id, Status: rc, CostUnits: int(cost * 100), Cost: cost, At: at.Add(time.Minute)})
					ids = append(ids, id)
					if fallback {
						marks = append(marks, id)
					}
					outcome[id] = string(st) + " fallback=" + map[bool]string{false: "no", true: "yes"}[fallback] + " + " + string(rc)
				}
			}
		}
	}
	_, err := w.Record(ctx, ds)
	require.NoError(t, err)
	for _, id := range marks {
		_, err := w.MarkFallback(ctx, id, channels.Delivered, at.Add(time.Second))
		require.NoError(t, err)
	}
	k, ok := w.tableOf(ids[0])
	require.True(t, ok)
	before, err := w.rowStates(ctx, nil, k, ids, false)
	require.NoError(t, err)
	require.Len(t, before, len(ids))
	n, err := w.Apply(ctx, us)
	require.NoError(t, err)
	require.Equal(t, len(us), n)
	after, err := w.rowStates(ctx, nil, k, ids, false)
	require.NoError(t, err)

	changed := 0
	for _, u := range us {
		require.Equal(t, after[u.ID], applied(before[u.ID], u), outcome[u.ID])
		if after[u.ID] != before[u.ID] {
			changed++
		}
	}
	require.Greater(t, changed, len(us)/2, "most receipts change their row")
}
