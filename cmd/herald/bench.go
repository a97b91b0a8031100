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
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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
	Users             int                   `json:"users"`
	Baselines         *bench.BaselineResult `json:"baselines,omitempty"`
	BulkSeconds       float64               `json:"bulk_seconds"`
	BulkPerSecond     float64               `json:"bulk_deliveries_per_second"`
	RealtimeIdle      latency               `json:"realtime_idle"`
	RealtimeUnderBulk latency               `json:"realtime_under_bulk"`
	PeakRSSMB         float64               `json:"peak_rss_mb"`
	CPUSeconds        float64               `json:"cpu_seconds"`
}

type latency struct {
	Samples int     `json:"samples"`
	P50ms   float64 `json:"p50_ms"`
	P95ms   float64 `json:"p95_ms"`
	P99ms   float64 `json:"p99_ms"`
}

// runBench runs Herald in this process against the local services, with the simulator as
// every vendor, on databases, queues and keys of its own that it removes afterwards, and
// measures a bulk broadcast and realtime send latency, idle and under the broadcast.
func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	users := fs.Int("users", 20000, "users of the broadcast")
	samples := fs.Int("samples", 200, "realtime sends measured, idle and under load")
	jsonOut := fs.String("json", "", "also write the figures as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *users < 1000 || *users > 10_000_000 {
		return fmt.Errorf("--users %d must be between 1,000 and 10,000,000", *users)
	}
	logger := slog.New(slog.NewTextHandler(benchLog(), nil))
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "hbench_" + hex.EncodeToString(b)

	var simHandler http.Handler = http.NotFoundHandler()
	var mu sync.RWMutex
	simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := simHandler
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	defer simSrv.Close()
	env := append(os.Environ(), "HERALD_HTTP_ADDR=127.0.0.1:0", "HERALD_DB_PREFIX="+prefix, "HERALD_AMQP_PREFIX="+prefix+".",
		"HERALD_REDIS_PREFIX="+prefix+":", "HERALD_PROVIDERS=sim="+simSrv.URL, "HERALD_DEMO=false", "HERALD_PUBLIC_URL=http://127.0.0.1:1")
	cfg, err := server.LoadConfig("", env)
	if err != nil {
		return err
	}
	h, err := server.New(cfg, server.Mode{API: true, Workers: true}, logger)
	if err != nil {
		return err
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
		time.Sleep(5 * time.Millisecond)
	}
	base := "http://" + h.Addr.Load().(string)
	s := sim.New(sim.Config{Callback: base, ReceiptDelay: 20 * time.Millisecond, KeepPerAddress: 1000, Logger: logger})
	defer s.Close()
	if err := s.Start(); err != nil {
		return err
	}
	mu.Lock()
	simHandler = s.Handler()
	mu.Unlock()
	select {
	case <-h.Ready:
	case err := <-done:
		return fmt.Errorf("herald stopped: %v", err)
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("herald was not ready within two minutes")
	}

	// The app and its key are made in-process, as an administrator would in the console; every
	// measured call then goes over HTTP like a backend's.
	admin := account.WithPrincipal(ctx, &account.Principal{Email: "bench", Role: account.Admin, AllApps: true})
	a, err := h.Accounts.CreateApp(admin, "bench")
	if err != nil {
		return err
	}
	key, err := h.Accounts.CreateAPIKey(admin, a.ID, account.Operator)
	if err != nil {
		return err
	}
	hc := client.New(base, client.WithAPIKey(key.Secret), client.WithHTTPClient(&http.Client{Timeout: time.Minute}))
	do := func(query string, vars map[string]any, out any) error { return hc.Do(ctx, query, vars, out) }
	appID := strconv.FormatInt(a.ID, 10)
	fmt.Fprintf(os.Stderr, "seeding %d users", *users)
	for start := 0; start < *users; start += 10000 {
		var batch []map[string]any
		for i := start; i < min(start+10000, *users); i++ {
			batch = append(batch, map[string]any{"id": fmt.Sprintf("u%08d", i), "identities": []map[string]any{{"channel": "SMS", "address": benchPhone(i)}}})
		}
		if err := do(`mutation($a: ID!, $u: [UserInput!]!) { upsertUsers(appId: $a, users: $u) { created } }`, map[string]any{"a": appID, "u": batch}, nil); err != nil {
			return err
		}
		fmt.Fprint(os.Stderr, ".")
	}
	fmt.Fprintln(os.Stderr)
	var tpl struct {
		CreateTemplate struct{ ID string } `json:"createTemplate"`
	}
	if err := do(`mutation($a: ID!) { createTemplate(input: {appId: $a, name: "bench", variables: [{name: "n", type: "string"}],
		variants: [{channel: SMS, body: "Herald bench {{n}}", extra: {sign: "Herald"}}]}) { id } }`, map[string]any{"a": appID}, &tpl); err != nil {
		return err
	}
	var rl struct {
		CreateRule struct{ ID string } `json:"createRule"`
	}
	if err := do(`mutation($a: ID!) { createRule(input: {appId: $a, name: "sms", routes: [{strategy: CONCURRENT, channels: [SMS]}]}) { id } }`, map[string]any{"a": appID}, &rl); err != nil {
		return err
	}
	realtime := func(n int, tag string) (latency, error) {
		var ds []time.Duration
		for i := range n {
			user := fmt.Sprintf("u%08d", i%(*users))
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
			phone := benchPhone(i % *users)
			deadline := time.Now().Add(30 * time.Second)
			for {
				if at, ok := receivedAt(s, phone, id); ok {
					ds = append(ds, at.Sub(started))
					break
				}
				if time.Now().After(deadline) {
					return latency{}, fmt.Errorf("message %s did not reach the simulator within 30s", id)
				}
				time.Sleep(time.Millisecond)
			}
		}
		return summarize(ds), nil
	}
	figures := benchFigures{Date: time.Now().Format(time.RFC3339), Users: *users}
	fmt.Fprintln(os.Stderr, "raw baselines of the services underneath")
	if figures.Baselines, err = bench.Baselines(ctx, bench.BaselineConfig{AMQPURL: cfg.AMQPURL, RedisURL: cfg.RedisURL, MySQLDSN: cfg.MySQLDSN}); err != nil {
		return fmt.Errorf("measuring baselines: %w", err)
	}
	fmt.Fprintln(os.Stderr, "realtime sends, idle")
	if figures.RealtimeIdle, err = realtime(*samples, "idle"); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "bulk broadcast, with realtime sends alongside")
	before := s.Stats().Received[channels.SMS]
	started := time.Now()
	var task struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	if err := do(`mutation($a: ID!, $t: ID!, $r: ID!) { createTask(input: {appId: $a, name: "bench", kind: BROADCAST, templateId: $t, ruleId: $r, variables: {n: "bulk"}, priority: 1}) { id } }`,
		map[string]any{"a": appID, "t": tpl.CreateTemplate.ID, "r": rl.CreateRule.ID}, &task); err != nil {
		return err
	}
	var (
		loadErr error
		loadWG  sync.WaitGroup
	)
	loadWG.Add(1)
	go func() {
		defer loadWG.Done()
		figures.RealtimeUnderBulk, loadErr = realtime(*samples, "load")
	}()
	for s.Stats().Received[channels.SMS]-before < int64(*users) {
		if time.Since(started) > time.Hour {
			return fmt.Errorf("the broadcast did not finish within an hour")
		}
		time.Sleep(20 * time.Millisecond)
	}
	bulk := time.Since(started)
	loadWG.Wait()
	if loadErr != nil {
		return loadErr
	}
	figures.BulkSeconds = bulk.Seconds()
	figures.BulkPerSecond = float64(*users) / bulk.Seconds()
	figures.PeakRSSMB, figures.CPUSeconds = processUsage()

	bl := figures.Baselines
	fmt.Printf("\nHerald bench — %s, %d users, simulator as the SMS vendor\n\n", figures.Date, figures.Users)
	fmt.Printf("  baseline RabbitMQ       %10.0f persistent msgs/s published and consumed\n", bl.AMQP.Rate)
	fmt.Printf("  baseline Redis          %10.0f keys/s by pipelined HGETALL\n", bl.Redis.Rate)
	fmt.Printf("  baseline MariaDB        %10.0f rows/s by 1,000-row INSERT\n", bl.MySQL.Rate)
	fmt.Printf("  baseline loopback HTTP  %10.0f requests/s\n\n", bl.HTTP.Rate)
	fmt.Printf("  bulk broadcast          %8.1f s   %10.0f deliveries/s   (%.3f of the MariaDB INSERT rate, %.3f of loopback HTTP)\n",
		figures.BulkSeconds, figures.BulkPerSecond, figures.BulkPerSecond/bl.MySQL.Rate, figures.BulkPerSecond/bl.HTTP.Rate)
	fmt.Printf("  realtime idle           p50 %6.1f ms   p95 %6.1f ms   p99 %6.1f ms   (%d sends)\n", figures.RealtimeIdle.P50ms, figures.RealtimeIdle.P95ms, figures.RealtimeIdle.P99ms, figures.RealtimeIdle.Samples)
	fmt.Printf("  realtime under bulk     p50 %6.1f ms   p95 %6.1f ms   p99 %6.1f ms   (%d sends)\n", figures.RealtimeUnderBulk.P50ms, figures.RealtimeUnderBulk.P95ms, figures.RealtimeUnderBulk.P99ms, figures.RealtimeUnderBulk.Samples)
	if figures.RealtimeIdle.P99ms > 0 {
		fmt.Printf("  p99 under bulk / idle   %8.2f\n", figures.RealtimeUnderBulk.P99ms/figures.RealtimeIdle.P99ms)
	}
	fmt.Printf("  process                 peak RSS %.0f MB, CPU %.1f s\n", figures.PeakRSSMB, figures.CPUSeconds)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(figures, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func receivedAt(s *sim.Server, phone, id string) (time.Time, bool) {
	for _, m := range s.Messages(channels.SMS, phone) {
		if m.MessageID == id {
			return m.ReceivedAt, true
		}
	}
	return time.Time{}, false
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
		rdb := redis.NewClient(o)
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Unlink(ctx, iter.Val())
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
