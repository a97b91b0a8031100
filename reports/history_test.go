package reports_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

type historyBundle struct {
	db      *store.DB
	history *reports.SQLHistory
}

func setupHistory(t *testing.T) *historyBundle {
	t.Helper()
	db := storetest.New(t)
	return &historyBundle{db: db, history: reports.NewSQLHistory(db)}
}

// page lists every entry of a user's history, page by page, following the cursors.
func (b *historyBundle) page(t *testing.T, app int64, user string, q reports.HistoryQuery) []reports.HistoryEntry {
	t.Helper()
	var all []reports.HistoryEntry
	for range 100 {
		es, err := b.history.List(t.Context(), app, user, q)
		require.NoError(t, err)
		if q.First > 0 {
			require.LessOrEqual(t, len(es), q.First)
		}
		all = append(all, es...)
		if len(es) == 0 || len(es) < q.First {
			return all
		}
		q.After = reports.HistoryCursor(es[len(es)-1])
	}
	t.Fatal("paging did not end")
	return nil
}

func ids(es []reports.HistoryEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.MessageID
	}
	return out
}

func TestHistoryNewestFirstWithCursorPaging(t *testing.T) {
	t.Parallel()
	b := setupHistory(t)
	base := time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC)
	entry := func(app int64, user, id string, ch channels.Channel, at time.Time) reports.HistoryEntry {
		return reports.HistoryEntry{AppID: app, UserID: user, MessageID: id, TaskID: 7, Channel: ch, Address: "a", Title: "t " + id, Body: "b " + id,
			Status: channels.Sent, CreatedAt: at}
	}
	es := []reports.HistoryEntry{
		entry(1, "u1", "m1", channels.SMS, base),
		entry(1, "u1", "m2", channels.Email, base.Add(time.Minute)),
		entry(1, "u1", "m3", channels.SMS, base.Add(2*time.Minute)),
		entry(1, "u1", "m4a", channels.AppPush, base.Add(3*time.Minute)), // two messages at the same instant
		entry(1, "u1", "m4b", channels.SMS, base.Add(3*time.Minute)),
		entry(1, "u1", "m5", channels.Email, base.Add(4*time.Minute+100*time.Microsecond)), // the same millisecond,
		entry(1, "u1", "m6", channels.SMS, base.Add(4*time.Minute+600*time.Microsecond)),   // a different microsecond
		entry(1, "u2", "x1", channels.SMS, base.Add(5*time.Minute)),
		entry(2, "u1", "y1", channels.SMS, base.Add(5*time.Minute)),
	}
	require.NoError(t, b.history.Append(t.Context(), es))
	require.NoError(t, b.history.Append(t.Context(), es[:3]), "appending again is harmless")

	// m5 and m6 share a millisecond, the precision history keeps: like m4a and m4b, they come
	// in message id order, and every page size sees each of them exactly once.
	newestFirst := []string{"m5", "m6", "m4a", "m4b", "m3", "m2", "m1"}
	for _, first := range []int{0, 1, 2, 3, 7, 200} {
		t.Run(fmt.Sprintf("first %d", first), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, newestFirst, ids(b.page(t, 1, "u1", reports.HistoryQuery{First: first})))
		})
	}

	t.Run("channel filter", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{"m6", "m4b", "m3", "m1"}, ids(b.page(t, 1, "u1", reports.HistoryQuery{First: 1, Channel: channels.SMS})))
		require.Equal(t, []string{"m5", "m2"}, ids(b.page(t, 1, "u1", reports.HistoryQuery{First: 1, Channel: channels.Email})))
		require.Empty(t, b.page(t, 1, "u1", reports.HistoryQuery{Channel: channels.Voice}))
	})

	t.Run("users and apps apart", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, []string{"x1"}, ids(b.page(t, 1, "u2", reports.HistoryQuery{})))
		require.Equal(t, []string{"y1"}, ids(b.page(t, 2, "u1", reports.HistoryQuery{})))
		require.Empty(t, b.page(t, 3, "u1", reports.HistoryQuery{}))
	})

	t.Run("entries keep their fields", func(t *testing.T) {
		t.Parallel()
		got, err := b.history.List(t.Context(), 1, "u1", reports.HistoryQuery{First: 1})
		require.NoError(t, err)
		require.Len(t, got, 1)
		e := got[0]
		require.Equal(t, "m5", e.MessageID)
		require.Equal(t, int64(1), e.AppID)
		require.Equal(t, "u1", e.UserID)
		require.Equal(t, int64(7), e.TaskID)
		require.Equal(t, channels.Email, e.Channel)
		require.Equal(t, "t m5", e.Title)
		require.Equal(t, "b m5", e.Body)
		require.Equal(t, channels.Sent, e.Status)
		require.WithinDuration(t, base.Add(4*time.Minute), e.CreatedAt, time.Millisecond)
	})

	t.Run("default page size", func(t *testing.T) {
		t.Parallel()
		got, err := b.history.List(t.Context(), 1, "u1", reports.HistoryQuery{First: -5})
		require.NoError(t, err)
		require.Len(t, got, len(newestFirst))
	})

	t.Run("bad cursor", func(t *testing.T) {
		t.Parallel()
		for _, c := range []string{"nonsense", "12/", "/m1", "x/m1"} {
			_, err := b.history.List(t.Context(), 1, "u1", reports.HistoryQuery{After: c})
			if c == "12/" {
				require.NoError(t, err, "a number and an empty id is a cursor")
				continue
			}
			require.Error(t, err, c)
		}
	})
}

func TestHistoryLandsOnTheUsersShard(t *testing.T) {
	t.Parallel()
	b := setupHistory(t)
	at := time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC)
	var es []reports.HistoryEntry
	for i := range 40 {
		es = append(es, reports.HistoryEntry{AppID: 1, UserID: fmt.Sprintf("user-%d", i), MessageID: fmt.Sprintf("m%d", i), Channel: channels.SMS, Status: channels.Sent, CreatedAt: at})
	}
	require.NoError(t, b.history.Append(t.Context(), es))
	perShard := make([]int, len(b.db.History))
	for _, e := range es {
		want := store.HistoryShardIndex(e.AppID, e.UserID, len(b.db.History))
		perShard[want]++
		for i, h := range b.db.History {
			var n int
			require.NoError(t, h.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM history WHERE app_id = ? AND user_id = ?", e.AppID, e.UserID).Scan(&n))
			if i == want {
				require.Equal(t, 1, n, "%s on shard %d", e.UserID, i)
			} else {
				require.Zero(t, n, "%s not on shard %d", e.UserID, i)
			}
		}
	}
	for i, n := range perShard {
		require.Positive(t, n, "shard %d holds some users", i)
	}
}
