package audience

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/channels"
)

// Loader reads identities from the source of truth; *Service is one.
type Loader interface {
	// LoadAddresses returns the addresses of users; users without any are absent.
	LoadAddresses(ctx context.Context, appID int64, userIDs []string) (Addresses, error)
	// LoadOwners returns the users an address belongs to, in id order.
	LoadOwners(ctx context.Context, appID int64, ch channels.Channel, address string) ([]string, error)
}

// CacheOptions tunes a Cache; the zero value is usable.
type CacheOptions struct {
	// TTL is how long a user's hash lives after its last write (default 7 days). Reads do not
	// extend it, so every entry is reread from the database at least once per TTL.
	TTL time.Duration
	// Logger receives the cache's warnings (default slog.Default()).
	Logger *slog.Logger
}

// DefaultCacheTTL is the lifetime of a cached entry when CacheOptions.TTL is zero.
const DefaultCacheTTL = 7 * 24 * time.Hour

// Cache is the Redis identity cache: one hash per user holding every channel address, and a
// reverse index address → users, both refilled from the Loader whenever Redis has lost them.
// It works on a single Redis and on Redis Cluster.
//
// Key layout (P is the prefix, e.g. "herald:"):
//
//	P id:{app:b}:user            hash  "_" → encoding version, channel → addresses
//	P own:{app:b}:CHANNEL:digest set   the owners of one address, plus the member ""
//
// b is a bucket of 0..63: fnv-1a(user) % 64 for a user, the first byte of the address digest
// % 64 for an address. The hash tag {app:b} gives each app 64 slots. With no tag, a 1,000-user
// shard would scatter over ~1,000 slots and every master; with {app} alone, an app's whole
// audience (and every broadcast to it) would sit on one master. 64 slots spread one app over
// the masters (evenly enough up to a dozen or so) while a shard's pipeline touches at most 64
// slots, so go-redis splits it into at most min(64, masters) parallel round trips. The bucket
// function and count are part of the layout: changing them orphans the old keys until their
// TTL ends (one cold pass through the database).
//
// Addresses are hashed (SHA-256, 128 bits) in owner keys so that key names, which show up in
// SCAN, MONITOR and the slow log, carry no phone numbers or emails in clear text; the digest
// also bounds the key length.
//
// Consistency: writes replace a hash atomically (a script, since go-redis refuses a MULTI
// across cluster slots), fills from the database never overwrite a newer write, and an owner
// set only exists complete: it is created from the database in one step and afterwards only
// updated, never created, by Refresh. Every member of an owner set has a hash that lives at
// least as long as the set, so Refresh always knows the addresses to remove a user from.
// Concurrent writers can still leave a stale entry; it lasts until the next Refresh of that
// user or the TTL.
type Cache struct {
	rdb      redis.UniversalClient
	prefix   string
	loader   Loader
	ttl      time.Duration
	ownerTTL time.Duration
	logger   *slog.Logger
}

var (
	_ IdentityCache = (*Cache)(nil)
	_ OwnerCache    = (*Cache)(nil)
)

const (
	// cacheBuckets is the number of hash-tag buckets per app (see Cache).
	cacheBuckets = 64
	// cacheMarker is the hash field that every cached user has, so that a user without
	// addresses is a hit; its value is the encoding version, and a hash of another version
	// is a miss.
	cacheMarker  = "_"
	cacheVersion = "1"
	// cacheSep separates the addresses of one channel in a field. 0xFF never occurs in UTF-8,
	// and addresses are valid UTF-8 (checked on input, and stored in utf8mb4 columns).
	cacheSep = "\xff"
	// cacheNoOwner is the member every owner set holds, so an address without owners is a
	// hit too; user ids are never empty.
	cacheNoOwner = ""
	// cacheBatch is the number of users per Refresh round trip.
	cacheBatch = 1000
	// cacheUnpack is the most arguments a script passes to one Redis command (Lua's unpack
	// has a limit near 8,000).
	cacheUnpack = 1000
)

