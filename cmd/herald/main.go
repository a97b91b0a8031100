// Command herald is Herald's single binary: the API, the workers, migrations, the vendor
// simulator and the benchmark.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `Herald — multi-channel message center

Usage:
  herald [all]      API, console, workers and scheduler in one process (default)
  herald serve      API, console and callbacks only
  herald worker     workers only
  herald migrate    create or upgrade every database and exit
  herald sim        run the vendor simulator
  herald bench      measure a broadcast and realtime latency on the local services
  herald import users FILE --app ID [--encoding auto|utf8|gbk]
                    import users from a CSV file (UTF-8 or GBK) with a progress bar
  herald encrypt    read a value on stdin and print its enc:v1: form under HERALD_SECRET_KEY
                    (--generate-key prints a new key)
  herald reconcile [--day YYYYMMDD] [--days N] [--check]
                    rebuild the hourly statistics rollups of days from their delivery rows
  herald version    print the version

Every command but sim, encrypt and version takes --config FILE (YAML); HERALD_* environment
variables override the file. See README.md for the variables.
`

func main() {
	tuneGC()
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(1)
	}
}

// Herald's live heap stays small (a few tens of MB: tasks stream, shards are a thousand
// users), so the Go default of collecting at twice the live heap spends a fifth of the
// process's CPU in the collector during a broadcast. Unless GOGC or GOMEMLIMIT say otherwise,
// Herald collects at five times the live heap and, whatever the live heap, more often as the
// heap nears 1 GiB.
const (
	defaultGCPercent   = 400
	defaultMemoryLimit = 1 << 30
)

// tuneGC applies Herald's collector defaults where the environment sets none.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}

func run(args []string) error {
	cmd := "all"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "all":
		return serve(ctx, args, server.Mode{API: true, Workers: true})
	case "serve":
		return serve(ctx, args, server.Mode{API: true})
	case "worker":
		return serve(ctx, args, server.Mode{Workers: true})
	case "migrate":
		return migrate(ctx, args)
	case "sim":
		return runSim(ctx, args)
	case "import":
		return runImport(ctx, args)
	case "bench":
		return runBench(ctx, args)
	case "reconcile":
		return runReconcile(ctx, args)
	case "encrypt":
		return encryptCommand(args)
	case "version":
		fmt.Println("herald", version)
		return nil
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	default:
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func loadConfig(name string, args []string) (server.Config, *slog.Logger, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	path := fs.String("config", "", "YAML configuration file")
	if err := fs.Parse(args); err != nil {
		return server.Config{}, nil, err
	}
	cfg, err := server.LoadConfig(*path, os.Environ())
	if err != nil {
		return cfg, nil, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, newLogger(cfg.LogLevel, cfg.LogFormat), nil
}

func newLogger(level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if format == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	l := slog.New(h)
	slog.SetDefault(l)
	return l
}

func serve(ctx context.Context, args []string, mode server.Mode) error {
	cfg, logger, err := loadConfig("serve", args)
	if err != nil {
		return err
	}
	h, err := server.New(cfg, mode, logger)
	if err != nil {
		return err
	}
	logger.Info("starting herald", "version", version, "api", mode.API, "workers", mode.Workers)
	return h.Run(ctx)
}

func migrate(ctx context.Context, args []string) error {
	cfg, logger, err := loadConfig("migrate", args)
	if err != nil {
		return err
	}
	loc, _ := cfg.Location()
	db, err := store.Open(ctx, store.Config{Driver: cfg.DBDriver, DSN: cfg.DatabaseDSN(), Prefix: cfg.DBPrefix, StatsShards: cfg.StatsShards, HistoryShards: cfg.HistoryShards,
		StatsDSNs: cfg.StatsDSNs, HistoryDSNs: cfg.HistoryDSNs, Unprepared: !cfg.DBPrepare, Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx, time.Now().In(loc), cfg.DayTablesAhead); err != nil {
		return err
	}
	logger.Info("databases are up to date", "core", cfg.DBPrefix, "stats_shards", cfg.StatsShards, "history_shards", cfg.HistoryShards)
	return nil
}

func runSim(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	addr := fs.String("addr", ":8090", "listen address")
	callback := fs.String("callback", "http://127.0.0.1:8080", "Herald's base URL, where receipts are posted")
	key := fs.String("key", "sim-key", "access key id the vendors accept")
	secret := fs.String("secret", "sim-secret", "secret of the access key, webhook signatures and receipt tokens")
	delay := fs.Duration("receipt-delay", 50*time.Millisecond, "delay of an ordinary DELIVERED receipt")
	slow := fs.Duration("slow-delay", 10*time.Second, "delay of the receipt of a slow test address")
	failure := fs.Float64("failure-rate", 0, "share of requests (0..1) answered with a transient vendor error")
	undelivered := fs.Float64("undelivered-rate", 0, "share (0..1) of accepted messages to ordinary addresses whose final receipt says undelivered")
	rate := fs.Int("rate-limit", 0, "messages per second each vendor accepts (0: no limit)")
	latency := fs.Duration("latency", 0, "added to every vendor answer")
	answerLatency := fs.Duration("answer-latency", 0, "added after the SMS vendor has taken a request and scheduled its receipts, before it answers (receipts then overtake the answer)")
	appID := fs.String("app-id", "sim-app", "app id the vendors accept (WeChat appid, RCS chatbot and OAuth2 client id)")
	tokenLife := fs.Duration("token-lifetime", 2*time.Hour, "lifetime of the WeChat and DingTalk access tokens handed out")
	displayRate := fs.Float64("display-rate", 0, "share (0..1) of delivered messages that are displayed (DISPLAYED receipts)")
	clickRate := fs.Float64("click-rate", 0, "share (0..1) of displayed messages that are clicked (CLICKED receipts)")
	smtpAddr := fs.String("smtp-addr", "", "where the simulated SMTP server listens, e.g. 127.0.0.1:2525 (empty: off)")
	mqttBroker := fs.String("mqtt-broker", "", "MQTT broker a simulated device fleet connects to, e.g. tcp://127.0.0.1:1883 (empty: off)")
	mqttPrefix := fs.String("mqtt-prefix", sim.DefaultMQTTPrefix, "topic prefix of the device fleet: <prefix>/push/<device>, <prefix>/ack/<device>")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *failure < 0 || *failure > 1 {
		return fmt.Errorf("--failure-rate %v must be between 0 and 1", *failure)
	}
	if !(*undelivered >= 0 && *undelivered <= 1) { // NaN too
		return fmt.Errorf("--undelivered-rate %v must be between 0 and 1", *undelivered)
	}
	if *tokenLife <= 0 {
		return fmt.Errorf("--token-lifetime %s must be positive", *tokenLife)
	}
	if *displayRate < 0 || *displayRate > 1 || *clickRate < 0 || *clickRate > 1 {
		return fmt.Errorf("--display-rate %v and --click-rate %v must be between 0 and 1", *displayRate, *clickRate)
	}
	logger := newLogger(*logLevel, "text")
	s := sim.New(sim.Config{Callback: *callback, AccessKeyID: *key, AccessKeySecret: *secret, WebhookSecret: *secret, CallbackToken: *secret,
		ReceiptDelay: *delay, SlowDelay: *slow, FailureRate: *failure, UndeliveredRate: *undelivered, RateLimit: *rate, Latency: *latency, AnswerLatency: *answerLatency, Logger: logger,
		AppID: *appID, TokenLifetime: *tokenLife, DisplayRate: *displayRate, ClickRate: *clickRate,
		MQTTBroker: *mqttBroker, MQTTPrefix: *mqttPrefix, SMTPAddr: *smtpAddr})
	defer s.Close()
	if err := s.Start(); err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("vendor simulator listening", "addr", *addr, "callback", *callback)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
