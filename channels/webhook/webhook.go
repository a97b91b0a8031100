// Package webhook is Herald's WEBHOOK provider: it POSTs each message as signed JSON to the
// address URL and parses the signed receipts receivers post back to /callbacks/webhook.
package webhook

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/netguard"
)

// Headers of a signed request, both ways.
const (
	HeaderTimestamp = "X-Herald-Timestamp"
	HeaderMessageID = "X-Herald-Message-Id"
	HeaderSignature = "X-Herald-Signature"
)

// MaxSkew is how far a receipt's timestamp may be from Herald's clock.
const MaxSkew = 5 * time.Minute

// Defaults of Config.
const (
	DefaultConcurrency = 16
	DefaultTimeout     = 10 * time.Second
)

// Sign returns the X-Herald-Signature value of body sent at unix second ts:
// "sha256=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports, in constant time, whether signature is Sign(secret, ts, body).
func Verify(secret string, ts int64, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature))
}

// Payload is the JSON body Herald posts for one message.
type Payload struct {
	ID     string    `json:"id"`      // Herald's message id
	AppID  int64     `json:"app_id"`  // app that sent the message
	Title  string    `json:"title"`   // rendered title
	Body   string    `json:"body"`    // rendered body
	Data   any       `json:"data"`    // Extra["payload"] when set, else the whole Extra
	SentAt time.Time `json:"sent_at"` // when Herald posted it, RFC 3339
}

// CallbackReceipt is one receipt a receiver posts back.
type CallbackReceipt struct {
	MessageID string          `json:"message_id"`       // id of the Payload the receipt is about
	Status    channels.Status `json:"status"`           // DELIVERED, DISPLAYED, CLICKED or FAILED
	Reason    string          `json:"reason,omitempty"` // why, for FAILED
	At        time.Time       `json:"at"`               // when it happened, RFC 3339; now if absent
}

// Callback is the JSON body of POST /callbacks/webhook.
type Callback struct {
	Receipts []CallbackReceipt `json:"receipts"` // one or more receipts
}

// Config configures a webhook provider.
type Config struct {
	// Name identifies the provider; default "webhook".
	Name string
	// Secret keys the signatures of requests and receipts; required.
	Secret string
	// HTTPClient sends the requests; redirects are never followed. Default http.Client{}.
	HTTPClient *http.Client
	// Timeout bounds each request; default 10s.
	Timeout time.Duration
	// Concurrency bounds the requests of one batch in flight; default 16.
	Concurrency int
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// Provider posts messages to webhook URLs.
type Provider struct {
	cfg    Config
	client *http.Client
	logger *slog.Logger
}

// New validates cfg, fills its defaults and returns the provider.
func New(cfg Config) (*Provider, error) {
	cfg.Name = cmp.Or(cfg.Name, "webhook")
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Secret == "" {
		return nil, errors.New("webhook: secret is required")
	}
	if cfg.Concurrency < 0 || cfg.Timeout < 0 {
		return nil, errors.New("webhook: concurrency and timeout must not be negative")
	}
	client := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		client = &c
	}
	// A redirected POST would turn into a GET elsewhere; a receiver that moved answers 3xx
	// and the message fails visibly instead.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Provider{cfg: cfg, client: client, logger: cfg.Logger.With("component", "webhook", "provider", cfg.Name)}, nil
}

// Name identifies the provider.
func (p *Provider) Name() string { return p.cfg.Name }

// Channel is WEBHOOK.
func (p *Provider) Channel() channels.Channel { return channels.Webhook }

// Send posts each message to its address, at most Concurrency at a time. It returns an error
// only when no request reached a receiver.
func (p *Provider) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	return channels.SendEach(ctx, "webhook", msgs, p.cfg.Concurrency, p.sendOne)
}

