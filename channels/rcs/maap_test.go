package rcs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

// fakePlatform is a MaaP stand-in: a token endpoint counting its tokens and an outbound
// resource answering with answer.
type fakePlatform struct {
	srv       *httptest.Server
	tokens    atomic.Int64
	mu        sync.Mutex
	bodies    []OutboundRequest
	bearers   []string
	tokenFail int // HTTP status the token endpoint answers with, 0 for success
	answer    func(req OutboundRequest, bearer string) (int, string)
}

func newFakePlatform(t *testing.T, answer func(OutboundRequest, string) (int, string)) *fakePlatform {
	t.Helper()
	f := &fakePlatform{answer: answer}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if f.tokenFail != 0 {
			w.WriteHeader(f.tokenFail)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		if !ok || id != "bot%40example" && id != "bot" || secret != "s3cret" || r.FormValue("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		n := f.tokens.Add(1)
		_, _ = io.WriteString(w, `{"access_token":"tok-`+string(rune('0'+n))+`","token_type":"Bearer","expires_in":3600}`)
	})
	mux.HandleFunc("POST /messaging/v1/outbound/{chatbot}/requests", func(w http.ResponseWriter, r *http.Request) {
		var req OutboundRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		f.bodies = append(f.bodies, req)
		f.bearers = append(f.bearers, bearer)
		f.mu.Unlock()
		status, body := f.answer(req, bearer)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func created(req OutboundRequest, _ string) (int, string) {
	return http.StatusCreated, `{"resourceReference":{"resourceURL":"https://maap.test/messaging/v1/outbound/bot/requests/` + req.MessageID + `"}}`
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestMaaP(t *testing.T, endpoint string, mutate ...func(*Config)) (*MaaP, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	cfg := Config{Endpoint: endpoint, ChatbotID: "bot", ClientSecret: "s3cret", NotifyPassword: "notify-pw", NowFunc: c.Now}
	for _, m := range mutate {
		m(&cfg)
	}
	p, err := New(cfg)
	require.NoError(t, err)
	return p, c
}

func TestTelURI(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"13800138000":        "tel:+8613800138000",
		"+8613800138000":     "tel:+8613800138000",
		"tel:+8613800138000": "tel:+8613800138000",
		" +1 (415) 555-0100": "tel:+14155550100",
		"008613800138000":    "tel:+8613800138000",
		"":                   "",
		"tel:":               "",
	} {
		require.Equal(t, want, TelURI(in), in)
	}
}

func TestMaaPTextRequest(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t, created)
	p, _ := newTestMaaP(t, f.srv.URL)
	res, err := p.Send(context.Background(), []channels.Message{{ID: "m1", Address: "13800138000", Body: "hello"}})
	require.NoError(t, err)
	require.Equal(t, channels.Result{MessageID: "m1", VendorID: "m1", Status: channels.Sent, CostUnits: 1}, res[0])
	require.Len(t, f.bodies, 1)
	b := f.bodies[0]
	require.Equal(t, "m1", b.MessageID)
	require.Equal(t, "bot", b.SenderAddress)
	require.Equal(t, []string{"tel:+8613800138000"}, b.DestinationAddress)
	require.Equal(t, []ContentMessage{{ContentType: ContentTypeText, ContentText: json.RawMessage(`"hello"`)}}, b.ContentMessage)
	require.False(t, b.SMSSupported, "the network's SMS fallback is off: Herald's FALLBACK takes over")
	require.Empty(t, b.SMSContent)
	require.Equal(t, "tok-1", f.bearers[0])
}

func TestMaaPCardRequest(t *testing.T) {
	t.Parallel()
	p, _ := newTestMaaP(t, "https://maap.test", func(c *Config) { c.NetworkFallback = true })
	req, err := p.Request(channels.Message{ID: "m2", Address: "+8613800138000", Body: "Order 42 shipped: https://shop.example.com/o/42",
		Extra: map[string]any{"card": map[string]any{
			"title": "Order 42 shipped", "description": "On its way.", "media": "https://cdn.example.com/a/b.png?x=1",
			"suggestions": []any{map[string]any{"text": "Track", "url": "https://shop.example.com/t/42"}, map[string]any{"text": "Thanks"}},
		}}})
	require.NoError(t, err)
	require.True(t, req.SMSSupported)
	require.Equal(t, "Order 42 shipped: https://shop.example.com/o/42", req.SMSContent, "the body is the network fallback text")
	require.Equal(t, ContentTypeBot, req.ContentMessage[0].ContentType)
	require.JSONEq(t, `{"message":{"generalPurposeCard":{
		"layout":{"cardOrientation":"VERTICAL"},
		"content":{"title":"Order 42 shipped","description":"On its way.",
		  "media":{"mediaUrl":"https://cdn.example.com/a/b.png?x=1","mediaContentType":"image/png","height":"MEDIUM_HEIGHT"},
		  "suggestions":[
		    {"action":{"displayText":"Track","postback":{"data":"herald:m2:0"},"urlAction":{"openUrl":{"url":"https://shop.example.com/t/42"}}}},
		    {"reply":{"displayText":"Thanks","postback":{"data":"herald:m2:1"}}}]}}}}`, string(req.ContentMessage[0].ContentText))

	for name, m := range map[string]channels.Message{
		"no phone number":               {ID: "x", Address: "tel:", Body: "b"},
		"empty message":                 {ID: "x", Address: "13800138000"},
		"card has neither title":        {ID: "x", Address: "13800138000", Body: "b", Extra: map[string]any{"card": map[string]any{"media": "https://x/y.png"}}},
		"card suggestion 0 has no text": {ID: "x", Address: "13800138000", Body: "b", Extra: map[string]any{"card": map[string]any{"title": "t", "suggestions": []any{map[string]any{"url": "https://x"}}}}},
		"no message id":                 {Address: "13800138000", Body: "b"},
	} {
		_, err := p.Request(m)
		require.ErrorContains(t, err, name)
	}
}

func TestMaaPTokenCachedAndRenewed(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t, created)
	p, c := newTestMaaP(t, f.srv.URL)
	msgs := make([]channels.Message, 20)
	for i := range msgs {
		msgs[i] = channels.Message{ID: "m" + string(rune('a'+i)), Address: "13800138000", Body: "hi"}
	}
	_, err := p.Send(context.Background(), msgs)
	require.NoError(t, err)
	require.EqualValues(t, 1, f.tokens.Load(), "twenty concurrent messages share one token")

	c.Add(58 * time.Minute)
	_, err = p.Send(context.Background(), msgs[:1])
	require.NoError(t, err)
	require.EqualValues(t, 1, f.tokens.Load(), "the token is still good two minutes before expiry")

	c.Add(90 * time.Second)
	_, err = p.Send(context.Background(), msgs[:1])
	require.NoError(t, err)
	require.EqualValues(t, 2, f.tokens.Load(), "renewed within a minute of expiry")
	require.Equal(t, "tok-2", f.bearers[len(f.bearers)-1])
}

func TestMaaPTokenRefusedIsFetchedAgainOnce(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t, func(req OutboundRequest, bearer string) (int, string) {
		if bearer == "tok-1" { // revoked on the platform's side
			return http.StatusUnauthorized, `{"requestError":{"policyException":{"messageId":"POL0001","text":"Invalid token"}}}`
		}
		return created(req, bearer)
	})
	p, _ := newTestMaaP(t, f.srv.URL)
	res, err := p.Send(context.Background(), []channels.Message{{ID: "m", Address: "13800138000", Body: "hi"}})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	require.Equal(t, []string{"tok-1", "tok-2"}, f.bearers)

	always := newFakePlatform(t, func(OutboundRequest, string) (int, string) {
		return http.StatusUnauthorized, `{"requestError":{"policyException":{"messageId":"POL0001","text":"Invalid token"}}}`
	})
	p2, _ := newTestMaaP(t, always.srv.URL)
	res, err = p2.Send(context.Background(), []channels.Message{{ID: "m", Address: "13800138000", Body: "hi"}})
	require.NoError(t, err)
	require.Equal(t, channels.Failed, res[0].Status)
	require.False(t, res[0].Retryable)
	require.Equal(t, "POL0001: Invalid token", res[0].Reason)
	require.Len(t, always.bearers, 2, "one retry with a fresh token, no more")
}

