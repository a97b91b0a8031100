package sim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	xhtml "golang.org/x/net/html"

	"github.com/herald-msg/herald/channels"
)

// vendorSMTP is the simulated SMTP submission server; the sim-smtp= provider is named after it.
const vendorSMTP = "smtp"

// maxEmailBytes is the largest message the simulated server takes (SIZE).
const maxEmailBytes = 10 << 20

func init() {
	registerVendor(vendor{
		name:    vendorSMTP,
		channel: channels.Email,
		routes:  func(*Server, *http.ServeMux) {},
		start:   (*Server).startSMTP,
	})
}

// SMTP replies of the simulated server, as submission servers word them (RFC 5321, RFC 3463).
var (
	smtpAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	smtpNoSuchUser   = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	smtpBadMailbox   = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Mailbox name not allowed"}
	smtpLocalError   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary local problem, try again later"}
	smtpRateLimited  = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many messages, try again later; closing connection"}
	smtpBadMessage   = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message is not RFC 5322 email"}
)

// smtpSim is the running SMTP server: it accepts submissions (STARTTLS, then AUTH PLAIN with
// the access key and secret), records them, and plays the recipient's mail client, which
// fetches the open pixel and follows one tracked link at DisplayRate and ClickRate.
type smtpSim struct {
	s      *Server
	srv    *smtp.Server
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// startSMTP listens on SMTPAddr (or SMTPListener) when one is set.
func (s *Server) startSMTP() (func(), error) {
	if s.cfg.SMTPAddr == "" && s.cfg.SMTPListener == nil {
		return func() {}, nil
	}
	cert, err := selfSignedCert()
	if err != nil {
		return nil, fmt.Errorf("making the STARTTLS certificate: %w", err)
	}
	ln := s.cfg.SMTPListener
	if ln == nil {
		if ln, err = net.Listen("tcp", s.cfg.SMTPAddr); err != nil {
			return nil, err
		}
	}
	s.cfg.SMTPAddr = ln.Addr().String()
	client := *s.cfg.HTTPClient
	// A mail client follows the click's redirect in a browser; the simulator stops at
	// Herald's 302 and never fetches the target.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ctx, cancel := context.WithCancel(s.ctx)
	m := &smtpSim{s: s, client: &client, ctx: ctx, cancel: cancel}
	srv := smtp.NewServer(smtp.BackendFunc(m.newSession))
	srv.Domain = "smtp.sim.herald.local"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = maxEmailBytes
	srv.MaxRecipients = 50
	srv.ErrorLog = smtpLog{s}
	m.srv = srv
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			s.logger.Error("SMTP server stopped", "error", err)
		}
	}()
	s.logger.Info("SMTP server listening", "addr", s.cfg.SMTPAddr)
	return m.stop, nil
}

func (m *smtpSim) stop() {
	_ = m.srv.Close()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// later runs f after delay unless the server stops first.
func (m *smtpSim) later(delay time.Duration, f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			f()
		case <-m.ctx.Done():
		}
	}()
}

func (m *smtpSim) newSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{m: m}, nil
}

