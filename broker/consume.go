package broker

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Header fields the broker sets on messages it retries or dead-letters.
const (
	// HeaderAttempts counts the failed handling attempts of a message.
	HeaderAttempts = "x-herald-attempts"
	// HeaderReason says why a message was dead-lettered.
	HeaderReason = "x-herald-reason"
	// HeaderQueue names the queue a dead-lettered message came from.
	HeaderQueue = "x-herald-queue"
	// HeaderDeadAt is when a message was dead-lettered.
	HeaderDeadAt = "x-herald-dead-at"
)

// maxReasonLen bounds the reason header; handler errors can be long.
const maxReasonLen = 1024

// settleTimeout bounds the confirm of a retry or dead-letter copy.
const settleTimeout = 30 * time.Second

// ErrPoison marks a message that can never be handled; see Poison.
var ErrPoison = errors.New("poison message")

// Poison wraps err so the consumer dead-letters the message at once instead
// of retrying it.
func Poison(err error) error {
	if err == nil {
		return ErrPoison
	}
	return poisonError{err}
}

type poisonError struct{ err error }

func (e poisonError) Error() string   { return "poison message: " + e.err.Error() }
func (e poisonError) Unwrap() []error { return []error{ErrPoison, e.err} }

// Delivery is one message handed to a HandlerFunc.
type Delivery struct {
	// Body is the opaque payload.
	Body []byte
	// MessageID is the id given at publish time.
	MessageID string
	// Headers are the AMQP header fields, nested tables as maps.
	Headers map[string]any
	// ContentType is the MIME type given at publish time.
	ContentType string
	// Priority is the message priority.
	Priority uint8
	// Redelivered is set when the message may have been handled before:
	// RabbitMQ redelivered it, or an earlier attempt failed.
	Redelivered bool
	// Attempt is 1 on the first delivery and counts up with every retry.
	Attempt int
	// Timestamp is when the message was published.
	Timestamp time.Time
}

// HandlerFunc handles one delivery. Returning nil acks it; an error wrapped
// with Poison dead-letters it; any other error retries it after a backoff,
// and dead-letters it once Config.MaxAttempts attempts have failed.
type HandlerFunc func(ctx context.Context, d Delivery) error

// Consume delivers messages of q to handler, running up to prefetch handlers
// at once (0 takes Config.Prefetch), until ctx is done. It subscribes again
// by itself after a reconnect. When ctx is cancelled it stops taking
// deliveries, lets the handlers in flight finish and settle (for at most
// DrainTimeout, after which their context is cancelled), and returns nil.
//
// Retries and dead-lettering publish a copy and then ack the original:
// classic queues keep no delivery count, so the attempt count travels in the
// x-herald-attempts header, and the copy goes to the tail of the queue so a
// failing message cannot hold up the lane. A dead-lettered copy goes straight
// to the dead-letter exchange carrying x-herald-reason, because a reject
// cannot say why. If that copy cannot be confirmed the original is rejected
// instead and the queue's own dead-lettering keeps it, without the reason.
// On a queue without a dead-letter queue (a .dead queue itself, say) a
// dead-lettered message is dropped.
func (b *Broker) Consume(ctx context.Context, q Queue, prefetch int, handler HandlerFunc) error {
	spec, ok := b.spec(q)
	if !ok {
		return fmt.Errorf("error consuming: %w %q", ErrUnknownQueue, q)
	}
	if handler == nil {
		return fmt.Errorf("error consuming %s: handler is nil", q)
	}
	prefetch = cmp.Or(prefetch, b.cfg.Prefetch[q], DefaultPrefetch)
	if prefetch < 1 || prefetch > 65535 {
		return fmt.Errorf("error consuming %s: prefetch must be between 1 and 65535, got %d", q, prefetch)
	}
	c := &consumer{
		b:        b,
		queue:    q,
		spec:     spec,
		prefetch: prefetch,
		handler:  handler,
		log:      b.log.With("queue", string(q)),
	}

	b.active.begin()
	defer b.active.end()
	wait := b.cfg.ReconnectBackoff
	for {
		s, err := b.current(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("error consuming %s: %w", q, err)
		}
		subscribed, err := c.run(ctx, s)
		if ctx.Err() != nil {
			return nil
		}
		if subscribed {
			wait = b.cfg.ReconnectBackoff
		}
		c.log.WarnContext(ctx, "consumer interrupted, subscribing again", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
		case <-time.After(wait):
			wait = min(2*wait, b.cfg.ReconnectBackoffMax)
		}
	}
}