var (
	// cacheFillScript writes a user's hash unless a hash of the current version is there
	// already (a concurrent Refresh, newer than what the caller read); either way the hash
	// then lives a full TTL. KEYS[1] hash; ARGV[1] TTL in ms; ARGV[2..] field, value pairs,
	// starting with the marker and the version.
	cacheFillScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[3] then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
	return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`)

	// cacheReplaceScript replaces a user's hash and returns the previous one (field, value,
	// ...), so that Refresh learns which addresses the user no longer has. With no fields it
	// only deletes. KEYS[1] hash; ARGV[1] TTL in ms; ARGV[2..] field, value pairs.
	cacheReplaceScript = redis.NewScript(`
local old = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
if #ARGV > 1 then
	redis.call('HSET', KEYS[1], unpack(ARGV, 2))
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return old`)

	// cacheFillOwnersScript creates a complete owner set unless one exists. KEYS[1] set;
	// ARGV[1] TTL in ms; ARGV[2] the batch size; ARGV[3..] members.
	cacheFillOwnersScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	return 0
end
local step = tonumber(ARGV[2])
for i = 3, #ARGV, step do
	redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + step - 1, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1`)

	// cacheAddOwnerScript adds a user to an owner set only if the set exists: a set created
	// here would hold one owner of several. KEYS[1] set; ARGV[1] user.
	cacheAddOwnerScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
	return redis.call('SADD', KEYS[1], ARGV[1])
