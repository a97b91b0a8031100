package audience

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/store/storetest"
)

// The identity cache tests run on the real Redis (HERALD_TEST_REDIS_URL) and on a real
// local Redis Cluster (HERALD_TEST_REDIS_CLUSTER, started by scripts/redis-cluster.sh when it
// is not up), each test under its own key prefix, with MariaDB as the source of truth.

// cacheTestRedisURL is the Redis the tests use.
func cacheTestRedisURL() string {
	return cmp.Or(os.Getenv("HERALD_TEST_REDIS_URL"), "redis://127.0.0.1:6379/0")
}

// cacheTestRedis returns a client of the test Redis, closed when t ends.
func cacheTestRedis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(cacheTestRedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	require.NoError(t, rdb.Ping(context.Background()).Err(), "Redis at %s", cacheTestRedisURL())
	return rdb
}

// cacheScanKeys calls fn with the keys under prefix, on every master of a cluster.
func cacheScanKeys(ctx context.Context, rdb redis.UniversalClient, prefix string, fn func(c redis.Cmdable, keys []string) error) error {
	pattern := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(prefix) + "*"
	scan := func(ctx context.Context, c *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				if err := fn(c, keys); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, scan)
	case *redis.Client:
		return scan(ctx, c)
	default:
		return fmt.Errorf("unexpected client %T", rdb)
	}
}

// cacheDeleteKeys deletes the keys under prefix: a FLUSH of one test's keyspace only.
func cacheDeleteKeys(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	return cacheScanKeys(ctx, rdb, prefix, func(c redis.Cmdable, keys []string) error {
		pipe := c.Pipeline()
		for _, k := range keys {
			pipe.Unlink(ctx, k) // one command per key: keys of a cluster node span slots
		}
		_, err := pipe.Exec(ctx)
		return err
	})
}

// cacheKeyCount returns how many keys are under prefix.
func cacheKeyCount(t *testing.T, rdb redis.UniversalClient, prefix string) int {
	t.Helper()
	var n atomic.Int64
	require.NoError(t, cacheScanKeys(context.Background(), rdb, prefix, func(_ redis.Cmdable, keys []string) error {
		n.Add(int64(len(keys)))
		return nil
	}))
	return int(n.Load())
}

// cacheCountingLoader counts the calls that reach the database.
type cacheCountingLoader struct {
	next      Loader
	addresses atomic.Int64
	owners    atomic.Int64
}

func (l *cacheCountingLoader) LoadAddresses(ctx context.Context, appID int64, userIDs []string) (Addresses, error) {
	l.addresses.Add(1)
	return l.next.LoadAddresses(ctx, appID, userIDs)
}

func (l *cacheCountingLoader) LoadOwners(ctx context.Context, appID int64, ch channels.Channel, address string) ([]string, error) {
	l.owners.Add(1)
	return l.next.LoadOwners(ctx, appID, ch, address)
}

// cacheCountHook counts what a client sends: pipelines (one round trip each), the commands in
// them, and single commands.
type cacheCountHook struct {
	pipelines, pipelined, singles atomic.Int64
}

func (h *cacheCountHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *cacheCountHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.singles.Add(1)
		return next(ctx, cmd)
	}
}

