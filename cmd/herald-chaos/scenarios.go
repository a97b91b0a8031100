package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/client"
)

// scenario is one fault: strike injects it and returns once it is over (the process is
// back, the service started again, the vendor healthy); the note says what it saw.
type scenario struct {
	name  string
	fault string
	// needs says what the topology must offer.
	needsRedis bool
	// freshCircuits restarts the workers first: circuit breakers live in each worker
	// process, and the one an earlier vendor fault opened would keep this vendor out.
	freshCircuits bool
	strike        func(ctx context.Context, t *topology) (note string, err error)
}

// result is one row of the fault table.
type result struct {
	fault      string
	inFlight   int64
	lost       int
	duplicated int
	recover    time.Duration // fault over → the vendor accepts messages again
	done       time.Duration // fault struck → task completed
	note       string
	problems   []string
}

func (r result) ok() bool { return r.lost == 0 && r.duplicated == 0 && len(r.problems) == 0 }

func scenarios(o options) []scenario {
	restartWorker := func(ctx context.Context, t *topology, sig syscall.Signal) (string, error) {
		w := t.workers[0]
		at := time.Now()
		if err := w.signal(sig); err != nil {
			return "", err
		}
		if !w.wait(time.Minute) {
			return "", fmt.Errorf("%s did not exit within a minute of %s", w.name, sig)
		}
		note := fmt.Sprintf("exited after %s (%v)", time.Since(at).Round(10*time.Millisecond), w.err)
		if err := w.start(); err != nil {
			return note, err
		}
		return note, w.waitLog(ctx, "herald is ready", 2*time.Minute)
	}
	sleep := func(ctx context.Context, d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	return []scenario{
		{name: "kill", fault: "kill -9 of a worker, restarted", strike: func(ctx context.Context, t *topology) (string, error) {
			return restartWorker(ctx, t, syscall.SIGKILL)
		}},
		{name: "rabbitmq", fault: fmt.Sprintf("RabbitMQ stopped %s", o.amqpOutage), strike: func(ctx context.Context, t *topology) (string, error) {
			if err := t.amqp.ctl(ctx, "stop_app"); err != nil {
				return "", err
			}
			err := sleep(ctx, o.amqpOutage)
			if serr := t.amqp.ctl(context.WithoutCancel(ctx), "start_app"); serr != nil {
				return "", serr
			}
			return "", err
		}},
		{name: "redis", fault: "Redis flushed and restarted", needsRedis: true, strike: func(ctx context.Context, t *topology) (string, error) {
			keys, _ := t.redis.cli(ctx, "DBSIZE")
			if out, err := t.redis.cli(ctx, "FLUSHALL"); err != nil || out != "OK" {
				return "", fmt.Errorf("FLUSHALL: %v %s", err, out)
			}
			_, _ = t.redis.cli(ctx, "SHUTDOWN", "NOSAVE")
			if !t.redis.p.wait(30 * time.Second) {
				return "", errors.New("redis-server did not stop")
			}
			if err := sleep(ctx, 2*time.Second); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s keys flushed", keys), t.redis.start(ctx)
		}},
		{name: "mariadb", fault: fmt.Sprintf("MariaDB stalled %s", o.dbStall), strike: func(ctx context.Context, t *topology) (string, error) {
			if err := stall(t.db.p, true); err != nil {
				return "", err
			}
			err := sleep(ctx, o.dbStall)
			if cerr := stall(t.db.p, false); cerr != nil {
				return "", cerr
			}
			return "", err
		}},
		{name: "vendor429", fault: fmt.Sprintf("SMS vendor throttling for %s", o.throttle), strike: func(ctx context.Context, t *topology) (string, error) {
			return vendorFault(ctx, t, sim.Faults{ThrottleRate: 1}, o.throttle, sleep)
		}},
		{name: "vendor500", freshCircuits: true, fault: fmt.Sprintf("SMS vendor answering 5xx for %s", o.vendorOutage), strike: func(ctx context.Context, t *topology) (string, error) {
			return vendorFault(ctx, t, sim.Faults{FailureRate: 1}, o.vendorOutage, sleep)
		}},
		{name: "sigterm", fault: "SIGTERM of a worker (drain), restarted", strike: func(ctx context.Context, t *topology) (string, error) {
			return restartWorker(ctx, t, syscall.SIGTERM)
		}},
	}
}

// vendorFault makes the first SMS vendor fail for d and reports what the second one took.
func vendorFault(ctx context.Context, t *topology, f sim.Faults, d time.Duration, sleep func(context.Context, time.Duration) error) (string, error) {
	_, before, err := t.simStats(ctx)
	if err != nil {
		return "", err
	}
	if err := t.setFaults(ctx, 0, f); err != nil {
		return "", err
	}
	err = sleep(ctx, d)
	if cerr := t.setFaults(context.WithoutCancel(ctx), 0, sim.Faults{}); cerr != nil {
		return "", cerr
	}
	_, after, serr := t.simStats(ctx)
	if serr != nil {
		return "", serr
	}
	note := fmt.Sprintf("vendor refused %d requests; %d messages went to the second provider",
		after[0].Faults["SMS"]+after[0].Throttled["SMS"]-before[0].Faults["SMS"]-before[0].Throttled["SMS"], after[1].Received["SMS"]-before[1].Received["SMS"])
	return note, err
}

// runScenario runs a broadcast to the n users, strikes when a quarter of it reached the
// vendors, and computes the verdict once the task is over.
func runScenario(ctx context.Context, t *topology, sc scenario, n int) result {
	r := result{fault: sc.fault}
	fail := func(format string, args ...any) result {
		r.problems = append(r.problems, fmt.Sprintf(format, args...))
		return r
	}
	if sc.freshCircuits {
		if err := t.restartWorkers(ctx); err != nil {
			return fail("restarting the workers: %v", err)
		}
	}
	if err := t.simReset(ctx); err != nil {
		return fail("resetting the simulators: %v", err)
	}
	started := time.Now()
	prio := 1
	task, err := t.hc[0].CreateTask(ctx, client.TaskInput{AppID: t.appID, Name: "chaos-" + sc.name, Kind: "BROADCAST", TemplateID: t.tplID,
		RuleID: t.ruleID, Variables: map[string]any{"tag": sc.name}, Priority: &prio})
	if err != nil {
		return fail("creating the broadcast: %v", err)
	}
	// Strike once a quarter of the messages reached the vendors.
	for {
		tot, _, err := t.simStats(ctx)
		if err != nil {
			return fail("reading the simulators: %v", err)
		}
		if tot.received >= int64(n)/4 {
			r.inFlight = int64(n) - tot.received
			break
		}
		if time.Since(started) > 5*time.Minute {
			return fail("the broadcast did not reach a quarter of its users in 5 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	struck := time.Now()
	logf("%s: striking with %d messages in flight", sc.name, r.inFlight)
	mon := watch(ctx, t, task.ID, int64(n), struck)
	note, err := sc.strike(ctx, t)
	r.note = note
	if err != nil {
		mon.stop()
		return fail("injecting the fault: %v", err)
	}
	w := mon.wait()
	r.recover, r.done = w.maxGap, w.done
	last := w.task
	if w.stuck {
		r.problems = append(r.problems, fmt.Sprintf("task %s stuck: not completed within %s of the fault (%s)", task.ID, t.opts.stuckAfter, describe(last)))
	}
	time.Sleep(time.Second) // let a late duplicate, if any, land before counting
	if tk, err := t.hc[0].Task(ctx, task.ID); err == nil {
		last = tk
	}
	counts, err := t.simCounts(ctx)
	if err != nil {
		return fail("reading the simulators' counts: %v", err)
	}
	expected := make(map[string]int, n)
	for i := range n {
		expected[phone(i)] = 1
	}
	r.lost, r.duplicated = tally(expected, counts)
	if last != nil {
		r.problems = append(r.problems, t.checkRecords(ctx, last, int64(n), started)...)
	}
	// A mark left by a worker killed mid-call whose messages' receipts then arrived stays
	// until the daily sweep; the rows above are what says whether a message is stuck.
	if k, err := t.inflight(ctx); err != nil {
		r.problems = append(r.problems, err.Error())
	} else if k > 0 {
		r.note = strings.TrimPrefix(r.note+fmt.Sprintf("; %d in-flight marks (vendor calls) left on final rows", k), "; ")
		if err := t.clearInflight(ctx); err != nil {
			r.problems = append(r.problems, err.Error())
		}
	}
	if sc.needsRedis {
		r.problems = append(r.problems, t.checkCacheRefills(ctx)...)
	}
	if err := t.reconcileCheck(ctx); err != nil {
		r.problems = append(r.problems, err.Error())
	}
	return r
}

// watched is what watch saw from the fault to the task's end.
type watched struct {
	// maxGap is the longest time no message reached a vendor, from the fault until every
	// message had reached one: how long the fault held the broadcast up.
	maxGap time.Duration
	// done is when the task completed, from the fault.
	done  time.Duration
	stuck bool
	task  *client.Task
}

type watcher struct {
	cancel context.CancelFunc
	out    chan watched
}

func (w *watcher) stop() { w.cancel(); <-w.out }

func (w *watcher) wait() watched { return <-w.out }

// watch samples the simulators (every 50 ms) and the task (every 250 ms) from the fault
// until the task completed and its receipts arrived, or stuckAfter passed.
func watch(ctx context.Context, t *topology, taskID string, n int64, struck time.Time) *watcher {
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{cancel: cancel, out: make(chan watched, 1)}
	go func() {
		defer cancel()
		var (
			res          watched
			received     int64
			lastProgress = struck
			doneAt       time.Time
		)
		for i := 0; ; i++ {
			now := time.Now()
			if received < n {
				if tot, _, err := t.simStats(ctx); err == nil && tot.received > received {
					res.maxGap = max(res.maxGap, now.Sub(lastProgress))
					received, lastProgress = tot.received, now
				}
			}
			if i%5 == 0 {
				if tk, err := t.hc[0].Task(ctx, taskID); err == nil {
					res.task = tk
					if tk.Done() && doneAt.IsZero() {
						doneAt = now
						res.done = now.Sub(struck)
					}
					// Finished once the receipts arrived, or 30 s after the task completed (a
					// receipt the simulator gave up on leaves its row SENT).
					if !doneAt.IsZero() && received >= n && (tk.Progress.Delivered >= n || now.Sub(doneAt) > 30*time.Second) {
						w.out <- res
						return
					}
				}
			}
			if now.Sub(struck) > t.opts.stuckAfter || ctx.Err() != nil {
				res.stuck = true
				w.out <- res
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return w
}

func describe(t *client.Task) string {
	if t == nil {
		return "never read"
	}
	return fmt.Sprintf("%s, %d of %d shards done, sent %d of %d", t.Status, t.Progress.ShardsDone, t.Progress.ShardsTotal, t.Progress.Sent, t.Progress.Total)
}

// checkCacheRefills sends one realtime message after a Redis flush and checks that reading
// the user refilled the identity cache, and that the message arrived once.
func (t *topology) checkCacheRefills(ctx context.Context) []string {
	before, _, err := t.simStats(ctx)
	if err != nil {
		return []string{err.Error()}
	}
	if _, err := t.hc[0].Send(ctx, client.SendInput{AppID: t.appID, TemplateID: t.tplID, RuleID: t.ruleID, UserIDs: []string{userID(0)},
		Variables: map[string]any{"tag": "cache-check"}}); err != nil {
		return []string{"a send after the flush: " + err.Error()}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		tot, _, err := t.simStats(ctx)
		if err == nil && tot.received == before.received+1 {
			break
		}
		if time.Now().After(deadline) {
			return []string{"a send after the flush did not reach the vendor once within 30 s"}
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, err := t.redis.cli(ctx, "--scan", "--pattern", t.prefix+":id:*")
	if err != nil || strings.TrimSpace(out) == "" {
		return []string{fmt.Sprintf("the identity cache was not refilled by a read after the flush (%v)", err)}
	}
	return nil
}

// restartWorkers stops every worker process (SIGTERM) and starts it again.
func (t *topology) restartWorkers(ctx context.Context) error {
	for _, w := range t.workers {
		w.stop(30 * time.Second)
		if err := w.start(); err != nil {
			return err
		}
		if err := w.waitLog(ctx, "herald is ready", 2*time.Minute); err != nil {
			return err
		}
	}
	return nil
}
