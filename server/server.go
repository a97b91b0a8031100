// Package server assembles Herald: configuration, connections to MySQL, Redis and
// RabbitMQ, the HTTP surface (GraphQL, callbacks, health, metrics, console) and the workers,
// under one lifecycle that drains on shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/netguard"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/graph"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/rule"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/track"
)

// Mode says which parts a process runs.
type Mode struct {
	API     bool
	Workers bool
}

// Herald is one running Herald process.
type Herald struct {
	cfg    Config
	mode   Mode
	logger *slog.Logger
	loc    *time.Location

	DB       *store.DB
	Redis    redis.UniversalClient
	Broker   *broker.Broker
	Registry *channels.Registry
	// Tracker signs and verifies the tokens of tracked links, open pixels and SDK events.
	Tracker  *track.Tracker
	Accounts *account.Service
	Audience *audience.Service
	Content  *content.Service
	Rules    *rule.Service
	Dispatch *dispatch.Service
	Writer   *reports.Writer
	Stats    *reports.Stats
	History  reports.HistoryStore
	// Breakers judge providers' health for this process's workers and the channels query.
	Breakers *dispatch.Breakers
	// yield makes this process's bulk steps wait for realtime sends here and elsewhere.
	yield *dispatch.Yielder

	handler atomic.Pointer[http.Handler]
	// depsMu guards DB, Redis and Broker while connect sets them and /readyz reads them.
	depsMu sync.RWMutex
	// Ready is closed once every dependency is connected and the API serves.
	Ready chan struct{}
	// Addr is the address the HTTP server listens on, once it does.
	Addr atomic.Value
}

// New prepares a Herald process; Run starts it.
func New(cfg Config, mode Mode, logger *slog.Logger) (*Herald, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	loc, _ := cfg.Location()
	if logger == nil {
		logger = slog.Default()
	}
	return &Herald{cfg: cfg, mode: mode, logger: logger, loc: loc, Ready: make(chan struct{})}, nil
}

// Run connects to every dependency (retrying, with a log line naming what it waits for),
// serves and works until ctx is done, then drains: the HTTP server stops taking requests,
// workers finish and acknowledge what they hold, and only then the broker connection closes.
func (h *Herald) Run(ctx context.Context) error {
	var ln net.Listener
	if h.mode.API {
		var err error
		if ln, err = net.Listen("tcp", h.cfg.HTTPAddr); err != nil {
			return fmt.Errorf("error listening on %s (HERALD_HTTP_ADDR): %w", h.cfg.HTTPAddr, err)
		}
		h.Addr.Store(ln.Addr().String())
		if _, port, _ := net.SplitHostPort(h.cfg.HTTPAddr); port == "0" && h.cfg.PublicURL == DefaultConfig().PublicURL {
			// On a port picked at listen time (tests), links and callbacks name the real one.
			h.cfg.PublicURL = publicURLOf(ln.Addr().String(), h.cfg.PublicURL)
		}
	}
	var starting http.Handler = h.startingHandler()
	h.handler.Store(&starting)

	brokerCtx, stopBroker := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBroker()
	httpDone := make(chan error, 1)
	var srv *http.Server
	if ln != nil {
		srv = &http.Server{
			Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*h.handler.Load()).ServeHTTP(w, r) }),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
		}
		go func() {
			err := srv.Serve(ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			httpDone <- err
		}()
		h.logger.Info("listening", "addr", ln.Addr().String())
	}

	brokerDone := make(chan error, 1)
	err := h.connect(ctx, brokerCtx, brokerDone)
	if err == nil {
		var full http.Handler = h.routes()
		h.handler.Store(&full)
		close(h.Ready)
		h.logger.Info("herald is ready", "api", h.mode.API, "workers", h.mode.Workers)
		err = h.work(ctx)
	}

	// Drain: stop HTTP first, then let the broker go once workers returned.
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.cfg.ShutdownGrace)
		if serr := srv.Shutdown(sctx); serr != nil {
			h.logger.Warn("error shutting down HTTP", "error", serr)
		}
		cancel()
		if herr := <-httpDone; herr != nil && err == nil {
			err = herr
		}
	}
	stopBroker()
	if h.Broker != nil {
		<-brokerDone
	}
	if h.Redis != nil {
		_ = h.Redis.Close()
	}
	if h.DB != nil {
		h.DB.Close()
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	h.logger.Info("herald stopped")
	return err
}

