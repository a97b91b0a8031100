package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/webhook"
	"github.com/herald-msg/herald/store/storetest"
)

// The health recorder tests run on the real Redis, like the rate limiter's, each under its
// own key prefix.

// setupHealthTest gives a test a recorder under a prefix of its own whose clock reads *now.
// When the test ends, the minute hashes of providers from ten minutes before the clock's
// first reading to three after it are unlinked (by name: a SCAN of a busy shared Redis is
// slow).
func setupHealthTest(t *testing.T, now *time.Time, providers ...string) *HealthRecorder {
	t.Helper()
	rdb := rateLimitTestRedis(t)
	rec := NewHealthRecorder(rdb, storetest.Prefix()+":", nil)
	rec.SetNowFunc(func() time.Time { return *now })
	start := *now
	t.Cleanup(func() {
		var keys []string
		for _, p := range providers {
			for m := -10; m <= 3; m++ {
				keys = append(keys, rec.minuteKey(p, start.Add(time.Duration(m)*time.Minute)))
			}
		}
		require.NoError(t, rdb.Unlink(context.Background(), keys...).Err())
	})
	return rec
}

func TestHealthRecorderSumsTheWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 10, 0, 30, 0, time.UTC)
	now := t0
	rec := setupHealthTest(t, &now, "ali", "spare")

	// Seven minutes ago: kept in Redis, but outside the window.
	now = t0.Add(-7 * time.Minute)
	require.NoError(t, rec.Record(ctx, Call{Provider: "ali", Messages: 100, Failures: 100, Failed: true, Latency: 20 * time.Second, Circuit: CircuitOpen}))
	// Three minutes ago: ten quick calls of ten messages, one refused in each.
	now = t0.Add(-3 * time.Minute)
	for range 10 {
		require.NoError(t, rec.Record(ctx, Call{Provider: "ali", Messages: 10, Failures: 1, Latency: 30 * time.Millisecond, Circuit: CircuitClosed}))
	}
	// This minute: nine slow calls that went through, then one that failed as a whole.
	now = t0
	for range 9 {
		require.NoError(t, rec.Record(ctx, Call{Provider: "ali", Messages: 10, Latency: 300 * time.Millisecond, Circuit: CircuitClosed}))
	}
	require.NoError(t, rec.Record(ctx, Call{Provider: "ali", Messages: 10, Failures: 10, Failed: true, Latency: 400 * time.Millisecond, Circuit: CircuitHalfOpen}))
	require.NoError(t, rec.Record(ctx, Call{Provider: "spare", Messages: 3, Latency: 40 * time.Second}))

	got, err := rec.Read(ctx, []string{"ali", "spare", "idle"}, HealthWindow)
	require.NoError(t, err)
	require.NotContains(t, got, "idle", "a provider without calls has no figures")

	ali := got["ali"]
	require.EqualValues(t, 20, ali.Calls)
	require.EqualValues(t, 1, ali.FailedCalls)
	require.EqualValues(t, 200, ali.Messages)
	require.EqualValues(t, 20, ali.Failures)
	rate, ok := ali.SuccessRate()
	require.True(t, ok)
	require.InDelta(t, 0.9, rate, 1e-9)
	// Ten calls in (25ms, 50ms] and ten in (250ms, 500ms]: the median is the top of the first
	// bucket, the 95th percentile nine tenths into the second.
	p50, ok := ali.LatencyQuantile(0.5)
	require.True(t, ok)
	require.Equal(t, 50*time.Millisecond, p50)
	p95, _ := ali.LatencyQuantile(0.95)
	require.Equal(t, 475*time.Millisecond, p95)
	require.Equal(t, CircuitHalfOpen, ali.Circuit, "the latest state a worker reported")
	require.Equal(t, t0.UnixMilli(), ali.CircuitAt.UnixMilli())

	// A call beyond the last bound is reported at it; a call without a circuit leaves none.
	spare := got["spare"]
	p95, _ = spare.LatencyQuantile(0.95)
	require.Equal(t, latencyBounds[len(latencyBounds)-1], p95)
	require.Empty(t, spare.Circuit)

	// Later, the minutes of three and seven minutes ago have left the window.
	now = t0.Add(2 * time.Minute)
	got, err = rec.Read(ctx, []string{"ali"}, HealthWindow)
	require.NoError(t, err)
	require.EqualValues(t, 10, got["ali"].Calls)
	require.EqualValues(t, 100, got["ali"].Messages)

	// Every minute hash expires.
	ttl, err := rec.rdb.TTL(ctx, rec.minuteKey("ali", t0)).Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Duration(0))
	require.LessOrEqual(t, ttl, healthTTL)
}

