// Package servertest runs a whole Herald — API and workers — in-process for tests, against
// the real MariaDB, Redis and RabbitMQ of the machine and the vendor simulator, each test on
// its own database, queue and key prefix that is removed when the test ends.
//
//	env := servertest.Start(t)
//	app := env.AdminKey(t, "OPERATOR")
//	res := env.MustSend(t, app.Key, servertest.SendInput{...})
//
// The services are found through HERALD_TEST_MYSQL_DSN, HERALD_TEST_REDIS_URL and
// HERALD_TEST_AMQP_URL, with the local servers as defaults.
package servertest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/secret"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

// Credentials of the console administrator every Env bootstraps.
const (
	AdminEmail    = "admin@herald.test"
	AdminPassword = "herald-test-admin"
)

// Default bounds of the waits of an Env.
const (
	// DefaultWait bounds Eventually and Await.
	DefaultWait = 30 * time.Second
	// startWait bounds how long Start waits for Herald to be ready.
	startWait = time.Minute
	// stopWait bounds how long a stop waits for Run to return (it drains first).
	stopWait = 90 * time.Second
)

// RedisURL is the Redis tests use: HERALD_TEST_REDIS_URL, or the local server.
func RedisURL() string {
	return cmp.Or(os.Getenv("HERALD_TEST_REDIS_URL"), "redis://127.0.0.1:6379/0")
}

// AMQPURL is the RabbitMQ tests use: HERALD_TEST_AMQP_URL, or the local server.
func AMQPURL() string {
	return cmp.Or(os.Getenv("HERALD_TEST_AMQP_URL"), "amqp://guest:guest@127.0.0.1:5672/")
}

// Env is one running Herald with its simulator. Fields that change on Restart (Herald, URL)
// are read from the test goroutine only.
type Env struct {
	// Prefix names the test's databases, queues ("<Prefix>.") and Redis keys ("<Prefix>:").
	Prefix string
	// Config is the configuration Herald runs with.
	Config server.Config
	// Herald is the running process; its DB, Broker and services are set once it is ready.
	Herald *server.Herald
	// URL is Herald's base URL, such as http://127.0.0.1:41234.
	URL string
	// Sim is the vendor simulator; its receipts go to Herald's address.
	Sim *sim.Server
	// SimURL is the simulator's base URL.
	SimURL string
	// DB is a connection of the test's own to Herald's databases, for assertions; it is set
	// once Herald is ready.
	DB *store.DB
	// Logs holds what Herald and the simulator logged.
	Logs *Logs
	// WaitFor bounds Eventually and Await (DefaultWait unless changed).
	WaitFor time.Duration
	// Started is when the environment was created: the first day AllRows reads.
	Started time.Time

	client *http.Client
	logger *sloggerPair
	run    *runState
	appSeq atomic.Int64
}

// runState is one Run of Herald.
type runState struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// options are what Option functions set.
type options struct {
	env       map[string]string
	configure []func(*server.Config)
	simConfig []func(*sim.Config)
	noWait    bool
	smtp      bool
}

// Option changes how Start runs Herald.
type Option func(*options)

// WithEnv sets a HERALD_* variable, as an operator would; it wins over the harness's own.
func WithEnv(key, value string) Option {
	return func(o *options) { o.env[key] = value }
}

// WithConfig changes the configuration after the variables are applied.
func WithConfig(f func(*server.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, f) }
}

// WithSimConfig changes the simulator's configuration (its Callback is always Herald).
func WithSimConfig(f func(*sim.Config)) Option {
	return func(o *options) { o.simConfig = append(o.simConfig, f) }
}

// WithSMTP starts the simulator's SMTP server and points an EMAIL provider at it
// (sim-smtp= in HERALD_PROVIDERS).
func WithSMTP() Option {
	return func(o *options) { o.smtp = true }
}

