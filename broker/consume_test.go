package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

func TestPublishConsumeRoundTrip(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.broker
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	msgs := messages(200)
	for i := range msgs {
		msgs[i].ContentType = "application/json"
		msgs[i].Headers = map[string]any{"app": "retail", "shard": i, "meta": map[string]any{"lane": "bulk"}}
	}
	require.NoError(t, b.Publish(ctx, Bulk, msgs...))
	// Publish returns after the confirms, so the messages are in the queue.
	require.Equal(t, len(msgs), tb.depth(t, Bulk))

	got := make(chan Delivery, len(msgs))
	stop := tb.consume(t, Bulk, 8, func(ctx context.Context, d Delivery) error {
		got <- d
		return nil
	})
	byID := map[string]Delivery{}
	for range msgs {
		select {
		case d := <-got:
			byID[d.MessageID] = d
		case <-ctx.Done():
			t.Fatalf("received %d of %d messages", len(byID), len(msgs))
		}
	}
	stop()
	require.Len(t, byID, len(msgs))
	d := byID["id-7"]
	require.Equal(t, "body of id-7", string(d.Body))
	require.Equal(t, "application/json", d.ContentType)
	require.Equal(t, "retail", d.Headers["app"])
	require.EqualValues(t, 7, d.Headers["shard"])
	require.Equal(t, map[string]any{"lane": "bulk"}, d.Headers["meta"])
	require.Equal(t, 1, d.Attempt)
	require.False(t, d.Redelivered)
	require.False(t, d.Timestamp.IsZero())
	require.Equal(t, 0, tb.depth(t, Bulk))
	require.Equal(t, 0, tb.depth(t, Bulk.Dead()))
}

func TestPublishRejectsBadInput(t *testing.T) {
	t.Parallel()
	b, err := New(Config{})
	require.NoError(t, err)
	ctx := context.Background()

	require.ErrorIs(t, b.Publish(ctx, "nope", Message{}), ErrUnknownQueue)
	require.ErrorContains(t, b.Publish(ctx, Realtime, Message{Headers: map[string]any{"ch": make(chan int)}}), "headers")
	require.NoError(t, b.Publish(ctx, Realtime))
	require.ErrorIs(t, b.Consume(ctx, "nope", 1, func(context.Context, Delivery) error { return nil }), ErrUnknownQueue)
	require.ErrorContains(t, b.Consume(ctx, Realtime, -1, func(context.Context, Delivery) error { return nil }), "prefetch")
}

func TestPublishWaitsForConnection(t *testing.T) {
	t.Parallel()
	b, err := New(Config{URL: testURL(), Prefix: "htest.unstarted."})
	require.NoError(t, err)

	// Without Run there is no connection, so nothing can be confirmed.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = b.Publish(ctx, Realtime, Message{Body: []byte("x")})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "1 of 1 messages unconfirmed")
	require.ErrorIs(t, b.WaitReady(ctx), context.DeadlineExceeded)
}

