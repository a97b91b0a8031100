package broker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"
)

// testURL is the RabbitMQ the tests run against.
func testURL() string {
	return cmp.Or(os.Getenv("HERALD_TEST_AMQP_URL"), "amqp://guest:guest@127.0.0.1:5672/")
}

// waitFor bounds every wait in these tests.
const waitFor = 20 * time.Second

type testBundle struct {
	broker *Broker
	prefix string
	admin  *amqp.Connection // a connection of the test's own, to look at queues
	stop   func()           // stops Run and waits for it
}

// setup starts a broker on a fresh queue prefix and removes its exchanges and
// queues when the test ends.
func setup(t testing.TB, configure ...func(*Config)) *testBundle {
	t.Helper()
	prefix := "htest." + strings.ToLower(rand.Text()[:10]) + "."
	cfg := Config{
		URL:          testURL(),
		Prefix:       prefix,
		Name:         "herald-test-" + prefix,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
		RetryBackoff: 10 * time.Millisecond,
		DrainTimeout: 10 * time.Second,
	}
	for _, f := range configure {
		f(&cfg)
	}
	b, err := New(cfg)
	require.NoError(t, err)

	admin, err := amqp.Dial(testURL())
	require.NoError(t, err, "RabbitMQ must run at %s (HERALD_TEST_AMQP_URL)", testURL())

	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- b.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-runErr:
				require.NoError(t, err)
			case <-time.After(waitFor):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(func() {
		stop()
		_ = admin.Close()
		// A new connection: the test may have restarted RabbitMQ under the old one.
		conn, err := amqp.Dial(testURL())
		if err != nil {
			t.Errorf("error cleaning up queues %s*: %v", prefix, err)
			return
		}
		defer func() { _ = conn.Close() }()
		ch, err := conn.Channel()
		require.NoError(t, err)
		b.topoMu.Lock()
		defer b.topoMu.Unlock()
		for q := range b.specs {
			_, err := ch.QueueDelete(b.name(q), false, false, false)
			require.NoError(t, err)
		}
		require.NoError(t, ch.ExchangeDelete(b.dlx(), false, false))
	})

	wctx, wcancel := context.WithTimeout(context.Background(), waitFor)
	defer wcancel()
	require.NoError(t, b.WaitReady(wctx))
	return &testBundle{broker: b, prefix: prefix, admin: admin, stop: stop}
}

// channel opens a channel on the test's own connection; a failed command
// closes a channel, so each check takes a new one.
func (tb *testBundle) channel(t testing.TB) *amqp.Channel {
	t.Helper()
	ch, err := tb.admin.Channel()
	require.NoError(t, err)
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

// depth returns the number of ready messages in q.
func (tb *testBundle) depth(t testing.TB, q Queue) int {
	t.Helper()
	ch := tb.channel(t)
	defer func() { _ = ch.Close() }()
	info, err := ch.QueueDeclarePassive(tb.broker.name(q), true, false, false, false, nil)
	require.NoError(t, err)
	return info.Messages
}

// get takes one message from q, waiting for it to arrive.
func (tb *testBundle) get(t *testing.T, q Queue) amqp.Delivery {
	t.Helper()
	ch := tb.channel(t)
	var d amqp.Delivery
	require.Eventually(t, func() bool {
		var ok bool
		var err error
		d, ok, err = ch.Get(tb.broker.name(q), true)
		require.NoError(t, err)
		return ok
	}, waitFor, 10*time.Millisecond, "no message arrived in %s", q)
	return d
}

// consume runs Consume in the background; the returned stop cancels it and
// waits for it to return.
func (tb *testBundle) consume(t testing.TB, q Queue, prefetch int, h HandlerFunc) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tb.broker.Consume(ctx, q, prefetch, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(waitFor):
				t.Error("Consume did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// messages returns n messages with ids id-0 … id-(n-1).
func messages(n int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		id := fmt.Sprintf("id-%d", i)
		msgs[i] = Message{Body: []byte("body of " + id), MessageID: id}
	}
	return msgs
}

// idSet collects delivered message ids and counts duplicates.
type idSet struct {
	mu   sync.Mutex
	seen map[string]int
}

func newIDSet() *idSet { return &idSet{seen: map[string]int{}} }

func (s *idSet) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[id]++
}

func (s *idSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// missing returns the ids of msgs never seen.
func (s *idSet) missing(msgs []Message) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range msgs {
		if s.seen[m.MessageID] == 0 {
			out = append(out, m.MessageID)
		}
	}
	return out
}

// waitAll waits until every message of msgs was seen.
func (s *idSet) waitAll(t *testing.T, msgs []Message, timeout time.Duration) {
	t.Helper()
	if !poll(timeout, func() bool { return s.len() >= len(msgs) }) {
		missing := s.missing(msgs)
		t.Fatalf("%d of %d messages never consumed, first: %v", len(missing), len(msgs), missing[:min(10, len(missing))])
	}
}

// poll checks cond every few milliseconds until it holds or timeout passes.
func poll(timeout time.Duration, cond func() bool) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return cond()
		}
	}
	return true
}

