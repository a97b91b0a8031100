// Package sms holds Herald's SMS providers. Aliyun speaks Alibaba Cloud's Short Message
// Service (dysmsapi, version 2017-05-25) RPC API and parses its HTTP delivery-report push.
package sms

import (
	"bytes"
	"cmp"
	"context"
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

// Replay window of delivery reports. A report is refused when its report_time is older
// than DefaultReportMaxAge — chosen to outlast the vendor's retries of a push that failed,
// with a margin — or more than ReportMaxAhead in the future (clocks disagree a little, not
// by more). A captured push replayed later is thereby refused; one replayed within the
// window changes nothing, since delivery statuses only move forward.
const (
	DefaultReportMaxAge = 6*time.Hour + 10*time.Minute
	ReportMaxAhead      = 10 * time.Minute
)

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
	// ReportMaxAge is the oldest report_time accepted; default DefaultReportMaxAge.
	ReportMaxAge time.Duration
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
	cfg.ReportMaxAge = cmp.Or(cfg.ReportMaxAge, DefaultReportMaxAge)
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

// Send groups the messages into as few requests as the API allows and issues them, at most
// Concurrency at a time: messages of identical content (one sign, template and parameters —
// a broadcast) go as one SendSms to up to MaxPhonesPerSendSms numbers; other messages of one
// template as SendBatchSms, up to MaxPhonesPerBatch numbers with their own signs and
// parameters; the rest as one SendSms each, carrying the message id as OutId. A request of
// several numbers carries a batch reference (channels.BatchRef) as OutId instead, which the
// delivery reports echo. Aliyun refuses a whole request for one bad number, so a refused
// request of several numbers is sent again one number at a time, to fail only that one.
// Send returns an error only when no request reached the vendor.
func (a *Aliyun) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	results := make([]channels.Result, len(msgs))
	unreached := make([]bool, len(msgs))
	units := a.plan(msgs, results)
	sem := make(chan struct{}, a.cfg.Concurrency)
	var wg sync.WaitGroup
	for k, u := range units {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for _, rest := range units[k:] {
				for _, i := range rest.idx {
					results[i] = channels.Retryable(msgs[i].ID, "not sent: "+ctx.Err().Error())
					unreached[i] = true
				}
			}
			wg.Wait()
			return channels.Unreached("aliyun sms", results, unreached)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a.sendUnit(ctx, u, msgs, results, unreached)
		}()
	}
	wg.Wait()
	return channels.Unreached("aliyun sms", results, unreached)
}

// Request limits of dysmsapi.
const (
	// MaxPhonesPerSendSms is how many numbers one SendSms request of one content may carry.
	MaxPhonesPerSendSms = 1000
	// MaxPhonesPerBatch is how many numbers one SendBatchSms request may carry.
	MaxPhonesPerBatch = 100
)

// prepared is one message ready for a request.
type prepared struct {
	phone, sign, code, param string
	text                     string // what the handset shows, for counting segments
}

// unit is one request: the indexes of its messages and how they travel.
type unit struct {
	idx   []int
	batch bool // SendBatchSms rather than SendSms
	reqs  []prepared
}

// plan prepares every message (a message that cannot be sent gets its permanent result) and
// groups the rest into requests.
func (a *Aliyun) plan(msgs []channels.Message, results []channels.Result) []unit {
	type key struct{ sign, code, param string }
	same := map[key]*unit{}
	byCode := map[string]*unit{}
	var units []unit
	var order []*unit
	for i, m := range msgs {
		p, fail := a.prepare(m)
		if fail != nil {
			results[i] = *fail
			continue
		}
		k := key{p.sign, p.code, p.param}
		u := same[k]
		if u == nil || len(u.idx) == MaxPhonesPerSendSms {
			u = &unit{}
			same[k] = u
			order = append(order, u)
		}
		u.idx = append(u.idx, i)
		u.reqs = append(u.reqs, p)
	}
	// Groups of one go by template into SendBatchSms requests.
	for _, u := range order {
		if len(u.idx) > 1 {
			units = append(units, *u)
			continue
		}
		b := byCode[u.reqs[0].code]
		if b == nil || len(b.idx) == MaxPhonesPerBatch {
			b = &unit{batch: true}
			byCode[u.reqs[0].code] = b
			order = append(order, b) // appended after the loop's range: collected below
		}
		b.idx = append(b.idx, u.idx[0])
		b.reqs = append(b.reqs, u.reqs[0])
	}
	for _, u := range order {
		if u.batch {
			if len(u.idx) == 1 {
				u.batch = false // a single message goes as SendSms with its own OutId
			}
			units = append(units, *u)
		}
	}
	return units
}

