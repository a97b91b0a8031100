package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/client"
	"github.com/herald-msg/herald/store"
)

// layout says what a topology runs.
type layout struct {
	serves, workers int
	// redisURL is the Redis Herald uses; empty starts a dedicated redis-server.
	redisURL string
	// amqpURL is the RabbitMQ Herald uses; empty starts a dedicated node.
	amqpURL string
	// coreDSN is the server of the core database; empty starts a dedicated mariadbd.
	coreDSN string
	// statsDSNs moves statistics shards to other servers (one per shard; empty: coreDSN).
	statsDSNs []string
	// spare adds a second SMS provider account on a second simulator, after the first.
	spare bool
	// bulkWorkers is HERALD_BULK_WORKERS of each worker (0: Herald's default).
	bulkWorkers int
	// rate paces each SMS provider (messages per second, 0: no limit).
	rate int
}

// topology is a set of Herald processes with their simulators, on databases, queues and
// keys of a prefix of their own.
type topology struct {
	opts    options
	lay     layout
	dir     string
	prefix  string
	cfgPath string
	env     []string

	db      *mariadb
	redis   *redisServer
	amqp    *rabbit
	sims    []*proc
	simURLs []string
	serves  []*proc
	workers []*proc
	apiURLs []string

	st     *store.DB
	stCfg  store.Config
	hc     []*client.Client // one per serve
	appID  string
	tplID  string
	ruleID string
}

const (
	adminEmail    = "chaos@herald.local"
	adminPassword = "chaos-admin-password"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startTopology starts everything; on error what started is stopped again.
func startTopology(ctx context.Context, o options, lay layout) (t *topology, err error) {
	t = &topology{opts: o, lay: lay, prefix: "hchaos_" + randomHex(4)}
	if t.dir, err = os.MkdirTemp(o.workDir, t.prefix+"-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			t.close()
			t = nil
		}
	}()
	logf("run %s: logs in %s", t.prefix, t.dir)
	// Every process of the run, and the reconcile check, runs one copy of the binary: a
	// rebuild of --bin during the run must not mix versions (and migrations).
	if err := copyFile(o.bin, filepath.Join(t.dir, "herald")); err != nil {
		return t, err
	}
	o.bin = filepath.Join(t.dir, "herald")
	t.opts.bin = o.bin
	if lay.coreDSN == "" {
		logf("starting a dedicated mariadbd")
		if t.db, err = startMariaDB(ctx, t.dir, "mariadb"); err != nil {
			return t, err
		}
		lay.coreDSN = t.db.dsn()
		t.lay.coreDSN = lay.coreDSN
	}
	if lay.redisURL == "" {
		if t.redis, err = startRedis(ctx, t.dir); err != nil {
			return t, err
		}
		lay.redisURL = t.redis.url()
	}
	if lay.amqpURL == "" {
		logf("starting a dedicated RabbitMQ node")
		if t.amqp, err = startRabbit(ctx, t.dir, t.prefix); err != nil {
			return t, err
		}
		lay.amqpURL = t.amqp.url()
	}
	apiPorts := make([]int, lay.serves)
	for i := range apiPorts {
		if apiPorts[i], err = freePort(); err != nil {
			return t, err
		}
		t.apiURLs = append(t.apiURLs, "http://"+hostPort(apiPorts[i]))
	}
	nsims := 1
	if lay.spare {
		nsims = 2
	}
	for i := range nsims {
		port, err := freePort()
		if err != nil {
			return t, err
		}
		p := newProc(t.dir, fmt.Sprintf("sim%d", i+1), o.bin, nil, "sim", "--addr", hostPort(port), "--callback", t.apiURLs[0],
			"--receipt-delay", "20ms", "--log-level", "warn")
		if err := p.start(); err != nil {
			return t, err
		}
		t.sims = append(t.sims, p)
		t.simURLs = append(t.simURLs, "http://"+hostPort(port))
		if err := waitTCP(ctx, hostPort(port), 30*time.Second); err != nil {
			return t, err
		}
	}
	if err := t.writeConfig(lay); err != nil {
		return t, err
	}
	t.env = []string{"HERALD_DB_PREFIX=" + t.prefix, "HERALD_REDIS_PREFIX=" + t.prefix + ":", "HERALD_AMQP_PREFIX=" + t.prefix + ".",
		"HERALD_ADMIN_EMAIL=" + adminEmail, "HERALD_ADMIN_PASSWORD=" + adminPassword, "HERALD_SESSION_SECRET=" + randomHex(24),
		"HERALD_DEMO=false", "HERALD_MUTATION_RATE=off", "HERALD_TIME_ZONE=UTC", "HERALD_PUBLIC_URL=" + t.apiURLs[0],
		"HERALD_LOG_LEVEL=info", "HERALD_SHUTDOWN_GRACE=20s", "HERALD_CRON_CATCH_UP=false"}
	if lay.bulkWorkers > 0 {
		t.env = append(t.env, "HERALD_BULK_WORKERS="+strconv.Itoa(lay.bulkWorkers))
	}
	if len(lay.statsDSNs) > 0 {
		t.env = append(t.env, "HERALD_STATS_SHARDS="+strconv.Itoa(len(lay.statsDSNs)))
	}
	cfg, err := t.loadConfig()
	if err != nil {
		return t, err
	}
	t.stCfg = store.Config{DSN: cfg.MySQLDSN, Prefix: t.prefix, StatsShards: cfg.StatsShards, HistoryShards: cfg.HistoryShards,
		StatsDSNs: cfg.StatsDSNs, HistoryDSNs: cfg.HistoryDSNs}
	logf("migrating")
	mig := newProc(t.dir, "migrate", o.bin, t.env, "migrate", "--config", t.cfgPath)
	if err := mig.start(); err != nil {
		return t, err
	}
	if !mig.wait(3*time.Minute) || mig.err != nil {
		return t, fmt.Errorf("herald migrate failed (%v); see %s", mig.err, mig.log)
	}
	if t.st, err = store.Open(ctx, t.stCfg); err != nil { // also what cleanup drops
		return t, err
	}
	for i := range lay.serves {
		p := newProc(t.dir, fmt.Sprintf("serve%d", i+1), o.bin, slices.Concat(t.env, []string{"HERALD_HTTP_ADDR=" + hostPort(apiPorts[i])}), "serve", "--config", t.cfgPath)
		t.serves = append(t.serves, p)
	}
	for i := range lay.workers {
		t.workers = append(t.workers, newProc(t.dir, fmt.Sprintf("worker%d", i+1), o.bin, t.env, "worker", "--config", t.cfgPath))
	}
	logf("starting %d serve and %d worker processes", lay.serves, lay.workers)
	for _, p := range append(append([]*proc{}, t.serves...), t.workers...) {
		if err := p.start(); err != nil {
			return t, err
		}
	}
	for _, p := range append(append([]*proc{}, t.serves...), t.workers...) {
		if err := p.waitLog(ctx, "herald is ready", 2*time.Minute); err != nil {
			return t, err
		}
	}
	return t, t.seedApp(ctx)
}

