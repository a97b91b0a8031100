package voice

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
)

// fakeVMS is a Dyvmsapi stand-in that records the forms it got and answers with answer.
type fakeVMS struct {
	srv    *httptest.Server
	mu     sync.Mutex
	forms  []url.Values
	answer func(form url.Values) (int, string)
}

func newFakeVMS(t *testing.T, answer func(url.Values) (int, string)) *fakeVMS {
	t.Helper()
	v := &fakeVMS{answer: answer}
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v.mu.Lock()
		v.forms = append(v.forms, r.PostForm)
		v.mu.Unlock()
		status, body := v.answer(r.PostForm)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *fakeVMS) received() []url.Values {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]url.Values(nil), v.forms...)
}

func okAnswer(url.Values) (int, string) {
	return http.StatusOK, `{"Code":"OK","Message":"OK","CallId":"116012354148^102675812411","RequestId":"R1"}`
}

var fixedNow = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func newTestAliyun(t *testing.T, endpoint string, mutate ...func(*AliyunConfig)) *Aliyun {
	t.Helper()
	cfg := AliyunConfig{
		Endpoint: endpoint, AccessKeyID: "key", AccessKeySecret: "secret", TtsCode: "TTS_10001",
		CalledShowNumber: "057188773344", CallbackToken: "tok", NowFunc: func() time.Time { return fixedNow },
	}
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := NewAliyun(cfg)
	require.NoError(t, err)
	return a
}

func TestAliyunCallRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		msg       channels.Message
		wantCode  string
		wantParam string
	}{
		{name: "free text goes through the provider's template",
			msg:      channels.Message{ID: "m1", Address: "+8613800138000", Body: "您的验证码是 1234"},
			wantCode: "TTS_10001", wantParam: `{"content":"您的验证码是 1234"}`},
		{name: "a variant's TTS template takes the send's variables",
			msg: channels.Message{ID: "m2", Address: "13800138000", Body: "ignored",
				Extra: map[string]any{"ttsCode": "TTS_777"}, Variables: map[string]any{"code": "4321", "n": float64(5)}},
			wantCode: "TTS_777", wantParam: `{"code":"4321","n":"5"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newFakeVMS(t, okAnswer)
			a := newTestAliyun(t, v.srv.URL)
			res, err := a.Send(context.Background(), []channels.Message{tt.msg})
			require.NoError(t, err)
			require.Equal(t, channels.Result{MessageID: tt.msg.ID, VendorID: "116012354148^102675812411", Status: channels.Sent, CostUnits: 1}, res[0])
			forms := v.received()
			require.Len(t, forms, 1)
			f := forms[0]
			require.Equal(t, "SingleCallByTts", f.Get("Action"))
			require.Equal(t, "2017-05-25", f.Get("Version"))
			require.Equal(t, "13800138000", f.Get("CalledNumber"))
			require.Equal(t, "057188773344", f.Get("CalledShowNumber"))
			require.Equal(t, tt.wantCode, f.Get("TtsCode"))
			require.JSONEq(t, tt.wantParam, f.Get("TtsParam"))
			require.Equal(t, "2", f.Get("PlayTimes"))
			require.Equal(t, tt.msg.ID, f.Get("OutId"))
			require.Equal(t, "2026-11-27T08:00:00Z", f.Get("Timestamp"))
			require.Equal(t, "key", f.Get("AccessKeyId"))
			// The signature is the POP RPC HMAC-SHA1 of the other parameters, keyed by secret&.
			require.Equal(t, sms.SignRPC("secret", sms.StringToSign(http.MethodPost, f)), f.Get("Signature"))
			require.NotEqual(t, sms.SignRPC("other", sms.StringToSign(http.MethodPost, f)), f.Get("Signature"))
		})
	}
}

func TestAliyunCallAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status        int
		body          string
		wantRetryable bool
		wantReason    string
	}{
		{"illegal number is permanent", 200, `{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"号码格式非法","RequestId":"R"}`, false, "isv.MOBILE_NUMBER_ILLEGAL: 号码格式非法"},
		{"bad template is permanent", 200, `{"Code":"isv.TTS_TEMPLATE_ILLEGAL","Message":"模板不合法","RequestId":"R"}`, false, "isv.TTS_TEMPLATE_ILLEGAL: 模板不合法"},
		{"flow control is retryable", 200, `{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发流控","RequestId":"R"}`, true, "isv.BUSINESS_LIMIT_CONTROL: 触发流控"},
		{"throttling is retryable", 400, `{"Code":"Throttling.User","Message":"Request was denied due to user flow control.","RequestId":"R"}`, true, "Throttling.User: Request was denied due to user flow control."},
		{"system error is retryable", 200, `{"Code":"isp.SYSTEM_ERROR","Message":"系统错误","RequestId":"R"}`, true, "isp.SYSTEM_ERROR: 系统错误"},
		{"5xx is retryable", 503, `{"Code":"ServiceUnavailable","Message":"busy","RequestId":"R"}`, true, "ServiceUnavailable: busy"},
		{"unreadable 502 is retryable", 502, `<html>bad gateway</html>`, true, "HTTP 502: unreadable answer"},
		{"unreadable 404 is permanent", 404, `not here`, false, "HTTP 404: unreadable answer"},
		{"bad signature is permanent", 400, `{"Code":"SignatureDoesNotMatch","Message":"no","RequestId":"R"}`, false, "SignatureDoesNotMatch: no"},
		{"OK without CallId is permanent", 200, `{"Code":"OK","Message":"OK","RequestId":"R"}`, false, "answer OK without a CallId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newFakeVMS(t, func(url.Values) (int, string) { return tt.status, tt.body })
			a := newTestAliyun(t, v.srv.URL)
			res, err := a.Send(context.Background(), []channels.Message{{ID: "m", Address: "13800138000", Body: "hi"}})
			require.NoError(t, err)
			require.Equal(t, channels.Failed, res[0].Status)
			require.Equal(t, tt.wantRetryable, res[0].Retryable)
			require.Equal(t, tt.wantReason, res[0].Reason)
		})
	}
}

func TestAliyunCallRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	v := newFakeVMS(t, okAnswer)
	a := newTestAliyun(t, v.srv.URL, func(c *AliyunConfig) { c.TtsCode = "" })
	res, err := a.Send(context.Background(), []channels.Message{
		{ID: "a", Address: "13800138000", Body: "hi"},
		{ID: "b", Address: " ", Body: "hi", Extra: map[string]any{"ttsCode": "TTS_1"}},
	})
	require.NoError(t, err)
	require.Equal(t, channels.Failed, res[0].Status)
	require.False(t, res[0].Retryable)
	require.Contains(t, res[0].Reason, "no TTS template")
	require.Equal(t, "no phone number", res[1].Reason)
	require.Empty(t, v.received(), "nothing reached the vendor")
}

func TestAliyunCallTransportFailure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens any more
	a := newTestAliyun(t, srv.URL)
	_, err := a.Send(context.Background(), []channels.Message{{ID: "a", Address: "13800138000", Body: "x"}})
	require.Error(t, err, "no request reached the vendor: the batch may be retried")
}

func TestNewAliyunValidation(t *testing.T) {
	t.Parallel()
	base := AliyunConfig{AccessKeyID: "k", AccessKeySecret: "s"}
	tests := []struct {
		name   string
		mutate func(*AliyunConfig)
		want   string
	}{
		{"no key id", func(c *AliyunConfig) { c.AccessKeyID = "" }, "accessKeyId"},
		{"no secret", func(c *AliyunConfig) { c.AccessKeySecret = "" }, "accessKeySecret"},
		{"play times", func(c *AliyunConfig) { c.PlayTimes = 4 }, "playTimes"},
		{"concurrency", func(c *AliyunConfig) { c.Concurrency = -1 }, "concurrency"},
		{"endpoint", func(c *AliyunConfig) { c.Endpoint = "ftp://x" }, "endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.mutate(&cfg)
			_, err := NewAliyun(cfg)
			require.ErrorContains(t, err, tt.want)
		})
	}
	a, err := NewAliyun(base)
	require.NoError(t, err)
	require.Equal(t, "aliyun", a.Name())
	require.Equal(t, channels.Voice, a.Channel())
}

