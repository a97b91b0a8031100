package reports_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

// workload records messages over three days on both shards with concurrent writers, records
// some batches twice at the same time (a redelivered job), applies receipts in random order
// and batches — duplicates, out-of-order milestones, failures — and marks fallbacks that
// later receipts turn REDUNDANT.
func workload(t *testing.T, w *reports.Writer, loc *time.Location, start time.Time) (total int) {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	chans := []channels.Channel{channels.SMS, channels.AppPush, channels.Email, channels.WeChat}
	var ds []reports.Delivery
	for i := range 1200 {
		task := int64(1 + i%6)
		app := int64(1 + task%2)
		at := start.Add(time.Duration(rng.IntN(3*24*60)) * time.Minute).Add(time.Duration(rng.IntN(60000)) * time.Millisecond)
		// Some messages of a task planned the day before are recorded after midnight.
		day := at.In(loc)
		if i%17 == 0 {
			day = day.AddDate(0, 0, -1)
		}
		ch := chans[rng.IntN(len(chans))]
		st := reports.Queued
		if i%13 == 0 {
			st = reports.Suppressed
		}
		ds = append(ds, reports.Delivery{ID: reports.MessageID(day.Format(store.DayFormat), task, int64(i), ch), AppID: app, TaskID: task,
			TemplateID: 100 + task%3, UserID: fmt.Sprintf("u%d", i), Channel: ch, Status: st, CreatedAt: at,
			CostUnits: rng.IntN(3), Cost: float64(rng.IntN(1000)) / 3000})
	}
	rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < len(ds); i += 100 {
		batch := ds[i:min(i+100, len(ds))]
		copies := 1
		if i%300 == 0 {
			copies = 2
		}
		for range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.Record(ctx, batch); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	statuses := []channels.Status{channels.Sent, channels.Delivered, channels.Failed, channels.Displayed, channels.Clicked}
	var us []reports.Update
	for i, d := range ds {
		if i%11 == 0 {
			continue // never heard of again
		}
		n := 1 + rng.IntN(4)
		for range n {
			us = append(us, reports.Update{ID: d.ID, Status: statuses[rng.IntN(len(statuses))], Provider: "sim", CostUnits: 1 + rng.IntN(2),
				Cost: float64(rng.IntN(900)) / 7000, At: d.CreatedAt.Add(time.Duration(1+rng.IntN(3600)) * time.Second)})
		}
	}
	rng.Shuffle(len(us), func(i, j int) { us[i], us[j] = us[j], us[i] })
	half := len(us) / 2
	var fallbacks []string
	for i, d := range ds {
		if i%7 == 0 {
			fallbacks = append(fallbacks, d.ID)
		}
	}
	apply := func(us []reports.Update) {
		errs := make(chan error, 64)
		var wg sync.WaitGroup
		for i := 0; i < len(us); i += 250 {
			batch := us[i:min(i+250, len(us))]
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.Apply(ctx, batch); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
	apply(us[:half])
	for _, id := range fallbacks {
		_, err := w.MarkFallback(ctx, id, channels.Delivered, time.Now())
		require.NoError(t, err)
	}
	// Chains that ended on their first channel: marked between receipts that move the rows
	// on, a part of them twice (a redelivered timer).
	var savings []reports.Saving
	for i, d := range ds {
		if saves(i) {
			savings = append(savings, reports.Saving{ID: d.ID, Cost: float64(1+rng.IntN(3)) * 0.045})
		}
	}
	require.NoError(t, w.MarkSaved(ctx, savings))
	require.NoError(t, w.MarkSaved(ctx, savings[:len(savings)/2]))
	apply(us[half:])
	return len(ds)
}

// saves says whether the workload's message i saved its chain an SMS.
func saves(i int) bool { return i%5 == 0 && i%7 != 0 }

// requireSameStats checks that two results have the same rows and totals.
func requireSameStats(t *testing.T, want, got *reports.StatsResult, msg string) {
	t.Helper()
	require.Equal(t, len(want.Rows), len(got.Rows), msg)
	for i := range want.Rows {
		w, g := want.Rows[i], got.Rows[i]
		w.Counts, g.Counts = rounded(w.Counts), rounded(g.Counts)
		require.Equal(t, w, g, "%s: row %d", msg, i)
	}
	require.Equal(t, rounded(want.Totals), rounded(got.Totals), msg)
}

func reconcileAll(t *testing.T, w *reports.Writer, days []string, fix bool) (differing int, messages int64) {
	t.Helper()
	for _, d := range days {
		rep, err := w.Reconcile(context.Background(), d, fix)
		require.NoError(t, err, d)
		differing += rep.Differing
		messages += rep.Messages
	}
	return differing, messages
}

func TestRollupEqualsRowsAfterMixedWorkload(t *testing.T) {
	t.Parallel()
	// A zone half an hour off UTC: local hours are not UTC hours.
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	db := storetest.New(t)
	w := reports.NewWriter(db, kolkata, nil, nil)
	st := reports.NewStats(db, kolkata)
	start := time.Date(2024, 6, 10, 0, 0, 0, 0, kolkata)
	total := workload(t, w, kolkata, start)

	// The workload's rows fall on the three days; the days around them have tables but no rows.
	var days []string
	for d := start.AddDate(0, 0, -1); d.Before(start.AddDate(0, 0, 4)); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(store.DayFormat))
	}
	for _, d := range append([]string{start.AddDate(0, 0, -2).Format(store.DayFormat)}, days...) {
		for _, s := range db.Stats {
			_, err := s.Exec("CREATE TABLE IF NOT EXISTS " + store.DayTable(d) + " LIKE delivery_template")
			require.NoError(t, err)
		}
	}
	differing, messages := reconcileAll(t, w, days, false)
	require.Zero(t, differing, "the rollup equals the rows")
	require.EqualValues(t, total, messages, "every recorded message is counted once")

	// Every dimension combination, over whole days, over a range cut inside hours and days, and
	// within one hour, gives the answer of the rows.
	ranges := [][2]time.Time{
		{start, start.AddDate(0, 0, 3)},
		{start.Add(17 * time.Minute), start.AddDate(0, 0, 2).Add(-43 * time.Minute)},
		{start.Add(25*time.Hour + 5*time.Minute), start.Add(25*time.Hour + 50*time.Minute)},
		{start.Add(5*time.Hour + 10*time.Minute), start.AddDate(0, 0, 3).Add(-90 * time.Minute)},
		// Ends deep inside their hours: answered as the hours' rollups less the rows outside.
		{start.Add(3 * time.Minute), start.AddDate(0, 0, 2).Add(-7 * time.Minute)},
	}
	var saved int64
	for _, app := range []int64{1, 2} {
		ctx := viewerOf(t, app)
		for ri, r := range ranges {
			for mask := range 1 << len(allDimensions) {
				var dims []reports.Dimension
				for i, d := range allDimensions {
					if mask&(1<<i) != 0 {
						dims = append(dims, d)
					}
				}
				q := reports.StatsQuery{AppID: app, From: r[0], To: r[1], Dimensions: dims}
				want, err := st.QueryRows(ctx, q)
				require.NoError(t, err)
				got, err := st.Query(ctx, q)
				require.NoError(t, err)
				requireSameStats(t, want, got, fmt.Sprintf("app %d range %d dimensions %v", app, ri, dims))
				if mask == 0 && ri == 0 {
					require.NotZero(t, got.Totals.Total)
					require.NotZero(t, got.Totals.Redundant, "the workload makes redundant messages")
					require.NotZero(t, got.Totals.RedundantCost, "redundant messages keep their cost")
					require.NotZero(t, got.Totals.Suppressed)
					require.NotZero(t, got.Totals.SavedCost)
					saved += got.Totals.Saved
				}
			}
		}
		// Filters too.
		for _, q := range []reports.StatsQuery{
			{AppID: app, From: start, To: start.AddDate(0, 0, 3), Channel: channels.SMS, Dimensions: []reports.Dimension{reports.DimDay, reports.DimStatus}},
			{AppID: app, From: start, To: start.AddDate(0, 0, 3), TemplateID: 101, Dimensions: []reports.Dimension{reports.DimHour}},
			{AppID: app, From: start, To: start.AddDate(0, 0, 3), TaskID: 3 + app%2, Dimensions: []reports.Dimension{reports.DimChannel}},
		} {
			want, err := st.QueryRows(ctx, q)
			require.NoError(t, err)
			got, err := st.Query(ctx, q)
			require.NoError(t, err)
			requireSameStats(t, want, got, fmt.Sprintf("filters %+v", q))
		}
	}

	want := 0
	for i := range total {
		if saves(i) {
			want++
		}
	}
	require.EqualValues(t, want, saved, "every saving counts once, whatever its message's status became")

	// A drifted rollup is found and repaired from the rows.
	_, err = db.Stats[0].Exec("UPDATE " + reports.TaskHourly.Table + " SET messages = messages + 3, cost = cost + 1 ORDER BY period LIMIT 1")
	require.NoError(t, err)
	_, err = db.Stats[1].Exec("INSERT INTO "+reports.Daily.Table+" (app_id, period, task_id, template_id, channel, status, messages, sent) VALUES (1, ?, 0, 1, 'SMS', 'SENT', 5, 5)",
		start.AddDate(0, 0, 1).UTC())
	require.NoError(t, err)
	differing, _ = reconcileAll(t, w, days, false)
	require.Equal(t, 2, differing)
	q := reports.StatsQuery{AppID: 1, From: start, To: start.AddDate(0, 0, 3), Dimensions: []reports.Dimension{reports.DimDay}}
	rowsWant, err := st.QueryRows(viewerOf(t, 1), q)
	require.NoError(t, err)
	got, err := st.Query(viewerOf(t, 1), q)
	require.NoError(t, err)
	require.NotEqual(t, rowsWant.Totals.Total, got.Totals.Total, "the drift shows")

	differing, _ = reconcileAll(t, w, days, true)
	require.Equal(t, 2, differing)
	differing, messages = reconcileAll(t, w, days, false)
	require.Zero(t, differing)
	require.EqualValues(t, total, messages)
	got, err = st.Query(viewerOf(t, 1), q)
	require.NoError(t, err)
	requireSameStats(t, rowsWant, got, "after the repair")

	// A day whose tables are gone cannot be recomputed, and its rollup is left alone.
	_, err = w.Reconcile(context.Background(), start.AddDate(0, 0, 10).Format(store.DayFormat), true)
	require.ErrorContains(t, err, "missing")
	_, err = w.Reconcile(context.Background(), "2024-06-10", false)
	require.ErrorContains(t, err, "YYYYMMDD")
}

// A status change moves a message between status groups of its hour, in the transaction
// that changes the row.
func TestRollupMovesMessagesBetweenStatuses(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	w := reports.NewWriter(db, time.UTC, nil, nil)
	st := reports.NewStats(db, time.UTC)
	at := hm(day1, 9, 15)
	id := reports.MessageID(day1.Format(store.DayFormat), 4, 1, channels.SMS)
	_, err := w.Record(context.Background(), []reports.Delivery{{ID: id, AppID: 1, TaskID: 4, TemplateID: 7, UserID: "u", Channel: channels.SMS,
		Status: reports.Queued, CreatedAt: at}})
	require.NoError(t, err)
	rollup := func() map[string]int64 {
		rows, err := db.Stats[0].Query("SELECT status, messages FROM " + reports.TaskHourly.Table + " WHERE app_id = 1")
		require.NoError(t, err)
		defer rows.Close()
		out := map[string]int64{}
		for rows.Next() {
			var (
				s string
				n int64
			)
			require.NoError(t, rows.Scan(&s, &n))
			out[s] = n
		}
		require.NoError(t, rows.Err())
		return out
	}
	require.Equal(t, map[string]int64{"QUEUED": 1}, rollup())
	// Three milestones in one batch; the receipt for the day's row arrives on the next day.
	n, err := w.Apply(context.Background(), []reports.Update{
		{ID: id, Status: channels.Sent, Cost: 0.045, CostUnits: 1, At: at.Add(time.Second)},
		{ID: id, Status: channels.Delivered, At: hm(day2, 8, 0)},
		{ID: id, Status: channels.Sent, At: hm(day2, 8, 1)},
	})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Equal(t, map[string]int64{"QUEUED": 0, "SENT": 0, "DELIVERED": 1}, rollup())
	res, err := st.Query(viewerOf(t, 1), reports.StatsQuery{AppID: 1, From: day1, To: day3, Dimensions: []reports.Dimension{reports.DimDay, reports.DimStatus}})
	require.NoError(t, err)
	require.Len(t, res.Rows, 1, "empty status groups are not rows")
	require.Equal(t, "2024-05-01", res.Rows[0].Day, "counted on the day it was recorded")
	require.Equal(t, channels.Delivered, res.Rows[0].Status)
	require.EqualValues(t, 1, res.Rows[0].Sent)
	require.EqualValues(t, 1, res.Rows[0].Delivered)
	require.InDelta(t, 0.045, res.Rows[0].Cost, 1e-9)
	// An update that changes nothing leaves the rollup alone.
	_, err = w.Apply(context.Background(), []reports.Update{{ID: id, Status: channels.Sent, At: hm(day2, 9, 0)}})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"QUEUED": 0, "SENT": 0, "DELIVERED": 1}, rollup())
}