// writeConfig writes the YAML file the processes read: the second SMS account, the
// statistics shards' servers and the pacing; the rest comes from HERALD_* variables.
func (t *topology) writeConfig(lay layout) error {
	var b strings.Builder
	q := func(s string) string { v, _ := json.Marshal(s); return string(v) }
	fmt.Fprintf(&b, "mysql_dsn: %s\nredis_url: %s\namqp_url: %s\nproviders: %s\n", q(lay.coreDSN), q(lay.redisURL), q(lay.amqpURL), q("sim="+t.simURLs[0]))
	if lay.rate > 0 {
		rates := "aliyun=" + strconv.Itoa(lay.rate)
		if lay.spare {
			rates += ",spare=" + strconv.Itoa(lay.rate)
		}
		fmt.Fprintf(&b, "provider_rates: %s\n", q(rates))
	}
	if len(lay.statsDSNs) > 0 {
		b.WriteString("stats_dsns:\n")
		for _, d := range lay.statsDSNs {
			fmt.Fprintf(&b, "  - %s\n", q(d))
		}
	}
	if lay.spare {
		a := providers.Account{Name: "spare", Type: "aliyun-sms", Channel: "SMS", Priority: 1, Settings: map[string]string{
			"endpoint": t.simURLs[1], "access_key_id": sim.DefaultAccessKeyID, "access_key_secret": sim.DefaultSecret,
			"sign_name": "Herald", "template_code": "SMS_HERALD_TEXT", "callback_token": sim.DefaultSecret}}
		fmt.Fprintf(&b, "provider_accounts:\n  - name: %s\n    type: %s\n    channel: %s\n    priority: %d\n    settings:\n", a.Name, a.Type, a.Channel, a.Priority)
		for _, k := range []string{"endpoint", "access_key_id", "access_key_secret", "sign_name", "template_code", "callback_token"} {
			fmt.Fprintf(&b, "      %s: %s\n", k, q(a.Settings[k]))
		}
	}
	t.cfgPath = filepath.Join(t.dir, "herald.yaml")
	return os.WriteFile(t.cfgPath, []byte(b.String()), 0o600)
}

