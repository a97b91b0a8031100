package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/herald-msg/herald/channels/push"
	"github.com/herald-msg/herald/channels/sim"
)

// The expected digests were computed with coreutils: printf %s '...' | sha256sum / md5sum.
func TestGetuiSigns(t *testing.T) {
	require.Equal(t, "b296d5481dec76333d37b1832808f22aa6414fd76a07fc0c23ce9c56b18dc73d",
		push.GetuiAuthSign("YZkTKbz91l84HyM0TGlb38", "1608172111917", "secret"))
	require.Equal(t, "efdad86fc31f467691694901a3811eb671c151dfefabe47afb351635ede537f7",
		push.GetuiAuthSign("sim-key", "1700000000000", "sim-secret"))
	require.Equal(t, "42cc1f1d007d09a7675d1163dd43214e", push.GetuiReceiptSign("sim-app", "cid1", "RASS_1", "m1", "sim-secret"))
}

// simEnv is a simulator serving the Getui API, a receiver of its callbacks and a provider.
type simEnv struct {
	sim      *sim.Server
	srv      *httptest.Server
	provider *push.Getui
	auths    atomic.Int64 // POST /auth requests
	mu       sync.Mutex
	tokens   []string // token headers of push requests
	receipts chan []byte
}

func newSimEnv(t *testing.T, adjust func(*sim.Config), cfg func(*push.GetuiConfig)) *simEnv {
	t.Helper()
	e := &simEnv{receipts: make(chan []byte, 64)}
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.receipts <- b
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(cb.Close)
	sc := sim.Config{Callback: cb.URL, ReceiptDelay: time.Millisecond, SlowDelay: time.Hour}
	if adjust != nil {
		adjust(&sc)
	}
	e.sim = sim.New(sc)
	h := e.sim.Handler()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/auth") {
			e.auths.Add(1)
		} else if tok := r.Header.Get("token"); tok != "" {
			e.mu.Lock()
			e.tokens = append(e.tokens, tok)
			e.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		e.srv.Close()
		e.sim.Close()
	})
	c := push.GetuiConfig{Endpoint: e.srv.URL, AppID: sim.DefaultAppID, AppKey: sim.DefaultAccessKeyID, MasterSecret: sim.DefaultSecret}
	if cfg != nil {
		cfg(&c)
	}
	p, err := push.NewGetui(c)
	require.NoError(t, err)
	e.provider = p
	return e
}

func (e *simEnv) lastToken() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tokens[len(e.tokens)-1]
}

func pushMsg(id, cid string) channels.Message {
	return channels.Message{ID: id, AppID: 1, Channel: channels.AppPush, Address: cid, Title: "Parcel", Body: "Order " + id + " is on its way."}
}

func send(t *testing.T, p channels.Provider, msgs ...channels.Message) []channels.Result {
	t.Helper()
	res, err := p.Send(context.Background(), msgs)
	require.NoError(t, err)
	require.Len(t, res, len(msgs))
	return res
}

func TestGetuiTokenCachedAndRefreshedOnInvalid(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	for i := range 3 {
		res := send(t, e.provider, pushMsg(fmt.Sprintf("20261127-00000001-000000%d-0", i), fmt.Sprintf("cid-%d", i)))
		require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	}
	require.EqualValues(t, 1, e.auths.Load(), "one token serves every request")

	// Getui's DELETE /auth/{token} revokes the token: the next push is answered 10001, the
	// provider fetches a new token and pushes again.
	req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/v2/"+sim.DefaultAppID+"/auth/"+e.lastToken(), nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	res := send(t, e.provider, pushMsg("20261127-00000001-0000009-0", "cid-9"))
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	require.EqualValues(t, 2, e.auths.Load(), "a refused token is replaced")
	require.Len(t, e.sim.Messages(channels.AppPush, "cid-9"), 1, "the message was pushed once")
}

func TestGetuiTokenRefreshedBeforeExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newSimEnv(t, func(c *sim.Config) { c.TokenLifetime = 24 * time.Hour }, func(c *push.GetuiConfig) { c.NowFunc = clock })
	send(t, e.provider, pushMsg("20261127-00000001-0000001-0", "cid-a"))
	mu.Lock()
	now = now.Add(23*time.Hour + 30*time.Minute) // within the hour before the token expires
	mu.Unlock()
	send(t, e.provider, pushMsg("20261127-00000001-0000002-0", "cid-b"))
	require.EqualValues(t, 2, e.auths.Load(), "the token is replaced before it expires")
}

func TestGetuiBatchAndFallback(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	msgs := []channels.Message{
		pushMsg("20261127-00000002-0000001-0", "cid-1"),
		pushMsg("20261127-00000002-0000002-0", "cid-2"),
		pushMsg("20261127-00000002-0000003-0", "cid-1"), // same device again: another request
		pushMsg("20261127-00000002-0000004-0", "cid-fail-4"),
	}
	res := send(t, e.provider, msgs...)
	for _, i := range []int{0, 1, 2} {
		require.Equal(t, channels.Sent, res[i].Status, "message %d: %s", i, res[i].Reason)
		require.True(t, strings.HasPrefix(res[i].VendorID, "RASS_"), res[i].VendorID)
	}
	require.NotEqual(t, res[0].VendorID, res[2].VendorID, "each message is its own task")
	require.Equal(t, channels.Failed, res[3].Status)
	require.False(t, res[3].Retryable)
	require.Contains(t, res[3].Reason, push.GetuiTargetInvalid)
	require.Len(t, e.sim.Messages(channels.AppPush, "cid-1"), 2)
	require.Len(t, e.sim.Messages(channels.AppPush, "cid-2"), 1)
	require.Zero(t, e.sim.Stats().Repeated[channels.AppPush])
	// A retried message keeps its request_id, and Getui does not push it again.
	again := send(t, e.provider, msgs[1])
	require.Equal(t, res[1].VendorID, again[0].VendorID)
	require.Len(t, e.sim.Messages(channels.AppPush, "cid-2"), 1, "the repeated request_id was dropped")
}

func TestGetuiReceiptsWithEngagement(t *testing.T) {
	e := newSimEnv(t, func(c *sim.Config) { c.DisplayRate, c.ClickRate = 1, 1 }, nil)
	res := send(t, e.provider, pushMsg("20261127-00000003-0000001-0", "cid-engaged"))
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	seen := map[channels.Status]bool{}
	deadline := time.After(10 * time.Second)
	for len(seen) < 3 {
		select {
		case body := <-e.receipts:
			rs, err := e.provider.ParseReceipts(httptest.NewRequest(http.MethodPost, "/callbacks/app_push/getui", strings.NewReader(string(body))))
			require.NoError(t, err)
			for _, rc := range rs {
				require.Equal(t, res[0].VendorID, rc.VendorID)
				require.Equal(t, "cid-engaged", rc.Address)
				require.Equal(t, "getui", rc.Provider)
				seen[rc.Status] = true
			}
		case <-deadline:
			t.Fatalf("receipts seen: %v", seen)
		}
	}
	require.True(t, seen[channels.Delivered] && seen[channels.Displayed] && seen[channels.Clicked])
}

// fakeGetui answers every push with code/status/data; auth always succeeds.
func fakeGetui(t *testing.T, status int, answer string, bodies chan<- map[string]any) *push.Getui {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/auth") {
			fmt.Fprintf(w, `{"code":0,"msg":"success","data":{"expire_time":"%d","token":"tok"}}`, time.Now().Add(24*time.Hour).UnixMilli())
			return
		}
		if bodies != nil {
			var m map[string]any
			_ = json.NewDecoder(r.Body).Decode(&m)
			m["_path"] = r.URL.Path
			m["_token"] = r.Header.Get("token")
			bodies <- m
		}
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	p, err := push.NewGetui(push.GetuiConfig{Endpoint: srv.URL, AppID: "app1", AppKey: "k", MasterSecret: "s", TTL: time.Hour})
	require.NoError(t, err)
	return p
}

