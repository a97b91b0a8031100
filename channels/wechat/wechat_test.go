package wechat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/wechat"
)

const (
	testToken  = "herald-token"
	testAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

func newProvider(t *testing.T, cfg wechat.Config) *wechat.Provider {
	t.Helper()
	if cfg.AppID == "" {
		cfg.AppID = "wxherald"
	}
	cfg.AppSecret = "s"
	cfg.Token = testToken
	p, err := wechat.New(cfg)
	require.NoError(t, err)
	return p
}

func TestNewNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		cfg   wechat.Config
		field string
	}{
		{wechat.Config{AppSecret: "s"}, "AppID"},
		{wechat.Config{AppID: "wx1"}, "AppSecret"},
		{wechat.Config{AppID: "wx1", AppSecret: "s", Endpoint: "ftp://x"}, "Endpoint"},
		{wechat.Config{AppID: "wx1", AppSecret: "s", Concurrency: -1}, "Concurrency"},
		{wechat.Config{AppID: "wx1", AppSecret: "s", EncodingAESKey: "short"}, "EncodingAESKey"},
	} {
		_, err := wechat.New(tc.cfg)
		require.ErrorContains(t, err, tc.field)
	}
}

func TestBuildRequest(t *testing.T) {
	p := newProvider(t, wechat.Config{TemplateID: "TEXT_TPL", TitleKey: "first", BodyKey: "remark"})
	req, err := p.BuildRequest(channels.Message{ID: "m1", Address: " oUser1 ", Title: "t", Body: "b", Extra: map[string]any{
		"templateId":  "ORDER",
		"data":        map[string]any{"thing1": "Shoes", "time2": map[string]any{"value": "today", "color": "#173177"}},
		"url":         "https://example.com/o/1",
		"miniprogram": map[string]any{"appid": "wxmini", "pagepath": "pages/o?id=1"},
	}})
	require.NoError(t, err)
	require.Equal(t, &wechat.SendRequest{
		ToUser: "oUser1", TemplateID: "ORDER", URL: "https://example.com/o/1", ClientMsgID: "m1",
		MiniProgram: &wechat.MiniProgram{AppID: "wxmini", PagePath: "pages/o?id=1"},
		Data:        map[string]wechat.DataItem{"thing1": {Value: "Shoes"}, "time2": {Value: "today", Color: "#173177"}},
	}, req)

	req, err = p.BuildRequest(channels.Message{ID: "m2", Address: "oUser2", Title: "Hello", Body: "World"})
	require.NoError(t, err)
	require.Equal(t, "TEXT_TPL", req.TemplateID, "the provider's template carries free text")
	require.Equal(t, map[string]wechat.DataItem{"first": {Value: "Hello"}, "remark": {Value: "World"}}, req.Data)

	for _, tc := range []struct {
		m    channels.Message
		want string
	}{
		{channels.Message{Address: ""}, "no openid"},
		{channels.Message{Address: "o", Extra: map[string]any{"templateId": "T"}}, "extra.data"},
		{channels.Message{Address: "o", Extra: map[string]any{"templateId": "T", "data": map[string]any{"k": 3.0}}}, "extra.data.k"},
		{channels.Message{Address: "o", Extra: map[string]any{"templateId": "T", "data": map[string]any{"k": "v"}, "miniprogram": map[string]any{"pagepath": "p"}}}, "extra.miniprogram.appid"},
	} {
		_, err := p.BuildRequest(tc.m)
		require.ErrorContains(t, err, tc.want)
	}
	noDefault := newProvider(t, wechat.Config{})
	_, err = noDefault.BuildRequest(channels.Message{Address: "o", Body: "b"})
	require.ErrorContains(t, err, "TemplateID")
}

func TestSignatureMatchesIndependentComputation(t *testing.T) {
	// sha1 of the sorted parts, computed apart with Python's hashlib.
	require.Equal(t, "dc9be2c738237b33263f13b4d25b47cf75b3f5fd", wechat.Signature(testToken, "1714112445", "1806227376"))
	require.Equal(t, "58dc0a34a1e7093f3f9b6a51f5bb7357afab2966", wechat.Signature(testToken, "1714112445", "1806227376", "ENCRYPTED"))
}