// prepare reads what the request for m needs, or returns m's permanent failure.
func (a *Aliyun) prepare(m channels.Message) (prepared, *channels.Result) {
	phone := strings.TrimPrefix(strings.TrimSpace(m.Address), "+")
	if phone == "" {
		r := channels.Permanent(m.ID, "no phone number")
		return prepared{}, &r
	}
	sign := cmp.Or(channels.ExtraString(m.Extra, "sign"), a.cfg.SignName)
	if sign == "" {
		r := channels.Permanent(m.ID, "no SMS sign name: set Extra.sign or the provider's SignName")
		return prepared{}, &r
	}
	code := channels.ExtraString(m.Extra, "templateCode")
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
			r := channels.Permanent(m.ID, "no SMS template: set Extra.templateCode or the provider's TemplateCode")
			return prepared{}, &r
		}
		params = map[string]any{"content": m.Body}
	}
	p := prepared{phone: phone, sign: sign, code: code, text: "【" + sign + "】" + m.Body}
	if len(params) > 0 {
		tp, err := json.Marshal(StringParams(params))
		if err != nil {
			r := channels.Permanent(m.ID, "template params: "+err.Error())
			return prepared{}, &r
		}
		p.param = string(tp)
	}
	return p, nil
}

// sendUnit issues one request and sets the results of its messages.
func (a *Aliyun) sendUnit(ctx context.Context, u unit, msgs []channels.Message, results []channels.Result, unreached []bool) {
	ids := make([]string, len(u.idx))
	for k, i := range u.idx {
		ids[k] = msgs[i].ID
	}
	form := url.Values{}
	switch {
	case u.batch:
		phones, signs, params := make([]string, len(u.reqs)), make([]string, len(u.reqs)), make([]json.RawMessage, len(u.reqs))
		withParams := false
		for k, p := range u.reqs {
			phones[k], signs[k] = p.phone, p.sign
			params[k] = json.RawMessage(cmp.Or(p.param, "{}"))
			withParams = withParams || p.param != ""
		}
		form.Set("Action", "SendBatchSms")
		form.Set("PhoneNumberJson", mustJSON(phones))
		form.Set("SignNameJson", mustJSON(signs))
		form.Set("TemplateCode", u.reqs[0].code)
		if withParams {
			form.Set("TemplateParamJson", mustJSON(params))
		}
		form.Set("OutId", channels.BatchRef(ids))
	default:
		phones := make([]string, len(u.reqs))
		for k, p := range u.reqs {
			phones[k] = p.phone
		}
		form.Set("Action", "SendSms")
		form.Set("PhoneNumbers", strings.Join(phones, ","))
		form.Set("SignName", u.reqs[0].sign)
		form.Set("TemplateCode", u.reqs[0].code)
		if u.reqs[0].param != "" {
			form.Set("TemplateParam", u.reqs[0].param)
		}
		if len(ids) == 1 {
			if ids[0] != "" {
				form.Set("OutId", ids[0])
			}
		} else {
			form.Set("OutId", channels.BatchRef(ids))
		}
	}
	status, ans, reason, reached := a.post(ctx, form, ids[0], u.reqs[0].phone, len(ids))
	for k, i := range u.idx {
		unreached[i] = !reached
		switch {
		case reason != "" && (status >= 500 || status == http.StatusTooManyRequests || !reached):
			results[i] = channels.Retryable(ids[k], reason)
		case reason != "":
			results[i] = channels.Permanent(ids[k], reason)
		default:
			results[i] = a.mapAnswer(ids[k], status, ans)
		}
		if results[i].Status == channels.Sent {
			results[i].CostUnits = Segments(u.reqs[k].text)
		}
	}
	if len(u.idx) > 1 && results[u.idx[0]].Status == channels.Failed && !results[u.idx[0]].Retryable {
		// One bad number refuses the whole request: find it by sending one at a time.
		a.logger.InfoContext(ctx, "sms request of several numbers refused; sending them one at a time", "numbers", len(u.idx), "reason", results[u.idx[0]].Reason)
		for k, i := range u.idx {
			a.sendUnit(ctx, unit{idx: []int{i}, reqs: []prepared{u.reqs[k]}}, msgs, results, unreached)
		}
		return
	}
	if results[u.idx[0]].Status == channels.Failed {
		a.logger.WarnContext(ctx, "sms rejected", "message_id", ids[0], "numbers", len(ids), "phone", channels.MaskPhone(u.reqs[0].phone),
			"code", ans.Code, "retryable", results[u.idx[0]].Retryable)
	}
}

