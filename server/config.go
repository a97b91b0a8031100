package server

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/herald-msg/herald/channels/netguard"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/store"
)

// Config is every setting of a Herald process. Values come from the defaults below, then an
// optional YAML file, then HERALD_* environment variables, which win.
type Config struct {
	HTTPAddr  string `yaml:"http_addr" env:"HERALD_HTTP_ADDR"`
	PublicURL string `yaml:"public_url" env:"HERALD_PUBLIC_URL"`
	// DBDriver is the database server: "mysql" (MariaDB or MySQL, the default) or "oracle",
	// which needs a binary built with -tags oracle and takes its DSN from OracleDSN.
	DBDriver  string `yaml:"db_driver" env:"HERALD_DB_DRIVER"`
	MySQLDSN  string `yaml:"mysql_dsn" env:"HERALD_MYSQL_DSN"`
	OracleDSN string `yaml:"oracle_dsn" env:"HERALD_ORACLE_DSN"`
	DBPrefix  string `yaml:"db_prefix" env:"HERALD_DB_PREFIX"`
	// DBPrepare runs the statements repeated at every batch as server-side prepared
	// statements (store.Prepared); false for a proxy in between that does not keep them.
	DBPrepare     bool `yaml:"db_prepare" env:"HERALD_DB_PREPARE"`
	StatsShards   int  `yaml:"stats_shards" env:"HERALD_STATS_SHARDS"`
	HistoryShards int  `yaml:"history_shards" env:"HERALD_HISTORY_SHARDS"`
	// StatsDSNs and HistoryDSNs give a shard its own server, in the driver's DSN form; a
	// missing entry uses DatabaseDSN.
	StatsDSNs   []string `yaml:"stats_dsns"`
	HistoryDSNs []string `yaml:"history_dsns"`
	RedisURL    string   `yaml:"redis_url" env:"HERALD_REDIS_URL"`
	RedisPrefix string   `yaml:"redis_prefix" env:"HERALD_REDIS_PREFIX"`
	AMQPURL     string   `yaml:"amqp_url" env:"HERALD_AMQP_URL"`
	AMQPPrefix  string   `yaml:"amqp_prefix" env:"HERALD_AMQP_PREFIX"`
	Providers   string   `yaml:"providers" env:"HERALD_PROVIDERS"`
	// ProviderAccounts are the vendor accounts Herald sends through, each with its type,
	// channel, priority, weight, rate and settings (docs/channels.md); only the file sets
	// them. Settings values may be "enc:v1:" encrypted.
	ProviderAccounts []providers.Account `yaml:"provider_accounts"`
	// ProviderRates caps providers' messages per second across every worker, e.g.
	// "aliyun=500,webhook=2000".
	ProviderRates string `yaml:"provider_rates" env:"HERALD_PROVIDER_RATES"`
	WebhookSecret string `yaml:"webhook_secret" env:"HERALD_WEBHOOK_SECRET"`
	// WebhookAllow lists internal addresses or CIDR prefixes webhooks may reach; others are
	// refused at connect time.
	WebhookAllow  string `yaml:"webhook_allow" env:"HERALD_WEBHOOK_ALLOW"`
	AdminEmail    string `yaml:"admin_email" env:"HERALD_ADMIN_EMAIL"`
	AdminPassword string `yaml:"admin_password" env:"HERALD_ADMIN_PASSWORD"`
	// SessionSecret signs console sessions; when empty Herald keeps a generated one in the core
	// database so that every process of a cluster shares it.
	SessionSecret string        `yaml:"session_secret" env:"HERALD_SESSION_SECRET"`
	SessionTTL    time.Duration `yaml:"session_ttl" env:"HERALD_SESSION_TTL"`
	// TrackingKey signs the tokens of tracked links, open pixels and SDK events; when empty
	// a key derived from the session secret is used.
	TrackingKey string `yaml:"tracking_key" env:"HERALD_TRACKING_KEY"`
	Dev         bool   `yaml:"dev" env:"HERALD_DEV"`
	// Demo creates a demo app, API key and users on start and prints them.
	Demo            bool          `yaml:"demo" env:"HERALD_DEMO"`
	TimeZone        string        `yaml:"time_zone" env:"HERALD_TIME_ZONE"`
	DayTablesAhead  int           `yaml:"day_tables_ahead" env:"HERALD_DAY_TABLES_AHEAD"`
	RealtimeWorkers int           `yaml:"realtime_workers" env:"HERALD_REALTIME_WORKERS"`
	BulkWorkers     int           `yaml:"bulk_workers" env:"HERALD_BULK_WORKERS"`
	ReceiptWorkers  int           `yaml:"receipt_workers" env:"HERALD_RECEIPT_WORKERS"`
	ShutdownGrace   time.Duration `yaml:"shutdown_grace" env:"HERALD_SHUTDOWN_GRACE"`
	// BulkYield is the longest a bulk step (or a group of receipts) waits while realtime
	// sends are in progress in any Herald process (0: never waits).
	BulkYield time.Duration `yaml:"bulk_yield" env:"HERALD_BULK_YIELD"`
	// WorkerLanes are the queues a worker process consumes (realtime, bulk, receipts), so
	// that realtime sends can have processes of their own.
	WorkerLanes string `yaml:"worker_lanes" env:"HERALD_WORKER_LANES"`
	// RetentionDays is how long delivery detail is kept; older day tables are dropped (0:
	// never). The statistics rollups of dropped days stay.
	RetentionDays int `yaml:"retention_days" env:"HERALD_RETENTION_DAYS"`
	// HistoryRetentionDays is how long users' history (inbox) is kept; a daily job deletes
	// older entries in bounded batches (0: never).
	HistoryRetentionDays int `yaml:"history_retention_days" env:"HERALD_HISTORY_RETENTION_DAYS"`
	// StatsMaxDays is the longest range, in days, of one stats query or export.
	StatsMaxDays int `yaml:"stats_max_days" env:"HERALD_STATS_MAX_DAYS"`
	// CronCatchUp runs a cron campaign once at start for runs missed while Herald was down.
	CronCatchUp bool   `yaml:"cron_catch_up" env:"HERALD_CRON_CATCH_UP"`
	LogLevel    string `yaml:"log_level" env:"HERALD_LOG_LEVEL"`
	LogFormat   string `yaml:"log_format" env:"HERALD_LOG_FORMAT"`
	// SecretKey opens the "enc:v1:" values of the other settings and encrypts the secrets
	// Herald stores (inbox secrets): 32 bytes as base64 or hex. Only the environment sets it,
	// never the file that holds the encrypted values.
	SecretKey string `env:"HERALD_SECRET_KEY"`
	// MutationRate and MutationBurst bound the mutations of each API key and console user
	// across every process: a token bucket in Redis refilled at MutationRate ("50/s",
	// "600/m", "off") holding at most MutationBurst.
	MutationRate  string `yaml:"mutation_rate" env:"HERALD_MUTATION_RATE"`
	MutationBurst int    `yaml:"mutation_burst" env:"HERALD_MUTATION_BURST"`

	// revealed are the plaintexts of the "enc:v1:" values, kept to scrub them from errors.
	revealed []string
}