func TestMaaPTokenEndpointFailures(t *testing.T) {
	t.Parallel()
	f := newFakePlatform(t, created)
	f.tokenFail = http.StatusUnauthorized
	p, _ := newTestMaaP(t, f.srv.URL)
	res, err := p.Send(context.Background(), []channels.Message{{ID: "m", Address: "13800138000", Body: "hi"}})
	require.NoError(t, err)
	require.Equal(t, channels.Failed, res[0].Status)
	require.False(t, res[0].Retryable, "wrong client credentials do not heal by retrying")
	require.Contains(t, res[0].Reason, "invalid_client")

	down := newFakePlatform(t, created)
	down.tokenFail = http.StatusServiceUnavailable
	p2, _ := newTestMaaP(t, down.srv.URL)
	_, err = p2.Send(context.Background(), []channels.Message{{ID: "m", Address: "13800138000", Body: "hi"}})
	require.ErrorContains(t, err, "HTTP 503", "no message reached the platform: the batch is retried")
	require.Empty(t, down.bodies)
}

func TestMaaPAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status        int
		body          string
		wantRetryable bool
		wantReason    string
	}{
		{"not RCS capable", 404, `{"requestError":{"serviceException":{"messageId":"SVC0004","text":"The user %1 is not RCS-enabled","variables":["tel:+8613800138000"]}}}`,
			false, "not RCS capable (SVC0004: The user tel:+8613800138000 is not RCS-enabled)"},
		{"bad address", 400, `{"requestError":{"serviceException":{"messageId":"SVC0004","text":"No valid addresses provided in message part %1","variables":["tel:+86"]}}}`,
			false, "SVC0004: No valid addresses provided in message part tel:+86"},
		{"policy", 403, `{"requestError":{"policyException":{"messageId":"POL0002","text":"Chatbot suspended"}}}`, false, "POL0002: Chatbot suspended"},
		{"rate limit", 429, `{"requestError":{"policyException":{"messageId":"POL3003","text":"Too many requests"}}}`, true, "POL3003: Too many requests"},
		{"unavailable", 503, `{"requestError":{"serviceException":{"messageId":"SVC1000","text":"busy"}}}`, true, "SVC1000: busy"},
		{"unreadable 502", 502, `<html/>`, true, "HTTP 502"},
		{"unreadable 400", 400, ``, false, "HTTP 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakePlatform(t, func(OutboundRequest, string) (int, string) { return tt.status, tt.body })
			p, _ := newTestMaaP(t, f.srv.URL)
			res, err := p.Send(context.Background(), []channels.Message{{ID: "m", Address: "13800138000", Body: "hi"}})
			require.NoError(t, err)
			require.Equal(t, channels.Failed, res[0].Status)
			require.Equal(t, tt.wantRetryable, res[0].Retryable)
			require.Equal(t, tt.wantReason, res[0].Reason)
		})
	}
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	base := Config{Endpoint: "https://maap.test", ChatbotID: "bot", ClientSecret: "s"}
	for want, mutate := range map[string]func(*Config){
		"endpoint":     func(c *Config) { c.Endpoint = "maap.test" },
		"chatbotId":    func(c *Config) { c.ChatbotID = " " },
		"clientSecret": func(c *Config) { c.ClientSecret = "" },
		"apiVersion":   func(c *Config) { c.APIVersion = "v1/x" },
		"tokenUrl":     func(c *Config) { c.TokenURL = "ftp://x" },
		"concurrency":  func(c *Config) { c.Concurrency = -2 },
	} {
		cfg := base
		mutate(&cfg)
		_, err := New(cfg)
		require.ErrorContains(t, err, want)
	}
	p, err := New(base)
	require.NoError(t, err)
	require.Equal(t, "maap", p.Name())
	require.Equal(t, channels.RCS, p.Channel())
	require.Equal(t, "https://maap.test/messaging/v1/outbound/bot/requests", p.outbound)
}