// post signs and sends one dysmsapi request. reason is set when no answer could be read;
// reached is false when the request did not reach the vendor.
func (a *Aliyun) post(ctx context.Context, form url.Values, firstID, firstPhone string, n int) (status int, ans APIResponse, reason string, reached bool) {
	if err := a.sign(form); err != nil {
		return 0, ans, err.Error(), false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return http.StatusBadRequest, ans, err.Error(), true
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		a.logger.WarnContext(ctx, "sms request failed", "message_id", firstID, "numbers", n, "phone", channels.MaskPhone(firstPhone), "error", err)
		return 0, ans, "transport: " + err.Error(), false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return http.StatusServiceUnavailable, ans, "reading answer: " + err.Error(), true
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.Code == "" {
		return resp.StatusCode, ans, fmt.Sprintf("HTTP %d: unreadable answer", resp.StatusCode), true
	}
	return resp.StatusCode, ans, "", true
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v) // strings and raw JSON objects only
	return string(b)
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
	if status >= 500 || IsRetryableCode(ans.Code) {
		return channels.Retryable(id, reason)
	}
	return channels.Permanent(id, reason)
}

// sign adds the common parameters and the signature to form.
func (a *Aliyun) sign(form url.Values) error {
	return SignRequest(form, APIVersion, a.cfg.RegionID, a.cfg.AccessKeyID, a.cfg.AccessKeySecret, a.cfg.NowFunc())
}

// ParseReceipts verifies the token of an Aliyun delivery-report push and parses its reports.
// Reports outside the replay window (DefaultReportMaxAge old, ReportMaxAhead ahead) are
// dropped and logged; a push of nothing but such reports is refused as unverified.
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
	reports, err := parseReports(bytes.TrimSpace(body))
	if err != nil {
		return nil, fmt.Errorf("aliyun sms report: decoding body: %w", err)
	}
	now := a.cfg.NowFunc()
	out := make([]channels.Receipt, 0, len(reports))
	stale := 0
	for i, rep := range reports {
		at, err := time.ParseInLocation(ReportTimeLayout, rep.ReportTime, ChinaTime)
		if err != nil {
			return nil, fmt.Errorf("aliyun sms report: [%d].report_time %q is not a time such as 2006-01-02 15:04:05", i, rep.ReportTime)
		}
		if age := now.Sub(at); age > a.cfg.ReportMaxAge || -age > ReportMaxAhead {
			stale++
			a.logger.Warn("delivery report outside the replay window dropped", "report_time", rep.ReportTime, "out_id", rep.OutID,
				"phone", channels.MaskPhone(rep.PhoneNumber))
			continue
		}
		rc := channels.Receipt{
			Channel:   channels.SMS,
			Provider:  a.cfg.Name,
			MessageID: rep.OutID,
			VendorID:  rep.BizID,
			Address:   rep.PhoneNumber,
			Status:    channels.Delivered,
			At:        at,
		}
		if _, _, ok := channels.ParseBatchRef(rep.OutID); ok {
			rc.MessageID, rc.Batch = "", rep.OutID // a request of several numbers
		}
		if !rep.Success {
			rc.Status = channels.Failed
			rc.Reason = rep.ErrCode
			if rep.ErrMsg != "" {
				rc.Reason += ": " + rep.ErrMsg
			}
		}
		out = append(out, rc)
	}
	if stale > 0 && len(out) == 0 {
		return nil, fmt.Errorf("aliyun sms report: %w: every report_time is outside the replay window (%s old, %s ahead)",
			channels.ErrUnverified, a.cfg.ReportMaxAge, ReportMaxAhead)
	}
	return out, nil
}

// tokenOK compares a callback token with the configured one in constant time.
func (a *Aliyun) tokenOK(token string) bool { return channels.TokenEqual(token, a.cfg.CallbackToken) }

// AckReceipts writes the answer Aliyun expects, without which it pushes the reports again.
func (a *Aliyun) AckReceipts(w http.ResponseWriter) { WriteAck(w) }

// WriteAck writes AckBody, the answer Alibaba Cloud expects after a report push (SMS
// delivery reports, voice call reports).
func WriteAck(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, AckBody)
}

// StringParams renders template parameters as strings, the form the templates of Alibaba
// Cloud's SMS and voice APIs accept.
func StringParams(params map[string]any) map[string]string {
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

var (
	_ channels.Provider      = (*Aliyun)(nil)
	_ channels.ReceiptParser = (*Aliyun)(nil)
	_ channels.ReceiptAcker  = (*Aliyun)(nil)
)