// DefaultConfig reaches the services of a local machine, so none needs setting there.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:             ":8080",
		PublicURL:            "http://127.0.0.1:8080",
		DBDriver:             "mysql",
		MySQLDSN:             "root@tcp(127.0.0.1:3306)/",
		DBPrefix:             "herald",
		DBPrepare:            true,
		StatsShards:          2,
		HistoryShards:        2,
		RedisURL:             "redis://127.0.0.1:6379/0",
		RedisPrefix:          "herald:",
		AMQPURL:              "amqp://guest:guest@127.0.0.1:5672/",
		AMQPPrefix:           "herald.",
		SessionTTL:           12 * time.Hour,
		TimeZone:             "Local",
		DayTablesAhead:       7,
		RealtimeWorkers:      32,
		BulkWorkers:          4,
		ReceiptWorkers:       8,
		BulkYield:            50 * time.Millisecond,
		WorkerLanes:          "realtime,bulk,receipts",
		ShutdownGrace:        30 * time.Second,
		CronCatchUp:          true,
		RetentionDays:        400,
		HistoryRetentionDays: 180,
		StatsMaxDays:         400,
		LogLevel:             "info",
		LogFormat:            "text",
		MutationRate:         "50/s",
		MutationBurst:        100,
	}
}

// LoadConfig reads the optional YAML file at path, then the HERALD_* variables of env
// (os.Environ form), and validates the result.
func LoadConfig(path string, env []string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("error reading config file: %w", err)
		}
		if err := decodeFile(&cfg, b); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	vars := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "HERALD_") {
			vars[k] = v
		}
	}
	if err := applyEnv(&cfg, vars); err != nil {
		return cfg, err
	}
	if err := cfg.openSealed(); err != nil {
		return cfg, err
	}
	if _, set := vars["HERALD_PUBLIC_URL"]; !set && cfg.PublicURL == DefaultConfig().PublicURL {
		cfg.PublicURL = publicURLOf(cfg.HTTPAddr, cfg.PublicURL)
	}
	return cfg, cfg.Validate()
}

