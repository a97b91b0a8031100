// Package email is Herald's EMAIL provider: it submits each message over SMTP (RFC 5321)
// with STARTTLS (RFC 3207) or implicit TLS (RFC 8314, port 465) and AUTH PLAIN or LOGIN
// (RFC 4954), through a bounded pool of reused connections, one transaction per recipient.
// Messages are RFC 5322 multipart/alternative (text and HTML, RFC 2045/2046), with non-ASCII
// headers encoded per RFC 2047. With a tracker, the HTML's links go through Herald's click
// redirect and an open pixel is added (package track). Bounces (RFC 3464 delivery status
// notifications) posted to the provider's callback become FAILED receipts (dsn.go).
//
// Reply codes follow RFC 5321 §4.2 and the enhanced codes of RFC 3463: 2xx accepted (the
// message is SENT; SMTP reports no delivery), 5xx permanent (550 no such user, 553 bad
// mailbox name, 552/554 refused content: FAILED, not retried), 4xx transient (421 service
// closing, 450/451 try later, 452 too many recipients or rate: retried), and a broken or
// refused connection is retried too.
package email

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/track"
)

// Security is how a connection to the SMTP server is protected.
type Security string

// Security modes.
const (
	// StartTLS upgrades a plain connection with STARTTLS and refuses a server that does not
	// offer it (submission, port 587). The default.
	StartTLS Security = "starttls"
	// ImplicitTLS speaks TLS from the first byte (submissions, port 465).
	ImplicitTLS Security = "tls"
	// NoTLS sends in clear text; only allowed to a loopback address (a local relay, tests).
	NoTLS Security = "none"
)

// Defaults of Config.
const (
	DefaultName        = "smtp"
	DefaultPoolSize    = 4
	DefaultTimeout     = 30 * time.Second
	DefaultIdleTimeout = time.Minute
)

