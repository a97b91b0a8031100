// Package push holds Herald's APP_PUSH providers: Getui (个推) speaks Getui's REST push API
// v2 and parses its receipt callbacks; MQTT publishes to self-hosted device connections
// through an MQTT broker and listens for the devices' acknowledgements.
//
// Getui documentation followed: REST API v2 authentication (docs.getui.com/getui/server/
// rest_v2/token), push API (…/rest_v2/push: /push/single/cid, /push/single/batch/cid),
// return codes (…/rest_v2/code) and the receipt callback (docs.getui.com/getui/server/
// receipt: one JSON object per line, Sign = MD5(appid+cid+taskid+msgid+masterSecret)).
package push

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/internal/token"
)

// Defaults of GetuiConfig.
const (
	DefaultGetuiEndpoint    = "https://restapi.getui.com"
	DefaultGetuiConcurrency = 4
	DefaultGetuiTimeout     = 10 * time.Second
	DefaultMaxReceiptAge    = 24 * time.Hour
)

// GetuiMaxBatch is the most messages one /push/single/batch/cid request carries (msg_list).
const GetuiMaxBatch = 200

// Limits of a Getui notification, in characters.
const (
	GetuiTitleMax = 50
	GetuiBodyMax  = 256
)

// Return codes of Getui's API that Herald treats specially (rest_v2/code).
const (
	GetuiOK             = 0
	GetuiStarting       = 2     // 服务正在启动
	GetuiDomainChanged  = 301   // 域名错误: the app lives in another data centre
	GetuiTokenInvalid   = 10001 // token错误/失效
	GetuiBlacklisted    = 10002 // appId或ip在黑名单中
	GetuiAuthRateLimit  = 10003 // 每分钟鉴权频率超限
	GetuiCallRateLimit  = 10005 // 每分钟调用频率超限
	GetuiParamInvalid   = 20001 // 参数不合法, including "target user is invalid"
	GetuiSystemBusy     = 30019 // 系统繁忙，请稍后重试
	GetuiTargetInvalid  = "target user is invalid"
	GetuiStatusOnline   = "successed_online"
	GetuiStatusOffline  = "successed_offline"
	GetuiStatusIgnored  = "successed_ignore"
	GetuiReceiptSuccess = "200"
)

// Receipt action ids of Getui's callback (actionId) that Herald maps to a status.
var (
	getuiDelivered = []string{"0", "10030", "110000", "140000", "150000"} // 个推到达, 透传到达, 华为/OPPO/VIVO 到达
	getuiDisplayed = []string{"10000", "10009"}                           // 个推/苹果 展示
	getuiClicked   = []string{"10010", "10019", "120010", "130010"}       // 个推/苹果/小米/魅族 点击
)

