package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

// vendor is a fake dysmsapi that records the forms it got and answers with answerFunc.
type vendor struct {
	srv        *httptest.Server
	mu         sync.Mutex
	forms      []url.Values
	answerFunc func(form url.Values) (int, string)
}

func newVendor(t *testing.T, answer func(form url.Values) (int, string)) *vendor {
	t.Helper()
	v := &vendor{answerFunc: answer}
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v.mu.Lock()
		v.forms = append(v.forms, r.PostForm)
		v.mu.Unlock()
		status, body := v.answerFunc(r.PostForm)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(v.srv.Close)
	return v
}

// received returns the forms the vendor got.
func (v *vendor) received() []url.Values {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]url.Values(nil), v.forms...)
}

func ok(url.Values) (int, string) {
	return http.StatusOK, `{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"R1"}`
}

func newTestAliyun(t *testing.T, endpoint string, mutate ...func(*AliyunConfig)) *Aliyun {
	t.Helper()
	cfg := AliyunConfig{
		Endpoint: endpoint, AccessKeyID: "key", AccessKeySecret: "secret",
		SignName: "Herald", TemplateCode: "SMS_TEXT", CallbackToken: "tok",
	}
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := NewAliyun(cfg)
	require.NoError(t, err)
	return a
}

func TestAliyunSendRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		msg       channels.Message
		wantParam map[string]string // TemplateParam decoded; nil means absent
		wantCode  string
		wantSign  string
	}{
		{
			name:      "free text uses the content template",
			msg:       channels.Message{ID: "m1", Address: "+8613800138000", Body: "hello 世界"},
			wantParam: map[string]string{"content": "hello 世界"},
			wantCode:  "SMS_TEXT", wantSign: "Herald",
		},
		{
			name: "vendor template with its own params and sign",
			msg: channels.Message{ID: "m2", Address: "13800138000", Extra: map[string]any{
				"sign": "Shop", "templateCode": "SMS_1", "params": map[string]any{"code": "1234", "n": float64(3)},
			}, Variables: map[string]any{"ignored": "x"}},
			wantParam: map[string]string{"code": "1234", "n": "3"},
			wantCode:  "SMS_1", wantSign: "Shop",
		},
		{
			name:      "vendor template falls back to the send's variables",
			msg:       channels.Message{ID: "m3", Address: "13800138000", Extra: map[string]any{"templateCode": "SMS_2"}, Variables: map[string]any{"name": "Li"}},
			wantParam: map[string]string{"name": "Li"},
			wantCode:  "SMS_2", wantSign: "Herald",
		},
		{
			name:     "vendor template without params",
			msg:      channels.Message{ID: "m4", Address: "13800138000", Extra: map[string]any{"templateCode": "SMS_3"}},
			wantCode: "SMS_3", wantSign: "Herald",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVendor(t, ok)
			a := newTestAliyun(t, v.srv.URL)
			res, err := a.Send(context.Background(), []channels.Message{tt.msg})
			require.NoError(t, err)
			require.Equal(t, channels.Sent, res[0].Status)
			forms := v.received()
			require.Len(t, forms, 1)
			f := forms[0]

			require.Equal(t, "SendSms", f.Get("Action"))
			require.Equal(t, APIVersion, f.Get("Version"))
			require.Equal(t, "JSON", f.Get("Format"))
			require.Equal(t, "key", f.Get("AccessKeyId"))
			require.Equal(t, "HMAC-SHA1", f.Get("SignatureMethod"))
			require.Equal(t, "1.0", f.Get("SignatureVersion"))
			require.NotEmpty(t, f.Get("SignatureNonce"))
			_, err = time.Parse(TimestampLayout, f.Get("Timestamp"))
			require.NoError(t, err)
			require.Equal(t, strings.TrimPrefix(tt.msg.Address, "+"), f.Get("PhoneNumbers"))
			require.Equal(t, tt.wantSign, f.Get("SignName"))
			require.Equal(t, tt.wantCode, f.Get("TemplateCode"))
			require.Equal(t, tt.msg.ID, f.Get("OutId"))
			if tt.wantParam == nil {
				require.Empty(t, f.Get("TemplateParam"))
			} else {
				var got map[string]string
				require.NoError(t, json.Unmarshal([]byte(f.Get("TemplateParam")), &got))
				require.Equal(t, tt.wantParam, got)
			}
			require.Equal(t, SignRPC("secret", StringToSign(http.MethodPost, f)), f.Get("Signature"))
		})
	}
}

func TestAliyunAnswerMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status        int
		body          string
		wantStatus    channels.Status
		wantRetryable bool
		wantReason    string
	}{
		{"accepted", 200, `{"Code":"OK","Message":"OK","BizId":"B1","RequestId":"R"}`, channels.Sent, false, ""},
		{"bad number", 200, `{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"非法手机号","RequestId":"R"}`, channels.Failed, false, "isv.MOBILE_NUMBER_ILLEGAL: 非法手机号"},
		{"template missing", 200, `{"Code":"isv.SMS_TEMPLATE_ILLEGAL","Message":"x","RequestId":"R"}`, channels.Failed, false, "isv.SMS_TEMPLATE_ILLEGAL: x"},
		{"no balance", 200, `{"Code":"isv.AMOUNT_NOT_ENOUGH","Message":"x","RequestId":"R"}`, channels.Failed, false, "isv.AMOUNT_NOT_ENOUGH: x"},
		{"flow control", 200, `{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控","RequestId":"R"}`, channels.Failed, true, "isv.BUSINESS_LIMIT_CONTROL: 触发分钟级流控"},
		{"gateway throttling", 400, `{"Code":"Throttling.User","Message":"Request was denied due to user flow control.","RequestId":"R"}`, channels.Failed, true, "Throttling.User: Request was denied due to user flow control."},
		{"vendor fault", 200, `{"Code":"isp.SYSTEM_ERROR","Message":"x","RequestId":"R"}`, channels.Failed, true, "isp.SYSTEM_ERROR: x"},
		{"service unavailable", 503, `{"Code":"ServiceUnavailable","Message":"x","RequestId":"R"}`, channels.Failed, true, "ServiceUnavailable: x"},
		{"5xx without json", 502, `<html>bad gateway</html>`, channels.Failed, true, "HTTP 502: unreadable answer"},
		{"4xx without json", 404, `not found`, channels.Failed, false, "HTTP 404: unreadable answer"},
		{"wrong signature", 400, `{"Code":"SignatureDoesNotMatch","Message":"x","RequestId":"R"}`, channels.Failed, false, "SignatureDoesNotMatch: x"},
		{"unknown key", 404, `{"Code":"InvalidAccessKeyId.NotFound","Message":"x","RequestId":"R"}`, channels.Failed, false, "InvalidAccessKeyId.NotFound: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVendor(t, func(url.Values) (int, string) { return tt.status, tt.body })
			a := newTestAliyun(t, v.srv.URL)
			res, err := a.Send(context.Background(), []channels.Message{{ID: "m1", Address: "13800138000", Body: "hi"}})
			require.NoError(t, err)
			require.Len(t, res, 1)
			r := res[0]
			require.Equal(t, "m1", r.MessageID)
			require.Equal(t, tt.wantStatus, r.Status)
			require.Equal(t, tt.wantRetryable, r.Retryable)
			require.Equal(t, tt.wantReason, r.Reason)
			if tt.wantStatus == channels.Sent {
				require.Equal(t, "B1", r.VendorID)
				require.Equal(t, 1, r.CostUnits)
			} else {
				require.Zero(t, r.CostUnits)
			}
		})
	}
}

func TestAliyunSendLocalFailures(t *testing.T) {
	t.Parallel()
	v := newVendor(t, ok)
	a := newTestAliyun(t, v.srv.URL, func(c *AliyunConfig) { c.SignName, c.TemplateCode = "", "" })
	res, err := a.Send(context.Background(), []channels.Message{
		{ID: "no-sign", Address: "13800138000", Body: "x"},
		{ID: "no-template", Address: "13800138000", Body: "x", Extra: map[string]any{"sign": "S"}},
		{ID: "no-phone", Address: " ", Extra: map[string]any{"sign": "S", "templateCode": "T"}},
		{ID: "fine", Address: "13800138000", Extra: map[string]any{"sign": "S", "templateCode": "T"}},
	})
	require.NoError(t, err)
	for _, r := range res[:3] {
		require.Equal(t, channels.Failed, r.Status, r.MessageID)
		require.False(t, r.Retryable, r.MessageID)
	}
	require.Equal(t, channels.Sent, res[3].Status)
	require.Len(t, v.received(), 1, "only the complete message reaches the vendor")
}

func TestAliyunSendCostUnits(t *testing.T) {
	t.Parallel()
	v := newVendor(t, ok)
	a := newTestAliyun(t, v.srv.URL)
	res, err := a.Send(context.Background(), []channels.Message{
		{ID: "short", Address: "13800138000", Body: strings.Repeat("a", 62)},
		{ID: "long", Address: "13800138000", Body: strings.Repeat("好", 100)},
	})
	require.NoError(t, err)
	require.Equal(t, 1, res[0].CostUnits, "【Herald】 + 62 chars is 70 UCS-2 units")
	require.Equal(t, 2, res[1].CostUnits, "【Herald】 + 100 chars is 108 units, two parts of 67")
}

