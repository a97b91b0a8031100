package webhook_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/webhook"
)

// FuzzWebhookReceipts posts arbitrary receipt bodies, correctly signed and not. A signed
// body is parsed into receipts of a known status and a message id, or refused as malformed
// (never as unverified); the same body with a wrong signature, or a timestamp outside the
// window, is always refused as unverified; nothing panics.
func FuzzWebhookReceipts(f *testing.F) {
	for _, seed := range []string{
		`{"receipts":[{"message_id":"20260501-0000001-00000-S","status":"DELIVERED","at":"2026-05-01T10:00:00Z"}]}`,
		`{"receipts":[{"message_id":"m","status":"CLICKED"},{"message_id":"m2","status":"FAILED","reason":"unsubscribed"}]}`,
		`{"receipts":[{"message_id":"","status":"DELIVERED"}]}`,
		`{"receipts":[{"message_id":"m","status":"SENT"}]}`,
		`{"receipts":null}`,
		`{"receipts":[{"message_id":"m","status":"DELIVERED","at":"not a time"}]}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed), int64(0))
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, skewSeconds int64) {
		p, err := webhook.New(webhook.Config{Secret: secret, NowFunc: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		post := func(ts int64, sig string) ([]channels.Receipt, error) {
			req := httptest.NewRequest(http.MethodPost, "/callbacks/webhook", bytes.NewReader(body))
			req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
			req.Header.Set(webhook.HeaderSignature, sig)
			return p.ParseReceipts(req)
		}

		ts := now.Unix() + skewSeconds%600
		got, err := post(ts, webhook.Sign(secret, ts, body))
		inWindow := (skewSeconds%600)*int64(time.Second) <= int64(webhook.MaxSkew) && -(skewSeconds%600)*int64(time.Second) <= int64(webhook.MaxSkew)
		switch {
		case !inWindow:
			if !errors.Is(err, channels.ErrUnverified) {
				t.Fatalf("a timestamp %ds off was not refused as unverified: %v", skewSeconds%600, err)
			}
		case err != nil:
			if errors.Is(err, channels.ErrUnverified) {
				t.Fatalf("a correctly signed, timely body was refused as unverified: %v", err)
			}
		default:
			for _, r := range got {
				switch r.Status {
				case channels.Delivered, channels.Displayed, channels.Clicked, channels.Failed:
				default:
					t.Fatalf("receipt status %q passed", r.Status)
				}
				if r.MessageID == "" || r.Channel != channels.Webhook || r.At.IsZero() {
					t.Fatalf("receipt %+v passed", r)
				}
			}
		}

		if _, err := post(now.Unix(), webhook.Sign("another-secret", now.Unix(), body)); !errors.Is(err, channels.ErrUnverified) {
			t.Fatalf("a body signed with another secret was not refused as unverified: %v", err)
		}
		if _, err := post(now.Unix(), webhook.Sign(secret, now.Unix(), append(append([]byte(nil), body...), ' '))); !errors.Is(err, channels.ErrUnverified) {
			t.Fatalf("a signature of another body was accepted: %v", err)
		}
	})
}
