package reports_test

import (
	"database/sql"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

func TestMessageIDRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		day  string
		task int64
		seq  int64
		ch   channels.Channel
	}{
		{"20240301", 1, 0, channels.AppPush},
		{"20240301", 12345, 7, channels.SMS},
		{"19991231", 36, 35, channels.Webhook},
		{"20991231", 2_821_109_907_455, 78_364_164_095, channels.Email}, // the widest padded values: 36^8-1, 36^7-1
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		for _, ch := range channels.All {
			id := reports.MessageID(tt.day, tt.task, tt.seq, ch)
			require.False(t, seen[id], "ids are unique: %s", id)
			seen[id] = true
			day, task, ok := reports.ParseMessageID(id)
			require.True(t, ok, id)
			require.Equal(t, tt.day, day)
			require.Equal(t, tt.task, task)
			require.True(t, strings.HasPrefix(id, reports.TaskIDPrefix(tt.day, tt.task)), id)
		}
	}
	// Ids sort by task and then by position.
	a := reports.MessageID("20240301", 9, 35, channels.SMS)
	b := reports.MessageID("20240301", 10, 0, channels.SMS)
	c := reports.MessageID("20240301", 10, 1, channels.SMS)
	require.Less(t, a, b)
	require.Less(t, b, c)
}

func TestParseMessageIDRejects(t *testing.T) {
	t.Parallel()
	good := reports.MessageID("20240301", 42, 3, channels.SMS)
	parts := strings.Split(good, "-")
	tests := []struct {
		name string
		id   string
	}{
		{"empty", ""},
		{"one part", "20240301"},
		{"three parts", strings.Join(parts[:3], "-")},
		{"five parts", good + "-1"},
		{"short day", "2024031-" + strings.Join(parts[1:], "-")},
		{"day with a letter", "2024030a-" + strings.Join(parts[1:], "-")},
		{"task zero", parts[0] + "-00000000-" + parts[2] + "-" + parts[3]},
		{"task not base 36", parts[0] + "-0000004!-" + parts[2] + "-" + parts[3]},
		{"task too short", parts[0] + "-16-" + parts[2] + "-" + parts[3]},
		{"sequence not base 36", parts[0] + "-" + parts[1] + "-000000_-" + parts[3]},
		{"two channel characters", good + "1"},
		{"negative task", reports.MessageID("20240301", -5, 3, channels.SMS)},
	}
	for _, tt := range tests {
		_, _, ok := reports.ParseMessageID(tt.id)
		require.False(t, ok, "%s: %q", tt.name, tt.id)
	}
	_, _, ok := reports.ParseMessageID(good)
	require.True(t, ok, "the ids above differ from a good one in one way only")
}

type writerBundle struct {
	db     *store.DB
	writer *reports.Writer
}

func setupWriter(t *testing.T) *writerBundle {
	t.Helper()
	db := storetest.New(t)
	return &writerBundle{db: db, writer: reports.NewWriter(db, time.UTC, nil, nil)}
}

// deliveryRow is what a day table holds for one message.
type deliveryRow struct {
	Status                                      channels.Status
	Reason, Provider, VendorID, UserID          string
	CostUnits                                   int
	Cost                                        float64
	SentAt, DeliveredAt, DisplayedAt, ClickedAt sql.NullTime
	CreatedAt                                   time.Time
}

// row reads message id from shard's day table; ok is false when there is no such row.
func (b *writerBundle) row(t *testing.T, shard int, day, id string) (deliveryRow, bool) {
	t.Helper()
	var r deliveryRow
	err := b.db.Stats[shard].QueryRowContext(t.Context(), "SELECT status, reason, provider, vendor_id, user_id, cost_units, cost, sent_at, delivered_at, displayed_at, clicked_at, created_at FROM "+store.DayTable(day)+" WHERE id = ?", id).
		Scan(&r.Status, &r.Reason, &r.Provider, &r.VendorID, &r.UserID, &r.CostUnits, &r.Cost, &r.SentAt, &r.DeliveredAt, &r.DisplayedAt, &r.ClickedAt, &r.CreatedAt)
	if err == sql.ErrNoRows {
		return r, false
	}
	require.NoError(t, err)
	return r, true
}