func TestAliyunSendTransportFailure(t *testing.T) {
	t.Parallel()
	v := newVendor(t, ok)
	a := newTestAliyun(t, v.srv.URL)
	v.srv.Close()
	res, err := a.Send(context.Background(), []channels.Message{{ID: "a", Address: "13800138000"}, {ID: "b", Address: "13800138001"}})
	require.Error(t, err, "no request reached the vendor: the whole batch may be retried")
	require.Nil(t, res)
}

func TestAliyunSendPartialTransportFailure(t *testing.T) {
	t.Parallel()
	v := newVendor(t, ok)
	var calls atomic.Int32
	v.answerFunc = func(url.Values) (int, string) {
		if calls.Add(1) == 1 {
			return ok(nil)
		}
		return 503, `{"Code":"ServiceUnavailable","Message":"x"}`
	}
	a := newTestAliyun(t, v.srv.URL, func(c *AliyunConfig) { c.Concurrency = 1 })
	res, err := a.Send(context.Background(), []channels.Message{
		{ID: "a", Address: "13800138000", Extra: map[string]any{"templateCode": "SMS_A"}},
		{ID: "b", Address: "13800138001", Extra: map[string]any{"templateCode": "SMS_B"}}})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status)
	require.True(t, res[1].Retryable)
}

func TestAliyunSendBoundsConcurrency(t *testing.T) {
	t.Parallel()
	const limit = 3
	var inflight, peak atomic.Int32
	release := make(chan struct{})
	v := newVendor(t, func(url.Values) (int, string) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inflight.Add(-1)
		return ok(nil)
	})
	a := newTestAliyun(t, v.srv.URL, func(c *AliyunConfig) { c.Concurrency = limit })
	msgs := make([]channels.Message, 4*limit)
	for i := range msgs {
		// Each of its own template, so that each takes a request of its own.
		msgs[i] = channels.Message{ID: string(rune('a' + i)), Address: "13800138000", Extra: map[string]any{"templateCode": fmt.Sprintf("SMS_%d", i)}}
	}
	done := make(chan []channels.Result)
	go func() {
		res, _ := a.Send(context.Background(), msgs)
		done <- res
	}()
	require.Eventually(t, func() bool { return inflight.Load() == limit }, 5*time.Second, time.Millisecond)
	require.Never(t, func() bool { return inflight.Load() > limit }, 50*time.Millisecond, time.Millisecond)
	close(release)
	res := <-done
	require.Len(t, res, len(msgs))
	require.Equal(t, int32(limit), peak.Load())
	for _, r := range res {
		require.Equal(t, channels.Sent, r.Status)
	}
}

func TestAliyunParseReceipts(t *testing.T) {
	t.Parallel()
	body := `[
	 {"phone_number":"13800138000","send_time":"2024-05-01 10:00:00","report_time":"2024-05-01 10:00:05","success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"B1","out_id":"m1"},
	 {"phone_number":"13800138001","send_time":"2024-05-01 10:00:00","report_time":"2024-05-01 10:00:09","success":false,"err_code":"MK:0001","err_msg":"用户关机","sms_size":"2","biz_id":"B2","out_id":"m2"}
	]`
	tests := []struct {
		name      string
		cfgToken  string
		query     string
		body      string
		wantErr   error
		wantCount int
	}{
		{"valid", "tok", "?token=tok", body, nil, 2},
		{"wrong token", "tok", "?token=nope", body, channels.ErrUnverified, 0},
		{"missing token", "tok", "", body, channels.ErrUnverified, 0},
		{"no token configured rejects all", "", "?token=", body, channels.ErrUnverified, 0},
		{"empty batch", "tok", "?token=tok", `[]`, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newTestAliyun(t, "http://vendor.invalid", func(c *AliyunConfig) { c.CallbackToken = tt.cfgToken; c.NowFunc = reportClock })
			req := httptest.NewRequest(http.MethodPost, "/callbacks/sms"+tt.query, strings.NewReader(tt.body))
			got, err := a.ParseReceipts(req)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, tt.wantCount)
		})
	}

	a := newTestAliyun(t, "http://vendor.invalid", func(c *AliyunConfig) { c.NowFunc = reportClock })
	got, err := a.ParseReceipts(httptest.NewRequest(http.MethodPost, "/callbacks/sms?token=tok", strings.NewReader(body)))
	require.NoError(t, err)
	require.Equal(t, []channels.Receipt{
		{Channel: channels.SMS, Provider: "aliyun", MessageID: "m1", VendorID: "B1", Address: "13800138000",
			Status: channels.Delivered, At: time.Date(2024, 5, 1, 2, 0, 5, 0, time.UTC).In(ChinaTime)},
		{Channel: channels.SMS, Provider: "aliyun", MessageID: "m2", VendorID: "B2", Address: "13800138001",
			Status: channels.Failed, Reason: "MK:0001: 用户关机", At: time.Date(2024, 5, 1, 2, 0, 9, 0, time.UTC).In(ChinaTime)},
	}, got)

	_, err = a.ParseReceipts(httptest.NewRequest(http.MethodPost, "/callbacks/sms?token=tok", strings.NewReader(`{"not":"an array"}`)))
	require.Error(t, err)
	require.False(t, errors.Is(err, channels.ErrUnverified), "a verified but malformed body is bad input, not unverified")
}

