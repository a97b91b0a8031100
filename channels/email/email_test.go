package email_test

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
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/email"
	"github.com/herald-msg/herald/track"
)

// testServer is an SMTP server that records what it gets and answers as scripted.
type testServer struct {
	addr  string
	roots *x509.CertPool

	mu        sync.Mutex
	sessions  int // connections, however many sessions STARTTLS made on them
	open      int
	maxOpen   int
	resets    int
	mechs     []string
	users     []string
	delivered []delivered
	rcptErr   map[string]*smtp.SMTPError
	conns     []*smtp.Conn
}

type delivered struct {
	from, to string
	data     []byte
}

type serverOpts struct {
	noTLS       bool // offers no STARTTLS
	implicitTLS bool // TLS from the first byte
	insecure    bool // AUTH allowed without TLS
}

func startServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	cert, roots := testCert(t)
	ts := &testServer{roots: roots, rcptErr: map[string]*smtp.SMTPError{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		// STARTTLS starts a new session on the same connection: count connections.
		if !slices.Contains(ts.conns, c) {
			ts.sessions++
			ts.conns = append(ts.conns, c)
		}
		ts.open++
		ts.maxOpen = max(ts.maxOpen, ts.open)
		return &testSession{ts: ts}, nil
	}))
	srv.Domain = "mx.test"
	srv.AllowInsecureAuth = o.insecure
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if !o.noTLS {
		srv.TLSConfig = tlsCfg
	}
	var ln net.Listener
	var err error
	if o.implicitTLS {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	ts.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ts
}

// dropIdle closes every connection from the server side, as a server does with idle ones.
func (ts *testServer) dropIdle() {
	ts.mu.Lock()
	conns := ts.conns
	ts.conns = nil
	ts.mu.Unlock()
	for _, c := range conns {
		_ = c.Close() // Logout takes ts.mu
	}
}

// counters is a snapshot of what the server counted.
type counters struct{ sessions, maxOpen, resets int }

func (ts *testServer) counts() counters {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return counters{ts.sessions, ts.maxOpen, ts.resets}
}

func (ts *testServer) got() []delivered {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]delivered(nil), ts.delivered...)
}

type testSession struct {
	ts     *testServer
	authed bool
	from   string
	to     string
}

func (s *testSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != "herald" || pass != "s3cret" {
			return smtp.ErrAuthFailed
		}
		s.ts.mu.Lock()
		s.ts.mechs = append(s.ts.mechs, mech)
		s.ts.users = append(s.ts.users, user)
		s.ts.mu.Unlock()
		s.authed = true
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return newLoginServer(check), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	if e := s.ts.rcptErr[to]; e != nil {
		return e
	}
	s.to = to
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.delivered = append(s.ts.delivered, delivered{from: s.from, to: s.to, data: b})
	return nil
}

func (s *testSession) Reset() {
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.resets++
	s.from, s.to = "", ""
}

func (s *testSession) Logout() error {
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	s.ts.open--
	return nil
}

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login): it asks for
// the username, then the password.
type loginServer struct {
	check      func(user, pass string) error
	user       string
	step       int
	doneNoResp bool
}

func newLoginServer(check func(user, pass string) error) sasl.Server {
	return &loginServer{check: check}
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if response != nil {
			l.user = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(response)
		l.step++
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}

func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func newProvider(t *testing.T, ts *testServer, adjust func(*email.Config)) *email.Provider {
	t.Helper()
	cfg := email.Config{
		Addr: ts.addr, TLSConfig: &tls.Config{RootCAs: ts.roots},
		Username: "herald", Password: "s3cret", From: "Shop Ünïcode <news@shop.example>",
		NowFunc: func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) },
	}
	if adjust != nil {
		adjust(&cfg)
	}
	p, err := email.New(cfg)
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

