package sim_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/channels/webhook"
)

// rpcParams returns a SendSms call's parameters with the common ones filled in, unsigned.
func rpcParams(action string, extra map[string]string) url.Values {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	v := url.Values{}
	v.Set("Action", action)
	v.Set("Version", sms.APIVersion)
	v.Set("Format", "JSON")
	v.Set("AccessKeyId", sim.DefaultAccessKeyID)
	v.Set("SignatureMethod", "HMAC-SHA1")
	v.Set("SignatureVersion", "1.0")
	v.Set("SignatureNonce", hex.EncodeToString(nonce))
	v.Set("Timestamp", time.Now().UTC().Format(sms.TimestampLayout))
	v.Set("RegionId", "cn-hangzhou")
	for k, x := range extra {
		v.Set(k, x)
	}
	return v
}

func sign(method string, v url.Values, secret string) url.Values {
	v.Set("Signature", sms.SignRPC(secret, sms.StringToSign(method, v)))
	return v
}

// call sends v to the simulator by GET (query) or POST (form) and decodes the answer.
func call(t *testing.T, base, method string, v url.Values) (int, sms.APIResponse) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = http.Get(base + "/?" + v.Encode())
	} else {
		resp, err = http.PostForm(base+"/", v)
	}
	require.NoError(t, err)
	defer resp.Body.Close()
	var ans sms.APIResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
	return resp.StatusCode, ans
}

func sendSmsParams(phone string) map[string]string {
	return map[string]string{"PhoneNumbers": phone, "SignName": "Herald", "TemplateCode": "SMS_1", "TemplateParam": `{"content":"hi"}`, "OutId": "m1"}
}

