package reports_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

// fixtureMessage is one message of the statistics fixture and the status it ends in.
type fixtureMessage struct {
	app, task, template int64
	channel             channels.Channel
	at                  time.Time
	status              channels.Status
	cost                float64
}

var (
	day1 = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	day2 = day1.AddDate(0, 0, 1)
	day3 = day1.AddDate(0, 0, 2)
)

func hm(day time.Time, h, m int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// statsFixture spreads app 1's messages over two days and both shards (tasks 10 and 12 on
// shard 0, 11 and 13 on shard 1); app 2 has a message that must never be counted for app 1.
var statsFixture = []fixtureMessage{
	{1, 10, 100, channels.SMS, hm(day1, 1, 10), channels.Delivered, 0.045},
	{1, 10, 100, channels.SMS, hm(day1, 1, 20), channels.Failed, 0},
	{1, 10, 100, channels.Email, hm(day1, 2, 0), channels.Sent, 0.001},
	{1, 11, 200, channels.AppPush, hm(day1, 2, 30), channels.Clicked, 0},
	{1, 11, 200, channels.SMS, hm(day1, 5, 0), reports.Suppressed, 0},
	{1, 10, 100, channels.SMS, hm(day2, 3, 0), channels.Delivered, 0.09},
	{1, 11, 200, channels.Email, hm(day2, 3, 40), reports.Queued, 0},
	{1, 11, 200, channels.AppPush, hm(day2, 23, 59), channels.Displayed, 0},
	{1, 13, 100, channels.Voice, hm(day2, 12, 0), channels.Delivered, 0.12},
	{2, 12, 300, channels.SMS, hm(day1, 1, 0), channels.Delivered, 0.045},
}

// expectedCounts is the oracle: what one message contributes to a statistics row.
func expectedCounts(m fixtureMessage) reports.Counts {
	c := reports.Counts{Total: 1, Cost: m.cost}
	rank := map[channels.Status]int{channels.Sent: 1, channels.Delivered: 2, channels.Displayed: 3, channels.Clicked: 4}[m.status]
	if rank >= 1 {
		c.Sent = 1
	}
	if rank >= 2 {
		c.Delivered = 1
	}
	if rank >= 3 {
		c.Displayed = 1
	}
	if rank >= 4 {
		c.Clicked = 1
	}
	switch m.status {
	case channels.Failed:
		c.Failed = 1
	case reports.Suppressed:
		c.Suppressed = 1
	}
	return c
}

type statsBundle struct {
	stats  *reports.Stats
	writer *reports.Writer
	db     *store.DB
}

// setupStats records the fixture through the writer, as dispatch does: QUEUED or
// SUPPRESSED first, then the provider result and receipts.
func setupStats(t *testing.T, loc *time.Location) *statsBundle {
	t.Helper()
	db := storetest.New(t)
	w := reports.NewWriter(db, loc, nil, nil)
	var (
		ds []reports.Delivery
		us []reports.Update
	)
	for i, m := range statsFixture {
		id := reports.MessageID(m.at.Format(store.DayFormat), m.task, int64(i), m.channel)
		first := reports.Queued
		if m.status == reports.Suppressed {
			first = reports.Suppressed
		}
		ds = append(ds, reports.Delivery{ID: id, AppID: m.app, TaskID: m.task, TemplateID: m.template, UserID: fmt.Sprintf("u%d", i),
			Channel: m.channel, Status: first, CreatedAt: m.at})
		if m.status == reports.Queued || m.status == reports.Suppressed {
			continue
		}
		if m.status != channels.Failed {
			us = append(us, reports.Update{ID: id, Status: channels.Sent, Cost: m.cost, CostUnits: 1, At: m.at.Add(time.Second)})
		}
		us = append(us, reports.Update{ID: id, Status: m.status, At: m.at.Add(time.Minute)})
	}
	_, err := w.Record(t.Context(), ds)
	require.NoError(t, err)
	n, err := w.Apply(t.Context(), us)
	require.NoError(t, err)
	require.Equal(t, len(us), n)
	return &statsBundle{stats: reports.NewStats(db, loc), writer: w, db: db}
}

func viewerOf(t *testing.T, apps ...int64) context.Context {
	t.Helper()
	return account.WithPrincipal(t.Context(), &account.Principal{Role: account.Viewer, AppIDs: apps})
}

var allDimensions = []reports.Dimension{reports.DimDay, reports.DimHour, reports.DimApp, reports.DimChannel, reports.DimTemplate, reports.DimTask, reports.DimStatus}

// rowOf is the statistics row a message falls in when grouping by dims.
func rowOf(m fixtureMessage, dims []reports.Dimension, loc *time.Location) reports.StatsRow {
	var r reports.StatsRow
	for _, d := range dims {
		switch d {
		case reports.DimDay:
			r.Day = m.at.In(loc).Format("2006-01-02")
		case reports.DimHour:
			r.Hour, r.HasHour = m.at.In(loc).Hour(), true
		case reports.DimApp:
			r.AppID = m.app
		case reports.DimChannel:
			r.Channel = m.channel
		case reports.DimTemplate:
			r.TemplateID = m.template
		case reports.DimTask:
			r.TaskID = m.task
		case reports.DimStatus:
			r.Status = m.status
		}
	}
	return r
}

func groupKey(r reports.StatsRow) string {
	return fmt.Sprintf("%s|%d|%t|%d|%s|%d|%d|%s", r.Day, r.Hour, r.HasHour, r.AppID, r.Channel, r.TemplateID, r.TaskID, r.Status)
}

// rounded makes costs comparable: the database keeps four decimals.
func rounded(c reports.Counts) reports.Counts {
	c.Cost = math.Round(c.Cost*1e4) / 1e4
	return c
}

// expected computes the rows and totals of q from the fixture.
func expected(q reports.StatsQuery, loc *time.Location) (map[string]reports.Counts, reports.Counts) {
	rows := map[string]reports.Counts{}
	var totals reports.Counts
	for _, m := range statsFixture {
		if m.app != q.AppID || m.at.Before(q.From) || !m.at.Before(q.To) ||
			(q.Channel != "" && m.channel != q.Channel) || (q.TemplateID != 0 && m.template != q.TemplateID) || (q.TaskID != 0 && m.task != q.TaskID) {
			continue
		}
		c := expectedCounts(m)
		k := groupKey(rowOf(m, q.Dimensions, loc))
		sum := rows[k]
		sum.Total += c.Total
		sum.Sent += c.Sent
		sum.Delivered += c.Delivered
		sum.Displayed += c.Displayed
		sum.Clicked += c.Clicked
		sum.Failed += c.Failed
		sum.Suppressed += c.Suppressed
		sum.Cost += c.Cost
		rows[k] = rounded(sum)
		totals.Total += c.Total
		totals.Sent += c.Sent
		totals.Delivered += c.Delivered
		totals.Displayed += c.Displayed
		totals.Clicked += c.Clicked
		totals.Failed += c.Failed
		totals.Suppressed += c.Suppressed
		totals.Cost += c.Cost
	}
	return rows, rounded(totals)
}

// requireResult checks a result against the oracle, and that its totals are the sum of its
// rows.
func requireResult(t *testing.T, q reports.StatsQuery, res *reports.StatsResult, loc *time.Location) {
	t.Helper()
	wantRows, wantTotals := expected(q, loc)
	got := map[string]reports.Counts{}
	var sum reports.Counts
	for _, r := range res.Rows {
		k := groupKey(r)
		require.NotContains(t, got, k, "one row per group")
		got[k] = rounded(r.Counts)
		sum.Total += r.Total
		sum.Sent += r.Sent
		sum.Delivered += r.Delivered
		sum.Displayed += r.Displayed
		sum.Clicked += r.Clicked
		sum.Failed += r.Failed
		sum.Suppressed += r.Suppressed
		sum.Redundant += r.Redundant
		sum.Cost += r.Cost
	}
	require.Equal(t, wantRows, got, "dimensions %v", q.Dimensions)
	require.Equal(t, wantTotals, rounded(res.Totals), "totals, dimensions %v", q.Dimensions)
	require.Equal(t, rounded(sum), rounded(res.Totals), "totals are the sum of the rows")
}

func TestStatsEveryDimensionCombination(t *testing.T) {
	t.Parallel()
	b := setupStats(t, time.UTC)
	for mask := range 1 << len(allDimensions) {
		var dims []reports.Dimension
		for i, d := range allDimensions {
			if mask&(1<<i) != 0 {
				dims = append(dims, d)
			}
		}
		t.Run(fmt.Sprint(dims), func(t *testing.T) {
			t.Parallel()
			q := reports.StatsQuery{AppID: 1, From: day1, To: day3, Dimensions: dims}
			res, err := b.stats.Query(viewerOf(t, 1), q)
			require.NoError(t, err)
			requireResult(t, q, res, time.UTC)
		})
	}
}

func TestStatsFilters(t *testing.T) {
	t.Parallel()
	b := setupStats(t, time.UTC)
	dimSets := [][]reports.Dimension{
		nil,
		{reports.DimDay},
		{reports.DimChannel, reports.DimStatus},
		{reports.DimTask, reports.DimHour},
		allDimensions,
	}
	filters := []struct {
		name   string
		change func(q *reports.StatsQuery)
		total  int64
	}{
		{"none", func(*reports.StatsQuery) {}, 9},
		{"channel", func(q *reports.StatsQuery) { q.Channel = channels.SMS }, 4},
		{"template", func(q *reports.StatsQuery) { q.TemplateID = 200 }, 4},
		{"task on the second shard", func(q *reports.StatsQuery) { q.TaskID = 11 }, 4},
		{"channel and task", func(q *reports.StatsQuery) { q.Channel = channels.SMS; q.TaskID = 10 }, 3},
		{"range inside the days", func(q *reports.StatsQuery) { q.From, q.To = hm(day1, 2, 0), hm(day2, 3, 40) }, 4},
		{"one day", func(q *reports.StatsQuery) { q.From, q.To = day2, day3 }, 4},
		{"days without tables", func(q *reports.StatsQuery) { q.From, q.To = day3, day3.AddDate(0, 0, 5) }, 0},
		{"nothing matches", func(q *reports.StatsQuery) { q.TemplateID = 999 }, 0},
	}
	for _, f := range filters {
		for _, dims := range dimSets {
			t.Run(fmt.Sprint(f.name, dims), func(t *testing.T) {
				t.Parallel()
				q := reports.StatsQuery{AppID: 1, From: day1, To: day3, Dimensions: dims}
				f.change(&q)
				res, err := b.stats.Query(viewerOf(t, 1), q)
				require.NoError(t, err)
				requireResult(t, q, res, time.UTC)
				require.Equal(t, f.total, res.Totals.Total)
			})
		}
	}

	t.Run("other app", func(t *testing.T) {
		t.Parallel()
		q := reports.StatsQuery{AppID: 2, From: day1, To: day3, Dimensions: []reports.Dimension{reports.DimApp}}
		res, err := b.stats.Query(viewerOf(t, 2), q)
		require.NoError(t, err)
		requireResult(t, q, res, time.UTC)
		require.Len(t, res.Rows, 1)
		require.Equal(t, int64(2), res.Rows[0].AppID)
	})

	t.Run("limit", func(t *testing.T) {
		t.Parallel()
		q := reports.StatsQuery{AppID: 1, From: day1, To: day3, Dimensions: []reports.Dimension{reports.DimChannel, reports.DimStatus}, Limit: 2}
		res, err := b.stats.Query(viewerOf(t, 1), q)
		require.NoError(t, err)
		require.Len(t, res.Rows, 2)
		require.Equal(t, res.Rows[0].Total+res.Rows[1].Total, res.Totals.Total, "totals are the sum of the rows returned")
	})
}

func TestStatsHoursAndDaysInHeraldsTimeZone(t *testing.T) {
	t.Parallel()
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	b := setupStats(t, shanghai)
	// 1 May in Shanghai is 30 April 16:00 to 1 May 16:00 UTC: the day-1 messages, at 09:10,
	// 09:20, 10:00, 10:30 and 13:00 local time.
	q := reports.StatsQuery{AppID: 1, From: time.Date(2024, 5, 1, 0, 0, 0, 0, shanghai), To: time.Date(2024, 5, 2, 0, 0, 0, 0, shanghai),
		Dimensions: []reports.Dimension{reports.DimDay, reports.DimHour}}
	res, err := b.stats.Query(viewerOf(t, 1), q)
	require.NoError(t, err)
	requireResult(t, q, res, shanghai)
	var hours []int
	for _, r := range res.Rows {
		require.Equal(t, "2024-05-01", r.Day)
		hours = append(hours, r.Hour)
	}
	require.Equal(t, []int{9, 10, 13}, hours)
}

func TestStatsBadInput(t *testing.T) {
	t.Parallel()
	b := setupStats(t, time.UTC)
	tests := []struct {
		name   string
		ctx    context.Context
		change func(q *reports.StatsQuery)
		code   fault.Code
		field  string
	}{
		{"to before from", viewerOf(t, 1), func(q *reports.StatsQuery) { q.From, q.To = q.To, q.From }, fault.CodeBadInput, "input.to"},
		{"empty range", viewerOf(t, 1), func(q *reports.StatsQuery) { q.To = q.From }, fault.CodeBadInput, "input.to"},
		{"more than 400 days", viewerOf(t, 1), func(q *reports.StatsQuery) { q.To = q.From.AddDate(0, 0, 401) }, fault.CodeBadInput, "input.to"},
		{"unknown channel", viewerOf(t, 1), func(q *reports.StatsQuery) { q.Channel = "TELEX" }, fault.CodeBadInput, "input.channel"},
		{"unknown dimension", viewerOf(t, 1), func(q *reports.StatsQuery) { q.Dimensions = []reports.Dimension{reports.DimDay, "WEEK"} }, fault.CodeBadInput, "input.dimensions[1]"},
		{"dimension twice", viewerOf(t, 1), func(q *reports.StatsQuery) {
			q.Dimensions = []reports.Dimension{reports.DimDay, reports.DimStatus, reports.DimDay}
		}, fault.CodeBadInput, "input.dimensions[2]"},
		{"negative limit", viewerOf(t, 1), func(q *reports.StatsQuery) { q.Limit = -1 }, fault.CodeBadInput, "input.limit"},
		{"huge limit", viewerOf(t, 1), func(q *reports.StatsQuery) { q.Limit = 100001 }, fault.CodeBadInput, "input.limit"},
		{"another app's caller", viewerOf(t, 2), func(*reports.StatsQuery) {}, fault.CodeForbidden, "input.appId"},
		{"no caller", t.Context(), func(*reports.StatsQuery) {}, fault.CodeUnauthenticated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := reports.StatsQuery{AppID: 1, From: day1, To: day3}
			tt.change(&q)
			res, err := b.stats.Query(tt.ctx, q)
			require.Nil(t, res)
			require.Error(t, err)
			fe, ok := fault.As(err)
			require.True(t, ok, "%v", err)
			require.Equal(t, tt.code, fe.Code)
			require.Equal(t, tt.field, fe.Field)
		})
	}
}

