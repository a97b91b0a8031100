package reports_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

func TestPricesChargeTheProviderThatTookTheMessage(t *testing.T) {
	t.Parallel()
	p := reports.DefaultPrices().With(account.Prices{
		{Channel: "SMS", Price: 0.05},
		{Channel: "SMS", Provider: "aliyun", Price: 0.03},
		{Channel: "VOICE", Provider: "aliyun-voice", Price: 0.2},
	})
	require.InDelta(t, 0.09, p.Cost(channels.SMS, "aliyun", 3), 1e-12, "the provider's own price")
	require.InDelta(t, 0.15, p.Cost(channels.SMS, "spare", 3), 1e-12, "a provider without a price costs the channel's")
	require.InDelta(t, 0.05, p.Cost(channels.SMS, "", 1), 1e-12)
	require.InDelta(t, 0.12, p.Cost(channels.Voice, "other", 1), 1e-12, "the default list price of the channel")
	require.InDelta(t, 0.2, p.Cost(channels.Voice, "aliyun-voice", 1), 1e-12)
	require.InDelta(t, 0.045, reports.DefaultPrices().Cost(channels.SMS, "aliyun", 1), 1e-12, "the overrides leave the defaults alone")

	keys := p.Keys()
	require.Equal(t, reports.PriceKey{Channel: channels.AppPush}, keys[0], "channels in the schema's order")
	i := 0
	for ; keys[i].Channel != channels.SMS; i++ {
	}
	require.Equal(t, []reports.PriceKey{{Channel: channels.SMS}, {Channel: channels.SMS, Provider: "aliyun"}}, keys[i:i+2],
		"a channel's own price comes before its providers'")
}