// consumer is one Consume call.
type consumer struct {
	b        *Broker
	queue    Queue
	spec     QueueSpec
	prefetch int
	handler  HandlerFunc
	log      *slog.Logger
}

// run subscribes on one session and returns when the subscription ends:
// after a drain when ctx is done (nil error), or when the channel or
// connection is lost. subscribed reports whether deliveries started.
func (c *consumer) run(ctx context.Context, s *session) (subscribed bool, err error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return false, fmt.Errorf("error opening channel: %w", err)
	}
	// Closing the channel requeues deliveries that were buffered but never
	// handed to a handler.
	defer func() { _ = ch.Close() }()
	if err := ch.Qos(c.prefetch, 0, false); err != nil {
		return false, fmt.Errorf("error setting prefetch: %w", err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	tag := fmt.Sprintf("%s.%s.%s", c.b.cfg.Name, c.queue, rand.Text()[:8])
	deliveries, err := ch.Consume(c.b.name(c.queue), tag, false, false, false, false, nil)
	if err != nil {
		return false, fmt.Errorf("error subscribing: %w", err)
	}

	// Handlers outlive ctx so that a drain can finish; hcancel ends them
	// when the drain times out.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	var wg sync.WaitGroup
	for range c.prefetch {
		wg.Go(func() { c.work(ctx, hctx, s, deliveries) })
	}
	workersDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(workersDone)
	}()

	select {
	case <-workersDone:
		select {
		case aerr := <-closed:
			if aerr != nil {
				return true, aerr
			}
			return true, errConnectionLost
		default:
			return true, errors.New("subscription cancelled by RabbitMQ")
		}
	case <-ctx.Done():
		if err := ch.Cancel(tag, false); err != nil {
			c.log.DebugContext(ctx, "error cancelling subscription", "error", err)
		}
		t := time.NewTimer(c.b.cfg.DrainTimeout)
		defer t.Stop()
		select {
		case <-workersDone:
		case <-t.C:
			c.log.WarnContext(ctx, "drain timed out, cancelling handlers", "drain_timeout", c.b.cfg.DrainTimeout)
			hcancel()
			<-workersDone
		}
		return true, nil
	}
}

// work hands deliveries to the handler one at a time until the subscription
// ends or ctx is done.
func (c *consumer) work(ctx, hctx context.Context, s *session, deliveries <-chan amqp.Delivery) {
	for {
		select {
		case <-ctx.Done():
			return
		case d, ok := <-deliveries:
			if !ok {
				return
			}
			if ctx.Err() != nil {
				c.settle(ctx, d, d.Nack(false, true))
				return
			}
			c.handle(ctx, hctx, s, d)
		}
	}
}

// handle runs the handler on d and acks, retries or dead-letters it.
func (c *consumer) handle(ctx, hctx context.Context, s *session, d amqp.Delivery) {
	del := toDelivery(d)
	err := c.call(hctx, del)
	switch {
	case err == nil:
		c.settle(hctx, d, d.Ack(false))
	case errors.Is(err, ErrPoison):
		c.log.WarnContext(hctx, "dead-lettering poison message",
			"message_id", d.MessageId, "attempt", del.Attempt, "error", err)
		c.deadLetter(hctx, s, d, del.Attempt, err.Error())
	case hctx.Err() != nil:
		// The drain timed out: not the message's fault, so no attempt is counted.
		c.settle(hctx, d, d.Nack(false, true))
	case del.Attempt >= c.b.cfg.MaxAttempts:
		c.log.WarnContext(hctx, "dead-lettering message after its last attempt",
			"message_id", d.MessageId, "attempt", del.Attempt, "error", err)
		c.deadLetter(hctx, s, d, del.Attempt, fmt.Sprintf("failed %d attempts, last error: %v", del.Attempt, err))
	default:
		backoff := c.backoff(del.Attempt)
		c.log.InfoContext(hctx, "retrying message",
			"message_id", d.MessageId, "attempt", del.Attempt, "retry_in", backoff, "error", err)
		c.retry(ctx, hctx, s, d, del.Attempt, backoff)
	}
}