// NoWait returns from Start as soon as Herald listens, without waiting for it to be ready;
// for tests of a Herald whose dependencies are down. Env.DB stays nil.
func NoWait() Option {
	return func(o *options) { o.noWait = true }
}

// Start runs the simulator and Herald on a fresh prefix and waits until Herald is ready.
// Everything stops and is removed when t ends: Run is cancelled and waited for (it drains),
// then the databases, queues, exchange and Redis keys of the prefix are deleted.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	o := options{env: map[string]string{}}
	for _, f := range opts {
		f(&o)
	}
	prefix := storetest.Prefix()
	logs := &Logs{}
	e := &Env{Prefix: prefix, Logs: logs, WaitFor: DefaultWait, Started: time.Now(), client: &http.Client{Timeout: time.Minute}}
	e.logger = newLoggers(logs)

	// The simulator's server comes first because Herald's provider setting names its URL;
	// the simulator itself is created once Herald listens, so that its receipts go to
	// Herald's real address.
	var simHandler atomic.Pointer[http.Handler]
	simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := simHandler.Load()
		if h == nil {
			http.Error(w, "simulator starting", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	e.SimURL = simSrv.URL

	vars := map[string]string{
		"HERALD_HTTP_ADDR":      "127.0.0.1:0",
		"HERALD_MYSQL_DSN":      storetest.DSN(),
		"HERALD_DB_PREFIX":      prefix,
		"HERALD_REDIS_URL":      RedisURL(),
		"HERALD_REDIS_PREFIX":   prefix + ":",
		"HERALD_AMQP_URL":       AMQPURL(),
		"HERALD_AMQP_PREFIX":    prefix + ".",
		"HERALD_PROVIDERS":      "sim=" + simSrv.URL,
		"HERALD_ADMIN_EMAIL":    AdminEmail,
		"HERALD_ADMIN_PASSWORD": AdminPassword,
		// Inbox secrets are stored encrypted: each test has its own key.
		"HERALD_SECRET_KEY": secret.GenerateKey(),
		// Tests send mutations as fast as they can; the per-caller limit is exercised, not
		// reached, unless a test sets its own.
		"HERALD_MUTATION_RATE":  "100000/s",
		"HERALD_MUTATION_BURST": "1000000",
	}
	var smtpLn net.Listener
	if o.smtp {
		// The listener is made now so that Herald's provider setting can name its address.
		var err error
		smtpLn, err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = smtpLn.Close() })
		vars["HERALD_PROVIDERS"] += ",sim-smtp=" + smtpLn.Addr().String()
	}
	for k, v := range o.env {
		vars[k] = v
	}
	list := make([]string, 0, len(vars))
	for k, v := range vars {
		list = append(list, k+"="+v)
	}
	cfg, err := server.LoadConfig("", list)
	require.NoError(t, err, "invalid test configuration")
	for _, f := range o.configure {
		f(&cfg)
	}
	e.Config = cfg

	t.Cleanup(func() { e.cleanup(t, simSrv) })

	e.launch(t)
	addr := e.Herald.Addr.Load().(string)
	e.Config.HTTPAddr = addr // a restart listens where the simulator posts receipts

	// Receipts come sooner than the simulator's default 50 ms, to keep tests short.
	scfg := sim.Config{ReceiptDelay: 20 * time.Millisecond, Logger: e.logger.sim}
	for _, f := range o.simConfig {
		f(&scfg)
	}
	scfg.Callback = e.URL
	if smtpLn != nil {
		scfg.SMTPListener = smtpLn
	}
	e.Sim = sim.New(scfg)
	if err := e.Sim.Start(); err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	h := e.Sim.Handler()
	simHandler.Store(&h)

	if !o.noWait {
		e.waitReady(t)
	}
	return e
}