// publicURLOf is the URL Herald is reached at on this machine when it listens on addr and
// no public URL was set: the listening port on loopback when the host is a wildcard.
func publicURLOf(addr, def string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "0" {
		return def
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// decodeFile sets the settings of a YAML file on cfg one key at a time, so that an error
// names the key it concerns (the YAML decoder alone names only the line). An empty file, or
// one of comments only, sets nothing.
func decodeFile(cfg *Config, b []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	if len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: must be a mapping of settings such as \"http_addr: :8080\"", root.Line)
	}
	v := reflect.ValueOf(cfg).Elem()
	fields := map[string]reflect.Value{}
	for i := range v.NumField() {
		if name := v.Type().Field(i).Tag.Get("yaml"); name != "" {
			fields[name] = v.Field(i)
		}
	}
	var errs []error
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		f, ok := fields[key.Value]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("line %d: %s is not a setting", key.Line, key.Value))
		case seen[key.Value]:
			errs = append(errs, fmt.Errorf("line %d: %s is set twice", key.Line, key.Value))
		default:
			if err := val.Decode(f.Addr().Interface()); err != nil {
				var te *yaml.TypeError
				if errors.As(err, &te) {
					err = errors.New(strings.Join(te.Errors, "; "))
				}
				errs = append(errs, fmt.Errorf("%s: %w", key.Value, err))
			}
		}
		seen[key.Value] = true
	}
	return errors.Join(errs...)
}

func applyEnv(cfg *Config, vars map[string]string) error {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := range t.NumField() {
		key := t.Field(i).Tag.Get("env")
		raw, ok := vars[key]
		if key == "" || !ok {
			continue
		}
		f := v.Field(i)
		switch f.Interface().(type) {
		case string:
			f.SetString(raw)
		case bool:
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean (use true or false)", key, raw)
			}
			f.SetBool(b)
		case int:
			n, err := strconv.Atoi(raw)
			if err != nil {
				return fmt.Errorf("%s: %q is not a whole number", key, raw)
			}
			f.SetInt(int64(n))
		case time.Duration:
			d, err := time.ParseDuration(raw)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration (use a form such as 30s or 12h)", key, raw)
			}
			f.SetInt(int64(d))
		}
	}
	return nil
}