// connect opens MySQL, Redis and RabbitMQ, waiting for each, then builds the services.
func (h *Herald) connect(ctx, brokerCtx context.Context, brokerDone chan<- error) error {
	scfg := store.Config{Driver: h.cfg.DBDriver, DSN: h.cfg.DatabaseDSN(), Prefix: h.cfg.DBPrefix, StatsShards: h.cfg.StatsShards, HistoryShards: h.cfg.HistoryShards,
		StatsDSNs: h.cfg.StatsDSNs, HistoryDSNs: h.cfg.HistoryDSNs, Unprepared: !h.cfg.DBPrepare, Logger: h.logger}
	err := retry(ctx, h.logger, "MariaDB/MySQL", func() error {
		db, err := store.Open(ctx, scfg)
		if err != nil {
			return err
		}
		if err := db.Ping(ctx); err != nil {
			db.Close()
			return err
		}
		h.depsMu.Lock()
		h.DB = db
		h.depsMu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	if err := h.DB.Migrate(ctx, time.Now().In(h.loc), h.cfg.DayTablesAhead); err != nil {
		return fmt.Errorf("error migrating: %w", err)
	}

	ropts, err := redisOptions(h.cfg.RedisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewUniversalClient(ropts)
	h.depsMu.Lock()
	h.Redis = rdb
	h.depsMu.Unlock()
	if err := retry(ctx, h.logger, "Redis", func() error { return h.Redis.Ping(ctx).Err() }); err != nil {
		return err
	}

	b, err := broker.New(broker.Config{URL: h.cfg.AMQPURL, Prefix: h.cfg.AMQPPrefix, Logger: h.logger, DrainTimeout: h.cfg.ShutdownGrace})
	if err != nil {
		return fmt.Errorf("HERALD_AMQP_URL: %w", err)
	}
	h.depsMu.Lock()
	h.Broker = b
	h.depsMu.Unlock()
	go func() { brokerDone <- b.Run(brokerCtx) }()
	if err := b.WaitReady(ctx); err != nil {
		return err
	}

	h.Breakers = dispatch.NewBreakers(dispatch.BreakerConfig{})
	h.yield = dispatch.NewYielder(h.Redis, h.cfg.RedisPrefix, h.cfg.BulkYield)
	secretKey, _ := h.cfg.Key() // validated at start
	h.Accounts, err = account.NewService(ctx, h.DB, account.Config{SessionSecret: h.cfg.SessionSecret, SessionTTL: h.cfg.SessionTTL, Logger: h.logger,
		Redis: h.Redis, RedisPrefix: h.cfg.RedisPrefix, SecretKey: secretKey, ProviderNamesFunc: h.providerNames})
	if err != nil {
		return err
	}
	// The tracking key comes before the providers: email providers sign their links with it.
	trackingKey := []byte(h.cfg.TrackingKey)
	if len(trackingKey) == 0 {
		trackingKey = h.Accounts.DeriveKey("herald tracking key v1")
	}
	if h.Tracker, err = track.NewTracker(trackingKey, h.cfg.PublicURL); err != nil {
		return fmt.Errorf("HERALD_TRACKING_KEY: %w", err)
	}
	allow, _ := netguard.ParseAllow(h.cfg.WebhookAllow) // validated at start
	h.Registry, err = providers.Build(h.cfg.Providers, providers.Options{WebhookSecret: h.cfg.WebhookSecret, WebhookAllow: allow, Logger: h.logger, Accounts: h.cfg.ProviderAccounts,
		Tracker: h.Tracker})
	if err != nil {
		return errors.New(h.cfg.Redact(err.Error())) // a part may quote a decrypted credential
	}
	h.Audience = audience.NewService(h.DB, h.logger)
	cache, err := audience.NewCache(h.Redis, h.cfg.RedisPrefix, h.Audience, audience.CacheOptions{Logger: h.logger})
	if err != nil {
		return fmt.Errorf("HERALD_REDIS_PREFIX: %w", err)
	}
	h.Audience.SetCache(cache)
	h.Content = content.NewService(h.DB, h.logger)
	h.Content.CacheLatest(store.NewGeneration(h.Redis, h.cfg.RedisPrefix+"templates:generation"))
	h.Rules = rule.NewService(h.DB, h.logger)
	h.Rules.CacheLatest(store.NewGeneration(h.Redis, h.cfg.RedisPrefix+"rules:generation"))
	h.Writer = reports.NewWriter(h.DB, h.loc, nil, h.logger)
	h.Stats = reports.NewStats(h.DB, h.loc)
	h.Stats.SetMaxDays(h.cfg.StatsMaxDays)
	h.History = reports.NewSQLHistory(h.DB)
	h.Dispatch = dispatch.NewService(dispatch.Deps{DB: h.DB, Audience: h.Audience, Content: h.Content, Rules: h.Rules,
		Stats: h.Stats, Writer: h.Writer, Publisher: h.Broker, Accounts: h.Accounts, Registry: h.Registry, Yield: h.yield, Logger: h.logger})

	if h.cfg.AdminEmail != "" {
		created, err := h.Accounts.EnsureAdmin(ctx, h.cfg.AdminEmail, h.cfg.AdminPassword)
		if err != nil {
			return fmt.Errorf("HERALD_ADMIN_EMAIL: %w", err)
		}
		if created {
			h.logger.Info("created the administrator", "email", h.cfg.AdminEmail)
		}
	}
	if h.cfg.Demo {
		if err := h.seedDemo(ctx); err != nil {
			return fmt.Errorf("error creating the demo app: %w", err)
		}
	}
	return nil
}

// work runs the workers and the day-table maintenance until ctx is done.
func (h *Herald) work(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	rates, _ := h.cfg.Rates() // validated at start
	if h.mode.Workers {
		lanes, _ := dispatch.ParseLanes(h.cfg.WorkerLanes) // validated at start
		h.logger.Info("workers consume", "lanes", lanes.String())
		w := dispatch.NewWorker(dispatch.WorkerDeps{DB: h.DB, Consumer: h.Broker, Declarer: h.Broker, Publisher: h.Broker, Registry: h.Registry,
			Content: h.Content, Writer: h.Writer, History: h.History, Logger: h.logger,
			RealtimePrefetch: h.cfg.RealtimeWorkers, ReceiptPrefetch: h.cfg.ReceiptWorkers,
			Accounts: h.Accounts, Audience: h.Audience, Rules: h.Rules, BulkPrefetch: h.cfg.BulkWorkers,
			Redis: h.Redis, RedisPrefix: h.cfg.RedisPrefix, Breakers: h.Breakers, Rates: rates, Yield: h.yield, Lanes: lanes})
		g.Go(func() error { return w.Run(gctx) })
		sched := dispatch.NewScheduler(h.DB, h.Dispatch, h.Redis, h.cfg.RedisPrefix, h.logger)
		sched.CatchUp = h.cfg.CronCatchUp
		g.Go(func() error { return sched.Run(gctx) })
		g.Go(func() error { return h.maintainDayTables(gctx) })
		g.Go(func() error { return h.maintainHistory(gctx) })
	}
	g.Go(func() error { <-gctx.Done(); return gctx.Err() })
	return g.Wait()
}

func (h *Herald) maintainDayTables(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		h.applyRetention(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := h.DB.EnsureDayTables(ctx, time.Now().In(h.loc), h.cfg.DayTablesAhead); err != nil {
				h.logger.Error("error creating day tables", "error", err)
			}
		}
	}
}

// applyRetention drops the day tables older than HERALD_RETENTION_DAYS. Every worker runs
// it; dropping a table that another process dropped first is harmless.
func (h *Herald) applyRetention(ctx context.Context) {
	// In-flight marks a day old belong to messages whose answer was recorded by a worker that
	// stopped before clearing them; the marks of a job still being retried are minutes old.
	if err := h.Writer.DropStaleInflight(ctx, time.Now().Add(-24*time.Hour)); err != nil {
		h.logger.Error("error dropping stale in-flight marks", "error", err)
	}
	if h.cfg.RetentionDays <= 0 {
		return
	}
	cutoff := time.Now().In(h.loc).AddDate(0, 0, -h.cfg.RetentionDays).Format(store.DayFormat)
	dropped, err := h.DB.DropDayTablesBefore(ctx, cutoff)
	if err != nil {
		h.logger.Error("error applying retention", "error", err)
	}
	if len(dropped) > 0 {
		h.logger.Info("dropped day tables past retention", "tables", dropped, "retention_days", h.cfg.RetentionDays)
	}
}

// retry calls f until it succeeds or ctx is done, logging what it waits for.
func retry(ctx context.Context, logger *slog.Logger, what string, f func() error) error {
	backoff := 500 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return nil
		}
		logger.Warn("waiting for "+what, "error", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting for %s: %w", what, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func redisOptions(raw string) (*redis.UniversalOptions, error) {
	urls := splitList(raw)
	if len(urls) == 1 {
		o, err := redis.ParseURL(urls[0])
		if err != nil {
			return nil, fmt.Errorf("HERALD_REDIS_URL: %w", err)
		}
		return &redis.UniversalOptions{Addrs: []string{o.Addr}, DB: o.DB, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig,
			PoolSize: 64}, nil
	}
	opts := &redis.UniversalOptions{IsClusterMode: true, PoolSize: 64}
	for _, u := range urls {
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("HERALD_REDIS_URL: %w", err)
		}
		opts.Addrs = append(opts.Addrs, o.Addr)
		opts.Username, opts.Password, opts.TLSConfig = o.Username, o.Password, o.TLSConfig
	}
	return opts, nil
}

// ensure the resolver type is referenced from this package's routes.
var _ = graph.Resolver{}

// providerNames lists the names of the providers of ch, which an app's prices may name.
func (h *Herald) providerNames(ch channels.Channel) []string {
	if h.Registry == nil {
		return nil
	}
	var names []string
	for _, p := range h.Registry.ChannelProviders(ch) {
		names = append(names, p.Name())
	}
	return names
}
