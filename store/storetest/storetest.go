// Package storetest gives each test its own migrated set of Herald databases on the real
// MariaDB/MySQL server, dropped when the test ends.
package storetest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/store"
)

// DSN is the server DSN tests use: HERALD_TEST_MYSQL_DSN, or the local server.
func DSN() string {
	return cmp.Or(os.Getenv("HERALD_TEST_MYSQL_DSN"), "root@tcp(127.0.0.1:3306)/")
}

// Prefix returns a fresh name prefix such as "htest_3f9a1c2b", usable for databases, Redis
// keys and RabbitMQ queues alike.
func Prefix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "htest_" + hex.EncodeToString(b)
}

// Config returns a store configuration with a fresh prefix and two shards of each kind.
func Config() store.Config {
	return store.Config{DSN: DSN(), Prefix: Prefix(), StatsShards: 2, HistoryShards: 2}
}

// New opens and migrates a fresh set of databases and drops them when t ends.
func New(t testing.TB) *store.DB {
	t.Helper()
	return NewWith(t, Config())
}

// NewWith is New with a given configuration.
func NewWith(t testing.TB, cfg store.Config) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("error opening test databases: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("error dropping test databases: %v", err)
		}
		db.Close()
	})
	if err := db.Migrate(ctx, time.Now(), 2); err != nil {
		t.Fatalf("error migrating test databases: %v", err)
	}
	return db
}

// RedisURL is the Redis tests use: HERALD_TEST_REDIS_URL, or the local server.
func RedisURL() string {
	return cmp.Or(os.Getenv("HERALD_TEST_REDIS_URL"), "redis://127.0.0.1:6379/0")
}

// Redis returns a client of the test Redis and a fresh key prefix ("htest_…:"); the keys
// under the prefix are deleted and the client closed when t ends.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("HERALD_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", RedisURL(), err)
	}
	prefix := Prefix() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("error deleting the test's Redis keys: %v", err)
		}
		_ = rdb.Close()
	})
	return rdb, prefix
}
