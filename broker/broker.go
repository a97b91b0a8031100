// Package broker is Herald's RabbitMQ plumbing: it declares the lanes and
// their dead-letter queues, keeps one connection alive across broker restarts,
// publishes with publisher confirms and consumes with manual acks. It knows
// nothing of messages, tasks or channels; the payloads are opaque bytes.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrClosed is returned once Run has returned and the broker is stopped.
var ErrClosed = errors.New("broker is stopped")

// ErrNotConnected is returned by Ping while no connection is up.
var ErrNotConnected = errors.New("not connected to RabbitMQ")

// errConnectionLost ends work whose connection went away under it.
var errConnectionLost = errors.New("connection to RabbitMQ lost")

// Broker is a supervised connection to RabbitMQ shared by publishers and
// consumers; it is safe for concurrent use.
type Broker struct {
	cfg Config
	log *slog.Logger
	url string // the URL with its password masked

	topoMu sync.Mutex
	specs  map[Queue]QueueSpec // every known queue, dead-letter queues included
	order  []Queue             // declared queues in declaration order

	mu      sync.Mutex
	sess    *session      // nil while disconnected
	changed chan struct{} // closed and replaced whenever sess or stopped changes
	running bool
	stopped bool

	active activity // Publish and Consume calls in progress
}

// session is one live connection and the channels opened on it.
type session struct {
	conn  *amqp.Connection
	done  chan struct{}      // closed once the connection is gone
	pool  chan *amqp.Channel // idle confirm-mode channels for publishing
	slots chan struct{}      // one token per open publishing channel
}

// New validates cfg and returns a Broker; nothing connects until Run.
func New(cfg Config) (*Broker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Broker{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "broker"),
		url:     maskURL(cfg.URL),
		specs:   map[Queue]QueueSpec{},
		changed: make(chan struct{}),
	}
	for _, spec := range builtinSpecs() {
		if _, err := b.register(spec); err != nil {
			return nil, fmt.Errorf("error registering queue %s: %w", spec.Name, err)
		}
	}
	return b, nil
}

// Run connects, declares the topology and keeps the connection up, with
// exponential backoff between attempts, until ctx is done. It then waits up
// to DrainTimeout for Publish and Consume calls to finish, closes the
// connection and returns nil. It returns an error only when the server
// refuses the topology (a queue exists with other arguments).
func (b *Broker) Run(ctx context.Context) error {
	b.mu.Lock()
	if b.running || b.stopped {
		b.mu.Unlock()
		return errors.New("error running broker: Run was already called")
	}
	b.running = true
	b.mu.Unlock()
	defer b.stop()

	backoff := b.cfg.ReconnectBackoff
	for attempt := 1; ctx.Err() == nil; attempt++ {
		s, err := b.connect()
		if err != nil {
			if isPermanent(err) {
				return fmt.Errorf("error declaring RabbitMQ topology: %w", err)
			}
			b.log.WarnContext(ctx, "waiting for RabbitMQ",
				"url", b.url, "attempt", attempt, "retry_in", backoff, "error", err)
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(2*backoff, b.cfg.ReconnectBackoffMax)
			continue
		}
		attempt, backoff = 0, b.cfg.ReconnectBackoff
		b.log.InfoContext(ctx, "connected to RabbitMQ", "url", b.url)
		closed := s.conn.NotifyClose(make(chan *amqp.Error, 1))
		b.setSession(s)

		select {
		case err := <-closed:
			b.dropSession(s)
			b.log.WarnContext(ctx, "lost connection to RabbitMQ", "url", b.url, "error", err)
		case <-ctx.Done():
			// Let consumers ack what they drain and publishers collect their
			// confirms before the connection goes.
			select {
			case <-b.active.idle():
			case <-closed:
			case <-time.After(b.cfg.DrainTimeout):
				b.log.WarnContext(ctx, "closing RabbitMQ connection with work in progress",
					"drain_timeout", b.cfg.DrainTimeout)
			}
			return nil
		}
	}
	return nil
}

// connect dials RabbitMQ and declares the topology.
func (b *Broker) connect() (*session, error) {
	conn, err := amqp.DialConfig(b.cfg.URL, amqp.Config{
		Heartbeat:  b.cfg.Heartbeat,
		Locale:     "en_US",
		Dial:       amqp.DefaultDial(b.cfg.DialTimeout),
		Properties: amqp.Table{"connection_name": b.cfg.Name, "product": "herald"},
	})
	if err != nil {
		return nil, fmt.Errorf("error dialing: %w", err)
	}
	ch, err := conn.Channel()
	if err == nil {
		err = b.declareAll(ch)
		_ = ch.Close()
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	s := &session{
		conn:  conn,
		done:  make(chan struct{}),
		pool:  make(chan *amqp.Channel, b.cfg.PublishChannels),
		slots: make(chan struct{}, b.cfg.PublishChannels),
	}
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 1))
	go func() {
		for bl := range blocked {
			if bl.Active {
				b.log.Warn("RabbitMQ blocks publishing", "reason", bl.Reason)
			} else {
				b.log.Info("RabbitMQ unblocked publishing")
			}
		}
	}()
	return s, nil
}

