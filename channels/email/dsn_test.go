package email_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/email"
	"github.com/herald-msg/herald/channels/sim"
)

// dsn is a bounce shaped like the example of RFC 3464 appendix, as Postfix words it.
func dsn(action, status, originalHeaders string) string {
	return strings.ReplaceAll(`From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)
To: news@shop.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="B1.1700000000/mx.shop.example"

--B1.1700000000/mx.shop.example
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.shop.example.

--B1.1700000000/mx.shop.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.shop.example
Arrival-Date: Fri, 27 Nov 2026 10:00:00 +0000 (UTC)

Final-Recipient: rfc822; alice@example.com
Original-Recipient: rfc822;alice@example.com
Action: `+action+`
Status: `+status+`
Remote-MTA: dns; mx.example.com
Diagnostic-Code: smtp; 550 5.1.1 <alice@example.com>: Recipient address rejected

--B1.1700000000/mx.shop.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

`+originalHeaders+`
--B1.1700000000/mx.shop.example--
`, "\n", "\r\n")
}

const heraldHeaders = "From: news@shop.example\nTo: alice@example.com\nSubject: Hi\nMessage-ID: <20261127-1-0-EMAIL@shop.example>\nX-Herald-Message-Id: 20261127-1-0-EMAIL\n"

func bounceProvider(t *testing.T) *email.Provider {
	t.Helper()
	p, err := email.New(email.Config{Name: "mail", Addr: "smtp.shop.example:587", From: "news@shop.example", CallbackToken: "t0ken",
		NowFunc: func() time.Time { return time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC) }})
	require.NoError(t, err)
	return p
}

func post(token, body string) *http.Request {
	return httptest.NewRequest(http.MethodPost, "/callbacks/email/mail?token="+token, strings.NewReader(body))
}

func TestParseBounces(t *testing.T) {
	t.Parallel()
	p := bounceProvider(t)
	rs, err := p.ParseReceipts(post("t0ken", dsn("failed", "5.1.1", heraldHeaders)))
	require.NoError(t, err)
	require.Equal(t, []channels.Receipt{{Channel: channels.Email, Provider: "mail", MessageID: "20261127-1-0-EMAIL",
		VendorID: "20261127-1-0-EMAIL@shop.example", Address: "alice@example.com", Status: channels.Failed,
		Reason: "5.1.1 smtp; 550 5.1.1 <alice@example.com>: Recipient address rejected", At: time.Date(2026, 11, 27, 10, 5, 0, 0, time.UTC)}}, rs)

	// Without X-Herald-Message-Id, a Message-ID of the provider's domain names the message.
	rs, err = p.ParseReceipts(post("t0ken", dsn("failed", "4.4.7", "Message-ID: <m-9@shop.example>\n")))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, "m-9", rs[0].MessageID)
	require.Equal(t, "4.4.7 smtp; 550 5.1.1 <alice@example.com>: Recipient address rejected", rs[0].Reason, "a failed action is final whatever its class")

	rs, err = p.ParseReceipts(post("t0ken", dsn("delayed", "4.4.1", heraldHeaders)))
	require.NoError(t, err)
	require.Empty(t, rs, "a delay says nothing final")
	rs, err = p.ParseReceipts(post("t0ken", dsn("delivered", "2.0.0", heraldHeaders)))
	require.NoError(t, err)
	require.Equal(t, channels.Delivered, rs[0].Status)
}

func TestBounceVerificationAndMalformed(t *testing.T) {
	t.Parallel()
	p := bounceProvider(t)
	genuine := dsn("failed", "5.1.1", heraldHeaders)
	for name, r := range map[string]*http.Request{
		"wrong token": post("forged", genuine),
		"no token":    httptest.NewRequest(http.MethodPost, "/callbacks/email/mail", strings.NewReader(genuine)),
	} {
		_, err := p.ParseReceipts(r)
		require.ErrorIs(t, err, channels.ErrUnverified, name)
	}
	unconfigured, err := email.New(email.Config{Addr: "smtp.shop.example:587", From: "news@shop.example"})
	require.NoError(t, err)
	_, err = unconfigured.ParseReceipts(post("", genuine))
	require.ErrorIs(t, err, channels.ErrUnverified, "without a callback token every post is refused")

	for name, body := range map[string]string{
		"not a report":        "Subject: hi\r\n\r\nhello",
		"no status part":      strings.Replace(genuine, "message/delivery-status", "text/plain", 1),
		"no original":         strings.Replace(genuine, "text/rfc822-headers", "text/plain", 1),
		"another domain":      dsn("failed", "5.1.1", "Message-ID: <m-9@elsewhere.example>\n"),
		"no recipient fields": strings.Replace(genuine, "Final-Recipient", "X-Recipient", 1),
	} {
		_, err := p.ParseReceipts(post("t0ken", body))
		require.Error(t, err, name)
		require.False(t, errors.Is(err, channels.ErrUnverified), name)
	}
}

// The simulator accepts a "bounce" address, then posts the bounce to the provider's
// callback, which turns it into a FAILED receipt.
func TestSimulatorBounce(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got []channels.Receipt
		p   *email.Provider
	)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callbacks/email/smtp" {
			http.NotFound(w, r)
			return
		}
		rs, err := p.ParseReceipts(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, rs...)
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(cb.Close)
	s := sim.New(sim.Config{SMTPAddr: "127.0.0.1:0", Callback: cb.URL, ReceiptDelay: time.Millisecond})
	require.NoError(t, s.Start())
	t.Cleanup(s.Close)
	var err error
	p, err = email.New(email.Config{Addr: s.Config().SMTPAddr, TLSConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed simulator
		Username: sim.DefaultAccessKeyID, Password: sim.DefaultSecret, From: "herald@sim.herald.local", CallbackToken: sim.DefaultSecret})
	require.NoError(t, err)
	t.Cleanup(p.Close)

	res, err := p.Send(context.Background(), []channels.Message{{ID: "m-b", Address: "carol-bounce@example.com", Title: "Hi", Body: "<p>hi</p>"}})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, "accepted first")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, channels.Receipt{Channel: channels.Email, Provider: "smtp", MessageID: "m-b", VendorID: "m-b@sim.herald.local",
		Address: "carol-bounce@example.com", Status: channels.Failed, At: got[0].At,
		Reason: "5.1.1 smtp; 550 5.1.1 The email account that you tried to reach does not exist"}, got[0])
	require.Equal(t, "bounce", s.Messages(channels.Email, "carol-bounce@example.com")[0].Behavior)
}

func FuzzParseDSN(f *testing.F) {
	f.Add(dsn("failed", "5.1.1", heraldHeaders))
	f.Add(dsn("delayed", "4.4.1", "Message-ID: <a@b>\n"))
	f.Add("Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\n\r\n\r\n--x--\r\n")
	f.Fuzz(func(t *testing.T, raw string) {
		reports, err := email.ParseDSN([]byte(raw))
		if err != nil {
			require.Nil(t, reports)
			return
		}
		require.NotEmpty(t, reports)
		for _, r := range reports {
			require.NotEmpty(t, r.Recipient)
			require.NotEmpty(t, r.Action)
			require.True(t, r.MessageID != "" || r.HeraldID != "")
		}
	})
}
