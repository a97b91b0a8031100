package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

func TestGenerationIsSharedThroughRedis(t *testing.T) {
	t.Parallel()
	rdb, prefix := storetest.Redis(t)
	ctx := t.Context()
	a := store.NewGeneration(rdb, prefix+"templates:generation")
	b := store.NewGeneration(rdb, prefix+"templates:generation")

	n, ok := a.Current(ctx)
	require.True(t, ok)
	require.Zero(t, n, "no bump yet")
	require.NoError(t, b.Bump(ctx))
	n, ok = a.Current(ctx)
	require.True(t, ok)
	require.Equal(t, int64(1), n, "another process's bump is seen")
}

func TestLatestServesUntilAnyProcessChangesIt(t *testing.T) {
	t.Parallel()
	rdb, prefix := storetest.Redis(t)
	ctx := t.Context()
	key := prefix + "rules:generation"
	mine, theirs := store.NewLatest(store.NewGeneration(rdb, key)), store.NewLatest(store.NewGeneration(rdb, key))

	_, hit, gen, ok := mine.Lookup(ctx, 7)
	require.True(t, ok)
	require.False(t, hit, "nothing cached yet")
	mine.Store(7, 3, gen)
	v, hit, _, _ := mine.Lookup(ctx, 7)
	require.True(t, hit)
	require.Equal(t, 3, v)
	_, hit, _, _ = mine.Lookup(ctx, 8)
	require.False(t, hit, "only the object stored")

	// Another process saves version 4: the next look here reads the database again.
	require.NoError(t, theirs.Changed(ctx, 7))
	_, hit, gen, ok = mine.Lookup(ctx, 7)
	require.True(t, ok)
	require.False(t, hit, "a bump elsewhere ends the entry")
	mine.Store(7, 4, gen)
	v, hit, _, _ = mine.Lookup(ctx, 7)
	require.True(t, hit)
	require.Equal(t, 4, v)

	// A read that began before a change cannot bring an older version back.
	mine.Store(7, 3, gen)
	v, _, _, _ = mine.Lookup(ctx, 7)
	require.Equal(t, 4, v)

	// A change made here is seen here at once as well.
	require.NoError(t, mine.Changed(ctx, 7))
	_, hit, _, _ = mine.Lookup(ctx, 7)
	require.False(t, hit)
}

func TestLatestEntriesAgeOut(t *testing.T) {
	t.Parallel()
	rdb, prefix := storetest.Redis(t)
	ctx := t.Context()
	gen := store.NewGeneration(rdb, prefix+"templates:generation")
	gen.MaxAge = 0 // every entry is already too old: a lost bump is bounded by MaxAge
	l := store.NewLatest(gen)
	_, _, g, ok := l.Lookup(ctx, 1)
	require.True(t, ok)
	l.Store(1, 2, g)
	_, hit, _, _ := l.Lookup(ctx, 1)
	require.False(t, hit)
}

func TestLatestWithoutRedisCachesNothing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = down.Close() })
	for name, l := range map[string]*store.Latest{
		"unreachable Redis": store.NewLatest(store.NewGeneration(down, "x:generation")),
		"no Redis":          store.NewLatest(nil),
	} {
		_, _, g, ok := l.Lookup(ctx, 1)
		require.False(t, ok, name)
		l.Store(1, 2, g) // what a caller does not do when !ok; even so nothing is served
		_, hit, _, _ := l.Lookup(context.Background(), 1)
		require.False(t, hit, name)
		require.NoError(t, store.NewLatest(nil).Changed(ctx, 1), name)
	}
}

func TestResolveCachesOnlyReadsOfTheLatest(t *testing.T) {
	t.Parallel()
	rdb, prefix := storetest.Redis(t)
	ctx := t.Context()
	l := store.NewLatest(store.NewGeneration(rdb, prefix+"templates:generation"))

	v, remember := l.Resolve(ctx, 5, 2)
	require.Equal(t, 2, v, "a version asked for is read as is")
	remember(2)
	v, remember = l.Resolve(ctx, 5, 0)
	require.Zero(t, v, "nothing cached: the latest is read")
	remember(3)
	v, _ = l.Resolve(ctx, 5, 0)
	require.Equal(t, 3, v, "the latest read is cached")
}
