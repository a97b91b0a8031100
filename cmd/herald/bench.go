package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/bench"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/client"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/store"
)

// benchFigures is what `herald bench` measured.
type benchFigures struct {
	Date              string                `json:"date"`
	Command           string                `json:"command"`
	Users             int                   `json:"users"`
	Baselines         *bench.BaselineResult `json:"baselines,omitempty"`
	Import            importFigures         `json:"import"`
	BulkSeconds       float64               `json:"bulk_seconds"`
	BulkPerSecond     float64               `json:"bulk_deliveries_per_second"`
	BulkRatioInsert   float64               `json:"bulk_ratio_to_mysql_insert"`
	BulkRatioAMQP     float64               `json:"bulk_ratio_to_amqp"`
	RealtimeIdle      latency               `json:"realtime_idle"`
	RealtimeUnderBulk latency               `json:"realtime_under_bulk"`
	RealtimeRatio     float64               `json:"realtime_p99_under_bulk_to_idle"`
	// RealtimeRatioHTTP is the idle realtime p50 over one loopback HTTP request's time at the
	// baseline's rate per worker.
	RealtimeRatioHTTP float64 `json:"realtime_idle_p50_to_http_request"`
	// BulkPeakRSSMB is the largest resident memory of the process while the broadcast ran.
	BulkPeakRSSMB float64 `json:"bulk_peak_rss_mb"`
	// BulkCPUSeconds is the process's CPU time during the broadcast.
	BulkCPUSeconds float64    `json:"bulk_cpu_seconds"`
	BulkSteps      []stepTime `json:"bulk_steps,omitempty"`
	// BulkReceiptsRetried counts the receipts taken again during the broadcast because they
	// overtook their message's row.
	BulkReceiptsRetried float64 `json:"bulk_receipts_retried"`
	// DayRows were in today's delivery tables before the broadcast, seeded in DayRowsSeconds.
	DayRows        int     `json:"day_rows,omitempty"`
	DayRowsSeconds float64 `json:"day_rows_seconds,omitempty"`
	// ReceiptsLagSeconds is how long after the broadcast's last send its last receipt was
	// applied (every message DELIVERED).
	ReceiptsLagSeconds float64 `json:"receipts_lag_seconds"`
	// BulkCPU is where the machine's CPU went from the broadcast's start until its receipts
	// caught up.
	BulkCPU    cpuFigures       `json:"bulk_cpu"`
	History    *historyFigures  `json:"history,omitempty"`
	Stats      *statsFigures    `json:"stats,omitempty"`
	Fallback   *fallbackFigures `json:"fallback,omitempty"`
	PeakRSSMB  float64          `json:"peak_rss_mb"`
	CPUSeconds float64          `json:"cpu_seconds"`
	// SimProcess says the simulator ran as a child process, outside the measured memory.
	SimProcess bool `json:"sim_process"`
	// prefix named the run's databases, queues and keys.
	prefix string
}

type latency struct {
	Samples int     `json:"samples"`
	P50ms   float64 `json:"p50_ms"`
	P95ms   float64 `json:"p95_ms"`
	P99ms   float64 `json:"p99_ms"`
}

// benchOptions scales each scenario of `herald bench`.
type benchOptions struct {
	Users          int
	Samples        int
	HistoryUsers   int
	HistoryPerUser int
	HistoryReads   int
	StatsDayRows   int
	StatsReads     int
	FallbackUsers  int
	FallbackShare  float64
	FallbackAfter  time.Duration
	// DayRows are rows put in today's delivery tables before the broadcast, as a busy day's
	// tables hold (issue: a broadcast must keep its rate with ten million rows already there).
	DayRows int
	// SimProcess runs the simulator as a `herald sim` child process.
	SimProcess bool
	// CPUProfile, when set, receives a CPU profile of the broadcast.
	CPUProfile string
	// Trace, when set, receives an execution trace of the broadcast (where goroutines wait).
	Trace string
	// Baselines configures the raw baselines (zero: their defaults).
	Baselines bench.BaselineConfig
}