func TestGetuiRequestBody(t *testing.T) {
	bodies := make(chan map[string]any, 1)
	p := fakeGetui(t, 200, `{"code":0,"msg":"","data":{"RASS_1":{"cid-x":"successed_offline"}}}`, bodies)
	m := pushMsg("20261127-00000004-0000001-0", "cid-x")
	m.Extra = map[string]any{"clickAction": "url", "url": "https://shop.example.com/orders/1"}
	res := send(t, p, m)
	require.Equal(t, channels.Result{MessageID: m.ID, VendorID: "RASS_1", Status: channels.Sent, CostUnits: 1}, res[0])
	b := <-bodies
	require.Equal(t, "/v2/app1/push/single/cid", b["_path"])
	require.Equal(t, "tok", b["_token"])
	require.Equal(t, m.ID, b["request_id"], "request_id is Herald's message id")
	require.Equal(t, map[string]any{"cid": []any{"cid-x"}}, b["audience"])
	require.Equal(t, map[string]any{"ttl": float64(3600000)}, b["settings"])
	require.Equal(t, map[string]any{"notification": map[string]any{"title": "Parcel", "body": m.Body,
		"click_type": "url", "url": "https://shop.example.com/orders/1"}}, b["push_message"])
}

func TestGetuiNotificationFromExtra(t *testing.T) {
	bodies := make(chan map[string]any, 1)
	p := fakeGetui(t, 200, `{"code":0,"data":{"T":{"c":"successed_online"}}}`, bodies)
	cases := []struct {
		extra map[string]any
		want  map[string]any
	}{
		{nil, map[string]any{"click_type": "startapp"}},
		{map[string]any{"payload": map[string]any{"orderId": "42"}}, map[string]any{"click_type": "payload", "payload": `{"orderId":"42"}`}},
		{map[string]any{"clickAction": "intent", "intent": "intent:#Intent;end"}, map[string]any{"click_type": "intent", "intent": "intent:#Intent;end"}},
	}
	for i, c := range cases {
		m := pushMsg(fmt.Sprintf("20261127-00000005-000000%d-0", i), "c")
		m.Extra = c.extra
		send(t, p, m)
		n := (<-bodies)["push_message"].(map[string]any)["notification"].(map[string]any)
		for k, v := range c.want {
			require.Equal(t, v, n[k], "case %d field %s", i, k)
		}
	}
}

func TestGetuiLocalRefusals(t *testing.T) {
	p := fakeGetui(t, 200, `{"code":0}`, nil)
	long := strings.Repeat("字", push.GetuiTitleMax+1)
	cases := map[string]channels.Message{
		"no cid":       {ID: "20261127-00000006-0000001-0", Address: " ", Title: "t", Body: "b"},
		"no title":     {ID: "20261127-00000006-0000002-0", Address: "c", Body: "b"},
		"long title":   {ID: "20261127-00000006-0000003-0", Address: "c", Title: long, Body: "b"},
		"empty body":   {ID: "20261127-00000006-0000004-0", Address: "c", Title: "t", Body: " "},
		"url, no url":  {ID: "20261127-00000006-0000005-0", Address: "c", Title: "t", Body: "b", Extra: map[string]any{"clickAction": "url"}},
		"bad action":   {ID: "20261127-00000006-0000006-0", Address: "c", Title: "t", Body: "b", Extra: map[string]any{"clickAction": "sms"}},
		"cid with tab": {ID: "20261127-00000006-0000007-0", Address: "a\tb", Title: "t", Body: "b"},
	}
	for name, m := range cases {
		res := send(t, p, m)
		require.Equal(t, channels.Failed, res[0].Status, name)
		require.False(t, res[0].Retryable, name)
		require.NotEmpty(t, res[0].Reason, name)
	}
}