// smtpSession is one client connection.
type smtpSession struct {
	m      *smtpSim
	authed bool
	from   string
	to     string
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	cfg := ss.m.s.cfg
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if (identity != "" && identity != username) || username != cfg.AccessKeyID || password != cfg.AccessKeySecret {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s := ss.m.s
	s.pause(ss.m.ctx)
	if !ss.authed {
		return smtpAuthRequired
	}
	if s.fault() {
		s.store.add(faults, channels.Email, 1)
		return smtpLocalError
	}
	if !s.admit(vendorSMTP, 1) {
		s.store.add(throttled, channels.Email, 1)
		return smtpRateLimited
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.to != "" {
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "One recipient per message"}
	}
	if _, err := mail.ParseAddress(to); err != nil {
		return smtpBadMailbox
	}
	if addressBehavior(to) == reject {
		ss.m.s.store.add(rejected, channels.Email, 1)
		return smtpNoSuchUser
	}
	ss.to = to
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	m := ss.m
	msg, err := mail.ReadMessage(r)
	if err != nil {
		_, _ = io.Copy(io.Discard, r)
		return smtpBadMessage
	}
	parsed, err := parseEmail(msg)
	_, _ = io.Copy(io.Discard, r)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: err.Error()}
	}
	b := addressBehavior(ss.to)
	behaviour := b.String()
	bounce := b == deliver && strings.Contains(strings.ToLower(ss.to), "bounce")
	status, diagnostic := bounceNoSuchUser, bounceNoSuchUserDiagnostic
	if bounce {
		behaviour = "bounce"
	} else if b == deliver && m.s.undelivered(channels.Email, parsed.messageID+"/"+ss.to) {
		bounce, status, diagnostic = true, undelivDSNStatus, undelivDSNDiagnostic
		behaviour = behaviorName(b, true)
	}
	m.s.store.record(Message{
		Channel: channels.Email, Address: ss.to, Content: parsed.subject + "\n" + parsed.text, ReceivedAt: time.Now(),
		VendorID: parsed.messageID, MessageID: parsed.heraldID, Behavior: behaviour,
	})
	if bounce {
		// Accepted now, refused by the recipient's server later: a bounce goes back.
		dsn := bounceDSN(ss.from, ss.to, msg.Header, status, diagnostic)
		m.later(m.s.cfg.ReceiptDelay, func() {
			m.s.post(channels.Email, 1, func() (*http.Request, error) {
				u := m.s.callbackURL(channels.Email, vendorSMTP) + "?token=" + url.QueryEscape(m.s.cfg.CallbackToken)
				req, err := http.NewRequestWithContext(m.s.ctx, http.MethodPost, u, strings.NewReader(dsn))
				if err != nil {
					return nil, err
				}
				req.Header.Set("Content-Type", "message/rfc822")
				return req, nil
			})
		})
		return nil
	}
	if b != silent {
		delay := m.s.cfg.ReceiptDelay
		if b == slow {
			delay = m.s.cfg.SlowDelay
		}
		m.engage(delay, parsed.html)
	}
	return nil
}

func (ss *smtpSession) Reset() { ss.from, ss.to = "", "" }

func (ss *smtpSession) Logout() error { return nil }

// engage plays the recipient: after delay, at DisplayRate it loads the open pixel, and then
// at ClickRate it follows the first tracked link. Only Herald's own tracking URLs (under
// Callback) are fetched, never a link's target.
func (m *smtpSim) engage(delay time.Duration, html string) {
	cfg := m.s.cfg
	if html == "" || cfg.DisplayRate <= 0 || mrand.Float64() >= cfg.DisplayRate {
		return
	}
	pixel, link := trackingURLs(html, cfg.Callback)
	if pixel == "" {
		return
	}
	click := link != "" && cfg.ClickRate > 0 && mrand.Float64() < cfg.ClickRate
	m.later(delay, func() {
		if !m.fetch(pixel) || !click {
			return
		}
		m.fetch(link)
	})
}

// fetch GETs a tracking URL as a mail client would, retrying while Herald is down; it
// counts the answer as a receipt Herald acknowledged.
func (m *smtpSim) fetch(u string) bool {
	backoff := m.s.cfg.RetryBackoff
	var lastErr error
	for attempt := 1; attempt <= m.s.cfg.ReceiptAttempts; attempt++ {
		if lastErr = m.get(u); lastErr == nil {
			m.s.store.add(receiptsPosted, channels.Email, 1)
			return true
		}
		if attempt == m.s.cfg.ReceiptAttempts {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-m.ctx.Done():
			t.Stop()
			return false
		}
		backoff *= 2
	}
	m.s.store.add(receiptsDropped, channels.Email, 1)
	m.s.logger.Error("tracking fetch dropped", "error", lastErr)
	return false
}