func (o benchOptions) validate() error {
	switch {
	case o.Users < 100 || o.Users > 10_000_000:
		return fmt.Errorf("--users %d must be between 100 and 10,000,000", o.Users)
	case o.Samples < 1:
		return fmt.Errorf("--samples %d must be at least 1", o.Samples)
	case o.HistoryUsers < 0 || o.HistoryUsers > o.Users:
		return fmt.Errorf("--history-users %d must be between 0 (skip) and --users (%d)", o.HistoryUsers, o.Users)
	case o.HistoryPerUser < 1 || o.HistoryPerUser > 1000:
		return fmt.Errorf("--history-per-user %d must be between 1 and 1,000", o.HistoryPerUser)
	case o.HistoryReads < 1 || o.StatsReads < 1:
		return fmt.Errorf("--history-reads and --stats-reads must be at least 1")
	case o.StatsDayRows < 0 || o.StatsDayRows > 10_000_000:
		return fmt.Errorf("--stats-day-rows %d must be between 0 (skip) and 10,000,000", o.StatsDayRows)
	case o.FallbackUsers < 0 || o.FallbackUsers > 10_000:
		return fmt.Errorf("--fallback-users %d must be between 0 (skip) and 10,000", o.FallbackUsers)
	case o.FallbackShare <= 0 || o.FallbackShare > 1:
		return fmt.Errorf("--fallback-share %g must be above 0 and at most 1", o.FallbackShare)
	case o.DayRows < 0 || o.DayRows > 50_000_000:
		return fmt.Errorf("--day-rows %d must be between 0 and 50,000,000", o.DayRows)
	case o.FallbackAfter < 100*time.Millisecond || o.FallbackAfter > time.Minute:
		return fmt.Errorf("--fallback-after %s must be between 100ms and 1m", o.FallbackAfter)
	}
	return nil
}