func (h *cacheCountHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.pipelines.Add(1)
		h.pipelined.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

type cacheTestBundle struct {
	ctx    context.Context // an ADMIN of every app
	svc    *Service        // without the cache, for seeding a cold cache
	core   *sql.DB
	rdb    redis.UniversalClient
	prefix string
	loader *cacheCountingLoader
	cache  *Cache
	appID  int64
}

// setupCacheTest gives a test its own databases, app and key prefix on rdb (the test Redis
// when nil); its keys are deleted when the test ends.
func setupCacheTest(t testing.TB, rdb redis.UniversalClient) *cacheTestBundle {
	t.Helper()
	if rdb == nil {
		rdb = cacheTestRedis(t)
	}
	db := storetest.New(t)
	ctx := account.WithPrincipal(context.Background(), &account.Principal{Role: account.Admin, AllApps: true})
	res, err := db.Core.ExecContext(ctx, "INSERT INTO apps (name, created_at) VALUES (?, ?)", "cache test", time.Now().UTC())
	require.NoError(t, err)
	appID, err := res.LastInsertId()
	require.NoError(t, err)

	svc := NewService(db, nil)
	prefix := storetest.Prefix() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cacheDeleteKeys(ctx, rdb, prefix); err != nil {
			t.Errorf("error deleting the test's Redis keys: %v", err)
		}
	})
	loader := &cacheCountingLoader{next: svc}
	cache, err := NewCache(rdb, prefix, loader, CacheOptions{})
	require.NoError(t, err)
	return &cacheTestBundle{ctx: ctx, svc: svc, core: db.Core, rdb: rdb, prefix: prefix, loader: loader, cache: cache, appID: appID}
}

// upsert writes users to the database only (the cache does not see it).
func (tb *cacheTestBundle) upsert(t *testing.T, users ...UserInput) {
	t.Helper()
	_, _, err := tb.svc.Upsert(tb.ctx, tb.appID, users)
	require.NoError(t, err)
}

// unbind removes a binding with SQL, behind the cache's back.
func (tb *cacheTestBundle) unbind(t *testing.T, user string, ch channels.Channel, address string) {
	t.Helper()
	res, err := tb.core.ExecContext(tb.ctx, `DELETE ui FROM user_identities ui JOIN identities i ON i.id = ui.identity_id
		WHERE ui.app_id = ? AND ui.user_id = ? AND i.channel = ? AND i.address = ?`, tb.appID, user, string(ch), address)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "binding %s %s of %s", ch, address, user)
}

