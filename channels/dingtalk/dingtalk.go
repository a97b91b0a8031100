// Package dingtalk is Herald's DINGTALK provider: work notices (工作通知) of a DingTalk
// internal app, sent as asynchronous tasks with the app's access token cached and
// refreshed, their per-user results polled from the send-result query as receipts.
//
// Vendor documentation followed (open.dingtalk.com, 服务端API):
//   - 获取企业内部应用的access_token: GET /gettoken?appkey=&appsecret= → access_token,
//     expires_in (7200 s);
//   - 发送工作通知: POST /topapi/message/corpconversation/asyncsend_v2?access_token= with
//     agent_id, userid_list (comma-separated, at most 100), msg (text, markdown, link,
//     action_card) → task_id;
//   - 获取工作通知消息的发送结果: POST /topapi/message/corpconversation/getsendresult with
//     agent_id, task_id → send_result (invalid_user_id_list, forbidden_user_id_list,
//     failed_user_id_list, read_user_id_list, unread_user_id_list, forbidden_list);
//   - 错误码 / 全局错误码 and the API frequency-limit (限流) codes mapped below.
package dingtalk

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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/internal/token"
)

// Defaults of Config.
const (
	DefaultName            = "dingtalk"
	DefaultEndpoint        = "https://oapi.dingtalk.com"
	DefaultConcurrency     = 8
	DefaultTimeout         = 10 * time.Second
	DefaultPollInterval    = 30 * time.Second
	DefaultMaxPollInterval = 10 * time.Minute
	DefaultTrackTasks      = 10000
	DefaultTrackFor        = 24 * time.Hour
)

// MaxUsers is the most user ids one asyncsend_v2 call takes.
const MaxUsers = 100

// API paths.
const (
	PathGetToken      = "/gettoken"
	PathAsyncSend     = "/topapi/message/corpconversation/asyncsend_v2"
	PathGetSendResult = "/topapi/message/corpconversation/getsendresult"
)

// Error codes of the DingTalk API that Herald tells apart.
const (
	CodeOK             = 0
	CodeBusy           = -1
	CodeAuthFailed     = 88 // details in sub_code
	CodeInvalidToken   = 40014
	CodeTokenExpired   = 42001
	CodeInvalidParam   = 40035
	CodeInvalidAgentID = 40056
	CodeInvalidAppKey  = 40089 // 不合法的corpid或corpsecret (appkey / appsecret)
	CodeNoPermission   = 60011
	CodeIPNotAllowed   = 60020 // 访问ip不在白名单之中
	// Flow control (限流): every one is retryable after a pause.
	CodeFlowAllCorps  = 90002 // the API's limit over every organisation
	CodeFlowPerMinute = 90005
	CodeFlowPerSecond = 90006
	CodeFlowAPI       = 90018 // the organisation's limit for the API
	CodeFlowISV       = 90019 // a third-party app's limit per organisation
)

// Reasons of FAILED receipts, per list of the send result.
const (
	ReasonInvalidUser = "invalid user"
	ReasonForbidden   = "forbidden"
	ReasonFailed      = "failed"
)