func TestHealthWithoutFigures(t *testing.T) {
	t.Parallel()
	var h Health
	_, ok := h.SuccessRate()
	require.False(t, ok)
	_, ok = h.LatencyQuantile(0.5)
	require.False(t, ok)
}

// The channels query shows the circuit a worker reported, and this process's own breaker
// when no worker reported one.
func TestProviderStatuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	rec := setupHealthTest(t, &now, "hook-a", "hook-b")
	reg := channels.NewRegistry()
	for _, at := range []struct {
		name string
		at   channels.Placement
	}{{"hook-a", channels.Placement{Priority: 1, Weight: 3}}, {"hook-b", channels.Placement{Priority: 2}}} {
		p, err := webhook.New(webhook.Config{Name: at.name, Secret: "s"})
		require.NoError(t, err)
		reg.RegisterAt(p, at.at)
	}
	local := NewBreakers(BreakerConfig{ConsecutiveFailures: 1})
	local.Record("hook-a", false)
	local.Record("hook-b", false)
	require.Equal(t, CircuitOpen, local.State("hook-a"))
	require.NoError(t, rec.Record(ctx, Call{Provider: "hook-a", Messages: 4, Failures: 1, Latency: time.Millisecond, Circuit: CircuitClosed}))

	byName := map[string]ProviderStatus{}
	for _, st := range ProviderStatuses(ctx, reg, local, rec) {
		byName[st.Provider] = st
	}
	a, b := byName["hook-a"], byName["hook-b"]
	require.Equal(t, channels.Placement{Priority: 1, Weight: 3}, a.Placement)
	require.Equal(t, CircuitClosed, a.Circuit, "the worker's report wins over this process's breaker")
	require.False(t, a.CircuitAt.IsZero())
	require.EqualValues(t, 4, a.Health.Messages)
	require.Equal(t, channels.Placement{Priority: 2, Weight: 1}, b.Placement, "weight 0 counts as 1")
	require.Equal(t, CircuitOpen, b.Circuit, "no report: this process's breaker")
	require.True(t, b.CircuitAt.IsZero())
	require.Zero(t, b.Health.Calls)

	// Without a recorder only the local state answers.
	for _, st := range ProviderStatuses(ctx, reg, local, nil) {
		require.Equal(t, CircuitOpen, st.Circuit, st.Provider)
	}
}

// The worker counts as failures the messages of a failed call, the FAILED results (retryable
// or not) and the messages a provider left without a result.
func TestWorkerRecordsCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now()
	rec := setupHealthTest(t, &now, "p")
	w := &Worker{health: rec, breakers: NewBreakers(BreakerConfig{})}
	batch := make([]channels.Message, 4)
	w.recordCall(ctx, "p", batch, []channels.Result{{Status: channels.Sent}, {Status: channels.Failed, Retryable: true},
		{Status: channels.Failed}}, nil, 20*time.Millisecond)
	w.recordCall(ctx, "p", batch[:2], nil, context.DeadlineExceeded, 2*time.Second)

	got, err := rec.Read(ctx, []string{"p"}, HealthWindow)
	require.NoError(t, err)
	require.EqualValues(t, 2, got["p"].Calls)
	require.EqualValues(t, 1, got["p"].FailedCalls)
	require.EqualValues(t, 6, got["p"].Messages)
	require.EqualValues(t, 3+2, got["p"].Failures)
	require.Equal(t, CircuitClosed, got["p"].Circuit)
}