func TestTaskCounts(t *testing.T) {
	t.Parallel()
	b := setupStats(t, time.UTC)
	now := hm(day3, 12, 0)
	tests := []struct {
		name     string
		task     int64
		firstDay string
	}{
		{"task over two days on shard 0", 10, "20240501"},
		{"task over two days on shard 1", 11, "20240501"},
		{"task of one day", 13, "20240502"},
		{"first day later than some messages: it bounds only the fallback count", 10, "20240502"},
		{"unknown task", 99, "20240501"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var want reports.Counts
			for _, m := range statsFixture {
				if m.task != tt.task {
					continue
				}
				c := expectedCounts(m)
				want.Total += c.Total
				want.Sent += c.Sent
				want.Delivered += c.Delivered
				want.Displayed += c.Displayed
				want.Clicked += c.Clicked
				want.Failed += c.Failed
				want.Suppressed += c.Suppressed
				want.Cost += c.Cost
			}
			for _, fallbacks := range []bool{false, true} {
				got, err := b.stats.TaskCounts(t.Context(), tt.task, tt.firstDay, now, fallbacks)
				require.NoError(t, err)
				require.Equal(t, rounded(want), rounded(got), "fallbacks counted: %v", fallbacks)
			}
		})
	}
	_, err := b.stats.TaskCounts(t.Context(), 10, "May 1", now, true)
	require.Error(t, err, "the first day names the tables the fallbacks are counted in")
}

