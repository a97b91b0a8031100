// Package voice holds Herald's voice providers. Aliyun places text-to-speech notification
// calls through Alibaba Cloud's Voice Messaging Service (Dyvmsapi, version 2017-05-25,
// action SingleCallByTts) and parses its call-record push (VoiceReport).
//
// Documentation followed: Alibaba Cloud VMS "SingleCallByTts" (help.aliyun.com document
// 393519 and 55315: CalledShowNumber, CalledNumber, TtsCode, TtsParam, PlayTimes, OutId;
// answer Code, Message, CallId, RequestId), "VoiceReport" (call_id, callee, duration,
// status_code, status_msg, out_id, end_time, ...) and the carrier call status codes
// (200000 listened to the end, 200001 hung up early, 200002 busy, 200003 not answered,
// 200010 powered off, 200011 out of service, ...). Requests are signed like every POP RPC
// API (signature version 1.0, HMAC-SHA1), as channels/sms signs dysmsapi calls.
package voice

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
)

// Defaults of AliyunConfig.
const (
	DefaultEndpoint    = "https://dyvmsapi.aliyuncs.com"
	DefaultRegionID    = "cn-hangzhou"
	DefaultConcurrency = 8
	DefaultTimeout     = 10 * time.Second
	DefaultPlayTimes   = 2
)

// APIVersion is the Dyvmsapi version Herald speaks.
const APIVersion = "2017-05-25"

// ActionSingleCallByTts is the action that places one text-to-speech call.
const ActionSingleCallByTts = "SingleCallByTts"

// Error codes of Dyvmsapi that Herald treats specially.
const (
	CodeOK                   = "OK"
	CodeMobileNumberIllegal  = "isv.MOBILE_NUMBER_ILLEGAL"
	CodeBusinessLimitControl = "isv.BUSINESS_LIMIT_CONTROL"
)

// Call status codes of VoiceReport that mean the callee picked up.
const (
	StatusListened    = "200000" // listened to the end
	StatusHungUpEarly = "200001" // picked up, hung up before the end
)

// AckBody is the answer Alibaba Cloud expects after a call-report push, the same as after an
// SMS delivery report.
const AckBody = sms.AckBody

// AliyunConfig configures an Aliyun voice provider.
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
	// CalledShowNumber is the number the callee sees (a purchased number for the dedicated
	// mode); empty uses the public number pool.
	CalledShowNumber string
	// TtsCode is the TTS template, of content "${content}", that carries the rendered script
	// of messages whose Extra names no ttsCode.
	TtsCode string
	// PlayTimes is how often the script is played in one call, 1 to 3; default 2.
	PlayTimes int
	// CallbackToken is the shared secret call reports must carry as query parameter
	// "token"; with none, every report is rejected.
	CallbackToken string
	// HTTPClient sends the requests; default a client with Timeout DefaultTimeout.
	HTTPClient *http.Client
	// Concurrency bounds the calls of one batch placed at once; default 8.
	Concurrency int
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// Aliyun places one SingleCallByTts call per message (the API takes one callee per
// request), at most Concurrency at a time.
type Aliyun struct {
	cfg      AliyunConfig
	endpoint string
	logger   *slog.Logger
}

// APIResponse is the JSON answer of Dyvmsapi, for success and errors alike.
type APIResponse struct {
	Code      string `json:"Code"`                // "OK" or an error code
	Message   string `json:"Message"`             // human-readable outcome
	CallID    string `json:"CallId,omitempty"`    // the call's id, echoed in reports
	RequestID string `json:"RequestId"`           // the vendor's id of the request
	HostID    string `json:"HostId,omitempty"`    // gateway host, on gateway errors
	Recommend string `json:"Recommend,omitempty"` // troubleshooting link, on gateway errors
}

// Report is one call record of the VoiceReport push: the body is a JSON array of them.
type Report struct {
	CallID        string `json:"call_id"`                  // CallId of the SingleCallByTts answer
	OriginateTime string `json:"originate_time,omitempty"` // when the call was placed
	StartTime     string `json:"start_time,omitempty"`     // when it was answered; empty if not
	EndTime       string `json:"end_time,omitempty"`       // when it ended
	Caller        string `json:"caller,omitempty"`         // the number shown
	Callee        string `json:"callee"`                   // the number called
	Duration      string `json:"duration"`                 // seconds talked, as a decimal string
	StatusCode    string `json:"status_code"`              // carrier call status code
	StatusMsg     string `json:"status_msg"`               // description of StatusCode
	OutID         string `json:"out_id"`                   // OutId of the request: Herald's message id
}