// GetuiConfig configures a Getui provider.
type GetuiConfig struct {
	// Name identifies the provider; default "getui".
	Name string
	// Endpoint is the API host; default DefaultGetuiEndpoint. Requests go to
	// {Endpoint}/v2/{AppID}/...
	Endpoint string
	// AppID, AppKey and MasterSecret are the app's credentials from Getui's console.
	AppID        string
	AppKey       string
	MasterSecret string
	// DefaultTitle is the notification title of messages whose variant has none (Getui
	// requires one), typically the app's name.
	DefaultTitle string
	// TTL is how long Getui keeps a message for an offline device (settings.ttl); zero
	// leaves Getui's default of two hours, at most three days.
	TTL time.Duration
	// MaxReceiptAge refuses receipt lines whose recvtime is older; default
	// DefaultMaxReceiptAge. Getui's sign does not cover recvtime, so this only stops naive
	// replays of captured callbacks.
	MaxReceiptAge time.Duration
	// Concurrency bounds the requests of one Send in flight; default 4.
	Concurrency int
	// HTTPClient sends the requests; default a client with Timeout DefaultGetuiTimeout.
	HTTPClient *http.Client
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// Getui sends APP_PUSH notifications through Getui's REST API v2: one /push/single/cid
// request for a lone message, /push/single/batch/cid for up to 200 messages with one
// request_id each. Herald renders every message for its user, so the list push
// (/push/list/message + /push/list/cid, one content for many cids under one request_id)
// does not fit: it would lose the per-message request_id that Getui deduplicates on.
type Getui struct {
	cfg    GetuiConfig
	base   string
	logger *slog.Logger
	tokens *token.Cache
}

// GetuiAnswer is the envelope of every Getui API answer.
type GetuiAnswer struct {
	Code int             `json:"code"`
	Msg  string          `json:"msg"`
	Data json.RawMessage `json:"data,omitempty"`
}

// GetuiAuthRequest is the body of POST /v2/{appId}/auth.
type GetuiAuthRequest struct {
	Sign      string `json:"sign"`
	Timestamp string `json:"timestamp"` // milliseconds, 13 digits
	AppKey    string `json:"appkey"`
}

// GetuiAuthData is the data of a successful auth answer.
type GetuiAuthData struct {
	ExpireTime string `json:"expire_time"` // milliseconds since the epoch
	Token      string `json:"token"`
}

// GetuiPush is one message of /push/single/cid (the whole body) or of a batch's msg_list.
type GetuiPush struct {
	RequestID   string           `json:"request_id"`
	Settings    *GetuiSettings   `json:"settings,omitempty"`
	Audience    GetuiAudience    `json:"audience"`
	PushMessage GetuiPushMessage `json:"push_message"`
}

// GetuiSettings are a push's conditions.
type GetuiSettings struct {
	TTL int64 `json:"ttl,omitempty"` // milliseconds
}

// GetuiAudience names the target devices; single pushes take exactly one cid.
type GetuiAudience struct {
	CID []string `json:"cid"`
}

// GetuiPushMessage is the message pushed through Getui's own channel.
type GetuiPushMessage struct {
	Notification *GetuiNotification `json:"notification,omitempty"`
}

// GetuiNotification is a notification the device shows.
type GetuiNotification struct {
	Title     string `json:"title"`
	Body      string `json:"body"`
	ClickType string `json:"click_type"` // startapp, url, intent, payload, payload_custom, none
	URL       string `json:"url,omitempty"`
	Intent    string `json:"intent,omitempty"`
	Payload   string `json:"payload,omitempty"`
}

// GetuiBatch is the body of /push/single/batch/cid.
type GetuiBatch struct {
	IsAsync bool        `json:"is_async"`
	MsgList []GetuiPush `json:"msg_list"`
}

// GetuiReceipt is one line of Getui's receipt callback.
type GetuiReceipt struct {
	AppID    string `json:"appid"`
	CID      string `json:"cid"`
	TaskID   string `json:"taskid"`
	MsgID    string `json:"msgid"`
	Code     string `json:"code"` // 200 success; 400, 401, 402, 500 failures
	Desc     string `json:"desc"`
	Sign     string `json:"sign"`
	ActionID string `json:"actionId"`
	RecvTime int64  `json:"recvtime"` // milliseconds
	Alias    string `json:"alias,omitempty"`
}

// GetuiAuthSign is the sign of an auth request: hex SHA-256 of appkey+timestamp+mastersecret.
func GetuiAuthSign(appKey, timestamp, masterSecret string) string {
	sum := sha256.Sum256([]byte(appKey + timestamp + masterSecret))
	return hex.EncodeToString(sum[:])
}

// GetuiReceiptSign is the sign of a receipt line: hex MD5 of appid+cid+taskid+msgid+masterSecret.
func GetuiReceiptSign(appID, cid, taskID, msgID, masterSecret string) string {
	sum := md5.Sum([]byte(appID + cid + taskID + msgID + masterSecret))
	return hex.EncodeToString(sum[:])
}

// NewGetui validates cfg, fills its defaults and returns the provider.
func NewGetui(cfg GetuiConfig) (*Getui, error) {
	cfg.Name = cmp.Or(cfg.Name, "getui")
	cfg.Endpoint = cmp.Or(cfg.Endpoint, DefaultGetuiEndpoint)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultGetuiConcurrency)
	cfg.MaxReceiptAge = cmp.Or(cfg.MaxReceiptAge, DefaultMaxReceiptAge)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultGetuiTimeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	switch {
	case strings.TrimSpace(cfg.AppID) == "":
		return nil, errors.New("getui: AppID is required")
	case strings.ContainsAny(cfg.AppID, "/?#% "):
		return nil, fmt.Errorf("getui: AppID %q is not a Getui app id", cfg.AppID)
	case cfg.AppKey == "":
		return nil, errors.New("getui: AppKey is required")
	case cfg.MasterSecret == "":
		return nil, errors.New("getui: MasterSecret is required")
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("getui: Concurrency %d is negative", cfg.Concurrency)
	case cfg.TTL < 0 || cfg.TTL > 72*time.Hour:
		return nil, fmt.Errorf("getui: TTL %s must be between 0 and 72h", cfg.TTL)
	case utf8.RuneCountInString(cfg.DefaultTitle) > GetuiTitleMax:
		return nil, fmt.Errorf("getui: DefaultTitle is longer than %d characters", GetuiTitleMax)
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("getui: Endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	g := &Getui{
		cfg:    cfg,
		base:   strings.TrimSuffix(cfg.Endpoint, "/") + "/v2/" + cfg.AppID,
		logger: cfg.Logger.With("component", "push.getui", "provider", cfg.Name),
	}
	g.tokens = token.New(g.fetchToken, token.Options{Margin: time.Hour, Now: cfg.NowFunc})
	return g, nil
}

// Name identifies the provider.
func (g *Getui) Name() string { return g.cfg.Name }

// ReceiptsByVendorID is true: Getui's receipts name the taskid of each push, not the
// request_id Herald sent, so the dispatcher keeps taskid → message id for every Herald
// process (channels.VendorKeyedReceipts).
func (g *Getui) ReceiptsByVendorID() bool { return true }

// Channel is APP_PUSH.
func (g *Getui) Channel() channels.Channel { return channels.AppPush }

// MaxBatch is the msg_list limit of a batch push.
func (g *Getui) MaxBatch() int { return GetuiMaxBatch }

// TokenFetches counts the auth requests made so far.
func (g *Getui) TokenFetches() int64 { return g.tokens.Fetches() }

// fetchToken asks Getui for a token (POST /auth).
func (g *Getui) fetchToken(ctx context.Context) (token.Token, error) {
	now := g.cfg.NowFunc()
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	req := GetuiAuthRequest{Sign: GetuiAuthSign(g.cfg.AppKey, ts, g.cfg.MasterSecret), Timestamp: ts, AppKey: g.cfg.AppKey}
	status, ans, err := g.call(ctx, http.MethodPost, "/auth", "", req)
	if err != nil {
		return token.Token{}, err
	}
	if ans.Code != GetuiOK {
		return token.Token{}, fmt.Errorf("getui auth: HTTP %d, code %d: %s", status, ans.Code, ans.Msg)
	}
	var data GetuiAuthData
	if err := json.Unmarshal(ans.Data, &data); err != nil {
		return token.Token{}, fmt.Errorf("getui auth: unreadable data: %w", err)
	}
	exp, err := strconv.ParseInt(strings.TrimSpace(data.ExpireTime), 10, 64)
	if err != nil {
		return token.Token{}, fmt.Errorf("getui auth: expire_time %q is not a millisecond time", data.ExpireTime)
	}
	return token.Token{Value: data.Token, ExpiresIn: time.UnixMilli(exp).Sub(now)}, nil
}

// errTransport marks a request that got no answer from Getui.
type errTransport struct{ err error }

func (e errTransport) Error() string { return "transport: " + e.err.Error() }
func (e errTransport) Unwrap() error { return e.err }

// call sends one request; the error is set only when no answer came back.
func (g *Getui) call(ctx context.Context, method, path, tok string, body any) (int, GetuiAnswer, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, GetuiAnswer{}, err
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, GetuiAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	if tok != "" {
		req.Header.Set("token", tok)
	}
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, GetuiAnswer{}, errTransport{err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, GetuiAnswer{}, errTransport{fmt.Errorf("reading answer: %w", err)}
	}
	var ans GetuiAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return resp.StatusCode, GetuiAnswer{Code: -1, Msg: fmt.Sprintf("HTTP %d: unreadable answer", resp.StatusCode)}, nil
	}
	return resp.StatusCode, ans, nil
}