func (m *smtpSim) get(u string) error {
	req, err := http.NewRequestWithContext(m.ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "HeraldSim-Mail/1")
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode >= 400 {
		return fmt.Errorf("tracking URL answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// The DSN of the bounce test address: the mailbox does not exist.
const (
	bounceNoSuchUser           = "5.1.1"
	bounceNoSuchUserDiagnostic = "smtp; 550 5.1.1 The email account that you tried to reach does not exist"
)

// bounceDSN is the delivery status notification (RFC 3464) a mail system returns to the
// sender when the recipient's server refuses a message it had accepted, with the DSN status
// code and the remote server's diagnostic.
func bounceDSN(from, to string, original mail.Header, status, diagnostic string) string {
	const host = "smtp.sim.herald.local"
	boundary := fmt.Sprintf("dsn-%d", time.Now().UnixNano())
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	line("From: Mail Delivery System <MAILER-DAEMON@%s>", host)
	line("To: <%s>", from)
	line("Subject: Undelivered Mail Returned to Sender")
	line("Date: %s", time.Now().Format(time.RFC1123Z))
	line("Message-ID: <%s@%s>", boundary, host)
	line("MIME-Version: 1.0")
	line(`Content-Type: multipart/report; report-type=delivery-status; boundary="%s"`, boundary)
	line("")
	line("--%s", boundary)
	line("Content-Type: text/plain; charset=us-ascii")
	line("")
	line("This is the mail system at host %s. Your message could not be delivered to <%s>.", host, to)
	line("--%s", boundary)
	line("Content-Type: message/delivery-status")
	line("")
	line("Reporting-MTA: dns; %s", host)
	line("")
	line("Final-Recipient: rfc822; %s", to)
	line("Original-Recipient: rfc822; %s", to)
	line("Action: failed")
	line("Status: %s", status)
	line("Remote-MTA: dns; mx.example.com")
	line("Diagnostic-Code: %s", diagnostic)
	line("")
	line("--%s", boundary)
	line("Content-Type: text/rfc822-headers")
	line("")
	for _, k := range []string{"From", "To", "Subject", "Date", "Message-Id", "X-Herald-Message-Id"} {
		if v := original.Get(k); v != "" {
			line("%s: %s", k, v)
		}
	}
	line("")
	line("--%s--", boundary)
	return b.String()
}

// trackingURLs finds the open pixel (an <img> under {base}/t/o/) and the first tracked link
// (an <a> under {base}/t/c/) of an HTML body.
func trackingURLs(html, base string) (pixel, link string) {
	z := xhtml.NewTokenizer(strings.NewReader(html))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			return pixel, link
		}
		if tt != xhtml.StartTagToken && tt != xhtml.SelfClosingTagToken {
			continue
		}
		t := z.Token()
		for _, a := range t.Attr {
			switch {
			case t.Data == "img" && a.Key == "src" && pixel == "" && strings.HasPrefix(a.Val, base+"/t/o/"):
				pixel = a.Val
			case t.Data == "a" && a.Key == "href" && link == "" && strings.HasPrefix(a.Val, base+"/t/c/"):
				link = a.Val
			}
		}
	}
}

// parsedEmail is what the simulator reads of a submitted message.
type parsedEmail struct {
	subject, text, html string
	messageID, heraldID string
}

// parseEmail decodes the headers and the text and HTML parts of a message.
func parseEmail(msg *mail.Message) (parsedEmail, error) {
	var p parsedEmail
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return p, fmt.Errorf("Subject: %v", err)
	}
	p.subject = subject
	p.messageID = strings.Trim(strings.TrimSpace(msg.Header.Get("Message-Id")), "<>")
	p.heraldID = strings.TrimSpace(msg.Header.Get("X-Herald-Message-Id"))
	if msg.Header.Get("From") == "" || p.messageID == "" {
		return p, errors.New("From and Message-ID are required")
	}
	if err := readPart(&p, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0); err != nil {
		return p, err
	}
	return p, nil
}

// readPart reads a text part into p, descending into multipart bodies.
func readPart(p *parsedEmail, contentType, cte string, body io.Reader, depth int) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("Content-Type: %v", err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth > 3 {
			return errors.New("multipart nested too deep")
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart() // decodes quoted-printable parts itself
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %v", err)
			}
			if err := readPart(p, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part, depth+1); err != nil {
				return err
			}
		}
	}
	if strings.EqualFold(cte, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(io.LimitReader(body, maxEmailBytes))
	if err != nil {
		return fmt.Errorf("body: %v", err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch mt {
	case "text/plain":
		if p.text == "" {
			p.text = text
		}
	case "text/html":
		if p.html == "" {
			p.html = text
		}
	}
	return nil
}

// selfSignedCert makes the certificate the simulated server offers with STARTTLS.
func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "smtp.sim.herald.local"},
		DNSNames:     []string{"localhost", "smtp.sim.herald.local"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// smtpLog sends the SMTP server's own errors to the simulator's log.
type smtpLog struct{ s *Server }

// Printf logs one formatted line.
func (l smtpLog) Printf(format string, v ...any) {
	l.s.logger.Warn("smtp: " + fmt.Sprintf(format, v...))
}

// Println logs its arguments.
func (l smtpLog) Println(v ...any) { l.s.logger.Warn("smtp: " + fmt.Sprint(v...)) }