// A shard planned before midnight and sent after it keeps its rows in the planning day's
// table; statistics still count them on the day they were recorded.
func TestStatsCountRowsRecordedAfterTheirTablesDay(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	w := reports.NewWriter(db, time.UTC, nil, nil)
	st := reports.NewStats(db, time.UTC)
	ctx := viewerOf(t, 1)
	planned := day1.Format(store.DayFormat)
	sentAt := hm(day2, 0, 30)
	_, err := w.Record(context.Background(), []reports.Delivery{{ID: reports.MessageID(planned, 10, 0, channels.SMS), AppID: 1, TaskID: 10,
		TemplateID: 100, UserID: "u", Channel: channels.SMS, Status: reports.Queued, CreatedAt: sentAt}})
	require.NoError(t, err)

	res, err := st.Query(ctx, reports.StatsQuery{AppID: 1, From: day2, To: day3, Dimensions: []reports.Dimension{reports.DimDay}})
	require.NoError(t, err)
	require.Len(t, res.Rows, 1)
	require.Equal(t, day2.Format("2006-01-02"), res.Rows[0].Day)
	require.EqualValues(t, 1, res.Totals.Total)

	res, err = st.Query(ctx, reports.StatsQuery{AppID: 1, From: day1, To: day2})
	require.NoError(t, err)
	require.Zero(t, res.Totals.Total, "the row was recorded on the second day")
}