// duplicates returns how many deliveries repeated an id.
func (s *idSet) duplicates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.seen {
		n += c - 1
	}
	return n
}

// closeConnection closes the broker's connection from the server side with
// rabbitmqctl, or from the client side when rabbitmqctl is not installed.
func (tb *testBundle) closeConnection(t *testing.T) {
	t.Helper()
	b := tb.broker
	b.mu.Lock()
	s := b.sess
	b.mu.Unlock()
	require.NotNil(t, s, "broker is not connected")
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Log("rabbitmqctl not found; closing the connection from the client side")
		require.NoError(t, s.conn.Close())
		return
	}
	out, err := exec.Command("rabbitmqctl", "list_connections", "pid", "client_properties", "-q").CombinedOutput()
	require.NoError(t, err, string(out))
	want := fmt.Sprintf(`{"connection_name",%q}`, b.cfg.Name)
	var pid string
	for line := range strings.Lines(string(out)) {
		if f := strings.SplitN(strings.TrimSpace(line), "\t", 2); len(f) == 2 && strings.Contains(f[1], want) {
			pid = f[0]
		}
	}
	require.NotEmpty(t, pid, "connection %s not found in:\n%s", b.cfg.Name, out)
	out, err = exec.Command("rabbitmqctl", "close_connection", pid, "closed by a Herald test").CombinedOutput()
	require.NoError(t, err, string(out))
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad url", Config{URL: "http://example.com"}, "broker.url"},
		{"negative prefetch", Config{Prefetch: map[Queue]int{Bulk: -1}}, "broker.prefetch[bulk] must be between 1 and 65535"},
		{"huge prefetch", Config{Prefetch: map[Queue]int{Realtime: 70000}}, "broker.prefetch[realtime]"},
		{"negative attempts", Config{MaxAttempts: -2}, "broker.max_attempts must be positive"},
		{"backoff max below min", Config{ReconnectBackoff: time.Second, ReconnectBackoffMax: time.Millisecond}, "broker.reconnect_backoff_max"},
		{"long prefix", Config{Prefix: strings.Repeat("p", 201)}, "broker.prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			require.ErrorContains(t, err, tt.want)
		})
	}

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		b, err := New(Config{Prefetch: map[Queue]int{Bulk: 2}})
		require.NoError(t, err)
		require.Equal(t, DefaultURL, b.cfg.URL)
		require.Equal(t, "herald.realtime", b.QueueName(Realtime))
		require.Equal(t, 2, b.cfg.Prefetch[Bulk])
		require.Equal(t, defaultPrefetch[Realtime], b.cfg.Prefetch[Realtime])
		require.Equal(t, DefaultMaxAttempts, b.cfg.MaxAttempts)
	})
}

func TestMaskURL(t *testing.T) {
	t.Parallel()

	got := maskURL("amqp://herald:s3cret@mq.internal:5672/prod")
	require.NotContains(t, got, "s3cret")
	require.Contains(t, got, "herald:xxxxx@mq.internal")
}

func TestPoisonWrapping(t *testing.T) {
	t.Parallel()

	cause := errors.New("template variable missing")
	err := fmt.Errorf("error rendering: %w", Poison(cause))
	require.ErrorIs(t, err, ErrPoison)
	require.ErrorIs(t, err, cause)
	require.ErrorIs(t, Poison(nil), ErrPoison)
	require.NotErrorIs(t, cause, ErrPoison)
}

