//go:build restart

package broker

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rabbitmqctl runs one rabbitmqctl command and fails the test if it fails.
func rabbitmqctl(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", args...).CombinedOutput()
	require.NoError(t, err, "rabbitmqctl %v: %s", args, out)
	t.Logf("rabbitmqctl %v took %s", args, time.Since(start).Round(time.Millisecond))
}

// TestRestart stops and starts the RabbitMQ application in the middle of a
// stream of messages and checks that every message is consumed at least
// once. It stops the shared server, so it runs alone:
//
//	go test -tags restart -run Restart ./broker/
func TestRestart(t *testing.T) {
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl not found in PATH: this test restarts the local RabbitMQ with it")
	}
	tb := setup(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	b := tb.broker
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	const n, batch, window = 2000, 10, 200
	msgs := messages(n)
	seen := newIDSet()
	var deliveries atomic.Int64
	tb.consume(t, Realtime, 32, func(ctx context.Context, d Delivery) error {
		deliveries.Add(1)
		seen.add(d.MessageID)
		return nil
	})

	// The publisher sends one batch per tick (about four seconds for the
	// stream) and stays at most window messages ahead of the consumer, so
	// the restart lands in the middle of the stream, not after it.
	published := make(chan error, 1)
	var sent atomic.Int64
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < n; i += batch {
			select {
			case <-tick.C:
			case <-ctx.Done():
				published <- ctx.Err()
				return
			}
			if !poll(time.Minute, func() bool { return i-seen.len() < window }) {
				published <- fmt.Errorf("consumer stalled at %d of %d", seen.len(), i)
				return
			}
			if err := b.Publish(ctx, Realtime, msgs[i:i+batch]...); err != nil {
				published <- err
				return
			}
			sent.Add(batch)
		}
		published <- nil
	}()

	require.True(t, poll(time.Minute, func() bool { return seen.len() >= n/4 }), "stream did not start")
	stopped := true
	t.Cleanup(func() {
		if stopped {
			rabbitmqctl(t, "start_app")
		}
	})
	rabbitmqctl(t, "stop_app")
	atStop, sentAtStop := seen.len(), sent.Load()
	require.Error(t, b.Ping(ctx), "RabbitMQ still answers after stop_app")
	rabbitmqctl(t, "start_app")
	stopped = false
	require.Less(t, sentAtStop, int64(n), "the stream ended before the restart")

	select {
	case err := <-published:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("publishing did not finish after the restart")
	}
	seen.waitAll(t, msgs, time.Minute)
	t.Logf("published %d and consumed %d of %d messages before the stop; %d deliveries for %d messages, %d duplicates (at-least-once)",
		sentAtStop, atStop, n, deliveries.Load(), n, seen.duplicates())
	require.NoError(t, b.Ping(ctx))
}