// A range that ends at or after now, or inside the current hour, gives the answer of the rows;
// one ending at or after now reads none of the current hour's rows, the hour's rollup holding
// every row committed so far.
func TestStatsRangesEndingNow(t *testing.T) {
	t.Parallel()
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	db := storetest.New(t)
	w := reports.NewWriter(db, kolkata, nil, nil)
	st := reports.NewStats(db, kolkata)
	start := time.Date(2024, 6, 10, 0, 0, 0, 0, kolkata)
	workload(t, w, kolkata, start)

	// Now is just after the last message recorded; its local hour is the current one.
	var last time.Time
	for d := start.AddDate(0, 0, -1); d.Before(start.AddDate(0, 0, 3)); d = d.AddDate(0, 0, 1) {
		for _, s := range db.Stats {
			var at *time.Time
			err := s.QueryRow("SELECT MAX(created_at) FROM " + store.DayTable(d.Format(store.DayFormat))).Scan(&at)
			if err == nil && at != nil && at.After(last) {
				last = *at
			} else if err != nil {
				require.True(t, db.Dialect.MissingTable(err), "%v", err)
			}
		}
	}
	now := last.Add(time.Millisecond)
	reports.SetStatsClock(st, func() time.Time { return now })
	lt := now.In(kolkata)
	hour := time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), 0, 0, 0, kolkata)
	elapsed := now.Sub(hour)
	require.Greater(t, elapsed, 10*time.Minute, "the workload's last message is late in its hour")

	ranges := map[string][2]time.Time{
		"ending now":                     {start.Add(17 * time.Minute), now},
		"ending in a later hour":         {start.Add(5*time.Hour + 10*time.Minute), now.Add(2*time.Hour + 7*time.Minute)},
		"ending late in the hour, past":  {start, hour.Add(elapsed * 9 / 10)},
		"ending early in the hour, past": {start.Add(time.Hour), hour.Add(elapsed / 10)},
		"inside the hour, to now":        {hour.Add(elapsed / 10), now},
		"inside the hour, past":          {hour.Add(elapsed / 10), hour.Add(elapsed * 8 / 10)},
	}
	// The daily, hourly and task-hourly levels and the rows alone.
	dimSets := [][]reports.Dimension{nil, {reports.DimDay}, {reports.DimHour}, {reports.DimDay, reports.DimChannel},
		{reports.DimTask, reports.DimStatus}, {reports.DimDay, reports.DimHour, reports.DimTemplate}, allDimensions}
	for name, r := range ranges {
		for _, app := range []int64{1, 2} {
			ctx := viewerOf(t, app)
			for _, dims := range dimSets {
				q := reports.StatsQuery{AppID: app, From: r[0], To: r[1], Dimensions: dims}
				want, err := st.QueryRows(ctx, q)
				require.NoError(t, err)
				got, err := st.Query(ctx, q)
				require.NoError(t, err)
				requireSameStats(t, want, got, fmt.Sprintf("%s, app %d, dimensions %v", name, app, dims))
				if dims == nil && r[0].Before(hour) {
					require.NotZero(t, got.Totals.Total, name)
				}
			}
		}
	}

	// Rows of the current hour written without their rollup show which rows a query read: one
	// ending at or after now reads none of the hour's but those before its start, one ending in
	// the past only those after its end, or before it when those are fewer.
	count := func(from, to time.Time) int64 {
		res, err := st.Query(viewerOf(t, 1), reports.StatsQuery{AppID: 1, From: from, To: to})
		require.NoError(t, err)
		return res.Totals.Total
	}
	toNow, later, inside := count(start, now), count(start, now.Add(time.Hour)), count(hour.Add(elapsed/10), now)
	late, early := hour.Add(elapsed*9/10), hour.Add(elapsed/10)
	toLate, toEarly := count(start, late), count(start, early)
	day := lt.Format(store.DayFormat)
	_, err = db.Stats[1].Exec("CREATE TABLE IF NOT EXISTS " + store.DayTable(day) + " LIKE delivery_template")
	require.NoError(t, err)
	for i, at := range []time.Time{hour.Add(elapsed / 20), hour.Add(elapsed / 2), late.Add(time.Second)} {
		_, err := db.Stats[1].Exec("INSERT INTO "+store.DayTable(day)+" (id, app_id, task_id, template_id, user_id, channel, status, created_at, updated_at)"+
			" VALUES (?, 1, 1, 100, 'stray', 'SMS', 'QUEUED', ?, ?)", reports.MessageID(day, 1, int64(100000+i), channels.SMS), at.UTC(), at.UTC())
		require.NoError(t, err)
	}
	require.Equal(t, toNow, count(start, now), "the range ending now reads none of the hour's rows")
	require.Equal(t, later, count(start, now.Add(time.Hour)))
	require.Equal(t, inside-1, count(hour.Add(elapsed/10), now), "the range inside the hour ending now reads only the hour's rows before its start, and takes them away")
	require.Equal(t, toLate-1, count(start, late), "only the rows after the end are read, and taken away from the hour's rollup")
	require.Equal(t, toEarly+1, count(start, early), "only the rows before the end are read")
}
