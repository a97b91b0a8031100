package reports_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

// BenchmarkStats measures a 30-day statistics query by DAY × CHANNEL, the question a BI tool
// asks every morning, answered from the rollups, next to baselines measured in the same run:
//
//	go test -bench Stats -run '^$' -benchtime 20x ./reports/
//
// rollup is Stats.Query over 30 days of rollups at a realistic size: the measured app has
// HERALD_STATS_BENCH_GROUPS (default 300) task-hourly groups (task × template × channel ×
// status) an hour on two shards, next to HERALD_STATS_BENCH_APPS-1 (default 3) other apps as
// big, and the hourly and daily levels summed from them. rollup-select is the plainest
// indexed read of the daily rows the query reads, one SELECT per shard in turn summed by the
// client. rollup-by-task is the same range by DAY × TASK, which needs the task-hourly level.
// rows-groupby is Stats.QueryRows, one GROUP BY per day table and shard over raw delivery
// rows, HERALD_STATS_BENCH_ROWS (default 20000) a day for 30 days in another database, and
// rollup-of-rows is Stats.Query over the rollups Reconcile rebuilt from those rows; the two
// answers are checked to be equal first.
func BenchmarkStats(b *testing.B) {
	groups := envInt(b, "HERALD_STATS_BENCH_GROUPS", 300)
	apps := envInt(b, "HERALD_STATS_BENCH_APPS", 4)
	perDay := envInt(b, "HERALD_STATS_BENCH_ROWS", 20000)
	loc := time.UTC
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, loc)
	end := start.AddDate(0, 0, 30)
	q := reports.StatsQuery{AppID: 1, From: start, To: end, Dimensions: []reports.Dimension{reports.DimDay, reports.DimChannel}}
	ctx := account.WithPrincipal(context.Background(), &account.Principal{Role: account.Viewer, AppIDs: []int64{1}})

	db := storetest.New(b)
	seedStart := time.Now()
	rows := seedRollups(b, db, loc, start, 30, apps, groups)
	b.Logf("seeded %d rollup rows (%d days, %d apps, %d groups an hour each) in %s", rows, 30, apps, groups, time.Since(seedStart).Round(time.Millisecond))
	st := reports.NewStats(db, loc)

	b.Run("rollup", func(b *testing.B) {
		for b.Loop() {
			res, err := st.Query(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Rows) == 0 {
				b.Fatal("no rows")
			}
		}
	})
	b.Run("rollup-by-task", func(b *testing.B) {
		qt := q
		qt.Dimensions = []reports.Dimension{reports.DimDay, reports.DimTask}
		for b.Loop() {
			if _, err := st.Query(ctx, qt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rollup-select", func(b *testing.B) {
		for b.Loop() {
			selectDaily(b, db, start, end)
		}
	})

	raw := storetest.New(b)
	seedStart = time.Now()
	seedRows(b, raw, start, 30, perDay)
	w := reports.NewWriter(raw, loc, nil, nil)
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		if _, err := w.Reconcile(context.Background(), d.Format(store.DayFormat), true); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d delivery rows (%d a day) and their rollups in %s", perDay*30, perDay, time.Since(seedStart).Round(time.Millisecond))
	rst := reports.NewStats(raw, loc)
	want, err := rst.QueryRows(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	got, err := rst.Query(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	if fmt.Sprint(want.Totals.Total, want.Totals.Delivered, len(want.Rows)) != fmt.Sprint(got.Totals.Total, got.Totals.Delivered, len(got.Rows)) {
		b.Fatalf("the rollup answers %+v, the rows %+v", got.Totals, want.Totals)
	}
	b.Run("rows-groupby", func(b *testing.B) {
		for b.Loop() {
			if _, err := rst.QueryRows(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rollup-of-rows", func(b *testing.B) {
		for b.Loop() {
			if _, err := rst.Query(ctx, q); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var benchChannels = []channels.Channel{channels.SMS, channels.AppPush, channels.WeChat, channels.Email, channels.Voice, channels.RCS}
var benchStatuses = []channels.Status{channels.Delivered, channels.Sent, channels.Failed, channels.Clicked, channels.Displayed, reports.Suppressed}

// seedRollups writes groups rollup rows an hour for each app over days, tasks alternating
// between the two shards, and returns how many rows it wrote; loc, Herald's zone, has a fixed
// offset.
func seedRollups(b *testing.B, db *store.DB, loc *time.Location, start time.Time, days, apps, groups int) int {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	total := 0
	var (
		sb   [2]strings.Builder
		n    [2]int
		args [2][]any
	)
	flush := func(s int) {
		if n[s] == 0 {
			return
		}
		if _, err := db.Stats[s].Exec(sb[s].String(), args[s]...); err != nil {
			b.Fatal(err)
		}
		sb[s].Reset()
		n[s], args[s] = 0, args[s][:0]
	}
	for h := 0; h < days*24; h++ {
		hour := start.Add(time.Duration(h) * time.Hour).UTC()
		for app := 1; app <= apps; app++ {
			// Tasks run a few hours each: the ones of this hour are numbered from it.
			for g := range groups {
				task := int64(h/4*50 + g/(len(benchChannels)*len(benchStatuses))%50 + 1)
				ch := benchChannels[g%len(benchChannels)]
				stt := benchStatuses[(g/len(benchChannels))%len(benchStatuses)]
				s := int(task % 2)
				if n[s] == 0 {
					sb[s].WriteString("INSERT IGNORE INTO " + reports.TaskHourly.Table + " (app_id, period, task_id, template_id, channel, status, messages, sent, delivered, displayed, clicked, cost_units, cost) VALUES ")
				} else {
					sb[s].WriteByte(',')
				}
				sb[s].WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
				m := int64(1 + rng.IntN(200))
				args[s] = append(args[s], app, hour, task, task%7+1, string(ch), string(stt), m, m, m/2, m/4, m/8, m, strconv.FormatFloat(float64(m)*0.045, 'f', 4, 64))
				n[s]++
				total++
				if n[s] == 2000 {
					flush(s)
				}
			}
		}
	}
	flush(0)
	flush(1)
	// The task-free levels sum the task-hourly rows, as the writer keeps them: a daily period
	// is the UTC instant of the local midnight.
	_, off := start.In(loc).Zone()
	day := fmt.Sprintf("DATE_SUB(CAST(DATE(DATE_ADD(period, INTERVAL %d SECOND)) AS DATETIME), INTERVAL %d SECOND)", off, off)
	for _, s := range db.Stats {
		for table, period := range map[string]string{reports.Hourly.Table: "period", reports.Daily.Table: day} {
			if _, err := s.Exec("INSERT INTO " + table + " (app_id, period, task_id, template_id, channel, status, messages, sent, delivered, displayed, clicked, cost_units, cost)" +
				" SELECT app_id, " + period + ", 0, template_id, channel, status, SUM(messages), SUM(sent), SUM(delivered)," +
				" SUM(displayed), SUM(clicked), SUM(cost_units), SUM(cost) FROM " + reports.TaskHourly.Table + " GROUP BY 1, 2, 4, 5, 6"); err != nil {
				b.Fatal(err)
			}
		}
	}
	return total
}

// seedRows writes perDay delivery rows of app 1 a day into the day tables, spread over the
// day, 40 tasks, both shards and six channels.
func seedRows(b *testing.B, db *store.DB, start time.Time, days, perDay int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	for d := range days {
		day := start.AddDate(0, 0, d)
		name := store.DayTable(day.Format(store.DayFormat))
		for _, s := range db.Stats {
			if _, err := s.Exec("CREATE TABLE IF NOT EXISTS " + name + " LIKE delivery_template"); err != nil {
				b.Fatal(err)
			}
		}
		var (
			sb   [2]strings.Builder
			n    [2]int
			args [2][]any
		)
		flush := func(s int) {
			if n[s] == 0 {
				return
			}
			if _, err := db.Stats[s].Exec(sb[s].String(), args[s]...); err != nil {
				b.Fatal(err)
			}
			sb[s].Reset()
			n[s], args[s] = 0, args[s][:0]
		}
		for i := range perDay {
			task := int64(1 + i%40)
			s := int(task % 2)
			ch := benchChannels[rng.IntN(len(benchChannels))]
			stt := benchStatuses[rng.IntN(len(benchStatuses))]
			at := day.Add(time.Duration(rng.Int64N(int64(24 * time.Hour)))).Truncate(time.Millisecond)
			if n[s] == 0 {
				sb[s].WriteString("INSERT INTO " + name + " (id, app_id, task_id, template_id, user_id, channel, status, cost_units, cost, created_at, updated_at, sent_at, delivered_at) VALUES ")
			} else {
				sb[s].WriteByte(',')
			}
			sb[s].WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
			var sent, delivered any
			if stt != reports.Suppressed && stt != channels.Failed {
				sent = at
			}
			if stt == channels.Delivered || stt == channels.Clicked || stt == channels.Displayed {
				delivered = at
			}
			args[s] = append(args[s], reports.MessageID(day.Format(store.DayFormat), task, int64(i), ch), 1, task, task%7+1, "u"+strconv.Itoa(i),
				string(ch), string(stt), 1, "0.0450", at, at, sent, delivered)
			n[s]++
			if n[s] == 2000 {
				flush(s)
			}
		}
		flush(0)
		flush(1)
	}
}

// selectDaily is the plainest indexed read of the daily rollup rows of app 1 whose period is
// in [from, to), one SELECT per shard in turn summed by the client.
func selectDaily(b *testing.B, db *store.DB, from, to time.Time) {
	sums := map[string]int64{}
	for _, s := range db.Stats {
		rs, err := s.QueryContext(context.Background(), "SELECT period, channel, messages FROM "+reports.Daily.Table+" WHERE app_id = ? AND period >= ? AND period < ?", 1, from.UTC(), to.UTC())
		if err != nil {
			b.Fatal(err)
		}
		for rs.Next() {
			var (
				h  time.Time
				ch string
				n  int64
			)
			if err := rs.Scan(&h, &ch, &n); err != nil {
				b.Fatal(err)
			}
			sums[h.Format(time.DateOnly)+ch] += n
		}
		rs.Close()
	}
	if len(sums) == 0 {
		b.Fatal("no rows")
	}
}

// BenchmarkStatsEndingNow measures the 30-day statistics query by DAY × CHANNEL over a range
// that ends now while the current hour's day table holds HERALD_STATS_BENCH_NOW_ROWS (default
// 1,000,000) delivery rows of the measured app, recorded since the hour began, with their
// rollups; the 30 days before the hour hold HERALD_STATS_BENCH_GROUPS task-hourly groups an
// hour for each of HERALD_STATS_BENCH_APPS apps, as in BenchmarkStats:
//
//	go test -bench StatsEndingNow -run '^$' -benchtime 50x -timeout 30m ./reports/
//
// to-now ends at the time of each query; to-past-late and to-past-early end inside the
// current hour, in the past, after nine tenths and after one tenth of its rows. whole-hours
// is the same 30 days ending where the current hour begins, and select the plainest indexed
// read of the daily rollup rows of the range: the baselines of the same run. Each reports its
// p50 and p99 in milliseconds. Herald's zone is UTC, or +05:30 when the UTC hour is nearly
// over or has just begun, so that the current local hour has a quarter hour behind it and
// ahead of it.
func BenchmarkStatsEndingNow(b *testing.B) {
	perHour := envInt(b, "HERALD_STATS_BENCH_NOW_ROWS", 1_000_000)
	groups := envInt(b, "HERALD_STATS_BENCH_GROUPS", 300)
	apps := envInt(b, "HERALD_STATS_BENCH_APPS", 4)
	loc := time.UTC
	if m := time.Now().UTC().Minute(); m < 10 || m >= 45 {
		loc = time.FixedZone("+05:30", 5*3600+30*60)
	}
	ctx := account.WithPrincipal(context.Background(), &account.Principal{Role: account.Viewer, AppIDs: []int64{1}})
	db := storetest.New(b)
	st := reports.NewStats(db, loc)

	seeded := time.Now()
	lt := seeded.In(loc)
	hour := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), 0, 0, 0, loc)
	day := hour.Format(store.DayFormat)
	rollups := seedRollups(b, db, loc, hour.AddDate(0, 0, -30), 30, apps, groups)
	seedHourRows(b, db, day, hour, seeded, perHour)
	w := reports.NewWriter(db, loc, nil, nil)
	if _, err := w.Reconcile(context.Background(), day, true); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d rollup rows and %d delivery rows in %s, the rows between %s and %s (zone %s)", rollups, perHour,
		time.Since(seeded).Round(time.Millisecond), hour.Format(time.TimeOnly), seeded.In(loc).Format(time.TimeOnly), loc)

	// The rollups answer the current hour as the rows do.
	q := reports.StatsQuery{AppID: 1, From: hour, To: time.Now(), Dimensions: []reports.Dimension{reports.DimDay, reports.DimChannel}}
	want, err := st.QueryRows(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	got, err := st.Query(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	if fmt.Sprint(want.Totals.Total, want.Totals.Delivered, want.Totals.Failed, len(want.Rows)) != fmt.Sprint(got.Totals.Total, got.Totals.Delivered, got.Totals.Failed, len(got.Rows)) ||
		want.Totals.Total != int64(perHour) {
		b.Fatalf("the current hour: the query answers %+v, the rows %+v (%d rows seeded)", got.Totals, want.Totals, perHour)
	}

	ranged := func(name string, to func() time.Time) {
		b.Run(name, func(b *testing.B) {
			latencies(b, func() {
				end := to()
				q := reports.StatsQuery{AppID: 1, From: end.AddDate(0, 0, -30), To: end, Dimensions: []reports.Dimension{reports.DimDay, reports.DimChannel}}
				res, err := st.Query(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Rows) == 0 {
					b.Fatal("no rows")
				}
			})
		})
	}
	ranged("to-now", time.Now)
	ranged("to-past-late", func() time.Time { return hour.Add(seeded.Sub(hour) * 9 / 10) })
	ranged("to-past-early", func() time.Time { return hour.Add(seeded.Sub(hour) / 10) })
	ranged("whole-hours", func() time.Time { return hour })
	b.Run("select", func(b *testing.B) {
		latencies(b, func() { selectDaily(b, db, hour.AddDate(0, 0, -30), hour) })
	})
	if h := time.Now().In(loc); h.Sub(hour) >= time.Hour {
		b.Logf("the hour ended during the run (%s): the last figures are not of a range ending in the current hour", h.Format(time.TimeOnly))
	}
}

// latencies runs f each iteration and reports the p50 and p99 of its times.
func latencies(b *testing.B, f func()) {
	var times []time.Duration
	for b.Loop() {
		t := time.Now()
		f()
		times = append(times, time.Since(t))
	}
	slices.Sort(times)
	at := func(p float64) float64 {
		return float64(times[int(math.Ceil(p*float64(len(times))))-1]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// seedHourRows writes n delivery rows of app 1 into the day table of day, created in
// [from, to) evenly, over 40 tasks on both shards, six channels and six statuses.
func seedHourRows(b *testing.B, db *store.DB, day string, from, to time.Time, n int) {
	b.Helper()
	name := store.DayTable(day)
	for _, s := range db.Stats {
		if _, err := s.Exec("CREATE TABLE IF NOT EXISTS " + name + " LIKE delivery_template"); err != nil {
			b.Fatal(err)
		}
	}
	var g errgroup.Group
	for shard := range db.Stats {
		g.Go(func() error {
			var (
				sb    strings.Builder
				args  []any
				batch int
			)
			flush := func() error {
				if batch == 0 {
					return nil
				}
				_, err := db.Stats[shard].Exec(sb.String(), args...)
				sb.Reset()
				args, batch = args[:0], 0
				return err
			}
			for i := shard; i < n; i += len(db.Stats) {
				task := int64(len(db.Stats)*(1+i/len(db.Stats)%20) + shard)
				ch := benchChannels[(i/7)%len(benchChannels)]
				stt := benchStatuses[(i/3)%len(benchStatuses)]
				at := from.Add(time.Duration(int64(i) * int64(to.Sub(from)) / int64(n))).Truncate(time.Millisecond)
				if batch == 0 {
					sb.WriteString("INSERT INTO " + name + " (id, app_id, task_id, template_id, user_id, channel, status, cost_units, cost, created_at, updated_at, sent_at, delivered_at) VALUES ")
				} else {
					sb.WriteByte(',')
				}
				sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
				var sent, delivered any
				if stt != reports.Suppressed && stt != channels.Failed {
					sent = at.UTC()
				}
				if stt == channels.Delivered || stt == channels.Clicked || stt == channels.Displayed {
					delivered = at.UTC()
				}
				args = append(args, reports.MessageID(day, task, int64(i), ch), 1, task, task%7+1, "u"+strconv.Itoa(i),
					string(ch), string(stt), 1, "0.0450", at.UTC(), at.UTC(), sent, delivered)
				if batch++; batch == 2000 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			return flush()
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
}
