// Package sim is Herald's vendor simulator: it serves the vendor APIs Herald's providers
// speak (Alibaba Cloud SMS, webhook receivers), checks credentials and signatures as the
// vendors do, answers like them (errors and rate limits included), posts receipts back to
// Herald's callbacks and reports what it received. `herald sim` serves it; tests run it
// in-process with httptest.
package sim

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/herald-msg/herald/channels"
)

// Defaults of Config.
const (
	DefaultCallback        = "http://127.0.0.1:8080"
	DefaultAccessKeyID     = "sim-key"
	DefaultSecret          = "sim-secret"
	DefaultReceiptDelay    = 50 * time.Millisecond
	DefaultSlowDelay       = 10 * time.Second
	DefaultRetryBackoff    = 200 * time.Millisecond
	DefaultReceiptAttempts = 6
	DefaultKeepPerAddress  = 100
	DefaultAppID           = "sim-app"
	DefaultTokenLifetime   = 2 * time.Hour
	DefaultMQTTPrefix      = "herald"
)

// Config configures a simulator. Zero fields take the defaults above, which match the
// `sim=` provider setting of HERALD_PROVIDERS.
type Config struct {
	// Callback is Herald's base URL; receipts go to {Callback}/callbacks/{channel}.
	Callback string
	// AccessKeyID is the Alibaba Cloud AccessKey id accepted.
	AccessKeyID string
	// AccessKeySecret is the secret that signatures of AccessKeyID are checked with.
	AccessKeySecret string
	// WebhookSecret keys the signatures of webhook requests and of the receipts posted back.
	WebhookSecret string
	// CallbackToken is the token SMS delivery reports carry as query parameter "token"; it is
	// also the server-configuration Token that WeChat event pushes are signed with.
	CallbackToken string
	// AppID is the app id accepted where a vendor names the account by one (WeChat appid,
	// Getui appId, the RCS chatbot id and OAuth2 client id).
	AppID string
	// TokenLifetime is the expires_in of the access tokens WeChat, DingTalk and the RCS
	// platform hand out, and the lifetime of Getui's auth tokens.
	TokenLifetime time.Duration
	// ReceiptDelay is when an ordinary address's DELIVERED receipt is posted.
	ReceiptDelay time.Duration
	// SlowDelay is when a slow test address's DELIVERED receipt is posted.
	SlowDelay time.Duration
	// FailureRate, from 0 to 1, is the share of requests answered with a transient vendor
	// error (5xx, throttling).
	FailureRate float64
	// UndeliveredRate, from 0 to 1, is the share of accepted messages to ordinary addresses
	// whose final receipt says the message could not be delivered, in each vendor's own
	// failure format and reason code (see undelivered.go). Test addresses keep their fixed
	// behaviour.
	UndeliveredRate float64
	// RateLimit is how many messages per second each vendor accepts; 0 means no limit.
	// Above it the vendor answers with its flow-control error.
	RateLimit int
	// Latency is added before every vendor answer.
	Latency time.Duration
	// AnswerLatency is added after the SMS vendor has taken a request and scheduled its
	// receipts, before it answers: a receipt then reaches Herald before the answer to the
	// request that sent its message, as it can from a real vendor across a slow network.
	AnswerLatency time.Duration
	// DisplayRate and ClickRate, from 0 to 1, are the shares of delivered messages the
	// simulated recipients display, and of displayed ones they click (an email client
	// fetching the open pixel and following one tracked link).
	DisplayRate float64
	ClickRate   float64
	// SMTPAddr is where the simulated SMTP server listens (e.g. 127.0.0.1:2525); empty
	// turns it off. After Start, Config reports the address it listens on.
	SMTPAddr string
	// SMTPListener, when set, is the listener of the SMTP server instead of SMTPAddr (a
	// test that must name the address before the simulator starts).
	SMTPListener net.Listener
	// MQTTBroker is the broker a simulated device fleet connects to (e.g.
	// tcp://127.0.0.1:1883): it takes the messages Herald's MQTT provider publishes under
	// MQTTPrefix and publishes the devices' acknowledgements. Empty turns the fleet off.
	MQTTBroker string
	// MQTTPrefix is the topic prefix of the fleet: messages on <prefix>/push/<device>, acks
	// on <prefix>/ack/<device>; default DefaultMQTTPrefix.
	MQTTPrefix string
	// RetryBackoff is the first pause between attempts to post a receipt; it doubles.
	RetryBackoff time.Duration
	// ReceiptAttempts is how many times a receipt post is tried before it is dropped.
	ReceiptAttempts int
	// KeepPerAddress is how many messages per address /sim/messages remembers.
	KeepPerAddress int
	// HTTPClient posts receipts; default a client with a 10s timeout.
	HTTPClient *http.Client
	// Logger receives the simulator's log; default slog.Default().
	Logger *slog.Logger
}

