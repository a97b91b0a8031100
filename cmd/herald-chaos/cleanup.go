package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/server"
)

// loadConfig reads the configuration the processes run with.
func (t *topology) loadConfig() (server.Config, error) {
	return server.LoadConfig(t.cfgPath, append(os.Environ(), t.env...))
}

// cleanup drops the run's databases, deletes its queues and exchanges and removes its keys.
func cleanup(t *topology) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if t.st != nil {
		if err := t.st.Drop(ctx); err != nil {
			logf("cleanup: dropping databases: %v", err)
		}
		t.st.Close()
	}
	if t.env == nil {
		return
	}
	cfg, err := t.loadConfig()
	if err != nil {
		logf("cleanup: %v", err)
		return
	}
	if t.amqp != nil {
		// the dedicated node goes away whole
	} else if conn, err := amqp.Dial(cfg.AMQPURL); err == nil {
		names := []string{}
		if out, err := exec.CommandContext(ctx, "rabbitmqctl", "list_queues", "-q", "--no-table-headers", "name").Output(); err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				if n := strings.TrimSpace(l); strings.HasPrefix(n, t.prefix+".") {
					names = append(names, n)
				}
			}
		}
		for _, q := range []string{"realtime", "bulk", "receipts", "fallback"} {
			names = append(names, t.prefix+"."+q, t.prefix+"."+q+".dead")
		}
		for _, n := range names {
			if ch, err := conn.Channel(); err == nil {
				_, _ = ch.QueueDelete(n, false, false, false)
				_ = ch.Close()
			}
		}
		if out, err := exec.CommandContext(ctx, "rabbitmqctl", "list_exchanges", "-q", "--no-table-headers", "name").Output(); err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				if n := strings.TrimSpace(l); strings.HasPrefix(n, t.prefix+".") {
					if ch, err := conn.Channel(); err == nil {
						_ = ch.ExchangeDelete(n, false, false)
						_ = ch.Close()
					}
				}
			}
		}
		conn.Close()
	} else {
		logf("cleanup: RabbitMQ: %v", err)
	}
	if t.redis != nil {
		return // the dedicated server goes away whole
	}
	var urls []string
	for _, u := range strings.Split(cfg.RedisURL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	for _, u := range urls {
		o, err := redis.ParseURL(u)
		if err != nil {
			continue
		}
		rdb := redis.NewClient(o) // each node of a cluster in turn: SCAN is per node
		var keys []string
		iter := rdb.Scan(ctx, 0, t.prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for _, k := range keys {
			rdb.Unlink(ctx, k) // one key a call: a cluster node takes no cross-slot UNLINK
		}
		rdb.Close()
	}
}
