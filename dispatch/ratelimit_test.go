package dispatch

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/store/storetest"
)

// The rate limiter tests run on the real Redis (HERALD_TEST_REDIS_URL), each under its own
// key prefix whose keys are unlinked when the test ends.

// rateLimitTestRedis returns a new client of the test Redis, closed when t ends; each call is
// another connection pool, as another Herald process would have.
func rateLimitTestRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := cmp.Or(os.Getenv("HERALD_TEST_REDIS_URL"), "redis://127.0.0.1:6379/0")
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(context.Background()).Err(), "Redis at %s", url)
	return rdb
}

// rateLimitTestBundle is what a rate limiter test works with.
type rateLimitTestBundle struct {
	ctx     context.Context
	rdb     *redis.Client
	prefix  string
	limiter *RateLimiter
}

// setupRateLimitTest gives a test a limiter under a prefix of its own.
func setupRateLimitTest(t *testing.T) *rateLimitTestBundle {
	t.Helper()
	rdb := rateLimitTestRedis(t)
	prefix := storetest.Prefix() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, unlinkPrefix(ctx, rdb, prefix))
	})
	return &rateLimitTestBundle{ctx: context.Background(), rdb: rdb, prefix: prefix, limiter: NewRateLimiter(rdb, prefix, nil)}
}

// unlinkPrefix deletes the keys under prefix with SCAN and UNLINK.
func unlinkPrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	pattern := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(prefix) + "*"
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

func TestRateLimiterTakeGrantsBurstAtOnce(t *testing.T) {
	t.Parallel()
	tb := setupRateLimitTest(t)

	// A slow refill (one token per 100 s) keeps the bucket where the takes leave it.
	const rate = 0.01
	tests := []struct {
		name     string
		burst    int
		takes    []int
		want     []int
		waitZero []bool
	}{
		{name: "whole burst", burst: 10, takes: []int{10, 1}, want: []int{10, 0}, waitZero: []bool{false, false}},
		{name: "more than burst", burst: 10, takes: []int{15}, want: []int{10}, waitZero: []bool{false}},
		{name: "partial grant", burst: 10, takes: []int{4, 4, 4, 4}, want: []int{4, 4, 2, 0}, waitZero: []bool{true, true, false, false}},
		{name: "burst of one", burst: 1, takes: []int{1, 1}, want: []int{1, 0}, waitZero: []bool{false, false}},
		{name: "zero", burst: 3, takes: []int{0, 3}, want: []int{0, 3}, waitZero: []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, n := range tt.takes {
				granted, wait, err := tb.limiter.Take(tb.ctx, tt.name, n, rate, tt.burst)
				require.NoError(t, err)
				require.Equal(t, tt.want[i], granted, "take %d of %d", i, n)
				if tt.waitZero[i] {
					require.Zero(t, wait, "take %d: a token is left", i)
				} else {
					require.Greater(t, wait, 90*time.Second, "take %d: the next token is ~100 s away", i)
				}
			}
		})
	}
}

func TestRateLimiterIdleBucketHoldsAtMostBurst(t *testing.T) {
	t.Parallel()
	tb := setupRateLimitTest(t)

	tests := []struct {
		name  string
		idle  int64 // seconds
		rate  float64
		burst int
		want  int
	}{
		{name: "long idle refills to burst only", idle: 100, rate: 10, burst: 5, want: 5},
		{name: "short idle refills by rate", idle: 2, rate: 1, burst: 10, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			granted, _, err := tb.limiter.Take(tb.ctx, tt.name, tt.burst, tt.rate, tt.burst)
			require.NoError(t, err)
			require.Equal(t, tt.burst, granted)
			// Move the bucket's last refill back, as if it had been idle.
			require.NoError(t, tb.rdb.HIncrBy(tb.ctx, tb.prefix+"ratelimit:{"+tt.name+"}", "sec", -tt.idle).Err())
			granted, _, err = tb.limiter.Take(tb.ctx, tt.name, 1000, tt.rate, tt.burst)
			require.NoError(t, err)
			require.Equal(t, tt.want, granted)
		})
	}
}

func TestRateLimiterBucketKey(t *testing.T) {
	t.Parallel()
	tb := setupRateLimitTest(t)

	granted, _, err := tb.limiter.Take(tb.ctx, "sms:aliyun", 1, 10, 10)
	require.NoError(t, err)
	require.Equal(t, 1, granted)

	key := tb.prefix + "ratelimit:{sms:aliyun}"
	n, err := tb.rdb.Exists(tb.ctx, key).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "bucket key %s", key)
	ttl, err := tb.rdb.PTTL(tb.ctx, key).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Duration(0), "a bucket expires once it would be full again")
	require.LessOrEqual(t, ttl, 2*time.Second)
}