// Config configures an SMTP provider.
type Config struct {
	// Name identifies the provider; default "smtp".
	Name string
	// Addr is the SMTP server, host:port; required.
	Addr string
	// Security is "starttls" (default), "tls" or "none" (loopback only).
	Security Security
	// TLSConfig verifies the server (RootCAs, ServerName); default the system roots and the
	// host of Addr.
	TLSConfig *tls.Config
	// Username and Password authenticate with AUTH when Username is set.
	Username string
	Password string
	// AuthMechanism is "PLAIN" (default) or "LOGIN".
	AuthMechanism string
	// From is the sender, "Name <address>" or an address; required.
	From string
	// Domain is the right side of Message-IDs and the EHLO name; default the domain of From.
	Domain string
	// PoolSize bounds the open connections (and the messages in flight); default 4.
	PoolSize int
	// Timeout bounds the connection and each command; default 30s.
	Timeout time.Duration
	// IdleTimeout closes a pooled connection unused for longer; default 1m.
	IdleTimeout time.Duration
	// CallbackToken is the token bounces posted to /callbacks/email/{name} carry as query
	// parameter "token"; empty refuses every bounce post.
	CallbackToken string
	// Tracker, when set, rewrites the HTML's links for click tracking and adds the open
	// pixel; nil sends the HTML as rendered.
	Tracker *track.Tracker
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// Provider sends emails over SMTP.
type Provider struct {
	cfg    Config
	from   *mail.Address
	host   string
	tls    *tls.Config
	logger *slog.Logger
	pool   *pool
}

// New validates cfg, fills its defaults and returns the provider. Errors name the field.
func New(cfg Config) (*Provider, error) {
	cfg.Name = cmp.Or(cfg.Name, DefaultName)
	cfg.Security = cmp.Or(cfg.Security, StartTLS)
	cfg.AuthMechanism = strings.ToUpper(cmp.Or(cfg.AuthMechanism, "PLAIN"))
	cfg.PoolSize = cmp.Or(cfg.PoolSize, DefaultPoolSize)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, DefaultIdleTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("email: addr %q must be host:port", cfg.Addr)
	}
	switch cfg.Security {
	case StartTLS, ImplicitTLS:
	case NoTLS:
		if !isLoopback(host) {
			return nil, fmt.Errorf("email: security %q is only allowed to a loopback address, not %s; use starttls or tls", NoTLS, host)
		}
	default:
		return nil, fmt.Errorf("email: security %q must be starttls, tls or none", cfg.Security)
	}
	if cfg.AuthMechanism != "PLAIN" && cfg.AuthMechanism != "LOGIN" {
		return nil, fmt.Errorf("email: auth_mechanism %q must be PLAIN or LOGIN", cfg.AuthMechanism)
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("email: username is required with a password")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: from %q is not an email address: %w", cfg.From, err)
	}
	if cfg.Domain == "" {
		cfg.Domain = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	}
	if cfg.Domain == "" || strings.ContainsAny(cfg.Domain, " \t\r\n<>@") {
		return nil, fmt.Errorf("email: domain %q is not a domain name", cfg.Domain)
	}
	if cfg.PoolSize < 0 || cfg.Timeout < 0 || cfg.IdleTimeout < 0 {
		return nil, errors.New("email: pool_size, timeout and idle_timeout must not be negative")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	p := &Provider{cfg: cfg, from: from, host: host, tls: tc,
		logger: cfg.Logger.With("component", "email", "provider", cfg.Name)}
	p.pool = newPool(cfg.PoolSize, cfg.IdleTimeout, p.dial)
	return p, nil
}

// Name identifies the provider.
func (p *Provider) Name() string { return p.cfg.Name }

// Channel is EMAIL.
func (p *Provider) Channel() channels.Channel { return channels.Email }

// Close closes the pooled connections (QUIT).
func (p *Provider) Close() { p.pool.close() }

// Send submits each message in its own SMTP transaction, at most PoolSize at a time. It
// returns an error only when no message reached the server (no connection could be made).
func (p *Provider) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	results := make([]channels.Result, len(msgs))
	unreached := make([]bool, len(msgs))
	work := make(chan int)
	var (
		wg      sync.WaitGroup
		downMu  sync.Mutex
		downErr error // once a connection cannot be made, the rest of the batch waits for a retry
	)
	for range min(p.cfg.PoolSize, len(msgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *conn
			for i := range work {
				downMu.Lock()
				down := downErr
				downMu.Unlock()
				if down != nil && c == nil {
					results[i], unreached[i] = failed(msgs[i].ID, "SMTP connection: "+down.Error(), true), true
					continue
				}
				var err error
				results[i], c, err = p.sendOne(ctx, c, msgs[i])
				if err != nil {
					unreached[i] = true
					downMu.Lock()
					downErr = err
					downMu.Unlock()
				}
			}
			if c != nil {
				p.pool.put(c)
			}
		}()
	}
	for i := range msgs {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, u := range unreached {
		if !u {
			return results, nil
		}
	}
	if len(results) == 0 {
		return results, nil
	}
	return nil, fmt.Errorf("email: no message reached the SMTP server: %s", results[0].Reason)
}

// sendOne sends m on c (or a connection from the pool) and returns its result and the
// connection to use next (nil when it broke); err reports that no connection could be made.
func (p *Provider) sendOne(ctx context.Context, c *conn, m channels.Message) (channels.Result, *conn, error) {
	ml, err := p.compose(m)
	if err != nil {
		return failed(m.ID, err.Error(), false), c, nil
	}
	var stage string
	for attempt := 0; ; attempt++ {
		if c == nil {
			if c, err = p.pool.get(ctx); err != nil {
				p.logger.WarnContext(ctx, "SMTP connection failed", "addr", p.cfg.Addr, "error", err)
				return failed(m.ID, "SMTP connection: "+err.Error(), true), nil, err
			}
		}
		stage, err = c.submit(ctx, p.from.Address, ml)
		if err == nil {
			return channels.Result{MessageID: m.ID, VendorID: ml.MessageID, Status: channels.Sent, CostUnits: 1}, c, nil
		}
		if stage != "RSET" || attempt >= p.cfg.PoolSize || ctx.Err() != nil {
			break
		}
		// A pooled connection the server dropped while it was idle: nothing of this message
		// was sent yet, so it goes again on another (the next idle one may be as stale: at
		// most every pooled connection and then a new one are tried).
		c.close()
		p.pool.discard()
		c = nil
	}
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		// The connection broke mid-transaction: whether the server kept the message is
		// unknown, and a retry may duplicate it — the lesser harm than losing it.
		p.logger.WarnContext(ctx, "SMTP connection broke", "message_id", m.ID, "stage", stage, "error", err)
		c.close()
		p.pool.discard()
		return failed(m.ID, fmt.Sprintf("SMTP %s: connection: %v", stage, err), true), nil, nil
	}
	res := failed(m.ID, fmt.Sprintf("SMTP %s: %s", stage, reply(se)), se.Code < 500)
	p.logger.WarnContext(ctx, "SMTP server refused a message", "message_id", m.ID, "stage", stage,
		"to", maskAddress(ml.To), "code", se.Code, "retryable", res.Retryable)
	if se.Code == 421 {
		// 421: the server is closing the connection.
		c.close()
		p.pool.discard()
		return res, nil, nil
	}
	return res, c, nil
}

