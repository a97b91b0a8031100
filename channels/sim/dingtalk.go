package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/dingtalk"
)

func init() {
	registerVendor(vendor{
		name:    vendorDingTalk,
		channel: channels.DingTalk,
		routes: func(s *Server, mux *http.ServeMux) {
			d := &dingTasks{tasks: map[int64]*dingTask{}}
			mux.HandleFunc("GET "+dingtalk.PathGetToken, s.handleDingTalkToken)
			mux.HandleFunc("POST "+dingtalk.PathAsyncSend, func(w http.ResponseWriter, r *http.Request) { s.handleDingTalkSend(w, r, d) })
			mux.HandleFunc("POST "+dingtalk.PathGetSendResult, func(w http.ResponseWriter, r *http.Request) { s.handleDingTalkResult(w, r, d) })
		},
		// No receipts are pushed: Herald polls getsendresult.
	})
}

const (
	vendorDingTalk = "dingtalk"
	// maxDingTasks bounds the tasks whose results the simulator remembers.
	maxDingTasks = 100_000
)

// dingTask is an accepted asyncsend_v2 task.
type dingTask struct {
	agentID int64
	users   []dingUser
}

// dingUser is one recipient of a task and when its notice counts as delivered.
type dingUser struct {
	id       string
	behavior behavior
	due      time.Time
	reported bool // its delivery was reported once (counted in Stats.Receipts)
	// undelivered: picked by the undelivered rate, it shows in failed_user_id_list.
	undelivered bool
}

type dingTasks struct {
	mu    sync.Mutex
	next  int64
	tasks map[int64]*dingTask
	order []int64
}

func (d *dingTasks) add(t *dingTask) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.next == 0 {
		d.next = time.Now().Unix() << 16
	}
	d.next++
	for len(d.order) >= maxDingTasks {
		delete(d.tasks, d.order[0])
		d.order = d.order[1:]
	}
	d.tasks[d.next] = t
	d.order = append(d.order, d.next)
	return d.next
}

func dingError(w http.ResponseWriter, s *Server, code int, msg string) {
	writeJSON(w, http.StatusOK, dingtalk.Answer{ErrCode: code, ErrMsg: msg, RequestID: dingRequestID(s)})
}

// handleDingTalkToken serves GET /gettoken?appkey=&appsecret=.
func (s *Server) handleDingTalkToken(w http.ResponseWriter, r *http.Request) {
	s.pause(r.Context())
	q := r.URL.Query()
	if q.Get("appkey") != s.cfg.AccessKeyID || q.Get("appsecret") != s.cfg.AccessKeySecret {
		dingError(w, s, dingtalk.CodeInvalidAppKey, "不合法的corpid或corpsecret")
		return
	}
	if s.fault() {
		s.store.add(faults, channels.DingTalk, 1)
		dingError(w, s, dingtalk.CodeBusy, "系统繁忙")
		return
	}
	tok, life := s.tokens.issue("dingtalk:"+q.Get("appkey"), s.cfg.TokenLifetime, time.Now())
	writeJSON(w, http.StatusOK, dingtalk.Answer{ErrCode: 0, ErrMsg: "ok", AccessToken: tok, ExpiresIn: int64(life / time.Second)})
}

// dingToken checks the access_token of a topapi call; false means an error was written.
func (s *Server) dingToken(w http.ResponseWriter, r *http.Request) bool {
	switch _, c := s.tokens.check(r.URL.Query().Get("access_token"), time.Now()); c {
	case tokenMissing, tokenInvalid:
		dingError(w, s, dingtalk.CodeInvalidToken, "不合法的access_token")
		return false
	case tokenExpired:
		dingError(w, s, dingtalk.CodeTokenExpired, "access_token超时")
		return false
	}
	return true
}

// readDingRequest decodes a topapi body: JSON, or the form the TOP SDKs post (msg as a JSON
// string).
func readDingRequest(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "{") || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return json.Unmarshal(body, v)
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	if err := r.ParseForm(); err != nil {
		return err
	}
	m := map[string]json.RawMessage{}
	for k := range r.PostForm {
		val := r.PostForm.Get(k)
		if json.Valid([]byte(val)) && (strings.HasPrefix(val, "{") || k == "agent_id" || k == "task_id") {
			m[k] = json.RawMessage(val)
		} else {
			b, _ := json.Marshal(val)
			m[k] = b
		}
	}
	b, _ := json.Marshal(m)
	return json.Unmarshal(b, v)
}