func (b *Broker) setSession(s *session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sess = s
	b.signal()
}

// dropSession forgets a connection that has closed.
func (b *Broker) dropSession(s *session) {
	b.mu.Lock()
	if b.sess == s {
		b.sess = nil
		b.signal()
	}
	b.mu.Unlock()
	close(s.done)
}

// stop marks the broker stopped and closes the connection.
func (b *Broker) stop() {
	b.mu.Lock()
	s := b.sess
	b.sess, b.stopped = nil, true
	b.signal()
	b.mu.Unlock()
	if s != nil {
		_ = s.conn.Close()
		close(s.done)
	}
}

// signal wakes everyone waiting in current; b.mu must be held.
func (b *Broker) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// current returns the live session, waiting for one while disconnected.
func (b *Broker) current(ctx context.Context) (*session, error) {
	for {
		b.mu.Lock()
		s, changed, stopped := b.sess, b.changed, b.stopped
		b.mu.Unlock()
		switch {
		case s != nil:
			return s, nil
		case stopped:
			return nil, ErrClosed
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

// Ready reports whether the connection is up and the topology declared.
func (b *Broker) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sess != nil && !b.sess.conn.IsClosed()
}

// WaitReady blocks until the broker is connected or ctx is done.
func (b *Broker) WaitReady(ctx context.Context) error {
	if _, err := b.current(ctx); err != nil {
		return fmt.Errorf("error waiting for RabbitMQ: %w", err)
	}
	return nil
}

// Ping checks with a round trip to the server that the connection works and
// the realtime lane exists; it is meant for readiness probes.
func (b *Broker) Ping(ctx context.Context) error {
	b.mu.Lock()
	s := b.sess
	b.mu.Unlock()
	if s == nil {
		return fmt.Errorf("error pinging RabbitMQ: %w", ErrNotConnected)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- s.withChannel(func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclarePassive(b.name(Realtime), true, false, false, false, nil)
			return err
		})
	}()
	select {
	case <-ctx.Done():
		return fmt.Errorf("error pinging RabbitMQ: %w", ctx.Err())
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("error pinging RabbitMQ: %w", err)
		}
		return nil
	}
}

// Declare adds a durable queue to the topology: it is declared now (waiting
// for a connection if needed) and again after every reconnect. Declaring the
// same spec twice is harmless. If ctx ends before a connection comes up, the
// queue stays registered and is declared on the next connect.
func (b *Broker) Declare(ctx context.Context, spec QueueSpec) error {
	added, err := b.register(spec)
	if err != nil {
		return fmt.Errorf("error declaring queue %s: %w", spec.Name, err)
	}
	for {
		s, err := b.current(ctx)
		if err != nil {
			return fmt.Errorf("error declaring queue %s: %w", spec.Name, err)
		}
		err = s.withChannel(func(ch *amqp.Channel) error { return b.declare(ch, spec) })
		switch {
		case err == nil:
			return nil
		case isPermanent(err):
			if added {
				b.unregister(spec)
			}
			return fmt.Errorf("error declaring queue %s: %w", spec.Name, err)
		case !s.conn.IsClosed():
			return fmt.Errorf("error declaring queue %s: %w", spec.Name, err)
		}
		// The connection went away; the queue is declared on the next one.
		select {
		case <-ctx.Done():
			return fmt.Errorf("error declaring queue %s: %w", spec.Name, ctx.Err())
		case <-s.done:
		}
	}
}

// DeclareDelay declares a delay queue: a message published to it waits ttl
// and then moves into target, which is how fallback timers survive restarts.
// All messages of one delay queue share its ttl, so they expire in order.
func (b *Broker) DeclareDelay(ctx context.Context, name string, ttl time.Duration, target Queue) (Queue, error) {
	q := Queue(name)
	if ttl <= 0 {
		return "", fmt.Errorf("error declaring delay queue %s: ttl must be positive", name)
	}
	if err := b.Declare(ctx, QueueSpec{Name: q, MessageTTL: ttl, ExpireInto: target}); err != nil {
		return "", err
	}
	return q, nil
}

// withChannel runs f on a short-lived channel.
func (s *session) withChannel(f func(ch *amqp.Channel) error) error {
	ch, err := s.conn.Channel()
	if err != nil {
		return fmt.Errorf("error opening channel: %w", err)
	}
	defer func() { _ = ch.Close() }()
	return f(ch)
}

// isPermanent reports errors that retrying cannot fix: the server refused a
// declaration because the queue or exchange exists with other arguments.
func isPermanent(err error) bool {
	var aerr *amqp.Error
	return errors.As(err, &aerr) && aerr.Code == amqp.PreconditionFailed
}

// sleep waits d or until ctx is done, reporting whether the full wait elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// activity counts calls in progress so shutdown can wait for them.
type activity struct {
	mu   sync.Mutex
	n    int
	done chan struct{} // closed when n drops to zero
}

func (a *activity) begin() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		a.done = make(chan struct{})
	}
	a.n++
}

func (a *activity) end() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n--
	if a.n == 0 {
		close(a.done)
	}
}

// idle returns a channel closed once no call is in progress.
func (a *activity) idle() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return a.done
}