end
return 0`)
)

// NewCache returns the identity cache on rdb, with keys under prefix, filled from loader.
func NewCache(rdb redis.UniversalClient, prefix string, loader Loader, opts CacheOptions) (*Cache, error) {
	c := &Cache{
		rdb:    rdb,
		prefix: prefix,
		loader: loader,
		ttl:    cmp.Or(opts.TTL, DefaultCacheTTL),
		logger: cmp.Or(opts.Logger, slog.Default()).With("component", "audience.cache"),
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	// An owner set must not outlive the hashes of its members, which get a full TTL in the
	// same pipeline that creates the set (on other nodes, a few milliseconds apart).
	c.ownerTTL = c.ttl - c.ttl/16
	return c, nil
}

func (c *Cache) validate() error {
	switch {
	case c.rdb == nil:
		return errors.New("identity cache: a Redis client is needed")
	case c.loader == nil:
		return errors.New("identity cache: a loader is needed")
	case strings.ContainsAny(c.prefix, "{}"):
		return fmt.Errorf("identity cache: key prefix %q must not contain { or }, which would change the cluster hash tag", c.prefix)
	case c.ttl < time.Second:
		return fmt.Errorf("identity cache: TTL %s is shorter than a second", c.ttl)
	}
	return nil
}

// Resolve returns the addresses of users, equal to what the Loader returns for them: one
// pipelined round trip for all users, then, for the users Redis does not hold, one Loader call
// and one pipelined write. When Redis fails, the users it did not answer for are read from the
// Loader.
func (c *Cache) Resolve(ctx context.Context, appID int64, userIDs []string) (Addresses, error) {
	out := make(Addresses, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	keys := c.userKeys(appID, userIDs)
	pipe := c.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HGetAll(ctx, k)
	}
	_, execErr := pipe.Exec(ctx)
	if execErr != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("error reading the identity cache: %w", ctx.Err())
	}

	var (
		dec    cacheDecoder
		misses []string
	)
	for i, cmd := range cmds {
		a, ok := dec.decode(cmd.Val())
		switch {
		case cmd.Err() != nil || !ok:
			misses = append(misses, userIDs[i])
		case a != nil:
			out[userIDs[i]] = a
		}
	}
	if execErr != nil {
		c.logger.WarnContext(ctx, "error reading the identity cache; reading the database instead",
			"app_id", appID, "users", len(userIDs), "unanswered", len(misses), "error", execErr)
	}
	if len(misses) == 0 {
		return out, nil
	}
	c.logger.DebugContext(ctx, "identity cache misses", "app_id", appID, "users", len(userIDs), "misses", len(misses))

	loaded, err := c.loader.LoadAddresses(ctx, appID, misses)
	if err != nil {
		return nil, err
	}
	for u, a := range loaded {
		out[u] = a
	}
	if execErr == nil {
		c.fill(ctx, appID, misses, loaded)
	}
	return out, nil
}

// fill writes what was read from the database for users, without overwriting newer writes.
// A failure is logged: the database answered, and the next read fills again.
func (c *Cache) fill(ctx context.Context, appID int64, users []string, loaded Addresses) {
	calls := make([]cacheScriptCall, 0, len(users))
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		if seen[u] {
			continue
		}
		seen[u] = true
		args, ok := c.hashArgs(loaded[u])
		if !ok {
			continue
		}
		calls = append(calls, cacheScriptCall{script: cacheFillScript, key: c.userKey(appID, u), args: args})
	}
	if err := c.eval(ctx, calls, nil); err != nil {
		c.logger.WarnContext(ctx, "error filling the identity cache", "app_id", appID, "users", len(calls), "error", err)
	}
}

// Refresh replaces the cached addresses of users with what the Loader returns now, and moves
// the users in the reverse index from the addresses they lost to the ones they gained. It
// takes one Loader call and two pipelined round trips per thousand users.
func (c *Cache) Refresh(ctx context.Context, appID int64, userIDs []string) error {
	for start := 0; start < len(userIDs); start += cacheBatch {
		if err := c.refresh(ctx, appID, userIDs[start:min(start+cacheBatch, len(userIDs))]); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cache) refresh(ctx context.Context, appID int64, users []string) error {
	users = slices.Compact(slices.Sorted(slices.Values(users)))
	loaded, err := c.loader.LoadAddresses(ctx, appID, users)
	if err != nil {
		return err
	}

	calls := make([]cacheScriptCall, len(users))
	cached := make([]bool, len(users))
	for i, u := range users {
		args, ok := c.hashArgs(loaded[u])
		if !ok {
			args = []any{c.ttl.Milliseconds()} // delete only: this user is read from the database
		}
		calls[i] = cacheScriptCall{script: cacheReplaceScript, key: c.userKey(appID, u), args: args}
		cached[i] = ok
	}
	if err := c.eval(ctx, calls, nil); err != nil {
		return fmt.Errorf("error writing the identity cache: %w", err)
	}

	// The reverse index: a user leaves the sets of the addresses it lost, and joins the
	// existing sets of the addresses it has (again, which repairs a set a race left behind).
	// A user whose hash was only deleted leaves every set, since a member needs a hash.
	var (
		adds []cacheScriptCall
		rems []cacheOwnerRemoval
	)
	for i, u := range users {
		old, now := cacheDecodeFlat(calls[i].cmd.Val()), loaded[u]
		for ch, addrs := range old {
			for _, a := range addrs {
				if !cached[i] || !slices.Contains(now[ch], a) {
					rems = append(rems, cacheOwnerRemoval{key: c.ownerKey(appID, ch, a), user: u})
				}
			}
		}
		for ch, addrs := range now {
			for _, a := range addrs {
				if cached[i] {
					adds = append(adds, cacheScriptCall{script: cacheAddOwnerScript, key: c.ownerKey(appID, ch, a), args: []any{u}})
				} else {
					rems = append(rems, cacheOwnerRemoval{key: c.ownerKey(appID, ch, a), user: u})
				}
			}
		}
	}
	if len(adds) == 0 && len(rems) == 0 {
		return nil
	}
	err = c.eval(ctx, adds, func(pipe redis.Pipeliner) {
		for _, r := range rems {
			pipe.SRem(ctx, r.key, r.user)
		}
	})
	if err != nil {
		return fmt.Errorf("error updating the identity owner index: %w", err)
	}
	return nil
}

type cacheOwnerRemoval struct{ key, user string }

// Owners returns the users an address of app belongs to, in id order, as the Loader's
// LoadOwners would: from the reverse index, refilled from the Loader when Redis does not
// hold the address.
func (c *Cache) Owners(ctx context.Context, appID int64, ch channels.Channel, address string) ([]string, error) {
	key := c.ownerKey(appID, ch, address)
	members, err := c.rdb.SMembers(ctx, key).Result()
	switch {
	case err == nil && len(members) > 0:
		members = slices.DeleteFunc(members, func(m string) bool { return m == cacheNoOwner })
		if len(members) == 0 {
			return nil, nil
		}
		slices.Sort(members)
		return members, nil
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("error reading the identity owner index: %w", ctx.Err())
	case err != nil:
		c.logger.WarnContext(ctx, "error reading the identity owner index; reading the database instead",
			"app_id", appID, "channel", string(ch), "error", err)
	}
	redisErr := err

	owners, err := c.loader.LoadOwners(ctx, appID, ch, address)
	if err != nil {
		return nil, err
	}
	if redisErr == nil {
		c.fillOwners(ctx, appID, key, owners)
	}
	return owners, nil
}

// fillOwners caches the owner set of an address together with the hashes of its owners, so
// that every member of the set has a hash that outlives it (see Cache).
func (c *Cache) fillOwners(ctx context.Context, appID int64, key string, owners []string) {
	calls := make([]cacheScriptCall, 0, len(owners)+1)
	if len(owners) > 0 {
		loaded, err := c.loader.LoadAddresses(ctx, appID, owners)
		if err != nil {
			c.logger.WarnContext(ctx, "error reading owners' identities; owner index not filled", "app_id", appID, "error", err)
			return
		}
		for _, u := range owners {
			args, ok := c.hashArgs(loaded[u])
			if !ok {
				return // a member without a hash would break the invariant; stay uncached
			}
			calls = append(calls, cacheScriptCall{script: cacheFillScript, key: c.userKey(appID, u), args: args})
		}
	}
	args := make([]any, 0, len(owners)+3)
	args = append(args, c.ownerTTL.Milliseconds(), cacheUnpack, cacheNoOwner)
	for _, u := range owners {
		args = append(args, u)
	}
	calls = append(calls, cacheScriptCall{script: cacheFillOwnersScript, key: key, args: args})
	if err := c.eval(ctx, calls, nil); err != nil {
		c.logger.WarnContext(ctx, "error filling the identity owner index", "app_id", appID, "owners", len(owners), "error", err)
	}
}

// hashArgs returns the script arguments that write a user's hash: the TTL in ms, then the
// marker and the version, then one field per channel. It reports false for an address that
// holds the separator, which cannot be cached (the user is then always read from the Loader).
func (c *Cache) hashArgs(a map[channels.Channel][]string) ([]any, bool) {
	args := make([]any, 0, 3+2*len(a))
	args = append(args, c.ttl.Milliseconds(), cacheMarker, cacheVersion)
	for ch, addrs := range a {
		if len(addrs) == 0 {
			continue
		}
		for _, s := range addrs {
			if strings.Contains(s, cacheSep) {
				return nil, false
			}
		}
		args = append(args, string(ch), strings.Join(addrs, cacheSep))
	}
	return args, true
}

// cacheScriptCall is one script to run on one key; cmd holds its result after eval.
type cacheScriptCall struct {
	script *redis.Script
	key    string
	args   []any
	cmd    *redis.Cmd
}

// eval runs calls (and what more queues) in one pipeline with EVALSHA, then once more with
// EVAL for the calls that reached a node without the script (after a restart or SCRIPT
// FLUSH). It returns the first error of any command.
func (c *Cache) eval(ctx context.Context, calls []cacheScriptCall, more func(redis.Pipeliner)) error {
	if len(calls) == 0 && more == nil {
		return nil
	}
	pipe := c.rdb.Pipeline()
	for i := range calls {
		sc := &calls[i]
		sc.cmd = sc.script.EvalSha(ctx, pipe, []string{sc.key}, sc.args...)
	}
	if more != nil {
		more(pipe)
	}
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	for _, cmd := range cmds {
		if e := cmd.Err(); e != nil && !redis.HasErrorPrefix(e, "NOSCRIPT") {
			return e
		}
	}
	pipe = c.rdb.Pipeline()
	for i := range calls {
		sc := &calls[i]
		if redis.HasErrorPrefix(sc.cmd.Err(), "NOSCRIPT") {
			sc.cmd = sc.script.Eval(ctx, pipe, []string{sc.key}, sc.args...)
		}
	}
	_, err = pipe.Exec(ctx)
	return err
}

// userKeys returns the hash keys of users of app. They are cut from one string, built in
// one allocation: a shard's keys are on the hot path of every dispatch.
func (c *Cache) userKeys(appID int64, userIDs []string) []string {
	var heads [cacheBuckets]string
	app := strconv.FormatInt(appID, 10)
	buckets := make([]uint8, len(userIDs))
	size := 0
	for i, u := range userIDs {
		b := cacheUserBucket(u)
		if heads[b] == "" {
			heads[b] = c.prefix + "id:{" + app + ":" + strconv.Itoa(int(b)) + "}:"
		}
		buckets[i] = uint8(b)
		size += len(heads[b]) + len(u)
	}
	var sb strings.Builder
	sb.Grow(size)
	for i, u := range userIDs {
		sb.WriteString(heads[buckets[i]])
		sb.WriteString(u)
	}
	all := sb.String()
	keys := make([]string, len(userIDs))
	at := 0
	for i, u := range userIDs {
		n := len(heads[buckets[i]]) + len(u)
		keys[i] = all[at : at+n]
		at += n
	}
	return keys
}

// userKey returns the key of the hash of one user of app.
func (c *Cache) userKey(appID int64, userID string) string {
	return c.prefix + "id:{" + strconv.FormatInt(appID, 10) + ":" + strconv.Itoa(int(cacheUserBucket(userID))) + "}:" + userID
}

// ownerKey returns the key of the owner set of an address of app.
func (c *Cache) ownerKey(appID int64, ch channels.Channel, address string) string {
	sum := sha256.Sum256([]byte(address))
	return c.prefix + "own:{" + strconv.FormatInt(appID, 10) + ":" + strconv.Itoa(int(sum[0]%cacheBuckets)) + "}:" +
		string(ch) + ":" + hex.EncodeToString(sum[:16])
}

// cacheUserBucket is fnv-1a(user) % cacheBuckets; part of the key layout, never to change.
func cacheUserBucket(userID string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(userID); i++ {
		h ^= uint32(userID[i])
		h *= 16777619
	}
	return h % cacheBuckets
}

// cacheDecoder turns cached hashes into addresses. The address lists of one Resolve share
// one backing array, cut with capped slices so that an append by the caller copies.
type cacheDecoder struct {
	buf []string
}

// decode returns the addresses of one cached hash (nil for a user without any) and whether
// the hash is of the current encoding version; a missing hash is not.
func (d *cacheDecoder) decode(m map[string]string) (map[channels.Channel][]string, bool) {
	var (
		out     map[channels.Channel][]string
		version string
	)
	for f, v := range m {
		if f == cacheMarker {
			version = v
			continue
		}
		if v == "" {
			continue
		}
		if out == nil {
			out = make(map[channels.Channel][]string, len(m)-1)
		}
		n := strings.Count(v, cacheSep) + 1
		if len(d.buf) < n {
			d.buf = make([]string, max(n, 512))
		}
		s := d.buf[:n:n]
		d.buf = d.buf[n:]
		for i := range n - 1 {
			j := strings.IndexByte(v, cacheSep[0])
			s[i], v = v[:j], v[j+1:]
		}
		s[n-1] = v
		out[channels.Channel(f)] = s
	}
	return out, version == cacheVersion
}

// cacheDecodeFlat decodes a hash returned by a script as field, value, ... .
func cacheDecodeFlat(flat any) map[channels.Channel][]string {
	vals, _ := flat.([]any)
	m := make(map[string]string, len(vals)/2)
	for i := 0; i+1 < len(vals); i += 2 {
		f, _ := vals[i].(string)
		v, _ := vals[i+1].(string)
		m[f] = v
	}
	var d cacheDecoder
	a, _ := d.decode(m)
	return a
}
