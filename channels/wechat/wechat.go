// Package wechat is Herald's WECHAT provider: template messages of a WeChat official account
// (公众号模板消息), with the account's access token cached and refreshed, and the
// TEMPLATESENDJOBFINISH events WeChat pushes to the account's server URL as receipts.
//
// Vendor documentation followed (developers.weixin.qq.com, 公众号 → 开发能力):
//   - 基础支持 / 获取稳定版接口调用凭据: POST /cgi-bin/stable_token (grant_type, appid, secret,
//     force_refresh) → access_token, expires_in;
//   - 基础消息能力 / 模板消息接口: POST /cgi-bin/message/template/send?access_token= with touser,
//     template_id, url, miniprogram {appid, pagepath}, data {key: {value}}, client_msg_id →
//     errcode, errmsg, msgid; 事件推送 TEMPLATESENDJOBFINISH (MsgID, Status);
//   - 接入指南 / 消息加解密说明: signature = sha1 of the sorted (token, timestamp, nonce), the
//     echostr handshake and the safe mode (encrypt_type=aes, msg_signature, AES-256-CBC).
//   - 全局返回码说明: the errcodes mapped below.
package wechat

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/internal/token"
)

// Defaults of Config.
const (
	DefaultName        = "wechat"
	DefaultEndpoint    = "https://api.weixin.qq.com"
	DefaultConcurrency = 16
	DefaultTimeout     = 10 * time.Second
	DefaultTitleKey    = "title"
	DefaultBodyKey     = "content"
	// DefaultMaxSkew is how old (or how far ahead) an event push's timestamp may be.
	DefaultMaxSkew = 5 * time.Minute
	// DefaultTrackMessages and DefaultTrackFor bound the msgids remembered for receipts.
	DefaultTrackMessages = 200_000
	DefaultTrackFor      = 24 * time.Hour
)

// API paths.
const (
	PathStableToken  = "/cgi-bin/stable_token"
	PathToken        = "/cgi-bin/token"
	PathTemplateSend = "/cgi-bin/message/template/send"
)

// Error codes of the WeChat API that Herald tells apart.
const (
	CodeOK                = 0
	CodeBusy              = -1    // system busy
	CodeInvalidCredential = 40001 // access_token invalid or not the latest
	CodeInvalidOpenID     = 40003
	CodeInvalidAppID      = 40013
	CodeInvalidToken      = 40014
	CodeInvalidTemplateID = 40037
	CodeInvalidAppSecret  = 40125
	CodeIPNotAllowed      = 40164
	CodeTokenMissing      = 41001
	CodeTokenExpired      = 42001
	CodeRequireSubscribe  = 43004
	CodeDailyQuota        = 45009 // api freq out of limit
	CodeMinuteQuota       = 45011
	CodeDataFormat        = 47001
	CodeAPIUnauthorized   = 48001
)

// Event and statuses of the template-send-finished push.
const (
	EventTemplateSendJobFinish = "TEMPLATESENDJOBFINISH"
	StatusSuccess              = "success"
	StatusUserBlock            = "failed:user block"
	StatusSystemFailed         = "failed: system failed"
)

// AckBody is the answer WeChat expects to an event push; without it WeChat pushes again.
const AckBody = "success"