func TestConcurrentPublishers(t *testing.T) {
	t.Parallel()
	tb := setup(t, func(c *Config) { c.PublishChannels = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	const publishers, perPublisher = 16, 50
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range perPublisher {
				id := fmt.Sprintf("p%d-%d", p, i)
				if err := tb.broker.Publish(ctx, Receipts, Message{Body: []byte(id), MessageID: id}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, publishers*perPublisher, tb.depth(t, Receipts))
}

func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	for _, lane := range []Queue{Realtime, Bulk} {
		t.Run(string(lane), func(t *testing.T) {
			var msgs []Message
			for i := range 5 {
				msgs = append(msgs, Message{Body: []byte("low"), MessageID: fmt.Sprintf("low-%d", i), Priority: 1})
			}
			require.NoError(t, tb.broker.Publish(ctx, lane, msgs...))
			msgs = msgs[:0]
			for i := range 5 {
				msgs = append(msgs, Message{Body: []byte("high"), MessageID: fmt.Sprintf("high-%d", i), Priority: 9})
			}
			require.NoError(t, tb.broker.Publish(ctx, lane, msgs...))

			order := make(chan Delivery, 10)
			stop := tb.consume(t, lane, 1, func(ctx context.Context, d Delivery) error {
				order <- d
				return nil
			})
			var bodies []string
			for range 10 {
				select {
				case d := <-order:
					bodies = append(bodies, string(d.Body))
				case <-ctx.Done():
					t.Fatalf("received only %v", bodies)
				}
			}
			stop()
			require.Equal(t, []string{"high", "high", "high", "high", "high", "low", "low", "low", "low", "low"}, bodies)
		})
	}
}

func TestPoisonIsDeadLettered(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	var calls atomic.Int32
	stop := tb.consume(t, Realtime, 4, func(ctx context.Context, d Delivery) error {
		calls.Add(1)
		return fmt.Errorf("error decoding send: %w", Poison(errors.New("unexpected end of JSON input")))
	})
	require.NoError(t, tb.broker.Publish(ctx, Realtime, Message{Body: []byte("{"), MessageID: "m-1", Priority: 7, ContentType: "application/json"}))

	d := tb.get(t, Realtime.Dead())
	stop()
	require.Equal(t, "m-1", d.MessageId)
	require.Equal(t, "{", string(d.Body))
	require.EqualValues(t, 7, d.Priority)
	require.Equal(t, "application/json", d.ContentType)
	require.Equal(t, "error decoding send: poison message: unexpected end of JSON input", d.Headers[HeaderReason])
	require.Equal(t, string(Realtime), d.Headers[HeaderQueue])
	require.EqualValues(t, 1, d.Headers[HeaderAttempts])
	require.IsType(t, time.Time{}, d.Headers[HeaderDeadAt])
	require.EqualValues(t, 1, calls.Load(), "a poison message is not retried")
	require.Equal(t, 0, tb.depth(t, Realtime))
}

func TestTransientErrorsRetryThenDeadLetter(t *testing.T) {
	t.Parallel()
	tb := setup(t, func(c *Config) { c.MaxAttempts = 3 })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	var mu sync.Mutex
	attempts := map[string][]int{}
	redelivered := map[string][]bool{}
	done := make(chan struct{})
	stop := tb.consume(t, Bulk, 4, func(ctx context.Context, d Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		attempts[d.MessageID] = append(attempts[d.MessageID], d.Attempt)
		redelivered[d.MessageID] = append(redelivered[d.MessageID], d.Redelivered)
		switch {
		case d.MessageID == "recovers" && d.Attempt == 2:
			close(done)
			return nil
		case d.MessageID == "panics":
			panic("nil map")
		}
		return errors.New("provider timeout")
	})
	require.NoError(t, tb.broker.Publish(ctx, Bulk,
		Message{Body: []byte("a"), MessageID: "fails"},
		Message{Body: []byte("b"), MessageID: "recovers"},
		Message{Body: []byte("c"), MessageID: "panics"},
	))

	dead := map[string]string{}
	for range 2 {
		d := tb.get(t, Bulk.Dead())
		dead[d.MessageId] = d.Headers[HeaderReason].(string)
		require.EqualValues(t, 3, d.Headers[HeaderAttempts])
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the recovering message was not retried")
	}
	stop()

	require.Equal(t, "failed 3 attempts, last error: provider timeout", dead["fails"])
	require.Equal(t, "failed 3 attempts, last error: handler panicked: nil map", dead["panics"])
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{1, 2, 3}, attempts["fails"])
	require.Equal(t, []bool{false, true, true}, redelivered["fails"])
	require.Equal(t, []int{1, 2}, attempts["recovers"])
	require.Equal(t, 0, tb.depth(t, Bulk))
	require.Equal(t, 0, tb.depth(t, Bulk.Dead()))
}

func TestDrainOnCancel(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, tb.broker.Publish(ctx, Receipts, messages(2)...))

	started := make(chan string, 2)
	release := make(chan struct{})
	var finished atomic.Bool
	var handlerErr atomic.Value
	cctx, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	returned := make(chan error, 1)
	go func() {
		returned <- tb.broker.Consume(cctx, Receipts, 1, func(ctx context.Context, d Delivery) error {
			started <- d.MessageID
			<-release
			finished.Store(true)
			handlerErr.Store(fmt.Sprint(ctx.Err()))
			return nil
		})
	}()

	var first string
	select {
	case first = <-started:
	case <-ctx.Done():
		t.Fatal("handler never started")
	}
	ccancel()
	select {
	case err := <-returned:
		t.Fatalf("Consume returned %v with a handler in flight", err)
	default:
	}
	close(release)
	select {
	case err := <-returned:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("Consume did not return after the drain")
	}
	require.True(t, finished.Load())
	require.Equal(t, "<nil>", handlerErr.Load(), "a draining handler keeps a live context")
	require.Len(t, started, 0, "no delivery is taken after cancel")

	// The in-flight message was acked; the other one is still queued.
	require.Equal(t, 1, tb.depth(t, Receipts))
	left := tb.get(t, Receipts)
	require.NotEqual(t, first, left.MessageId)
}

