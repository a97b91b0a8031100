package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-msg/herald/client"
)

// redisCluster is a three-master Redis Cluster of the run's own, formed by
// scripts/redis-cluster.sh on spare ports.
type redisCluster struct {
	ports []int
	dir   string
}

func (c *redisCluster) script(ctx context.Context, verb string) error {
	var ports []string
	for _, p := range c.ports {
		ports = append(ports, strconv.Itoa(p))
	}
	cmd := exec.CommandContext(ctx, "scripts/redis-cluster.sh", verb)
	cmd.Env = append(os.Environ(), "REDIS_CLUSTER_PORTS="+strings.Join(ports, " "), "REDIS_CLUSTER_DIR="+c.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("scripts/redis-cluster.sh %s: %w: %s", verb, err, tail(out))
	}
	return nil
}

func startRedisCluster(ctx context.Context, dir string) (*redisCluster, error) {
	c := &redisCluster{dir: filepath.Join(dir, "redis-cluster")}
	for range 3 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		c.ports = append(c.ports, p) // freePort leaves port+10000, the cluster bus, free too

	}
	return c, c.script(ctx, "start")
}

func (c *redisCluster) url() string {
	var urls []string
	for _, p := range c.ports {
		urls = append(urls, "redis://"+hostPort(p)+"/0")
	}
	return strings.Join(urls, ",")
}

func (c *redisCluster) stop() {
	if c != nil {
		if err := c.script(context.Background(), "stop"); err != nil {
			logf("%v", err)
		}
	}
}