// launch runs Herald (API and workers) with e.Config and waits until it listens.
func (e *Env) launch(t testing.TB) {
	t.Helper()
	h, err := server.New(e.Config, server.Mode{API: true, Workers: true}, e.logger.herald)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runState{cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- h.Run(ctx) }()
	e.Herald, e.run = h, rs

	deadline := time.Now().Add(startWait)
	for h.Addr.Load() == nil {
		select {
		case err := <-rs.done:
			rs.err = err
			rs.once.Do(func() {})
			require.FailNow(t, "Herald stopped before listening", "error: %v\n%s", err, e.Logs.Tail(40))
		case <-time.After(2 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "Herald did not listen within %s", startWait)
	}
	e.URL = "http://" + h.Addr.Load().(string)
}

// waitReady waits for Herald's Ready, failing the test if Run returns first.
func (e *Env) waitReady(t testing.TB) {
	t.Helper()
	select {
	case <-e.Herald.Ready:
	case err := <-e.run.done:
		e.run.err = err
		e.run.once.Do(func() {})
		require.FailNow(t, "Herald stopped before it was ready", "error: %v\n%s", err, e.Logs.Tail(40))
	case <-time.After(startWait):
		require.FailNow(t, "Herald was not ready in time", "waited %s\n%s", startWait, e.Logs.Tail(40))
	}
	if e.DB == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db, err := store.Open(ctx, e.storeConfig())
		require.NoError(t, err)
		e.DB = db
	}
}

func (e *Env) storeConfig() store.Config {
	return store.Config{DSN: e.Config.MySQLDSN, Prefix: e.Config.DBPrefix, StatsShards: e.Config.StatsShards,
		HistoryShards: e.Config.HistoryShards, StatsDSNs: e.Config.StatsDSNs, HistoryDSNs: e.Config.HistoryDSNs}
}

// Stop cancels Herald's Run, as SIGTERM does, and waits for it to drain and return; it
// returns Run's error. Calling it again returns the same error.
func (e *Env) Stop(t testing.TB) error {
	t.Helper()
	rs := e.run
	if rs == nil {
		return nil
	}
	rs.once.Do(func() {
		rs.cancel()
		select {
		case rs.err = <-rs.done:
		case <-time.After(stopWait):
			rs.err = fmt.Errorf("herald did not stop within %s", stopWait)
		}
		e.client.CloseIdleConnections() // a restarted Herald listens on the same address
	})
	return rs.err
}

// Restart stops Herald (draining it) and starts a new process with the same configuration
// on the same address, so the simulator's receipts keep arriving; it waits until the new
// one is ready.
func (e *Env) Restart(t testing.TB) {
	t.Helper()
	require.NoError(t, e.Stop(t), "Herald's Run returned an error")
	e.launch(t)
	e.waitReady(t)
}

// cleanup stops everything and removes what the test created on the shared services.
func (e *Env) cleanup(t testing.TB, simSrv *httptest.Server) {
	if err := e.Stop(t); err != nil {
		t.Errorf("Herald's Run returned an error: %v", err)
	}
	simSrv.Close()
	if e.Sim != nil {
		e.Sim.Close()
	}
	if t.Failed() {
		t.Logf("Herald's log (last lines):\n%s", e.Logs.Tail(200))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if e.DB != nil {
		e.DB.Close()
	}
	if db, err := store.Open(ctx, e.storeConfig()); err != nil {
		t.Errorf("error opening the test databases to drop them: %v", err)
	} else {
		if err := db.Drop(ctx); err != nil {
			t.Errorf("error dropping the test databases: %v", err)
		}
		db.Close()
	}
	if err := deleteBrokerObjects(e.Config.AMQPPrefix); err != nil {
		t.Errorf("error deleting the test's RabbitMQ queues %s*: %v", e.Config.AMQPPrefix, err)
	}
	if err := deleteRedisKeys(ctx, e.Config.RedisPrefix); err != nil {
		t.Errorf("error deleting the test's Redis keys %s*: %v", e.Config.RedisPrefix, err)
	}
}

// Queues are the queues every Herald declares, without the prefix. Delay queues, whose
// names carry their delay, come on top.
var Queues = []broker.Queue{broker.Realtime, broker.Realtime.Dead(), broker.Bulk, broker.Bulk.Dead(), broker.Receipts, broker.Receipts.Dead(),
	dispatch.FallbackQueue, dispatch.FallbackQueue.Dead()}

// queueNames returns the full names of the queues of prefix: Queues, and every other queue
// of the prefix that rabbitmqctl lists when it is available (AMQP cannot list queues).
func queueNames(prefix string) []string {
	names := map[string]bool{}
	for _, q := range Queues {
		names[prefix+string(q)] = true
	}
	if path, err := exec.LookPath("rabbitmqctl"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, path, "list_queues", "-q", "--no-table-headers", "name").Output(); err == nil {
			for _, line := range strings.Split(string(out), "\n") {
				if name := strings.TrimSpace(line); strings.HasPrefix(name, prefix) {
					names[name] = true
				}
			}
		}
	}
	return sortedKeys(names)
}

