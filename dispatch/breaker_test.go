package dispatch

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// breakerTestClock is a clock a test moves by hand.
type breakerTestClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *breakerTestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *breakerTestClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// breakerTestConfig opens after 3 failures in a row, or half of at least 10 calls in 10 s,
// for 1 s at first and 4 s at most.
var breakerTestConfig = BreakerConfig{
	ConsecutiveFailures: 3,
	FailureRatio:        0.5,
	Window:              10 * time.Second,
	MinRequests:         10,
	CoolDown:            time.Second,
	MaxCoolDown:         4 * time.Second,
}

// newTestBreakers returns breakers for cfg on a clock the test moves.
func newTestBreakers(t *testing.T, cfg BreakerConfig) (*Breakers, *breakerTestClock) {
	t.Helper()
	clock := &breakerTestClock{now: time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)}
	b := NewBreakers(cfg)
	b.nowFunc = clock.Now
	return b, clock
}

// breakerStep is one thing a breaker test does: move the clock, then call and record an
// outcome, expecting Allow's verdict and the state after.
type breakerStep struct {
	advance time.Duration
	ok      bool
	allowed bool
	state   string
}

// calls is n steps of the same outcome, all allowed, ending in state; between them the clock
// moves by gap.
func calls(n int, ok bool, gap time.Duration, state string) []breakerStep {
	steps := make([]breakerStep, n)
	for i := range steps {
		steps[i] = breakerStep{advance: gap, ok: ok, allowed: true, state: CircuitClosed}
	}
	steps[n-1].state = state
	return steps
}

func TestBreakerTransitions(t *testing.T) {
	t.Parallel()

	seq := func(parts ...[]breakerStep) []breakerStep {
		var all []breakerStep
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	rejected := func(advance time.Duration, state string) []breakerStep {
		return []breakerStep{{advance: advance, allowed: false, state: state}}
	}
	probe := func(advance time.Duration, ok bool, state string) []breakerStep {
		return []breakerStep{{advance: advance, ok: ok, allowed: true, state: state}}
	}
	tests := []struct {
		name  string
		steps []breakerStep
	}{
		{name: "consecutive failures open", steps: seq(
			calls(3, false, 0, CircuitOpen),
			rejected(0, CircuitOpen),
		)},
		{name: "a success resets the run", steps: seq(
			calls(2, false, 0, CircuitClosed),
			calls(1, true, 0, CircuitClosed),
			calls(2, false, 0, CircuitClosed),
			calls(1, true, 0, CircuitClosed),
		)},
		{name: "failure ratio opens once min requests are seen", steps: seq(
			// Alternating outcomes never make three failures in a row; the tenth call reaches
			// the minimum with half of them failed.
			calls(1, true, 0, CircuitClosed), calls(1, false, 0, CircuitClosed),
			calls(1, true, 0, CircuitClosed), calls(1, false, 0, CircuitClosed),
			calls(1, true, 0, CircuitClosed), calls(1, false, 0, CircuitClosed),
			calls(1, true, 0, CircuitClosed), calls(1, false, 0, CircuitClosed),
			calls(1, true, 0, CircuitClosed), calls(1, false, 0, CircuitOpen),
		)},
		{name: "ratio below threshold stays closed", steps: seq(
			calls(1, false, 0, CircuitClosed), calls(3, true, 0, CircuitClosed),
			calls(1, false, 0, CircuitClosed), calls(3, true, 0, CircuitClosed),
			calls(1, false, 0, CircuitClosed), calls(3, true, 0, CircuitClosed),
		)},
		{name: "old failures leave the window", steps: seq(
			calls(1, true, 0, CircuitClosed), calls(2, false, 0, CircuitClosed),
			calls(1, true, 0, CircuitClosed), calls(2, false, 0, CircuitClosed),
			calls(1, true, 0, CircuitClosed), calls(2, false, 0, CircuitClosed),
			// 9 calls, 6 failed; once the window has passed, a failure is one of two.
			calls(1, true, 11*time.Second, CircuitClosed), calls(1, false, 0, CircuitClosed),
		)},
		{name: "cool-down, probe succeeds, closes", steps: seq(
			calls(3, false, 0, CircuitOpen),
			rejected(999*time.Millisecond, CircuitOpen),
			probe(time.Millisecond, true, CircuitClosed),
			calls(2, false, 0, CircuitClosed),
		)},
		{name: "failed probes double the cool-down up to the cap", steps: seq(
			calls(3, false, 0, CircuitOpen),
			probe(time.Second, false, CircuitOpen), // now 2 s
			rejected(1999*time.Millisecond, CircuitOpen),
			probe(time.Millisecond, false, CircuitOpen), // now 4 s
			rejected(3999*time.Millisecond, CircuitOpen),
			probe(time.Millisecond, false, CircuitOpen), // capped at 4 s
			rejected(3999*time.Millisecond, CircuitOpen),
			probe(time.Millisecond, true, CircuitClosed),
			// Closing resets the cool-down.
			calls(3, false, 0, CircuitOpen),
			rejected(999*time.Millisecond, CircuitOpen),
			probe(time.Millisecond, true, CircuitClosed),
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, clock := newTestBreakers(t, breakerTestConfig)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				err := b.Allow("sms")
				if s.allowed {
					require.NoError(t, err, "step %d", i)
					b.Record("sms", s.ok)
				} else {
					require.ErrorIs(t, err, ErrCircuitOpen, "step %d", i)
				}
				require.Equal(t, s.state, b.State("sms"), "step %d", i)
			}
		})
	}
}

