package dispatch

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/redis/go-redis/v9"
)

// The two lanes have their own queues and consumers, but they share the machine, its
// database and its broker: a bulk shard's steps are large writes, a realtime send's are a few
// small ones in a row, each of which waits behind whatever the bulk lane has in progress. So
// the bulk lane yields: before each of its steps a bulk worker waits while realtime work —
// a send being validated and queued, or a realtime job until its vendor answered and its rows
// are recorded — is in progress in this process or, seen through a Redis key, in another. It
// waits at most MaxWait per step, then takes its step anyway, so a steady stream of realtime
// traffic slows a broadcast but never stops it.

var bulkYielded = promauto.NewCounter(prometheus.CounterOpts{
	Name: "herald_bulk_yield_seconds_total",
	Help: "Time bulk workers waited before a step while realtime sends were in progress.",
})

// yieldRemoteTTL is how long a process's realtime activity stays visible to the others after
// it last announced it.
const yieldRemoteTTL = 100 * time.Millisecond

// Yielder lets the bulk lane make way for realtime work. The zero value and nil never wait.
type Yielder struct {
	// MaxWait bounds one wait of a bulk step; 0 turns yielding off.
	MaxWait time.Duration

	active    atomic.Int64 // realtime operations in progress in this process
	waiting   atomic.Int64 // bulk steps waiting now
	announced atomic.Int64 // unix nanoseconds until which the Redis key is known to be set by us
	checked   atomic.Int64 // unix nanoseconds of the last look at the Redis key
	remote    atomic.Bool  // whether another process had set the key at that look
	rdb       redis.UniversalClient
	key       string
	token     string // this process's value of the key
}

// NewYielder returns a yielder whose realtime activity other processes see through rdb
// (nil: this process only).
func NewYielder(rdb redis.UniversalClient, prefix string, maxWait time.Duration) *Yielder {
	return &Yielder{MaxWait: maxWait, rdb: rdb, key: prefix + "realtime:active", token: newToken()}
}

// Realtime marks realtime work in progress until the returned function is called.
func (y *Yielder) Realtime(ctx context.Context) (done func()) {
	if y == nil || y.MaxWait <= 0 {
		return func() {}
	}
	y.active.Add(1)
	if y.rdb != nil {
		now := time.Now()
		if until := y.announced.Load(); now.UnixNano() > until-int64(yieldRemoteTTL/2) && y.announced.CompareAndSwap(until, now.Add(yieldRemoteTTL).UnixNano()) {
			// Announced in the background: the realtime path does not wait for Redis.
			go y.rdb.Set(context.WithoutCancel(ctx), y.key, y.token, yieldRemoteTTL) //nolint:errcheck // best effort
		}
	}
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			y.active.Add(-1)
		}
	}
}

// busy reports whether realtime work is in progress here or, as last seen (at most 10 ms
// ago), in another process. The key holds the token of the process that announced last, so
// while two processes announce at once one of them may miss the other's work for up to
// yieldRemoteTTL; yielding is a courtesy, not a guarantee.
func (y *Yielder) busy(ctx context.Context) bool {
	if y.active.Load() > 0 {
		return true
	}
	if y.rdb == nil {
		return false
	}
	now := time.Now().UnixNano()
	if last := y.checked.Load(); now-last >= int64(10*time.Millisecond) && y.checked.CompareAndSwap(last, now) {
		v, err := y.rdb.Get(ctx, y.key).Result()
		// This process's own announcement does not count: its work is counted in active.
		y.remote.Store(err == nil && v != y.token)
	}
	return y.remote.Load()
}

// Wait holds a bulk step while realtime work is in progress, for at most MaxWait; it
// reports whether it waited.
func (y *Yielder) Wait(ctx context.Context) bool {
	if y == nil || y.MaxWait <= 0 || !y.busy(ctx) {
		return false
	}
	y.waiting.Add(1)
	defer y.waiting.Add(-1)
	started := time.Now()
	deadline := started.Add(y.MaxWait)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for y.busy(ctx) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return true
		case <-t.C:
		}
	}
	bulkYielded.Add(time.Since(started).Seconds())
	return true
}
