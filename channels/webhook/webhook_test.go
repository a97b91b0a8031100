package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/webhook"
)

const secret = "whsec"

func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	// HMAC-SHA256("whsec", "1700000000." + `{"a":1}`), computed independently.
	require.Equal(t, "sha256=8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032",
		webhook.Sign(secret, 1700000000, []byte(`{"a":1}`)))
	require.True(t, webhook.Verify(secret, 1700000000, []byte(`{"a":1}`), webhook.Sign(secret, 1700000000, []byte(`{"a":1}`))))
	require.False(t, webhook.Verify(secret, 1700000001, []byte(`{"a":1}`), webhook.Sign(secret, 1700000000, []byte(`{"a":1}`))))
}

func newProvider(t *testing.T, mutate ...func(*webhook.Config)) *webhook.Provider {
	t.Helper()
	cfg := webhook.Config{Secret: secret}
	for _, m := range mutate {
		m(&cfg)
	}
	p, err := webhook.New(cfg)
	require.NoError(t, err)
	return p
}

type captured struct {
	header http.Header
	body   []byte
}

func TestSendRequestShape(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		extra    map[string]any
		wantData string
	}{
		{"payload wins", map[string]any{"payload": map[string]any{"order": "42"}, "other": 1}, `{"order":"42"}`},
		{"extra otherwise", map[string]any{"k": "v"}, `{"k":"v"}`},
		{"no extra", nil, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan captured, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- captured{r.Header.Clone(), b}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(srv.Close)
			p := newProvider(t, func(c *webhook.Config) { c.NowFunc = func() time.Time { return now } })
			res, err := p.Send(context.Background(), []channels.Message{{
				ID: "m1", AppID: 7, Channel: channels.Webhook, Address: srv.URL + "/hook", Title: "T", Body: "B", Extra: tt.extra,
			}})
			require.NoError(t, err)
			require.Equal(t, channels.Delivered, res[0].Status)

			c := <-got
			require.Equal(t, "application/json", c.header.Get("Content-Type"))
			require.Equal(t, "m1", c.header.Get(webhook.HeaderMessageID))
			require.Equal(t, strconv.FormatInt(now.Unix(), 10), c.header.Get(webhook.HeaderTimestamp))
			require.Equal(t, webhook.Sign(secret, now.Unix(), c.body), c.header.Get(webhook.HeaderSignature))
			require.JSONEq(t, `{"id":"m1","app_id":7,"title":"T","body":"B","data":`+tt.wantData+`,"sent_at":"2024-05-01T12:00:00Z"}`, string(c.body))
		})
	}
}

func TestSendStatusMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status        int
		want          channels.Status
		wantRetryable bool
	}{
		{200, channels.Delivered, false},
		{201, channels.Delivered, false},
		{204, channels.Delivered, false},
		{202, channels.Sent, false},
		{400, channels.Failed, false},
		{401, channels.Failed, false},
		{404, channels.Failed, false},
		{410, channels.Failed, false},
		{301, channels.Failed, false},
		{408, channels.Failed, true},
		{429, channels.Failed, true},
		{500, channels.Failed, true},
		{503, channels.Failed, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.status), func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == http.StatusMovedPermanently {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tt.status)
			}))
			t.Cleanup(srv.Close)
			res, err := newProvider(t).Send(context.Background(), []channels.Message{{ID: "m", Address: srv.URL + "/x"}})
			require.NoError(t, err)
			require.Equal(t, tt.want, res[0].Status)
			require.Equal(t, tt.wantRetryable, res[0].Retryable)
			if tt.want == channels.Failed {
				require.Equal(t, "HTTP "+strconv.Itoa(tt.status), res[0].Reason)
				require.Zero(t, res[0].CostUnits)
			} else {
				require.Equal(t, 1, res[0].CostUnits)
			}
		})
	}
}

func TestSendTransportAndAddressFailures(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close()

	_, err := newProvider(t).Send(context.Background(), []channels.Message{{ID: "a", Address: dead + "/x"}, {ID: "b", Address: dead + "/y"}})
	require.Error(t, err, "no request reached a receiver")

	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(live.Close)
	res, err := newProvider(t).Send(context.Background(), []channels.Message{
		{ID: "dead", Address: dead + "/x"},
		{ID: "not-url", Address: "mailto:someone@example.com"},
		{ID: "live", Address: live.URL + "/x"},
	})
	require.NoError(t, err)
	require.True(t, res[0].Retryable)
	require.Equal(t, channels.Failed, res[1].Status)
	require.False(t, res[1].Retryable)
	require.Equal(t, channels.Delivered, res[2].Status)
}

func TestSendTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(live.Close)
	// The timeout leaves the answering vendor ample time on a loaded machine.
	p := newProvider(t, func(c *webhook.Config) { c.Timeout = time.Second })
	res, err := p.Send(context.Background(), []channels.Message{{ID: "hang", Address: srv.URL}, {ID: "ok", Address: live.URL}})
	require.NoError(t, err)
	require.Equal(t, channels.Failed, res[0].Status)
	require.True(t, res[0].Retryable)
	require.Equal(t, channels.Delivered, res[1].Status)
}

func TestSendBoundsConcurrency(t *testing.T) {
	t.Parallel()
	const limit = 2
	var inflight, peak atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := inflight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		inflight.Add(-1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, func(c *webhook.Config) { c.Concurrency = limit })
	msgs := make([]channels.Message, 5*limit)
	for i := range msgs {
		msgs[i] = channels.Message{ID: strconv.Itoa(i), Address: srv.URL}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var res []channels.Result
	go func() {
		defer wg.Done()
		res, _ = p.Send(context.Background(), msgs)
	}()
	require.Eventually(t, func() bool { return inflight.Load() == limit }, 5*time.Second, time.Millisecond)
	require.Never(t, func() bool { return inflight.Load() > limit }, 50*time.Millisecond, time.Millisecond)
	close(release)
	wg.Wait()
	require.Len(t, res, len(msgs))
	require.Equal(t, int32(limit), peak.Load())
}

func TestParseReceipts(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	at := now.Add(-time.Second)
	valid, _ := json.Marshal(webhook.Callback{Receipts: []webhook.CallbackReceipt{
		{MessageID: "m1", Status: channels.Delivered, At: at},
		{MessageID: "m2", Status: channels.Clicked, At: at},
		{MessageID: "m3", Status: channels.Failed, Reason: "unsubscribed", At: at},
	}})
	tests := []struct {
		name       string
		body       []byte
		ts         int64
		sigSecret  string
		sigBody    []byte // signed body when it differs from body
		noTS       bool
		wantErr    error
		wantAnyErr bool
		wantCount  int
	}{
		{name: "valid", body: valid, ts: now.Unix(), sigSecret: secret, wantCount: 3},
		{name: "4 minutes old", body: valid, ts: now.Add(-4 * time.Minute).Unix(), sigSecret: secret, wantCount: 3},
		{name: "wrong secret", body: valid, ts: now.Unix(), sigSecret: "other", wantErr: channels.ErrUnverified},
		{name: "tampered body", body: valid, sigBody: []byte(`{"receipts":[]}`), ts: now.Unix(), sigSecret: secret, wantErr: channels.ErrUnverified},
		{name: "stale timestamp", body: valid, ts: now.Add(-6 * time.Minute).Unix(), sigSecret: secret, wantErr: channels.ErrUnverified},
		{name: "future timestamp", body: valid, ts: now.Add(6 * time.Minute).Unix(), sigSecret: secret, wantErr: channels.ErrUnverified},
		{name: "missing timestamp", body: valid, noTS: true, sigSecret: secret, wantErr: channels.ErrUnverified},
		{name: "unknown status", body: []byte(`{"receipts":[{"message_id":"m","status":"SENT"}]}`), ts: now.Unix(), sigSecret: secret, wantAnyErr: true},
		{name: "missing message id", body: []byte(`{"receipts":[{"status":"DELIVERED"}]}`), ts: now.Unix(), sigSecret: secret, wantAnyErr: true},
		{name: "not json", body: []byte(`nope`), ts: now.Unix(), sigSecret: secret, wantAnyErr: true},
	}
	p := newProvider(t, func(c *webhook.Config) { c.NowFunc = func() time.Time { return now } })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/callbacks/webhook", bytes.NewReader(tt.body))
			signed := tt.body
			if tt.sigBody != nil {
				signed = tt.sigBody
			}
			if !tt.noTS {
				req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(tt.ts, 10))
			}
			req.Header.Set(webhook.HeaderSignature, webhook.Sign(tt.sigSecret, tt.ts, signed))
			got, err := p.ParseReceipts(req)
			switch {
			case tt.wantErr != nil:
				require.ErrorIs(t, err, tt.wantErr)
			case tt.wantAnyErr:
				require.Error(t, err)
				require.False(t, errors.Is(err, channels.ErrUnverified))
			default:
				require.NoError(t, err)
				require.Len(t, got, tt.wantCount)
			}
		})
	}

	req := httptest.NewRequest(http.MethodPost, "/callbacks/webhook", bytes.NewReader(valid))
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, now.Unix(), valid))
	got, err := p.ParseReceipts(req)
	require.NoError(t, err)
	require.Equal(t, channels.Receipt{Channel: channels.Webhook, Provider: "webhook", MessageID: "m3",
		Status: channels.Failed, Reason: "unsubscribed", At: at}, got[2])
}

func TestNewRequiresSecret(t *testing.T) {
	t.Parallel()
	_, err := webhook.New(webhook.Config{})
	require.Error(t, err)
}