// requireResolves checks that the cache resolves users exactly as the database does, and
// that it read the database dbReads times to do so.
func (tb *cacheTestBundle) requireResolves(t *testing.T, users []string, dbReads int64) {
	t.Helper()
	before := tb.loader.addresses.Load()
	got, err := tb.cache.Resolve(tb.ctx, tb.appID, users)
	require.NoError(t, err)
	require.Equal(t, dbReads, tb.loader.addresses.Load()-before, "LoadAddresses calls")
	want, err := tb.svc.LoadAddresses(tb.ctx, tb.appID, users)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

// requireOwners checks that the cache finds the owners the database has, and that it asked
// the database for owners dbReads times to do so.
func (tb *cacheTestBundle) requireOwners(t *testing.T, ch channels.Channel, address string, want []string, dbReads int64) {
	t.Helper()
	before := tb.loader.owners.Load()
	got, err := tb.cache.Owners(tb.ctx, tb.appID, ch, address)
	require.NoError(t, err)
	require.Equal(t, dbReads, tb.loader.owners.Load()-before, "LoadOwners calls")
	db, err := tb.svc.LoadOwners(tb.ctx, tb.appID, ch, address)
	require.NoError(t, err)
	require.Equal(t, db, got, "cache and database disagree")
	require.Equal(t, want, got)
}

func cacheSeedUsers() []UserInput {
	return []UserInput{
		{ID: "alice", Identities: []Identity{
			{Channel: channels.SMS, Address: "13800000001"},
			{Channel: channels.AppPush, Address: "tok-a1"},
			{Channel: channels.AppPush, Address: "tok-a2"},
			{Channel: channels.Email, Address: "alice@Example.COM"},
		}},
		{ID: "bob", Identities: []Identity{
			{Channel: channels.WeChat, Address: "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"},
			{Channel: channels.Webhook, Address: "https://hooks.example.com/h?a=1&b=%7Bx%7D"},
		}},
		{ID: "carol"}, // no identities
		{ID: "x{3}:y", Identities: []Identity{{Channel: channels.DingTalk, Address: "ding-x"}}}, // braces in an id
		{ID: "测试用户", Identities: []Identity{{Channel: channels.Voice, Address: "+85291234567"}}},
	}
}

func TestNewCacheValidates(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	loader := &cacheCountingLoader{}

	c, err := NewCache(rdb, "herald:", loader, CacheOptions{})
	require.NoError(t, err)
	require.Equal(t, DefaultCacheTTL, c.ttl)
	require.Less(t, c.ownerTTL, c.ttl)

	for _, tt := range []struct {
		name   string
		rdb    redis.UniversalClient
		prefix string
		loader Loader
		ttl    time.Duration
		want   string
	}{
		{"no client", nil, "herald:", loader, 0, "Redis client"},
		{"no loader", rdb, "herald:", nil, 0, "loader"},
		{"brace in prefix", rdb, "herald{x}:", loader, 0, "must not contain"},
		{"tiny TTL", rdb, "herald:", loader, time.Millisecond, "shorter than a second"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCache(tt.rdb, tt.prefix, tt.loader, CacheOptions{TTL: tt.ttl})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestCacheKeyLayout(t *testing.T) {
	t.Parallel()
	c := &Cache{prefix: "herald:"}
	require.Equal(t, "herald:id:{7:"+fmt.Sprint(cacheUserBucket("alice"))+"}:alice", c.userKey(7, "alice"))
	require.Equal(t, []string{c.userKey(7, "alice"), c.userKey(7, "x{1}")}, c.userKeys(7, []string{"alice", "x{1}"}))
	k := c.ownerKey(7, channels.SMS, "+8613800000001")
	require.Regexp(t, `^herald:own:\{7:[0-9]+\}:SMS:[0-9a-f]{32}$`, k)
	require.NotContains(t, k, "13800000001", "owner keys carry no address in clear text")

	// fnv-1a spreads user ids over every bucket.
	seen := map[uint32]bool{}
	for i := range 5000 {
		seen[cacheUserBucket(fmt.Sprintf("u%06d", i))] = true
	}
	require.Len(t, seen, cacheBuckets)
}

func TestCacheResolveMissHitAndEmptyUsers(t *testing.T) {
	t.Parallel()
	tb := setupCacheTest(t, nil)
	tb.upsert(t, cacheSeedUsers()...)
	users := []string{"alice", "bob", "carol", "dave", "x{3}:y", "测试用户"} // dave does not exist

	tb.requireResolves(t, users, 1) // cold: one database read for all misses
	tb.requireResolves(t, users, 0) // warm
	got, err := tb.cache.Resolve(tb.ctx, tb.appID, users)
	require.NoError(t, err)
	require.Equal(t, []string{"+8613800000001"}, got["alice"][channels.SMS])
	require.Equal(t, []string{"tok-a1", "tok-a2"}, got["alice"][channels.AppPush], "oldest binding first")
	require.Equal(t, []string{"alice@example.com"}, got["alice"][channels.Email])
	require.NotContains(t, got, "carol")
	require.NotContains(t, got, "dave")

	// One hash per user holds every channel; users without identities are hits too.
	h, err := tb.rdb.HGetAll(tb.ctx, tb.cache.userKey(tb.appID, "alice")).Result()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"_": "1", "SMS": "+8613800000001", "APP_PUSH": "tok-a1\xfftok-a2", "EMAIL": "alice@example.com"}, h)
	for _, u := range []string{"carol", "dave"} {
		h, err := tb.rdb.HGetAll(tb.ctx, tb.cache.userKey(tb.appID, u)).Result()
		require.NoError(t, err)
		require.Equal(t, map[string]string{"_": "1"}, h, u)
	}
	ttl, err := tb.rdb.PTTL(tb.ctx, tb.cache.userKey(tb.appID, "carol")).Result()
	require.NoError(t, err)
	require.InDelta(t, DefaultCacheTTL.Seconds(), ttl.Seconds(), 60)

	// A later binding is not seen until the cache is told (write-through does that) ...
	tb.upsert(t, UserInput{ID: "alice", Identities: []Identity{{Channel: channels.AppPush, Address: "tok-a3"}}})
	got, err = tb.cache.Resolve(tb.ctx, tb.appID, []string{"alice"})
	require.NoError(t, err)
	require.Len(t, got["alice"][channels.AppPush], 2)
	// ... and Refresh replaces the hash.
	require.NoError(t, tb.cache.Refresh(tb.ctx, tb.appID, []string{"alice"}))
	tb.requireResolves(t, users, 0)
	got, err = tb.cache.Resolve(tb.ctx, tb.appID, []string{"alice"})
	require.NoError(t, err)
	require.Equal(t, []string{"tok-a1", "tok-a2", "tok-a3"}, got["alice"][channels.AppPush])
}

func TestCacheWriteThrough(t *testing.T) {
	t.Parallel()
	tb := setupCacheTest(t, nil)
	tb.svc.SetCache(tb.cache)
	tb.upsert(t, cacheSeedUsers()...)
	require.Positive(t, tb.loader.addresses.Load(), "Upsert refreshed the cache")
	tb.requireResolves(t, []string{"alice", "bob", "x{3}:y", "测试用户"}, 0)

	// Unbind through the service: the cache follows without a miss.
	_, err := tb.svc.Unbind(tb.ctx, tb.appID, "alice", Identity{Channel: channels.AppPush, Address: "tok-a1"})
	require.NoError(t, err)
	tb.requireResolves(t, []string{"alice"}, 0)
}

func TestCacheRefreshReplacesNotMerges(t *testing.T) {
	t.Parallel()
	tb := setupCacheTest(t, nil)
	tb.upsert(t, cacheSeedUsers()...)
	users := []string{"alice", "bob"}
	tb.requireResolves(t, users, 1)

	tb.unbind(t, "alice", channels.AppPush, "tok-a1")
	tb.unbind(t, "alice", channels.Email, "alice@example.com")
	tb.unbind(t, "bob", channels.WeChat, "o6_bmjrPTlm6_2sgVt7hMZOPfL2M")
	tb.unbind(t, "bob", channels.Webhook, "https://hooks.example.com/h?a=1&b=%7Bx%7D")
	require.NoError(t, tb.cache.Refresh(tb.ctx, tb.appID, append(users, "alice"))) // a duplicate is harmless
	tb.requireResolves(t, users, 0)

	got, err := tb.cache.Resolve(tb.ctx, tb.appID, users)
	require.NoError(t, err)
	require.Equal(t, map[channels.Channel][]string{channels.SMS: {"+8613800000001"}, channels.AppPush: {"tok-a2"}}, got["alice"])
	require.NotContains(t, got, "bob", "a user who lost every identity is a cached empty user")
	h, err := tb.rdb.HGetAll(tb.ctx, tb.cache.userKey(tb.appID, "bob")).Result()
	require.NoError(t, err)
	require.Equal(t, map[string]string{"_": "1"}, h)
}

func TestCacheFillNeverOverwritesANewerWrite(t *testing.T) {
	t.Parallel()
	tb := setupCacheTest(t, nil)
	tb.upsert(t, cacheSeedUsers()...)

	// A Resolve that read the database before a change fills after the change's Refresh:
	// its stale read must not win.
	stale, err := tb.svc.LoadAddresses(tb.ctx, tb.appID, []string{"alice"})
	require.NoError(t, err)
	tb.unbind(t, "alice", channels.Email, "alice@example.com")
	require.NoError(t, tb.cache.Refresh(tb.ctx, tb.appID, []string{"alice"}))
	tb.cache.fill(tb.ctx, tb.appID, []string{"alice"}, stale)
	tb.requireResolves(t, []string{"alice"}, 0)

	// A hash of another encoding version is a miss, and the fill replaces it.
	key := tb.cache.userKey(tb.appID, "bob")
	require.NoError(t, tb.rdb.HSet(tb.ctx, key, "_", "0", "SMS", "+8610000000000").Err())
	tb.requireResolves(t, []string{"bob"}, 1)
	tb.requireResolves(t, []string{"bob"}, 0)
	h, err := tb.rdb.HGetAll(tb.ctx, key).Result()
	require.NoError(t, err)
	require.Equal(t, cacheVersion, h["_"])
	require.NotContains(t, h, "SMS")
}

// cacheStubLoader answers from memory, for what the database cannot hold.
type cacheStubLoader struct{ addresses Addresses }

func (l cacheStubLoader) LoadAddresses(_ context.Context, _ int64, userIDs []string) (Addresses, error) {
	out := Addresses{}
	for _, u := range userIDs {
		if a, ok := l.addresses[u]; ok {
			out[u] = a
		}
	}
	return out, nil
}

func (l cacheStubLoader) LoadOwners(context.Context, int64, channels.Channel, string) ([]string, error) {
	return nil, nil
}

func TestCacheNeverCachesAnAddressHoldingTheSeparator(t *testing.T) {
	t.Parallel()
	rdb := cacheTestRedis(t)
	prefix := storetest.Prefix() + ":"
	t.Cleanup(func() { _ = cacheDeleteKeys(context.Background(), rdb, prefix) })
	want := Addresses{"u": {channels.WeChat: {"a\xffb"}}}
	loader := &cacheCountingLoader{next: cacheStubLoader{addresses: want}}
	c, err := NewCache(rdb, prefix, loader, CacheOptions{})
	require.NoError(t, err)
	ctx := t.Context()

	for i := range 2 {
		got, err := c.Resolve(ctx, 1, []string{"u"})
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.EqualValues(t, i+1, loader.addresses.Load(), "read from the loader every time")
	}
	require.NoError(t, c.Refresh(ctx, 1, []string{"u"}))
	require.Zero(t, cacheKeyCount(t, rdb, prefix))
}

func TestCacheOwnersSharedPhone(t *testing.T) {
	t.Parallel()
	tb := setupCacheTest(t, nil)
	tb.svc.SetCache(tb.cache) // write-through from the service
	const family = "+8613900000000"
	tb.upsert(t,
		UserInput{ID: "dad", Identities: []Identity{{Channel: channels.SMS, Address: family}, {Channel: channels.SMS, Address: "13900000001"}}},
		UserInput{ID: "mum", Identities: []Identity{{Channel: channels.SMS, Address: family}}},
		UserInput{ID: "kid", Identities: []Identity{{Channel: channels.SMS, Address: family}, {Channel: channels.AppPush, Address: "kid-tablet"}}},
	)

	tb.requireOwners(t, channels.SMS, family, []string{"dad", "kid", "mum"}, 1) // miss: from the database
	tb.requireOwners(t, channels.SMS, family, []string{"dad", "kid", "mum"}, 0) // hit
	tb.requireOwners(t, channels.SMS, "+8613900000001", []string{"dad"}, 1)
	tb.requireOwners(t, channels.SMS, "+8613999999999", nil, 1) // nobody's number ...
	tb.requireOwners(t, channels.SMS, "+8613999999999", nil, 0) // ... is a cached hit too

	// An owner set never outlives the hashes of its members.
	setTTL, err := tb.rdb.PTTL(tb.ctx, tb.cache.ownerKey(tb.appID, channels.SMS, family)).Result()
	require.NoError(t, err)
	for _, u := range []string{"dad", "mum", "kid"} {
		hashTTL, err := tb.rdb.PTTL(tb.ctx, tb.cache.userKey(tb.appID, u)).Result()
		require.NoError(t, err)
		require.Greater(t, hashTTL, setTTL, u)
	}

	// Unbinding behind the cache's back, then Refresh, takes mum out of the index in place.
	tb.unbind(t, "mum", channels.SMS, family)
	require.NoError(t, tb.cache.Refresh(tb.ctx, tb.appID, []string{"mum"}))
	tb.requireOwners(t, channels.SMS, family, []string{"dad", "kid"}, 0)
	got, err := tb.cache.Resolve(tb.ctx, tb.appID, []string{"mum"})
	require.NoError(t, err)
	require.NotContains(t, got, "mum")

	// A new binding through the service joins the existing set.
	tb.upsert(t, UserInput{ID: "granny", Identities: []Identity{{Channel: channels.SMS, Address: family}}})
	tb.requireOwners(t, channels.SMS, family, []string{"dad", "granny", "kid"}, 0)
	_, err = tb.svc.Unbind(tb.ctx, tb.appID, "dad", Identity{Channel: channels.SMS, Address: family})
	require.NoError(t, err)
	tb.requireOwners(t, channels.SMS, family, []string{"granny", "kid"}, 0)

	// The last owner leaving leaves a cached empty set.
	tb.unbind(t, "kid", channels.SMS, family)
	tb.unbind(t, "granny", channels.SMS, family)
	require.NoError(t, tb.cache.Refresh(tb.ctx, tb.appID, []string{"kid", "granny"}))
	tb.requireOwners(t, channels.SMS, family, nil, 0)
	tb.requireOwners(t, channels.SMS, "+8613900000001", []string{"dad"}, 0)

	// The service's reverse lookup goes through the index.
	owners, err := tb.svc.Owners(tb.ctx, tb.appID, channels.SMS, "139 0000 0001")
	require.NoError(t, err)
	require.Len(t, owners, 1)
	require.Equal(t, "dad", owners[0].ID)
	require.EqualValues(t, 3, tb.loader.owners.Load(), "the service read the index, not the database")
}

func TestCacheRefillsAfterFlush(t *testing.T) {
	t.Parallel()
	tb := setupCacheTest(t, nil)
	tb.upsert(t, cacheSeedUsers()...)
	users := []string{"alice", "bob", "carol", "x{3}:y", "测试用户"}
	tb.requireResolves(t, users, 1)
	tb.requireOwners(t, channels.AppPush, "tok-a2", []string{"alice"}, 1)
	keys := cacheKeyCount(t, tb.rdb, tb.prefix)
	require.Equal(t, len(users)+1, keys)

	// Redis loses everything (only this test's keys; the server is shared).
	require.NoError(t, cacheDeleteKeys(tb.ctx, tb.rdb, tb.prefix))
	require.Zero(t, cacheKeyCount(t, tb.rdb, tb.prefix))
	tb.requireResolves(t, users, 1)
	tb.requireResolves(t, users, 0)
	tb.requireOwners(t, channels.AppPush, "tok-a2", []string{"alice"}, 1)
	tb.requireOwners(t, channels.AppPush, "tok-a2", []string{"alice"}, 0)
	require.Equal(t, keys, cacheKeyCount(t, tb.rdb, tb.prefix))

	// A Refresh on an empty Redis writes the hash but creates no partial owner set: alice's
	// family-style shared address must still be read whole from the database.
	require.NoError(t, cacheDeleteKeys(tb.ctx, tb.rdb, tb.prefix))
	tb.upsert(t, UserInput{ID: "bob", Identities: []Identity{{Channel: channels.AppPush, Address: "tok-a2"}}})
	require.NoError(t, tb.cache.Refresh(tb.ctx, tb.appID, []string{"bob"}))
	tb.requireOwners(t, channels.AppPush, "tok-a2", []string{"alice", "bob"}, 1)
}

func TestCacheResolveIsOneRoundTrip(t *testing.T) {
	t.Parallel()
	tb := setupCacheTest(t, nil)
	tb.svc.SetCache(tb.cache)
	users := make([]UserInput, 1000)
	ids := make([]string, len(users))
	for i := range users {
		ids[i] = fmt.Sprintf("user-%04d", i)
		users[i] = UserInput{ID: ids[i], Identities: []Identity{
			{Channel: channels.SMS, Address: fmt.Sprintf("+86138%08d", i)},
			{Channel: channels.AppPush, Address: fmt.Sprintf("token-%d", i)},
		}}
	}
	tb.upsert(t, users...) // write-through: the cache is warm

	opts, err := redis.ParseURL(cacheTestRedisURL())
	require.NoError(t, err)
	counted := redis.NewClient(opts)
	t.Cleanup(func() { _ = counted.Close() })
	// Dial both pools (commands, pipelines) first: connection handshakes go through hooks too.
	require.NoError(t, counted.Ping(tb.ctx).Err())
	_, err = counted.Pipelined(tb.ctx, func(p redis.Pipeliner) error { return p.Ping(tb.ctx).Err() })
	require.NoError(t, err)
	hook := &cacheCountHook{}
	counted.AddHook(hook)
	loader := &cacheCountingLoader{next: tb.svc}
	cache, err := NewCache(counted, tb.prefix, loader, CacheOptions{})
	require.NoError(t, err)

	got, err := cache.Resolve(tb.ctx, tb.appID, ids)
	require.NoError(t, err)
	require.EqualValues(t, 1, hook.pipelines.Load(), "round trips")
	require.EqualValues(t, 1000, hook.pipelined.Load(), "HGETALLs")
	require.Zero(t, hook.singles.Load())
	require.Zero(t, loader.addresses.Load())
	want, err := tb.svc.LoadAddresses(tb.ctx, tb.appID, ids)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestCacheReadsTheDatabaseWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	tb := setupCacheTest(t, nil)
	tb.upsert(t, cacheSeedUsers()...)
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = down.Close() })
	tb.cache.rdb = down

	tb.requireResolves(t, []string{"alice", "bob", "carol"}, 1)
	tb.requireOwners(t, channels.AppPush, "tok-a1", []string{"alice"}, 1)
	require.Error(t, tb.cache.Refresh(tb.ctx, tb.appID, []string{"alice"}), "a write that did not happen is reported")
}

