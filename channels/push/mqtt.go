package push

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/herald-msg/herald/channels"
)

// Defaults of MQTTConfig.
const (
	DefaultMQTTPrefix         = "herald"
	DefaultMQTTAckGroup       = "herald"
	DefaultMQTTConnectTimeout = 10 * time.Second
	DefaultMQTTPublishTimeout = 10 * time.Second
	DefaultMQTTAckBuffer      = 1024
	// MaxDeviceIDLength bounds a device id, the last level of its topics.
	MaxDeviceIDLength = 128
	// mqttAckBatch is the most acknowledgements handed to deliver at once.
	mqttAckBatch = 100
)

// MQTTConfig configures an MQTT provider.
type MQTTConfig struct {
	// Name identifies the provider; default "mqtt".
	Name string
	// Broker is the broker's URL: tcp://, ssl:// (or tls://, mqtts://), ws:// or wss://.
	Broker string
	// Prefix is the first level(s) of the topics: messages go to <Prefix>/push/<device id>,
	// devices acknowledge on <Prefix>/ack/<device id>; default "herald".
	Prefix string
	// ClientID is the MQTT client id; default "herald-<name>-" and random hex. Every Herald
	// process needs its own.
	ClientID string
	// Username and Password authenticate to the broker, when it asks.
	Username string
	Password string
	// TLSConfig is used for ssl:// and wss:// brokers; nil takes Go's defaults.
	TLSConfig *tls.Config
	// PersistentSession keeps the broker session of ClientID across reconnects, so that
	// acknowledgements published while Herald was away are delivered when it returns. It
	// needs a ClientID that stays the same across restarts.
	PersistentSession bool
	// AckGroup names the shared subscription ($share/<group>/<prefix>/ack/+) through which
	// Herald's processes split the acknowledgements between them; default "herald".
	AckGroup string
	// ConnectTimeout bounds a connection attempt; default 10s.
	ConnectTimeout time.Duration
	// PublishTimeout bounds the wait for the broker's PUBACK of a batch; default 10s.
	PublishTimeout time.Duration
	// AckBuffer is how many acknowledgements wait for ListenReceipts; default 1024. The
	// broker holds back further ones until these are delivered.
	AckBuffer int
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// MQTT publishes APP_PUSH messages to devices connected to an MQTT broker that the
// enterprise runs itself: each message QoS 1 to <prefix>/push/<device id>, where the
// address is the device id. Devices acknowledge on <prefix>/ack/<device id>; MQTT is a
// ReceiptListener that hands those acknowledgements to Herald.
type MQTT struct {
	cfg    MQTTConfig
	logger *slog.Logger
	filter string // the shared subscription to acknowledgements

	mu     sync.Mutex
	client mqtt.Client

	acks      chan ackItem
	closed    chan struct{}
	closeOnce sync.Once
}

// DevicePush is the JSON payload a device receives on <prefix>/push/<device id>.
type DevicePush struct {
	ID     string         `json:"id"` // Herald's message id: devices drop an id they have seen
	Title  string         `json:"title,omitempty"`
	Body   string         `json:"body"`
	Extra  map[string]any `json:"extra,omitempty"` // the variant's payload, clickAction, url, intent
	SentAt time.Time      `json:"sent_at"`
}

// DeviceAck is the JSON payload a device publishes on <prefix>/ack/<device id>.
type DeviceAck struct {
	ID     string          `json:"id"`               // the id of the DevicePush
	Status channels.Status `json:"status"`           // DELIVERED, DISPLAYED, CLICKED or FAILED
	Reason string          `json:"reason,omitempty"` // why, for FAILED
	At     time.Time       `json:"at,omitzero"`      // when it happened on the device
}

// ackItem is a parsed acknowledgement waiting for ListenReceipts, with the MQTT message to
// acknowledge to the broker once Herald has it.
type ackItem struct {
	receipt channels.Receipt
	msg     mqtt.Message
}

// PushTopic is the topic messages for device go to.
func PushTopic(prefix, device string) string { return prefix + "/push/" + device }

// AckTopic is the topic device acknowledges on.
func AckTopic(prefix, device string) string { return prefix + "/ack/" + device }

// ValidDeviceID reports why id cannot be a device id: it must be one topic level of at most
// MaxDeviceIDLength bytes of UTF-8 without the wildcards + and #, a slash or control
// characters.
func ValidDeviceID(id string) error {
	switch {
	case id == "":
		return errors.New("the device id is empty")
	case len(id) > MaxDeviceIDLength:
		return fmt.Errorf("the device id is %d bytes; at most %d", len(id), MaxDeviceIDLength)
	case !utf8.ValidString(id):
		return errors.New("the device id is not UTF-8")
	case strings.ContainsAny(id, "+#/"):
		return errors.New("the device id contains +, # or /, which MQTT topics reserve")
	case strings.ContainsFunc(id, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return errors.New("the device id contains control characters")
	}
	return nil
}

// validPrefix reports why prefix cannot start Herald's topics.
func validPrefix(prefix string) error {
	switch {
	case prefix == "":
		return errors.New("is empty")
	case strings.ContainsAny(prefix, "+#\x00"):
		return errors.New("contains a wildcard (+ or #) or NUL")
	case strings.HasPrefix(prefix, "$"):
		return errors.New("starts with $, which brokers reserve")
	case strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") || strings.Contains(prefix, "//"):
		return errors.New("has an empty topic level")
	case !utf8.ValidString(prefix):
		return errors.New("is not UTF-8")
	}
	return nil
}

// NewMQTT validates cfg, fills its defaults and returns the provider. It connects on first
// use (Send or ListenReceipts); Close disconnects.
func NewMQTT(cfg MQTTConfig) (*MQTT, error) {
	cfg.Name = cmp.Or(cfg.Name, "mqtt")
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultMQTTPrefix)
	cfg.AckGroup = cmp.Or(cfg.AckGroup, DefaultMQTTAckGroup)
	cfg.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, DefaultMQTTConnectTimeout)
	cfg.PublishTimeout = cmp.Or(cfg.PublishTimeout, DefaultMQTTPublishTimeout)
	cfg.AckBuffer = cmp.Or(cfg.AckBuffer, DefaultMQTTAckBuffer)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.ClientID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.ClientID = "herald-" + cfg.Name + "-" + hex.EncodeToString(b[:])
	}
	if cfg.Broker == "" {
		return nil, errors.New("mqtt: Broker is required, as in tcp://127.0.0.1:1883")
	}
	u, err := url.Parse(cfg.Broker)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("mqtt: Broker %q is not a URL such as tcp://127.0.0.1:1883", cfg.Broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return nil, fmt.Errorf("mqtt: Broker scheme %q is not tcp, ssl, tls, mqtt, mqtts, ws or wss", u.Scheme)
	}
	if err := validPrefix(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("mqtt: Prefix %q %w", cfg.Prefix, err)
	}
	if strings.ContainsAny(cfg.AckGroup, "+#/") {
		return nil, fmt.Errorf("mqtt: AckGroup %q contains +, # or /", cfg.AckGroup)
	}
	if len(cfg.ClientID) > 65535 || strings.ContainsAny(cfg.ClientID, "+#/") {
		return nil, fmt.Errorf("mqtt: ClientID %q contains +, # or /", cfg.ClientID)
	}
	if cfg.AckBuffer < 0 || cfg.ConnectTimeout < 0 || cfg.PublishTimeout < 0 {
		return nil, errors.New("mqtt: AckBuffer, ConnectTimeout and PublishTimeout must not be negative")
	}
	return &MQTT{
		cfg:    cfg,
		logger: cfg.Logger.With("component", "push.mqtt", "provider", cfg.Name),
		filter: "$share/" + cfg.AckGroup + "/" + AckTopic(cfg.Prefix, "+"),
		acks:   make(chan ackItem, cfg.AckBuffer),
		closed: make(chan struct{}),
	}, nil
}