func (b *writerBundle) count(t *testing.T, shard int, day string) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.Stats[shard].QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+store.DayTable(day)).Scan(&n))
	return n
}

func delivery(day string, task, seq int64, ch channels.Channel, status channels.Status, at time.Time) reports.Delivery {
	return reports.Delivery{ID: reports.MessageID(day, task, seq, ch), AppID: 1, TaskID: task, TemplateID: 100, UserID: "u" + string(rune('a'+seq)),
		Channel: ch, Address: "addr", Status: status, CreatedAt: at}
}

func TestRecordLandsOnTheTaskShardAndDay(t *testing.T) {
	t.Parallel()
	b := setupWriter(t)
	// Days long past: their tables were not created ahead and appear on demand.
	d1, d2 := "20240301", "20240302"
	at1 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	at2 := time.Date(2024, 3, 2, 8, 0, 0, 0, time.UTC)
	ds := []reports.Delivery{
		delivery(d1, 4, 0, channels.SMS, reports.Queued, at1),     // task 4: shard 0
		delivery(d1, 4, 1, channels.Email, reports.Queued, at1),   //
		delivery(d1, 5, 0, channels.SMS, reports.Queued, at1),     // task 5: shard 1
		delivery(d2, 5, 1, channels.AppPush, reports.Queued, at2), //
		delivery(d2, 6, 0, channels.SMS, reports.Suppressed, at2), // task 6: shard 0
	}
	got, err := b.writer.Record(t.Context(), ds)
	require.NoError(t, err)
	require.Len(t, got, 5)
	for _, d := range ds {
		require.Equal(t, d.Status, got[d.ID])
	}

	tests := []struct {
		d     reports.Delivery
		shard int
		day   string
	}{{ds[0], 0, d1}, {ds[1], 0, d1}, {ds[2], 1, d1}, {ds[3], 1, d2}, {ds[4], 0, d2}}
	for _, tt := range tests {
		r, ok := b.row(t, tt.shard, tt.day, tt.d.ID)
		require.True(t, ok, "%s on shard %d day %s", tt.d.ID, tt.shard, tt.day)
		require.Equal(t, tt.d.Status, r.Status)
		require.Equal(t, tt.d.UserID, r.UserID)
		require.True(t, tt.d.CreatedAt.Equal(r.CreatedAt))
		require.False(t, r.SentAt.Valid, "a queued message was not sent")
		_, ok = b.row(t, 1-tt.shard, tt.day, tt.d.ID)
		require.False(t, ok, "%s is on one shard only", tt.d.ID)
	}
	require.Equal(t, 2, b.count(t, 0, d1))
	require.Equal(t, 1, b.count(t, 1, d1))
	require.Equal(t, 1, b.count(t, 0, d2))
	require.Equal(t, 1, b.count(t, 1, d2))

	got1, err := b.writer.Get(t.Context(), ds[3].ID)
	require.NoError(t, err)
	require.Equal(t, ds[3].UserID, got1.UserID)
	require.Equal(t, channels.AppPush, got1.Channel)
	missing, err := b.writer.Get(t.Context(), reports.MessageID("20200101", 5, 0, channels.SMS))
	require.NoError(t, err)
	require.Nil(t, missing, "a day without a table has no deliveries")

	_, err = b.writer.Record(t.Context(), []reports.Delivery{{ID: "not-an-id"}})
	require.Error(t, err)
}

func TestRecordIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setupWriter(t)
	day := time.Now().UTC().Format(store.DayFormat)
	at := time.Now().UTC().Truncate(time.Millisecond)
	first := []reports.Delivery{
		delivery(day, 8, 0, channels.SMS, reports.Queued, at),
		delivery(day, 8, 1, channels.SMS, reports.Queued, at),
		delivery(day, 9, 0, channels.Email, reports.Suppressed, at),
	}
	_, err := b.writer.Record(t.Context(), first)
	require.NoError(t, err)
	n, err := b.writer.Apply(t.Context(), []reports.Update{{ID: first[1].ID, Status: channels.Sent, At: at}})
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// The shard is redelivered: the same ids again, with whatever the second run computed.
	again := []reports.Delivery{
		delivery(day, 8, 0, channels.SMS, reports.Suppressed, at.Add(time.Hour)),
		delivery(day, 8, 1, channels.SMS, reports.Queued, at.Add(time.Hour)),
		delivery(day, 9, 0, channels.Email, reports.Queued, at.Add(time.Hour)),
		delivery(day, 9, 1, channels.Email, reports.Queued, at.Add(time.Hour)), // new
	}
	again[0].UserID = "someone else"
	got, err := b.writer.Record(t.Context(), again)
	require.NoError(t, err)
	require.Equal(t, map[string]channels.Status{
		again[0].ID: reports.Queued,     // stored, not the new value
		again[1].ID: channels.Sent,      // moved on since: the redelivery skips it
		again[2].ID: reports.Suppressed, // stored
		again[3].ID: reports.Queued,     // inserted now
	}, got)
	require.Equal(t, 2, b.count(t, 0, day))
	require.Equal(t, 2, b.count(t, 1, day))
	r, _ := b.row(t, 0, day, again[0].ID)
	require.Equal(t, first[0].UserID, r.UserID, "nothing was overwritten")
	require.True(t, at.Equal(r.CreatedAt))
}

func TestApplyMovesForwardOnly(t *testing.T) {
	t.Parallel()
	b := setupWriter(t)
	day := "20240310"
	base := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes) * time.Minute) }
	type step struct {
		status channels.Status
		reason string
		min    int
	}
	tests := []struct {
		name        string
		recorded    channels.Status
		steps       []step
		oneCall     bool // all steps in one Apply call
		want        channels.Status
		wantReason  string
		wantSent    int // minutes after base; -1: not set
		wantDeliv   int
		wantDisplay int
		wantClick   int
	}{
		{"sent", reports.Queued, []step{{channels.Sent, "", 1}}, false, channels.Sent, "", 1, -1, -1, -1},
		{"delivered then a late sent", reports.Queued, []step{{channels.Delivered, "", 2}, {channels.Sent, "", 3}}, false, channels.Delivered, "", 2, 2, -1, -1},
		{"sent then delivered", reports.Queued, []step{{channels.Sent, "", 1}, {channels.Delivered, "", 4}}, false, channels.Delivered, "", 1, 4, -1, -1},
		{"failed after delivered is ignored", reports.Queued, []step{{channels.Sent, "", 1}, {channels.Delivered, "", 2}, {channels.Failed, "expired", 3}}, false, channels.Delivered, "", 1, 2, -1, -1},
		{"failed after sent", reports.Queued, []step{{channels.Sent, "", 1}, {channels.Failed, "UNDELIV: bad number", 2}}, false, channels.Failed, "UNDELIV: bad number", 1, -1, -1, -1},
		{"failed at once", reports.Queued, []step{{channels.Failed, "isv.MOBILE_NUMBER_ILLEGAL", 1}}, false, channels.Failed, "isv.MOBILE_NUMBER_ILLEGAL", -1, -1, -1, -1},
		{"clicked sets every milestone", reports.Queued, []step{{channels.Clicked, "", 5}}, false, channels.Clicked, "", 5, 5, 5, 5},
		{"first time of a milestone is kept", reports.Queued, []step{{channels.Delivered, "", 2}, {channels.Delivered, "", 7}, {channels.Displayed, "", 8}}, false, channels.Displayed, "", 2, 2, 8, -1},
		{"queued again is ignored", reports.Queued, []step{{channels.Sent, "", 1}, {reports.Queued, "", 2}}, false, channels.Sent, "", 1, -1, -1, -1},
		{"suppressed never changes", reports.Suppressed, []step{{channels.Sent, "", 1}, {channels.Delivered, "", 2}, {channels.Clicked, "", 3}, {channels.Failed, "x", 4}}, false, reports.Suppressed, "", -1, -1, -1, -1},
		{"several updates of one message in one call", reports.Queued, []step{{channels.Sent, "", 1}, {channels.Delivered, "", 2}, {channels.Displayed, "", 3}}, true, channels.Displayed, "", 1, 2, 3, -1},
		{"late sent in the same call", reports.Queued, []step{{channels.Delivered, "", 2}, {channels.Sent, "", 3}}, true, channels.Delivered, "", 2, 2, -1, -1},
	}
	var ds []reports.Delivery
	for i, tt := range tests {
		ds = append(ds, delivery(day, 20, int64(i), channels.SMS, tt.recorded, base))
	}
	_, err := b.writer.Record(t.Context(), ds)
	require.NoError(t, err)

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ds[i].ID
			var us []reports.Update
			for _, s := range tt.steps {
				us = append(us, reports.Update{ID: id, Status: s.status, Reason: s.reason, At: at(s.min)})
			}
			if tt.oneCall {
				n, err := b.writer.Apply(t.Context(), us)
				require.NoError(t, err)
				require.Equal(t, len(us), n, "every update found its message")
			} else {
				for _, u := range us {
					n, err := b.writer.Apply(t.Context(), []reports.Update{u})
					require.NoError(t, err)
					require.Equal(t, 1, n)
				}
			}
			r, ok := b.row(t, 0, day, id)
			require.True(t, ok)
			require.Equal(t, tt.want, r.Status)
			require.Equal(t, tt.wantReason, r.Reason)
			for _, m := range []struct {
				name string
				got  sql.NullTime
				want int
			}{{"sent_at", r.SentAt, tt.wantSent}, {"delivered_at", r.DeliveredAt, tt.wantDeliv}, {"displayed_at", r.DisplayedAt, tt.wantDisplay}, {"clicked_at", r.ClickedAt, tt.wantClick}} {
				if m.want < 0 {
					require.False(t, m.got.Valid, "%s is set: %v", m.name, m.got.Time)
					continue
				}
				require.True(t, m.got.Valid, "%s is not set", m.name)
				require.True(t, at(m.want).Equal(m.got.Time), "%s: %v, want %v", m.name, m.got.Time, at(m.want))
			}
		})
	}
}

