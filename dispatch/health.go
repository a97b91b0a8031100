package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/channels"
)

// HealthWindow is how far back the channels query reports providers' calls: the current
// minute and the four before it.
const HealthWindow = 5 * time.Minute

// healthTTL is how long a minute of figures is kept; longer than any window read.
const healthTTL = 10 * time.Minute

// latencyBounds are the upper bounds of the latency histogram of vendor calls; a call
// slower than the last falls into an open bucket above it.
var latencyBounds = []time.Duration{
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second, 30 * time.Second,
}

// Fields of a provider's minute hash.
const (
	fieldCalls       = "calls"
	fieldFailedCalls = "failed_calls"
	fieldMessages    = "messages"
	fieldFailures    = "failures"
	fieldCircuit     = "circuit"
	fieldCircuitAt   = "circuit_at"
	fieldLatencyOver = "lat_inf"
)

// latencyField is the histogram field of bucket i: lat_<upper bound in ms>, or lat_inf.
func latencyField(i int) string {
	if i >= len(latencyBounds) {
		return fieldLatencyOver
	}
	return "lat_" + strconv.FormatInt(latencyBounds[i].Milliseconds(), 10)
}

// latencyBucket is the index of the histogram bucket of d.
func latencyBucket(d time.Duration) int {
	for i, b := range latencyBounds {
		if d <= b {
			return i
		}
	}
	return len(latencyBounds)
}

// Call is what one vendor call of a provider produced, as the worker saw it.
type Call struct {
	Provider string
	// Messages is the size of the batch; Failures how many of them the vendor did not take
	// (every one when the call itself failed).
	Messages, Failures int
	// Failed is set when the call itself failed (a transport error, a refused request).
	Failed bool
	// Latency is how long the vendor took to answer.
	Latency time.Duration
	// Circuit is the state of the provider's circuit once the call was judged.
	Circuit string
}

// HealthRecorder keeps per-provider, per-minute figures of vendor calls in Redis, so that
// the process answering the channels query sees what every worker process sent. Each call
// is one pipeline of increments on the hash of its provider and minute, which expires after
// ten minutes. Only counts, latencies and the circuit state are kept: never an address, a
// message or a credential.
type HealthRecorder struct {
	rdb     redis.UniversalClient
	prefix  string
	logger  *slog.Logger
	nowFunc func() time.Time
	// failing is set while Redis calls fail, so that an outage is logged once, not per call.
	failing atomic.Bool
}

// NewHealthRecorder returns a recorder keeping its figures in rdb under prefix.
func NewHealthRecorder(rdb redis.UniversalClient, prefix string, logger *slog.Logger) *HealthRecorder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &HealthRecorder{rdb: rdb, prefix: prefix, logger: logger.With("component", "dispatch.health"), nowFunc: time.Now}
}

// SetNowFunc replaces the recorder's clock; for tests.
func (h *HealthRecorder) SetNowFunc(f func() time.Time) { h.nowFunc = f }

// minuteKey is the hash of provider's figures in the minute of t; the hash tag keeps every
// minute of a provider on one slot of a cluster.
func (h *HealthRecorder) minuteKey(provider string, t time.Time) string {
	return h.prefix + "health:{" + provider + "}:" + strconv.FormatInt(t.Unix()/60, 10)
}

// Record adds one vendor call to its provider's figures of the current minute.
func (h *HealthRecorder) Record(ctx context.Context, c Call) error {
	now := h.nowFunc()
	key := h.minuteKey(c.Provider, now)
	failedCalls := 0
	if c.Failed {
		failedCalls = 1
	}
	_, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, key, fieldCalls, 1)
		p.HIncrBy(ctx, key, fieldFailedCalls, int64(failedCalls))
		p.HIncrBy(ctx, key, fieldMessages, int64(c.Messages))
		p.HIncrBy(ctx, key, fieldFailures, int64(c.Failures))
		p.HIncrBy(ctx, key, latencyField(latencyBucket(c.Latency)), 1)
		if c.Circuit != "" {
			p.HSet(ctx, key, fieldCircuit, c.Circuit, fieldCircuitAt, now.UnixMilli())
		}
		p.Expire(ctx, key, healthTTL)
		return nil
	})
	if err != nil {
		if ctx.Err() == nil && h.failing.CompareAndSwap(false, true) {
			h.logger.WarnContext(ctx, "provider health figures unavailable", "provider", c.Provider, "error", err)
		}
		return fmt.Errorf("error recording the health of %s: %w", c.Provider, err)
	}
	if h.failing.CompareAndSwap(true, false) {
		h.logger.InfoContext(ctx, "provider health figures available again")
	}
	return nil
}