func TestMapAnswer(t *testing.T) {
	for _, tc := range []struct {
		code      int
		status    channels.Status
		retryable bool
	}{
		{0, channels.Sent, false},
		{wechat.CodeBusy, channels.Failed, true},
		{wechat.CodeDailyQuota, channels.Failed, true},
		{wechat.CodeMinuteQuota, channels.Failed, true},
		{wechat.CodeInvalidCredential, channels.Failed, true},
		{wechat.CodeRequireSubscribe, channels.Failed, false},
		{wechat.CodeInvalidOpenID, channels.Failed, false},
		{wechat.CodeInvalidTemplateID, channels.Failed, false},
		{wechat.CodeDataFormat, channels.Failed, false},
	} {
		res := wechat.MapAnswer("m", &wechat.Answer{ErrCode: tc.code, ErrMsg: "x", MsgID: 42})
		require.Equal(t, tc.status, res.Status, "errcode %d", tc.code)
		require.Equal(t, tc.retryable, res.Retryable, "errcode %d", tc.code)
		if tc.code == 0 {
			require.Equal(t, "42", res.VendorID)
		} else {
			require.True(t, strings.HasPrefix(res.Reason, strconv.Itoa(tc.code)+": "), res.Reason)
		}
	}
}

// signedPush builds an event push as WeChat sends it, at unix second ts.
func signedPush(t *testing.T, ts int64, body string) *http.Request {
	t.Helper()
	q := url.Values{}
	tss := strconv.FormatInt(ts, 10)
	q.Set("timestamp", tss)
	q.Set("nonce", "1806227376")
	q.Set("signature", wechat.Signature(testToken, tss, "1806227376"))
	q.Set("openid", "oUser1")
	r := httptest.NewRequest(http.MethodPost, "/callbacks/wechat/wechat?"+q.Encode(), strings.NewReader(body))
	r.Header.Set("Content-Type", "text/xml")
	return r
}

func eventXML(status string) string {
	return `<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName><FromUserName><![CDATA[oUser1]]></FromUserName>` +
		`<CreateTime>1714112445</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>` +
		`<MsgID>200163836</MsgID><Status><![CDATA[` + status + `]]></Status></xml>`
}

func TestParseReceipts(t *testing.T) {
	now := time.Unix(1714112445, 0)
	p := newProvider(t, wechat.Config{NowFunc: func() time.Time { return now }})
	for _, tc := range []struct {
		status string
		want   channels.Status
		reason string
	}{
		{wechat.StatusSuccess, channels.Delivered, ""},
		{wechat.StatusUserBlock, channels.Failed, "user block"},
		{wechat.StatusSystemFailed, channels.Failed, "system failed"},
	} {
		rs, err := p.ParseReceipts(signedPush(t, now.Unix(), eventXML(tc.status)))
		require.NoError(t, err, tc.status)
		require.Equal(t, []channels.Receipt{{Channel: channels.WeChat, Provider: "wechat", VendorID: "200163836", Address: "oUser1",
			Status: tc.want, Reason: tc.reason, At: time.Unix(1714112445, 0)}}, rs, tc.status)
	}

	rs, err := p.ParseReceipts(signedPush(t, now.Unix(), `<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>`))
	require.NoError(t, err)
	require.Empty(t, rs, "other events are taken without a receipt")

	forged := signedPush(t, now.Unix(), eventXML(wechat.StatusSuccess))
	q := forged.URL.Query()
	q.Set("signature", wechat.Signature("another-token", q.Get("timestamp"), q.Get("nonce")))
	forged.URL.RawQuery = q.Encode()
	_, err = p.ParseReceipts(forged)
	require.ErrorIs(t, err, channels.ErrUnverified, "signed with another token")

	_, err = p.ParseReceipts(signedPush(t, now.Add(-6*time.Minute).Unix(), eventXML(wechat.StatusSuccess)))
	require.ErrorIs(t, err, channels.ErrUnverified, "a replay with a stale timestamp")

	_, err = p.ParseReceipts(signedPush(t, now.Add(6*time.Minute).Unix(), eventXML(wechat.StatusSuccess)))
	require.ErrorIs(t, err, channels.ErrUnverified, "a timestamp from the future")

	for _, body := range []string{
		`<xml><MsgType>event`,
		`<root><MsgType>event</MsgType></root>`,
		strings.Replace(eventXML(wechat.StatusSuccess), "<MsgID>200163836</MsgID>", "", 1),
		strings.Replace(eventXML(wechat.StatusSuccess), "200163836", "12ab", 1),
		eventXML("pending"),
	} {
		_, err := p.ParseReceipts(signedPush(t, now.Unix(), body))
		require.Error(t, err, body)
		require.False(t, errors.Is(err, channels.ErrUnverified), "malformed, not unverified: %v", err)
	}

	noToken, err := wechat.New(wechat.Config{AppID: "wx", AppSecret: "s"})
	require.NoError(t, err)
	_, err = noToken.ParseReceipts(signedPush(t, time.Now().Unix(), eventXML(wechat.StatusSuccess)))
	require.ErrorIs(t, err, channels.ErrUnverified, "without a configured Token every push is refused")
}