func notification(body string, header map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/callbacks/rcs/maap", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", Authorization("bot", "notify-pw"))
	r.Header.Set("Date", "Fri, 27 Nov 2026 08:01:00 GMT")
	for k, v := range header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	return r
}

func TestMaaPNotifications(t *testing.T) {
	t.Parallel()
	p, c := newTestMaaP(t, "https://maap.test")
	rs, err := p.ParseReceipts(notification(`{"deliveryInfoNotification":{"deliveryInfo":
		{"address":"tel:+8613800138000","messageId":"m1","deliveryStatus":"DeliveredToTerminal","description":"UP2"}}}`, nil))
	require.NoError(t, err)
	require.Equal(t, []channels.Receipt{{Channel: channels.RCS, Provider: "maap", MessageID: "m1", VendorID: "m1",
		Address: "tel:+8613800138000", Status: channels.Delivered, At: c.Now()}}, rs)

	rs, err = p.ParseReceipts(notification(`{"deliveryInfoList":{"deliveryInfo":[
		{"address":"tel:+86138","messageId":"a","deliveryStatus":"MessageDisplayed"},
		{"address":"tel:+86138","messageId":"b","deliveryStatus":"DeliveryImpossible","description":"SVC5001","text":"terminal unreachable"},
		{"address":"tel:+86138","messageId":"c","deliveryStatus":"MessageSent"},
		{"address":"tel:+86138","messageId":"d","deliveryStatus":"DeliveredToSMS"},
		{"address":"tel:+86138","messageId":"e","deliveryStatus":"failed"}]}}`, nil))
	require.NoError(t, err)
	require.Len(t, rs, 4, "MessageSent is progress, not a receipt")
	require.Equal(t, channels.Displayed, rs[0].Status)
	require.Equal(t, channels.Failed, rs[1].Status)
	require.Equal(t, "SVC5001: terminal unreachable", rs[1].Reason)
	require.Equal(t, channels.Delivered, rs[2].Status)
	require.Equal(t, "DeliveredToSMS", rs[2].Reason, "the network's fallback is told apart")
	require.Equal(t, channels.Failed, rs[3].Status)
	require.Equal(t, "failed", rs[3].Reason)

	rs, err = p.ParseReceipts(notification(`{"deliveryInfo":{"messageId":"z","deliveryStatus":"delivered"}}`, nil))
	require.NoError(t, err)
	require.Equal(t, "z", rs[0].MessageID)
}