func msg(id, to string) channels.Message {
	return channels.Message{ID: id, AppID: 1, Channel: channels.Email, Address: to, Title: "Votre commande est prête",
		Body:  `<html><body><p>Bonjour &amp; bienvenue</p><a href="https://shop.example/o/1">commande</a> <a href="mailto:help@shop.example">aide</a></body></html>`,
		Extra: map[string]any{"text": "Bonjour & bienvenue\nhttps://shop.example/o/1"}}
}

func send(t *testing.T, p *email.Provider, msgs ...channels.Message) []channels.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := p.Send(ctx, msgs)
	require.NoError(t, err)
	require.Len(t, res, len(msgs))
	return res
}

// parsed is a received message taken apart.
type parsed struct {
	header      mail.Header
	subject     string
	text, html  string
	contentType string
}

func parse(t *testing.T, data []byte) parsed {
	t.Helper()
	require.NotContains(t, strings.ReplaceAll(string(data), "\r\n", ""), "\n", "every line ends with CRLF")
	m, err := mail.ReadMessage(strings.NewReader(string(data)))
	require.NoError(t, err)
	var p parsed
	p.header = m.Header
	p.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	require.NoError(t, err)
	p.contentType = mt
	require.Equal(t, "multipart/alternative", mt)
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(part)
		require.NoError(t, err)
		switch strings.Split(part.Header.Get("Content-Type"), ";")[0] {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	return p
}

func TestSendBuildsAMultipartMessage(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	p := newProvider(t, ts, nil)
	res := send(t, p, msg("20261127-1-0-EMAIL", "Alice <alice@example.com>"))
	require.Equal(t, channels.Result{MessageID: "20261127-1-0-EMAIL", VendorID: "20261127-1-0-EMAIL@shop.example",
		Status: channels.Sent, CostUnits: 1}, res[0])

	got := ts.got()
	require.Len(t, got, 1)
	require.Equal(t, "news@shop.example", got[0].from)
	require.Equal(t, "alice@example.com", got[0].to)
	m := parse(t, got[0].data)
	require.Equal(t, "Votre commande est prête", m.subject)
	require.True(t, strings.HasPrefix(m.header.Get("Subject"), "=?utf-8?q?"), "non-ASCII subject is RFC 2047 encoded")
	from, err := m.header.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, []*mail.Address{{Name: "Shop Ünïcode", Address: "news@shop.example"}}, from)
	to, err := m.header.AddressList("To")
	require.NoError(t, err)
	require.Equal(t, "alice@example.com", to[0].Address)
	require.Equal(t, "<20261127-1-0-EMAIL@shop.example>", m.header.Get("Message-Id"))
	require.Equal(t, "20261127-1-0-EMAIL", m.header.Get(email.HeaderMessageID))
	date, err := m.header.Date()
	require.NoError(t, err)
	require.True(t, date.Equal(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)))
	require.Equal(t, "Bonjour & bienvenue\r\nhttps://shop.example/o/1", m.text)
	require.Contains(t, m.html, `<a href="https://shop.example/o/1">`, "without a tracker links are untouched")
	ts.mu.Lock()
	mechs := ts.mechs
	ts.mu.Unlock()
	require.Equal(t, []string{"PLAIN"}, mechs)
}

func TestTrackedLinksAndPixel(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	tr, err := track.NewTracker([]byte("0123456789abcdef0123456789abcdef"), "https://herald.example")
	require.NoError(t, err)
	p := newProvider(t, ts, func(c *email.Config) { c.Tracker = tr })
	send(t, p, msg("m-1", "alice@example.com"))
	m := parse(t, ts.got()[0].data)
	require.NotContains(t, m.html, `href="https://shop.example/o/1"`)
	require.Contains(t, m.html, `<a href="mailto:help@shop.example">`, "mailto untouched")
	_, after, ok := strings.Cut(m.html, `<a href="https://herald.example/t/c/`)
	require.True(t, ok, m.html)
	tok, err := tr.Parse(after[:strings.IndexByte(after, '"')])
	require.NoError(t, err)
	require.Equal(t, track.Token{Kind: track.Click, Channel: channels.Email, MessageID: "m-1", URL: "https://shop.example/o/1"}, tok)
	require.Contains(t, m.html, `<img src="https://herald.example/t/o/`)
	require.Less(t, strings.Index(m.html, "<img"), strings.Index(m.html, "</body>"))
}

func TestRecipientErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	ts.rcptErr["nobody@example.com"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	ts.rcptErr["bad@example.com"] = &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad mailbox"}
	ts.rcptErr["full@example.com"] = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
	ts.rcptErr["later@example.com"] = &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "Greylisted"}
	p := newProvider(t, ts, func(c *email.Config) { c.PoolSize = 1 })
	res := send(t, p, msg("a", "nobody@example.com"), msg("b", "bad@example.com"), msg("c", "full@example.com"),
		msg("d", "later@example.com"), msg("e", "not an address"), msg("f", "ok@example.com"))
	for i, want := range []struct {
		retryable bool
		reason    string
	}{
		{false, "SMTP RCPT: 550 5.1.1 No such user"},
		{false, "SMTP RCPT: 553 5.1.3 Bad mailbox"},
		{true, "SMTP RCPT: 452 4.2.2 Mailbox full"},
		{true, "SMTP RCPT: 450 4.2.0 Greylisted"},
		{false, "address is not an email address"},
	} {
		require.Equal(t, channels.Failed, res[i].Status, i)
		require.Equal(t, want.retryable, res[i].Retryable, i)
		require.Equal(t, want.reason, res[i].Reason, i)
	}
	require.Equal(t, channels.Sent, res[5].Status, "a good address after refused ones on the same connection: %s", res[5].Reason)
	require.Len(t, ts.got(), 1)
	n := ts.counts()
	require.Equal(t, 1, n.sessions, "refusals keep the connection")
	require.GreaterOrEqual(t, n.resets, 4, "RSET between transactions")
}

func TestPoolReusesBoundedConnections(t *testing.T) {
	t.Parallel()
	ts := startServer(t, serverOpts{})
	p := newProvider(t, ts, func(c *email.Config) { c.PoolSize = 3 })
	var msgs []channels.Message
	for i := range 30 {
		msgs = append(msgs, msg(fmt.Sprintf("m%d", i), fmt.Sprintf("u%d@example.com", i)))
	}
	for _, r := range send(t, p, msgs...) {
		require.Equal(t, channels.Sent, r.Status, r.Reason)
	}
	for _, r := range send(t, p, msgs[:5]...) {
		require.Equal(t, channels.Sent, r.Status, r.Reason)
	}
	require.Len(t, ts.got(), 35)
	n := ts.counts()
	require.LessOrEqual(t, n.sessions, 3, "at most PoolSize connections, reused across batches: %+v", n)
	require.LessOrEqual(t, n.maxOpen, 3)

	// The server drops idle connections; the next batch reconnects by itself.
	ts.dropIdle()
	for _, r := range send(t, p, msgs[:4]...) {
		require.Equal(t, channels.Sent, r.Status, r.Reason)
	}
	require.Len(t, ts.got(), 39)
}