// Config configures a DingTalk work-notice provider.
type Config struct {
	// Name identifies the provider; default "dingtalk".
	Name string
	// Endpoint is the API base URL; default DefaultEndpoint.
	Endpoint string
	// AppKey and AppSecret are the internal app's credentials.
	AppKey    string
	AppSecret string
	// AgentID is the app's agent id, which work notices are sent as.
	AgentID int64
	// PollInterval is how soon a task's result is first queried, and again after a change;
	// default 30 s.
	PollInterval time.Duration
	// MaxPollInterval caps the doubling pause between queries of a task whose result did
	// not change; default 10 min.
	MaxPollInterval time.Duration
	// TrackTasks bounds the tasks whose results are polled; the oldest are dropped beyond
	// it. Default 10000.
	TrackTasks int
	// TrackFor is how long a task's result is polled; default 24 h.
	TrackFor time.Duration
	// Concurrency bounds the calls of one batch in flight; default 8.
	Concurrency int
	// HTTPClient sends the requests; default a client with Timeout DefaultTimeout.
	HTTPClient *http.Client
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// Provider sends DingTalk work notices and polls their results.
type Provider struct {
	cfg      Config
	endpoint string
	tokens   *token.Cache
	tasks    *tracker
	logger   *slog.Logger
}

// New validates cfg, fills its defaults and returns the provider. Errors name the field.
func New(cfg Config) (*Provider, error) {
	cfg.Name = cmp.Or(cfg.Name, DefaultName)
	cfg.Endpoint = cmp.Or(cfg.Endpoint, DefaultEndpoint)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, DefaultPollInterval)
	cfg.MaxPollInterval = cmp.Or(cfg.MaxPollInterval, DefaultMaxPollInterval)
	cfg.TrackTasks = cmp.Or(cfg.TrackTasks, DefaultTrackTasks)
	cfg.TrackFor = cmp.Or(cfg.TrackFor, DefaultTrackFor)
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
	switch {
	case strings.TrimSpace(cfg.AppKey) == "":
		return nil, errors.New("dingtalk: AppKey is required")
	case cfg.AppSecret == "":
		return nil, errors.New("dingtalk: AppSecret is required")
	case cfg.AgentID <= 0:
		return nil, fmt.Errorf("dingtalk: AgentID %d must be the app's positive agent id", cfg.AgentID)
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("dingtalk: Concurrency %d is negative", cfg.Concurrency)
	case cfg.PollInterval < 0, cfg.MaxPollInterval < cfg.PollInterval:
		return nil, fmt.Errorf("dingtalk: PollInterval %s must be positive and at most MaxPollInterval %s", cfg.PollInterval, cfg.MaxPollInterval)
	case cfg.TrackTasks < 0:
		return nil, fmt.Errorf("dingtalk: TrackTasks %d is negative", cfg.TrackTasks)
	case cfg.TrackFor < 0:
		return nil, fmt.Errorf("dingtalk: TrackFor %s is negative", cfg.TrackFor)
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dingtalk: Endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	p := &Provider{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(cfg.Endpoint, "/"),
		tasks:    newTracker(cfg.TrackTasks),
		logger:   cfg.Logger.With("component", "dingtalk", "provider", cfg.Name),
	}
	p.tokens = token.New(p.fetchToken, token.Options{Now: cfg.NowFunc})
	return p, nil
}

// Name identifies the provider.
func (p *Provider) Name() string { return p.cfg.Name }

// Channel is DINGTALK.
func (p *Provider) Channel() channels.Channel { return channels.DingTalk }

// Msg is the msg object of a work notice; exactly one of the type fields is set.
type Msg struct {
	MsgType    string      `json:"msgtype"`
	Text       *Text       `json:"text,omitempty"`
	Markdown   *Markdown   `json:"markdown,omitempty"`
	Link       *Link       `json:"link,omitempty"`
	ActionCard *ActionCard `json:"action_card,omitempty"`
}

// Text is a text message.
type Text struct {
	Content string `json:"content"`
}

// Markdown is a markdown message.
type Markdown struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// Link is a link message.
type Link struct {
	MessageURL string `json:"messageUrl"`
	PicURL     string `json:"picUrl,omitempty"`
	Title      string `json:"title"`
	Text       string `json:"text"`
}

// ActionCard is an action card with one button.
type ActionCard struct {
	Title       string `json:"title"`
	Markdown    string `json:"markdown"`
	SingleTitle string `json:"single_title"`
	SingleURL   string `json:"single_url"`
}

// SendRequest is the body of asyncsend_v2.
type SendRequest struct {
	AgentID    int64  `json:"agent_id"`
	UserIDList string `json:"userid_list"`
	Msg        Msg    `json:"msg"`
}

// ResultRequest is the body of getsendresult.
type ResultRequest struct {
	AgentID int64 `json:"agent_id"`
	TaskID  int64 `json:"task_id"`
}

// Answer is the JSON answer of every DingTalk API call this provider makes.
type Answer struct {
	ErrCode     int         `json:"errcode"`
	ErrMsg      string      `json:"errmsg"`
	SubCode     string      `json:"sub_code,omitempty"`
	SubMsg      string      `json:"sub_msg,omitempty"`
	RequestID   string      `json:"request_id,omitempty"`
	AccessToken string      `json:"access_token,omitempty"`
	ExpiresIn   int64       `json:"expires_in,omitempty"`
	TaskID      int64       `json:"task_id,omitempty"`
	SendResult  *SendResult `json:"send_result,omitempty"`
}

// SendResult is what getsendresult reports of a task, per user.
type SendResult struct {
	InvalidUserIDList   []string    `json:"invalid_user_id_list"`
	ForbiddenUserIDList []string    `json:"forbidden_user_id_list"`
	FailedUserIDList    []string    `json:"failed_user_id_list"`
	ReadUserIDList      []string    `json:"read_user_id_list"`
	UnreadUserIDList    []string    `json:"unread_user_id_list"`
	InvalidDeptIDList   []int64     `json:"invalid_dept_id_list"`
	ForbiddenList       []Forbidden `json:"forbidden_list,omitempty"`
}

// Forbidden says why a user's notice was held back by flow control.
type Forbidden struct {
	Code   string `json:"code"`
	Count  int64  `json:"count"`
	UserID string `json:"userid"`
}

// Code is the code that decides an answer's fate: sub_code when errcode is 88 (an
// authentication or permission failure detailed there), else errcode.
func (a *Answer) Code() int {
	if a.ErrCode == CodeAuthFailed {
		if c, err := strconv.Atoi(a.SubCode); err == nil {
			return c
		}
	}
	return a.ErrCode
}

// Reason is the answer's code and message, for a FAILED result.
func (a *Answer) Reason() string {
	msg := cmp.Or(a.SubMsg, a.ErrMsg)
	if msg == "" {
		return strconv.Itoa(a.Code())
	}
	return strconv.Itoa(a.Code()) + ": " + msg
}

// APIError is an errcode answer of the DingTalk API.
type APIError struct {
	Path   string
	Answer Answer
}

func (e *APIError) Error() string { return e.Path + ": " + e.Answer.Reason() }

// IsTokenRejected reports whether code says the access token is invalid or expired.
func IsTokenRejected(code int) bool { return code == CodeInvalidToken || code == CodeTokenExpired }

// IsRetryable reports whether code may pass on a later try: system busy, flow control and
// a token refused again right after a refresh. Everything else (bad parameters, agent id,
// credentials, IP allow-list, permissions) needs a fix first.
func IsRetryable(code int) bool {
	switch code {
	case CodeBusy, CodeFlowAllCorps, CodeFlowPerMinute, CodeFlowPerSecond, CodeFlowAPI, CodeFlowISV:
		return true
	}
	return IsTokenRejected(code)
}

// transportError is a request that got no readable answer.
type transportError struct {
	err       error
	unreached bool
}

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func (p *Provider) fetchToken(ctx context.Context) (token.Token, error) {
	q := url.Values{"appkey": {p.cfg.AppKey}, "appsecret": {p.cfg.AppSecret}}
	ans, err := p.do(ctx, http.MethodGet, PathGetToken+"?"+q.Encode(), nil)
	if err != nil {
		return token.Token{}, err
	}
	if ans.ErrCode != CodeOK {
		return token.Token{}, &APIError{Path: PathGetToken, Answer: *ans}
	}
	return token.Token{Value: ans.AccessToken, ExpiresIn: time.Duration(ans.ExpiresIn) * time.Second}, nil
}

// do makes one request and decodes the answer.
func (p *Provider) do(ctx context.Context, method, pathQuery string, body []byte) (*Answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.endpoint+pathQuery, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, &transportError{err: fmt.Errorf("transport: %w", channels.RedactURL(err)), unreached: true}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, &transportError{err: fmt.Errorf("reading answer: %w", err)}
	}
	var ans Answer
	if err := json.Unmarshal(raw, &ans); err != nil || resp.StatusCode >= 300 {
		return nil, &transportError{err: fmt.Errorf("HTTP %d: unreadable answer", resp.StatusCode)}
	}
	return &ans, nil
}

