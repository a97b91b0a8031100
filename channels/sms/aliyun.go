// Package sms holds Herald's SMS providers. Aliyun speaks Alibaba Cloud's Short Message
// Service (dysmsapi, version 2017-05-25) RPC API and parses its HTTP delivery-report push.
package sms

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-msg/herald/channels"
)

// Defaults of AliyunConfig.
const (
	DefaultEndpoint    = "https://dysmsapi.aliyuncs.com"
	DefaultRegionID    = "cn-hangzhou"
	DefaultConcurrency = 16
	DefaultTimeout     = 10 * time.Second
)

// APIVersion is the dysmsapi version Herald speaks.
const APIVersion = "2017-05-25"

// TimestampLayout is the UTC layout of the RPC Timestamp parameter.
const TimestampLayout = "2006-01-02T15:04:05Z"

// ReportTimeLayout is the layout of send_time and report_time in delivery reports, in
// China Standard Time.
const ReportTimeLayout = "2006-01-02 15:04:05"

// ChinaTime is the UTC+8 zone of the times in Aliyun delivery reports.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// Error codes of dysmsapi that Herald treats specially.
const (
	CodeOK                   = "OK"
	CodeMobileNumberIllegal  = "isv.MOBILE_NUMBER_ILLEGAL"
	CodeBusinessLimitControl = "isv.BUSINESS_LIMIT_CONTROL"
)

// AckBody is the answer Aliyun expects after a delivery-report push.
const AckBody = `{"code":0,"msg":"成功"}`

// AliyunConfig configures an Aliyun SMS provider.
type AliyunConfig struct {
	// Name identifies the provider; default "aliyun".
	Name string
	// Endpoint is the API base URL; default DefaultEndpoint.
	Endpoint string
	// AccessKeyID identifies the RAM credentials that sign requests.
	AccessKeyID string
	// AccessKeySecret keys the request signatures.
	AccessKeySecret string
	// RegionID is sent as RegionId; default cn-hangzhou.
	RegionID string
	// SignName is the SMS signature used when a message names none in Extra["sign"].
	SignName string
	// TemplateCode is the template, of content "${content}", that carries free-text messages
	// whose Extra names no templateCode.
	TemplateCode string
	// CallbackToken is the shared secret delivery reports must carry as query parameter
	// "token"; with none, every report is rejected.
	CallbackToken string
	// HTTPClient sends the requests; default a client with Timeout DefaultTimeout.
	HTTPClient *http.Client
	// Concurrency bounds the requests of one batch in flight; default 16.
	Concurrency int
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// Aliyun sends SMS through Alibaba Cloud's SendSms API, one request per number (SendSms
// carries one OutId and one TemplateParam per request), issued concurrently.
type Aliyun struct {
	cfg      AliyunConfig
	endpoint string
	logger   *slog.Logger
}

// APIResponse is the JSON answer of dysmsapi, for success and errors alike.
type APIResponse struct {
	Code      string `json:"Code"`                // "OK" or an error code
	Message   string `json:"Message"`             // human-readable outcome
	BizID     string `json:"BizId,omitempty"`     // send receipt id, echoed in delivery reports
	RequestID string `json:"RequestId"`           // the vendor's id of the request
	HostID    string `json:"HostId,omitempty"`    // gateway host, on gateway errors
	Recommend string `json:"Recommend,omitempty"` // troubleshooting link, on gateway errors
}

// Report is one entry of Aliyun's delivery-report push (SmsReport, HTTP batch mode): the
// request body is a JSON array of them.
type Report struct {
	PhoneNumber string `json:"phone_number"` // the number as sent
	SendTime    string `json:"send_time"`    // ReportTimeLayout, China time
	ReportTime  string `json:"report_time"`  // ReportTimeLayout, China time
	Success     bool   `json:"success"`      // delivered to the handset
	ErrCode     string `json:"err_code"`     // DELIVERED or the carrier's error code
	ErrMsg      string `json:"err_msg"`      // description of ErrCode
	SmsSize     string `json:"sms_size"`     // billed segments, as a decimal string
	BizID       string `json:"biz_id"`       // BizId of the SendSms answer
	OutID       string `json:"out_id"`       // OutId of the request: Herald's message id
}

// NewAliyun validates cfg, fills its defaults and returns the provider.
func NewAliyun(cfg AliyunConfig) (*Aliyun, error) {
	cfg.Name = cmp.Or(cfg.Name, "aliyun")
	cfg.Endpoint = cmp.Or(cfg.Endpoint, DefaultEndpoint)
	cfg.RegionID = cmp.Or(cfg.RegionID, DefaultRegionID)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.AccessKeyID == "" || cfg.AccessKeySecret == "" {
		return nil, errors.New("aliyun sms: access key id and secret are required")
	}
	if cfg.Concurrency < 0 {
		return nil, fmt.Errorf("aliyun sms: concurrency %d is negative", cfg.Concurrency)
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("aliyun sms: endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	return &Aliyun{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(cfg.Endpoint, "/") + "/",
		logger:   cfg.Logger.With("component", "sms.aliyun", "provider", cfg.Name),
	}, nil
}

// Name identifies the provider.
func (a *Aliyun) Name() string { return a.cfg.Name }

// Channel is SMS.
func (a *Aliyun) Channel() channels.Channel { return channels.SMS }

// Send issues one SendSms request per message, at most Concurrency at a time, and maps each
// answer to a Result. It returns an error only when no request reached the vendor.
func (a *Aliyun) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	results := make([]channels.Result, len(msgs))
	unreached := make([]bool, len(msgs))
	sem := make(chan struct{}, a.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range msgs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for j := i; j < len(msgs); j++ {
				results[j] = retryable(msgs[j].ID, "not sent: "+ctx.Err().Error())
				unreached[j] = true
			}
			wg.Wait()
			return a.finish(results, unreached)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], unreached[i] = a.sendOne(ctx, msgs[i])
		}()
	}
	wg.Wait()
	return a.finish(results, unreached)
}