// Name identifies the provider.
func (p *MQTT) Name() string { return p.cfg.Name }

// Channel is APP_PUSH.
func (p *MQTT) Channel() channels.Channel { return channels.AppPush }

// Close disconnects from the broker; acknowledgements not yet delivered stay with the
// broker when the session is persistent.
func (p *MQTT) Close() {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.client != nil {
			p.client.Disconnect(250)
			p.client = nil
		}
	})
}

// brokerName is the broker's URL without credentials, for errors and logs.
func (p *MQTT) brokerName() string {
	if u, err := url.Parse(p.cfg.Broker); err == nil {
		u.User = nil
		return u.String()
	}
	return "the broker"
}

// connect returns the connected client, connecting (and subscribing to the
// acknowledgements before anything is published) when there is none.
func (p *MQTT) connect(ctx context.Context) (mqtt.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		return nil, errors.New("mqtt: provider closed")
	default:
	}
	if p.client != nil {
		if p.client.IsConnectionOpen() {
			return p.client, nil
		}
		p.client.Disconnect(0) // a lost connection: release the old client before a new one
		p.client = nil
	}
	opts := mqtt.NewClientOptions().
		AddBroker(p.cfg.Broker).
		SetClientID(p.cfg.ClientID).
		SetCleanSession(!p.cfg.PersistentSession).
		SetAutoReconnect(false). // Send reconnects; a publish never waits for a reconnect that may not come
		SetConnectRetry(false).
		SetOrderMatters(false).
		SetAutoAckDisabled(true). // acknowledgements are PUBACKed once Herald has them
		SetConnectTimeout(p.cfg.ConnectTimeout).
		SetWriteTimeout(p.cfg.PublishTimeout).
		SetKeepAlive(30 * time.Second).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			p.logger.Warn("mqtt connection lost", "broker", p.brokerName(), "error", err)
		})
	if p.cfg.Username != "" {
		opts.SetUsername(p.cfg.Username).SetPassword(p.cfg.Password)
	}
	if p.cfg.TLSConfig != nil {
		opts.SetTLSConfig(p.cfg.TLSConfig)
	}
	c := mqtt.NewClient(opts)
	if err := wait(ctx, c.Connect(), p.cfg.ConnectTimeout); err != nil {
		return nil, fmt.Errorf("mqtt: connecting to %s: %w", p.brokerName(), err)
	}
	sub := c.Subscribe(p.filter, 1, p.onAck)
	if err := wait(ctx, sub, p.cfg.ConnectTimeout); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("mqtt: subscribing to %s: %w", p.filter, err)
	}
	if st, ok := sub.(*mqtt.SubscribeToken); ok && st.Result()[p.filter] >= 0x80 {
		c.Disconnect(0)
		return nil, fmt.Errorf("mqtt: the broker refused the subscription %s (check its ACL)", p.filter)
	}
	p.client = c
	return c, nil
}

