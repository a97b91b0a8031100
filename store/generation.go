package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Generation is a counter in Redis that a process bumps after changing something every
// Herald process caches, such as which version of a template is the latest. A process that
// read the counter as g before reading the database may serve what it read while the counter
// is still g: a change in any process bumps it after its commit, so the next look sees a new
// value and reads again. A nil *Generation is never current: every look reads the database.
type Generation struct {
	rdb redis.UniversalClient
	key string
	// MaxAge bounds how long an entry is served on one counter value, for a change whose bump
	// was lost (Redis unreachable just after the commit).
	MaxAge time.Duration
}

// NewGeneration returns the counter stored at key; a nil client gives a nil Generation.
func NewGeneration(rdb redis.UniversalClient, key string) *Generation {
	if rdb == nil {
		return nil
	}
	return &Generation{rdb: rdb, key: key, MaxAge: 10 * time.Second}
}

// Current reads the counter (0 before the first bump). ok is false when it cannot be read:
// the caller then reads the database and caches nothing.
func (g *Generation) Current(ctx context.Context) (n int64, ok bool) {
	if g == nil {
		return 0, false
	}
	n, err := g.rdb.Get(ctx, g.key).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, true
	}
	return n, err == nil
}

// Bump moves the counter on, so that every process reads again what it cached before.
func (g *Generation) Bump(ctx context.Context) error {
	if g == nil {
		return nil
	}
	return g.rdb.Incr(ctx, g.key).Err()
}

// Latest caches which version of each object of a kind (templates, rules) is the latest,
// each entry served while the Generation stays at the value read before the database was and
// for at most its MaxAge.
type Latest struct {
	gen *Generation
	now func() time.Time

	mu      sync.Mutex
	entries map[int64]latestEntry
}

type latestEntry struct {
	version int
	gen     int64
	at      time.Time
}

// maxLatest bounds the entries of a Latest; past it the cache starts again empty.
const maxLatest = 100_000

// NewLatest returns an empty cache checked against gen; with a nil gen it caches nothing.
func NewLatest(gen *Generation) *Latest {
	return &Latest{gen: gen, now: time.Now, entries: map[int64]latestEntry{}}
}

// Lookup returns the latest version of id when the cache holds it for the current
// generation (hit). Otherwise the caller reads the database and, when ok, stores what it read
// under gen, the generation read before its read.
func (l *Latest) Lookup(ctx context.Context, id int64) (version int, hit bool, gen int64, ok bool) {
	gen, ok = l.gen.Current(ctx)
	if !ok {
		return 0, false, 0, false
	}
	l.mu.Lock()
	e, found := l.entries[id]
	l.mu.Unlock()
	if found && e.gen == gen && l.now().Sub(e.at) < l.gen.MaxAge {
		return e.version, true, gen, true
	}
	return 0, false, gen, true
}

// Resolve is Lookup for a getter given a version, 0 meaning the latest: it returns the
// version to read (the cached latest on a hit, else version as given) and remember, to call
// with the version the database read found, which caches it when that read was of the latest
// and the generation could be read.
func (l *Latest) Resolve(ctx context.Context, id int64, version int) (int, func(found int)) {
	if version != 0 {
		return version, func(int) {}
	}
	v, hit, gen, ok := l.Lookup(ctx, id)
	if hit {
		return v, func(int) {}
	}
	if !ok {
		return 0, func(int) {}
	}
	return 0, func(found int) { l.Store(id, found, gen) }
}

// Store records version as id's latest, read from the database at generation gen. An entry
// never moves back to an older version.
func (l *Latest) Store(id int64, version int, gen int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, found := l.entries[id]; found && e.gen == gen && e.version > version {
		return
	}
	if len(l.entries) >= maxLatest {
		clear(l.entries)
	}
	l.entries[id] = latestEntry{version: version, gen: gen, at: l.now()}
}

// Changed forgets id's entry and bumps the generation, so that every process reads the
// latest version again; call it after committing a new version.
func (l *Latest) Changed(ctx context.Context, id int64) error {
	l.mu.Lock()
	delete(l.entries, id)
	l.mu.Unlock()
	return l.gen.Bump(ctx)
}
