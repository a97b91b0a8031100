package dispatch

import (
	"context"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/rule"
)

// job takes the job a send left on the realtime queue.
func (b *plannerBundle) job(t *testing.T) broker.Delivery {
	t.Helper()
	conn, err := amqp.Dial(amqpURL())
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	d, ok, err := ch.Get(b.prefix+string(broker.Realtime), true)
	require.NoError(t, err)
	require.True(t, ok, "the send's job is queued")
	return broker.Delivery{Body: d.Body, MessageID: d.MessageId, Priority: d.Priority, Attempt: 1}
}

// A send's job claims its task alongside its first reads: it is sent once claimed, and a job
// whose task failed or was cancelled before a worker took it is dropped without a message, a
// row, a mark left in flight or an error — whatever the template's class (a MARKETING one waits for the claim before
// its filters count it).
func TestSendJobWaitsForItsClaim(t *testing.T) {
	t.Parallel()
	b := setupPlanner(t, 4)
	s, srv := simtest.StartSim(t, sim.Config{})
	reg, err := providers.Build("sim="+srv.URL, providers.Options{})
	require.NoError(t, err)
	b.worker.registry = reg
	// Midday in the app's time zone, outside the default quiet hours that hold MARKETING jobs.
	noon := time.Now().UTC().Truncate(24 * time.Hour).Add(4 * time.Hour)
	b.worker.nowFunc = func() time.Time { return noon }
	ctx := context.Background()
	rl, err := b.svc.rules.Create(b.ctx, rule.Input{AppID: b.appID, Name: "r", Routes: []rule.Route{{Strategy: rule.Concurrent, Channels: []channels.Channel{channels.SMS}}}})
	require.NoError(t, err)

	phone := func(n int) string { return fmt.Sprintf("+86139%08d", n+1) }
	for i, class := range []content.Class{content.Transactional, content.Marketing} {
		tpl, err := b.svc.content.Create(b.ctx, content.Input{AppID: b.appID, Name: "t" + string(class), Class: class,
			Variants: []content.Variant{{Channel: channels.SMS, Body: "hi"}}})
		require.NoError(t, err)

		// Claimed: sent once, the task completed.
		res, err := b.svc.Send(b.ctx, SendInput{AppID: b.appID, TemplateID: tpl.ID, RuleID: rl.ID, UserIDs: []string{b.users[2*i]}})
		require.NoError(t, err)
		require.NoError(t, b.worker.handleJob(ctx, b.job(t)))
		require.Len(t, s.Messages(channels.SMS, phone(2*i)), 1, "%s: sent", class)
		task, err := b.svc.task(ctx, res.TaskID)
		require.NoError(t, err)
		require.Equal(t, StatusCompleted, task.Status, "%s", class)
		d, err := b.worker.writer.Get(ctx, res.Messages[0].ID)
		require.NoError(t, err)
		require.NotNil(t, d, "%s: recorded", class)

		// Cancelled before a worker took its job: dropped.
		res, err = b.svc.Send(b.ctx, SendInput{AppID: b.appID, TemplateID: tpl.ID, RuleID: rl.ID, UserIDs: []string{b.users[2*i+1]}})
		require.NoError(t, err)
		_, err = b.svc.db.Core.ExecContext(ctx, "UPDATE tasks SET status = 'CANCELLED' WHERE id = ?", res.TaskID)
		require.NoError(t, err)
		require.NoError(t, b.worker.handleJob(ctx, b.job(t)), "%s: dropped, not retried", class)
		require.Empty(t, s.Messages(channels.SMS, phone(2*i+1)), "%s: not sent", class)
		d, err = b.worker.writer.Get(ctx, res.Messages[0].ID)
		require.NoError(t, err)
		require.Nil(t, d, "%s: no row", class)
		inFlight, marks, err := b.worker.writer.Interrupted(ctx, []string{res.Messages[0].ID})
		require.NoError(t, err)
		require.Empty(t, inFlight, "%s: no message left marked in flight", class)
		require.Empty(t, marks, "%s", class)
		task, err = b.svc.task(ctx, res.TaskID)
		require.NoError(t, err)
		require.Equal(t, StatusCancelled, task.Status, "%s", class)
	}
}