// runScaleout runs 2 serve + 3 worker processes against a Redis Cluster, with the
// statistics shards on the shared MariaDB and on a second MariaDB server of the run's own,
// and sends a broadcast, a cron campaign's run and realtime sends at once.
func runScaleout(ctx context.Context, o options) error {
	begun := time.Now()
	dir, err := os.MkdirTemp(o.workDir, "hchaos-scaleout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logf("forming a 3-master Redis Cluster")
	cluster, err := startRedisCluster(ctx, dir)
	if err != nil {
		return err
	}
	defer cluster.stop()
	logf("starting a second MariaDB server")
	db2, err := startMariaDB(ctx, dir, "mariadb2")
	if err != nil {
		return err
	}
	defer db2.stop()
	shared := os.Getenv("HERALD_MYSQL_DSN")
	if shared == "" {
		shared = "root@tcp(127.0.0.1:3306)/"
	}
	amqpURL := os.Getenv("HERALD_AMQP_URL")
	if amqpURL == "" {
		amqpURL = "amqp://guest:guest@127.0.0.1:5672/"
	}
	t, err := startTopology(ctx, o, layout{serves: 2, workers: 3, redisURL: cluster.url(), coreDSN: shared, amqpURL: amqpURL,
		statsDSNs: []string{shared, db2.dsn()}, rate: o.rate})
	if err != nil {
		return err
	}
	defer t.close()
	n := o.users
	logf("seeding %d users", n)
	if err := t.seedUsers(ctx, n); err != nil {
		return err
	}
	realtime := min(n, 300)
	expected := make(map[string]int, n)
	for i := range n {
		expected[phone(i)] = 2 // the broadcast and the campaign's run
		if i < realtime {
			expected[phone(i)]++
		}
	}
	prio := 1
	since := time.Now()
	campaign, err := t.hc[1].CreateTask(ctx, client.TaskInput{AppID: t.appID, Name: "scaleout-cron", Kind: "BROADCAST", TemplateID: t.tplID,
		RuleID: t.ruleID, Variables: map[string]any{"tag": "cron"}, Cron: "* * * * *", Priority: &prio})
	if err != nil {
		return fmt.Errorf("creating the campaign: %w", err)
	}
	broadcast, err := t.hc[0].CreateTask(ctx, client.TaskInput{AppID: t.appID, Name: "scaleout-broadcast", Kind: "BROADCAST", TemplateID: t.tplID,
		RuleID: t.ruleID, Variables: map[string]any{"tag": "broadcast"}, Priority: &prio})
	if err != nil {
		return fmt.Errorf("creating the broadcast: %w", err)
	}
	logf("broadcast %s running; campaign %s fires at %v", broadcast.ID, campaign.ID, campaign.NextRunAt)
	broadcastTook := make(chan time.Duration, 1)
	go func() {
		if _, err := waitTask(ctx, t, broadcast.ID, int64(n), o.stuckAfter); err == nil {
			broadcastTook <- time.Since(since)
		}
		close(broadcastTook)
	}()

	// Realtime sends through both API processes, four at a time, alongside.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		rtTasks []string
		rtErrs  []error
	)
	next := make(chan int)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				res, err := t.hc[(i+g)%len(t.hc)].Send(ctx, client.SendInput{AppID: t.appID, TemplateID: t.tplID, RuleID: t.ruleID,
					UserIDs: []string{userID(i)}, Variables: map[string]any{"tag": "rt-" + strconv.Itoa(i)}})
				mu.Lock()
				if err != nil {
					rtErrs = append(rtErrs, fmt.Errorf("send %d: %w", i, err))
				} else {
					rtTasks = append(rtTasks, res.Task.ID)
				}
				mu.Unlock()
			}
		}()
	}
	rtStarted := time.Now()
	for i := range realtime {
		next <- i
	}
	close(next)
	wg.Wait()
	logf("%d realtime sends in %s", realtime, time.Since(rtStarted).Round(time.Millisecond))

	// The campaign's run: exactly one task for its first firing, whichever worker leads.
	var runID string
	deadline := time.Now().Add(2*time.Minute + 10*time.Second)
	for runID == "" {
		var ids []string
		rows, err := t.st.Core.QueryContext(ctx, "SELECT id FROM tasks WHERE parent_id = ?", campaign.ID)
		if err == nil {
			for rows.Next() {
				var id string
				_ = rows.Scan(&id)
				ids = append(ids, id)
			}
			rows.Close()
		}
		if len(ids) > 0 {
			time.Sleep(5 * time.Second) // a second run of the same firing would show by now
			var count int
			if err := t.st.Core.QueryRowContext(ctx, "SELECT COUNT(*) FROM tasks WHERE parent_id = ?", campaign.ID).Scan(&count); err != nil {
				return err
			}
			if count != 1 {
				rtErrs = append(rtErrs, fmt.Errorf("the campaign fired %d runs for one firing", count))
			}
			runID = ids[0]
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the cron campaign did not fire within two minutes")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := t.hc[0].Do(ctx, `mutation($id: ID!) { cancelTask(id: $id) { id status } }`, map[string]any{"id": campaign.ID}, nil); err != nil {
		return fmt.Errorf("cancelling the campaign after its run: %w", err)
	}
	logf("campaign run %s created; campaign cancelled", runID)

	var problems []string
	for _, err := range rtErrs {
		problems = append(problems, err.Error())
	}
	for _, id := range []string{broadcast.ID, runID} {
		tk, err := waitTask(ctx, t, id, int64(n), o.stuckAfter)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		problems = append(problems, t.checkRecords(ctx, tk, int64(n), since)...)
	}
	for _, id := range rtTasks {
		tk, err := waitTask(ctx, t, id, 1, time.Minute)
		if err != nil {
			problems = append(problems, err.Error())
		} else if tk.Progress.Sent != 1 {
			problems = append(problems, fmt.Sprintf("realtime task %s: sent %d, want 1", id, tk.Progress.Sent))
		}
	}
	took := <-broadcastTook
	time.Sleep(time.Second)
	counts, err := t.simCounts(ctx)
	if err != nil {
		return err
	}
	lost, dup := tally(expected, counts)
	if k, err := t.inflight(ctx); err != nil || k != 0 {
		problems = append(problems, fmt.Sprintf("%d vendor calls still marked in flight (%v)", k, err))
	}
	if err := t.reconcileCheck(ctx); err != nil {
		problems = append(problems, err.Error())
	}
	perShard, _ := statsRowsPerServer(ctx, t)
	total := 2*n + realtime
	fmt.Printf("\nHerald scale-out — %s: 2 serve + 3 worker processes, Redis Cluster of 3 masters, statistics shards on 2 MariaDB servers\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Printf("  messages      %d: broadcast %d, cron run %d, realtime %d\n", total, n, n, realtime)
	if took > 0 {
		fmt.Printf("  broadcast     %d users in %s with %d realtime sends alongside: %.0f messages/s (providers capped at %d/s each)\n", n,
			took.Round(100*time.Millisecond), realtime, float64(n)/took.Seconds(), o.rate)
	}
	fmt.Printf("  rows/server   %s\n", perShard)
	fmt.Printf("  lost %d, duplicated %d; took %s in all\n", lost, dup, time.Since(begun).Round(time.Second))
	for _, p := range problems {
		fmt.Printf("  PROBLEM: %s\n", p)
	}
	if lost != 0 || dup != 0 || len(problems) > 0 {
		return errors.New("the scale-out run ended with a bad verdict")
	}
	return nil
}

// waitTask waits until a task completed and every message of it reached a vendor.
func waitTask(ctx context.Context, t *topology, id string, n int64, limit time.Duration) (*client.Task, error) {
	deadline := time.Now().Add(limit)
	var last *client.Task
	for {
		tk, err := t.hc[0].Task(ctx, id)
		if err == nil {
			last = tk
			if tk.Done() && tk.Progress.Sent >= n {
				return tk, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("task %s stuck: %s after %s", id, describe(last), limit)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// statsRowsPerServer counts today's delivery rows on each statistics shard.
func statsRowsPerServer(ctx context.Context, t *topology) (string, error) {
	var parts []string
	for i, s := range t.st.Stats {
		var n int64
		if err := s.QueryRowContext(ctx, "SELECT COUNT(*) FROM delivery_"+time.Now().UTC().Format("20060102")).Scan(&n); err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("shard %d: %d", i, n))
	}
	return strings.Join(parts, ", "), nil
}
