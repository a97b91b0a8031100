package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/push"
)

func TestValidDeviceID(t *testing.T) {
	for _, id := range []string{"device-1", "a1b2c3", "设备-7", strings.Repeat("x", push.MaxDeviceIDLength)} {
		require.NoError(t, push.ValidDeviceID(id), id)
	}
	for _, id := range []string{"", "a/b", "dev+", "#", "a\x00b", "line\nbreak", "\xff\xfe", strings.Repeat("x", push.MaxDeviceIDLength+1)} {
		require.Error(t, push.ValidDeviceID(id), "%q", id)
	}
}

func TestParseAck(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	at := now.Add(-time.Minute)
	rc, err := push.ParseAck("h", "h/ack/dev-1", []byte(`{"id":"m1","status":"DISPLAYED","at":"`+at.Format(time.RFC3339)+`"}`), now)
	require.NoError(t, err)
	require.Equal(t, channels.Receipt{Channel: channels.AppPush, MessageID: "m1", Address: "dev-1", Status: channels.Displayed, At: at}, rc)

	rc, err = push.ParseAck("h", "h/ack/dev-1", []byte(`{"id":"m1","status":"FAILED"}`), now)
	require.NoError(t, err)
	require.Equal(t, channels.Failed, rc.Status)
	require.NotEmpty(t, rc.Reason, "a FAILED ack always has a reason")
	require.Equal(t, now, rc.At)

	for name, c := range map[string]struct{ topic, payload string }{
		"other prefix":   {"x/ack/dev-1", `{"id":"m1","status":"DELIVERED"}`},
		"push topic":     {"h/push/dev-1", `{"id":"m1","status":"DELIVERED"}`},
		"nested device":  {"h/ack/dev/1", `{"id":"m1","status":"DELIVERED"}`},
		"no id":          {"h/ack/dev-1", `{"status":"DELIVERED"}`},
		"unknown status": {"h/ack/dev-1", `{"id":"m1","status":"READ"}`},
		"sent status":    {"h/ack/dev-1", `{"id":"m1","status":"SENT"}`},
		"not json":       {"h/ack/dev-1", `DELIVERED m1`},
	} {
		_, err := push.ParseAck("h", c.topic, []byte(c.payload), now)
		require.Error(t, err, name)
	}
}

func FuzzParseAck(f *testing.F) {
	f.Add("h/ack/dev-1", []byte(`{"id":"m1","status":"DELIVERED"}`))
	f.Add("h/ack/dev-1", []byte(`{"id":"m1","status":"FAILED","reason":"x"}`))
	f.Add("h/ack/", []byte(`{}`))
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		rc, err := push.ParseAck("h", topic, payload, now)
		if err != nil {
			return
		}
		require.NoError(t, push.ValidDeviceID(rc.Address))
		require.Equal(t, "h/ack/"+rc.Address, topic)
		require.NotEmpty(t, rc.MessageID)
		require.Contains(t, []channels.Status{channels.Delivered, channels.Displayed, channels.Clicked, channels.Failed}, rc.Status)
		require.Equal(t, rc.Status == channels.Failed, rc.Reason != "")
	})
}

func TestMQTTConfigValidation(t *testing.T) {
	cases := map[string]push.MQTTConfig{
		"Broker is required": {},
		"Broker":             {Broker: "http://127.0.0.1:1883"},
		"Prefix":             {Broker: "tcp://127.0.0.1:1883", Prefix: "a/+/b"},
		"Prefix ":            {Broker: "tcp://127.0.0.1:1883", Prefix: "$SYS"},
		"Prefix  ":           {Broker: "tcp://127.0.0.1:1883", Prefix: "a/"},
		"AckGroup":           {Broker: "tcp://127.0.0.1:1883", AckGroup: "a/b"},
		"ClientID":           {Broker: "tcp://127.0.0.1:1883", ClientID: "a#"},
	}
	for want, c := range cases {
		_, err := push.NewMQTT(c)
		require.ErrorContains(t, err, strings.TrimSpace(want))
	}
	_, err := push.NewMQTT(push.MQTTConfig{Broker: "tcp://127.0.0.1:1883"})
	require.NoError(t, err)
}