func TestAliyunVerification(t *testing.T) {
	t.Parallel()
	_, srv := simtest.StartSim(t, sim.Config{})
	tests := []struct {
		name       string
		method     string
		build      func() url.Values
		wantStatus int
		wantCode   string
	}{
		{"signed POST form", http.MethodPost, func() url.Values {
			return sign(http.MethodPost, rpcParams("SendSms", sendSmsParams("13800138000")), sim.DefaultSecret)
		}, 200, "OK"},
		{"signed GET query", http.MethodGet, func() url.Values {
			return sign(http.MethodGet, rpcParams("SendSms", sendSmsParams("+8613800138000")), sim.DefaultSecret)
		}, 200, "OK"},
		{"signed as GET, sent as POST", http.MethodPost, func() url.Values {
			return sign(http.MethodGet, rpcParams("SendSms", sendSmsParams("13800138000")), sim.DefaultSecret)
		}, 400, "SignatureDoesNotMatch"},
		{"wrong secret", http.MethodPost, func() url.Values {
			return sign(http.MethodPost, rpcParams("SendSms", sendSmsParams("13800138000")), "nope")
		}, 400, "SignatureDoesNotMatch"},
		{"parameter changed after signing", http.MethodPost, func() url.Values {
			v := sign(http.MethodPost, rpcParams("SendSms", sendSmsParams("13800138000")), sim.DefaultSecret)
			v.Set("PhoneNumbers", "13900139000")
			return v
		}, 400, "SignatureDoesNotMatch"},
		{"unknown access key", http.MethodPost, func() url.Values {
			v := rpcParams("SendSms", sendSmsParams("13800138000"))
			v.Set("AccessKeyId", "who")
			return sign(http.MethodPost, v, sim.DefaultSecret)
		}, 404, "InvalidAccessKeyId.NotFound"},
		{"no signature", http.MethodPost, func() url.Values {
			return rpcParams("SendSms", sendSmsParams("13800138000"))
		}, 400, "MissingSignature"},
		{"no timestamp", http.MethodPost, func() url.Values {
			v := rpcParams("SendSms", sendSmsParams("13800138000"))
			v.Del("Timestamp")
			return sign(http.MethodPost, v, sim.DefaultSecret)
		}, 400, "MissingTimestamp"},
		{"no nonce", http.MethodPost, func() url.Values {
			v := rpcParams("SendSms", sendSmsParams("13800138000"))
			v.Del("SignatureNonce")
			return sign(http.MethodPost, v, sim.DefaultSecret)
		}, 400, "MissingSignatureNonce"},
		{"expired timestamp", http.MethodPost, func() url.Values {
			v := rpcParams("SendSms", sendSmsParams("13800138000"))
			v.Set("Timestamp", time.Now().Add(-20*time.Minute).UTC().Format(sms.TimestampLayout))
			return sign(http.MethodPost, v, sim.DefaultSecret)
		}, 400, "InvalidTimeStamp.Expired"},
		{"malformed timestamp", http.MethodPost, func() url.Values {
			v := rpcParams("SendSms", sendSmsParams("13800138000"))
			v.Set("Timestamp", "yesterday")
			return sign(http.MethodPost, v, sim.DefaultSecret)
		}, 400, "InvalidTimeStamp.Format"},
		{"wrong version", http.MethodPost, func() url.Values {
			v := rpcParams("SendSms", sendSmsParams("13800138000"))
			v.Set("Version", "2099-01-01")
			return sign(http.MethodPost, v, sim.DefaultSecret)
		}, 400, "InvalidVersion"},
		{"unknown action", http.MethodPost, func() url.Values {
			return sign(http.MethodPost, rpcParams("QuerySendDetailsX", nil), sim.DefaultSecret)
		}, 404, "InvalidAction.NotFound"},
		{"missing phone", http.MethodPost, func() url.Values {
			return sign(http.MethodPost, rpcParams("SendSms", map[string]string{"SignName": "S", "TemplateCode": "T"}), sim.DefaultSecret)
		}, 400, "MissingPhoneNumbers"},
		{"bad template param", http.MethodPost, func() url.Values {
			p := sendSmsParams("13800138000")
			p["TemplateParam"] = "not json"
			return sign(http.MethodPost, rpcParams("SendSms", p), sim.DefaultSecret)
		}, 200, "isv.INVALID_JSON_PARAM"},
		{"illegal number", http.MethodPost, func() url.Values {
			return sign(http.MethodPost, rpcParams("SendSms", sendSmsParams("12ab")), sim.DefaultSecret)
		}, 200, sms.CodeMobileNumberIllegal},
		{"test number ending 0000", http.MethodPost, func() url.Values {
			return sign(http.MethodPost, rpcParams("SendSms", sendSmsParams("+8613800130000")), sim.DefaultSecret)
		}, 200, sms.CodeMobileNumberIllegal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, ans := call(t, srv.URL, tt.method, tt.build())
			require.Equal(t, tt.wantStatus, status)
			require.Equal(t, tt.wantCode, ans.Code, ans.Message)
			require.NotEmpty(t, ans.RequestID)
			if tt.wantCode == "OK" {
				require.NotEmpty(t, ans.BizID)
			}
		})
	}
}

func TestAliyunNonceReplay(t *testing.T) {
	t.Parallel()
	_, srv := simtest.StartSim(t, sim.Config{})
	v := sign(http.MethodPost, rpcParams("SendSms", sendSmsParams("13800138000")), sim.DefaultSecret)
	_, first := call(t, srv.URL, http.MethodPost, v)
	require.Equal(t, "OK", first.Code)
	status, again := call(t, srv.URL, http.MethodPost, v)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "SignatureNonceUsed", again.Code)
}

func TestAliyunXMLFormat(t *testing.T) {
	t.Parallel()
	_, srv := simtest.StartSim(t, sim.Config{})
	v := rpcParams("SendSms", sendSmsParams("13800138000"))
	v.Set("Format", "XML")
	resp, err := http.PostForm(srv.URL+"/dysmsapi/", sign(http.MethodPost, v, sim.DefaultSecret))
	require.NoError(t, err)
	defer resp.Body.Close()
	var doc struct {
		XMLName xml.Name
		Code    string `xml:"Code"`
		BizID   string `xml:"BizId"`
	}
	require.NoError(t, xml.NewDecoder(resp.Body).Decode(&doc))
	require.Equal(t, "SendSmsResponse", doc.XMLName.Local)
	require.Equal(t, "OK", doc.Code)
	require.NotEmpty(t, doc.BizID)
}