// NewAliyun validates cfg, fills its defaults and returns the provider. Errors name the
// configuration field at fault.
func NewAliyun(cfg AliyunConfig) (*Aliyun, error) {
	cfg.Name = cmp.Or(cfg.Name, "aliyun")
	cfg.Endpoint = cmp.Or(cfg.Endpoint, DefaultEndpoint)
	cfg.RegionID = cmp.Or(cfg.RegionID, DefaultRegionID)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.PlayTimes = cmp.Or(cfg.PlayTimes, DefaultPlayTimes)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	switch {
	case cfg.AccessKeyID == "":
		return nil, errors.New("aliyun voice: accessKeyId is required")
	case cfg.AccessKeySecret == "":
		return nil, errors.New("aliyun voice: accessKeySecret is required")
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("aliyun voice: concurrency %d is negative", cfg.Concurrency)
	case cfg.PlayTimes < 1 || cfg.PlayTimes > 3:
		return nil, fmt.Errorf("aliyun voice: playTimes %d is out of range 1 to 3", cfg.PlayTimes)
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("aliyun voice: endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	return &Aliyun{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(cfg.Endpoint, "/") + "/",
		logger:   cfg.Logger.With("component", "voice.aliyun", "provider", cfg.Name),
	}, nil
}

// Name identifies the provider.
func (a *Aliyun) Name() string { return a.cfg.Name }

// Channel is VOICE.
func (a *Aliyun) Channel() channels.Channel { return channels.Voice }

// Send places one call per message, at most Concurrency at a time, and maps each answer to
// a Result. It returns an error only when no request reached the vendor.
func (a *Aliyun) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	return channels.SendEach(ctx, "aliyun voice", msgs, a.cfg.Concurrency, a.sendOne)
}

// Form returns the SingleCallByTts parameters of m, before the common parameters and the
// signature, or the reason m cannot be called.
func (a *Aliyun) Form(m channels.Message) (url.Values, error) {
	phone := CalledNumber(m.Address)
	if phone == "" {
		return nil, errors.New("no phone number")
	}
	code := channels.ExtraString(m.Extra, "ttsCode")
	var params map[string]any
	if code != "" {
		params = m.Variables
	} else {
		code = a.cfg.TtsCode
		if code == "" {
			return nil, errors.New("no TTS template: set Extra.ttsCode or the provider's TtsCode")
		}
		if strings.TrimSpace(m.Body) == "" {
			return nil, errors.New("empty TTS script")
		}
		params = map[string]any{"content": m.Body}
	}
	form := url.Values{}
	form.Set("Action", ActionSingleCallByTts)
	form.Set("CalledNumber", phone)
	if a.cfg.CalledShowNumber != "" {
		form.Set("CalledShowNumber", a.cfg.CalledShowNumber)
	}
	form.Set("TtsCode", code)
	if len(params) > 0 {
		tp, err := json.Marshal(sms.StringParams(params))
		if err != nil {
			return nil, fmt.Errorf("TTS params: %w", err)
		}
		form.Set("TtsParam", string(tp))
	}
	form.Set("PlayTimes", strconv.Itoa(a.cfg.PlayTimes))
	if m.ID != "" {
		form.Set("OutId", m.ID)
	}
	return form, nil
}

// CalledNumber is addr as Dyvmsapi takes it: a mainland number without its country code
// (+8613800138000 becomes 13800138000), any other number with its digits only.
func CalledNumber(addr string) string {
	p := strings.TrimPrefix(strings.TrimSpace(addr), "+")
	if len(p) == 13 && strings.HasPrefix(p, "861") {
		return p[2:]
	}
	return p
}