// reportClock is a minute after the reports of TestAliyunParseReceipts.
func reportClock() time.Time { return time.Date(2024, 5, 1, 10, 1, 0, 0, ChinaTime) }

func TestAliyunReportReplayWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, ChinaTime)
	report := func(id string, at time.Time) string {
		return `{"phone_number":"13800138000","send_time":"2024-05-01 09:00:00","report_time":"` + at.In(ChinaTime).Format(ReportTimeLayout) +
			`","success":true,"err_code":"DELIVERED","err_msg":"ok","sms_size":"1","biz_id":"B","out_id":"` + id + `"}`
	}
	tests := []struct {
		name    string
		body    string
		want    []string // message ids accepted
		wantErr error
		anyErr  bool
	}{
		{"fresh", "[" + report("m1", now.Add(-time.Minute)) + "]", []string{"m1"}, nil, false},
		{"at the edge of the window", "[" + report("m1", now.Add(-DefaultReportMaxAge)) + "]", []string{"m1"}, nil, false},
		{"slightly ahead", "[" + report("m1", now.Add(5*time.Minute)) + "]", []string{"m1"}, nil, false},
		{"too old", "[" + report("m1", now.Add(-DefaultReportMaxAge-time.Second)) + "]", nil, channels.ErrUnverified, false},
		{"a day old", "[" + report("m1", now.Add(-24*time.Hour)) + "]", nil, channels.ErrUnverified, false},
		{"too far ahead", "[" + report("m1", now.Add(ReportMaxAhead+time.Second)) + "]", nil, channels.ErrUnverified, false},
		{"stale report dropped, fresh kept", "[" + report("old", now.Add(-48*time.Hour)) + "," + report("new", now) + "]", []string{"new"}, nil, false},
		{"missing report_time", `[{"success":true,"out_id":"m1"}]`, nil, nil, true},
		{"malformed report_time", `[{"report_time":"yesterday","success":true,"out_id":"m1"}]`, nil, nil, true},
	}
	a := newTestAliyun(t, "http://vendor.invalid", func(c *AliyunConfig) { c.NowFunc = func() time.Time { return now } })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.ParseReceipts(httptest.NewRequest(http.MethodPost, "/callbacks/sms?token=tok", strings.NewReader(tt.body)))
			switch {
			case tt.wantErr != nil:
				require.ErrorIs(t, err, tt.wantErr)
				require.Nil(t, got)
			case tt.anyErr:
				require.Error(t, err)
				require.False(t, errors.Is(err, channels.ErrUnverified))
			default:
				require.NoError(t, err)
				var ids []string
				for _, r := range got {
					ids = append(ids, r.MessageID)
				}
				require.Equal(t, tt.want, ids)
			}
		})
	}
}

func TestAliyunAckReceipts(t *testing.T) {
	t.Parallel()
	a := newTestAliyun(t, "http://vendor.invalid")
	rec := httptest.NewRecorder()
	a.AckReceipts(rec)
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"code":0,"msg":"成功"}`, rec.Body.String())
}

func TestNewAliyunValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  AliyunConfig
	}{
		{"no key", AliyunConfig{AccessKeySecret: "s"}},
		{"no secret", AliyunConfig{AccessKeyID: "k"}},
		{"bad endpoint", AliyunConfig{AccessKeyID: "k", AccessKeySecret: "s", Endpoint: "dysmsapi.aliyuncs.com"}},
	}
	for _, tt := range tests {
		_, err := NewAliyun(tt.cfg)
		require.Error(t, err, tt.name)
	}
	a, err := NewAliyun(AliyunConfig{AccessKeyID: "k", AccessKeySecret: "s"})
	require.NoError(t, err)
	require.Equal(t, "aliyun", a.Name())
	require.Equal(t, channels.SMS, a.Channel())
	require.Equal(t, DefaultEndpoint+"/", a.endpoint)
}