func reportRequest(token, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/callbacks/voice/aliyun?token="+url.QueryEscape(token), strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func TestAliyunVoiceReports(t *testing.T) {
	t.Parallel()
	a := newTestAliyun(t, "https://dyvmsapi.aliyuncs.com")
	body := `[
	 {"call_id":"1^1","callee":"13800138000","duration":"12","status_code":"200000","status_msg":"用户听完语音","out_id":"m1","end_time":"2026-11-27 16:00:12"},
	 {"call_id":"1^2","callee":"13800138001","duration":"3","status_code":"200001","status_msg":"用户提前挂机","out_id":"m2"},
	 {"call_id":"1^3","callee":"13800138002","duration":"0","status_code":"200002","status_msg":"用户占线","out_id":"m3"},
	 {"call_id":"1^4","callee":"13800138003","duration":"0","status_code":"200003","status_msg":"用户收到呼叫但未接听","out_id":"m4"},
	 {"call_id":"1^5","callee":"13800138004","duration":"0","status_code":"200010","status_msg":"关机","out_id":""}
	]`
	rs, err := a.ParseReceipts(reportRequest("tok", body))
	require.NoError(t, err)
	require.Len(t, rs, 5)
	require.Equal(t, channels.Receipt{Channel: channels.Voice, Provider: "aliyun", MessageID: "m1", VendorID: "1^1",
		Address: "13800138000", Status: channels.Delivered, At: time.Date(2026, 11, 27, 8, 0, 12, 0, time.UTC)}, withUTC(rs[0]))
	require.Equal(t, channels.Delivered, rs[1].Status, "picked up and hung up early is still answered")
	require.Equal(t, fixedNow, rs[1].At, "no end_time: the time of arrival")
	require.Equal(t, channels.Failed, rs[2].Status)
	require.Equal(t, "200002: 用户占线", rs[2].Reason)
	require.Equal(t, "200003: 用户收到呼叫但未接听", rs[3].Reason)
	require.Equal(t, channels.Failed, rs[4].Status)
	require.Equal(t, "1^5", rs[4].VendorID, "matched by CallId when no out_id came back")
}

func withUTC(r channels.Receipt) channels.Receipt {
	r.At = r.At.UTC()
	return r
}

func TestAliyunVoiceReportsRefused(t *testing.T) {
	t.Parallel()
	a := newTestAliyun(t, "https://dyvmsapi.aliyuncs.com")
	good := `[{"call_id":"1^1","callee":"13800138000","status_code":"200000","out_id":"m1"}]`
	for _, tok := range []string{"", "TOK", "tok2", "to"} {
		_, err := a.ParseReceipts(reportRequest(tok, good))
		require.ErrorIs(t, err, channels.ErrUnverified, "token %q", tok)
	}
	noToken := newTestAliyun(t, "https://x.test", func(c *AliyunConfig) { c.CallbackToken = "" })
	_, err := noToken.ParseReceipts(reportRequest("", good))
	require.ErrorIs(t, err, channels.ErrUnverified, "a provider without a token trusts no report")

	for _, body := range []string{`{`, `{"call_id":"1"}`, `[{"status_code":"200000"}]`, `[{"call_id":"1^1","out_id":"m"}]`} {
		_, err := a.ParseReceipts(reportRequest("tok", body))
		require.Error(t, err, body)
		require.False(t, errors.Is(err, channels.ErrUnverified), "malformed is not unverified: %s", body)
	}
	get := reportRequest("tok", good)
	get.Method = http.MethodGet
	_, err = a.ParseReceipts(get)
	require.ErrorContains(t, err, "method GET")
}

func FuzzAliyunVoiceReport(f *testing.F) {
	f.Add(`[{"call_id":"1^1","callee":"13800138000","status_code":"200000","status_msg":"ok","out_id":"m1","end_time":"2026-11-27 16:00:12"}]`)
	f.Add(`[{"call_id":"1^2","status_code":"200002"}]`)
	f.Add(`[]`)
	f.Add(`{"a":1}`)
	a, err := NewAliyun(AliyunConfig{AccessKeyID: "k", AccessKeySecret: "s", CallbackToken: "tok"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rs, err := a.ParseReceipts(reportRequest("tok", body))
		if err != nil {
			if errors.Is(err, channels.ErrUnverified) {
				t.Fatalf("a body with the right token is never unverified: %v", err)
			}
			return
		}
		for _, r := range rs {
			if r.Channel != channels.Voice || r.Provider != "aliyun" {
				t.Fatalf("receipt of the wrong channel or provider: %+v", r)
			}
			if r.Status != channels.Delivered && r.Status != channels.Failed {
				t.Fatalf("status %q", r.Status)
			}
			if r.MessageID == "" && r.VendorID == "" {
				t.Fatalf("receipt matches no message: %+v", r)
			}
			if (r.Status == channels.Failed) != (r.Reason != "") {
				t.Fatalf("a failure and only a failure has a reason: %+v", r)
			}
		}
	})
}