func TestMaaPNotificationsRefused(t *testing.T) {
	t.Parallel()
	p, _ := newTestMaaP(t, "https://maap.test")
	good := `{"deliveryInfo":{"messageId":"m","deliveryStatus":"DeliveredToTerminal"}}`
	for name, h := range map[string]map[string]string{
		"wrong password":    {"Authorization": Authorization("bot", "guess")},
		"wrong chatbot":     {"Authorization": Authorization("other", "notify-pw")},
		"no authorization":  {"Authorization": ""},
		"bearer":            {"Authorization": "Bearer notify-pw"},
		"no date":           {"Date": ""},
		"stale replay":      {"Date": "Fri, 27 Nov 2026 07:50:00 GMT"},
		"from the future":   {"Date": "Fri, 27 Nov 2026 08:10:00 GMT"},
		"malformed date":    {"Date": "yesterday"},
		"unquoted password": {"Authorization": `Username="bot",Password=notify-pw`},
	} {
		_, err := p.ParseReceipts(notification(good, h))
		require.ErrorIs(t, err, channels.ErrUnverified, name)
	}
	noPassword, _ := newTestMaaP(t, "https://maap.test", func(c *Config) { c.NotifyPassword = "" })
	_, err := noPassword.ParseReceipts(notification(good, map[string]string{"Authorization": Authorization("bot", "")}))
	require.ErrorIs(t, err, channels.ErrUnverified, "a provider without a notify password trusts nothing")

	for _, body := range []string{`{`, `{}`, `{"deliveryInfo":[]}`, `{"deliveryInfo":{"deliveryStatus":"DeliveredToTerminal"}}`,
		`{"deliveryInfo":{"messageId":"m","deliveryStatus":"Teleported"}}`, `{"deliveryInfo":"x"}`} {
		_, err := p.ParseReceipts(notification(body, nil))
		require.Error(t, err, body)
		require.False(t, errors.Is(err, channels.ErrUnverified), body)
	}
}

func FuzzMaaPNotification(f *testing.F) {
	f.Add(`{"deliveryInfoNotification":{"deliveryInfo":{"address":"tel:+8613800138000","messageId":"m1","deliveryStatus":"DeliveredToTerminal"}}}`)
	f.Add(`{"deliveryInfoList":{"deliveryInfo":[{"messageId":"a","deliveryStatus":"DeliveryImpossible","description":"SVC5001"}]}}`)
	f.Add(`{"deliveryInfo":[{"messageId":"a","deliveryStatus":"MessageSent"}]}`)
	f.Add(`[]`)
	c := &clock{now: time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)}
	p, err := New(Config{Endpoint: "https://maap.test", ChatbotID: "bot", ClientSecret: "s", NotifyPassword: "notify-pw", NowFunc: c.Now})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rs, err := p.ParseReceipts(notification(body, nil))
		if err != nil {
			if errors.Is(err, channels.ErrUnverified) {
				t.Fatalf("a genuine notification is never unverified: %v", err)
			}
			return
		}
		for _, r := range rs {
			if r.Channel != channels.RCS || r.MessageID == "" {
				t.Fatalf("bad receipt %+v", r)
			}
			switch r.Status {
			case channels.Delivered, channels.Displayed:
			case channels.Failed:
				if r.Reason == "" {
					t.Fatalf("a failure without a reason: %+v", r)
				}
			default:
				t.Fatalf("status %q", r.Status)
			}
		}
	})
}