// Validate checks every setting and names the key of the first wrong one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if err := c.openSealed(); err != nil { // settings changed after LoadConfig may be encrypted too
		errs = append(errs, err)
	}
	if _, port, err := net.SplitHostPort(c.HTTPAddr); err != nil || !validPort(port) {
		bad("HERALD_HTTP_ADDR", "%q must be host:port or :port", c.HTTPAddr)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("HERALD_PUBLIC_URL", "%q must be an http(s) URL", c.PublicURL)
	}
	c.DBDriver = strings.ToLower(strings.TrimSpace(c.DBDriver))
	switch c.DBDriver {
	case "", "mysql":
		c.DBDriver = "mysql"
		if c.MySQLDSN == "" {
			bad("HERALD_MYSQL_DSN", "must not be empty")
		}
	case "oracle":
		if !store.OracleSupported() {
			bad("HERALD_DB_DRIVER", "oracle: %v", store.ErrNoOracle)
		}
		if c.OracleDSN == "" {
			bad("HERALD_ORACLE_DSN", `must not be empty when HERALD_DB_DRIVER is oracle (godror form: user="herald" password="…" connectString="db:1521/HERALD")`)
		}
	default:
		bad("HERALD_DB_DRIVER", "%q must be mysql or oracle", c.DBDriver)
	}
	if !validIdent(c.DBPrefix) {
		bad("HERALD_DB_PREFIX", "%q must be letters, digits and _ (at most 40)", c.DBPrefix)
	}
	if c.StatsShards < 1 || c.StatsShards > 256 {
		bad("HERALD_STATS_SHARDS", "%d must be between 1 and 256", c.StatsShards)
	}
	if c.HistoryShards < 1 || c.HistoryShards > 256 {
		bad("HERALD_HISTORY_SHARDS", "%d must be between 1 and 256", c.HistoryShards)
	}
	if len(c.StatsDSNs) > c.StatsShards {
		bad("stats_dsns", "has %d entries for %d shards", len(c.StatsDSNs), c.StatsShards)
	}
	if len(c.HistoryDSNs) > c.HistoryShards {
		bad("history_dsns", "has %d entries for %d shards", len(c.HistoryDSNs), c.HistoryShards)
	}
	if !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		bad("HERALD_REDIS_URL", "%q must start with redis:// or rediss://", c.RedisURL)
	}
	if !strings.HasPrefix(c.AMQPURL, "amqp://") && !strings.HasPrefix(c.AMQPURL, "amqps://") {
		bad("HERALD_AMQP_URL", "must start with amqp:// or amqps://")
	}
	if c.AMQPPrefix == "" {
		bad("HERALD_AMQP_PREFIX", "must not be empty")
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		bad("HERALD_ADMIN_EMAIL", "HERALD_ADMIN_EMAIL and HERALD_ADMIN_PASSWORD are set together")
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 8 {
		bad("HERALD_ADMIN_PASSWORD", "must be at least 8 characters")
	}
	if c.SessionSecret != "" && len(c.SessionSecret) < 32 {
		bad("HERALD_SESSION_SECRET", "must be at least 32 characters")
	}
	if c.TrackingKey != "" && len(c.TrackingKey) < 32 {
		bad("HERALD_TRACKING_KEY", "must be at least 32 characters")
	}
	if c.SessionTTL < time.Minute {
		bad("HERALD_SESSION_TTL", "%s is shorter than a minute", c.SessionTTL)
	}
	if _, err := c.Location(); err != nil {
		bad("HERALD_TIME_ZONE", "%q is not a time zone name such as Asia/Shanghai", c.TimeZone)
	}
	if c.DayTablesAhead < 1 || c.DayTablesAhead > 60 {
		bad("HERALD_DAY_TABLES_AHEAD", "%d must be between 1 and 60", c.DayTablesAhead)
	}
	for key, n := range map[string]int{"HERALD_REALTIME_WORKERS": c.RealtimeWorkers, "HERALD_BULK_WORKERS": c.BulkWorkers, "HERALD_RECEIPT_WORKERS": c.ReceiptWorkers} {
		if n < 1 || n > 1024 {
			bad(key, "%d must be between 1 and 1024", n)
		}
	}
	if _, err := dispatch.ParseLanes(c.WorkerLanes); err != nil {
		bad("HERALD_WORKER_LANES", "%s", err)
	}
	if c.BulkYield < 0 || c.BulkYield > time.Second {
		bad("HERALD_BULK_YIELD", "%s must be between 0 (never wait) and 1s", c.BulkYield)
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("HERALD_LOG_LEVEL", "%q must be debug, info, warn or error", c.LogLevel)
	}
	if c.RetentionDays < 0 || (c.RetentionDays > 0 && c.RetentionDays < 2) || c.RetentionDays > 3660 {
		bad("HERALD_RETENTION_DAYS", "%d must be 0 (keep everything) or between 2 and 3660", c.RetentionDays)
	}
	if c.HistoryRetentionDays < 0 || c.HistoryRetentionDays > 3660 {
		bad("HERALD_HISTORY_RETENTION_DAYS", "%d must be 0 (keep everything) or between 1 and 3660", c.HistoryRetentionDays)
	}
	if c.StatsMaxDays < 1 || c.StatsMaxDays > 3660 {
		bad("HERALD_STATS_MAX_DAYS", "%d must be between 1 and 3660", c.StatsMaxDays)
	}
	if _, err := netguard.ParseAllow(c.WebhookAllow); err != nil {
		bad("HERALD_WEBHOOK_ALLOW", "%s", err)
	}
	if _, err := c.Rates(); err != nil {
		bad("HERALD_PROVIDER_RATES", "%s", err)
	}
	if _, err := c.Key(); err != nil {
		bad("HERALD_SECRET_KEY", "%s", err)
	}
	if _, err := c.MutationLimit(); err != nil {
		bad("HERALD_MUTATION_RATE", "%s", err)
	}
	if c.MutationBurst < 1 || c.MutationBurst > 1000000 {
		bad("HERALD_MUTATION_BURST", "%d must be between 1 and 1000000", c.MutationBurst)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("HERALD_LOG_FORMAT", "%q must be text or json", c.LogFormat)
	}
	if c.ShutdownGrace < 0 {
		bad("HERALD_SHUTDOWN_GRACE", "%s must not be negative", c.ShutdownGrace)
	}
	c.ShutdownGrace = cmp.Or(c.ShutdownGrace, 30*time.Second)
	return errors.Join(errs...)
}