func TestSecurityAndAuth(t *testing.T) {
	t.Parallel()
	t.Run("STARTTLS is required", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{noTLS: true, insecure: true})
		p := newProvider(t, ts, nil)
		_, err := p.Send(context.Background(), []channels.Message{msg("m", "a@example.com")})
		require.ErrorContains(t, err, "STARTTLS")
		require.Empty(t, ts.got(), "nothing is sent in clear text")
	})
	t.Run("an untrusted certificate is refused", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{})
		p := newProvider(t, ts, func(c *email.Config) { c.TLSConfig = nil })
		_, err := p.Send(context.Background(), []channels.Message{msg("m", "a@example.com")})
		require.ErrorContains(t, err, "certificate")
		require.Empty(t, ts.got())
	})
	t.Run("plain text to loopback when configured off", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{noTLS: true, insecure: true})
		p := newProvider(t, ts, func(c *email.Config) { c.Security = email.NoTLS })
		require.Equal(t, channels.Sent, send(t, p, msg("m", "a@example.com"))[0].Status)
	})
	t.Run("implicit TLS and AUTH LOGIN", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{implicitTLS: true, noTLS: true})
		p := newProvider(t, ts, func(c *email.Config) { c.Security = email.ImplicitTLS; c.AuthMechanism = "login" })
		require.Equal(t, channels.Sent, send(t, p, msg("m", "a@example.com"))[0].Status)
		ts.mu.Lock()
		mechs := ts.mechs
		ts.mu.Unlock()
		require.Equal(t, []string{"LOGIN"}, mechs)
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, serverOpts{})
		p := newProvider(t, ts, func(c *email.Config) { c.Password = "wrong" })
		_, err := p.Send(context.Background(), []channels.Message{msg("m", "a@example.com")})
		require.ErrorContains(t, err, "535")
	})
	t.Run("server down", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		p, err := email.New(email.Config{Addr: addr, From: "a@b.example"})
		require.NoError(t, err)
		res, err := p.Send(context.Background(), []channels.Message{msg("m1", "a@example.com"), msg("m2", "b@example.com")})
		require.Error(t, err, "no message reached the server")
		require.Nil(t, res)
	})
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg   email.Config
		field string
	}{
		{email.Config{From: "a@b.example"}, "addr"},
		{email.Config{Addr: "mail.example.com", From: "a@b.example"}, "addr"},
		{email.Config{Addr: "mail.example.com:587"}, "from"},
		{email.Config{Addr: "mail.example.com:587", From: "not an address"}, "from"},
		{email.Config{Addr: "mail.example.com:25", From: "a@b.example", Security: email.NoTLS}, "security"},
		{email.Config{Addr: "mail.example.com:25", From: "a@b.example", Security: "ssl3"}, "security"},
		{email.Config{Addr: "mail.example.com:25", From: "a@b.example", AuthMechanism: "CRAM-MD5"}, "auth_mechanism"},
		{email.Config{Addr: "mail.example.com:25", From: "a@b.example", Password: "x"}, "username"},
		{email.Config{Addr: "mail.example.com:25", From: "a@b.example", Domain: "a b"}, "domain"},
	} {
		_, err := email.New(c.cfg)
		require.ErrorContains(t, err, c.field, "%+v", c.cfg)
	}
	_, err := email.New(email.Config{Addr: "127.0.0.1:25", From: "a@b.example", Security: email.NoTLS})
	require.NoError(t, err, "clear text to loopback is allowed")
}

func TestBuildSingleTextPartAndHeaderInjection(t *testing.T) {
	t.Parallel()
	from := &mail.Address{Address: "a@b.example"}
	data, err := email.Build(email.Parts{From: from, To: &mail.Address{Address: "c@d.example"}, Subject: "Hi\r\nBcc: victim@example.com",
		Text:     "line one\nline two with a very long tail that goes past seventy-six characters so it needs soft line breaks",
		HeraldID: "m", MessageID: "m@b.example", Date: time.Unix(0, 0)})
	require.NoError(t, err)
	m, err := mail.ReadMessage(strings.NewReader(string(data)))
	require.NoError(t, err)
	require.Empty(t, m.Header.Get("Bcc"), "a newline in the subject cannot add a header")
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "Hi\r\nBcc: victim@example.com", subject)
	require.Equal(t, "text/plain; charset=utf-8", m.Header.Get("Content-Type"))
	for _, line := range strings.Split(string(data), "\r\n") {
		require.LessOrEqual(t, len(line), 78, "line %q", line)
	}
	_, err = email.Build(email.Parts{From: from, To: from, HeraldID: "m\r\nX: y", MessageID: "m@b", Date: time.Unix(0, 0)})
	require.Error(t, err)
}
