package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/server"
)

// writeConfigFile writes a YAML config file into the test's temporary directory.
func writeConfigFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestLoadConfigDefaultsNeedNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
	}{
		{"no environment", nil},
		{"unrelated variables are ignored", []string{"PATH=/usr/bin", "HOME=/root", "HERALDX_HTTP_ADDR=nonsense", "herald_stats_shards=0", "NOEQUALS"}},
		{"empty file", nil},
		{"comments only", nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			switch i {
			case 2:
				path = writeConfigFile(t, "")
			case 3:
				path = writeConfigFile(t, "# every setting has a default\n# http_addr: \":8080\"\n")
			}
			cfg, err := server.LoadConfig(path, tt.env)
			require.NoError(t, err)
			require.Equal(t, server.DefaultConfig(), cfg)
		})
	}

	// The defaults are the ones API.md promises.
	d := server.DefaultConfig()
	require.Equal(t, ":8080", d.HTTPAddr)
	require.Equal(t, "http://127.0.0.1:8080", d.PublicURL)
	require.Equal(t, "root@tcp(127.0.0.1:3306)/", d.MySQLDSN)
	require.Equal(t, "herald", d.DBPrefix)
	require.Equal(t, 2, d.StatsShards)
	require.Equal(t, 2, d.HistoryShards)
	require.Equal(t, "redis://127.0.0.1:6379/0", d.RedisURL)
	require.Equal(t, "herald:", d.RedisPrefix)
	require.Equal(t, "amqp://guest:guest@127.0.0.1:5672/", d.AMQPURL)
	require.Equal(t, "herald.", d.AMQPPrefix)
	require.Empty(t, d.Providers)
	require.Empty(t, d.AdminEmail)
	require.False(t, d.Dev)
}

func TestLoadConfigEnvironmentWinsOverFile(t *testing.T) {
	t.Parallel()
	path := writeConfigFile(t, `
http_addr: ":9000"
public_url: "https://herald.example.com"
stats_shards: 4
history_shards: 3
stats_dsns: ["root@tcp(10.0.0.1:3306)/", ""]
session_ttl: 2h
dev: true
time_zone: Asia/Shanghai
log_format: json
`)
	env := []string{
		"HERALD_HTTP_ADDR=127.0.0.1:9100",
		"HERALD_STATS_SHARDS=8",
		"HERALD_SESSION_TTL=90m",
		"HERALD_DEV=false",
		"HERALD_ADMIN_EMAIL=admin@example.com",
		"HERALD_ADMIN_PASSWORD=a=b=c=d-long", // values may contain '='
	}
	cfg, err := server.LoadConfig(path, env)
	require.NoError(t, err)

	tests := []struct {
		name      string
		got, want any
	}{
		{"env over file", cfg.HTTPAddr, "127.0.0.1:9100"},
		{"env over file int", cfg.StatsShards, 8},
		{"env over file duration", cfg.SessionTTL, 90 * time.Minute},
		{"env false over file true", cfg.Dev, false},
		{"env only", cfg.AdminEmail, "admin@example.com"},
		{"env value with =", cfg.AdminPassword, "a=b=c=d-long"},
		{"file only", cfg.PublicURL, "https://herald.example.com"},
		{"file only int", cfg.HistoryShards, 3},
		{"file only list", cfg.StatsDSNs, []string{"root@tcp(10.0.0.1:3306)/", ""}},
		{"file only zone", cfg.TimeZone, "Asia/Shanghai"},
		{"file only enum", cfg.LogFormat, "json"},
		{"default", cfg.RedisURL, "redis://127.0.0.1:6379/0"},
		{"default duration", cfg.ShutdownGrace, 30 * time.Second},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.got, tt.name)
	}
	loc, err := cfg.Location()
	require.NoError(t, err)
	require.Equal(t, "Asia/Shanghai", loc.String())
}

func TestLoadConfigInvalidValueNamesItsKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		yaml    string // file content; empty: no file
		env     []string
		wantKey string
	}{
		{"zero stats shards", "", []string{"HERALD_STATS_SHARDS=0"}, "HERALD_STATS_SHARDS"},
		{"stats shards not a number", "", []string{"HERALD_STATS_SHARDS=two"}, "HERALD_STATS_SHARDS"},
		{"too many history shards", "", []string{"HERALD_HISTORY_SHARDS=257"}, "HERALD_HISTORY_SHARDS"},
		{"http addr without port", "", []string{"HERALD_HTTP_ADDR=nonsense"}, "HERALD_HTTP_ADDR"},
		{"http addr with two colons", "", []string{"HERALD_HTTP_ADDR=a:b:c"}, "HERALD_HTTP_ADDR"},
		{"http addr with a bad port", "", []string{"HERALD_HTTP_ADDR=:99999"}, "HERALD_HTTP_ADDR"},
		{"http addr empty", "", []string{"HERALD_HTTP_ADDR="}, "HERALD_HTTP_ADDR"},
		{"public url not http", "", []string{"HERALD_PUBLIC_URL=ftp://example.com"}, "HERALD_PUBLIC_URL"},
		{"public url without host", "", []string{"HERALD_PUBLIC_URL=http://"}, "HERALD_PUBLIC_URL"},
		{"empty mysql dsn", "", []string{"HERALD_MYSQL_DSN="}, "HERALD_MYSQL_DSN"},
		{"db prefix with a dash", "", []string{"HERALD_DB_PREFIX=her-ald"}, "HERALD_DB_PREFIX"},
		{"db prefix too long", "", []string{"HERALD_DB_PREFIX=" + strings.Repeat("h", 41)}, "HERALD_DB_PREFIX"},
		{"redis url scheme", "", []string{"HERALD_REDIS_URL=127.0.0.1:6379"}, "HERALD_REDIS_URL"},
		{"amqp url scheme", "", []string{"HERALD_AMQP_URL=http://127.0.0.1:5672"}, "HERALD_AMQP_URL"},
		{"empty amqp prefix", "", []string{"HERALD_AMQP_PREFIX="}, "HERALD_AMQP_PREFIX"},
		{"bad session ttl", "", []string{"HERALD_SESSION_TTL=soon"}, "HERALD_SESSION_TTL"},
		{"session ttl without unit", "", []string{"HERALD_SESSION_TTL=3600"}, "HERALD_SESSION_TTL"},
		{"session ttl too short", "", []string{"HERALD_SESSION_TTL=30s"}, "HERALD_SESSION_TTL"},
		{"bad shutdown grace", "", []string{"HERALD_SHUTDOWN_GRACE=later"}, "HERALD_SHUTDOWN_GRACE"},
		{"negative shutdown grace", "", []string{"HERALD_SHUTDOWN_GRACE=-5s"}, "HERALD_SHUTDOWN_GRACE"},
		{"dev not a boolean", "", []string{"HERALD_DEV=maybe"}, "HERALD_DEV"},
		{"demo not a boolean", "", []string{"HERALD_DEMO=yes please"}, "HERALD_DEMO"},
		{"admin email without password", "", []string{"HERALD_ADMIN_EMAIL=admin@example.com"}, "HERALD_ADMIN_EMAIL"},
		{"admin password without email", "", []string{"HERALD_ADMIN_PASSWORD=long-enough-secret"}, "HERALD_ADMIN_EMAIL"},
		{"admin password too short", "", []string{"HERALD_ADMIN_EMAIL=admin@example.com", "HERALD_ADMIN_PASSWORD=short"}, "HERALD_ADMIN_PASSWORD"},
		{"session secret too short", "", []string{"HERALD_SESSION_SECRET=short"}, "HERALD_SESSION_SECRET"},
		{"bad time zone", "", []string{"HERALD_TIME_ZONE=Mars/Olympus_Mons"}, "HERALD_TIME_ZONE"},
		{"day tables ahead zero", "", []string{"HERALD_DAY_TABLES_AHEAD=0"}, "HERALD_DAY_TABLES_AHEAD"},
		{"day tables ahead too many", "", []string{"HERALD_DAY_TABLES_AHEAD=61"}, "HERALD_DAY_TABLES_AHEAD"},
		{"no realtime workers", "", []string{"HERALD_REALTIME_WORKERS=0"}, "HERALD_REALTIME_WORKERS"},
		{"too many bulk workers", "", []string{"HERALD_BULK_WORKERS=1025"}, "HERALD_BULK_WORKERS"},
		{"unknown worker lane", "", []string{"HERALD_WORKER_LANES=realtime,sms"}, `HERALD_WORKER_LANES: "sms" is not a lane`},
		{"worker lane twice", "", []string{"HERALD_WORKER_LANES=bulk,bulk"}, "HERALD_WORKER_LANES: lane bulk is named twice"},
		{"negative bulk yield", "", []string{"HERALD_BULK_YIELD=-1ms"}, "HERALD_BULK_YIELD"},
		{"bulk yield too long", "", []string{"HERALD_BULK_YIELD=2s"}, "HERALD_BULK_YIELD"},
		{"negative receipt workers", "", []string{"HERALD_RECEIPT_WORKERS=-1"}, "HERALD_RECEIPT_WORKERS"},
		{"unknown log level", "", []string{"HERALD_LOG_LEVEL=verbose"}, "HERALD_LOG_LEVEL"},
		{"stats max days zero", "", []string{"HERALD_STATS_MAX_DAYS=0"}, "HERALD_STATS_MAX_DAYS"},
		{"negative history retention", "", []string{"HERALD_HISTORY_RETENTION_DAYS=-1"}, "HERALD_HISTORY_RETENTION_DAYS"},
		{"unknown log format", "", []string{"HERALD_LOG_FORMAT=xml"}, "HERALD_LOG_FORMAT"},
		{"unknown yaml key", "http_adr: \":9000\"\n", nil, "http_adr"},
		{"yaml bad duration", "session_ttl: soon\n", nil, "session_ttl"},
		{"yaml int as text", "log_level: info\nstats_shards: two\n", nil, "stats_shards"},
		{"yaml bool as text", "dev: maybe\n", nil, "dev"},
		{"yaml list for a string", "http_addr: [1, 2]\n", nil, "http_addr"},
		{"yaml zero shards", "stats_shards: 0\n", nil, "HERALD_STATS_SHARDS"},
		{"yaml more dsns than shards", "stats_shards: 1\nstats_dsns: [a, b]\n", nil, "stats_dsns"},
		{"yaml more history dsns than shards", "history_dsns: [a, b, c]\n", nil, "history_dsns"},
		{"yaml not a mapping", "- http_addr\n", nil, "mapping of settings"},
		{"yaml key set twice", "dev: true\ndev: false\n", nil, "dev is set twice"},
		{"yaml syntax", "http_addr: [\n", nil, "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.yaml != "" {
				path = writeConfigFile(t, tt.yaml)
			}
			_, err := server.LoadConfig(path, tt.env)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantKey)
		})
	}
}