// signV3 signs a request the way Alibaba Cloud's current SDKs do (ACS3-HMAC-SHA256),
// written from the published algorithm rather than with the sms package's helper.
func signV3(req *http.Request, body []byte, key, secret string) {
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	req.Header.Set("x-acs-content-sha256", payload)
	req.Header.Set("x-acs-date", time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	req.Header.Set("x-acs-signature-nonce", hex.EncodeToString(nonce))
	headers := map[string]string{"host": req.URL.Host}
	for _, h := range []string{"x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"} {
		headers[h] = req.Header.Get(h)
	}
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	var canonHeaders strings.Builder
	for _, n := range names {
		fmt.Fprintf(&canonHeaders, "%s:%s\n", n, strings.TrimSpace(headers[n]))
	}
	q := req.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	enc := func(s string) string {
		return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(url.QueryEscape(s))
	}
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, enc(k)+"="+enc(q.Get(k)))
	}
	signed := strings.Join(names, ";")
	canonical := strings.Join([]string{req.Method, "/", strings.Join(pairs, "&"), canonHeaders.String(), signed, payload}, "\n")
	hashed := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("ACS3-HMAC-SHA256\n" + hex.EncodeToString(hashed[:])))
	req.Header.Set("Authorization", fmt.Sprintf("ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s",
		key, signed, hex.EncodeToString(mac.Sum(nil))))
}

func TestAliyunV3Signature(t *testing.T) {
	t.Parallel()
	s, srv := simtest.StartSim(t, sim.Config{})
	tests := []struct {
		name       string
		secret     string
		tamper     bool
		wantStatus int
		wantCode   string
	}{
		{"signed like the SDK", sim.DefaultSecret, false, 200, "OK"},
		{"wrong secret", "nope", false, 400, "SignatureDoesNotMatch"},
		{"query changed after signing", sim.DefaultSecret, true, 400, "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"PhoneNumbers": {"13800138000"}, "SignName": {"Herald"}, "TemplateCode": {"SMS_1"},
				"TemplateParam": {`{"content":"v3 *~ works"}`}, "OutId": {"v3-" + tt.name}}
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/?"+q.Encode(), nil)
			require.NoError(t, err)
			req.Header.Set("x-acs-action", "SendSms")
			req.Header.Set("x-acs-version", sms.APIVersion)
			signV3(req, nil, sim.DefaultAccessKeyID, tt.secret)
			if tt.tamper {
				q.Set("PhoneNumbers", "13900139000")
				req.URL.RawQuery = q.Encode()
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var ans sms.APIResponse
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			require.Equal(t, tt.wantCode, ans.Code, ans.Message)
		})
	}
	got := s.Messages(channels.SMS, "13800138000")
	require.Len(t, got, 1)
	require.Equal(t, "【Herald】v3 *~ works", got[0].Content)
}

func TestAliyunSendBatchSmsReceiptsInOnePost(t *testing.T) {
	t.Parallel()
	p, err := sms.NewAliyun(sms.AliyunConfig{AccessKeyID: "k", AccessKeySecret: "s", CallbackToken: sim.DefaultSecret})
	require.NoError(t, err)
	herald := simtest.NewHerald(t, map[channels.Channel]channels.ReceiptParser{channels.SMS: p})
	s, srv := simtest.StartSim(t, sim.Config{Callback: herald.URL, ReceiptDelay: 20 * time.Millisecond})

	phones := []string{"13800138001", "13800138002", "13800138003", "13800138004", "13800131111"}
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	signs := make([]string, len(phones))
	params := make([]map[string]string, len(phones))
	for i := range phones {
		signs[i] = "Herald"
		params[i] = map[string]string{"content": "batch " + strconv.Itoa(i)}
	}
	v := rpcParams("SendBatchSms", map[string]string{
		"PhoneNumberJson": js(phones), "SignNameJson": js(signs), "TemplateCode": "SMS_1",
		"TemplateParamJson": js(params), "OutId": "batch-1",
	})
	status, ans := call(t, srv.URL, http.MethodPost, sign(http.MethodPost, v, sim.DefaultSecret))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "OK", ans.Code)

	require.Eventually(t, func() bool { return len(herald.Arrivals()) == 4 }, 5*time.Second, 2*time.Millisecond)
	require.Equal(t, 1, herald.Posts(channels.SMS), "receipts due together go out in one post")
	for _, a := range herald.Arrivals() {
		require.Equal(t, 4, a.Batch)
		require.Equal(t, "batch-1", a.Receipt.MessageID)
		require.Equal(t, ans.BizID, a.Receipt.VendorID)
	}
	require.Equal(t, int64(5), s.Stats().Received[channels.SMS])

	bad := rpcParams("SendBatchSms", map[string]string{
		"PhoneNumberJson": js([]string{"13800138005", "13800130000"}), "SignNameJson": js([]string{"H", "H"}), "TemplateCode": "SMS_1",
	})
	_, ans = call(t, srv.URL, http.MethodPost, sign(http.MethodPost, bad, sim.DefaultSecret))
	require.Equal(t, sms.CodeMobileNumberIllegal, ans.Code, "one bad number refuses the request")
	require.Equal(t, int64(5), s.Stats().Received[channels.SMS])
}