// call POSTs body to path with the access token, fetching a new token and trying once more
// when DingTalk answers that the cached one is invalid or expired.
func (p *Provider) call(ctx context.Context, path string, body []byte) (*Answer, error) {
	for attempt := 0; ; attempt++ {
		tok, err := p.tokens.Get(ctx)
		if err != nil {
			return nil, fmt.Errorf("access token: %w", err)
		}
		ans, err := p.do(ctx, http.MethodPost, path+"?access_token="+url.QueryEscape(tok), body)
		if err != nil {
			return nil, err
		}
		if IsTokenRejected(ans.Code()) && attempt == 0 {
			p.tokens.Invalidate(tok)
			continue
		}
		return ans, nil
	}
}

// BuildMsg turns a rendered message into a work notice's msg, after its Extra.msgType: text
// (the default; the title, when set, heads the content), markdown, link or action_card.
func BuildMsg(m channels.Message) (Msg, error) {
	typ := cmp.Or(channels.ExtraString(m.Extra, "msgType"), "text")
	link := channels.ExtraString(m.Extra, "url")
	switch typ {
	case "text":
		content := m.Body
		if m.Title != "" {
			content = m.Title + "\n" + m.Body
		}
		return Msg{MsgType: "text", Text: &Text{Content: content}}, nil
	case "markdown":
		if m.Title == "" {
			return Msg{}, errors.New("title: a markdown notice needs a title")
		}
		return Msg{MsgType: "markdown", Markdown: &Markdown{Title: m.Title, Text: m.Body}}, nil
	case "link":
		if m.Title == "" || link == "" {
			return Msg{}, errors.New("extra.url: a link notice needs a title and the URL it opens")
		}
		return Msg{MsgType: "link", Link: &Link{MessageURL: link, PicURL: channels.ExtraString(m.Extra, "picUrl"), Title: m.Title, Text: m.Body}}, nil
	case "action_card":
		if m.Title == "" || link == "" {
			return Msg{}, errors.New("extra.url: an action_card notice needs a title and the URL it opens")
		}
		return Msg{MsgType: "action_card", ActionCard: &ActionCard{Title: m.Title, Markdown: m.Body,
			SingleTitle: cmp.Or(channels.ExtraString(m.Extra, "singleTitle"), "查看详情"), SingleURL: link}}, nil
	}
	return Msg{}, fmt.Errorf("extra.msgType: %q must be text, markdown, link or action_card", typ)
}