func TestRunLogsWhileWaitingForRabbitMQ(t *testing.T) {
	t.Parallel()

	var logs syncBuffer
	b, err := New(Config{
		URL:              "amqp://herald:s3cret@127.0.0.1:1/",
		Logger:           slog.New(slog.NewTextHandler(&logs, nil)),
		ReconnectBackoff: time.Millisecond,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	require.Eventually(t, func() bool {
		return strings.Count(logs.String(), "waiting for RabbitMQ") >= 2
	}, waitFor, 5*time.Millisecond)
	out := logs.String()
	require.Contains(t, out, "herald:xxxxx@127.0.0.1:1")
	require.NotContains(t, out, "s3cret")
	require.Contains(t, out, "connection refused")
	require.False(t, b.Ready())
	require.ErrorIs(t, b.Ping(ctx), ErrNotConnected)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(waitFor):
		t.Fatal("Run did not return after cancel")
	}
	require.ErrorIs(t, b.Publish(context.Background(), Realtime, Message{Body: []byte("x")}), ErrClosed)
	require.ErrorContains(t, b.Run(context.Background()), "already called")
}

func TestTopology(t *testing.T) {
	t.Parallel()
	tb := setup(t)
	b := tb.broker

	for _, q := range []Queue{Realtime, Bulk, Receipts, Realtime.Dead(), Bulk.Dead(), Receipts.Dead()} {
		require.Equal(t, 0, tb.depth(t, q), "queue %s", q)
		require.True(t, strings.HasPrefix(b.QueueName(q), tb.prefix))
	}
	ch := tb.channel(t)
	require.NoError(t, ch.ExchangeDeclarePassive(tb.prefix+"dlx", amqp.ExchangeDirect, true, false, false, false, nil))

	// The dead-letter exchange routes by the full name of the queue a message died in.
	for _, q := range []Queue{Realtime, Bulk, Receipts} {
		require.NoError(t, ch.Publish(tb.prefix+"dlx", b.QueueName(q), false, false, amqp.Publishing{Body: []byte(q)}))
		d := tb.get(t, q.Dead())
		require.Equal(t, string(q), string(d.Body))
	}

	// The lanes are priority queues that dead-letter into the exchange: the
	// server accepts exactly these arguments and refuses others.
	for _, q := range []Queue{Realtime, Bulk} {
		_, err := tb.channel(t).QueueDeclare(b.QueueName(q), true, false, false, false, amqp.Table{
			"x-max-priority":            int32(MaxPriority),
			"x-dead-letter-exchange":    tb.prefix + "dlx",
			"x-dead-letter-routing-key": b.QueueName(q),
		})
		require.NoError(t, err, "queue %s", q)
		_, err = tb.channel(t).QueueDeclare(b.QueueName(q), true, false, false, false, amqp.Table{"x-max-priority": int32(5)})
		require.Error(t, err)
		require.True(t, isPermanent(err), "%v", err)
	}

	// Registering a queue under a taken name with other arguments fails
	// before reaching the server; the same spec again is harmless.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.ErrorContains(t, b.Declare(ctx, QueueSpec{Name: Realtime}), "other arguments")
	require.NoError(t, b.Declare(ctx, QueueSpec{Name: Realtime, MaxPriority: MaxPriority, DeadLetter: true}))

	// A queue that exists on the server with other arguments is refused and
	// not kept in the topology, so reconnects do not trip over it.
	_, err := tb.channel(t).QueueDeclare(tb.prefix+"clash", true, false, false, false, nil)
	require.NoError(t, err)
	err = b.Declare(ctx, QueueSpec{Name: "clash", MaxPriority: 3})
	require.Error(t, err)
	require.True(t, isPermanent(err), "%v", err)
	_, known := b.spec("clash")
	require.False(t, known)
	_, err = tb.channel(t).QueueDelete(tb.prefix+"clash", false, false, false)
	require.NoError(t, err)

	require.True(t, b.Ready())
	require.NoError(t, b.Ping(ctx))
}