// observer is a plain MQTT client of the test: it reads what devices would get and
// publishes what devices would acknowledge.
func observer(t *testing.T, broker string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("herald-test-observer-" + strings.ReplaceAll(t.Name(), "/", "-")).SetCleanSession(true))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// listen runs ListenReceipts until the test ends and returns the receipts it delivered.
func listen(t *testing.T, p *push.MQTT, fail func(n int) error) <-chan channels.Receipt {
	t.Helper()
	out := make(chan channels.Receipt, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	calls := 0
	go func() {
		defer close(done)
		_ = p.ListenReceipts(ctx, func(rs []channels.Receipt) error {
			calls++
			if fail != nil {
				if err := fail(calls); err != nil {
					return err
				}
			}
			for _, rc := range rs {
				out <- rc
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return out
}

func TestMQTTPublishesPayloadAndDeliversAcks(t *testing.T) {
	broker, prefix := testBroker(), testPrefix(t)
	obs := observer(t, broker)
	got := make(chan mqtt.Message, 10)
	tok := obs.Subscribe(push.PushTopic(prefix, "+"), 1, func(_ mqtt.Client, m mqtt.Message) { got <- m })
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())

	sentAt := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	p, err := push.NewMQTT(push.MQTTConfig{Broker: broker, Prefix: prefix, NowFunc: func() time.Time { return sentAt }})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	failOnce := func(n int) error {
		if n == 1 {
			return errors.New("database busy")
		}
		return nil
	}
	receipts := listen(t, p, failOnce)

	msgs := []channels.Message{
		{ID: "m1", Channel: channels.AppPush, Address: "dev-1", Title: "Parcel", Body: "On its way", Extra: map[string]any{"payload": map[string]any{"orderId": "42"}}},
		{ID: "m2", Channel: channels.AppPush, Address: "dev/2", Title: "t", Body: "b"},
	}
	res := send(t, p, msgs...)
	require.Equal(t, channels.Result{MessageID: "m1", Status: channels.Sent, CostUnits: 1}, res[0])
	require.Equal(t, channels.Failed, res[1].Status)
	require.False(t, res[1].Retryable, "an invalid device id is refused for good")

	select {
	case m := <-got:
		require.Equal(t, push.PushTopic(prefix, "dev-1"), m.Topic())
		require.EqualValues(t, 1, m.Qos())
		var dp push.DevicePush
		require.NoError(t, json.Unmarshal(m.Payload(), &dp))
		require.Equal(t, push.DevicePush{ID: "m1", Title: "Parcel", Body: "On its way", Extra: map[string]any{"payload": map[string]any{"orderId": "42"}}, SentAt: sentAt}, dp)
	case <-time.After(10 * time.Second):
		t.Fatal("the device got nothing")
	}

	pub := func(device, payload string) {
		tok := obs.Publish(push.AckTopic(prefix, device), 1, false, payload)
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())
	}
	pub("dev-1", `not json`) // dropped
	pub("dev-1", `{"id":"m1","status":"DELIVERED"}`)
	pub("dev-1", `{"id":"m1","status":"CLICKED"}`)
	var statuses []channels.Status
	for len(statuses) < 2 {
		select {
		case rc := <-receipts:
			require.Equal(t, "m1", rc.MessageID)
			require.Equal(t, "dev-1", rc.Address)
			require.Equal(t, "mqtt", rc.Provider)
			statuses = append(statuses, rc.Status)
		case <-time.After(10 * time.Second):
			t.Fatalf("receipts so far: %v", statuses)
		}
	}
	require.ElementsMatch(t, []channels.Status{channels.Delivered, channels.Clicked}, statuses, "the ack refused once by deliver came again")
}

func TestMQTTBrokerUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	p, err := push.NewMQTT(push.MQTTConfig{Broker: "tcp://" + addr, Prefix: testPrefix(t), ConnectTimeout: 2 * time.Second})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	_, err = p.Send(context.Background(), []channels.Message{{ID: "m1", Address: "dev-1", Body: "b"}})
	require.ErrorContains(t, err, "connecting to tcp://"+addr, "the whole batch is retried")
}

// proxy forwards TCP connections to the broker; cut drops them and stops listening, as a
// broker that went away.
type proxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	l      net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	p.start("127.0.0.1:0")
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) start(addr string) {
	l, err := net.Listen("tcp", addr)
	require.NoError(p.t, err)
	p.mu.Lock()
	p.l, p.addr = l, l.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); b.Close() }()
			go func() { _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestMQTTBrokerDisconnect(t *testing.T) {
	u, err := url.Parse(testBroker())
	require.NoError(t, err)
	px := newProxy(t, u.Host)
	prefix := testPrefix(t)
	p, err := push.NewMQTT(push.MQTTConfig{Broker: "tcp://" + px.addr, Prefix: prefix, ConnectTimeout: 2 * time.Second, PublishTimeout: 2 * time.Second})
	require.NoError(t, err)
	t.Cleanup(p.Close)
	msg := func(id string) []channels.Message {
		return []channels.Message{{ID: id, Address: "dev-1", Body: "b"}}
	}
	res, err := p.Send(context.Background(), msg("m1"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status)

	px.cut()
	res, err = p.Send(context.Background(), msg("m2"))
	if err == nil { // the loss may surface on the publish rather than on a new connection
		require.Equal(t, channels.Failed, res[0].Status)
		require.True(t, res[0].Retryable, res[0].Reason)
	}

	px.start(px.addr) // the broker is back: the next Send reconnects
	require.Eventually(t, func() bool {
		res, err := p.Send(context.Background(), msg("m3"))
		return err == nil && res[0].Status == channels.Sent
	}, 20*time.Second, 50*time.Millisecond)
}
