package dispatch

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// ErrCircuitOpen is returned by Breakers.Allow while a provider's circuit is open: recent
// calls to it failed, and Herald holds further calls back until its cool-down ends.
var ErrCircuitOpen = errors.New("circuit open")

// Circuit states, as the channels query reports them.
const (
	CircuitClosed   = "CLOSED"
	CircuitOpen     = "OPEN"
	CircuitHalfOpen = "HALF_OPEN"
)

// Defaults of BreakerConfig.
const (
	DefaultBreakerConsecutiveFailures = 5
	DefaultBreakerFailureRatio        = 0.5
	DefaultBreakerWindow              = 30 * time.Second
	DefaultBreakerMinRequests         = 20
	DefaultBreakerCoolDown            = 5 * time.Second
	DefaultBreakerMaxCoolDown         = 2 * time.Minute
)

// breakerBuckets is how many slices the rolling window is counted in.
const breakerBuckets = 10

// BreakerConfig says when a provider's circuit opens and for how long; zero fields take the
// defaults.
type BreakerConfig struct {
	// ConsecutiveFailures opens the circuit after this many failures in a row.
	ConsecutiveFailures int
	// FailureRatio opens the circuit when at least this share of the calls in Window failed.
	FailureRatio float64
	// Window is the rolling window FailureRatio is measured over.
	Window time.Duration
	// MinRequests is how many calls Window must hold before FailureRatio is judged.
	MinRequests int
	// CoolDown is how long a circuit first stays open before a probe call is let through.
	CoolDown time.Duration
	// MaxCoolDown caps the cool-down, which doubles each time a probe fails.
	MaxCoolDown time.Duration
}

// withDefaults fills the zero fields of c with the defaults.
func (c BreakerConfig) withDefaults() BreakerConfig {
	c.ConsecutiveFailures = cmp.Or(c.ConsecutiveFailures, DefaultBreakerConsecutiveFailures)
	c.FailureRatio = cmp.Or(c.FailureRatio, DefaultBreakerFailureRatio)
	c.Window = cmp.Or(c.Window, DefaultBreakerWindow)
	c.MinRequests = cmp.Or(c.MinRequests, DefaultBreakerMinRequests)
	c.CoolDown = cmp.Or(c.CoolDown, DefaultBreakerCoolDown)
	c.MaxCoolDown = cmp.Or(c.MaxCoolDown, max(DefaultBreakerMaxCoolDown, c.CoolDown))
	return c
}

// Validate reports the first field that is out of range, after defaults.
func (c BreakerConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.ConsecutiveFailures < 1:
		return fmt.Errorf("breaker consecutive failures must be at least 1, got %d", c.ConsecutiveFailures)
	case !(c.FailureRatio > 0 && c.FailureRatio <= 1):
		return fmt.Errorf("breaker failure ratio must be in (0, 1], got %g", c.FailureRatio)
	case c.Window < breakerBuckets*time.Millisecond:
		return fmt.Errorf("breaker window must be at least %s, got %s", breakerBuckets*time.Millisecond, c.Window)
	case c.MinRequests < 1:
		return fmt.Errorf("breaker min requests must be at least 1, got %d", c.MinRequests)
	case c.CoolDown <= 0:
		return fmt.Errorf("breaker cool-down must be positive, got %s", c.CoolDown)
	case c.MaxCoolDown < c.CoolDown:
		return fmt.Errorf("breaker max cool-down (%s) must not be shorter than the cool-down (%s)", c.MaxCoolDown, c.CoolDown)
	}
	return nil
}

// Breakers holds a circuit breaker per provider. Each Herald process judges its own calls;
// the circuits are not shared, so one process's network trouble does not stop the others.
type Breakers struct {
	cfg     BreakerConfig
	nowFunc func() time.Time

	mu       sync.Mutex
	circuits map[string]*circuit
}

// circuit is one provider's breaker; Breakers.mu guards it.
type circuit struct {
	state        string
	consecutive  int
	buckets      [breakerBuckets]breakerBucket
	openUntil    time.Time
	coolDown     time.Duration
	probing      bool
	probeExpires time.Time
}

// breakerBucket counts the calls of one slice of the rolling window.
type breakerBucket struct {
	slice    int64 // which slice of time the counts belong to
	total    int
	failures int
}

// NewBreakers returns closed breakers judged by cfg. Fields out of range (see Validate) take
// the defaults.
func NewBreakers(cfg BreakerConfig) *Breakers {
	cfg = cfg.withDefaults()
	if cfg.Validate() != nil {
		def := BreakerConfig{}.withDefaults()
		if cfg.ConsecutiveFailures < 1 {
			cfg.ConsecutiveFailures = def.ConsecutiveFailures
		}
		if !(cfg.FailureRatio > 0 && cfg.FailureRatio <= 1) {
			cfg.FailureRatio = def.FailureRatio
		}
		if cfg.Window < breakerBuckets*time.Millisecond {
			cfg.Window = def.Window
		}
		if cfg.MinRequests < 1 {
			cfg.MinRequests = def.MinRequests
		}
		if cfg.CoolDown <= 0 {
			cfg.CoolDown = def.CoolDown
		}
		cfg.MaxCoolDown = max(cfg.MaxCoolDown, cfg.CoolDown)
	}
	return &Breakers{cfg: cfg, nowFunc: time.Now, circuits: make(map[string]*circuit)}
}