// deleteBrokerObjects deletes the queues and the dead-letter exchange of prefix. It waits
// a while for RabbitMQ, which a restart test may have stopped under this test.
func deleteBrokerObjects(prefix string) error {
	var (
		conn *amqp.Connection
		err  error
	)
	for deadline := time.Now().Add(time.Minute); ; {
		if conn, err = amqp.Dial(AMQPURL()); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second) // RabbitMQ is restarting; nothing else to wait on
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	// A channel per operation: a refused operation closes its channel.
	do := func(f func(ch *amqp.Channel) error) error {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		return f(ch)
	}
	var errs []string
	for _, name := range queueNames(prefix) {
		if err := do(func(ch *amqp.Channel) error { _, err := ch.QueueDelete(name, false, false, false); return err }); err != nil && !isNotFound(err) {
			errs = append(errs, err.Error())
		}
	}
	if err := do(func(ch *amqp.Channel) error { return ch.ExchangeDelete(prefix+"dlx", false, false) }); err != nil && !isNotFound(err) {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func isNotFound(err error) bool {
	var aerr *amqp.Error
	return errors.As(err, &aerr) && aerr.Code == amqp.NotFound
}

// deleteRedisKeys deletes every key that starts with prefix.
func deleteRedisKeys(ctx context.Context, prefix string) error {
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		return rdb.Del(ctx, keys...).Err()
	}
	return nil
}

// pollInterval is how often Eventually and Await look again.
const pollInterval = 10 * time.Millisecond

// Eventually polls cond until it holds, and fails the test when it does not within
// e.WaitFor. cond runs in the test's goroutine, so it may use require.
func (e *Env) Eventually(t testing.TB, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	e.Await(t, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	}, msgAndArgs...)
}

var errNotYet = errors.New("condition not met")

// Await polls f until it returns nil, and fails the test with f's last error when it does
// not within e.WaitFor.
func (e *Env) Await(t testing.TB, f func() error, msgAndArgs ...any) {
	t.Helper()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	deadline := time.Now().Add(e.WaitFor)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			require.FailNow(t, fmt.Sprintf("not reached within %s: %v", e.WaitFor, err), msgAndArgs...)
		}
		<-tick.C
	}
}

// SimTotal is how many messages the simulator accepted on every channel.
func (e *Env) SimTotal() int64 {
	var n int64
	for _, v := range e.Sim.Stats().Received {
		n += v
	}
	return n
}

// SimRepeated is how many accepted messages repeated an (address, content) pair.
func (e *Env) SimRepeated() map[channels.Channel]int64 {
	out := map[channels.Channel]int64{}
	for ch, v := range e.Sim.Stats().Repeated {
		if v != 0 {
			out[ch] = v
		}
	}
	return out
}

// sortedKeys returns m's keys in order, for stable messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