// notice is one asyncsend_v2 call: users sharing one msg.
type notice struct {
	msg   Msg
	users []string
	index []int // position of each user's message in the batch
}

// plan groups a batch into calls: messages of identical content share a call of at most
// MaxUsers distinct users; the results of messages that cannot be sent are set in results.
func plan(msgs []channels.Message, results []channels.Result) []*notice {
	var calls []*notice
	open := map[string]*notice{} // content → the call still taking users
	for i, m := range msgs {
		user := strings.TrimSpace(m.Address)
		if user == "" {
			results[i] = channels.Permanent(m.ID, "no userid: the address is empty")
			continue
		}
		msg, err := BuildMsg(m)
		if err != nil {
			results[i] = channels.Permanent(m.ID, err.Error())
			continue
		}
		raw, _ := json.Marshal(msg)
		key := string(raw)
		n := open[key]
		if n == nil || len(n.users) == MaxUsers || slices.Contains(n.users, user) {
			n = &notice{msg: msg}
			open[key] = n
			calls = append(calls, n)
		}
		n.users = append(n.users, user)
		n.index = append(n.index, i)
	}
	return calls
}

// Send groups msgs by content into asyncsend_v2 calls of at most MaxUsers users, issues
// them at most Concurrency at a time and tracks each task for ListenReceipts. A message's
// vendor id is task_id:userid. It returns an error only when no call reached DingTalk.
func (p *Provider) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	results := make([]channels.Result, len(msgs))
	calls := plan(msgs, results)
	// A message refused before any call is an answer too.
	reached := slices.ContainsFunc(results, func(r channels.Result) bool { return r.Status != "" })
	var mu sync.Mutex
	sem := make(chan struct{}, p.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, n := range calls {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for _, i := range n.index {
				results[i] = channels.Retryable(msgs[i].ID, "not sent: "+ctx.Err().Error())
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if p.sendNotice(ctx, n, msgs, results) {
				mu.Lock()
				reached = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if !reached && len(msgs) > 0 {
		return nil, fmt.Errorf("dingtalk: no call reached the vendor: %s", results[0].Reason)
	}
	return results, nil
}

// sendNotice makes one asyncsend_v2 call and sets its messages' results; it reports
// whether the call reached DingTalk.
func (p *Provider) sendNotice(ctx context.Context, n *notice, msgs []channels.Message, results []channels.Result) bool {
	fail := func(reason string, retry bool) {
		for _, i := range n.index {
			results[i] = channels.Result{MessageID: msgs[i].ID, Status: channels.Failed, Reason: reason, Retryable: retry}
		}
	}
	body, err := json.Marshal(SendRequest{AgentID: p.cfg.AgentID, UserIDList: strings.Join(n.users, ","), Msg: n.msg})
	if err != nil {
		fail(err.Error(), false)
		return true
	}
	ans, err := p.call(ctx, PathAsyncSend, body)
	if err != nil {
		var te *transportError
		var ae *APIError
		switch {
		case errors.As(err, &te):
			p.logger.WarnContext(ctx, "work notice call failed", "users", len(n.users), "error", err)
			fail(err.Error(), true)
			return !te.unreached
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			fail("not sent: "+err.Error(), true) // gave up waiting for the access token
			return false
		case errors.As(err, &ae):
			fail(err.Error(), IsRetryable(ae.Answer.Code()))
		default:
			fail(err.Error(), true)
		}
		return true
	}
	if ans.ErrCode != CodeOK {
		p.logger.WarnContext(ctx, "work notice refused", "users", len(n.users), "errcode", ans.ErrCode, "sub_code", ans.SubCode)
		fail(ans.Reason(), IsRetryable(ans.Code()))
		return true
	}
	task := strconv.FormatInt(ans.TaskID, 10)
	ids := make(map[string]string, len(n.users))
	for k, i := range n.index {
		user := n.users[k]
		ids[user] = msgs[i].ID
		results[i] = channels.Result{MessageID: msgs[i].ID, VendorID: task + ":" + user, Status: channels.Sent, CostUnits: 1}
	}
	p.tasks.add(ans.TaskID, ids, p.cfg.NowFunc(), p.cfg.PollInterval)
	return true
}

var (
	_ channels.Provider        = (*Provider)(nil)
	_ channels.ReceiptListener = (*Provider)(nil)
)