// Health is what the worker processes recorded of one provider over a window.
type Health struct {
	// Calls are the vendor calls, FailedCalls those that failed as a whole.
	Calls, FailedCalls int64
	// Messages were handed to the vendor; Failures of them were not taken.
	Messages, Failures int64
	// Latency counts the calls per bucket of latencyBounds (the last one open).
	Latency []int64
	// Circuit is the latest circuit state a worker reported, at CircuitAt; empty when none
	// reported one in the window.
	Circuit   string
	CircuitAt time.Time
}

// SuccessRate is the share of the messages the vendor took, 0 to 1; false without messages.
func (h Health) SuccessRate() (float64, bool) {
	if h.Messages <= 0 {
		return 0, false
	}
	return float64(h.Messages-min(h.Failures, h.Messages)) / float64(h.Messages), true
}

// LatencyQuantile estimates the q-quantile (0 < q ≤ 1) of the call latencies from the
// histogram, interpolating linearly inside the bucket it falls in; a quantile in the open
// bucket is reported as the last bound. False without calls.
func (h Health) LatencyQuantile(q float64) (time.Duration, bool) {
	var total int64
	for _, n := range h.Latency {
		total += n
	}
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var below int64
	for i, n := range h.Latency {
		if n == 0 || float64(below+n) < rank {
			below += n
			continue
		}
		if i >= len(latencyBounds) {
			break
		}
		var lower time.Duration
		if i > 0 {
			lower = latencyBounds[i-1]
		}
		upper := latencyBounds[i]
		return lower + time.Duration(float64(upper-lower)*(rank-float64(below))/float64(n)), true
	}
	return latencyBounds[len(latencyBounds)-1], true
}

// Read sums the figures of each provider over the minutes of window that end with the
// current one, in one pipeline. Providers without figures are missing from the result.
func (h *HealthRecorder) Read(ctx context.Context, providers []string, window time.Duration) (map[string]Health, error) {
	now := h.nowFunc()
	minutes := max(int((window+time.Minute-1)/time.Minute), 1)
	cmds := make(map[string][]*redis.MapStringStringCmd, len(providers))
	_, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, name := range providers {
			for m := range minutes {
				// Newest minute first, so the first circuit found is the latest.
				cmds[name] = append(cmds[name], p.HGetAll(ctx, h.minuteKey(name, now.Add(-time.Duration(m)*time.Minute))))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("error reading provider health: %w", err)
	}
	out := map[string]Health{}
	for name, list := range cmds {
		hl := Health{Latency: make([]int64, len(latencyBounds)+1)}
		found := false
		for _, cmd := range list {
			fields := cmd.Val()
			if len(fields) == 0 {
				continue
			}
			found = true
			hl.Calls += intField(fields, fieldCalls)
			hl.FailedCalls += intField(fields, fieldFailedCalls)
			hl.Messages += intField(fields, fieldMessages)
			hl.Failures += intField(fields, fieldFailures)
			for i := range hl.Latency {
				hl.Latency[i] += intField(fields, latencyField(i))
			}
			if hl.Circuit == "" && fields[fieldCircuit] != "" {
				hl.Circuit = fields[fieldCircuit]
				hl.CircuitAt = time.UnixMilli(intField(fields, fieldCircuitAt))
			}
		}
		if found {
			out[name] = hl
		}
	}
	return out, nil
}

func intField(fields map[string]string, name string) int64 {
	n, _ := strconv.ParseInt(fields[name], 10, 64)
	return n
}

// ProviderStatus is a provider's place in its channel's route, its circuit and its recent
// calls, as the channels query reports them.
type ProviderStatus struct {
	Channel   channels.Channel
	Provider  string
	Placement channels.Placement
	// Circuit is the state a worker last reported (at CircuitAt), or this process's own when
	// none did in the window (CircuitAt zero).
	Circuit   string
	CircuitAt time.Time
	Health    Health
}

// ProviderStatuses reports every provider of reg: its placement, its health over
// HealthWindow from rec and its circuit. rec may be nil, and when Redis fails the figures
// are left empty (and logged): the local breaker state still answers.
func ProviderStatuses(ctx context.Context, reg *channels.Registry, local *Breakers, rec *HealthRecorder) []ProviderStatus {
	ps := reg.Providers()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name()
	}
	var figures map[string]Health
	if rec != nil {
		var err error
		if figures, err = rec.Read(ctx, names, HealthWindow); err != nil {
			rec.logger.WarnContext(ctx, "reading provider health", "error", err)
		}
	}
	out := make([]ProviderStatus, 0, len(ps))
	for _, p := range ps {
		st := ProviderStatus{Channel: p.Channel(), Provider: p.Name(), Circuit: CircuitClosed, Health: figures[p.Name()]}
		st.Placement, _ = reg.PlacementOf(p.Channel(), p.Name())
		st.Placement.Weight = max(st.Placement.Weight, 1)
		switch {
		case st.Health.Circuit != "":
			st.Circuit, st.CircuitAt = st.Health.Circuit, st.Health.CircuitAt
		case local != nil:
			st.Circuit = local.State(p.Name())
		}
		out = append(out, st)
	}
	return out
}