// Config configures a WeChat official-account provider.
type Config struct {
	// Name identifies the provider; default "wechat".
	Name string
	// Endpoint is the API base URL; default DefaultEndpoint.
	Endpoint string
	// AppID and AppSecret are the official account's developer credentials (开发者ID/密码).
	AppID     string
	AppSecret string
	// Token is the server-configuration token (服务器配置 Token) that signs event pushes and the
	// URL check; with none, every push is refused.
	Token string
	// EncodingAESKey is the 43-character key of the safe mode (安全模式); needed only when the
	// account encrypts its pushes.
	EncodingAESKey string
	// TemplateID is the template used for messages whose Extra names no templateId: their
	// title goes into the template key TitleKey and their body into BodyKey.
	TemplateID string
	// TitleKey and BodyKey are the data keys of TemplateID; default "title" and "content".
	TitleKey, BodyKey string
	// MaxSkew bounds the age of an event push; default DefaultMaxSkew.
	MaxSkew time.Duration
	// Concurrency bounds the requests of one batch in flight (WeChat sends one message per
	// request); default 16.
	Concurrency int
	// TrackMessages and TrackFor bound the sent msgids this process remembers to give
	// receipts Herald's message id (WeChat's event does not carry it); defaults 200000 and
	// 24 h.
	TrackMessages int
	TrackFor      time.Duration
	// HTTPClient sends the requests; default a client with Timeout DefaultTimeout.
	HTTPClient *http.Client
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// Provider sends WeChat template messages and parses template-send-finished events.
type Provider struct {
	cfg      Config
	endpoint string
	aesKey   []byte
	tokens   *token.Cache
	sent     *sentIndex
	logger   *slog.Logger
}

// New validates cfg, fills its defaults and returns the provider. Errors name the field.
func New(cfg Config) (*Provider, error) {
	cfg.Name = cmp.Or(cfg.Name, DefaultName)
	cfg.Endpoint = cmp.Or(cfg.Endpoint, DefaultEndpoint)
	cfg.TitleKey = cmp.Or(cfg.TitleKey, DefaultTitleKey)
	cfg.BodyKey = cmp.Or(cfg.BodyKey, DefaultBodyKey)
	cfg.MaxSkew = cmp.Or(cfg.MaxSkew, DefaultMaxSkew)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.TrackMessages = cmp.Or(cfg.TrackMessages, DefaultTrackMessages)
	cfg.TrackFor = cmp.Or(cfg.TrackFor, DefaultTrackFor)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if strings.TrimSpace(cfg.AppID) == "" {
		return nil, errors.New("wechat: AppID is required")
	}
	if cfg.AppSecret == "" {
		return nil, errors.New("wechat: AppSecret is required")
	}
	if cfg.Concurrency < 0 {
		return nil, fmt.Errorf("wechat: Concurrency %d is negative", cfg.Concurrency)
	}
	if cfg.MaxSkew < 0 {
		return nil, fmt.Errorf("wechat: MaxSkew %s is negative", cfg.MaxSkew)
	}
	if cfg.TrackMessages < 0 || cfg.TrackFor < 0 {
		return nil, fmt.Errorf("wechat: TrackMessages %d and TrackFor %s must not be negative", cfg.TrackMessages, cfg.TrackFor)
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("wechat: Endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	p := &Provider{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(cfg.Endpoint, "/"),
		sent:     newSentIndex(cfg.TrackMessages, cfg.TrackFor),
		logger:   cfg.Logger.With("component", "wechat", "provider", cfg.Name),
	}
	if cfg.EncodingAESKey != "" {
		if p.aesKey, err = DecodeAESKey(cfg.EncodingAESKey); err != nil {
			return nil, fmt.Errorf("wechat: EncodingAESKey: %w", err)
		}
	}
	p.tokens = token.New(p.fetchToken, token.Options{Now: cfg.NowFunc})
	return p, nil
}

// Name identifies the provider.
func (p *Provider) Name() string { return p.cfg.Name }

// ReceiptsByVendorID is true: WeChat's finished-send events name only its msgid, so the
// dispatcher keeps msgid → message id for every Herald process (channels.VendorKeyedReceipts).
func (p *Provider) ReceiptsByVendorID() bool { return true }

// Channel is WECHAT.
func (p *Provider) Channel() channels.Channel { return channels.WeChat }

// APIError is an errcode answer of the WeChat API.
type APIError struct {
	Path    string
	Code    int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %d: %s", e.Path, e.Code, e.Message)
}

// Answer is the JSON answer of every WeChat API call this provider makes.
type Answer struct {
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
	MsgID       int64  `json:"msgid,omitempty"`
	AccessToken string `json:"access_token,omitempty"`
	ExpiresIn   int64  `json:"expires_in,omitempty"`
}

// StableTokenRequest is the body of POST /cgi-bin/stable_token.
type StableTokenRequest struct {
	GrantType    string `json:"grant_type"` // client_credential
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh,omitempty"`
}

// DataItem is one key of a template message's data.
type DataItem struct {
	Value string `json:"value"`
	Color string `json:"color,omitempty"`
}

// MiniProgram is the mini program a template message opens.
type MiniProgram struct {
	AppID    string `json:"appid"`
	PagePath string `json:"pagepath,omitempty"`
}

// SendRequest is the body of POST /cgi-bin/message/template/send.
type SendRequest struct {
	ToUser      string              `json:"touser"`
	TemplateID  string              `json:"template_id"`
	URL         string              `json:"url,omitempty"`
	MiniProgram *MiniProgram        `json:"miniprogram,omitempty"`
	Data        map[string]DataItem `json:"data"`
	// ClientMsgID is the idempotency id: WeChat sends one message per openid and id.
	ClientMsgID string `json:"client_msg_id,omitempty"`
}

// fetchToken asks the stable-token endpoint for the account's token. The stable token is
// shared by every caller of the account: unlike /cgi-bin/token, fetching it from one Herald
// instance does not invalidate the token the other instances hold.
func (p *Provider) fetchToken(ctx context.Context) (token.Token, error) {
	body, _ := json.Marshal(StableTokenRequest{GrantType: "client_credential", AppID: p.cfg.AppID, Secret: p.cfg.AppSecret})
	ans, err := p.call(ctx, PathStableToken, "", body)
	if err != nil {
		return token.Token{}, err
	}
	if ans.ErrCode != CodeOK {
		return token.Token{}, &APIError{Path: PathStableToken, Code: ans.ErrCode, Message: ans.ErrMsg}
	}
	return token.Token{Value: ans.AccessToken, ExpiresIn: time.Duration(ans.ExpiresIn) * time.Second}, nil
}

// transportError is a request that got no readable answer.
type transportError struct {
	err       error
	unreached bool // the request may not have reached WeChat
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// call POSTs body to path and decodes the answer.
func (p *Provider) call(ctx context.Context, path, accessToken string, body []byte) (*Answer, error) {
	u := p.endpoint + path
	if accessToken != "" {
		u += "?access_token=" + url.QueryEscape(accessToken)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, &transportError{err: fmt.Errorf("transport: %w", channels.RedactURL(err)), unreached: true}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return nil, &transportError{err: fmt.Errorf("reading answer: %w", err)}
	}
	var ans Answer
	if err := json.Unmarshal(raw, &ans); err != nil || resp.StatusCode >= 300 {
		return nil, &transportError{err: fmt.Errorf("HTTP %d: unreadable answer", resp.StatusCode)}
	}
	return &ans, nil
}

// Send issues one template-send request per message, at most Concurrency at a time (WeChat
// has no batch send). It returns an error only when no request reached WeChat.
func (p *Provider) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	return channels.SendEach(ctx, "wechat", msgs, p.cfg.Concurrency, p.sendOne)
}

// sendOne sends one message, fetching a new token and trying once more when WeChat answers
// that the cached one is invalid or expired.
func (p *Provider) sendOne(ctx context.Context, m channels.Message) (channels.Result, bool) {
	req, err := p.BuildRequest(m)
	if err != nil {
		return channels.Permanent(m.ID, err.Error()), false
	}
	body, err := json.Marshal(req)
	if err != nil {
		return channels.Permanent(m.ID, err.Error()), false
	}
	for attempt := 0; ; attempt++ {
		tok, err := p.tokens.Get(ctx)
		if err != nil {
			return tokenFailure(m.ID, err)
		}
		ans, err := p.call(ctx, PathTemplateSend, tok, body)
		if err != nil {
			var te *transportError
			unreached := errors.As(err, &te) && te.unreached
			p.logger.WarnContext(ctx, "template send failed", "message_id", m.ID, "openid", channels.MaskID(req.ToUser), "error", err)
			return channels.Retryable(m.ID, err.Error()), unreached
		}
		if IsTokenRejected(ans.ErrCode) && attempt == 0 {
			p.tokens.Invalidate(tok)
			continue
		}
		res := MapAnswer(m.ID, ans)
		if res.Status == channels.Sent {
			p.sent.add(res.VendorID, m.ID, p.cfg.NowFunc())
		}
		if res.Status == channels.Failed {
			p.logger.WarnContext(ctx, "template message refused", "message_id", m.ID, "openid", channels.MaskID(req.ToUser),
				"errcode", ans.ErrCode, "retryable", res.Retryable)
		}
		return res, false
	}
}

// tokenFailure maps a failed token fetch to the message's result.
func tokenFailure(id string, err error) (channels.Result, bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return channels.Retryable(id, "not sent: "+err.Error()), true
	}
	var te *transportError
	if errors.As(err, &te) {
		return channels.Retryable(id, "access token: "+err.Error()), te.unreached
	}
	var ae *APIError
	if errors.As(err, &ae) && !IsRetryable(ae.Code) {
		return channels.Permanent(id, fmt.Sprintf("access token: %d: %s", ae.Code, ae.Message)), false
	}
	return channels.Retryable(id, "access token: "+err.Error()), false
}

// BuildRequest turns a rendered message into the template-send body: the template and data
// of Extra (templateId, data, url, miniprogram), or the provider's TemplateID carrying the
// title and body.
func (p *Provider) BuildRequest(m channels.Message) (*SendRequest, error) {
	openid := strings.TrimSpace(m.Address)
	if openid == "" {
		return nil, errors.New("no openid: the address is empty")
	}
	req := &SendRequest{ToUser: openid, ClientMsgID: m.ID, Data: map[string]DataItem{}}
	if id := channels.ExtraString(m.Extra, "templateId"); id != "" {
		req.TemplateID = id
		data, ok := m.Extra["data"].(map[string]any)
		if !ok || len(data) == 0 {
			return nil, errors.New("extra.data: the template's keys are required")
		}
		for k, v := range data {
			switch x := v.(type) {
			case string:
				req.Data[k] = DataItem{Value: x}
			case map[string]any:
				val, _ := x["value"].(string)
				col, _ := x["color"].(string)
				req.Data[k] = DataItem{Value: val, Color: col}
			default:
				return nil, fmt.Errorf("extra.data.%s: must be a string or {value, color}", k)
			}
		}
	} else {
		if p.cfg.TemplateID == "" {
			return nil, errors.New("no template: set extra.templateId or the provider's TemplateID")
		}
		req.TemplateID = p.cfg.TemplateID
		if m.Title != "" {
			req.Data[p.cfg.TitleKey] = DataItem{Value: m.Title}
		}
		req.Data[p.cfg.BodyKey] = DataItem{Value: m.Body}
	}
	req.URL = channels.ExtraString(m.Extra, "url")
	if mp, ok := m.Extra["miniprogram"].(map[string]any); ok {
		appid, _ := mp["appid"].(string)
		path, _ := mp["pagepath"].(string)
		if strings.TrimSpace(appid) == "" {
			return nil, errors.New("extra.miniprogram.appid: the mini program's appid is required")
		}
		req.MiniProgram = &MiniProgram{AppID: appid, PagePath: path}
	}
	return req, nil
}

// IsTokenRejected reports whether errcode says the access token is invalid or expired.
func IsTokenRejected(code int) bool {
	return code == CodeInvalidCredential || code == CodeInvalidToken || code == CodeTokenExpired
}

// IsRetryable reports whether an errcode may pass on a later try: system busy, the API
// frequency limits and a token refused again right after a refresh.
func IsRetryable(code int) bool {
	switch code {
	case CodeBusy, CodeDailyQuota, CodeMinuteQuota:
		return true
	}
	return IsTokenRejected(code)
}

// MapAnswer turns a template-send answer into a Result.
func MapAnswer(id string, ans *Answer) channels.Result {
	if ans.ErrCode == CodeOK {
		return channels.Result{MessageID: id, VendorID: strconv.FormatInt(ans.MsgID, 10), Status: channels.Sent, CostUnits: 1}
	}
	reason := strconv.Itoa(ans.ErrCode)
	if ans.ErrMsg != "" {
		reason += ": " + ans.ErrMsg
	}
	if IsRetryable(ans.ErrCode) {
		return channels.Retryable(id, reason)
	}
	return channels.Permanent(id, reason)
}

// Signature is WeChat's signature of a push: the hex SHA-1 of the sorted, concatenated
// parts (token, timestamp, nonce and, in safe mode, the encrypted message).
func Signature(parts ...string) string {
	s := slices.Clone(parts)
	sort.Strings(s)
	sum := sha1.Sum([]byte(strings.Join(s, "")))
	return hex.EncodeToString(sum[:])
}

// verifyQuery checks the signature and the age of a push or URL check.
func (p *Provider) verifyQuery(q url.Values, sigParam string, extra ...string) error {
	if p.cfg.Token == "" {
		return fmt.Errorf("wechat push: %w: no Token configured", channels.ErrUnverified)
	}
	ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil {
		return fmt.Errorf("wechat push: %w: timestamp %q is not a number", channels.ErrUnverified, q.Get("timestamp"))
	}
	if age := p.cfg.NowFunc().Sub(time.Unix(ts, 0)); age > p.cfg.MaxSkew || age < -p.cfg.MaxSkew {
		return fmt.Errorf("wechat push: %w: timestamp %d is outside the %s window", channels.ErrUnverified, ts, p.cfg.MaxSkew)
	}
	want := Signature(append([]string{p.cfg.Token, q.Get("timestamp"), q.Get("nonce")}, extra...)...)
	if subtle.ConstantTimeCompare([]byte(want), []byte(q.Get(sigParam))) != 1 {
		return fmt.Errorf("wechat push: %w: %s mismatch", channels.ErrUnverified, sigParam)
	}
	return nil
}

// AnswerChallenge answers WeChat's check of the server URL: a signed GET whose echostr is
// echoed back as is.
func (p *Provider) AnswerChallenge(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := p.verifyQuery(q, "signature"); err != nil {
		return err
	}
	echo := q.Get("echostr")
	if echo == "" {
		return fmt.Errorf("wechat url check: %w: no echostr", channels.ErrUnverified)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, echo)
	return nil
}

// Event is an event push of the official account, as XML.
type Event struct {
	ToUserName   string `xml:"ToUserName"`   // the account's original id (gh_...)
	FromUserName string `xml:"FromUserName"` // the user's openid
	CreateTime   int64  `xml:"CreateTime"`   // unix seconds
	MsgType      string `xml:"MsgType"`      // "event"
	Event        string `xml:"Event"`        // TEMPLATESENDJOBFINISH, subscribe, ...
	MsgID        string `xml:"MsgID"`        // msgid of the template-send answer
	Status       string `xml:"Status"`       // success, failed:user block, failed: system failed
	// Encrypt carries the encrypted event in safe mode.
	Encrypt string `xml:"Encrypt"`
}

// ParseReceipts verifies a push to the server URL (plaintext or safe mode) and returns the
// receipt of a TEMPLATESENDJOBFINISH event; other events give no receipt.
func (p *Provider) ParseReceipts(r *http.Request) ([]channels.Receipt, error) {
	q := r.URL.Query()
	if err := p.verifyQuery(q, "signature"); err != nil {
		return nil, err
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("wechat push: method %s, want POST", r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("wechat push: reading body: %w", err)
	}
	if q.Get("encrypt_type") == "aes" {
		if body, err = p.decryptPush(q, body); err != nil {
			return nil, err
		}
	}
	ev, err := ParseEvent(body)
	if err != nil {
		return nil, err
	}
	rc, ok, err := ev.Receipt(p.cfg.Name)
	if err != nil || !ok {
		return nil, err
	}
	now := p.cfg.NowFunc()
	if rc.At.IsZero() {
		rc.At = now
	}
	rc.MessageID = p.sent.lookup(rc.VendorID, now)
	return []channels.Receipt{rc}, nil
}

// AckReceipts writes the answer WeChat expects after an event push.
func (p *Provider) AckReceipts(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, AckBody)
}

// ParseEvent decodes an event push's XML.
func ParseEvent(body []byte) (*Event, error) {
	var ev Event
	if err := decodeXML(body, &ev); err != nil {
		return nil, fmt.Errorf("wechat push: decoding XML: %w", err)
	}
	return &ev, nil
}

// Receipt maps a TEMPLATESENDJOBFINISH event to a receipt for provider; ok is false for
// every other event.
func (ev *Event) Receipt(provider string) (rc channels.Receipt, ok bool, err error) {
	if ev.MsgType != "event" || ev.Event != EventTemplateSendJobFinish {
		return channels.Receipt{}, false, nil
	}
	id := strings.TrimSpace(ev.MsgID)
	if id == "" {
		return channels.Receipt{}, false, errors.New("wechat push: TEMPLATESENDJOBFINISH without MsgID")
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return channels.Receipt{}, false, fmt.Errorf("wechat push: MsgID %q is not a number", id)
	}
	rc = channels.Receipt{Channel: channels.WeChat, Provider: provider, VendorID: id, Address: ev.FromUserName, At: time.Unix(ev.CreateTime, 0)}
	status := strings.TrimSpace(ev.Status)
	switch {
	case status == StatusSuccess:
		rc.Status = channels.Delivered
	case strings.HasPrefix(status, "failed:"):
		rc.Status = channels.Failed
		rc.Reason = strings.TrimSpace(strings.TrimPrefix(status, "failed:"))
	default:
		return channels.Receipt{}, false, fmt.Errorf("wechat push: unknown Status %q", status)
	}
	if ev.CreateTime <= 0 {
		rc.At = time.Time{}
	}
	return rc, true, nil
}

var (
	_ channels.Provider           = (*Provider)(nil)
	_ channels.ReceiptParser      = (*Provider)(nil)
	_ channels.ReceiptAcker       = (*Provider)(nil)
	_ channels.CallbackChallenger = (*Provider)(nil)
)