// Server is a running simulator.
type Server struct {
	cfg    Config
	logger *slog.Logger
	mux    *http.ServeMux
	store  *store
	nonces *nonceCache
	tokens *accessTokens
	limits map[string]*bucket
	ids    idSource
	inject faultSwitch

	sched     *scheduler
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	postSem   chan struct{}
	closeOnce sync.Once
	stops     []func()
}

// New fills cfg's defaults and starts a simulator; Close stops it.
func New(cfg Config) *Server {
	cfg.Callback = strings.TrimSuffix(cmp.Or(cfg.Callback, DefaultCallback), "/")
	cfg.AccessKeyID = cmp.Or(cfg.AccessKeyID, DefaultAccessKeyID)
	cfg.AccessKeySecret = cmp.Or(cfg.AccessKeySecret, DefaultSecret)
	cfg.WebhookSecret = cmp.Or(cfg.WebhookSecret, DefaultSecret)
	cfg.CallbackToken = cmp.Or(cfg.CallbackToken, DefaultSecret)
	cfg.ReceiptDelay = cmp.Or(cfg.ReceiptDelay, DefaultReceiptDelay)
	cfg.SlowDelay = cmp.Or(cfg.SlowDelay, DefaultSlowDelay)
	cfg.RetryBackoff = cmp.Or(cfg.RetryBackoff, DefaultRetryBackoff)
	cfg.ReceiptAttempts = cmp.Or(cfg.ReceiptAttempts, DefaultReceiptAttempts)
	cfg.KeepPerAddress = cmp.Or(cfg.KeepPerAddress, DefaultKeepPerAddress)
	cfg.AppID = cmp.Or(cfg.AppID, DefaultAppID)
	cfg.TokenLifetime = cmp.Or(cfg.TokenLifetime, DefaultTokenLifetime)
	cfg.MQTTPrefix = cmp.Or(cfg.MQTTPrefix, DefaultMQTTPrefix)
	cfg.FailureRate = min(max(cfg.FailureRate, 0), 1)
	cfg.UndeliveredRate = min(max(cfg.UndeliveredRate, 0), 1)
	cfg.DisplayRate = min(max(cfg.DisplayRate, 0), 1)
	cfg.ClickRate = min(max(cfg.ClickRate, 0), 1)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:     cfg,
		logger:  cfg.Logger.With("component", "sim"),
		store:   newStore(cfg.KeepPerAddress),
		nonces:  newNonceCache(),
		tokens:  newAccessTokens(),
		limits:  map[string]*bucket{},
		sched:   newScheduler(),
		ctx:     ctx,
		cancel:  cancel,
		postSem: make(chan struct{}, 16),
	}
	s.mux = http.NewServeMux()
	for _, v := range vendors {
		s.limits[v.name] = newBucket(cfg.RateLimit)
		v.routes(s, s.mux)
	}
	s.mux.HandleFunc("GET /sim/stats", s.handleStats)
	s.mux.HandleFunc("GET /sim/messages", s.handleMessages)
	s.mux.HandleFunc("POST /sim/reset", s.handleReset)
	s.mux.HandleFunc("GET /sim/faults", s.handleFaults)
	s.mux.HandleFunc("POST /sim/faults", s.handleFaults)
	s.mux.HandleFunc("GET /sim/counts", s.handleCounts)
	s.inject.store(Faults{FailureRate: cfg.FailureRate, UndeliveredRate: cfg.UndeliveredRate})
	s.wg.Add(1)
	go s.runReceipts()
	return s
}