func TestApplyKeepsVendorFieldsAndCost(t *testing.T) {
	t.Parallel()
	b := setupWriter(t)
	day := "20240311"
	at := time.Date(2024, 3, 11, 9, 0, 0, 0, time.UTC)
	d := delivery(day, 31, 0, channels.SMS, reports.Queued, at)
	_, err := b.writer.Record(t.Context(), []reports.Delivery{d})
	require.NoError(t, err)

	n, err := b.writer.Apply(t.Context(), []reports.Update{
		{ID: d.ID, Status: channels.Sent, Provider: "aliyun", VendorID: "biz-1", CostUnits: 2, Cost: 0.09, At: at},
		{ID: reports.MessageID(day, 31, 99, channels.SMS), Status: channels.Sent, At: at}, // no such message
		{ID: "garbage", Status: channels.Sent, At: at},                                    // skipped
	})
	require.NoError(t, err)
	require.Equal(t, 1, n, "only existing messages count")
	// A receipt knows neither provider nor cost: what the send recorded stays.
	_, err = b.writer.Apply(t.Context(), []reports.Update{{ID: d.ID, Status: channels.Delivered, At: at.Add(time.Minute)}})
	require.NoError(t, err)

	r, _ := b.row(t, 1, day, d.ID)
	require.Equal(t, channels.Delivered, r.Status)
	require.Equal(t, "aliyun", r.Provider)
	require.Equal(t, "biz-1", r.VendorID)
	require.Equal(t, 2, r.CostUnits)
	require.InDelta(t, 0.09, r.Cost, 1e-9)

	_, err = b.writer.Apply(t.Context(), []reports.Update{{ID: d.ID, Status: reports.Suppressed}})
	require.Error(t, err, "SUPPRESSED is decided at send time, never applied")
	_, err = b.writer.Apply(t.Context(), []reports.Update{{ID: d.ID, Status: reports.Redundant}})
	require.Error(t, err)

	// Updates for a day whose table does not exist create it and match nothing.
	n, err = b.writer.Apply(t.Context(), []reports.Update{{ID: reports.MessageID("20240401", 31, 0, channels.SMS), Status: channels.Delivered}})
	require.NoError(t, err)
	require.Zero(t, n)
	require.Zero(t, b.count(t, 1, "20240401"))
	require.False(t, math.IsNaN(r.Cost))
}
