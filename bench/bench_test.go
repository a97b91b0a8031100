package bench_test

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/bench"
)

// The baselines run on the machine's real RabbitMQ, Redis and MariaDB (HERALD_TEST_* or the
// local defaults), each test under its own name.

func TestBaselines(t *testing.T) {
	t.Parallel()
	cfg := bench.BaselineConfig{Duration: 500 * time.Millisecond, Name: bench.NewName()}
	res, err := bench.Baselines(t.Context(), cfg)
	require.NoError(t, err)
	for name, m := range map[string]bench.Measurement{"amqp": res.AMQP, "redis": res.Redis, "mysql": res.MySQL, "http": res.HTTP} {
		t.Logf("%-5s %s", name, m)
		require.Positive(t, m.Count, name)
		require.Positive(t, m.Seconds, name)
		require.InDelta(t, float64(m.Count)/m.Seconds, m.Rate, 1e-6*m.Rate, name)
		require.Less(t, m.Seconds, 10.0, "%s is bounded in time", name)
	}
	requireCleanedUp(t, cfg.Name)
}

// Each baseline stops at its count when that comes before its time.
func TestBaselinesStopAtTheirCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(context.Context, bench.BaselineConfig) (bench.Measurement, error)
		cfg  bench.BaselineConfig
		want int64
	}{
		{"amqp", bench.AMQP, bench.BaselineConfig{Messages: 1234}, 1234},
		{"redis", bench.Redis, bench.BaselineConfig{Keys: 2500}, 2500},
		{"mysql", bench.MySQL, bench.BaselineConfig{Rows: 1500}, 2000}, // whole INSERTs
		{"http", bench.HTTP, bench.BaselineConfig{Requests: 300}, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.Duration = time.Minute
			tt.cfg.Name = bench.NewName()
			m, err := tt.run(t.Context(), tt.cfg)
			require.NoError(t, err)
			require.Equal(t, tt.want, m.Count)
			require.Less(t, m.Seconds, 30.0)
			requireCleanedUp(t, tt.cfg.Name)
		})
	}
}

func TestBaselinesRejectBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  bench.BaselineConfig
		want string
	}{
		{"name with a quote", bench.BaselineConfig{Name: "x`; DROP DATABASE mysql"}, "Name"},
		{"negative duration", bench.BaselineConfig{Duration: -time.Second}, "Duration"},
		{"negative count", bench.BaselineConfig{Rows: -1}, "Rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := bench.Baselines(t.Context(), tt.cfg)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// requireCleanedUp checks that the queue, Redis keys and database of name are gone.
func requireCleanedUp(t *testing.T, name string) {
	t.Helper()
	ctx := t.Context()

	conn, err := amqp.Dial(cmp.Or(os.Getenv("HERALD_TEST_AMQP_URL"), bench.DefaultAMQPURL))
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclarePassive(name, true, false, false, false, nil)
	var aerr *amqp.Error
	require.True(t, errors.As(err, &aerr) && aerr.Code == amqp.NotFound, "queue %s must be deleted, got %v", name, err)

	opts, err := redis.ParseURL(cmp.Or(os.Getenv("HERALD_TEST_REDIS_URL"), bench.DefaultRedisURL))
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	keys, _, err := rdb.Scan(ctx, 0, name+":*", 100_000).Result()
	require.NoError(t, err)
	require.Empty(t, keys, "Redis keys %s:* must be deleted", name)

	db, err := sql.Open("mysql", cmp.Or(os.Getenv("HERALD_TEST_MYSQL_DSN"), bench.DefaultMySQLDSN))
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n))
	require.Zero(t, n, "database %s must be dropped", name)
}

func TestPercentiles(t *testing.T) {
	t.Parallel()
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	seq := func(n int) []time.Duration { // 1..n ms, shuffled by reversal
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(n-i) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name          string
		in            []time.Duration
		p50, p95, p99 time.Duration
	}{
		{"none", nil, 0, 0, 0},
		{"one", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"two", ms(9, 1), 1 * time.Millisecond, 9 * time.Millisecond, 9 * time.Millisecond},
		{"ten", seq(10), 5 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
		{"a hundred", seq(100), 50 * time.Millisecond, 95 * time.Millisecond, 99 * time.Millisecond},
		{"a thousand", seq(1000), 500 * time.Millisecond, 950 * time.Millisecond, 990 * time.Millisecond},
		{"an outlier", ms(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1000), time.Millisecond, time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			orig := append([]time.Duration(nil), tt.in...)
			p50, p95, p99 := bench.Percentiles(tt.in)
			require.Equal(t, tt.p50, p50, "p50")
			require.Equal(t, tt.p95, p95, "p95")
			require.Equal(t, tt.p99, p99, "p99")
			require.Equal(t, orig, tt.in, "the input is not changed")
		})
	}
}