func TestParseReceiptsSafeMode(t *testing.T) {
	now := time.Unix(1714112445, 0)
	p := newProvider(t, wechat.Config{EncodingAESKey: testAESKey, NowFunc: func() time.Time { return now }})
	// Sealed apart with openssl (AES-256-CBC, IV = key[:16]) for appid wxherald.
	const sealed = "Q3stYC6hdFzMh9T8HCvyDAC/orV9v5SHmZsU0W/0f8FFREei+DRW+hBRMjuTyjOAKZSIHMJmcJhrGUxkRYzI8hN7PAmKlDjTkDwjpp6BkEQSLM1/cKmNoNXLzBBG7XdaVwcidj9ZKeOzmG+Igm+opPSx03xRoNeBvJLVZ0LqHLUNI8/NUM8aqSPo9KPrEzli09VcNSiSQBcnEhZDx8UpkXH0Puox0U8Xs9kZe5kHeGFBPTe9gmS39KRRh5wPBLZBIxmIHq+quuz7hRPQRqLSb66mnAmqWAQjTFNcI0jpLNzrD+y/JdoNuO8LnPXpvDo+VDiyPQfyn1xz5zjab2oDcihpL4aBU7PIi94v5FeY+Fa30nOi5BgS93PxeLHf24jv96qYQOwsBtOzsTgfBFWcGRl7w/oBPS3ChBQB9M9vp3U="
	push := func(encrypted, msgSig string) *http.Request {
		r := signedPush(t, now.Unix(), `<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[`+encrypted+`]]></Encrypt></xml>`)
		q := r.URL.Query()
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", msgSig)
		r.URL.RawQuery = q.Encode()
		return r
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	rs, err := p.ParseReceipts(push(sealed, wechat.Signature(testToken, ts, "1806227376", sealed)))
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, channels.Failed, rs[0].Status)
	require.Equal(t, "user block", rs[0].Reason)
	require.Equal(t, "200163836", rs[0].VendorID)

	_, err = p.ParseReceipts(push(sealed, wechat.Signature(testToken, ts, "1806227376", "other")))
	require.ErrorIs(t, err, channels.ErrUnverified, "msg_signature over another message")

	other := newProvider(t, wechat.Config{AppID: "wxother", EncodingAESKey: testAESKey, NowFunc: func() time.Time { return now }})
	_, err = other.ParseReceipts(push(sealed, wechat.Signature(testToken, ts, "1806227376", sealed)))
	require.ErrorIs(t, err, channels.ErrUnverified, "sealed for another appid")

	key, err := wechat.DecodeAESKey(testAESKey)
	require.NoError(t, err)
	ours, err := wechat.Encrypt(key, "wxherald", []byte(eventXML(wechat.StatusSuccess)))
	require.NoError(t, err)
	rs, err = p.ParseReceipts(push(ours, wechat.Signature(testToken, ts, "1806227376", ours)))
	require.NoError(t, err)
	require.Equal(t, channels.Delivered, rs[0].Status, "Encrypt and Decrypt round-trip")

	plainOnly := newProvider(t, wechat.Config{NowFunc: func() time.Time { return now }})
	_, err = plainOnly.ParseReceipts(push(sealed, wechat.Signature(testToken, ts, "1806227376", sealed)))
	require.ErrorIs(t, err, channels.ErrUnverified, "an encrypted push without a configured key")
}