// wait waits for tok, at most timeout and no longer than ctx.
func wait(ctx context.Context, tok mqtt.Token, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("no answer from the broker within %s", timeout)
	}
}

// Send publishes each message QoS 1 to its device's topic and waits for the broker's
// PUBACKs. A message the broker took is SENT; the device's acknowledgement follows as a
// receipt. An invalid device id fails permanently; a broker that cannot be reached or
// drops the connection fails the message retryably (Send returns an error when no message
// reached the broker).
func (p *MQTT) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	results := make([]channels.Result, len(msgs))
	var valid []int
	for i, m := range msgs {
		if err := ValidDeviceID(m.Address); err != nil {
			results[i] = channels.Permanent(m.ID, err.Error())
			continue
		}
		if strings.TrimSpace(m.Body) == "" {
			results[i] = channels.Permanent(m.ID, "empty body")
			continue
		}
		valid = append(valid, i)
	}
	if len(valid) == 0 {
		return results, nil
	}
	c, err := p.connect(ctx)
	if err != nil {
		p.logger.WarnContext(ctx, "mqtt connect failed", "broker", p.brokerName(), "error", err)
		if len(valid) == len(msgs) {
			return nil, err
		}
		for _, i := range valid {
			results[i] = channels.Retryable(msgs[i].ID, err.Error())
		}
		return results, nil
	}
	now := p.cfg.NowFunc().UTC()
	tokens := make([]mqtt.Token, len(msgs))
	for _, i := range valid {
		m := msgs[i]
		payload, err := json.Marshal(DevicePush{ID: m.ID, Title: m.Title, Body: m.Body, Extra: m.Extra, SentAt: now})
		if err != nil {
			results[i] = channels.Permanent(m.ID, "payload: "+err.Error())
			continue
		}
		tokens[i] = c.Publish(PushTopic(p.cfg.Prefix, m.Address), 1, false, payload)
	}
	deadline := time.Now().Add(p.cfg.PublishTimeout)
	failed := 0
	var lastErr error
	for _, i := range valid {
		if tokens[i] == nil {
			continue
		}
		if err := wait(ctx, tokens[i], max(time.Until(deadline), time.Millisecond)); err != nil {
			failed++
			lastErr = err
			results[i] = channels.Retryable(msgs[i].ID, "publish: "+err.Error())
			p.logger.WarnContext(ctx, "mqtt publish failed", "message_id", msgs[i].ID, "device", channels.MaskID(msgs[i].Address), "error", err)
			continue
		}
		results[i] = channels.Result{MessageID: msgs[i].ID, Status: channels.Sent, CostUnits: 1}
	}
	if failed == len(msgs) {
		return nil, fmt.Errorf("mqtt: no message reached %s: %w", p.brokerName(), lastErr)
	}
	return results, nil
}

