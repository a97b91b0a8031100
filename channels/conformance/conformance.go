// Package conformance is the suite every channel provider passes against Herald's vendor
// simulator: what a provider must report for accepted, refused, failing and throttled
// messages, and how its receipts must verify and parse. An adapter's test calls Run with a
// Target describing how to build the provider and the addresses of its channel.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
)

// Target describes one provider under test.
type Target struct {
	// Channel is the channel the provider carries.
	Channel channels.Channel
	// New builds the provider against a simulator whose HTTP API is at simURL. cfg is the
	// simulator's configuration (credentials, callback), for providers that need more than
	// the URL; hooks lets New start what the provider holds open and stop it with the test.
	New func(t testing.TB, simURL string, cfg sim.Config) channels.Provider
	// Address returns the i-th address of a behaviour: "ok", "fail", "silent" or "slow" —
	// the simulator's test addresses of API.md (a phone ending in 0000 fails, ...). simURL is
	// the simulator's base URL, for channels whose addresses are URLs.
	Address func(simURL, behaviour string, i int) string
	// Message completes a message for addr with what the channel's variant needs (Extra);
	// the suite sets ID, Channel and Address. Nil sends Title and Body only.
	Message func(m channels.Message) channels.Message
	// Forge turns a genuine receipt request into one the provider must refuse (drop or
	// corrupt its signature, token or secret). Nil for providers without HTTP receipts.
	Forge func(r *http.Request)
	// NoVendorID marks a provider whose vendor answers without an id of its own (a webhook
	// receiver); its receipts are matched by Herald's message id.
	NoVendorID bool
	// NoReceipts marks a provider whose vendor reports results synchronously only.
	NoReceipts bool
	// SelfRunTransport marks a provider whose vendor is a server the enterprise runs itself
	// (an MQTT broker): it neither injects transient errors nor throttles, so the suite's
	// vendor-error and throttling checks do not apply; the adapter's own tests cover a broker
	// that cannot be reached or drops the connection. The simulated device gets a message
	// after the broker acknowledged it, so the suite waits for the device to record it.
	SelfRunTransport bool
	// RefusedByReceipt marks a provider whose vendor accepts every address of a well-formed
	// request and reports the refused ones only in its later results (DingTalk's
	// invalid_user_id_list; an MQTT device, as the broker takes any publish to a valid topic):
	// the refused message's result is SENT and its receipt FAILED.
	RefusedByReceipt bool
	// SimConfig adjusts the simulator's configuration before it starts.
	SimConfig func(*sim.Config)
}

// Run runs the whole suite against tgt.
func Run(t *testing.T, tgt Target) {
	t.Run("accepted messages get a vendor id and a receipt", func(t *testing.T) { testAccepted(t, tgt) })
	t.Run("refused address fails permanently", func(t *testing.T) { testRefused(t, tgt) })
	if !tgt.SelfRunTransport {
		t.Run("vendor errors are retryable", func(t *testing.T) { testVendorFault(t, tgt) })
		t.Run("throttling is retryable", func(t *testing.T) { testThrottled(t, tgt) })
	}
	t.Run("silent address is accepted without a receipt", func(t *testing.T) { testSilent(t, tgt) })
	if tgt.Forge != nil {
		t.Run("forged receipt is refused", func(t *testing.T) { testForged(t, tgt) })
	}
}

// env is one simulator, its provider and a receiver of the receipts it posts.
type env struct {
	tgt      Target
	sim      *sim.Server
	provider channels.Provider
	recv     *receiver
	simURL   string
}

func (e *env) address(behaviour string, i int) string { return e.tgt.Address(e.simURL, behaviour, i) }

func start(t *testing.T, tgt Target, adjust func(*sim.Config)) *env {
	t.Helper()
	recv := &receiver{}
	cb := httptest.NewServer(recv)
	t.Cleanup(cb.Close)
	cfg := sim.Config{Callback: cb.URL, ReceiptDelay: 10 * time.Millisecond, SlowDelay: time.Hour}
	if tgt.SimConfig != nil {
		tgt.SimConfig(&cfg)
	}
	if adjust != nil {
		adjust(&cfg)
	}
	s := sim.New(cfg)
	require.NoError(t, s.Start())
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	p := tgt.New(t, srv.URL, s.Config())
	require.Equal(t, tgt.Channel, p.Channel(), "provider channel")
	require.NotEmpty(t, p.Name(), "provider name")
	recv.provider = p
	if l, ok := p.(channels.ReceiptListener); ok {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = l.ListenReceipts(ctx, func(rs []channels.Receipt) error {
				recv.add(rs)
				return nil
			})
		}()
		t.Cleanup(func() {
			cancel()
			<-done
		})
	}
	return &env{tgt: tgt, sim: s, provider: p, recv: recv, simURL: srv.URL}
}

