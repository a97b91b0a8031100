//go:build restart

package server_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/server/servertest"
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

// sendOutcome is what one send of the stream got.
type sendOutcome struct {
	batch  int
	code   string // the template variable that makes this send's content unique
	taskID string
	queued []servertest.MessageRef
	errs   servertest.Errors // GraphQL errors
	err    error             // the request itself failed
}

// TestRabbitMQRestartLosesNothing sends batches continuously while RabbitMQ's application is
// stopped and started again. Every send that succeeded must reach the simulator exactly once
// per message and be DELIVERED; a send refused during the outage must be UNAVAILABLE and
// have queued nothing. It stops the shared RabbitMQ, so it runs alone:
//
//	go test -race -count=1 -tags restart -run Restart ./server/
func TestRabbitMQRestartLosesNothing(t *testing.T) {
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl not found in PATH: this test restarts the local RabbitMQ with it")
	}
	b := setup(t, servertest.WithSimConfig(func(c *sim.Config) {
		c.KeepPerAddress = 1_000_000 // every message stays listed, for the per-send count
		c.ReceiptAttempts = 10       // receipts wait out the outage (Herald answers 503 meanwhile)
	}))
	env := b.env
	env.WaitFor = 2 * time.Minute
	const numUsers = 10
	var (
		users []servertest.User
		ids   []string
	)
	for i := range numUsers {
		u := b.user(fmt.Sprintf("r%02d", i), phone(i))
		users = append(users, u)
		ids = append(ids, u.ID)
	}
	env.UpsertUsers(t, b.key, b.appID, users...)

	// Several senders send a batch to every user each 150 ms, each batch with its own code,
	// so that sends are in flight when the broker goes away.
	var (
		mu       sync.Mutex
		outcomes []sendOutcome
		next     int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			tick := time.NewTicker(150 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				mu.Lock()
				batch := next
				next++
				mu.Unlock()
				o := sendOutcome{batch: batch, code: fmt.Sprintf("R%05d", batch)}
				res, errs, err := env.PostSend(context.Background(), b.key, b.send(ids, codeVars(o.code)))
				o.errs, o.err = errs, err
				if res != nil {
					o.taskID, o.queued = res.Task.ID, res.Queued()
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		})
	}
	stopSenders := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopSenders)
	count := func(ok bool) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range outcomes {
			if (o.err == nil && len(o.errs) == 0) == ok {
				n++
			}
		}
		return n
	}

	env.Eventually(t, func() bool { return count(true) >= 20 && env.SimTotal() > 0 }, "the stream did not start")
	stopped := true
	t.Cleanup(func() {
		if stopped {
			rabbitmqctl(t, "start_app")
		}
	})
	rabbitmqctl(t, "stop_app")
	outageStart := time.Now()
	env.Await(t, func() error {
		if status, r := getReadyz(t, env); status == 200 || r.Checks["rabbitmq"] == "ok" {
			return fmt.Errorf("/readyz still says RabbitMQ is up: %d %v", status, r.Checks)
		}
		return nil
	})
	// Hold the outage until a send has given up on the broker (15 s publish timeout).
	env.Eventually(t, func() bool { return count(false) > 0 }, "no send failed during the outage")
	okAtStop := count(true)
	rabbitmqctl(t, "start_app")
	stopped = false
	t.Logf("RabbitMQ was down for %s", time.Since(outageStart).Round(time.Millisecond))

	env.Await(t, func() error {
		if status, r := getReadyz(t, env); status != 200 {
			return fmt.Errorf("/readyz: %d %v", status, r.Checks)
		}
		return nil
	})
	env.Eventually(t, func() bool { return count(true) >= okAtStop+20 }, "sends did not succeed again after the restart")
	stopSenders()

	// Sort the outcomes: successes must all arrive; failures must be UNAVAILABLE.
	var (
		succeeded, refused []sendOutcome
		want               int
	)
	for _, o := range outcomes {
		require.NoError(t, o.err, "batch %d: the request failed", o.batch)
		if len(o.errs) > 0 {
			require.Len(t, o.errs, 1, "batch %d", o.batch)
			require.Equal(t, "UNAVAILABLE", o.errs[0].Code(), "batch %d: %v", o.batch, o.errs)
			refused = append(refused, o)
			continue
		}
		require.Len(t, o.queued, 2*numUsers, "batch %d", o.batch)
		succeeded = append(succeeded, o)
		want += len(o.queued)
	}
	t.Logf("%d sends succeeded (%d messages), %d were refused during the outage; %d publishes and %d deliveries were retried",
		len(succeeded), want, len(refused), len(env.Logs.Lines("publishing unconfirmed messages again")), len(env.Logs.Lines("retrying message")))
	require.NotEmpty(t, refused)

	// Every message of every successful send is delivered, and no other message exists.
	env.Await(t, func() error {
		n, all := 0, env.AllRows(t)
		for _, r := range all {
			if r.Status == "DELIVERED" {
				n++
			}
		}
		if n < want || n < len(all) {
			return fmt.Errorf("%d of %d rows delivered, %d messages expected; simulator received %d", n, len(all), want, env.SimTotal())
		}
		return nil
	})
	rows := env.AllRows(t)
	expected := map[string]bool{}
	for _, o := range succeeded {
		for _, m := range o.queued {
			expected[m.ID] = true
			require.Equal(t, "DELIVERED", rows[m.ID].Status, "batch %d message %s", o.batch, m.ID)
		}
	}
	statuses := env.TaskStatuses(t)
	extra := map[int64]int{}
	for id, r := range rows {
		if !expected[id] {
			extra[r.TaskID]++
		}
	}
	for taskID, n := range extra {
		t.Errorf("task %d (status %s) has %d delivered messages, but no send returned it", taskID, statuses[taskID], n)
	}

	// The simulator got each message of each successful send exactly once, and nothing of a
	// refused send.
	perCode := map[string]int{}
	for _, u := range users {
		for _, m := range env.Sim.Messages(channels.SMS, u.Identities[0].Address) {
			perCode[codeOf(t, m.Content)]++
		}
		for _, m := range env.Sim.Messages(channels.Webhook, env.WebhookURL(u.ID)) {
			perCode[codeOf(t, m.Content)]++
		}
	}
	for _, o := range succeeded {
		require.Equal(t, 2*numUsers, perCode[o.code], "batch %d", o.batch)
	}
	for _, o := range refused {
		require.Zero(t, perCode[o.code], "batch %d was refused but its messages were sent", o.batch)
	}
	require.Equal(t, int64(want), env.SimTotal())
	require.Empty(t, env.SimRepeated())

	// Each refused send left a FAILED task and nothing on the lanes or in dead letters.
	failed := 0
	for _, st := range statuses {
		if st == "FAILED" {
			failed++
		}
	}
	require.Equal(t, len(refused), failed, "FAILED tasks")
	for _, q := range []broker.Queue{broker.Realtime, broker.Realtime.Dead(), broker.Receipts, broker.Receipts.Dead()} {
		require.Zero(t, env.QueueDepth(t, q), "queue %s", q)
	}
}

// codeOf returns the batch code ("R00042") in a message's content.
func codeOf(t *testing.T, content string) string {
	t.Helper()
	i := strings.Index(content, "R0")
	require.GreaterOrEqual(t, i, 0, "no batch code in %q", content)
	return content[i : i+6]
}
