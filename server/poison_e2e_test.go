package server_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/server/servertest"
)

// Lane messages that cannot be handled — bad JSON, a shard of a task that does not exist,
// an unknown kind — go to the lane's dead-letter queue once, with the reason, instead of
// being redelivered for ever.
func TestPoisonLaneMessagesAreDeadLettered(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bodies := map[string]string{
		"bad-json":     `{"kind": "shard", `,
		"no-such-task": `{"kind": "shard", "task": 987654, "shard": 0, "day": "20261127", "users": ["u1"]}`,
		"unknown-kind": `{"kind": "teleport"}`,
	}
	for id, body := range bodies {
		require.NoError(t, env.Herald.Broker.Publish(ctx, broker.Bulk, broker.Message{Body: []byte(body), MessageID: id, ContentType: "application/json"}))
	}

	conn, err := amqp.Dial(servertest.AMQPURL())
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	dead := env.Herald.Broker.QueueName(broker.Bulk.Dead())
	reasons := map[string]string{}
	env.Eventually(t, func() bool {
		d, ok, err := ch.Get(dead, true)
		require.NoError(t, err)
		if ok {
			reasons[d.MessageId], _ = d.Headers[broker.HeaderReason].(string)
			require.EqualValues(t, 1, d.Headers[broker.HeaderAttempts], "%s was not retried", d.MessageId)
		}
		return len(reasons) == len(bodies)
	}, "every poison message is dead-lettered")
	require.Contains(t, reasons["bad-json"], "undecodable lane message")
	require.Contains(t, reasons["no-such-task"], "task 987654 does not exist")
	require.Contains(t, reasons["unknown-kind"], `unknown lane message kind "teleport"`)
}