// messages returns what the simulated vendor recorded for addr. A self-run transport's
// device records a message after Send returned, so the first one is waited for.
func (e *env) messages(t *testing.T, addr string) []sim.Message {
	t.Helper()
	if e.tgt.SelfRunTransport {
		require.Eventuallyf(t, func() bool { return len(e.sim.Messages(e.tgt.Channel, addr)) > 0 },
			10*time.Second, 5*time.Millisecond, "the device %s got no message", addr)
	}
	return e.sim.Messages(e.tgt.Channel, addr)
}

func (e *env) message(id, addr string) channels.Message {
	m := channels.Message{ID: id, AppID: 1, Channel: e.tgt.Channel, Address: addr,
		Title: "Herald", Body: "Your code is " + id, Variables: map[string]any{"code": id}}
	if e.tgt.Message != nil {
		m = e.tgt.Message(m)
		m.ID, m.Channel, m.Address = id, e.tgt.Channel, addr
	}
	return m
}

func (e *env) send(t *testing.T, msgs []channels.Message) []channels.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.provider.Send(ctx, msgs)
	require.NoError(t, err, "Send")
	require.Len(t, res, len(msgs), "one result per message")
	for i, r := range res {
		require.Equal(t, msgs[i].ID, r.MessageID, "result %d is for message %d", i, i)
	}
	return res
}

func unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func testAccepted(t *testing.T, tgt Target) {
	e := start(t, tgt, nil)
	var msgs []channels.Message
	for i := range 3 {
		msgs = append(msgs, e.message(unique(fmt.Sprintf("ok%d", i)), e.address("ok", i)))
	}
	res := e.send(t, msgs)
	for i, r := range res {
		require.Contains(t, []channels.Status{channels.Sent, channels.Delivered}, r.Status, "message %d: %s", i, r.Reason)
		require.GreaterOrEqual(t, r.CostUnits, 1, "message %d is billed", i)
		got := e.messages(t, msgs[i].Address)
		require.Len(t, got, 1, "the vendor got message %d once", i)
		if !tgt.NoVendorID {
			require.NotEmpty(t, r.VendorID, "message %d has a vendor id", i)
			require.Equal(t, r.VendorID, got[0].VendorID, "vendor id of message %d", i)
		}
	}
	require.Zero(t, e.sim.Stats().Repeated[tgt.Channel], "no duplicate sends")
	if tgt.NoReceipts {
		return
	}
	for i, r := range res {
		if r.Status != channels.Sent {
			continue
		}
		rc := e.recv.waitFor(t, msgs[i].ID, r.VendorID, 10*time.Second)
		require.Contains(t, []channels.Status{channels.Delivered, channels.Displayed, channels.Clicked}, rc.Status, "receipt of message %d", i)
		require.Equal(t, e.provider.Name(), rc.Provider, "receipt names its provider")
	}
}

func testRefused(t *testing.T, tgt Target) {
	e := start(t, tgt, nil)
	ok := e.message(unique("good"), e.address("ok", 10))
	bad := e.message(unique("bad"), e.address("fail", 0))
	res := e.send(t, []channels.Message{bad, ok})
	if tgt.RefusedByReceipt {
		require.Equal(t, channels.Sent, res[0].Status, "the vendor took the request: %s", res[0].Reason)
		rc := e.recv.waitFor(t, bad.ID, res[0].VendorID, 10*time.Second)
		require.Equal(t, channels.Failed, rc.Status, "the refused address's receipt")
		require.NotEmpty(t, rc.Reason, "the vendor's reason is kept")
	} else {
		require.Equal(t, channels.Failed, res[0].Status, "refused address")
		require.False(t, res[0].Retryable, "a refused address is not retried")
		require.NotEmpty(t, res[0].Reason, "the vendor's reason is kept")
	}
	require.Contains(t, []channels.Status{channels.Sent, channels.Delivered}, res[1].Status,
		"a good address in the same batch is unaffected: %s", res[1].Reason)
	require.Empty(t, e.sim.Messages(tgt.Channel, bad.Address), "the vendor kept nothing for the refused address")
}

func testVendorFault(t *testing.T, tgt Target) {
	e := start(t, tgt, func(c *sim.Config) { c.FailureRate = 1 })
	msgs := []channels.Message{e.message(unique("f0"), e.address("ok", 20)), e.message(unique("f1"), e.address("ok", 21))}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.provider.Send(ctx, msgs)
	if err == nil {
		require.Len(t, res, len(msgs))
		for i, r := range res {
			require.Equal(t, channels.Failed, r.Status, "message %d under vendor errors", i)
			require.True(t, r.Retryable, "a vendor error is retryable (message %d: %s)", i, r.Reason)
		}
	}
	require.Positive(t, e.sim.Stats().Faults[tgt.Channel], "the simulator injected its errors")
	require.Zero(t, e.sim.Stats().Received[tgt.Channel], "nothing was accepted")
}