// prepared is a message ready for Getui.
type prepared struct {
	index int
	push  GetuiPush
}

// Send pushes msgs, one request per message alone or a batch request per group of up to 200
// messages to distinct cids, and maps each answer to a Result. It returns an error only when
// no request reached Getui.
func (g *Getui) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	results := make([]channels.Result, len(msgs))
	var ready []prepared
	for i, m := range msgs {
		p, reason := g.prepare(m)
		if reason != "" {
			results[i] = channels.Permanent(m.ID, reason)
			continue
		}
		ready = append(ready, prepared{index: i, push: p})
	}
	chunks := chunkByCID(ready, GetuiMaxBatch)
	reached := make([]bool, len(chunks))
	sem := make(chan struct{}, max(g.cfg.Concurrency, 1))
	var wg sync.WaitGroup
	for c, chunk := range chunks {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for _, p := range chunk {
				results[p.index] = channels.Retryable(msgs[p.index].ID, "not sent: "+ctx.Err().Error())
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			reached[c] = g.sendChunk(ctx, msgs, chunk, results)
		}()
	}
	wg.Wait()
	if len(chunks) > 0 && len(ready) == len(msgs) {
		anyReached := false
		for _, r := range reached {
			anyReached = anyReached || r
		}
		if !anyReached {
			return nil, fmt.Errorf("getui: no request reached Getui: %s", results[chunks[0][0].index].Reason)
		}
	}
	return results, nil
}