// runBench parses the flags of `herald bench`, runs it, prints the table and writes the JSON.
func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o benchOptions
	fs.IntVar(&o.Users, "users", 1_000_000, "users imported from CSV and reached by the broadcast")
	fs.IntVar(&o.Samples, "samples", 200, "realtime sends measured idle (under the broadcast one goes every 50 ms for as long as it runs)")
	fs.IntVar(&o.HistoryUsers, "history-users", 10_000, "users whose history is seeded and read (0 skips the history scenario)")
	fs.IntVar(&o.HistoryPerUser, "history-per-user", 30, "history rows seeded per user")
	fs.IntVar(&o.HistoryReads, "history-reads", 1000, "history queries timed")
	fs.IntVar(&o.StatsDayRows, "stats-day-rows", 1_000_000, "delivery rows seeded a day over the 30 days before today (0 skips the stats scenario)")
	fs.IntVar(&o.StatsReads, "stats-reads", 50, "stats queries timed")
	fs.IntVar(&o.FallbackUsers, "fallback-users", 2000, "users of the fallback broadcast (0 skips the fallback scenario)")
	fs.Float64Var(&o.FallbackShare, "fallback-share", 0.2, "share of the fallback users whose SMS gets no receipt")
	fs.DurationVar(&o.FallbackAfter, "fallback-after", 2*time.Second, "fallbackAfter of the fallback route")
	fs.IntVar(&o.DayRows, "day-rows", 0, "delivery rows of another app put in today's tables before the broadcast (e.g. 10000000)")
	fs.BoolVar(&o.SimProcess, "sim-process", true, "run the simulator as a child process, outside the measured memory")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the broadcast to this file")
	fs.StringVar(&o.Trace, "trace", "", "write an execution trace of the broadcast to this file (go tool trace -pprof=net|sync|syscall)")
	jsonOut := fs.String("json", "", "also write the figures as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	figures, err := benchRun(ctx, o, os.Stderr)
	if err != nil {
		return err
	}
	figures.Command = "herald bench " + strings.Join(args, " ")
	printBench(os.Stdout, figures)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(figures, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// benchRun runs Herald in this process against the local services, with the simulator as
// every vendor, on databases, queues and keys of its own that it removes afterwards, and
// measures the baselines, then the scenarios, writing progress to progress.
func benchRun(ctx context.Context, o benchOptions, progress io.Writer) (*benchFigures, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(benchLog(), nil))
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "hbench_" + hex.EncodeToString(b)

	// The providers need the simulator's URL before Herald starts, and the simulator needs
	// Herald's address: an in-process simulator sits behind a proxy set once both are up; a
	// child process gets a free port picked now.
	var (
		simURL     string
		simHandler http.Handler = http.NotFoundHandler()
		mu         sync.RWMutex
		simAddr    string
	)
	if o.SimProcess {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		simAddr = l.Addr().String()
		l.Close()
		simURL = "http://" + simAddr
	} else {
		simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.RLock()
			h := simHandler
			mu.RUnlock()
			h.ServeHTTP(w, r)
		}))
		defer simSrv.Close()
		simURL = simSrv.URL
	}
	env := append(os.Environ(), "HERALD_HTTP_ADDR=127.0.0.1:0", "HERALD_DB_PREFIX="+prefix, "HERALD_AMQP_PREFIX="+prefix+".",
		"HERALD_REDIS_PREFIX="+prefix+":", "HERALD_PROVIDERS=sim="+simURL, "HERALD_DEMO=false", "HERALD_PUBLIC_URL=http://127.0.0.1:1",
		"HERALD_TIME_ZONE=UTC",
		"HERALD_MUTATION_RATE=off") // the benchmark measures sending, not the per-key mutation limit
	cfg, err := server.LoadConfig("", env)
	if err != nil {
		return nil, err
	}
	h, err := server.New(cfg, server.Mode{API: true, Workers: true}, logger)
	if err != nil {
		return nil, err
	}
	hctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(hctx) }()
	defer func() {
		stop()
		<-done
		cleanupBench(cfg, prefix)
	}()
	for h.Addr.Load() == nil {
		select {
		case err := <-done:
			return nil, fmt.Errorf("herald stopped: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	base := "http://" + h.Addr.Load().(string)
	var (
		sv     simView
		simPID int
	)
	if o.SimProcess {
		sctx, sstop := context.WithCancel(ctx)
		cmd, err := startSimProcess(sctx, simAddr, base)
		if err != nil {
			sstop()
			return nil, err
		}
		defer func() {
			sstop()
			_ = cmd.Wait()
		}()
		sv = remoteSim{base: simURL, hc: &http.Client{Timeout: 30 * time.Second}}
		simPID = cmd.Process.Pid
	} else {
		s := sim.New(sim.Config{Callback: base, ReceiptDelay: 20 * time.Millisecond, KeepPerAddress: 8, Logger: logger})
		defer s.Close()
		if err := s.Start(); err != nil {
			return nil, err
		}
		mu.Lock()
		simHandler = s.Handler()
		mu.Unlock()
		sv = localSim{s}
	}
	select {
	case <-h.Ready:
	case err := <-done:
		return nil, fmt.Errorf("herald stopped: %v", err)
	case <-time.After(2 * time.Minute):
		return nil, fmt.Errorf("herald was not ready within two minutes")
	}

	// The app and its key are made in-process, as an administrator would in the console; every
	// measured call then goes over HTTP like a backend's.
	admin := account.WithPrincipal(ctx, &account.Principal{Email: "bench", Role: account.Admin, AllApps: true})
	a, err := h.Accounts.CreateApp(admin, "bench")
	if err != nil {
		return nil, err
	}
	key, err := h.Accounts.CreateAPIKey(admin, a.ID, account.Operator)
	if err != nil {
		return nil, err
	}
	hc := client.New(base, client.WithAPIKey(key.Secret), client.WithHTTPClient(&http.Client{Timeout: time.Minute}))
	do := func(query string, vars map[string]any, out any) error { return hc.Do(ctx, query, vars, out) }
	appID := strconv.FormatInt(a.ID, 10)

	figures := &benchFigures{Date: time.Now().UTC().Format(time.RFC3339), Users: o.Users, SimProcess: o.SimProcess, prefix: prefix}
	fmt.Fprintln(progress, "raw baselines of the services underneath")
	bc := o.Baselines
	bc.AMQPURL, bc.RedisURL, bc.MySQLDSN = cfg.AMQPURL, cfg.RedisURL, cfg.MySQLDSN
	if figures.Baselines, err = bench.Baselines(ctx, bc); err != nil {
		return nil, fmt.Errorf("measuring baselines: %w", err)
	}
	bl := figures.Baselines

	if figures.Import, err = runImportScenario(admin, h, a.ID, o.Users, progress); err != nil {
		return nil, err
	}
	figures.Import.RatioToInsert = figures.Import.RowsPerSecond / bl.MySQL.Rate

	var tpl struct {
		CreateTemplate struct{ ID string } `json:"createTemplate"`
	}
	if err := do(`mutation($a: ID!) { createTemplate(input: {appId: $a, name: "bench", variables: [{name: "n", type: "string"}],
		variants: [{channel: SMS, body: "Herald bench {{n}}", extra: {sign: "Herald"}}]}) { id } }`, map[string]any{"a": appID}, &tpl); err != nil {
		return nil, err
	}
	var rl struct {
		CreateRule struct{ ID string } `json:"createRule"`
	}
	if err := do(`mutation($a: ID!) { createRule(input: {appId: $a, name: "sms", routes: [{strategy: CONCURRENT, channels: [SMS]}]}) { id } }`, map[string]any{"a": appID}, &rl); err != nil {
		return nil, err
	}
	// realtime times sends from the mutation to their arrival at the simulator: n of them one
	// after another, or, when until is set, one every realtimeLoadPeriod until until reports
	// true (at least one), so that they sample the whole broadcast at a steady OTP-like rate.
	var realtimeArrived atomic.Int64
	const realtimeLoadPeriod = 50 * time.Millisecond
	realtime := func(n int, tag string, until func() bool) (latency, error) {
		var ds []time.Duration
		for i := 0; ; i++ {
			if (until == nil && i >= n) || (until != nil && i > 0 && until()) {
				break
			}
			user := fmt.Sprintf("u%08d", i%o.Users)
			started := time.Now()
			var res struct {
				Send struct {
					Messages []struct{ ID string } `json:"messages"`
				} `json:"send"`
			}
			err := do(`mutation($a: ID!, $t: ID!, $r: ID!, $u: ID!, $n: String!) { send(input: {appId: $a, templateId: $t, ruleId: $r, userIds: [$u], variables: {n: $n}, priority: 9}) { messages { id } } }`,
				map[string]any{"a": appID, "t": tpl.CreateTemplate.ID, "r": rl.CreateRule.ID, "u": user, "n": fmt.Sprintf("%s-%d", tag, i)}, &res)
			if err != nil || len(res.Send.Messages) == 0 {
				return latency{}, fmt.Errorf("realtime send: %v", err)
			}
			id := res.Send.Messages[0].ID
			phone := benchPhone(i % o.Users)
			deadline := time.Now().Add(30 * time.Second)
			for {
				if at, ok, err := receivedAt(sv, phone, id); err != nil {
					return latency{}, err
				} else if ok {
					ds = append(ds, at.Sub(started))
					realtimeArrived.Add(1)
					break
				}
				if time.Now().After(deadline) {
					return latency{}, fmt.Errorf("message %s did not reach the simulator within 30s", id)
				}
				// The simulator stamps a message when it arrives, so how often it is asked
				// changes no figure; asking every 5 ms rather than every millisecond keeps
				// the bench's own requests from loading the cores it measures Herald on.
				time.Sleep(5 * time.Millisecond)
			}
			if until != nil {
				time.Sleep(time.Until(started.Add(realtimeLoadPeriod)))
			}
		}
		return summarize(ds), nil
	}
	fmt.Fprintf(progress, "realtime sends, idle (%d)\n", o.Samples)
	if figures.RealtimeIdle, err = realtime(o.Samples, "idle", nil); err != nil {
		return nil, err
	}
	if bl.HTTP.Rate > 0 {
		perRequestMs := 1000 * float64(bench.DefaultHTTPWorkers) / bl.HTTP.Rate
		figures.RealtimeRatioHTTP = figures.RealtimeIdle.P50ms / perRequestMs
	}

	if o.DayRows > 0 {
		if figures.DayRowsSeconds, err = seedDayRows(ctx, h, a.ID, o.DayRows, progress); err != nil {
			return nil, err
		}
		figures.DayRows = o.DayRows
	}
	fmt.Fprintf(progress, "bulk broadcast to %d users, with realtime sends alongside\n", o.Users)
	before, err := sv.received(channels.SMS)
	if err != nil {
		return nil, err
	}
	if o.CPUProfile != "" {
		pf, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return nil, err
		}
	}
	if o.Trace != "" {
		tf, err := os.Create(o.Trace)
		if err != nil {
			return nil, err
		}
		defer tf.Close()
		if err := trace.Start(tf); err != nil {
			return nil, err
		}
	}
	rss := startRSSSampler()
	_, cpuBefore := processUsage()
	machineBefore := sampleCPU(simPID)
	stepsBefore := stepSnapshot()
	retriedBefore := counterValue("herald_receipts_retried_total")
	started := time.Now()
	var task struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	if err := do(`mutation($a: ID!, $t: ID!, $r: ID!) { createTask(input: {appId: $a, name: "bench", kind: BROADCAST, templateId: $t, ruleId: $r, variables: {n: "bulk"}, priority: 1}) { id } }`,
		map[string]any{"a": appID, "t": tpl.CreateTemplate.ID, "r": rl.CreateRule.ID}, &task); err != nil {
		return nil, err
	}
	var (
		loadErr    error
		loadWG     sync.WaitGroup
		loadFailed atomic.Bool
		bulkDone   atomic.Bool
	)
	realtimeBefore := realtimeArrived.Load()
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		figures.RealtimeUnderBulk, loadErr = realtime(0, "load", bulkDone.Load)
		loadFailed.Store(loadErr != nil)
	}()
	last := time.Now()
	var bulk time.Duration
	for {
		got, err := sv.received(channels.SMS)
		if err != nil {
			return nil, err
		}
		sends := realtimeArrived.Load() - realtimeBefore
		if got-before-sends >= int64(o.Users) {
			if bulk == 0 {
				bulk = time.Since(started)
			}
			// Every broadcast message arrived: the realtime sends stop, and the count is
			// checked once the last of them has arrived too.
			bulkDone.Store(true)
			loadWG.Wait()
			if got, err = sv.received(channels.SMS); err != nil {
				return nil, err
			}
			if sends = realtimeArrived.Load() - realtimeBefore; got-before >= int64(o.Users)+sends || loadFailed.Load() {
				break
			}
		}
		if loadFailed.Load() {
			break
		}
		if time.Since(started) > time.Hour {
			return nil, fmt.Errorf("the broadcast did not finish within an hour")
		}
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(progress, "  %d/%d delivered to the vendor, %.0f/s\n", got-before-sends, o.Users, float64(got-before)/time.Since(started).Seconds())
		}
		time.Sleep(20 * time.Millisecond)
	}
	loadWG.Wait()
	if o.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	if o.Trace != "" {
		trace.Stop()
	}
	figures.BulkPeakRSSMB = rss.Stop()
	figures.BulkSteps = stepsBetween(stepsBefore, stepSnapshot())
	figures.BulkReceiptsRetried = counterValue("herald_receipts_retried_total") - retriedBefore
	_, cpuAfter := processUsage()
	figures.BulkCPUSeconds = cpuAfter - cpuBefore
	if loadErr != nil {
		return nil, loadErr
	}
	// The broadcast's messages only: the realtime sends alongside are not counted.
	figures.BulkSeconds = bulk.Seconds()
	figures.BulkPerSecond = float64(o.Users) / bulk.Seconds()
	figures.BulkRatioInsert = figures.BulkPerSecond / bl.MySQL.Rate
	figures.BulkRatioAMQP = figures.BulkPerSecond / bl.AMQP.Rate
	if figures.RealtimeIdle.P99ms > 0 {
		figures.RealtimeRatio = figures.RealtimeUnderBulk.P99ms / figures.RealtimeIdle.P99ms
	}
	// Receipts are applied behind the sends: the scenarios after this one start once every
	// message of the broadcast is DELIVERED, so that they measure themselves, not the backlog.
	fmt.Fprintln(progress, "waiting for the broadcast's receipts")
	for {
		var tk struct {
			Task struct {
				Progress struct{ Delivered int64 } `json:"progress"`
			} `json:"task"`
		}
		if err := do(`query($id: ID!) { task(id: $id) { progress { delivered } } }`, map[string]any{"id": task.CreateTask.ID}, &tk); err != nil {
			return nil, err
		}
		if tk.Task.Progress.Delivered >= int64(o.Users) {
			break
		}
		if time.Since(started) > 2*time.Hour {
			return nil, fmt.Errorf("the broadcast's receipts were not applied within two hours: %d of %d delivered", tk.Task.Progress.Delivered, o.Users)
		}
		time.Sleep(200 * time.Millisecond)
	}
	figures.ReceiptsLagSeconds = time.Since(started).Seconds() - figures.BulkSeconds
	figures.BulkCPU = cpuBetween(machineBefore, sampleCPU(simPID), o.Users)

	if o.HistoryUsers > 0 {
		hf, err := runHistoryScenario(ctx, h, hc, a.ID, o.HistoryUsers, o.HistoryPerUser, o.HistoryReads, progress)
		if err != nil {
			return nil, err
		}
		figures.History = &hf
	}
	if o.StatsDayRows > 0 {
		sf, err := runStatsScenario(ctx, h, hc, admin, a.ID, o.StatsDayRows, o.StatsReads, progress)
		if err != nil {
			return nil, err
		}
		figures.Stats = &sf
	}
	if o.FallbackUsers > 0 {
		ff, err := runFallbackScenario(ctx, h, base, admin, sv, o.FallbackUsers, o.FallbackShare, o.FallbackAfter, progress)
		if err != nil {
			return nil, err
		}
		figures.Fallback = &ff
	}
	figures.PeakRSSMB, figures.CPUSeconds = processUsage()
	return figures, nil
}