func TestGetuiErrorMapping(t *testing.T) {
	cases := []struct {
		status    int
		answer    string
		result    channels.Status
		retryable bool
	}{
		{400, `{"code":20001,"msg":"target user is invalid"}`, channels.Failed, false},
		{401, `{"code":10005,"msg":"每分钟调用频率超限"}`, channels.Failed, true},
		{401, `{"code":10002,"msg":"appId或ip在黑名单中"}`, channels.Failed, false},
		{403, `{"code":30019,"msg":"系统繁忙，请稍后重试"}`, channels.Failed, true},
		{403, `{"code":30009,"msg":"推送次数超过每日推送总数限制"}`, channels.Failed, true},
		{403, `{"code":30003,"msg":"app/tag 接口无权限"}`, channels.Failed, false},
		{200, `{"code":2,"msg":"服务正在启动"}`, channels.Failed, true},
		{502, `<html>bad gateway</html>`, channels.Failed, true},
		{400, `not json`, channels.Failed, true},
		{401, `{"code":10001,"msg":"not auth"}`, channels.Failed, true}, // still refused after a new token
		{200, `{"code":0,"data":{"RASS_9":{"cid-e":"successed_ignore"}}}`, channels.Failed, false},
		{200, `{"code":0,"data":{}}`, channels.Failed, true},
	}
	for _, c := range cases {
		p := fakeGetui(t, c.status, c.answer, nil)
		res := send(t, p, pushMsg("20261127-00000007-0000001-0", "cid-e"))
		require.Equal(t, c.result, res[0].Status, c.answer)
		require.Equal(t, c.retryable, res[0].Retryable, "%s: %s", c.answer, res[0].Reason)
		require.NotEmpty(t, res[0].Reason, c.answer)
	}
}

func TestGetuiUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	p, err := push.NewGetui(push.GetuiConfig{Endpoint: srv.URL, AppID: "a", AppKey: "k", MasterSecret: "s"})
	require.NoError(t, err)
	_, err = p.Send(context.Background(), []channels.Message{pushMsg("20261127-00000008-0000001-0", "c")})
	require.Error(t, err, "no request reached Getui")
}

func TestGetuiConfigValidation(t *testing.T) {
	ok := push.GetuiConfig{AppID: "a", AppKey: "k", MasterSecret: "s"}
	cases := map[string]func(*push.GetuiConfig){
		"AppID":        func(c *push.GetuiConfig) { c.AppID = "" },
		"AppKey":       func(c *push.GetuiConfig) { c.AppKey = "" },
		"MasterSecret": func(c *push.GetuiConfig) { c.MasterSecret = "" },
		"Endpoint":     func(c *push.GetuiConfig) { c.Endpoint = "ftp://x" },
		"TTL":          func(c *push.GetuiConfig) { c.TTL = 73 * time.Hour },
		"DefaultTitle": func(c *push.GetuiConfig) { c.DefaultTitle = strings.Repeat("t", 51) },
	}
	for field, mutate := range cases {
		c := ok
		mutate(&c)
		_, err := push.NewGetui(c)
		require.ErrorContains(t, err, field)
	}
	_, err := push.NewGetui(ok)
	require.NoError(t, err)
}

func TestRequestID(t *testing.T) {
	require.Equal(t, "20261127-0000000a-0000001-0", push.RequestID("20261127-0000000a-0000001-0"))
	short := push.RequestID("m1")
	require.Len(t, short, 32)
	require.Equal(t, short, push.RequestID("m1"), "the same message keeps its request_id")
	require.Len(t, push.RequestID(strings.Repeat("x", 40)), 32)
	require.Len(t, push.RequestID("has spaces in it"), 32)
}

// receiptLine is a genuine receipt line of app sim-app signed with sim-secret.
func receiptLine(cid, task, action, code string, recv time.Time) string {
	b, _ := json.Marshal(push.GetuiReceipt{AppID: "sim-app", CID: cid, TaskID: task, MsgID: "m-" + task, Code: code, Desc: "desc",
		Sign: push.GetuiReceiptSign("sim-app", cid, task, "m-"+task, "sim-secret"), ActionID: action, RecvTime: recv.UnixMilli()})
	return string(b)
}

func receiptProvider(t testing.TB, now time.Time) *push.Getui {
	p, err := push.NewGetui(push.GetuiConfig{AppID: "sim-app", AppKey: "sim-key", MasterSecret: "sim-secret", NowFunc: func() time.Time { return now }})
	require.NoError(t, err)
	return p
}