// chunkByCID groups messages into requests of at most n messages with distinct cids, as
// Getui refuses a batch that names a cid twice and answers per cid.
func chunkByCID(ready []prepared, n int) [][]prepared {
	var chunks [][]prepared
	var seen []map[string]bool
	for _, p := range ready {
		cid := p.push.Audience.CID[0]
		placed := false
		for c := range chunks {
			if len(chunks[c]) < n && !seen[c][cid] {
				chunks[c] = append(chunks[c], p)
				seen[c][cid] = true
				placed = true
				break
			}
		}
		if !placed {
			chunks = append(chunks, []prepared{p})
			seen = append(seen, map[string]bool{cid: true})
		}
	}
	return chunks
}

// sendChunk sends one request for chunk and fills its results; it reports whether Getui
// answered.
func (g *Getui) sendChunk(ctx context.Context, msgs []channels.Message, chunk []prepared, results []channels.Result) bool {
	path, body := "/push/single/cid", any(chunk[0].push)
	if len(chunk) > 1 {
		batch := GetuiBatch{MsgList: make([]GetuiPush, len(chunk))}
		for i, p := range chunk {
			batch.MsgList[i] = p.push
		}
		path, body = "/push/single/batch/cid", batch
	}
	fail := func(res func(id, reason string) channels.Result, reason string) {
		for _, p := range chunk {
			results[p.index] = res(msgs[p.index].ID, reason)
		}
	}
	var status int
	var ans GetuiAnswer
	for attempt := 0; ; attempt++ {
		tok, err := g.tokens.Get(ctx)
		if err != nil {
			g.logger.WarnContext(ctx, "getui auth failed", "error", err)
			fail(channels.Retryable, "auth: "+err.Error())
			return !errors.As(err, new(errTransport))
		}
		status, ans, err = g.call(ctx, http.MethodPost, path, tok, body)
		if err != nil {
			g.logger.WarnContext(ctx, "getui request failed", "messages", len(chunk), "error", err)
			fail(channels.Retryable, err.Error())
			return false
		}
		if ans.Code == GetuiTokenInvalid && attempt == 0 {
			g.tokens.Invalidate(tok)
			continue
		}
		break
	}
	if ans.Code == GetuiOK && status < 300 {
		g.mapAccepted(msgs, chunk, ans, results)
		return true
	}
	if len(chunk) > 1 && ans.Code == GetuiParamInvalid {
		// One bad message (an invalid cid, ...) refuses the whole batch: send each alone so
		// that every message gets its own verdict. Nothing of the batch was pushed.
		for _, p := range chunk {
			g.sendChunk(ctx, msgs, []prepared{p}, results)
		}
		return true
	}
	reason := fmt.Sprintf("%d: %s", ans.Code, ans.Msg)
	res := channels.Permanent
	if status >= 500 || status == http.StatusTooManyRequests || getuiRetryable(ans.Code) {
		res = channels.Retryable
	}
	fail(res, reason)
	for _, p := range chunk {
		g.logger.WarnContext(ctx, "getui push refused", "message_id", msgs[p.index].ID, "cid", channels.MaskID(p.push.Audience.CID[0]),
			"code", ans.Code, "http_status", status, "retryable", results[p.index].Retryable)
	}
	return true
}