// printBench prints the figures as a table, each with its ratio to the relevant baseline.
func printBench(w io.Writer, f *benchFigures) {
	bl := f.Baselines
	where := "in this process"
	if f.SimProcess {
		where = "in a child process"
	}
	fmt.Fprintf(w, "\nHerald bench — %s, %d users, simulator (%s) as every vendor\n\n", f.Date, f.Users, where)
	fmt.Fprintf(w, "  %-26s %12s  %s\n", "figure", "value", "ratio to baseline")
	row := func(name, value, ratio string) { fmt.Fprintf(w, "  %-26s %12s  %s\n", name, value, ratio) }
	row("baseline RabbitMQ", fmt.Sprintf("%.0f/s", bl.AMQP.Rate), "persistent msgs published+consumed")
	row("baseline Redis", fmt.Sprintf("%.0f/s", bl.Redis.Rate), "keys by pipelined HGETALL")
	row("baseline MariaDB", fmt.Sprintf("%.0f/s", bl.MySQL.Rate), "rows by 1,000-row INSERT")
	row("baseline loopback HTTP", fmt.Sprintf("%.0f/s", bl.HTTP.Rate), "requests")
	row("CSV import", fmt.Sprintf("%.0f rows/s", f.Import.RowsPerSecond), fmt.Sprintf("%.3f × MariaDB INSERT; %d rows in %.1f s (1M: %.0f s)", f.Import.RatioToInsert, f.Import.Rows, f.Import.Seconds, f.Import.Projected1MSeconds))
	if f.DayRows > 0 {
		row("day table before", fmt.Sprintf("%d rows", f.DayRows), fmt.Sprintf("of another app, in today's tables before the broadcast (seeded in %.1f s)", f.DayRowsSeconds))
	}
	row("bulk broadcast", fmt.Sprintf("%.0f/s", f.BulkPerSecond), fmt.Sprintf("%.3f × MariaDB INSERT, %.3f × RabbitMQ; %d in %.1f s", f.BulkRatioInsert, f.BulkRatioAMQP, f.Users, f.BulkSeconds))
	row("realtime idle p50/p99", fmt.Sprintf("%.1f/%.1f ms", f.RealtimeIdle.P50ms, f.RealtimeIdle.P99ms), fmt.Sprintf("p50 %.1f × one loopback HTTP request; p95 %.1f ms, %d sends", f.RealtimeRatioHTTP, f.RealtimeIdle.P95ms, f.RealtimeIdle.Samples))
	row("realtime under bulk p50/p99", fmt.Sprintf("%.1f/%.1f ms", f.RealtimeUnderBulk.P50ms, f.RealtimeUnderBulk.P99ms), fmt.Sprintf("p99 %.2f × idle; p95 %.1f ms, %d sends", f.RealtimeRatio, f.RealtimeUnderBulk.P95ms, f.RealtimeUnderBulk.Samples))
	row("receipts caught up", fmt.Sprintf("%.1f s", f.ReceiptsLagSeconds), "after the broadcast's last send: every message DELIVERED")
	if c := f.BulkCPU; c.Seconds > 0 {
		row("CPU, broadcast + receipts", fmt.Sprintf("%.2f/%d cores", c.MachineCores, c.Cores), fmt.Sprintf("busy over %.1f s: %s", c.Seconds, c))
	}
	row("RSS during broadcast", fmt.Sprintf("%.0f MB", f.BulkPeakRSSMB), fmt.Sprintf("CPU %.1f s over %.1f s (%.2f cores)", f.BulkCPUSeconds, f.BulkSeconds, f.BulkCPUSeconds/max(f.BulkSeconds, 1e-3)))
	if s := f.History; s != nil {
		row("history p50/p99", fmt.Sprintf("%.1f/%.1f ms", s.API.P50ms, s.API.P99ms), fmt.Sprintf("p99 %.1f × the store read (%.2f ms); %d rows seeded, %d reads", s.RatioP99, s.Store.P99ms, s.SeededRows, s.API.Samples))
	}
	if s := f.Stats; s != nil {
		row("stats 30 days p50/p99", fmt.Sprintf("%.1f/%.1f ms", s.API.P50ms, s.API.P99ms), fmt.Sprintf("up to now; the GROUP BY over the %d raw rows: p50 %.0f ms (%.0f × slower), same answer", s.SeededRows, s.GroupBy.P50ms, s.Speedup))
		row("stats whole hours p50/p99", fmt.Sprintf("%.1f/%.1f ms", s.APIWholeHours.P50ms, s.APIWholeHours.P99ms), fmt.Sprintf("the rollups alone; rows seeded in %.0f s, rollups built in %.0f s", s.SeedSeconds, s.RollupSeconds))
	}
	if s := f.Fallback; s != nil {
		row("fallback share", fmt.Sprintf("%.3f", s.Share), fmt.Sprintf("%.2f × expected %.3f (VOICE reached %.3f); %d users", s.Share/max(s.ExpectedShare, 1e-9), s.ExpectedShare, s.VoiceShare, s.Users))
		row("fallback timer p50/p99", fmt.Sprintf("%.0f/%.0f ms", s.Timer.P50ms, s.Timer.P99ms), fmt.Sprintf("p99 %.3f × fallbackAfter (%.1f s); fallback_at − (sent_at + fallbackAfter)", s.TimerP99OfAfter, s.AfterSeconds))
		row("fallback end to end", fmt.Sprintf("%.0f/%.0f ms", s.EndToEnd.P50ms, s.EndToEnd.P99ms), "VOICE at vendor − (SMS at vendor + fallbackAfter)")
	}
	row("process", fmt.Sprintf("%.0f MB", f.PeakRSSMB), fmt.Sprintf("peak RSS of the whole run, CPU %.1f s", f.CPUSeconds))
	printSteps(w, f.BulkSteps, f.BulkReceiptsRetried)
}