// seedApp signs in as the administrator, creates the app and an OPERATOR key, and a
// template and rule that send one SMS.
func (t *topology) seedApp(ctx context.Context) error {
	jar, _ := cookiejar.New(nil)
	admin := client.New(t.apiURLs[0], client.WithHTTPClient(&http.Client{Jar: jar, Timeout: time.Minute}))
	if err := admin.Do(ctx, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { email } }`,
		map[string]any{"e": adminEmail, "p": adminPassword}, nil); err != nil {
		return fmt.Errorf("signing in: %w", err)
	}
	var app struct {
		CreateApp struct{ ID string } `json:"createApp"`
	}
	if err := admin.Do(ctx, `mutation { createApp(name: "chaos") { id } }`, nil, &app); err != nil {
		return err
	}
	t.appID = app.CreateApp.ID
	var key struct {
		CreateAPIKey struct{ Secret string } `json:"createApiKey"`
	}
	if err := admin.Do(ctx, `mutation($a: ID!) { createApiKey(appId: $a, role: OPERATOR) { secret } }`, map[string]any{"a": t.appID}, &key); err != nil {
		return err
	}
	for _, u := range t.apiURLs {
		t.hc = append(t.hc, client.New(u, client.WithAPIKey(key.CreateAPIKey.Secret), client.WithHTTPClient(&http.Client{Timeout: 2 * time.Minute})))
	}
	var tpl struct {
		CreateTemplate struct{ ID string } `json:"createTemplate"`
	}
	if err := t.hc[0].Do(ctx, `mutation($a: ID!) { createTemplate(input: {appId: $a, name: "chaos", variables: [{name: "tag", type: "string"}],
		variants: [{channel: SMS, body: "Herald chaos {{tag}}", extra: {sign: "Herald"}}]}) { id } }`, map[string]any{"a": t.appID}, &tpl); err != nil {
		return err
	}
	t.tplID = tpl.CreateTemplate.ID
	var rl struct {
		CreateRule struct{ ID string } `json:"createRule"`
	}
	if err := t.hc[0].Do(ctx, `mutation($a: ID!) { createRule(input: {appId: $a, name: "sms", routes: [{strategy: CONCURRENT, channels: [SMS]}]}) { id } }`,
		map[string]any{"a": t.appID}, &rl); err != nil {
		return err
	}
	t.ruleID = rl.CreateRule.ID
	return nil
}

// userID and phone name user i; every phone ends in 5, never a simulator test suffix.
func userID(i int) string { return fmt.Sprintf("u%07d", i) }
func phone(i int) string  { return fmt.Sprintf("139%07d5", i) }

// seedUsers upserts users 0..n-1, each with one SMS number.
func (t *topology) seedUsers(ctx context.Context, n int) error {
	for start := 0; start < n; start += 10000 {
		var batch []client.UserInput
		for i := start; i < min(start+10000, n); i++ {
			batch = append(batch, client.UserInput{ID: userID(i), Identities: []client.Identity{{Channel: "SMS", Address: "+86" + phone(i)}}})
		}
		if _, err := t.hc[0].UpsertUsers(ctx, t.appID, batch); err != nil {
			return fmt.Errorf("seeding users: %w", err)
		}
	}
	return nil
}

// close stops every process and removes the run's databases, queues, keys and files.
func (t *topology) close() {
	for _, p := range append(append([]*proc{}, t.serves...), t.workers...) {
		p.stop(30 * time.Second)
	}
	for _, p := range t.sims {
		p.stop(10 * time.Second)
	}
	cleanup(t)
	t.amqp.stop()
	t.redis.stop()
	t.db.stop()
	if t.opts.keepLogs {
		logf("logs kept in %s", t.dir)
		return
	}
	_ = os.RemoveAll(t.dir)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