func parse(p *push.Getui, body string) ([]channels.Receipt, error) {
	return p.ParseReceipts(httptest.NewRequest(http.MethodPost, "/callbacks/app_push/getui", strings.NewReader(body)))
}

func TestGetuiParseReceipts(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	p := receiptProvider(t, now)
	body := strings.Join([]string{
		receiptLine("c1", "T1", "0", "200", now),
		receiptLine("c1", "T1", "10000", "200", now),
		receiptLine("c1", "T1", "10010", "200", now),
		"",
		receiptLine("c2", "T2", "90001", "200", now), // a custom action carries no status
		receiptLine("c3", "T3", "0", "401", now),
		receiptLine("c4", "T4", "150000", "200", now),
	}, "\n")
	rs, err := parse(p, body)
	require.NoError(t, err)
	want := []struct {
		task   string
		status channels.Status
		reason string
	}{{"T1", channels.Delivered, ""}, {"T1", channels.Displayed, ""}, {"T1", channels.Clicked, ""}, {"T3", channels.Failed, "401: desc"}, {"T4", channels.Delivered, ""}}
	require.Len(t, rs, len(want))
	for i, w := range want {
		require.Equal(t, w.task, rs[i].VendorID)
		require.Equal(t, w.status, rs[i].Status)
		require.Equal(t, w.reason, rs[i].Reason)
		require.Equal(t, channels.AppPush, rs[i].Channel)
		require.Equal(t, "getui", rs[i].Provider)
		require.True(t, rs[i].At.Equal(now))
	}

	// A replay of the same request parses to the same receipts (statuses only move forward).
	again, err := parse(p, body)
	require.NoError(t, err)
	require.Equal(t, rs, again)
}

func TestGetuiReceiptsRefused(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	p := receiptProvider(t, now)
	good := receiptLine("c1", "T1", "0", "200", now)
	forgedSign := strings.Replace(good, `"sign":"`, `"sign":"0`, 1)
	otherApp := strings.Replace(good, `"appid":"sim-app"`, `"appid":"other"`, 1)
	changedTask := strings.Replace(good, `"taskid":"T1"`, `"taskid":"T2"`, 1)
	stale := receiptLine("c1", "T1", "0", "200", now.Add(-25*time.Hour))
	for name, body := range map[string]string{
		"forged sign":        forgedSign,
		"other app":          otherApp,
		"changed task":       changedTask,
		"stale":              stale,
		"one forged of two:": good + "\n" + forgedSign,
	} {
		rs, err := parse(p, body)
		require.Truef(t, errors.Is(err, channels.ErrUnverified), "%s: want ErrUnverified, got %v", name, err)
		require.Nil(t, rs, name)
	}
	for name, body := range map[string]string{
		"empty":     "",
		"not json":  "appid=sim-app",
		"truncated": good[:len(good)/2],
		"no task":   receiptLine("c1", "", "0", "200", now),
	} {
		rs, err := parse(p, body)
		require.Error(t, err, name)
		require.False(t, errors.Is(err, channels.ErrUnverified), "%s is malformed, not forged", name)
		require.Nil(t, rs, name)
	}
	_, err := p.ParseReceipts(httptest.NewRequest(http.MethodGet, "/callbacks/app_push/getui", nil))
	require.Error(t, err)
}

func FuzzGetuiReceipts(f *testing.F) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	f.Add(receiptLine("c1", "T1", "0", "200", now))
	f.Add(receiptLine("c1", "T1", "10010", "200", now) + "\n" + receiptLine("c2", "T2", "0", "500", now))
	f.Add("")
	f.Add("{}\n{")
	p := receiptProvider(f, now)
	f.Fuzz(func(t *testing.T, body string) {
		rs, err := parse(p, body)
		if err != nil {
			require.Nil(t, rs)
			return
		}
		for _, rc := range rs {
			// Only a correctly signed line for the app can yield a receipt.
			require.NotEmpty(t, rc.VendorID)
			require.Contains(t, []channels.Status{channels.Delivered, channels.Displayed, channels.Clicked, channels.Failed}, rc.Status)
			require.Equal(t, channels.AppPush, rc.Channel)
		}
	})
}