func receivedAt(sv simView, phone, id string) (time.Time, bool, error) {
	ms, err := sv.messages(channels.SMS, phone)
	for _, m := range ms {
		if m.MessageID == id {
			return m.ReceivedAt, true, nil
		}
	}
	return time.Time{}, false, err
}

func summarize(ds []time.Duration) latency {
	p50, p95, p99 := bench.Percentiles(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return latency{Samples: len(ds), P50ms: ms(p50), P95ms: ms(p95), P99ms: ms(p99)}
}

// processUsage reads this process's peak resident memory and CPU time from /proc.
func processUsage() (rssMB, cpuSeconds float64) {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				var kb float64
				fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
				rssMB = kb / 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		if len(fields) > 13 {
			var ut, st float64
			fmt.Sscanf(fields[11], "%f", &ut)
			fmt.Sscanf(fields[12], "%f", &st)
			cpuSeconds = (ut + st) / 100 // clock ticks
		}
	}
	return rssMB, cpuSeconds
}

// cleanupBench removes the bench's databases, queues and keys.
func cleanupBench(cfg server.Config, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if db, err := store.Open(ctx, store.Config{DSN: cfg.MySQLDSN, Prefix: prefix, StatsShards: cfg.StatsShards, HistoryShards: cfg.HistoryShards}); err == nil {
		_ = db.Drop(ctx)
		db.Close()
	}
	if conn, err := amqp.Dial(cfg.AMQPURL); err == nil {
		names := []string{}
		if out, err := exec.CommandContext(ctx, "rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name").Output(); err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				if n := strings.TrimSpace(l); strings.HasPrefix(n, prefix+".") {
					names = append(names, n)
				}
			}
		}
		for _, q := range []string{"realtime", "bulk", "receipts", "fallback"} {
			names = append(names, prefix+"."+q, prefix+"."+q+".dead")
		}
		for _, n := range names {
			if ch, err := conn.Channel(); err == nil {
				_, _ = ch.QueueDelete(n, false, false, false)
				_ = ch.Close()
			}
		}
		if ch, err := conn.Channel(); err == nil {
			_ = ch.ExchangeDelete(prefix+".dlx", false, false)
			_ = ch.Close()
		}
		conn.Close()
	}
	if o, err := redis.ParseURL(cfg.RedisURL); err == nil {
		// A run of a million users leaves about as many cache keys: unlinked a thousand at a
		// time, with time to do it.
		rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer rcancel()
		rdb := redis.NewClient(o)
		var batch []string
		iter := rdb.Scan(rctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(rctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				rdb.Unlink(rctx, batch...)
				batch = batch[:0]
			}
		}
		if len(batch) > 0 {
			rdb.Unlink(rctx, batch...)
		}
		rdb.Close()
	}
}

// benchLog is where Herald's log goes during a bench: HERALD_BENCH_LOG, or nowhere.
func benchLog() io.Writer {
	if p := os.Getenv("HERALD_BENCH_LOG"); p != "" {
		if f, err := os.Create(p); err == nil {
			return f
		}
	}
	return io.Discard
}

// benchPhone is user i's phone number; it ends in 5, so never in a simulator test suffix.
func benchPhone(i int) string { return fmt.Sprintf("+86139%07d5", i) }
