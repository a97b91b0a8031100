package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/rule"
	"github.com/herald-msg/herald/store/storetest"
)

type plannerBundle struct {
	ctx    context.Context
	svc    *Service
	worker *Worker
	broker *broker.Broker
	prefix string
	appID  int64
	users  []string
}

func amqpURL() string {
	if u := os.Getenv("HERALD_TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// setupPlanner gives a dispatch service and worker on fresh databases and a fresh RabbitMQ
// prefix, with an app of n users; no consumer runs, so tests read the queues themselves.
func setupPlanner(t *testing.T, n int) *plannerBundle {
	t.Helper()
	db := storetest.New(t)
	prefix := storetest.Prefix() + "."
	b, err := broker.New(broker.Config{URL: amqpURL(), Prefix: prefix})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = b.Run(ctx); close(done) }()
	require.NoError(t, b.WaitReady(ctx))
	t.Cleanup(func() {
		deleteQueues(t, prefix)
		cancel()
		<-done
	})
	res, err := db.Core.Exec("INSERT INTO apps (name, created_at) VALUES ('planner', NOW(3))")
	require.NoError(t, err)
	appID, _ := res.LastInsertId()
	actx := account.WithPrincipal(context.Background(), &account.Principal{Email: "op@example.com", Role: account.Operator, AppIDs: []int64{appID}})
	aud := audience.NewService(db, nil)
	var users []audience.UserInput
	var ids []string
	for i := range n {
		id := fmt.Sprintf("u%05d", i)
		ids = append(ids, id)
		users = append(users, audience.UserInput{ID: id, Identities: []audience.Identity{{Channel: channels.SMS, Address: fmt.Sprintf("+86139%08d", i+1)}}})
	}
	_, _, err = aud.Upsert(actx, appID, users)
	require.NoError(t, err)
	cs, rs := content.NewService(db, nil), rule.NewService(db, nil)
	writer := reports.NewWriter(db, time.UTC, nil, nil)
	svc := NewService(Deps{DB: db, Audience: aud, Content: cs, Rules: rs, Stats: reports.NewStats(db, time.UTC), Writer: writer, Publisher: b})
	w := NewWorker(WorkerDeps{DB: db, Consumer: b, Declarer: b, Publisher: b, Content: cs, Writer: writer, Audience: aud, Rules: rs})
	return &plannerBundle{ctx: actx, svc: svc, worker: w, broker: b, prefix: prefix, appID: appID, users: ids}
}

func deleteQueues(t *testing.T, prefix string) {
	t.Helper()
	conn, err := amqp.Dial(amqpURL())
	require.NoError(t, err)
	defer conn.Close()
	for _, q := range []broker.Queue{broker.Realtime, broker.Bulk, broker.Receipts} {
		for _, name := range []string{prefix + string(q), prefix + string(q.Dead())} {
			ch, err := conn.Channel()
			require.NoError(t, err)
			_, _ = ch.QueueDelete(name, false, false, false)
			_ = ch.Close()
		}
	}
	ch, err := conn.Channel()
	require.NoError(t, err)
	_ = ch.ExchangeDelete(prefix+"dlx", false, false)
	_ = ch.Close()
}

// shards takes every message on the bulk queue.
func (b *plannerBundle) shards(t *testing.T) []shardMessage {
	t.Helper()
	conn, err := amqp.Dial(amqpURL())
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	var out []shardMessage
	for {
		d, ok, err := ch.Get(b.prefix+string(broker.Bulk), true)
		require.NoError(t, err)
		if !ok {
			return out
		}
		var m shardMessage
		require.NoError(t, json.Unmarshal(d.Body, &m))
		if m.Kind == "shard" {
			out = append(out, m)
		}
	}
}

func (b *plannerBundle) broadcast(t *testing.T) int64 {
	t.Helper()
	tpl, err := b.svc.content.Create(b.ctx, content.Input{AppID: b.appID, Name: "t", Variants: []content.Variant{{Channel: channels.SMS, Body: "hi"}}})
	require.NoError(t, err)
	rl, err := b.svc.rules.Create(b.ctx, rule.Input{AppID: b.appID, Name: "r", Routes: []rule.Route{{Strategy: rule.Concurrent, Channels: []channels.Channel{channels.SMS}}}})
	require.NoError(t, err)
	task, err := b.svc.CreateTask(b.ctx, TaskInput{AppID: b.appID, Name: "all", Kind: KindBroadcast, TemplateID: tpl.ID, RuleID: rl.ID})
	require.NoError(t, err)
	return task.ID
}

func TestPlannerSplitsAndResumes(t *testing.T) {
	t.Parallel()
	b := setupPlanner(t, 2500)
	taskID := b.broadcast(t)
	// A planner that stopped after recording the first shard left this row behind.
	_, err := b.svc.db.Core.Exec("INSERT INTO task_shards (task_id, shard_no, first_user, last_user, size, updated_at) VALUES (?, 0, ?, ?, 1000, NOW(3))",
		taskID, b.users[0], b.users[999])
	require.NoError(t, err)
	b.shards(t) // the plan message itself, left by createTask

	require.NoError(t, b.worker.plan(context.Background(), taskID))
	got := b.shards(t)
	require.Len(t, got, 2, "only the shards after the recorded one")
	require.Equal(t, 1, got[0].ShardNo)
	require.Equal(t, b.users[1000:2000], got[0].UserIDs)
	require.Equal(t, 2, got[1].ShardNo)
	require.Equal(t, b.users[2000:], got[1].UserIDs)

	task, err := b.svc.task(context.Background(), taskID)
	require.NoError(t, err)
	require.True(t, task.planned)
	require.Equal(t, 3, task.ShardsTotal)
	require.EqualValues(t, 2500, task.Total)

	require.NoError(t, b.worker.plan(context.Background(), taskID))
	require.Empty(t, b.shards(t), "a planned task is not planned again")
}

func TestShardClaims(t *testing.T) {
	t.Parallel()
	b := setupPlanner(t, 3)
	taskID := b.broadcast(t)
	m := &shardMessage{Task: taskID, ShardNo: 0, UserIDs: b.users}
	ctx := context.Background()

	mine, done, err := b.worker.claimShard(ctx, m, "worker-a")
	require.NoError(t, err)
	require.True(t, mine)
	require.False(t, done)
	mine, _, err = b.worker.claimShard(ctx, m, "worker-b")
	require.NoError(t, err)
	require.False(t, mine, "a shard claimed by a live worker is not sent twice")

	// The first worker died: its claim expires after the lease.
	_, err = b.svc.db.Core.Exec("UPDATE task_shards SET claimed_at = ? WHERE task_id = ?", time.Now().UTC().Add(-shardLease-time.Second), taskID)
	require.NoError(t, err)
	mine, _, err = b.worker.claimShard(ctx, m, "worker-b")
	require.NoError(t, err)
	require.True(t, mine, "an expired claim is taken over")

	_, err = b.svc.db.Core.Exec("UPDATE task_shards SET done = TRUE WHERE task_id = ?", taskID)
	require.NoError(t, err)
	mine, done, err = b.worker.claimShard(ctx, m, "worker-c")
	require.NoError(t, err)
	require.False(t, mine)
	require.True(t, done, "a finished shard is never sent again")
}

// A live worker renews its claim, so a shard that takes longer than the lease to send is
// not taken over; a worker that lost its claim cannot renew it.
func TestShardClaimRenewed(t *testing.T) {
	t.Parallel()
	b := setupPlanner(t, 3)
	taskID := b.broadcast(t)
	m := &shardMessage{Task: taskID, ShardNo: 0, UserIDs: b.users}
	ctx := context.Background()

	mine, _, err := b.worker.claimShard(ctx, m, "worker-a")
	require.NoError(t, err)
	require.True(t, mine)
	_, err = b.svc.db.Core.Exec("UPDATE task_shards SET claimed_at = ? WHERE task_id = ?", time.Now().UTC().Add(-shardLease-time.Second), taskID)
	require.NoError(t, err)
	renewed, err := b.worker.renewClaim(ctx, m, "worker-a")
	require.NoError(t, err)
	require.True(t, renewed)
	mine, _, err = b.worker.claimShard(ctx, m, "worker-b")
	require.NoError(t, err)
	require.False(t, mine, "a renewed claim is not taken over")

	renewed, err = b.worker.renewClaim(ctx, m, "worker-b")
	require.NoError(t, err)
	require.False(t, renewed, "only the holder renews a claim")

	_, err = b.svc.db.Core.Exec("UPDATE task_shards SET claimed_at = ? WHERE task_id = ?", time.Now().UTC().Add(-shardLease-time.Second), taskID)
	require.NoError(t, err)
	mine, _, err = b.worker.claimShard(ctx, m, "worker-b")
	require.NoError(t, err)
	require.True(t, mine, "a claim left to expire is taken over")
	renewed, err = b.worker.renewClaim(ctx, m, "worker-a")
	require.NoError(t, err)
	require.False(t, renewed, "the worker that lost the claim cannot renew it")
}

// A cron schedule reads in Herald's time zone (HERALD_TIME_ZONE), not the process's.
func TestCronReadsInHeraldsTimeZone(t *testing.T) {
	t.Parallel()
	b := setupPlanner(t, 1)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	svc := NewService(Deps{DB: b.svc.db, Audience: b.svc.audience, Content: b.svc.content, Rules: b.svc.rules,
		Stats: reports.NewStats(b.svc.db, shanghai), Writer: reports.NewWriter(b.svc.db, shanghai, nil, nil), Publisher: b.broker})
	tpl, err := svc.content.Create(b.ctx, content.Input{AppID: b.appID, Name: "t", Variants: []content.Variant{{Channel: channels.SMS, Body: "hi"}}})
	require.NoError(t, err)
	rl, err := svc.rules.Create(b.ctx, rule.Input{AppID: b.appID, Name: "r", Routes: []rule.Route{{Strategy: rule.Concurrent, Channels: []channels.Channel{channels.SMS}}}})
	require.NoError(t, err)
	task, err := svc.CreateTask(b.ctx, TaskInput{AppID: b.appID, Name: "morning", Kind: KindBroadcast, TemplateID: tpl.ID, RuleID: rl.ID, Cron: "0 9 * * *"})
	require.NoError(t, err)
	require.NotNil(t, task.NextRunAt)
	next := task.NextRunAt.In(shanghai)
	require.Equal(t, 9, next.Hour(), "09:00 in Shanghai")
	require.Equal(t, 1, task.NextRunAt.UTC().Hour(), "which is 01:00 UTC")
	require.True(t, task.NextRunAt.After(time.Now()))
}