// sendOne places one call; unreached reports a transport failure before any answer.
func (a *Aliyun) sendOne(ctx context.Context, m channels.Message) (res channels.Result, unreached bool) {
	form, err := a.Form(m)
	if err != nil {
		return channels.Permanent(m.ID, err.Error()), false
	}
	phone := form.Get("CalledNumber")
	if err := a.sign(form); err != nil {
		return channels.Retryable(m.ID, err.Error()), true
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return channels.Permanent(m.ID, err.Error()), false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		a.logger.WarnContext(ctx, "voice request failed", "message_id", m.ID, "phone", channels.MaskPhone(phone), "error", err)
		return channels.Retryable(m.ID, "transport: "+err.Error()), true
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return channels.Retryable(m.ID, "reading answer: "+err.Error()), false
	}
	var ans APIResponse
	if err := json.Unmarshal(body, &ans); err != nil || ans.Code == "" {
		reason := fmt.Sprintf("HTTP %d: unreadable answer", resp.StatusCode)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return channels.Retryable(m.ID, reason), false
		}
		return channels.Permanent(m.ID, reason), false
	}
	res = mapAnswer(m.ID, resp.StatusCode, ans)
	if res.Status == channels.Sent {
		res.CostUnits = 1
	} else {
		a.logger.WarnContext(ctx, "call rejected", "message_id", m.ID, "phone", channels.MaskPhone(phone),
			"code", ans.Code, "retryable", res.Retryable)
	}
	return res, false
}

// mapAnswer turns a Dyvmsapi answer into a Result.
func mapAnswer(id string, status int, ans APIResponse) channels.Result {
	if ans.Code == CodeOK && status < 300 {
		if ans.CallID == "" {
			return channels.Permanent(id, "answer OK without a CallId")
		}
		return channels.Result{MessageID: id, VendorID: ans.CallID, Status: channels.Sent}
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

// IsRetryableCode reports whether a Dyvmsapi error may pass on a later try; Dyvmsapi shares
// its flow-control and gateway codes with the other Alibaba Cloud RPC APIs.
func IsRetryableCode(code string) bool { return sms.IsRetryableCode(code) }

// sign adds the common parameters and the signature to form.
func (a *Aliyun) sign(form url.Values) error {
	return sms.SignRequest(form, APIVersion, a.cfg.RegionID, a.cfg.AccessKeyID, a.cfg.AccessKeySecret, a.cfg.NowFunc())
}

// ParseReceipts verifies the token of a VoiceReport push and parses its call records:
// an answered call (200000, 200001) is DELIVERED, any other outcome (busy, not answered,
// powered off, ...) is FAILED with the status code and message as the reason.
func (a *Aliyun) ParseReceipts(r *http.Request) ([]channels.Receipt, error) {
	if !a.tokenOK(r.URL.Query().Get("token")) {
		return nil, fmt.Errorf("aliyun voice report: %w: token mismatch", channels.ErrUnverified)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("aliyun voice report: method %s, want POST", r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("aliyun voice report: reading body: %w", err)
	}
	return a.parseReports(body)
}

func (a *Aliyun) parseReports(body []byte) ([]channels.Receipt, error) {
	var reports []Report
	if err := json.Unmarshal(bytes.TrimSpace(body), &reports); err != nil {
		return nil, fmt.Errorf("aliyun voice report: decoding body: %w", err)
	}
	now := a.cfg.NowFunc()
	out := make([]channels.Receipt, 0, len(reports))
	for i, rep := range reports {
		if rep.CallID == "" && rep.OutID == "" {
			return nil, fmt.Errorf("aliyun voice report: record %d has neither call_id nor out_id", i)
		}
		if rep.StatusCode == "" {
			return nil, fmt.Errorf("aliyun voice report: record %d has no status_code", i)
		}
		rc := channels.Receipt{
			Channel:   channels.Voice,
			Provider:  a.cfg.Name,
			MessageID: rep.OutID,
			VendorID:  rep.CallID,
			Address:   rep.Callee,
			Status:    channels.Delivered,
			At:        now,
		}
		if rep.StatusCode != StatusListened && rep.StatusCode != StatusHungUpEarly {
			rc.Status = channels.Failed
			rc.Reason = rep.StatusCode
			if rep.StatusMsg != "" {
				rc.Reason += ": " + rep.StatusMsg
			}
		}
		if t, err := time.ParseInLocation(sms.ReportTimeLayout, rep.EndTime, sms.ChinaTime); err == nil {
			rc.At = t
		}
		out = append(out, rc)
	}
	return out, nil
}

// tokenOK compares a callback token with the configured one in constant time.
func (a *Aliyun) tokenOK(token string) bool { return channels.TokenEqual(token, a.cfg.CallbackToken) }

// AckReceipts writes the answer Alibaba Cloud expects, without which it pushes the reports
// again.
func (a *Aliyun) AckReceipts(w http.ResponseWriter) { sms.WriteAck(w) }

var (
	_ channels.Provider      = (*Aliyun)(nil)
	_ channels.ReceiptParser = (*Aliyun)(nil)
	_ channels.ReceiptAcker  = (*Aliyun)(nil)
)