func TestRateLimiterTakeRejectsInvalidArguments(t *testing.T) {
	t.Parallel()
	tb := setupRateLimitTest(t)

	tests := []struct {
		name  string
		n     int
		rate  float64
		burst int
	}{
		{name: "negative count", n: -1, rate: 1, burst: 1},
		{name: "zero rate", n: 1, rate: 0, burst: 1},
		{name: "negative rate", n: 1, rate: -5, burst: 1},
		{name: "zero burst", n: 1, rate: 1, burst: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tb.limiter.Take(tb.ctx, "k", tt.n, tt.rate, tt.burst)
			require.ErrorIs(t, err, ErrRateLimitArgs)
			require.ErrorIs(t, tb.limiter.Wait(tb.ctx, "k", tt.n, tt.rate, tt.burst), ErrRateLimitArgs)
		})
	}
}

func TestRateLimiterWaitRespectsRefillRate(t *testing.T) {
	t.Parallel()
	tb := setupRateLimitTest(t)

	// The bucket starts full with one second's worth; the other two seconds' worth refill.
	const rate = 50
	start := time.Now()
	require.NoError(t, tb.limiter.Wait(tb.ctx, "email", 3*rate, rate, rate))
	require.GreaterOrEqual(t, time.Since(start), 1900*time.Millisecond)
}

func TestRateLimiterSharedAcrossProcesses(t *testing.T) {
	t.Parallel()
	tb := setupRateLimitTest(t)
	other := NewRateLimiter(rateLimitTestRedis(t), tb.prefix, nil)

	granted, _, err := tb.limiter.Take(tb.ctx, "sms", 6, 0.01, 10)
	require.NoError(t, err)
	require.Equal(t, 6, granted)
	granted, _, err = other.Take(tb.ctx, "sms", 10, 0.01, 10)
	require.NoError(t, err)
	require.Equal(t, 4, granted, "the second process sees what the first took")
	granted, _, err = tb.limiter.Take(tb.ctx, "sms", 1, 0.01, 10)
	require.NoError(t, err)
	require.Zero(t, granted)

	// Another key is another bucket.
	granted, _, err = other.Take(tb.ctx, "voice", 10, 0.01, 10)
	require.NoError(t, err)
	require.Equal(t, 10, granted)
}

func TestRateLimiterConcurrentTakersStayWithinBudget(t *testing.T) {
	t.Parallel()
	tb := setupRateLimitTest(t)
	limiters := []*RateLimiter{tb.limiter, NewRateLimiter(rateLimitTestRedis(t), tb.prefix, nil)}

	const (
		rate    = 200
		burst   = 20
		takers  = 16
		window  = time.Second
		perTake = 3
	)
	var granted atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range takers {
		wg.Go(func() {
			l := limiters[i%len(limiters)]
			for time.Since(start) < window {
				n, _, err := l.Take(tb.ctx, "push", perTake, rate, burst)
				if err != nil {
					t.Errorf("Take: %v", err)
					return
				}
				granted.Add(int64(n))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	// The server's clock saw no more than the wall time between the first take and the last.
	budget := burst + int64(elapsed.Seconds()*rate) + 1
	require.LessOrEqual(t, granted.Load(), budget, "granted over %s", elapsed)
	require.Greater(t, granted.Load(), int64(burst), "the bucket refilled during the window")
}

func TestRateLimiterWaitReturnsWhenContextEnds(t *testing.T) {
	t.Parallel()
	tb := setupRateLimitTest(t)

	// The next token is 100 s away once the bucket is drained.
	granted, _, err := tb.limiter.Take(tb.ctx, "voice", 1, 0.01, 1)
	require.NoError(t, err)
	require.Equal(t, 1, granted)

	key := tb.prefix + "ratelimit:{voice}"
	before, err := tb.rdb.HGetAll(tb.ctx, key).Result()
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(tb.ctx)
	done := make(chan error, 1)
	go func() { done <- tb.limiter.Wait(ctx, "voice", 1, 0.01, 1) }()
	// Cancel once Wait has tried the bucket (its take rewrites it) and is waiting.
	require.Eventually(t, func() bool {
		after, err := tb.rdb.HGetAll(tb.ctx, key).Result()
		return err == nil && !maps.Equal(before, after)
	}, 5*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after its context was canceled")
	}
}

func TestRateLimiterRedisFailureIsAnError(t *testing.T) {
	t.Parallel()

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	l := NewRateLimiter(rdb, "herald-test-unreachable:", nil)

	granted, _, err := l.Take(context.Background(), "sms", 5, 10, 10)
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrRateLimitArgs))
	require.Zero(t, granted)
	require.Error(t, l.Wait(context.Background(), "sms", 5, 10, 10))
}
