package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrRateLimitArgs reports a Take or Wait call with a rate, burst or count that cannot be
// limited (a rate or burst that is not positive, a negative count).
var ErrRateLimitArgs = errors.New("invalid rate limit arguments")

// takeScript refills a token bucket by the time elapsed on the Redis server's clock and takes
// up to ARGV[3] whole tokens from it.
//
// KEYS[1] is the bucket, a hash of tokens (a float) and the time of the last refill as
// seconds and microseconds (kept as Redis returned them: a Lua number would lose digits when
// Redis turns it into a string). ARGV is rate (tokens per second), burst and the count
// wanted. It returns the tokens granted and the microseconds until the next whole token. A
// bucket expires once it would have refilled to burst, which is the same as a full bucket.
var takeScript = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local now = redis.call('TIME')
local sec, usec = tonumber(now[1]), tonumber(now[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'sec', 'usec')
local tokens = tonumber(b[1])
local lsec, lusec = tonumber(b[2]), tonumber(b[3])
if tokens == nil or lsec == nil or lusec == nil then
  tokens = burst
else
  local elapsed = (sec - lsec) + (usec - lusec) / 1000000
  if elapsed > 0 then
    tokens = tokens + elapsed * rate
  end
end
if tokens > burst then
  tokens = burst
end
local granted = math.floor(tokens)
if granted > want then
  granted = want
end
if granted < 0 then
  granted = 0
end
tokens = tokens - granted
local wait = 0
if tokens < 1 then
  wait = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'sec', now[1], 'usec', now[2])
redis.call('PEXPIRE', KEYS[1], math.min(math.ceil(burst / rate * 1000) + 1000, 1e12))
return {granted, wait}
`)

// RateLimiter is a token bucket per key (such as a provider name) kept in Redis, so that
// every Herald process sending through a provider shares one budget. Refills follow the
// Redis server's clock, so the processes' clocks need not agree.
type RateLimiter struct {
	rdb    redis.UniversalClient
	prefix string
	logger *slog.Logger
	// failing is set while Redis calls fail, so that an outage is logged once, not per call.
	failing atomic.Bool
}

// NewRateLimiter returns a limiter keeping its buckets in rdb under prefix.
func NewRateLimiter(rdb redis.UniversalClient, prefix string, logger *slog.Logger) *RateLimiter {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &RateLimiter{rdb: rdb, prefix: prefix, logger: logger.With("component", "dispatch.ratelimit")}
}

// bucketKey is the Redis key of key's bucket; the hash tag keeps a bucket on one slot of a
// cluster whatever the prefix holds.
func (l *RateLimiter) bucketKey(key string) string {
	return l.prefix + "ratelimit:{" + key + "}"
}

// Take grants up to n tokens of key's bucket now (possibly fewer, possibly none) and says
// how long until the bucket holds its next whole token (zero when it holds one already).
// The bucket holds at most burst tokens and refills at ratePerSecond.
//
// When Redis fails, Take returns zero tokens and the error; a caller that prefers sending to
// enforcing the limit during a Redis outage treats that error as permission (fails open).
func (l *RateLimiter) Take(ctx context.Context, key string, n int, ratePerSecond float64, burst int) (granted int, wait time.Duration, err error) {
	if err := checkRateLimitArgs(n, ratePerSecond, burst); err != nil {
		return 0, 0, err
	}
	if n == 0 {
		return 0, 0, nil
	}
	args := []any{strconv.FormatFloat(ratePerSecond, 'g', -1, 64), burst, n}
	res, err := takeScript.Run(ctx, l.rdb, []string{l.bucketKey(key)}, args...).Int64Slice()
	if err != nil {
		if ctx.Err() == nil && l.failing.CompareAndSwap(false, true) {
			l.logger.WarnContext(ctx, "rate limiter unavailable", "key", key, "error", err)
		}
		return 0, 0, fmt.Errorf("error taking rate limit tokens for %s: %w", key, err)
	}
	if l.failing.CompareAndSwap(true, false) {
		l.logger.InfoContext(ctx, "rate limiter available again", "key", key)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("error taking rate limit tokens for %s: script returned %d values", key, len(res))
	}
	return int(res[0]), time.Duration(res[1]) * time.Microsecond, nil
}

// Wait blocks until n tokens of key's bucket are granted, taking them in chunks of at most
// burst as they refill, or until ctx ends. Tokens granted before ctx ends or Redis fails are
// spent, not returned; the error is ctx's or Redis's.
func (l *RateLimiter) Wait(ctx context.Context, key string, n int, ratePerSecond float64, burst int) error {
	if err := checkRateLimitArgs(n, ratePerSecond, burst); err != nil {
		return err
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for n > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		granted, wait, err := l.Take(ctx, key, n, ratePerSecond, burst)
		if err != nil {
			return err
		}
		if n -= granted; n == 0 {
			return nil
		}
		// Sleep until the next chunk could be whole rather than waking for every token, which
		// saves round trips at high rates; a little jitter keeps waiters of many processes
		// from arriving together.
		chunk := min(n, burst)
		d := wait + time.Duration(float64(chunk-1)/ratePerSecond*float64(time.Second))
		d += rand.N(d/10 + 1)
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
	}
	return nil
}

// checkRateLimitArgs reports arguments of Take or Wait that no bucket can honour.
func checkRateLimitArgs(n int, ratePerSecond float64, burst int) error {
	if n < 0 || burst < 1 || !(ratePerSecond > 0) || math.IsInf(ratePerSecond, 0) {
		return fmt.Errorf("%w: n=%d rate=%g burst=%d", ErrRateLimitArgs, n, ratePerSecond, burst)
	}
	return nil
}
