// Command cleanup removes what one browser-test run of Herald left on the shared services:
// its databases, its RabbitMQ queues and dead-letter exchange, and its Redis keys. It reads
// the same HERALD_* variables the run's `herald all` had (HERALD_DB_PREFIX,
// HERALD_REDIS_PREFIX, HERALD_AMQP_PREFIX and the service URLs), as server/servertest does
// for the Go end-to-end tests.
//
//	HERALD_DB_PREFIX=herald_e2e_x HERALD_REDIS_PREFIX=herald_e2e_x: HERALD_AMQP_PREFIX=herald_e2e_x. go run ./ui/e2e/cleanup
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/server/servertest"
	"github.com/herald-msg/herald/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := server.LoadConfig("", os.Environ())
	if err != nil {
		return err
	}
	// Refuse the defaults: a test run always names its own prefixes.
	def := server.DefaultConfig()
	if cfg.DBPrefix == def.DBPrefix || cfg.RedisPrefix == def.RedisPrefix || cfg.AMQPPrefix == def.AMQPPrefix {
		return errors.New("HERALD_DB_PREFIX, HERALD_REDIS_PREFIX and HERALD_AMQP_PREFIX must name the test run's own prefixes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	db, err := store.Open(ctx, store.Config{DSN: cfg.MySQLDSN, Prefix: cfg.DBPrefix, StatsShards: cfg.StatsShards,
		HistoryShards: cfg.HistoryShards, StatsDSNs: cfg.StatsDSNs, HistoryDSNs: cfg.HistoryDSNs})
	if err != nil {
		errs = append(errs, fmt.Errorf("opening the databases %s*: %w", cfg.DBPrefix, err))
	} else {
		if err := db.Drop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("dropping the databases %s*: %w", cfg.DBPrefix, err))
		}
		db.Close()
	}
	if err := deleteQueues(cfg.AMQPURL, cfg.AMQPPrefix); err != nil {
		errs = append(errs, fmt.Errorf("deleting the queues %s*: %w", cfg.AMQPPrefix, err))
	}
	if err := deleteKeys(ctx, cfg.RedisURL, cfg.RedisPrefix); err != nil {
		errs = append(errs, fmt.Errorf("deleting the Redis keys %s*: %w", cfg.RedisPrefix, err))
	}
	if len(errs) == 0 {
		fmt.Printf("cleanup: dropped %s*, deleted queues %s* and keys %s*\n", cfg.DBPrefix, cfg.AMQPPrefix, cfg.RedisPrefix)
	}
	return errors.Join(errs...)
}

// queueNames are the queues every Herald declares, and any other of the prefix that
// rabbitmqctl lists when it is there (AMQP cannot list queues).
func queueNames(prefix string) []string {
	names := map[string]bool{}
	for _, q := range servertest.Queues {
		names[prefix+string(q)] = true
	}
	if path, err := exec.LookPath("rabbitmqctl"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, path, "list_queues", "-q", "--no-table-headers", "name").Output(); err == nil {
			for _, line := range strings.Split(string(out), "\n") {
				if name := strings.TrimSpace(line); strings.HasPrefix(name, prefix) {
					names[name] = true
				}
			}
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func deleteQueues(url, prefix string) error {
	conn, err := amqp.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A channel per operation: a refused operation closes its channel.
	do := func(f func(ch *amqp.Channel) error) error {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		return f(ch)
	}
	var errs []error
	for _, name := range queueNames(prefix) {
		if err := do(func(ch *amqp.Channel) error { _, err := ch.QueueDelete(name, false, false, false); return err }); err != nil && !notFound(err) {
			errs = append(errs, err)
		}
	}
	if err := do(func(ch *amqp.Channel) error { return ch.ExchangeDelete(prefix+"dlx", false, false) }); err != nil && !notFound(err) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func notFound(err error) bool {
	var aerr *amqp.Error
	return errors.As(err, &aerr) && aerr.Code == amqp.NotFound
}

func deleteKeys(ctx context.Context, url, prefix string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		return rdb.Del(ctx, keys...).Err()
	}
	return nil
}