func TestAnswerChallenge(t *testing.T) {
	now := time.Unix(1714112445, 0)
	p := newProvider(t, wechat.Config{NowFunc: func() time.Time { return now }})
	check := func(sig string) (*httptest.ResponseRecorder, error) {
		q := url.Values{"timestamp": {"1714112445"}, "nonce": {"1806227376"}, "signature": {sig}, "echostr": {"5837397520672353621"}}
		w := httptest.NewRecorder()
		return w, p.AnswerChallenge(w, httptest.NewRequest(http.MethodGet, "/callbacks/wechat/wechat?"+q.Encode(), nil))
	}
	w, err := check(wechat.Signature(testToken, "1714112445", "1806227376"))
	require.NoError(t, err)
	require.Equal(t, "5837397520672353621", w.Body.String())
	w, err = check("0000")
	require.ErrorIs(t, err, channels.ErrUnverified)
	require.Empty(t, w.Body.String(), "nothing is echoed to a forged check")
}

// counter counts the simulator's requests per path.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.n[r.URL.Path]++
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (c *counter) get(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}

// simEnv runs a simulator (receipts go nowhere) and counts the requests it gets.
func simEnv(t *testing.T, adjust func(*sim.Config)) (*sim.Server, string, *counter) {
	t.Helper()
	cfg := sim.Config{Callback: "http://127.0.0.1:1", ReceiptDelay: time.Hour, ReceiptAttempts: 1}
	if adjust != nil {
		adjust(&cfg)
	}
	s := sim.New(cfg)
	c := &counter{n: map[string]int{}}
	srv := httptest.NewServer(c.wrap(s.Handler()))
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return s, srv.URL, c
}

func messages(n int, prefix string) []channels.Message {
	out := make([]channels.Message, n)
	for i := range out {
		out[i] = channels.Message{ID: fmt.Sprintf("%s-%d", prefix, i), Channel: channels.WeChat, Address: fmt.Sprintf("o%s%03d", prefix, i), Title: "t", Body: "body " + prefix}
	}
	return out
}

func TestTokenFetchedOnceForAConcurrentBatch(t *testing.T) {
	_, base, c := simEnv(t, nil)
	p, err := wechat.New(wechat.Config{Endpoint: base, AppID: sim.DefaultAppID, AppSecret: sim.DefaultSecret, TemplateID: "TPL", Concurrency: 16})
	require.NoError(t, err)
	res, err := p.Send(context.Background(), messages(40, "batch"))
	require.NoError(t, err)
	for i, r := range res {
		require.Equal(t, channels.Sent, r.Status, "message %d: %s", i, r.Reason)
	}
	require.Equal(t, 1, c.get(wechat.PathStableToken), "forty concurrent sends share one token fetch")
	require.Equal(t, 40, c.get(wechat.PathTemplateSend))
}