// postWebhook posts a signed Herald payload to the simulator's webhook receiver.
func postWebhook(t *testing.T, url, secret, id, body string) int {
	t.Helper()
	payload, err := json.Marshal(webhook.Payload{ID: id, Body: body, SentAt: time.Now()})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	require.NoError(t, err)
	ts := time.Now().Unix()
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(webhook.HeaderMessageID, id)
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, ts, payload))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhookReceiverAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    sim.Config
		path   string
		secret string
		want   int
	}{
		{"accepted", sim.Config{}, "/webhook/a", sim.DefaultSecret, http.StatusAccepted},
		{"bad signature", sim.Config{}, "/webhook/a", "other", http.StatusUnauthorized},
		{"fail address", sim.Config{}, "/webhook/will-fail", sim.DefaultSecret, http.StatusGone},
		{"injected fault", sim.Config{FailureRate: 1}, "/webhook/a", sim.DefaultSecret, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, srv := simtest.StartSim(t, tt.cfg)
			require.Equal(t, tt.want, postWebhook(t, srv.URL+tt.path, tt.secret, "m", "x"))
		})
	}
}

func TestWebhookRateLimit(t *testing.T) {
	t.Parallel()
	s, srv := simtest.StartSim(t, sim.Config{RateLimit: 2})
	var got []int
	for i := range 3 {
		got = append(got, postWebhook(t, srv.URL+"/webhook/a", sim.DefaultSecret, strconv.Itoa(i), "x"))
	}
	require.Equal(t, []int{202, 202, 429}, got)
	require.Equal(t, int64(1), s.Stats().Throttled[channels.Webhook])
	require.Equal(t, int64(2), s.Stats().Received[channels.Webhook])
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

func TestStatsCountRepeats(t *testing.T) {
	t.Parallel()
	_, srv := simtest.StartSim(t, sim.Config{ReceiptDelay: time.Hour})
	send := func(phone, content string) {
		p := sendSmsParams(phone)
		p["TemplateParam"] = `{"content":"` + content + `"}`
		_, ans := call(t, srv.URL, http.MethodPost, sign(http.MethodPost, rpcParams("SendSms", p), sim.DefaultSecret))
		require.Equal(t, "OK", ans.Code)
	}
	send("+8613800138000", "code 1")
	send("13800138000", "code 1") // same number in national form, same content: a repeat
	send("8613800138000", "code 2")
	send("13900139000", "code 1") // other number: not a repeat
	send("13800138000", "code 2") // repeat of the third
	require.Equal(t, http.StatusAccepted, postWebhook(t, srv.URL+"/webhook/u1", sim.DefaultSecret, "w1", "hello"))
	require.Equal(t, http.StatusAccepted, postWebhook(t, srv.URL+"/webhook/u1", sim.DefaultSecret, "w2", "hello"))

	var stats map[string]map[string]int64
	getJSON(t, srv.URL+"/sim/stats", &stats)
	require.Equal(t, map[string]int64{"SMS": 5, "WEBHOOK": 2}, stats["received"])
	require.Equal(t, map[string]int64{"SMS": 2, "WEBHOOK": 1}, stats["addresses"])
	require.Equal(t, map[string]int64{"SMS": 2, "WEBHOOK": 1}, stats["repeated"])

	var msgs []sim.Message
	getJSON(t, srv.URL+"/sim/messages?channel=SMS&address="+url.QueryEscape("+8613800138000"), &msgs)
	require.Len(t, msgs, 4)
	require.Equal(t, "【Herald】code 2", msgs[0].Content, "newest first")
	require.Equal(t, "【Herald】code 1", msgs[3].Content)
	require.Equal(t, "m1", msgs[0].MessageID)
	require.NotEmpty(t, msgs[0].VendorID)

	// An unescaped + arrives as a space; the digits still match.
	getJSON(t, srv.URL+"/sim/messages?channel=SMS&address=+8613800138000", &msgs)
	require.Len(t, msgs, 4)
	getJSON(t, srv.URL+"/sim/messages?channel=WEBHOOK&address="+url.QueryEscape(srv.URL+"/webhook/u1"), &msgs)
	require.Len(t, msgs, 2)
	require.Equal(t, "w2", msgs[0].MessageID)

	resp, err := http.Post(srv.URL+"/sim/reset", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	getJSON(t, srv.URL+"/sim/stats", &stats)
	require.Empty(t, stats["received"])
	getJSON(t, srv.URL+"/sim/messages?channel=SMS&address=13800138000", &msgs)
	require.Empty(t, msgs)
}

func TestMessagesEndpointValidates(t *testing.T) {
	t.Parallel()
	_, srv := simtest.StartSim(t, sim.Config{})
	for _, q := range []string{"channel=FAX&address=1", "channel=SMS"} {
		resp, err := http.Get(srv.URL + "/sim/messages?" + q)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}
}

func TestReceiptDroppedAfterAttempts(t *testing.T) {
	t.Parallel()
	p, err := sms.NewAliyun(sms.AliyunConfig{AccessKeyID: "k", AccessKeySecret: "s", CallbackToken: sim.DefaultSecret})
	require.NoError(t, err)
	herald := simtest.NewHerald(t, map[channels.Channel]channels.ReceiptParser{channels.SMS: p})
	herald.FailNext(1000)
	s, srv := simtest.StartSim(t, sim.Config{Callback: herald.URL, ReceiptDelay: time.Millisecond, RetryBackoff: time.Millisecond, ReceiptAttempts: 3})
	_, ans := call(t, srv.URL, http.MethodPost, sign(http.MethodPost, rpcParams("SendSms", sendSmsParams("13800138000")), sim.DefaultSecret))
	require.Equal(t, "OK", ans.Code)
	require.Eventually(t, func() bool { return s.Stats().ReceiptsDropped[channels.SMS] == 1 }, 5*time.Second, 2*time.Millisecond)
	require.Empty(t, herald.Arrivals())
}

func TestCloseStopsPendingReceipts(t *testing.T) {
	t.Parallel()
	var posts atomic.Int32
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { posts.Add(1) }))
	t.Cleanup(callback.Close)
	s := sim.New(sim.Config{Callback: callback.URL, ReceiptDelay: time.Hour})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	_, ans := call(t, srv.URL, http.MethodPost, sign(http.MethodPost, rpcParams("SendSms", sendSmsParams("13800138000")), sim.DefaultSecret))
	require.Equal(t, "OK", ans.Code)

	closed := make(chan struct{})
	go func() {
		s.Close()
		s.Close() // idempotent
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a receipt was pending")
	}
	require.Zero(t, posts.Load())
}

func TestLatencyIsAdded(t *testing.T) {
	t.Parallel()
	const latency = 100 * time.Millisecond
	_, srv := simtest.StartSim(t, sim.Config{Latency: latency})
	start := time.Now()
	require.Equal(t, http.StatusAccepted, postWebhook(t, srv.URL+"/webhook/a", sim.DefaultSecret, "m", "x"))
	require.GreaterOrEqual(t, time.Since(start), latency)
}