func TestLoadConfigReportsEveryBadKey(t *testing.T) {
	t.Parallel()
	_, err := server.LoadConfig("", []string{"HERALD_STATS_SHARDS=0", "HERALD_LOG_LEVEL=loud", "HERALD_TIME_ZONE=Nowhere/Town"})
	require.Error(t, err)
	for _, key := range []string{"HERALD_STATS_SHARDS", "HERALD_LOG_LEVEL", "HERALD_TIME_ZONE"} {
		require.Contains(t, err.Error(), key)
	}
	// A valid value of the same setting is not reported.
	require.NotContains(t, err.Error(), "HERALD_HISTORY_SHARDS")
}

func TestLoadConfigMissingFile(t *testing.T) {
	t.Parallel()
	_, err := server.LoadConfig(filepath.Join(t.TempDir(), "absent.yaml"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestLoadConfigAcceptedEdges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, cfg server.Config)
	}{
		{"host and port", []string{"HERALD_HTTP_ADDR=0.0.0.0:80"}, func(t *testing.T, cfg server.Config) {
			require.Equal(t, "0.0.0.0:80", cfg.HTTPAddr)
		}},
		{"ipv6 host", []string{"HERALD_HTTP_ADDR=[::1]:8080"}, func(t *testing.T, cfg server.Config) {
			require.Equal(t, "[::1]:8080", cfg.HTTPAddr)
		}},
		{"one shard and most shards", []string{"HERALD_STATS_SHARDS=1", "HERALD_HISTORY_SHARDS=256"}, func(t *testing.T, cfg server.Config) {
			require.Equal(t, 1, cfg.StatsShards)
			require.Equal(t, 256, cfg.HistoryShards)
		}},
		{"redis cluster list and tls", []string{"HERALD_REDIS_URL=rediss://a:6379,b:6379", "HERALD_AMQP_URL=amqps://mq.example.com/"}, func(t *testing.T, cfg server.Config) {
			require.Equal(t, "rediss://a:6379,b:6379", cfg.RedisURL)
		}},
		{"upper-case log level", []string{"HERALD_LOG_LEVEL=DEBUG"}, func(t *testing.T, cfg server.Config) {
			require.Equal(t, "DEBUG", cfg.LogLevel)
		}},
		{"zero shutdown grace takes the default", []string{"HERALD_SHUTDOWN_GRACE=0s"}, func(t *testing.T, cfg server.Config) {
			require.Equal(t, 30*time.Second, cfg.ShutdownGrace)
		}},
		{"admin pair", []string{"HERALD_ADMIN_EMAIL=a@b.example", "HERALD_ADMIN_PASSWORD=12345678"}, func(t *testing.T, cfg server.Config) {
			require.Equal(t, "12345678", cfg.AdminPassword)
		}},
		{"utc", []string{"HERALD_TIME_ZONE=UTC"}, func(t *testing.T, cfg server.Config) {
			loc, err := cfg.Location()
			require.NoError(t, err)
			require.Equal(t, time.UTC, loc)
		}},
		{"local", []string{"HERALD_TIME_ZONE=Local"}, func(t *testing.T, cfg server.Config) {
			loc, err := cfg.Location()
			require.NoError(t, err)
			require.Equal(t, time.Local, loc)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := server.LoadConfig("", tt.env)
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

func TestPublicURLFollowsTheListeningPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  []string
		want string
	}{
		{nil, "http://127.0.0.1:8080"},
		{[]string{"HERALD_HTTP_ADDR=:28080"}, "http://127.0.0.1:28080"},
		{[]string{"HERALD_HTTP_ADDR=10.0.0.5:9000"}, "http://10.0.0.5:9000"},
		{[]string{"HERALD_HTTP_ADDR=:28080", "HERALD_PUBLIC_URL=https://herald.example.com"}, "https://herald.example.com"},
	}
	for _, tt := range tests {
		cfg, err := server.LoadConfig("", tt.env)
		require.NoError(t, err)
		require.Equal(t, tt.want, cfg.PublicURL, "%v", tt.env)
	}
}

func TestProviderRates(t *testing.T) {
	t.Parallel()
	cfg, err := server.LoadConfig("", []string{"HERALD_PROVIDER_RATES=aliyun=500, webhook=2.5"})
	require.NoError(t, err)
	rates, err := cfg.Rates()
	require.NoError(t, err)
	require.Equal(t, map[string]float64{"aliyun": 500, "webhook": 2.5}, rates)
	for _, bad := range []string{"aliyun", "aliyun=0", "=5", "aliyun=fast"} {
		_, err := server.LoadConfig("", []string{"HERALD_PROVIDER_RATES=" + bad})
		require.ErrorContains(t, err, "HERALD_PROVIDER_RATES", bad)
	}
}