// Rates parses ProviderRates into messages per second by provider name.
func (c *Config) Rates() (map[string]float64, error) {
	out := map[string]float64{}
	for _, part := range splitList(c.ProviderRates) {
		name, v, ok := strings.Cut(part, "=")
		rate, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || strings.TrimSpace(name) == "" || err != nil || rate <= 0 || rate > 1e6 {
			return nil, fmt.Errorf("%q must be provider=messages per second, such as aliyun=500", part)
		}
		out[strings.TrimSpace(name)] = rate
	}
	for name, rate := range providers.Rates(c.ProviderAccounts) {
		out[name] = rate // an account's own rate wins over HERALD_PROVIDER_RATES
	}
	return out, nil
}

// Location is the time zone that names day tables and statistics days.
func (c *Config) Location() (*time.Location, error) {
	if c.TimeZone == "" || c.TimeZone == "Local" {
		return time.Local, nil
	}
	return time.LoadLocation(c.TimeZone)
}

// validPort reports whether port is a TCP port number (0 lets the system choose).
func validPort(port string) bool {
	_, err := strconv.ParseUint(port, 10, 16)
	return err == nil
}

func validIdent(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// DatabaseDSN is the DSN of the configured driver: OracleDSN for oracle, else MySQLDSN.
func (c Config) DatabaseDSN() string {
	if c.DBDriver == "oracle" {
		return c.OracleDSN
	}
	return c.MySQLDSN
}
