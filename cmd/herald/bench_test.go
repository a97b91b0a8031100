package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/bench"
	"github.com/herald-msg/herald/server"
)

// TestBenchTiny runs every scenario of `herald bench` at a tiny scale on the real services,
// with the simulator in this process, and checks that each figure is filled and consistent
// (no timing thresholds: the machine is shared) and that the run removed its databases.
func TestBenchTiny(t *testing.T) {
	o := benchOptions{Users: 300, Samples: 5, DayRows: 2500, HistoryUsers: 40, HistoryPerUser: 25, HistoryReads: 10, StatsDayRows: 2000, StatsReads: 3,
		FallbackUsers: 50, FallbackShare: 0.2, FallbackAfter: 500 * time.Millisecond,
		Baselines: bench.BaselineConfig{Duration: 200 * time.Millisecond, Messages: 2000, Keys: 20000, Rows: 5000, Requests: 2000}}
	var progress bytes.Buffer
	f, err := benchRun(t.Context(), o, &progress)
	require.NoError(t, err, progress.String())

	for _, step := range []string{"importing 300 users", "seeding 2500 rows into today's delivery tables", "2500/2500 rows", "seeding 1000 history rows", "seeding 60000 delivery rows (30 days × 2000", "rollups built from the rows", "fallback: 50 users"} {
		require.Contains(t, progress.String(), step)
	}
	bl := f.Baselines
	require.NotNil(t, bl)
	for _, r := range []float64{bl.AMQP.Rate, bl.Redis.Rate, bl.MySQL.Rate, bl.HTTP.Rate} {
		require.Positive(t, r)
	}
	require.Equal(t, int64(300), f.Import.Rows)
	require.Equal(t, int64(300), f.Import.Imported)
	require.Positive(t, f.Import.RowsPerSecond)
	require.InDelta(t, f.Import.RowsPerSecond/bl.MySQL.Rate, f.Import.RatioToInsert, 1e-9)

	require.Equal(t, 2500, f.DayRows)
	require.Positive(t, f.DayRowsSeconds)
	require.Positive(t, f.BulkSeconds)
	require.InDelta(t, 300/f.BulkSeconds, f.BulkPerSecond, 1e-6)
	require.InDelta(t, f.BulkPerSecond/bl.MySQL.Rate, f.BulkRatioInsert, 1e-9)
	require.Equal(t, 5, f.RealtimeIdle.Samples)
	// Under the broadcast one send every 50 ms for as long as it runs, at least one; each waits
	// for its message at the simulator, so there are no more than the broadcast's time allows.
	require.GreaterOrEqual(t, f.RealtimeUnderBulk.Samples, 1)
	require.LessOrEqual(t, f.RealtimeUnderBulk.Samples, int(f.BulkSeconds/0.05)+2)
	for _, l := range []latency{f.RealtimeIdle, f.RealtimeUnderBulk} {
		require.Positive(t, l.P50ms)
		require.LessOrEqual(t, l.P50ms, l.P95ms)
		require.LessOrEqual(t, l.P95ms, l.P99ms)
	}
	require.InDelta(t, f.RealtimeUnderBulk.P99ms/f.RealtimeIdle.P99ms, f.RealtimeRatio, 1e-9)
	require.Positive(t, f.BulkPeakRSSMB)
	// Where the CPU went: this process and the MariaDB these tests run against, on this machine.
	c := f.BulkCPU
	require.Greater(t, c.Seconds, f.BulkSeconds, "the window runs until the receipts caught up")
	require.Equal(t, runtime.NumCPU(), c.Cores)
	names := map[string]cpuUse{}
	for _, p := range c.Processes {
		require.GreaterOrEqual(t, p.Seconds, 0.0, p.Name)
		require.InDelta(t, p.Seconds/c.Seconds, p.Cores, 1e-9, p.Name)
		names[p.Name] = p
	}
	require.Contains(t, names, "Herald")
	require.Contains(t, names, "MariaDB")
	require.InDelta(t, names["MariaDB"].Seconds/300*1e6, c.MariaDBMicrosPerMessage, 1e-6)
	require.GreaterOrEqual(t, f.PeakRSSMB, f.BulkPeakRSSMB*0.99, "the whole run's peak covers the broadcast's")

	require.NotNil(t, f.History)
	require.Equal(t, int64(40*25), f.History.SeededRows)
	require.Equal(t, 10, f.History.API.Samples)
	require.Equal(t, 10, f.History.Store.Samples)
	require.Positive(t, f.History.RatioP99)

	require.NotNil(t, f.Stats)
	require.Equal(t, 30, f.Stats.Days)
	require.Equal(t, int64(30*2000), f.Stats.SeededRows)
	require.GreaterOrEqual(t, f.Stats.ResultRows, 30*len(statsBenchChannels), "every seeded day and channel is answered")
	require.LessOrEqual(t, f.Stats.ResultRows, 31*len(statsBenchChannels)+8, "a DAY × CHANNEL answer has a row per day and channel at most")
	require.Equal(t, 3, f.Stats.API.Samples)
	require.Equal(t, 3, f.Stats.APIWholeHours.Samples)
	require.Equal(t, statsRawReads, f.Stats.GroupBy.Samples)

	// At 20%, users whose number mod 100 is below 20 are silent: 20 of 50 must fall back.
	ff := f.Fallback
	require.NotNil(t, ff)
	require.InDelta(t, 0.4, ff.ExpectedShare, 1e-9)
	require.GreaterOrEqual(t, ff.Share, ff.ExpectedShare, "every silent user falls back")
	require.GreaterOrEqual(t, ff.VoiceShare, ff.ExpectedShare)
	require.LessOrEqual(t, ff.Share, 1.0)
	require.Equal(t, int(ff.VoiceShare*50+0.5), ff.EndToEnd.Samples, "one lateness per user called")
	require.Equal(t, int(ff.Share*50+0.5), ff.Timer.Samples, "one timer error per fallback Herald counted")
	require.LessOrEqual(t, ff.Timer.P50ms, ff.Timer.P99ms)
	require.Greater(t, ff.Timer.P50ms, -float64(o.FallbackAfter.Milliseconds()), "a timer never fires before it is armed")

	b, err := json.Marshal(f)
	require.NoError(t, err)
	for _, key := range []string{`"bulk_deliveries_per_second"`, `"import"`, `"history"`, `"stats"`, `"fallback"`, `"timer_error"`, `"bulk_cpu"`, `"mariadb_cpu_us_per_message"`} {
		require.Contains(t, string(b), key)
	}
	var table bytes.Buffer
	printBench(&table, f)
	for _, line := range []string{"CSV import", "bulk broadcast", "realtime under bulk", "history p50/p99", "stats 30 days", "stats whole hours", "fallback timer", "fallback end to end", "CPU, broadcast + receipts"} {
		require.Contains(t, table.String(), line)
	}

	cfg, err := server.LoadConfig("", nil)
	require.NoError(t, err)
	db, err := sql.Open("mysql", cfg.MySQLDSN)
	require.NoError(t, err)
	defer db.Close()
	var left []string
	rows, err := db.QueryContext(t.Context(), "SHOW DATABASES")
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		if strings.HasPrefix(n, f.prefix) {
			left = append(left, n)
		}
	}
	require.NoError(t, rows.Err())
	require.Empty(t, left, "the run drops its databases")

	ro, err := redis.ParseURL(cfg.RedisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(ro)
	defer rdb.Close()
	var keys []string
	iter := rdb.Scan(t.Context(), 0, f.prefix+":*", 1000).Iterator()
	for iter.Next(t.Context()) {
		keys = append(keys, iter.Val())
	}
	require.NoError(t, iter.Err())
	require.Empty(t, keys, "the run removes its Redis keys")
}

func TestBenchOptionsValidate(t *testing.T) {
	good := benchOptions{Users: 1000, Samples: 10, HistoryUsers: 100, HistoryPerUser: 10, HistoryReads: 10, StatsDayRows: 1000, StatsReads: 5,
		FallbackUsers: 100, FallbackShare: 0.2, FallbackAfter: time.Second}
	require.NoError(t, good.validate())
	for flag, mutate := range map[string]func(o *benchOptions){
		"--users":          func(o *benchOptions) { o.Users = 10 },
		"--history-users":  func(o *benchOptions) { o.HistoryUsers = 2000 },
		"--stats-day-rows": func(o *benchOptions) { o.StatsDayRows = -1 },
		"--fallback-users": func(o *benchOptions) { o.FallbackUsers = 20000 },
		"--fallback-share": func(o *benchOptions) { o.FallbackShare = 0 },
		"--fallback-after": func(o *benchOptions) { o.FallbackAfter = time.Millisecond },
	} {
		o := good
		mutate(&o)
		err := o.validate()
		require.Error(t, err, flag)
		require.Contains(t, err.Error(), flag)
	}
}