// onAck parses an acknowledgement and queues it for ListenReceipts; a malformed one is
// logged and dropped (PUBACKed, so the broker does not send it again).
func (p *MQTT) onAck(_ mqtt.Client, msg mqtt.Message) {
	rc, err := ParseAck(p.cfg.Prefix, msg.Topic(), msg.Payload(), p.cfg.NowFunc())
	if err != nil {
		p.logger.Warn("mqtt acknowledgement dropped", "error", err)
		msg.Ack()
		return
	}
	rc.Provider = p.cfg.Name
	select {
	case p.acks <- ackItem{receipt: rc, msg: msg}:
	case <-p.closed:
	}
}

// ParseAck parses an acknowledgement published on topic under prefix. The device id comes
// from the topic (the broker's ACL decides who may publish there); the payload is a
// DeviceAck. now stamps acknowledgements that carry no time.
func ParseAck(prefix, topic string, payload []byte, now time.Time) (channels.Receipt, error) {
	device, ok := strings.CutPrefix(topic, prefix+"/ack/")
	if !ok {
		return channels.Receipt{}, fmt.Errorf("mqtt ack: topic %q is not under %s/ack/", topic, prefix)
	}
	if err := ValidDeviceID(device); err != nil {
		return channels.Receipt{}, fmt.Errorf("mqtt ack: %w", err)
	}
	var ack DeviceAck
	if err := json.Unmarshal(payload, &ack); err != nil {
		return channels.Receipt{}, fmt.Errorf("mqtt ack from %s: %w", channels.MaskID(device), err)
	}
	if ack.ID == "" || len(ack.ID) > 128 || !utf8.ValidString(ack.ID) {
		return channels.Receipt{}, fmt.Errorf("mqtt ack from %s: id must be Herald's message id", channels.MaskID(device))
	}
	switch ack.Status {
	case channels.Delivered, channels.Displayed, channels.Clicked:
		ack.Reason = ""
	case channels.Failed:
		ack.Reason = strings.TrimSpace(ack.Reason)
		if ack.Reason == "" {
			ack.Reason = "the device reported a failure"
		}
		if len(ack.Reason) > 500 {
			ack.Reason = strings.ToValidUTF8(ack.Reason[:500], "")
		}
	default:
		return channels.Receipt{}, fmt.Errorf("mqtt ack from %s: status %q is not DELIVERED, DISPLAYED, CLICKED or FAILED", channels.MaskID(device), ack.Status)
	}
	at := ack.At
	if at.IsZero() {
		at = now
	}
	return channels.Receipt{Channel: channels.AppPush, MessageID: ack.ID, Address: device, Status: ack.Status, Reason: ack.Reason, At: at}, nil
}

// ListenReceipts connects (when Send has not yet) and hands the devices' acknowledgements to
// deliver in batches, PUBACKing them to the broker once deliver accepted them; a failing
// deliver is retried with backoff. While the connection is down it reconnects every few
// seconds. It returns when ctx ends.
func (p *MQTT) ListenReceipts(ctx context.Context, deliver func([]channels.Receipt) error) error {
	reconnect := time.NewTicker(5 * time.Second)
	defer reconnect.Stop()
	if _, err := p.connect(ctx); err != nil && ctx.Err() == nil {
		p.logger.Warn("mqtt connect failed; retrying", "broker", p.brokerName(), "error", err)
	}
	for {
		var first ackItem
		select {
		case <-ctx.Done():
			return nil
		case <-p.closed:
			return nil
		case <-reconnect.C:
			if _, err := p.connect(ctx); err != nil && ctx.Err() == nil {
				p.logger.Warn("mqtt connect failed; retrying", "broker", p.brokerName(), "error", err)
			}
			continue
		case first = <-p.acks:
		}
		batch := []ackItem{first}
	drain:
		for len(batch) < mqttAckBatch {
			select {
			case it := <-p.acks:
				batch = append(batch, it)
			default:
				break drain
			}
		}
		rs := make([]channels.Receipt, len(batch))
		for i, it := range batch {
			rs[i] = it.receipt
		}
		if !p.deliver(ctx, deliver, rs) {
			return nil
		}
		for _, it := range batch {
			it.msg.Ack()
		}
	}
}

// deliver calls deliver until it succeeds; false when ctx ended first.
func (p *MQTT) deliver(ctx context.Context, deliver func([]channels.Receipt) error, rs []channels.Receipt) bool {
	backoff := 100 * time.Millisecond
	for {
		err := deliver(rs)
		if err == nil {
			return true
		}
		p.logger.Warn("mqtt receipts not taken; retrying", "receipts", len(rs), "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

var (
	_ channels.Provider        = (*MQTT)(nil)
	_ channels.ReceiptListener = (*MQTT)(nil)
)