// handleDingTalkSend serves asyncsend_v2: a task for up to 100 users sharing one msg.
func (s *Server) handleDingTalkSend(w http.ResponseWriter, r *http.Request, d *dingTasks) {
	s.pause(r.Context())
	if !s.dingToken(w, r) {
		return
	}
	if s.fault() {
		s.store.add(faults, channels.DingTalk, 1)
		dingError(w, s, dingtalk.CodeBusy, "系统繁忙")
		return
	}
	var req dingtalk.SendRequest
	if err := readDingRequest(r, &req); err != nil {
		dingError(w, s, dingtalk.CodeInvalidParam, "不合法的参数: "+err.Error())
		return
	}
	if req.AgentID <= 0 {
		dingError(w, s, dingtalk.CodeInvalidAgentID, "不合法的agentid")
		return
	}
	var users []string
	for _, u := range strings.Split(req.UserIDList, ",") {
		if u = strings.TrimSpace(u); u != "" {
			users = append(users, u)
		}
	}
	if len(users) == 0 || len(users) > dingtalk.MaxUsers {
		dingError(w, s, dingtalk.CodeInvalidParam, "不合法的参数: userid_list takes 1 to 100 user ids")
		return
	}
	content, ok := renderDingTalk(&req.Msg)
	if !ok {
		dingError(w, s, dingtalk.CodeInvalidParam, "不合法的参数: msg")
		return
	}
	if !s.admit(vendorDingTalk, len(users)) {
		s.store.add(throttled, channels.DingTalk, 1)
		dingError(w, s, dingtalk.CodeFlowAPI, "您的企业调用该接口的频率超过上限")
		return
	}
	now := time.Now()
	t := &dingTask{agentID: req.AgentID}
	for _, u := range users {
		b := addressBehavior(u)
		due := now.Add(s.cfg.ReceiptDelay)
		if b == slow {
			due = now.Add(s.cfg.SlowDelay)
		}
		t.users = append(t.users, dingUser{id: u, behavior: b, due: due})
	}
	id := d.add(t)
	task := strconv.FormatInt(id, 10)
	d.mu.Lock()
	for i := range t.users {
		u := &t.users[i]
		if u.behavior == reject {
			s.store.add(rejected, channels.DingTalk, 1)
			s.logger.Info("dingtalk user invalid", "userid", channels.MaskID(u.id), "task_id", id)
			continue
		}
		u.undelivered = u.behavior == deliver && s.undelivered(channels.DingTalk, task+":"+u.id)
		s.store.record(Message{Channel: channels.DingTalk, Address: u.id, Content: content, ReceivedAt: now,
			VendorID: task + ":" + u.id, Behavior: behaviorName(u.behavior, u.undelivered)})
	}
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, dingtalk.Answer{ErrCode: 0, ErrMsg: "ok", TaskID: id, RequestID: dingRequestID(s)})
}

// handleDingTalkResult serves getsendresult from what the task was sent: invalid users at
// once, others unread once their delay passed; silent users never appear.
func (s *Server) handleDingTalkResult(w http.ResponseWriter, r *http.Request, d *dingTasks) {
	s.pause(r.Context())
	if !s.dingToken(w, r) {
		return
	}
	if s.fault() {
		s.store.add(faults, channels.DingTalk, 1)
		dingError(w, s, dingtalk.CodeBusy, "系统繁忙")
		return
	}
	var req dingtalk.ResultRequest
	if err := readDingRequest(r, &req); err != nil {
		dingError(w, s, dingtalk.CodeInvalidParam, "不合法的参数: "+err.Error())
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tasks[req.TaskID]
	if !ok || (req.AgentID != 0 && req.AgentID != t.agentID) {
		dingError(w, s, dingtalk.CodeInvalidParam, "不合法的参数: task_id")
		return
	}
	res := dingtalk.SendResult{InvalidUserIDList: []string{}, ForbiddenUserIDList: []string{}, FailedUserIDList: []string{},
		ReadUserIDList: []string{}, UnreadUserIDList: []string{}, InvalidDeptIDList: []int64{}}
	now := time.Now()
	for i := range t.users {
		u := &t.users[i]
		switch {
		case u.behavior == reject:
			res.InvalidUserIDList = append(res.InvalidUserIDList, u.id)
		case u.behavior == silent || now.Before(u.due):
		case u.undelivered:
			res.FailedUserIDList = append(res.FailedUserIDList, u.id)
			if !u.reported {
				u.reported = true
				s.store.add(receiptsPosted, channels.DingTalk, 1)
			}
		default:
			res.UnreadUserIDList = append(res.UnreadUserIDList, u.id)
			if !u.reported {
				u.reported = true
				s.store.add(receiptsPosted, channels.DingTalk, 1)
			}
		}
	}
	writeJSON(w, http.StatusOK, dingtalk.Answer{ErrCode: 0, ErrMsg: "ok", SendResult: &res, RequestID: dingRequestID(s)})
}

// renderDingTalk is the text a work notice shows; false for a msg DingTalk refuses.
func renderDingTalk(m *dingtalk.Msg) (string, bool) {
	switch m.MsgType {
	case "text":
		if m.Text == nil || m.Text.Content == "" {
			return "", false
		}
		return m.Text.Content, true
	case "markdown":
		if m.Markdown == nil || m.Markdown.Title == "" || m.Markdown.Text == "" {
			return "", false
		}
		return m.Markdown.Title + "\n" + m.Markdown.Text, true
	case "link":
		if m.Link == nil || m.Link.MessageURL == "" || m.Link.Title == "" {
			return "", false
		}
		return m.Link.Title + "\n" + m.Link.Text + "\n" + m.Link.MessageURL, true
	case "action_card":
		if m.ActionCard == nil || m.ActionCard.Title == "" || m.ActionCard.Markdown == "" || m.ActionCard.SingleURL == "" {
			return "", false
		}
		return m.ActionCard.Title + "\n" + m.ActionCard.Markdown + "\n" + m.ActionCard.SingleTitle + " " + m.ActionCard.SingleURL, true
	}
	return "", false
}

// dingRequestID is shaped like DingTalk's request_id: a dozen lower-case characters.
func dingRequestID(s *Server) string {
	return strings.ToLower(strings.ReplaceAll(s.ids.requestID(), "-", "")[:12])
}
