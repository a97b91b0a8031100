package audience

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

// BenchmarkResolve measures shard resolution, the first step of every dispatch shard:
// resolved users/s for warm 1,000-user shards through Cache.Resolve, next to raw pipelined
// HGETALL of the same 1,000 prepared keys (the Redis work underneath, without key building,
// decoding or result maps). Both run in every iteration, in alternating order, on the same
// client, so they share the conditions of the run; ratio is resolve/raw (target ≥ 0.7).
// ns/op is the time of one raw pipeline plus one Resolve.
//
//	go test -run '^$' -bench Resolve -benchtime 10s -count 3 ./audience/
func BenchmarkResolve(b *testing.B) {
	const (
		users = 10000
		shard = 1000
	)
	tb := setupCacheTest(b, nil)
	seed := make([]UserInput, users)
	ids := make([]string, users)
	for i := range seed {
		ids[i] = fmt.Sprintf("customer-%07d", i)
		seed[i] = UserInput{ID: ids[i], Identities: []Identity{
			{Channel: channels.SMS, Address: fmt.Sprintf("+86138%08d", i)},
			{Channel: channels.AppPush, Address: fmt.Sprintf("getui-cid-%032x", i)},
		}}
	}
	tb.svc.SetCache(tb.cache) // Upsert writes the 10,000 hashes through
	_, _, err := tb.svc.Upsert(tb.ctx, tb.appID, seed)
	require.NoError(b, err)

	shards := make([][]string, users/shard)
	keys := make([][]string, len(shards))
	for s := range shards {
		shards[s] = ids[s*shard : (s+1)*shard]
		keys[s] = tb.cache.userKeys(tb.appID, shards[s])
	}
	for s := range shards { // warm, and equal to the database
		got, err := tb.cache.Resolve(tb.ctx, tb.appID, shards[s])
		require.NoError(b, err)
		want, err := tb.svc.LoadAddresses(tb.ctx, tb.appID, shards[s])
		require.NoError(b, err)
		require.Equal(b, want, got)
	}
	reads := tb.loader.addresses.Load()

	b.Run("shard=1000", func(b *testing.B) {
		var rawTime, resolveTime time.Duration
		raw := func(s int) {
			start := time.Now()
			pipe := tb.rdb.Pipeline()
			cmds := make([]*redis.MapStringStringCmd, shard)
			for i, k := range keys[s] {
				cmds[i] = pipe.HGetAll(tb.ctx, k)
			}
			if _, err := pipe.Exec(tb.ctx); err != nil {
				b.Fatal(err)
			}
			rawTime += time.Since(start)
			if len(cmds[0].Val()) != 3 {
				b.Fatalf("raw HGETALL read %v", cmds[0].Val())
			}
		}
		resolve := func(s int) {
			start := time.Now()
			got, err := tb.cache.Resolve(tb.ctx, tb.appID, shards[s])
			if err != nil {
				b.Fatal(err)
			}
			resolveTime += time.Since(start)
			if len(got) != shard {
				b.Fatalf("resolved %d users of %d", len(got), shard)
			}
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s := i % len(shards)
			if i%2 == 0 {
				raw(s)
				resolve(s)
			} else {
				resolve(s)
				raw(s)
			}
		}
		rawRate := float64(b.N*shard) / rawTime.Seconds()
		resolveRate := float64(b.N*shard) / resolveTime.Seconds()
		b.ReportMetric(rawRate, "raw-users/s")
		b.ReportMetric(resolveRate, "resolved-users/s")
		b.ReportMetric(resolveRate/rawRate, "ratio")
	})
	require.Equal(b, reads, tb.loader.addresses.Load(), "every shard stayed warm")
}