func TestCacheTestCleanupDeletesOnlyItsKeys(t *testing.T) {
	t.Parallel()
	tb := setupCacheTest(t, nil)
	tb.upsert(t, cacheSeedUsers()...)
	tb.requireResolves(t, []string{"alice", "bob", "carol"}, 1)
	other := storetest.Prefix() + ":id:{1:1}:alice"
	require.NoError(t, tb.rdb.Set(tb.ctx, other, "x", time.Minute).Err())
	t.Cleanup(func() { tb.rdb.Del(context.Background(), other) })

	require.Equal(t, 3, cacheKeyCount(t, tb.rdb, tb.prefix))
	require.NoError(t, cacheDeleteKeys(tb.ctx, tb.rdb, tb.prefix))
	require.Zero(t, cacheKeyCount(t, tb.rdb, tb.prefix))
	n, err := tb.rdb.Exists(tb.ctx, other).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "another prefix's key survives")
}

// cacheTestCluster returns a client of the test Redis Cluster, starting the local one with
// scripts/redis-cluster.sh when it is not up.
func cacheTestCluster(t *testing.T) *redis.ClusterClient {
	t.Helper()
	addrs := strings.Split(cmp.Or(os.Getenv("HERALD_TEST_REDIS_CLUSTER"), "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103"), ",")
	if !cacheClusterOK(addrs[0]) {
		if os.Getenv("HERALD_TEST_REDIS_CLUSTER") != "" {
			t.Fatalf("HERALD_TEST_REDIS_CLUSTER %v is not a healthy cluster", addrs)
		}
		if _, err := exec.LookPath("redis-server"); err != nil {
			t.Skip("redis-server is not installed; no local Redis Cluster")
		}
		out, err := exec.Command("../scripts/redis-cluster.sh", "start").CombinedOutput()
		require.NoError(t, err, "scripts/redis-cluster.sh start: %s", out)
		t.Logf("%s", out)
	}
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	cc, ok := rdb.(*redis.ClusterClient)
	require.True(t, ok, "three addresses make a cluster client, not %T", rdb)
	require.NoError(t, cc.ForEachShard(context.Background(), func(ctx context.Context, c *redis.Client) error {
		return c.Ping(ctx).Err()
	}))
	return cc
}