// mapAccepted reads the answer data {taskid: {cid: status}} of an accepted push.
func (g *Getui) mapAccepted(msgs []channels.Message, chunk []prepared, ans GetuiAnswer, results []channels.Result) {
	var data map[string]map[string]string
	_ = json.Unmarshal(ans.Data, &data)
	type outcome struct{ task, status string }
	byCID := map[string]outcome{}
	for task, cids := range data {
		for cid, st := range cids {
			byCID[cid] = outcome{task, st}
		}
	}
	for _, p := range chunk {
		id := msgs[p.index].ID
		o, ok := byCID[p.push.Audience.CID[0]]
		switch {
		case !ok:
			// Getui deduplicates on request_id, so pushing the message again is safe.
			results[p.index] = channels.Retryable(id, "the answer names no task for this cid")
		case o.status == GetuiStatusIgnored:
			results[p.index] = channels.Result{MessageID: id, VendorID: o.task, Status: channels.Failed,
				Reason: GetuiStatusIgnored + ": the device has been inactive for 90 days; Getui did not push"}
		default:
			results[p.index] = channels.Result{MessageID: id, VendorID: o.task, Status: channels.Sent, CostUnits: 1}
		}
	}
}

// getuiRetryable reports whether a Getui code may pass on a later try or another provider:
// the service starting or moved, rate limits, quotas and a busy system.
func getuiRetryable(code int) bool {
	switch code {
	case GetuiStarting, GetuiDomainChanged, GetuiTokenInvalid, GetuiAuthRateLimit, GetuiCallRateLimit, GetuiSystemBusy, -1:
		return true
	case 30004, 30006, 30007, 30008, 30009, 30010, 30011, 30013, 30014, 30015, 30018: // daily quotas and per-minute limits
		return true
	}
	return false
}

// prepare builds the push of m, or returns why m cannot be sent.
func (g *Getui) prepare(m channels.Message) (GetuiPush, string) {
	cid := strings.TrimSpace(m.Address)
	if cid == "" {
		return GetuiPush{}, "no Getui client id (cid)"
	}
	if len(cid) > 128 || strings.ContainsFunc(cid, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return GetuiPush{}, "the address is not a Getui client id (cid)"
	}
	title := cmp.Or(strings.TrimSpace(m.Title), g.cfg.DefaultTitle)
	if title == "" {
		return GetuiPush{}, "no notification title: set the variant's title or the provider's DefaultTitle"
	}
	if n := utf8.RuneCountInString(title); n > GetuiTitleMax {
		return GetuiPush{}, fmt.Sprintf("title is %d characters; Getui takes at most %d", n, GetuiTitleMax)
	}
	if strings.TrimSpace(m.Body) == "" {
		return GetuiPush{}, "empty notification body"
	}
	if n := utf8.RuneCountInString(m.Body); n > GetuiBodyMax {
		return GetuiPush{}, fmt.Sprintf("body is %d characters; Getui takes at most %d", n, GetuiBodyMax)
	}
	n := &GetuiNotification{Title: title, Body: m.Body, ClickType: "startapp"}
	action, _ := m.Extra["clickAction"].(string)
	switch action {
	case "url":
		n.ClickType = "url"
		n.URL, _ = m.Extra["url"].(string)
		if n.URL == "" {
			return GetuiPush{}, `clickAction "url" without extra.url`
		}
	case "intent":
		n.ClickType = "intent"
		n.Intent, _ = m.Extra["intent"].(string)
		if n.Intent == "" {
			return GetuiPush{}, `clickAction "intent" without extra.intent`
		}
	case "", "app":
		if payload, ok := m.Extra["payload"]; ok && payload != nil {
			b, err := json.Marshal(payload)
			if err != nil {
				return GetuiPush{}, "extra.payload: " + err.Error()
			}
			n.ClickType, n.Payload = "payload", string(b)
		}
	default:
		return GetuiPush{}, fmt.Sprintf("clickAction %q is not app, url or intent", action)
	}
	p := GetuiPush{RequestID: RequestID(m.ID), Audience: GetuiAudience{CID: []string{cid}},
		PushMessage: GetuiPushMessage{Notification: n}}
	if g.cfg.TTL > 0 {
		p.Settings = &GetuiSettings{TTL: g.cfg.TTL.Milliseconds()}
	}
	return p, ""
}