func testThrottled(t *testing.T, tgt Target) {
	e := start(t, tgt, func(c *sim.Config) { c.RateLimit = 1 })
	var msgs []channels.Message
	for i := range 4 {
		msgs = append(msgs, e.message(unique(fmt.Sprintf("t%d", i)), e.address("ok", 30+i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	throttled := 0
	for _, m := range msgs { // one request per message, so a batch API does not hide the limit
		res, err := e.provider.Send(ctx, []channels.Message{m})
		if err != nil {
			throttled++
			continue
		}
		require.Len(t, res, 1)
		switch res[0].Status {
		case channels.Failed:
			require.True(t, res[0].Retryable, "a throttled message is retryable: %s", res[0].Reason)
			throttled++
		default:
			require.Contains(t, []channels.Status{channels.Sent, channels.Delivered}, res[0].Status)
		}
	}
	require.Positive(t, throttled, "four messages at once over a limit of one per second")
	require.Positive(t, e.sim.Stats().Throttled[tgt.Channel], "the simulator throttled")
}

func testSilent(t *testing.T, tgt Target) {
	e := start(t, tgt, nil)
	m := e.message(unique("silent"), e.address("silent", 0))
	res := e.send(t, []channels.Message{m})
	require.Contains(t, []channels.Status{channels.Sent, channels.Delivered}, res[0].Status, res[0].Reason)
	got := e.messages(t, m.Address)
	require.Len(t, got, 1)
	require.Equal(t, "silent", got[0].Behavior)
}

func testForged(t *testing.T, tgt Target) {
	e := start(t, tgt, nil)
	e.recv.capture = true
	m := e.message(unique("forge"), e.address("ok", 40))
	res := e.send(t, []channels.Message{m})
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	e.recv.waitFor(t, m.ID, res[0].VendorID, 10*time.Second)
	genuine := e.recv.captured()
	require.NotNil(t, genuine, "a genuine receipt request was captured")

	// The genuine request parses again (a replay within the window is the dispatcher's
	// concern: statuses only move forward); the forged one must not.
	forged := genuine.clone(t)
	tgt.Forge(forged)
	rs, err := e.provider.(channels.ReceiptParser).ParseReceipts(forged)
	require.Truef(t, errors.Is(err, channels.ErrUnverified), "forged receipt: want ErrUnverified, got %v and %d receipts", err, len(rs))
}

// receiver plays Herald's callback endpoint: it hands every request to the provider's parser.
type receiver struct {
	provider channels.Provider
	capture  bool

	mu      sync.Mutex
	got     []channels.Receipt
	first   *request
	refused int
}

type request struct {
	method, url string
	header      http.Header
	body        []byte
}

func (q *request) clone(t *testing.T) *http.Request {
	r, err := http.NewRequest(q.method, q.url, strings.NewReader(string(q.body)))
	require.NoError(t, err)
	r.Header = q.header.Clone()
	return r
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parser, ok := rv.provider.(channels.ReceiptParser)
	if !ok {
		http.Error(w, "provider parses no receipts", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "unreadable", http.StatusBadRequest)
		return
	}
	q := &request{method: r.Method, url: "http://herald.test" + r.URL.RequestURI(), header: r.Header.Clone(), body: body}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	rs, err := parser.ParseReceipts(r)
	if err != nil {
		rv.mu.Lock()
		rv.refused++
		rv.mu.Unlock()
		status := http.StatusBadRequest
		if errors.Is(err, channels.ErrUnverified) {
			status = http.StatusUnauthorized
		}
		http.Error(w, err.Error(), status)
		return
	}
	rv.mu.Lock()
	if rv.capture && rv.first == nil {
		rv.first = q
	}
	rv.mu.Unlock()
	rv.add(rs)
	if acker, ok := parser.(channels.ReceiptAcker); ok {
		acker.AckReceipts(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rv *receiver) add(rs []channels.Receipt) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.got = append(rv.got, rs...)
}

func (rv *receiver) captured() *request {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.first
}

// waitFor waits for a receipt of the message, matched by Herald's id or the vendor's.
func (rv *receiver) waitFor(t *testing.T, messageID, vendorID string, timeout time.Duration) channels.Receipt {
	t.Helper()
	var found channels.Receipt
	require.Eventuallyf(t, func() bool {
		rv.mu.Lock()
		defer rv.mu.Unlock()
		for _, rc := range rv.got {
			if (rc.MessageID != "" && rc.MessageID == messageID) || (rc.VendorID != "" && rc.VendorID == vendorID) {
				found = rc
				return true
			}
		}
		return false
	}, timeout, 5*time.Millisecond, "no receipt for %s (vendor id %s) within %s; %d refused", messageID, vendorID, timeout, rv.refused)
	return found
}