func TestDrainTimeoutCancelsHandlers(t *testing.T) {
	t.Parallel()
	tb := setup(t, func(c *Config) { c.DrainTimeout = 50 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, tb.broker.Publish(ctx, Receipts, messages(1)...))

	started := make(chan struct{})
	stop := tb.consume(t, Receipts, 1, func(ctx context.Context, d Delivery) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("handler never started")
	}
	stop()
	// A handler cut off by the drain timeout is requeued, no attempt counted.
	d := tb.get(t, Receipts)
	require.Equal(t, "id-0", d.MessageId)
	require.Nil(t, d.Headers[HeaderAttempts])
	require.True(t, d.Redelivered)
}

func TestDelayQueue(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.broker
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()

	const ttl = 200 * time.Millisecond
	delay, err := b.DeclareDelay(ctx, "fallback.200ms", ttl, Realtime)
	require.NoError(t, err)
	require.Equal(t, tb.prefix+"fallback.200ms", b.QueueName(delay))
	_, err = b.DeclareDelay(ctx, "fallback.bad", ttl, "nope")
	require.ErrorIs(t, err, ErrUnknownQueue)

	got := make(chan Delivery, 1)
	tb.consume(t, Realtime, 1, func(ctx context.Context, d Delivery) error {
		got <- d
		return nil
	})
	sent := time.Now()
	require.NoError(t, b.Publish(ctx, delay, Message{Body: []byte("timer"), MessageID: "t-1", Priority: 5}))
	select {
	case d := <-got:
		require.GreaterOrEqual(t, time.Since(sent), ttl-20*time.Millisecond)
		require.Equal(t, "t-1", d.MessageID)
		require.EqualValues(t, 5, d.Priority)
		require.Contains(t, d.Headers, "x-death")
	case <-ctx.Done():
		t.Fatal("the delayed message never reached the target queue")
	}
}

func TestReconnect(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.broker
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitFor)
	defer cancel()

	seen := newIDSet()
	tb.consume(t, Realtime, 16, func(ctx context.Context, d Delivery) error {
		seen.add(d.MessageID)
		return nil
	})

	msgs := messages(1000)
	published := make(chan error, 1)
	halfway := make(chan struct{})
	go func() {
		for i := 0; i < len(msgs); i += 10 {
			if i == len(msgs)/2 {
				<-halfway
			}
			if err := b.Publish(ctx, Realtime, msgs[i:i+10]...); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()

	require.Eventually(t, func() bool { return seen.len() >= 200 }, waitFor, 5*time.Millisecond)
	b.mu.Lock()
	before := b.sess
	b.mu.Unlock()
	tb.closeConnection(t)
	close(halfway)
	// A new connection replaces the one the server closed.
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.sess != nil && b.sess != before
	}, waitFor, 5*time.Millisecond)

	select {
	case err := <-published:
		require.NoError(t, err)
	case <-ctx.Done():
		t.Fatal("publishing did not finish")
	}
	seen.waitAll(t, msgs, waitFor)
	t.Logf("%d messages, %d duplicates", len(msgs), seen.duplicates())
	require.NoError(t, b.Ping(ctx))
}

func TestPublishRepublishesNacked(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.broker

	// A queue that holds one message and nacks publishes beyond that.
	name := tb.prefix + "tiny"
	_, err := tb.channel(t).QueueDeclare(name, false, false, false, false, amqp.Table{
		"x-max-length": int32(1),
		"x-overflow":   "reject-publish",
	})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = tb.channel(t).QueueDelete(name, false, false, false) })
	pubs := []amqp.Publishing{{Body: []byte("first")}, {Body: []byte("second")}}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = b.publish(ctx, "", name, pubs)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "1 of 2 messages unconfirmed")

	// Once there is room again the nacked message goes through.
	ch := tb.channel(t)
	_, err = ch.QueuePurge(name, false)
	require.NoError(t, err)
	ctx, cancel = context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.publish(ctx, "", name, pubs) }()
	var bodies []string
	require.Eventually(t, func() bool {
		d, ok, err := ch.Get(name, true)
		require.NoError(t, err)
		if ok {
			bodies = append(bodies, string(d.Body))
		}
		return len(bodies) == 2
	}, waitFor, 5*time.Millisecond)
	require.NoError(t, <-done)
	require.Equal(t, []string{"first", "second"}, bodies)
}