// call runs the handler, turning a panic into an error.
func (c *consumer) call(ctx context.Context, d Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.ErrorContext(ctx, "handler panicked",
				"message_id", d.MessageID, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return c.handler(ctx, d)
}

// backoff is the wait before retrying after the given failed attempt.
func (c *consumer) backoff(attempt int) time.Duration {
	d := c.b.cfg.RetryBackoff
	for i := 1; i < attempt && d < c.b.cfg.RetryBackoffMax; i++ {
		d *= 2
	}
	return min(d, c.b.cfg.RetryBackoffMax)
}

// retry waits the backoff, publishes a copy of d with its attempt counted to
// the tail of the queue and acks d.
func (c *consumer) retry(ctx, hctx context.Context, s *session, d amqp.Delivery, attempt int, backoff time.Duration) {
	t := time.NewTimer(backoff)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		// Draining: requeue now rather than hold up shutdown.
	case <-s.done:
		// The delivery went with its connection; RabbitMQ redelivers it.
		return
	}
	pub := copyOf(d)
	pub.Headers[HeaderAttempts] = int64(attempt)
	if err := c.republish(hctx, s, "", c.b.name(c.queue), pub); err != nil {
		c.log.WarnContext(hctx, "error publishing retry, requeueing",
			"message_id", d.MessageId, "error", err)
		c.settle(hctx, d, d.Nack(false, true))
		return
	}
	c.settle(hctx, d, d.Ack(false))
}

// deadLetter publishes a copy of d carrying reason to the dead-letter queue
// and acks d.
func (c *consumer) deadLetter(ctx context.Context, s *session, d amqp.Delivery, attempt int, reason string) {
	if !c.spec.DeadLetter {
		c.settle(ctx, d, d.Reject(false))
		return
	}
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	pub := copyOf(d)
	pub.Headers[HeaderAttempts] = int64(attempt)
	pub.Headers[HeaderReason] = reason
	pub.Headers[HeaderQueue] = string(c.queue)
	pub.Headers[HeaderDeadAt] = time.Now().UTC()
	if err := c.republish(ctx, s, c.b.dlx(), c.b.name(c.queue), pub); err != nil {
		c.log.WarnContext(ctx, "error publishing to dead-letter queue, rejecting instead",
			"message_id", d.MessageId, "error", err)
		c.settle(ctx, d, d.Reject(false))
		return
	}
	c.settle(ctx, d, d.Ack(false))
}

// republish makes one confirmed attempt to publish pub on the session the
// delivery came from; if that session is gone, so is the delivery.
func (c *consumer) republish(ctx context.Context, s *session, exchange, key string, pub amqp.Publishing) error {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	if failed, err := s.publish(ctx, exchange, key, []amqp.Publishing{pub}, []int{0}); len(failed) > 0 {
		return err
	}
	return nil
}

// settle logs a failed ack, nack or reject; RabbitMQ redelivers the message.
func (c *consumer) settle(ctx context.Context, d amqp.Delivery, err error) {
	if err != nil {
		c.log.DebugContext(ctx, "error settling delivery, RabbitMQ will redeliver it",
			"message_id", d.MessageId, "error", err)
	}
}

// toDelivery converts an AMQP delivery for the handler.
func toDelivery(d amqp.Delivery) Delivery {
	attempt := attempts(d.Headers) + 1
	return Delivery{
		Body:        d.Body,
		MessageID:   d.MessageId,
		Headers:     fromTable(d.Headers),
		ContentType: d.ContentType,
		Priority:    d.Priority,
		Redelivered: d.Redelivered || attempt > 1,
		Attempt:     attempt,
		Timestamp:   d.Timestamp,
	}
}

// attempts reads the failed-attempt counter from headers.
func attempts(h amqp.Table) int {
	switch v := h[HeaderAttempts].(type) {
	case int64:
		return int(v)
	case int32:
		return int(v)
	case int16:
		return int(v)
	case int8:
		return int(v)
	case int:
		return v
	case uint8:
		return int(v)
	case uint16:
		return int(v)
	case uint32:
		return int(v)
	}
	return 0
}

// copyOf returns a persistent publishing with the properties of d.
func copyOf(d amqp.Delivery) amqp.Publishing {
	headers := make(amqp.Table, len(d.Headers)+4)
	for k, v := range d.Headers {
		headers[k] = v
	}
	return amqp.Publishing{
		Headers:         headers,
		ContentType:     d.ContentType,
		ContentEncoding: d.ContentEncoding,
		DeliveryMode:    amqp.Persistent,
		Priority:        d.Priority,
		CorrelationId:   d.CorrelationId,
		ReplyTo:         d.ReplyTo,
		MessageId:       d.MessageId,
		Timestamp:       d.Timestamp,
		Type:            d.Type,
		AppId:           d.AppId,
		Body:            d.Body,
	}
}