// compose renders the message for SMTP, with the tracked HTML when a tracker is set.
func (p *Provider) compose(m channels.Message) (Mail, error) {
	to, err := mail.ParseAddress(m.Address)
	if err != nil || strings.ContainsAny(to.Address, "\r\n<>") {
		return Mail{}, errors.New("address is not an email address")
	}
	if strings.ContainsAny(m.ID, "\r\n<>@ ") || m.ID == "" {
		return Mail{}, fmt.Errorf("message id %q cannot be a Message-ID", m.ID)
	}
	text, _ := m.Extra["text"].(string)
	html := m.Body
	if p.cfg.Tracker != nil && html != "" {
		rw, err := p.cfg.Tracker.RewriteHTML(channels.Email, m.ID, html)
		if err != nil {
			return Mail{}, fmt.Errorf("tracking links: %w", err)
		}
		html = rw.HTML
	}
	if text == "" && html == "" {
		return Mail{}, errors.New("the message has neither text nor HTML")
	}
	messageID := m.ID + "@" + p.cfg.Domain
	data, err := Build(Parts{From: p.from, To: &mail.Address{Address: to.Address, Name: to.Name}, Subject: m.Title,
		Text: text, HTML: html, HeraldID: m.ID, MessageID: messageID, Date: p.cfg.NowFunc()})
	if err != nil {
		return Mail{}, err
	}
	return Mail{To: to.Address, MessageID: messageID, Data: data}, nil
}

// dial opens, secures and authenticates one connection.
func (p *Provider) dial(ctx context.Context) (*smtp.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	d := net.Dialer{}
	raw, err := d.DialContext(ctx, "tcp", p.cfg.Addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Now()) })
	defer stop()
	var c *smtp.Client
	switch p.cfg.Security {
	case ImplicitTLS:
		tc := tls.Client(raw, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS: %w", err)
		}
		c = smtp.NewClient(tc)
	case StartTLS:
		if c, err = smtp.NewClientStartTLS(raw, p.tls); err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	default:
		c = smtp.NewClient(raw)
	}
	c.CommandTimeout = p.cfg.Timeout
	c.SubmissionTimeout = 2 * p.cfg.Timeout
	if err := c.Hello(p.cfg.Domain); err != nil {
		c.Close()
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	if p.cfg.Username != "" {
		a := sasl.NewPlainClient("", p.cfg.Username, p.cfg.Password)
		if p.cfg.AuthMechanism == "LOGIN" {
			a = sasl.NewLoginClient(p.cfg.Username, p.cfg.Password)
		}
		if err := c.Auth(a); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH %s: %w", p.cfg.AuthMechanism, err)
		}
	}
	if ctx.Err() != nil {
		c.Close()
		return nil, ctx.Err()
	}
	return c, nil
}

// reply formats an SMTP error as "550 5.1.1 No such user".
func reply(e *smtp.SMTPError) string {
	if e.EnhancedCode != (smtp.EnhancedCode{}) && e.EnhancedCode != smtp.NoEnhancedCode {
		return fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.EnhancedCode[0], e.EnhancedCode[1], e.EnhancedCode[2], e.Message)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Message)
}

func failed(id, reason string, retryable bool) channels.Result {
	return channels.Result{MessageID: id, Status: channels.Failed, Reason: reason, Retryable: retryable}
}

// maskAddress hides the local part of an address for logs: alice@example.com reads
// a****@example.com.
func maskAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "****"
	}
	return addr[:1] + "****" + addr[at:]
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var _ channels.Provider = (*Provider)(nil)