// get returns provider's circuit, creating a closed one; b.mu is held.
func (b *Breakers) get(provider string) *circuit {
	c, ok := b.circuits[provider]
	if !ok {
		c = &circuit{state: CircuitClosed, coolDown: b.cfg.CoolDown}
		b.circuits[provider] = c
	}
	return c
}

// Allow says whether a call to provider may go ahead: nil while the circuit is closed, and
// for the one probe call of a half-open circuit; ErrCircuitOpen otherwise. Every allowed
// call is to be followed by Record with its outcome.
func (b *Breakers) Allow(provider string) error {
	now := b.nowFunc()
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.get(provider)
	switch c.state {
	case CircuitClosed:
		return nil
	case CircuitOpen:
		if now.Before(c.openUntil) {
			return fmt.Errorf("%w for %s", ErrCircuitOpen, provider)
		}
		c.state = CircuitHalfOpen
	}
	// Half-open: one probe at a time. A probe whose outcome never comes back (its caller gave
	// up) is replaced after a cool-down so the circuit cannot stay half-open for good.
	if c.probing && now.Before(c.probeExpires) {
		return fmt.Errorf("%w for %s", ErrCircuitOpen, provider)
	}
	c.probing = true
	c.probeExpires = now.Add(c.coolDown)
	return nil
}

// Record counts the outcome of a call to provider that Allow let through: ok is false for a
// failure that says the provider is unwell (not for a rejected recipient).
func (b *Breakers) Record(provider string, ok bool) {
	now := b.nowFunc()
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.get(provider)
	switch c.state {
	case CircuitOpen:
		// A call that was under way when the circuit opened; it changes nothing.
		return
	case CircuitHalfOpen:
		// Only the probe's outcome is expected now; a straggler from before the circuit
		// opened cannot be told apart from it and is taken as the probe's.
		if !c.probing {
			return
		}
		if ok {
			*c = circuit{state: CircuitClosed, coolDown: b.cfg.CoolDown}
			return
		}
		c.coolDown = min(c.coolDown*2, b.cfg.MaxCoolDown)
		b.open(c, now)
		return
	}
	bk := c.bucket(now, b.cfg.Window)
	bk.total++
	if ok {
		c.consecutive = 0
		return
	}
	bk.failures++
	c.consecutive++
	if c.consecutive >= b.cfg.ConsecutiveFailures {
		b.open(c, now)
		return
	}
	total, failures := c.counts(now, b.cfg.Window)
	if total >= b.cfg.MinRequests && float64(failures) >= b.cfg.FailureRatio*float64(total) {
		b.open(c, now)
	}
}

// open opens c for its current cool-down, starting its counts afresh.
func (b *Breakers) open(c *circuit, now time.Time) {
	c.state = CircuitOpen
	c.openUntil = now.Add(c.coolDown)
	c.consecutive = 0
	c.buckets = [breakerBuckets]breakerBucket{}
	c.probing = false
}

// State is provider's circuit state, CLOSED, OPEN or HALF_OPEN; an open circuit whose
// cool-down has ended reports HALF_OPEN, since its next call is a probe.
func (b *Breakers) State(provider string) string {
	now := b.nowFunc()
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.circuits[provider]
	if !ok {
		return CircuitClosed
	}
	if c.state == CircuitOpen && !now.Before(c.openUntil) {
		return CircuitHalfOpen
	}
	return c.state
}

// sliceOf is the window slice now falls in.
func sliceOf(now time.Time, window time.Duration) int64 {
	return now.UnixNano() / int64(window/breakerBuckets)
}

// bucket returns the bucket counting now's slice, emptied if it held an older slice.
func (c *circuit) bucket(now time.Time, window time.Duration) *breakerBucket {
	s := sliceOf(now, window)
	bk := &c.buckets[int(uint64(s)%breakerBuckets)]
	if bk.slice != s {
		*bk = breakerBucket{slice: s}
	}
	return bk
}

// counts sums the calls and failures of the slices within the window ending at now.
func (c *circuit) counts(now time.Time, window time.Duration) (total, failures int) {
	s := sliceOf(now, window)
	for _, bk := range c.buckets {
		if bk.slice > s-breakerBuckets && bk.slice <= s {
			total += bk.total
			failures += bk.failures
		}
	}
	return total, failures
}

// Backoff is how long to wait before retry number attempt (1 for the first retry): a random
// duration up to base doubled attempt-1 times, capped at max ("full jitter", so that callers
// failing together do not retry together).
func Backoff(attempt int, base, max time.Duration) time.Duration {
	if base <= 0 {
		return 0
	}
	if max < base {
		max = base
	}
	ceiling := base
	for i := 1; i < attempt && ceiling < max; i++ {
		ceiling *= 2
	}
	if ceiling > max || ceiling <= 0 {
		ceiling = max
	}
	if ceiling < math.MaxInt64 {
		ceiling++ // rand.N's bound is exclusive
	}
	return rand.N(ceiling)
}