func (a *Aliyun) finish(results []channels.Result, unreached []bool) ([]channels.Result, error) {
	for _, u := range unreached {
		if !u {
			return results, nil
		}
	}
	if len(results) == 0 {
		return results, nil
	}
	return nil, fmt.Errorf("aliyun sms: no request reached the vendor: %s", results[0].Reason)
}

// sendOne sends one message; unreached reports a transport failure before any answer.
func (a *Aliyun) sendOne(ctx context.Context, m channels.Message) (res channels.Result, unreached bool) {
	phone := strings.TrimPrefix(strings.TrimSpace(m.Address), "+")
	if phone == "" {
		return permanent(m.ID, "no phone number"), false
	}
	sign := cmp.Or(extraString(m.Extra, "sign"), a.cfg.SignName)
	if sign == "" {
		return permanent(m.ID, "no SMS sign name: set Extra.sign or the provider's SignName"), false
	}
	code := extraString(m.Extra, "templateCode")
	var params map[string]any
	if code != "" {
		if p, ok := m.Extra["params"].(map[string]any); ok {
			params = p
		} else {
			params = m.Variables
		}
	} else {
		code = a.cfg.TemplateCode
		if code == "" {
			return permanent(m.ID, "no SMS template: set Extra.templateCode or the provider's TemplateCode"), false
		}
		params = map[string]any{"content": m.Body}
	}
	form := url.Values{}
	form.Set("Action", "SendSms")
	form.Set("PhoneNumbers", phone)
	form.Set("SignName", sign)
	form.Set("TemplateCode", code)
	if len(params) > 0 {
		tp, err := json.Marshal(stringParams(params))
		if err != nil {
			return permanent(m.ID, "template params: "+err.Error()), false
		}
		form.Set("TemplateParam", string(tp))
	}
	if m.ID != "" {
		form.Set("OutId", m.ID)
	}
	if err := a.sign(form); err != nil {
		return retryable(m.ID, err.Error()), true
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return permanent(m.ID, err.Error()), false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		a.logger.WarnContext(ctx, "sms request failed", "message_id", m.ID, "phone", channels.MaskPhone(phone), "error", err)
		return retryable(m.ID, "transport: "+err.Error()), true
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return retryable(m.ID, "reading answer: "+err.Error()), false
	}
	var ans APIResponse
	if err := json.Unmarshal(body, &ans); err != nil || ans.Code == "" {
		reason := fmt.Sprintf("HTTP %d: unreadable answer", resp.StatusCode)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return retryable(m.ID, reason), false
		}
		return permanent(m.ID, reason), false
	}
	res = a.mapAnswer(m.ID, resp.StatusCode, ans)
	if res.Status == channels.Sent {
		res.CostUnits = Segments("【" + sign + "】" + m.Body)
	} else {
		a.logger.WarnContext(ctx, "sms rejected", "message_id", m.ID, "phone", channels.MaskPhone(phone),
			"code", ans.Code, "retryable", res.Retryable)
	}
	return res, false
}

// mapAnswer turns a dysmsapi answer into a Result.
func (a *Aliyun) mapAnswer(id string, status int, ans APIResponse) channels.Result {
	if ans.Code == CodeOK && status < 300 {
		return channels.Result{MessageID: id, VendorID: ans.BizID, Status: channels.Sent}
	}
	reason := ans.Code
	if ans.Message != "" {
		reason += ": " + ans.Message
	}
	if status >= 500 || isRetryableCode(ans.Code) {
		return retryable(id, reason)
	}
	return permanent(id, reason)
}

