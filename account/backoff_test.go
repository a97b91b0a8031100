package account

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store/storetest"
)

func TestSignInBacksOffAfterRepeatedFailures(t *testing.T) {
	t.Parallel()
	url := os.Getenv("HERALD_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	prefix := storetest.Prefix() + ":"
	ctx := context.Background()
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		rdb.Close()
	})
	db := storetest.New(t)
	s, err := NewService(ctx, db, Config{Redis: rdb, RedisPrefix: prefix})
	require.NoError(t, err)
	_, err = s.EnsureAdmin(ctx, "admin@example.com", "right-password")
	require.NoError(t, err)

	for range MaxFailedLogins {
		_, _, _, err := s.Login(ctx, "admin@example.com", "wrong")
		require.Equal(t, fault.CodeUnauthenticated, fault.CodeOf(err))
	}
	_, _, _, err = s.Login(ctx, "ADMIN@example.com", "right-password")
	require.Equal(t, fault.CodeRateLimited, fault.CodeOf(err), "even the right password waits out the back-off")
	require.Contains(t, err.Error(), "try again in")

	_, _, _, err = s.Login(ctx, "other@example.com", "wrong")
	require.Equal(t, fault.CodeUnauthenticated, fault.CodeOf(err), "other accounts are not affected")

	rdb.Del(ctx, s.loginKey("admin@example.com")) // the window passed
	_, _, _, err = s.Login(ctx, "admin@example.com", "right-password")
	require.NoError(t, err)
	n, err := rdb.Exists(ctx, s.loginKey("admin@example.com")).Result()
	require.NoError(t, err)
	require.Zero(t, n, "a successful sign-in clears the count")
}
