package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
	"github.com/herald-msg/herald/reports"
)

// A shard taken over from a worker whose claim lapsed comes back as a new message, without
// the broker's redelivered flag: the in-flight mark of the vendor call that worker made is
// found all the same, and its messages are recorded as sent, not sent again.
func TestTakenOverShardIsNotSentAgain(t *testing.T) {
	t.Parallel()
	b := setupPlanner(t, 3)
	s, srv := simtest.StartSim(t, sim.Config{})
	reg, err := providers.Build("sim="+srv.URL, providers.Options{})
	require.NoError(t, err)
	b.worker.registry = reg
	ctx := context.Background()
	taskID := b.broadcast(t)
	task, err := b.svc.task(ctx, taskID)
	require.NoError(t, err)
	m := &shardMessage{Kind: "shard", Task: taskID, ShardNo: 0, Day: task.Day, UserIDs: b.users}
	id := func(seq int64) string { return reports.MessageID(task.Day, taskID, seq, channels.SMS) }

	// The stopped worker handed the first two users' messages to the vendor and died before
	// recording its answer.
	_, err = b.worker.writer.MarkSending(ctx, "aliyun", []string{id(0), id(1)}, time.Now())
	require.NoError(t, err)
	require.NoError(t, b.worker.sendShard(ctx, task, m, broker.Delivery{Attempt: 1}))

	require.Empty(t, s.Messages(channels.SMS, "+8613900000001"), "not sent again")
	require.Empty(t, s.Messages(channels.SMS, "+8613900000002"), "not sent again")
	require.Len(t, s.Messages(channels.SMS, "+8613900000003"), 1, "the third user's message is sent")
	for seq := range int64(3) {
		d, err := b.worker.writer.Get(ctx, id(seq))
		require.NoError(t, err)
		require.NotNil(t, d, "row %d", seq)
		require.Equal(t, channels.Sent, d.Status, "row %d", seq)
		require.Equal(t, "aliyun", d.Provider)
		if seq < 2 {
			require.Equal(t, reasonInterrupted, d.Reason)
		} else {
			require.Empty(t, d.Reason)
		}
	}
	got, marks, err := b.worker.writer.Interrupted(ctx, []string{id(0), id(1), id(2)})
	require.NoError(t, err)
	require.Empty(t, got, "the marks are cleared once the rows are written")
	require.Empty(t, marks)
}
