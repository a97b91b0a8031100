package broker

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Message is one message to publish.
type Message struct {
	// Body is the opaque payload.
	Body []byte
	// Priority orders messages on the priority lanes, 0 (lowest) to
	// MaxPriority; higher values count as MaxPriority.
	Priority uint8
	// MessageID identifies the message for deduplication; a random id is used when empty.
	MessageID string
	// Headers are AMQP header fields: strings, integers, floats, bools, []byte,
	// time.Time, and nested maps or slices of those.
	Headers map[string]any
	// ContentType is the MIME type of Body, such as "application/json".
	ContentType string
}

// errNotConfirmed marks messages the server nacked or whose confirm was lost
// with their channel.
var errNotConfirmed = errors.New("message not confirmed by RabbitMQ")

// Publish sends msgs to q as persistent messages and returns nil once the
// server has confirmed every one of them. Messages that are nacked or lost
// with the connection are published again, after a reconnect if need be,
// until ctx is done; so a message may arrive twice but is never dropped
// silently. Publish is safe for concurrent use.
func (b *Broker) Publish(ctx context.Context, q Queue, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if _, ok := b.spec(q); !ok {
		return fmt.Errorf("error publishing: %w %q", ErrUnknownQueue, q)
	}
	now := time.Now()
	pubs := make([]amqp.Publishing, len(msgs))
	for i, m := range msgs {
		headers, err := toTable(m.Headers)
		if err != nil {
			return fmt.Errorf("error publishing: message %d: %w", i, err)
		}
		pubs[i] = amqp.Publishing{
			Headers:      headers,
			ContentType:  m.ContentType,
			DeliveryMode: amqp.Persistent,
			Priority:     m.Priority,
			MessageId:    cmp.Or(m.MessageID, rand.Text()),
			Timestamp:    now,
			Body:         m.Body,
		}
	}
	b.active.begin()
	defer b.active.end()
	if err := b.publish(ctx, "", b.name(q), pubs); err != nil {
		return fmt.Errorf("error publishing to %s: %w", q, err)
	}
	return nil
}

// publish publishes pubs until all are confirmed or ctx is done.
func (b *Broker) publish(ctx context.Context, exchange, key string, pubs []amqp.Publishing) error {
	pending := make([]int, len(pubs))
	for i := range pending {
		pending[i] = i
	}
	wait := b.cfg.ReconnectBackoff
	for {
		s, err := b.current(ctx)
		if err != nil {
			return fmt.Errorf("%d of %d messages unconfirmed: %w", len(pending), len(pubs), err)
		}
		failed, err := s.publish(ctx, exchange, key, pubs, pending)
		if len(failed) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%d of %d messages unconfirmed: %w", len(failed), len(pubs), ctx.Err())
		}
		b.log.WarnContext(ctx, "publishing unconfirmed messages again",
			"routing_key", key, "count", len(failed), "error", err)
		if len(failed) < len(pending) {
			wait = b.cfg.ReconnectBackoff
		}
		pending = failed
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d messages unconfirmed: %w", len(pending), len(pubs), ctx.Err())
		case <-s.done:
			// The next connection is a fresh start: no need to back off.
		case <-time.After(wait):
			wait = min(2*wait, b.cfg.ReconnectBackoffMax)
		}
	}
}

// publish makes one attempt at publishing pubs[pending...] on this session
// and returns the indexes that were not confirmed. The channel is held only
// while writing; confirms are awaited after it went back to the pool, so
// concurrent publishers share few channels and their confirms overlap.
func (s *session) publish(ctx context.Context, exchange, key string, pubs []amqp.Publishing, pending []int) ([]int, error) {
	ch, err := s.acquire(ctx)
	if err != nil {
		return pending, err
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(pending))
	var pubErr error
	for _, i := range pending {
		dc, err := ch.PublishWithDeferredConfirm(exchange, key, false, false, pubs[i])
		if err != nil {
			pubErr = fmt.Errorf("error publishing: %w", err)
			break
		}
		confirms = append(confirms, dc)
	}
	s.release(ch)

	acked := make([]bool, len(pending))
	for n, dc := range confirms {
		select {
		case <-dc.Done():
			acked[n] = dc.Acked()
		case <-ctx.Done():
			for m := n; m < len(confirms); m++ {
				acked[m] = confirms[m].Acked()
			}
			pubErr = ctx.Err()
		}
		if ctx.Err() != nil {
			break
		}
	}
	var failed []int
	for n, i := range pending {
		if !acked[n] {
			failed = append(failed, i)
		}
	}
	if len(failed) > 0 && pubErr == nil {
		pubErr = errNotConfirmed
		if ch.IsClosed() {
			pubErr = fmt.Errorf("%w: channel closed", errNotConfirmed)
		}
	}
	return failed, pubErr
}

// acquire takes an idle publishing channel, or opens one while the pool has
// room, or waits for one to come back.
func (s *session) acquire(ctx context.Context) (*amqp.Channel, error) {
	for {
		var ch *amqp.Channel
		select {
		case ch = <-s.pool:
		default:
			select {
			case ch = <-s.pool:
			case s.slots <- struct{}{}:
				ch, err := s.openPublisher()
				if err != nil {
					<-s.slots
					return nil, err
				}
				return ch, nil
			case <-s.done:
				return nil, errConnectionLost
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if !ch.IsClosed() {
			return ch, nil
		}
		<-s.slots
	}
}

// release returns ch to the pool, or frees its slot if it closed.
func (s *session) release(ch *amqp.Channel) {
	if ch.IsClosed() {
		<-s.slots
		return
	}
	s.pool <- ch
}

// openPublisher opens a channel in confirm mode.
func (s *session) openPublisher() (*amqp.Channel, error) {
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("error opening channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("error enabling publisher confirms: %w", err)
	}
	return ch, nil
}

// toTable converts headers to an AMQP table, nested maps included, and
// checks that every value has an AMQP type.
func toTable(headers map[string]any) (amqp.Table, error) {
	if len(headers) == 0 {
		return nil, nil
	}
	t := make(amqp.Table, len(headers))
	for k, v := range headers {
		t[k] = toField(v)
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("error in headers: %w", err)
	}
	return t, nil
}

func toField(v any) any {
	switch v := v.(type) {
	case map[string]any:
		t := make(amqp.Table, len(v))
		for k, e := range v {
			t[k] = toField(e)
		}
		return t
	case amqp.Table:
		return toField(map[string]any(v))
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = toField(e)
		}
		return a
	case []string:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = e
		}
		return a
	default:
		return v
	}
}

// fromTable converts an AMQP table to plain maps for handlers.
func fromTable(t amqp.Table) map[string]any {
	if len(t) == 0 {
		return nil
	}
	m := make(map[string]any, len(t))
	for k, v := range t {
		m[k] = fromField(v)
	}
	return m
}

func fromField(v any) any {
	switch v := v.(type) {
	case amqp.Table:
		return fromTable(v)
	case []any:
		a := make([]any, len(v))
		for i, e := range v {
			a[i] = fromField(e)
		}
		return a
	default:
		return v
	}
}