func TestBreakerHalfOpenLetsOneProbeThrough(t *testing.T) {
	t.Parallel()
	b, clock := newTestBreakers(t, breakerTestConfig)
	for range 3 {
		require.NoError(t, b.Allow("sms"))
		b.Record("sms", false)
	}
	require.Equal(t, CircuitOpen, b.State("sms"))
	require.Equal(t, CircuitClosed, b.State("email"), "each provider has its own circuit")
	require.NoError(t, b.Allow("email"))

	clock.Advance(time.Second)
	require.Equal(t, CircuitHalfOpen, b.State("sms"), "the cool-down is over")

	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if b.Allow("sms") == nil {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, 1, allowed.Load(), "one probe")
	require.Equal(t, CircuitHalfOpen, b.State("sms"))

	// A probe whose outcome never comes is replaced after a cool-down.
	clock.Advance(999 * time.Millisecond)
	require.ErrorIs(t, b.Allow("sms"), ErrCircuitOpen)
	clock.Advance(time.Millisecond)
	require.NoError(t, b.Allow("sms"))
	b.Record("sms", true)
	require.Equal(t, CircuitClosed, b.State("sms"))
}

func TestBreakerConcurrentUse(t *testing.T) {
	t.Parallel()
	b := NewBreakers(BreakerConfig{ConsecutiveFailures: 1000, MinRequests: 1000, CoolDown: time.Hour})

	// Every call fails, from many goroutines at once: the circuit must open exactly when the
	// thousandth allowed call is recorded, and none may pass after.
	var allowed, rejected atomic.Int64
	var wg sync.WaitGroup
	for g := range 50 {
		wg.Go(func() {
			for range 100 {
				provider := []string{"sms", "email"}[g%2]
				if err := b.Allow(provider); err != nil {
					if !errors.Is(err, ErrCircuitOpen) {
						t.Errorf("Allow: %v", err)
					}
					rejected.Add(1)
					continue
				}
				allowed.Add(1)
				b.Record(provider, false)
				_ = b.State(provider)
			}
		})
	}
	wg.Wait()
	require.Equal(t, CircuitOpen, b.State("sms"))
	require.Equal(t, CircuitOpen, b.State("email"))
	// Calls allowed before the opening Record but recorded after it do not count, so each
	// circuit allowed at least 1,000 and at most 1,000 plus the goroutines in flight.
	require.GreaterOrEqual(t, allowed.Load(), int64(2000))
	require.LessOrEqual(t, allowed.Load(), int64(2050))
	require.Equal(t, int64(5000), allowed.Load()+rejected.Load())
}