func cacheClusterOK(addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	info, err := c.ClusterInfo(context.Background()).Result()
	return err == nil && strings.Contains(info, "cluster_state:ok")
}

func TestCacheOnRedisCluster(t *testing.T) {
	t.Parallel()
	cc := cacheTestCluster(t)
	tb := setupCacheTest(t, cc)
	seed := cacheSeedUsers()
	for i := range 300 {
		seed = append(seed, UserInput{ID: fmt.Sprintf("c%03d", i), Identities: []Identity{
			{Channel: channels.SMS, Address: fmt.Sprintf("+86137%08d", i)},
			{Channel: channels.SMS, Address: "+8613700000000"}, // one family phone for everyone
		}})
	}
	tb.upsert(t, seed...)
	users := make([]string, 0, len(seed)+1)
	for _, u := range seed {
		users = append(users, u.ID)
	}
	users = append(users, "nobody")

	tb.requireResolves(t, users, 1)
	tb.requireResolves(t, users, 0)
	owners := make([]string, 0, 300)
	for i := range 300 {
		owners = append(owners, fmt.Sprintf("c%03d", i))
	}
	tb.requireOwners(t, channels.SMS, "+8613700000000", owners, 1)
	tb.requireOwners(t, channels.SMS, "+8613700000000", owners, 0)

	// Hash tags: the keys of one bucket share one slot (as Redis computes it), an app's
	// keys occupy at most 64 slots, and those slots are spread over every master.
	slotOfBucket := map[uint32]int64{}
	for _, u := range users {
		slot, err := cc.ClusterKeySlot(tb.ctx, tb.cache.userKey(tb.appID, u)).Result()
		require.NoError(t, err)
		b := cacheUserBucket(u)
		if s, ok := slotOfBucket[b]; ok {
			require.Equal(t, s, slot, "bucket %d", b)
		}
		slotOfBucket[b] = slot
	}
	require.LessOrEqual(t, len(slotOfBucket), cacheBuckets)
	shards, err := cc.ClusterShards(tb.ctx).Result()
	require.NoError(t, err)
	masters := map[string]bool{}
	for _, s := range slotOfBucket {
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if s < r.Start || s > r.End {
					continue
				}
				for _, n := range sh.Nodes {
					if n.Role == "master" {
						masters[n.ID] = true
					}
				}
			}
		}
	}
	require.Len(t, masters, len(shards), "one app's users span every master")

	// Unbind + Refresh on the cluster, after the nodes lost their scripts (EVALSHA falls
	// back to EVAL).
	require.NoError(t, cc.ForEachMaster(tb.ctx, func(ctx context.Context, c *redis.Client) error {
		return c.ScriptFlush(ctx).Err()
	}))
	tb.unbind(t, "c007", channels.SMS, "+8613700000000")
	require.NoError(t, tb.cache.Refresh(tb.ctx, tb.appID, []string{"c007"}))
	owners = slices.DeleteFunc(owners, func(u string) bool { return u == "c007" })
	tb.requireOwners(t, channels.SMS, "+8613700000000", owners, 0)
	tb.requireResolves(t, users, 0)

	// Flush this test's keys on every master; everything refills.
	require.NoError(t, cacheDeleteKeys(tb.ctx, cc, tb.prefix))
	require.Zero(t, cacheKeyCount(t, cc, tb.prefix))
	tb.requireResolves(t, users, 1)
	tb.requireResolves(t, users, 0)
	tb.requireOwners(t, channels.SMS, "+8613700000000", owners, 1)
	tb.requireOwners(t, channels.SMS, "+8613700000000", owners, 0)
}