func (p *Provider) sendOne(ctx context.Context, m channels.Message) (channels.Result, bool) {
	u, err := url.Parse(m.Address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return failed(m.ID, "address is not an http(s) URL", false), false
	}
	var data any = m.Extra
	if payload, ok := m.Extra["payload"]; ok {
		data = payload
	}
	now := p.cfg.NowFunc()
	body, err := json.Marshal(Payload{ID: m.ID, AppID: m.AppID, Title: m.Title, Body: m.Body, Data: data, SentAt: now.UTC()})
	if err != nil {
		return failed(m.ID, "encoding payload: "+err.Error(), false), false
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return failed(m.ID, err.Error(), false), false
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Herald-Webhook/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderMessageID, m.ID)
	req.Header.Set(HeaderSignature, Sign(p.cfg.Secret, ts, body))
	resp, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, netguard.ErrBlocked) {
			p.logger.WarnContext(ctx, "webhook to an internal address refused", "message_id", m.ID, "host", u.Host)
			return failed(m.ID, "address not allowed: the URL leads to an internal network address", false), false
		}
		p.logger.WarnContext(ctx, "webhook request failed", "message_id", m.ID, "host", u.Host, "error", err)
		return failed(m.ID, "transport: "+err.Error(), true), true
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	res := mapStatus(m.ID, resp.StatusCode)
	if res.Status == channels.Failed {
		p.logger.WarnContext(ctx, "webhook rejected", "message_id", m.ID, "host", u.Host,
			"http_status", resp.StatusCode, "retryable", res.Retryable)
	}
	return res, false
}

// mapStatus turns a receiver's HTTP status into a Result: 200, 201 and 204 mean delivered,
// 202 accepted with a receipt to follow, 408, 429 and 5xx may pass later, anything else is
// final.
func mapStatus(id string, status int) channels.Result {
	switch {
	case status == http.StatusAccepted:
		return channels.Result{MessageID: id, Status: channels.Sent, CostUnits: 1}
	case status >= 200 && status < 300:
		return channels.Result{MessageID: id, Status: channels.Delivered, CostUnits: 1}
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		return failed(id, fmt.Sprintf("HTTP %d", status), true)
	default:
		return failed(id, fmt.Sprintf("HTTP %d", status), false)
	}
}

// ParseReceipts verifies the signature and timestamp of a receipt post and parses it.
func (p *Provider) ParseReceipts(r *http.Request) ([]channels.Receipt, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("webhook receipt: reading body: %w", err)
	}
	ts, err := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("webhook receipt: %w: missing or malformed %s", channels.ErrUnverified, HeaderTimestamp)
	}
	now := p.cfg.NowFunc()
	if skew := now.Sub(time.Unix(ts, 0)).Abs(); skew > MaxSkew {
		return nil, fmt.Errorf("webhook receipt: %w: timestamp %s off", channels.ErrUnverified, skew.Round(time.Second))
	}
	if !Verify(p.cfg.Secret, ts, body, r.Header.Get(HeaderSignature)) {
		return nil, fmt.Errorf("webhook receipt: %w: signature mismatch", channels.ErrUnverified)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("webhook receipt: method %s, want POST", r.Method)
	}
	var cb Callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, fmt.Errorf("webhook receipt: decoding body: %w", err)
	}
	out := make([]channels.Receipt, 0, len(cb.Receipts))
	for i, rc := range cb.Receipts {
		switch rc.Status {
		case channels.Delivered, channels.Displayed, channels.Clicked, channels.Failed:
		default:
			return nil, fmt.Errorf("webhook receipt: receipts[%d].status %q is not DELIVERED, DISPLAYED, CLICKED or FAILED", i, rc.Status)
		}
		if rc.MessageID == "" {
			return nil, fmt.Errorf("webhook receipt: receipts[%d].message_id is empty", i)
		}
		at := rc.At
		if at.IsZero() {
			at = now
		}
		out = append(out, channels.Receipt{
			Channel:   channels.Webhook,
			Provider:  p.cfg.Name,
			MessageID: rc.MessageID,
			Status:    rc.Status,
			Reason:    rc.Reason,
			At:        at,
		})
	}
	return out, nil
}

func failed(id, reason string, retryable bool) channels.Result {
	return channels.Result{MessageID: id, Status: channels.Failed, Reason: reason, Retryable: retryable}
}

var (
	_ channels.Provider      = (*Provider)(nil)
	_ channels.ReceiptParser = (*Provider)(nil)
)
