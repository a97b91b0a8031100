package token

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// counting returns a fetch that hands out tok-1, tok-2, ... with the given lifetime.
func counting(life time.Duration) (FetchFunc, *atomic.Int64) {
	var n atomic.Int64
	return func(context.Context) (Token, error) {
		return Token{Value: fmt.Sprintf("tok-%d", n.Add(1)), ExpiresIn: life}, nil
	}, &n
}

func TestCachedUntilShortlyBeforeExpiry(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	fetch, n := counting(2 * time.Hour)
	c := New(fetch, Options{Now: clk.now})
	ctx := context.Background()

	v, err := c.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, "tok-1", v)
	clk.advance(time.Hour)
	v, err = c.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, "tok-1", v, "a token with an hour left is reused")
	require.EqualValues(t, 1, n.Load())

	clk.advance(56 * time.Minute) // 4 minutes before expiry: inside the 5-minute margin
	v, err = c.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, "tok-2", v, "the token is replaced before it expires")
	require.EqualValues(t, 2, n.Load())
	require.EqualValues(t, 2, c.Fetches())
}

func TestShortLivedTokenMarginIsAQuarter(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	fetch, n := counting(4 * time.Second)
	c := New(fetch, Options{Now: clk.now})
	ctx := context.Background()
	_, err := c.Get(ctx)
	require.NoError(t, err)
	clk.advance(2 * time.Second)
	v, _ := c.Get(ctx)
	require.Equal(t, "tok-1", v, "a 4 s token is used for 3 s, not dropped at once by the 5 min margin")
	clk.advance(time.Second)
	v, _ = c.Get(ctx)
	require.Equal(t, "tok-2", v)
	require.EqualValues(t, 2, n.Load())
}

func TestInvalidateDropsOnlyTheStaleToken(t *testing.T) {
	fetch, n := counting(2 * time.Hour)
	c := New(fetch, Options{})
	ctx := context.Background()
	stale, err := c.Get(ctx)
	require.NoError(t, err)

	c.Invalidate(stale)
	fresh, err := c.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, "tok-2", fresh, "an invalid-token answer makes the next Get fetch")

	c.Invalidate(stale) // a second caller refused with the same old token
	again, err := c.Get(ctx)
	require.NoError(t, err)
	require.Equal(t, fresh, again, "the replacement is kept")
	require.EqualValues(t, 2, n.Load())
}

func TestConcurrentCallersShareOneFetch(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int64
	c := New(func(context.Context) (Token, error) {
		n.Add(1)
		<-release
		return Token{Value: "shared", ExpiresIn: time.Hour}, nil
	}, Options{})

	const callers = 64
	var started, done sync.WaitGroup
	got := make([]string, callers)
	errs := make([]error, callers)
	started.Add(callers)
	done.Add(callers)
	for i := range callers {
		go func() {
			defer done.Done()
			started.Done()
			got[i], errs[i] = c.Get(context.Background())
		}()
	}
	started.Wait()
	close(release)
	done.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Equal(t, "shared", got[i])
	}
	require.EqualValues(t, 1, n.Load(), "one fetch for every concurrent caller")
}

func TestFailedFetchIsNotCachedAndACancelledCallerDoesNotCancelIt(t *testing.T) {
	var n atomic.Int64
	gate := make(chan struct{})
	c := New(func(ctx context.Context) (Token, error) {
		switch n.Add(1) {
		case 1:
			return Token{}, errors.New("vendor busy")
		case 2:
			<-gate
			if ctx.Err() != nil {
				return Token{}, ctx.Err()
			}
			return Token{Value: "late", ExpiresIn: time.Hour}, nil
		}
		return Token{}, errors.New("unexpected fetch")
	}, Options{})

	_, err := c.Get(context.Background())
	require.EqualError(t, err, "vendor busy")

	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx)
		waiting <- err
	}()
	// A second caller joins the same fetch and outlives the first caller's cancellation.
	second := make(chan string, 1)
	go func() {
		v, _ := c.Get(context.Background())
		second <- v
	}()
	require.Eventually(t, func() bool { return n.Load() == 2 }, 5*time.Second, time.Millisecond)
	cancel()
	require.ErrorIs(t, <-waiting, context.Canceled)
	close(gate)
	require.Equal(t, "late", <-second)
	require.EqualValues(t, 2, n.Load(), "the failed fetch was retried once, then shared")
}

func TestEmptyTokenIsAnError(t *testing.T) {
	c := New(func(context.Context) (Token, error) { return Token{ExpiresIn: time.Hour}, nil }, Options{})
	_, err := c.Get(context.Background())
	require.ErrorContains(t, err, "empty access token")
}