func TestBreakerConfigDefaultsAndValidate(t *testing.T) {
	t.Parallel()

	def := BreakerConfig{}.withDefaults()
	require.Equal(t, BreakerConfig{
		ConsecutiveFailures: DefaultBreakerConsecutiveFailures,
		FailureRatio:        DefaultBreakerFailureRatio,
		Window:              DefaultBreakerWindow,
		MinRequests:         DefaultBreakerMinRequests,
		CoolDown:            DefaultBreakerCoolDown,
		MaxCoolDown:         DefaultBreakerMaxCoolDown,
	}, def)
	require.Equal(t, 10*time.Minute, BreakerConfig{CoolDown: 10 * time.Minute}.withDefaults().MaxCoolDown,
		"the default cap is never below the cool-down")

	tests := []struct {
		name    string
		cfg     BreakerConfig
		wantErr string
	}{
		{name: "zero is defaults", cfg: BreakerConfig{}},
		{name: "negative failures", cfg: BreakerConfig{ConsecutiveFailures: -1}, wantErr: "consecutive failures"},
		{name: "ratio above one", cfg: BreakerConfig{FailureRatio: 1.5}, wantErr: "failure ratio"},
		{name: "negative ratio", cfg: BreakerConfig{FailureRatio: -0.1}, wantErr: "failure ratio"},
		{name: "tiny window", cfg: BreakerConfig{Window: time.Millisecond}, wantErr: "window"},
		{name: "negative min requests", cfg: BreakerConfig{MinRequests: -3}, wantErr: "min requests"},
		{name: "negative cool-down", cfg: BreakerConfig{CoolDown: -time.Second}, wantErr: "cool-down must be positive"},
		{name: "cap below cool-down", cfg: BreakerConfig{CoolDown: time.Minute, MaxCoolDown: time.Second}, wantErr: "max cool-down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.wantErr)
			}
			// NewBreakers never keeps a value out of range.
			require.NoError(t, NewBreakers(tt.cfg).cfg.Validate())
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		attempt  int
		base     time.Duration
		max      time.Duration
		wantCeil time.Duration
	}{
		{name: "first retry", attempt: 1, base: 100 * time.Millisecond, max: 10 * time.Second, wantCeil: 100 * time.Millisecond},
		{name: "attempt zero is the first", attempt: 0, base: 100 * time.Millisecond, max: 10 * time.Second, wantCeil: 100 * time.Millisecond},
		{name: "doubles", attempt: 4, base: 100 * time.Millisecond, max: 10 * time.Second, wantCeil: 800 * time.Millisecond},
		{name: "capped", attempt: 10, base: 100 * time.Millisecond, max: 10 * time.Second, wantCeil: 10 * time.Second},
		{name: "huge attempt does not overflow", attempt: 1000, base: time.Second, max: math.MaxInt64, wantCeil: math.MaxInt64},
		{name: "max below base", attempt: 3, base: time.Second, max: time.Millisecond, wantCeil: time.Second},
		{name: "no base", attempt: 3, base: 0, max: time.Second, wantCeil: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var low, high bool
			for range 2000 {
				d := Backoff(tt.attempt, tt.base, tt.max)
				require.GreaterOrEqual(t, d, time.Duration(0))
				require.LessOrEqual(t, d, tt.wantCeil)
				low = low || d <= tt.wantCeil/4
				high = high || d >= tt.wantCeil/4*3
			}
			// Full jitter spreads over the whole range (the odds of missing either quarter in
			// 2,000 draws are below 1e-249).
			require.True(t, low, "some draws in the lowest quarter")
			require.True(t, high, "some draws in the highest quarter")
		})
	}
}