// RequestID is the request_id of Herald's message id: the id itself when it has the 10 to 32
// characters Getui takes (Herald's ids have 27), otherwise the first 32 hex digits of its
// SHA-256, so that a message sent twice carries the same request_id and Getui drops the copy.
func RequestID(messageID string) string {
	if n := len(messageID); n >= 10 && n <= 32 && !strings.ContainsFunc(messageID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return messageID
	}
	sum := sha256.Sum256([]byte(messageID))
	return hex.EncodeToString(sum[:16])
}

// ParseReceipts verifies and parses a Getui receipt callback: one JSON object per line, each
// signed with the master secret. A line with a wrong app id or sign, or older than
// MaxReceiptAge, makes the whole request unverified. Custom (90000–90999) and vendor
// "sent" action ids carry no delivery status and are skipped.
func (g *Getui) ParseReceipts(r *http.Request) ([]channels.Receipt, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("getui receipt: method %s, want POST", r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("getui receipt: reading body: %w", err)
	}
	return g.parseReceiptBody(body)
}

func (g *Getui) parseReceiptBody(body []byte) ([]channels.Receipt, error) {
	now := g.cfg.NowFunc()
	var out []channels.Receipt
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		lines++
		var rc GetuiReceipt
		if err := json.Unmarshal(line, &rc); err != nil {
			return nil, fmt.Errorf("getui receipt: line %d: %w", lines, err)
		}
		if rc.AppID != g.cfg.AppID {
			return nil, fmt.Errorf("getui receipt: %w: line %d is for another app", channels.ErrUnverified, lines)
		}
		want := GetuiReceiptSign(rc.AppID, rc.CID, rc.TaskID, rc.MsgID, g.cfg.MasterSecret)
		if subtle.ConstantTimeCompare([]byte(strings.ToLower(rc.Sign)), []byte(want)) != 1 {
			return nil, fmt.Errorf("getui receipt: %w: line %d has a wrong sign", channels.ErrUnverified, lines)
		}
		at := now
		if rc.RecvTime > 0 {
			at = time.UnixMilli(rc.RecvTime)
			if now.Sub(at) > g.cfg.MaxReceiptAge {
				return nil, fmt.Errorf("getui receipt: %w: line %d is stale (recvtime %s)", channels.ErrUnverified, lines, at.UTC().Format(time.RFC3339))
			}
		}
		if rc.TaskID == "" {
			return nil, fmt.Errorf("getui receipt: line %d has no taskid", lines)
		}
		status, ok := getuiStatus(rc)
		if !ok {
			continue
		}
		out = append(out, channels.Receipt{Channel: channels.AppPush, Provider: g.cfg.Name, VendorID: rc.TaskID,
			Address: rc.CID, Status: status, Reason: getuiReason(rc, status), At: at})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("getui receipt: %w", err)
	}
	if lines == 0 {
		return nil, errors.New("getui receipt: empty body")
	}
	return out, nil
}

// getuiStatus maps a receipt line to a status; false for lines that carry none.
func getuiStatus(rc GetuiReceipt) (channels.Status, bool) {
	if rc.Code != GetuiReceiptSuccess {
		return channels.Failed, true
	}
	action := strings.TrimSpace(rc.ActionID)
	for _, set := range []struct {
		ids    []string
		status channels.Status
	}{{getuiDelivered, channels.Delivered}, {getuiDisplayed, channels.Displayed}, {getuiClicked, channels.Clicked}} {
		for _, id := range set.ids {
			if action == id {
				return set.status, true
			}
		}
	}
	return "", false
}

func getuiReason(rc GetuiReceipt, status channels.Status) string {
	if status != channels.Failed {
		return ""
	}
	return strings.TrimSpace(rc.Code + ": " + rc.Desc)
}

var (
	_ channels.Provider      = (*Getui)(nil)
	_ channels.ReceiptParser = (*Getui)(nil)
	_ channels.BatchLimiter  = (*Getui)(nil)
)