// Saved and redundant sends are kept on their rows and in the rollups, and statistics and
// task counts give their number and cost from either.
func TestSavedAndRedundantCost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.New(t)
	w := reports.NewWriter(db, time.UTC, nil, nil)
	st := reports.NewStats(db, time.UTC)
	day := day1.Format(store.DayFormat)
	const task = 6
	at := hm(day1, 9, 20)
	pushed := reports.MessageID(day, task, 1, channels.AppPush) // reached in time: saves an SMS
	late := reports.MessageID(day, task, 2, channels.AppPush)   // reached after the chain moved on
	sms := reports.MessageID(day, task, 2, channels.SMS)
	var ds []reports.Delivery
	for _, id := range []string{pushed, late, sms} {
		ch := channels.AppPush
		if id == sms {
			ch = channels.SMS
		}
		ds = append(ds, reports.Delivery{ID: id, AppID: 1, TaskID: task, TemplateID: 7, UserID: "u", Channel: ch, Status: reports.Queued, CreatedAt: at})
	}
	_, err := w.Record(ctx, ds)
	require.NoError(t, err)
	_, err = w.Apply(ctx, []reports.Update{
		{ID: pushed, Status: channels.Sent, Provider: "getui", CostUnits: 1, Cost: 0.001, At: at},
		{ID: late, Status: channels.Sent, Provider: "getui", CostUnits: 1, Cost: 0.002, At: at},
		{ID: pushed, Status: channels.Delivered, At: at.Add(time.Second)},
	})
	require.NoError(t, err)

	// The timer of the late push fires before its receipt; the push in time is saved, twice
	// (a redelivered timer) but counted once.
	moved, err := w.MarkFallback(ctx, late, channels.Delivered, at.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, moved)
	moved, err = w.MarkFallback(ctx, pushed, channels.Delivered, at.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, moved, "the milestone was reached first")
	require.NoError(t, w.MarkSaved(ctx, []reports.Saving{{ID: pushed, Cost: 0.09}}))
	require.NoError(t, w.MarkSaved(ctx, []reports.Saving{{ID: pushed, Cost: 0.5}}))
	_, err = w.Apply(ctx, []reports.Update{
		{ID: sms, Status: channels.Sent, Provider: "aliyun", CostUnits: 2, Cost: 0.09, At: at.Add(time.Minute)},
		{ID: late, Status: channels.Delivered, At: at.Add(2 * time.Minute)},
		{ID: pushed, Status: channels.Clicked, At: at.Add(3 * time.Minute)}, // the saving moves with its message
	})
	require.NoError(t, err)
	got, err := w.Get(ctx, late)
	require.NoError(t, err)
	require.Equal(t, reports.Redundant, got.Status)

	for _, dims := range [][]reports.Dimension{nil, {reports.DimChannel}, {reports.DimChannel, reports.DimStatus}, {reports.DimTask, reports.DimHour}} {
		for _, q := range []reports.StatsQuery{
			{AppID: 1, From: day1, To: day2, Dimensions: dims},                       // whole days: the daily rollup
			{AppID: 1, From: hm(day1, 9, 0), To: hm(day1, 10, 0), Dimensions: dims},  // the hourly rollup
			{AppID: 1, From: hm(day1, 9, 10), To: hm(day1, 9, 30), Dimensions: dims}, // the rows
		} {
			res, err := st.Query(viewerOf(t, 1), q)
			require.NoError(t, err)
			rows, err := st.QueryRows(viewerOf(t, 1), q)
			require.NoError(t, err)
			requireSameStats(t, rows, res, "rollups and rows")
			require.EqualValues(t, 1, res.Totals.Saved, "dimensions %v", dims)
			require.InDelta(t, 0.09, res.Totals.SavedCost, 1e-9, "the first mark's cost")
			require.EqualValues(t, 1, res.Totals.Redundant)
			require.InDelta(t, 0.002, res.Totals.RedundantCost, 1e-9, "the redundant push's cost")
			require.InDelta(t, 0.093, res.Totals.Cost, 1e-9)
		}
	}
	res, err := st.Query(viewerOf(t, 1), reports.StatsQuery{AppID: 1, From: day1, To: day2, Dimensions: []reports.Dimension{reports.DimChannel, reports.DimStatus}})
	require.NoError(t, err)
	byGroup := map[string]reports.Counts{}
	for _, r := range res.Rows {
		byGroup[string(r.Channel)+"/"+string(r.Status)] = r.Counts
	}
	require.EqualValues(t, 1, byGroup["APP_PUSH/CLICKED"].Saved, "counted on the channel that reached the user, in its current status")
	require.InDelta(t, 0.09, byGroup["APP_PUSH/CLICKED"].SavedCost, 1e-9)
	require.InDelta(t, 0.002, byGroup["APP_PUSH/REDUNDANT"].RedundantCost, 1e-9)
	require.Zero(t, byGroup["SMS/SENT"].RedundantCost+byGroup["SMS/SENT"].SavedCost)

	c, err := st.TaskCounts(ctx, task, day, day2, true)
	require.NoError(t, err)
	require.EqualValues(t, 1, c.Fallbacks, "the late push's chain moved on")
	require.EqualValues(t, 3, c.Total)
	require.EqualValues(t, 1, c.Redundant)
	require.EqualValues(t, 1, c.Saved)
	require.InDelta(t, 0.09, c.SavedCost, 1e-9)
	require.InDelta(t, 0.002, c.RedundantCost, 1e-9)
	c, err = st.TaskCounts(ctx, task, day, day2, false)
	require.NoError(t, err)
	require.Zero(t, c.Fallbacks, "not counted when the caller says the rule has no fallback")
	require.EqualValues(t, 1, c.Saved, "the rest comes from the rollup either way")

	for _, d := range []string{day, day1.AddDate(0, 0, -1).Format(store.DayFormat)} {
		for _, s := range db.Stats {
			_, err := s.Exec("CREATE TABLE IF NOT EXISTS " + store.DayTable(d) + " LIKE delivery_template")
			require.NoError(t, err)
		}
	}
	rep, err := w.Reconcile(ctx, day, false)
	require.NoError(t, err)
	require.Zero(t, rep.Differing, "the rollups hold what the rows say")
	require.NoError(t, w.MarkSaved(ctx, []reports.Saving{{ID: reports.MessageID(day, task, 9, channels.AppPush), Cost: 1}}), "an unknown message is ignored")
}