// isRetryableCode reports whether a dysmsapi error may pass on a later try: flow control,
// throttling, the vendor's own faults and a nonce collision.
func isRetryableCode(code string) bool {
	switch {
	case code == CodeBusinessLimitControl,
		strings.HasPrefix(code, "Throttling"),
		strings.HasPrefix(code, "isp."),
		code == "ServiceUnavailable",
		code == "InternalError",
		code == "SignatureNonceUsed":
		return true
	}
	return false
}

// sign adds the common parameters and the signature to form.
func (a *Aliyun) sign(form url.Values) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("signature nonce: %w", err)
	}
	form.Set("Format", "JSON")
	form.Set("Version", APIVersion)
	form.Set("RegionId", a.cfg.RegionID)
	form.Set("AccessKeyId", a.cfg.AccessKeyID)
	form.Set("SignatureMethod", "HMAC-SHA1")
	form.Set("SignatureVersion", "1.0")
	form.Set("SignatureNonce", fmt.Sprintf("%x", nonce))
	form.Set("Timestamp", a.cfg.NowFunc().UTC().Format(TimestampLayout))
	form.Set("Signature", SignRPC(a.cfg.AccessKeySecret, StringToSign(http.MethodPost, form)))
	return nil
}

// ParseReceipts verifies the token of an Aliyun delivery-report push and parses its reports.
func (a *Aliyun) ParseReceipts(r *http.Request) ([]channels.Receipt, error) {
	if !a.tokenOK(r.URL.Query().Get("token")) {
		return nil, fmt.Errorf("aliyun sms report: %w: token mismatch", channels.ErrUnverified)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("aliyun sms report: method %s, want POST", r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("aliyun sms report: reading body: %w", err)
	}
	var reports []Report
	if err := json.Unmarshal(bytes.TrimSpace(body), &reports); err != nil {
		return nil, fmt.Errorf("aliyun sms report: decoding body: %w", err)
	}
	now := a.cfg.NowFunc()
	out := make([]channels.Receipt, 0, len(reports))
	for _, rep := range reports {
		rc := channels.Receipt{
			Channel:   channels.SMS,
			Provider:  a.cfg.Name,
			MessageID: rep.OutID,
			VendorID:  rep.BizID,
			Address:   rep.PhoneNumber,
			Status:    channels.Delivered,
			At:        now,
		}
		if !rep.Success {
			rc.Status = channels.Failed
			rc.Reason = rep.ErrCode
			if rep.ErrMsg != "" {
				rc.Reason += ": " + rep.ErrMsg
			}
		}
		if t, err := time.ParseInLocation(ReportTimeLayout, rep.ReportTime, ChinaTime); err == nil {
			rc.At = t
		}
		out = append(out, rc)
	}
	return out, nil
}

// tokenOK compares digests so that neither content nor length of the token leaks by timing.
func (a *Aliyun) tokenOK(token string) bool {
	if a.cfg.CallbackToken == "" {
		return false
	}
	got := sha256.Sum256([]byte(token))
	want := sha256.Sum256([]byte(a.cfg.CallbackToken))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// AckReceipts writes the answer Aliyun expects, without which it pushes the reports again.
func (a *Aliyun) AckReceipts(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, AckBody)
}

func extraString(extra map[string]any, key string) string {
	s, _ := extra[key].(string)
	return strings.TrimSpace(s)
}

// stringParams renders template parameters as strings, the form Aliyun's templates accept.
func stringParams(params map[string]any) map[string]string {
	out := make(map[string]string, len(params))
	for k, v := range params {
		switch x := v.(type) {
		case string:
			out[k] = x
		case nil:
			out[k] = ""
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1e15 {
				out[k] = strconv.FormatInt(int64(x), 10)
			} else {
				out[k] = strconv.FormatFloat(x, 'f', -1, 64)
			}
		case json.Number:
			out[k] = x.String()
		case fmt.Stringer:
			out[k] = x.String()
		default:
			if b, err := json.Marshal(x); err == nil && (len(b) == 0 || b[0] == '{' || b[0] == '[') {
				out[k] = string(b)
			} else {
				out[k] = fmt.Sprint(x)
			}
		}
	}
	return out
}

func permanent(id, reason string) channels.Result {
	return channels.Result{MessageID: id, Status: channels.Failed, Reason: reason}
}

func retryable(id, reason string) channels.Result {
	return channels.Result{MessageID: id, Status: channels.Failed, Reason: reason, Retryable: true}
}

var (
	_ channels.Provider      = (*Aliyun)(nil)
	_ channels.ReceiptParser = (*Aliyun)(nil)
	_ channels.ReceiptAcker  = (*Aliyun)(nil)
)
