package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis measures keys read per second by pipelines of PipelineKeys HGETALLs, cycling over
// 10,000 hashes of eight fields (the shape of a cached user) under the prefix cfg.Name + ":",
// which are deleted after.
func Redis(ctx context.Context, cfg BaselineConfig) (Measurement, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Measurement{}, err
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return Measurement{}, fmt.Errorf("invalid Redis URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()

	keys := make([]string, redisKeys)
	for i := range keys {
		keys[i] = cfg.Name + ":user:" + strconv.Itoa(i)
	}
	defer func() {
		cctx, cancel := cleanupContext()
		defer cancel()
		for i := 0; i < len(keys); i += PipelineKeys {
			_ = rdb.Del(cctx, keys[i:min(i+PipelineKeys, len(keys))]...).Err()
		}
	}()
	fields := map[string]any{"id": "", "phone": "+8613600000000", "email": "user@example.com",
		"push": "device-token-0123456789abcdef", "city": "杭州", "age": 30, "tags": "vip,beta", "opt_out": 0}
	for i := 0; i < len(keys); i += PipelineKeys {
		pipe := rdb.Pipeline()
		for _, k := range keys[i:min(i+PipelineKeys, len(keys))] {
			fields["id"] = k
			pipe.HSet(ctx, k, fields)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return Measurement{}, fmt.Errorf("error writing the hashes: %w", err)
		}
	}

	var n int64
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	pipe := rdb.Pipeline()
	for next := 0; n < cfg.Keys && time.Now().Before(deadline); next = (next + PipelineKeys) % len(keys) {
		batch := min(int64(PipelineKeys), cfg.Keys-n)
		cmds := make([]*redis.MapStringStringCmd, batch)
		for i := range cmds {
			cmds[i] = pipe.HGetAll(ctx, keys[next+i])
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return Measurement{}, fmt.Errorf("error reading the hashes: %w", err)
		}
		for _, c := range cmds {
			if len(c.Val()) != len(fields) {
				return Measurement{}, fmt.Errorf("hash %s has %d fields, not %d", c.Args()[1], len(c.Val()), len(fields))
			}
		}
		n += batch
	}
	return measured(n, time.Since(start)), nil
}