func TestInvalidTokenAnswerRefreshesAndRetriesOnce(t *testing.T) {
	s, base, c := simEnv(t, nil)
	p, err := wechat.New(wechat.Config{Endpoint: base, AppID: sim.DefaultAppID, AppSecret: sim.DefaultSecret, TemplateID: "TPL"})
	require.NoError(t, err)
	ctx := context.Background()
	res, err := p.Send(ctx, messages(1, "before"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status)

	s.RevokeTokens()
	res, err = p.Send(ctx, messages(1, "after"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	require.Equal(t, 2, c.get(wechat.PathStableToken), "the refused token was replaced")
	require.Equal(t, 3, c.get(wechat.PathTemplateSend), "the refused send was tried once more")
	require.Len(t, s.Messages(channels.WeChat, "oafter000"), 1, "and delivered once")
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	_, base, c := simEnv(t, func(cfg *sim.Config) { cfg.TokenLifetime = 8 * time.Second })
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	p, err := wechat.New(wechat.Config{Endpoint: base, AppID: sim.DefaultAppID, AppSecret: sim.DefaultSecret, TemplateID: "TPL", NowFunc: clock})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = p.Send(ctx, messages(1, "first"))
	require.NoError(t, err)
	mu.Lock()
	now = now.Add(7 * time.Second) // within the last quarter of the token's 8 s
	mu.Unlock()
	res, err := p.Send(ctx, messages(1, "second"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	require.Equal(t, 2, c.get(wechat.PathStableToken), "the token is fetched again before it expires")
}

func TestBadCredentialsFailPermanently(t *testing.T) {
	_, base, c := simEnv(t, nil)
	p, err := wechat.New(wechat.Config{Endpoint: base, AppID: sim.DefaultAppID, AppSecret: "wrong", TemplateID: "TPL"})
	require.NoError(t, err)
	res, err := p.Send(context.Background(), messages(2, "cred"))
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, channels.Failed, r.Status)
		require.False(t, r.Retryable)
		require.Contains(t, r.Reason, strconv.Itoa(wechat.CodeInvalidAppSecret))
	}
	require.Zero(t, c.get(wechat.PathTemplateSend), "nothing is sent without a token")
}

func TestUnreachableVendorIsABatchError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	p, err := wechat.New(wechat.Config{Endpoint: base, AppID: "wx", AppSecret: "s", TemplateID: "TPL"})
	require.NoError(t, err)
	_, err = p.Send(context.Background(), messages(2, "down"))
	require.ErrorContains(t, err, "no request reached the vendor")
}

func TestTransportErrorsDoNotCarryTheToken(t *testing.T) {
	// A vendor that hands out a token and then hangs up on the send.
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+wechat.PathStableToken, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"access_token":"SECRET-TOKEN-VALUE","expires_in":7200}`))
	})
	mux.HandleFunc("POST "+wechat.PathTemplateSend, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p, err := wechat.New(wechat.Config{Endpoint: srv.URL, AppID: "wx", AppSecret: "s", TemplateID: "TPL"})
	require.NoError(t, err)
	_, err = p.Send(context.Background(), messages(1, "hangup"))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "SECRET-TOKEN-VALUE")
	require.Contains(t, err.Error(), wechat.PathTemplateSend)
}

func TestExpiredTokenAnswerRefreshes(t *testing.T) {
	_, base, c := simEnv(t, func(cfg *sim.Config) { cfg.TokenLifetime = time.Second })
	frozen := time.Now()
	// The provider's clock stands still, so only the vendor's expired-token answer makes it
	// fetch again.
	p, err := wechat.New(wechat.Config{Endpoint: base, AppID: sim.DefaultAppID, AppSecret: sim.DefaultSecret, TemplateID: "TPL",
		NowFunc: func() time.Time { return frozen }})
	require.NoError(t, err)
	ctx := context.Background()
	res, err := p.Send(ctx, messages(1, "early"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status)

	// Wait until the simulator calls the token expired: a refused address answers 40003
	// while the token is valid (the token is checked first) and 42001 once it expired.
	require.Eventually(t, func() bool {
		res, err := p.Send(ctx, []channels.Message{{ID: "probe", Address: "ofailprobe", Body: "x"}})
		return err == nil && strings.HasPrefix(res[0].Reason, strconv.Itoa(wechat.CodeInvalidOpenID)) &&
			c.get(wechat.PathStableToken) > 1
	}, 10*time.Second, 50*time.Millisecond)

	res, err = p.Send(ctx, messages(1, "late"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
}

func TestReceiptCarriesHeraldsMessageID(t *testing.T) {
	var p *wechat.Provider
	got := make(chan channels.Receipt, 4)
	herald := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs, err := p.ParseReceipts(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		for _, rc := range rs {
			got <- rc
		}
		p.AckReceipts(w)
	}))
	t.Cleanup(herald.Close)
	_, base, _ := simEnv(t, func(cfg *sim.Config) {
		cfg.Callback = herald.URL
		cfg.ReceiptDelay = 5 * time.Millisecond
		cfg.ReceiptAttempts = 3
	})
	var err error
	p, err = wechat.New(wechat.Config{Endpoint: base, AppID: sim.DefaultAppID, AppSecret: sim.DefaultSecret, Token: sim.DefaultSecret, TemplateID: "TPL"})
	require.NoError(t, err)
	res, err := p.Send(context.Background(), messages(1, "echo"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status)
	select {
	case rc := <-got:
		require.Equal(t, "echo-0", rc.MessageID, "the event names only the msgid; the provider knows the message")
		require.Equal(t, res[0].VendorID, rc.VendorID)
		require.Equal(t, channels.Delivered, rc.Status)
	case <-time.After(10 * time.Second):
		t.Fatal("no receipt")
	}
}