// Start starts the vendors that listen beyond the HTTP handler (SMTP, MQTT devices); Close
// stops them. Servers that only serve Handler need not call it.
func (s *Server) Start() error {
	for _, v := range vendors {
		if v.start == nil {
			continue
		}
		stop, err := v.start(s)
		if err != nil {
			s.Close()
			return fmt.Errorf("sim: starting %s: %w", v.name, err)
		}
		s.stops = append(s.stops, stop)
	}
	return nil
}

// Config returns the simulator's configuration with its defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Handler serves every simulated vendor API and the /sim/ endpoints.
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops the pending receipts and waits for receipt posts under way to end.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		for _, stop := range s.stops {
			stop()
		}
		s.cancel()
		s.wg.Wait()
	})
}

// Stats is what the simulator received, per channel; it is the body of GET /sim/stats.
type Stats struct {
	// Received counts accepted messages.
	Received map[channels.Channel]int64 `json:"received"`
	// Addresses counts distinct addresses that accepted messages went to.
	Addresses map[channels.Channel]int64 `json:"addresses"`
	// Repeated counts accepted messages whose (address, content) pair had been received
	// before: duplicate sends.
	Repeated map[channels.Channel]int64 `json:"repeated"`
	// Rejected counts messages refused with a permanent vendor error.
	Rejected map[channels.Channel]int64 `json:"rejected"`
	// Throttled counts requests refused by the rate limit.
	Throttled map[channels.Channel]int64 `json:"throttled"`
	// Faults counts requests answered with an injected transient error.
	Faults map[channels.Channel]int64 `json:"faults"`
	// Receipts counts receipts Herald acknowledged.
	Receipts map[channels.Channel]int64 `json:"receipts"`
	// ReceiptsDropped counts receipts given up after every attempt failed.
	ReceiptsDropped map[channels.Channel]int64 `json:"receipts_dropped"`
	// Undelivered counts accepted messages picked by the undelivered rate, whose final
	// receipt says they could not be delivered.
	Undelivered map[channels.Channel]int64 `json:"undelivered"`
}

// Message is one accepted message as /sim/messages lists it.
type Message struct {
	Channel    channels.Channel `json:"channel"`              // channel of the vendor API that got it
	Address    string           `json:"address"`              // phone number or URL as received
	Content    string           `json:"content"`              // text as the recipient sees it
	ReceivedAt time.Time        `json:"received_at"`          // when the simulator accepted it
	VendorID   string           `json:"vendor_id"`            // id the vendor answered with (BizId, ...)
	MessageID  string           `json:"message_id,omitempty"` // Herald's id when the request carried it
	// Behavior is what the simulator does next: "deliver", "slow", "silent", "undelivered"
	// (picked by the undelivered rate) or, for email, "bounce".
	Behavior string `json:"behavior"`
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats { return s.store.stats() }

// Messages returns the messages an address of ch got, newest first. SMS addresses match on
// their digits (with or without +86), webhook addresses on their URL path.
func (s *Server) Messages(ch channels.Channel, address string) []Message {
	return s.store.messages(ch, addressKey(ch, address))
}

// Reset clears the counters and the remembered messages; pending receipts still fire.
func (s *Server) Reset() { s.store.reset() }

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	ch := channels.Channel(strings.ToUpper(cmp.Or(r.URL.Query().Get("channel"), string(channels.SMS))))
	if !ch.Valid() {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown channel " + string(ch)})
		return
	}
	addr := r.URL.Query().Get("address")
	if addr == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "address is required"})
		return
	}
	msgs := s.Messages(ch, addr)
	if msgs == nil {
		msgs = []Message{}
	}
	writeJSON(w, http.StatusOK, msgs)
}

func (s *Server) handleReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	w.WriteHeader(http.StatusNoContent)
}

// pause adds the configured latency, or less if the client gives up.
func (s *Server) pause(ctx context.Context) {
	if s.cfg.Latency <= 0 {
		return
	}
	t := time.NewTimer(s.cfg.Latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// fault reports whether this request gets an injected transient error.
func (s *Server) fault() bool {
	r := s.inject.load().FailureRate
	return r > 0 && rand.Float64() < r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
