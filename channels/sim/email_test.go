package sim_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
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
	"github.com/herald-msg/herald/channels/sim"
)

// mailClientTarget is a fake Herald that records the tracking URLs the simulated mail
// client fetches; a click answers 302 to a page the client must not follow.
type mailClientTarget struct {
	URL  string
	mu   sync.Mutex
	hits []string
}

func newMailClientTarget(t *testing.T) *mailClientTarget {
	mt := &mailClientTarget{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt.mu.Lock()
		mt.hits = append(mt.hits, r.URL.Path)
		mt.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/t/c/") {
			http.Redirect(w, r, "/landing", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "image/gif")
		_, _ = w.Write([]byte("GIF89a"))
	}))
	t.Cleanup(srv.Close)
	mt.URL = srv.URL
	return mt
}

func (mt *mailClientTarget) got() []string {
	mt.mu.Lock()
	defer mt.mu.Unlock()
	return slices.Clone(mt.hits)
}

func startSMTPSim(t *testing.T, adjust func(*sim.Config)) *sim.Server {
	t.Helper()
	cfg := sim.Config{SMTPAddr: "127.0.0.1:0", ReceiptDelay: time.Millisecond}
	if adjust != nil {
		adjust(&cfg)
	}
	s := sim.New(cfg)
	require.NoError(t, s.Start())
	t.Cleanup(s.Close)
	require.NotEqual(t, "127.0.0.1:0", s.Config().SMTPAddr, "Config reports the address listened on")
	return s
}

func smtpProvider(t *testing.T, s *sim.Server, user, pass string) *email.Provider {
	t.Helper()
	p, err := email.New(email.Config{Addr: s.Config().SMTPAddr, Username: user, Password: pass, From: "herald@sim.herald.local",
		TLSConfig: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // the simulator's certificate is self-signed
	require.NoError(t, err)
	t.Cleanup(p.Close)
	return p
}

func TestSMTPRequiresTLSAndAuth(t *testing.T) {
	t.Parallel()
	s := startSMTPSim(t, nil)

	c, err := smtp.Dial(s.Config().SMTPAddr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello("client.test"))
	ok, _ := c.Extension("STARTTLS")
	require.True(t, ok, "STARTTLS is offered")
	require.False(t, c.SupportsAuth(sasl.Plain), "AUTH is not offered in clear text")
	err = c.Mail("a@b.example", nil)
	var se *smtp.SMTPError
	require.True(t, errors.As(err, &se), "%v", err)
	require.Equal(t, 530, se.Code, "a submission without AUTH is refused")

	_, err = smtpProvider(t, s, "sim-key", "wrong").Send(context.Background(), []channels.Message{{ID: "m", Address: "a@example.com", Title: "t", Body: "b"}})
	require.ErrorContains(t, err, "535")
	require.Zero(t, s.Stats().Received[channels.Email])
}

func TestSMTPPlaysTheMailClient(t *testing.T) {
	t.Parallel()
	herald := newMailClientTarget(t)
	s := startSMTPSim(t, func(c *sim.Config) { c.Callback = herald.URL; c.DisplayRate, c.ClickRate = 1, 1 })
	p := smtpProvider(t, s, sim.DefaultAccessKeyID, sim.DefaultSecret)
	html := func(id string) string {
		return `<html><body><a href="https://elsewhere.example/">out</a> <a href="` + herald.URL + `/t/c/click-` + id + `">in</a>` +
			`<img src="https://elsewhere.example/logo.png"><img src="` + herald.URL + `/t/o/open-` + id + `.gif"></body></html>`
	}
	res, err := p.Send(context.Background(), []channels.Message{
		{ID: "m-silent", Address: "silent@example.com", Title: "Hi", Body: html("silent"), Extra: map[string]any{"text": "hello"}},
		{ID: "m-fail", Address: "fail@example.com", Title: "Hi", Body: html("fail")},
		{ID: "m-ok", Address: "Ann <ann@example.com>", Title: "Été", Body: html("ok"), Extra: map[string]any{"text": "bonjour"}},
	})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	require.Equal(t, channels.Failed, res[1].Status)
	require.Equal(t, "SMTP RCPT: 550 5.1.1 No such user here", res[1].Reason)
	require.False(t, res[1].Retryable)
	require.Equal(t, channels.Sent, res[2].Status, res[2].Reason)

	got := s.Messages(channels.Email, "ann@example.com")
	require.Len(t, got, 1)
	require.Equal(t, sim.Message{Channel: channels.Email, Address: "ann@example.com", Content: "Été\nbonjour", ReceivedAt: got[0].ReceivedAt,
		VendorID: "m-ok@sim.herald.local", MessageID: "m-ok", Behavior: "deliver"}, got[0])
	require.Equal(t, res[2].VendorID, got[0].VendorID)
	require.Equal(t, "silent", s.Messages(channels.Email, "silent@example.com")[0].Behavior)
	require.Empty(t, s.Messages(channels.Email, "fail@example.com"))
	require.EqualValues(t, 1, s.Stats().Rejected[channels.Email])

	require.Eventually(t, func() bool { return len(herald.got()) >= 2 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return s.Stats().Receipts[channels.Email] == 2 }, 10*time.Second, 5*time.Millisecond)
	// The pixel, then the link; never the link's target, nothing outside Herald, nothing
	// for the silent recipient.
	require.Equal(t, []string{"/t/o/open-ok.gif", "/t/c/click-ok"}, herald.got())
}
