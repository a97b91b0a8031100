// Package token caches the access tokens of vendors that hand one out for a key and secret
// (WeChat, DingTalk): the token is fetched on first use, kept until shortly before it
// expires, fetched once for all concurrent callers (single flight), and dropped when the
// vendor answers that it is no longer valid.
package token

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultMargin is how long before its expiry a token is replaced.
const DefaultMargin = 5 * time.Minute

// DefaultFetchTimeout bounds one fetch, which runs apart from the callers that wait for it.
const DefaultFetchTimeout = 15 * time.Second

// Token is what a vendor's token endpoint answered.
type Token struct {
	Value string
	// ExpiresIn is the lifetime the vendor announced.
	ExpiresIn time.Duration
}

// FetchFunc asks the vendor for a token.
type FetchFunc func(ctx context.Context) (Token, error)

// Cache holds one vendor account's current token. The zero value is not usable; call New.
type Cache struct {
	fetch   FetchFunc
	now     func() time.Time
	margin  time.Duration
	timeout time.Duration

	mu       sync.Mutex
	value    string
	renewAt  time.Time
	inflight *call
	fetches  int64
}

// call is one fetch that every caller arriving meanwhile waits for.
type call struct {
	done  chan struct{}
	value string
	err   error
}

// Options tunes a Cache; zero fields take the defaults.
type Options struct {
	// Margin is how long before expiry the token is replaced; it is capped at a quarter of
	// the token's lifetime so that short-lived tokens are still used. Default DefaultMargin.
	Margin time.Duration
	// FetchTimeout bounds one fetch; default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// New returns a cache that gets its tokens from fetch.
func New(fetch FetchFunc, opts Options) *Cache {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache{
		fetch:   fetch,
		now:     opts.Now,
		margin:  cmp.Or(opts.Margin, DefaultMargin),
		timeout: cmp.Or(opts.FetchTimeout, DefaultFetchTimeout),
	}
}

// Get returns a token valid for a while yet, fetching one when the cache holds none or the
// one it holds is about to expire. Concurrent callers share one fetch; a caller whose ctx
// ends stops waiting without cancelling the fetch for the others.
func (c *Cache) Get(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.value != "" && c.now().Before(c.renewAt) {
		v := c.value
		c.mu.Unlock()
		return v, nil
	}
	cl := c.inflight
	if cl == nil {
		cl = &call{done: make(chan struct{})}
		c.inflight = cl
		c.fetches++
		go c.run(context.WithoutCancel(ctx), cl)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.value, cl.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *Cache) run(ctx context.Context, cl *call) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	tok, err := c.fetch(ctx)
	if err == nil && tok.Value == "" {
		err = errors.New("the vendor answered an empty access token")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight = nil
	if err != nil {
		cl.err = err
		close(cl.done)
		return
	}
	life := tok.ExpiresIn
	if life <= 0 {
		life = time.Minute
	}
	c.value = tok.Value
	c.renewAt = c.now().Add(life - min(c.margin, life/4))
	cl.value = tok.Value
	close(cl.done)
}

// Invalidate drops stale, a token the vendor refused as invalid or expired, so that the next
// Get fetches a new one. A token already replaced since stale was handed out is kept: of
// many callers refused with the same stale token, only the first causes a fetch.
func (c *Cache) Invalidate(stale string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.value == stale {
		c.value = ""
		c.renewAt = time.Time{}
	}
}

// Fetches counts the fetches started so far.
func (c *Cache) Fetches() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}
