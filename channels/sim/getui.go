package sim

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/push"
)

func init() {
	registerVendor(vendor{
		name:    vendorGetui,
		channel: channels.AppPush,
		routes: func(s *Server, mux *http.ServeMux) {
			g := &getuiAPI{s: s, tokens: map[string]time.Time{}, requests: map[string]getuiTask{}}
			mux.HandleFunc("POST /v2/{appId}/auth", g.handleAuth)
			mux.HandleFunc("DELETE /v2/{appId}/auth/{token}", g.handleDeleteAuth)
			mux.HandleFunc("POST /v2/{appId}/push/single/cid", g.handleSingle)
			mux.HandleFunc("POST /v2/{appId}/push/single/batch/cid", g.handleBatch)
		},
		receipts: (*Server).getuiReceiptRequest,
	})
}

const (
	vendorGetui = "getui"
	// getuiMaxSkew is how far an auth timestamp may be from the simulator's clock.
	getuiMaxSkew = 10 * time.Minute
)

// Receipt action ids the simulator posts.
const (
	getuiActionArrived = "0"
	getuiActionShown   = "10000"
	getuiActionClicked = "10010"
)

// getuiAPI is one simulator's Getui REST API v2: the tokens it issued and the request ids
// it accepted (Getui drops a push whose request_id it has seen).
type getuiAPI struct {
	s *Server

	mu       sync.Mutex
	tokens   map[string]time.Time // token → expiry
	requests map[string]getuiTask // request_id → its push
}

// getuiTask is an accepted push.
type getuiTask struct{ taskID, cid, status string }

// getuiEvent is a scheduled receipt line.
type getuiEvent struct {
	cid, taskID, msgID, action string
	// code and desc are the receipt's result; empty means 200 成功.
	code, desc string
}

func (g *getuiAPI) answer(w http.ResponseWriter, status, code int, msg string, data any) {
	body := map[string]any{"code": code, "msg": msg}
	if data != nil {
		body["data"] = data
	}
	writeJSON(w, status, body)
}

// app checks the app id of the path; Getui answers an unknown one as a wrong URL.
func (g *getuiAPI) app(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("appId") != g.s.cfg.AppID {
		g.answer(w, http.StatusNotFound, 404, "url错误", nil)
		return false
	}
	return true
}

func (g *getuiAPI) handleAuth(w http.ResponseWriter, r *http.Request) {
	g.s.pause(r.Context())
	if !g.app(w, r) {
		return
	}
	var req struct {
		Sign      string          `json:"sign"`
		Timestamp json.RawMessage `json:"timestamp"` // a string in the docs' examples, a number in the SDKs'
		AppKey    string          `json:"appkey"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		g.answer(w, http.StatusOK, 1, "失败: the body is not JSON", nil)
		return
	}
	ts := strings.Trim(string(req.Timestamp), `"`)
	for name, v := range map[string]string{"sign": req.Sign, "timestamp": ts, "appkey": req.AppKey} {
		if v == "" || v == "null" {
			g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, name+" can not be empty", nil)
			return
		}
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.UnixMilli(ms)).Abs() > getuiMaxSkew {
		g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, "timestamp is invalid", nil)
		return
	}
	if req.AppKey != g.s.cfg.AccessKeyID {
		g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, "appkey is invalid", nil)
		return
	}
	want := push.GetuiAuthSign(req.AppKey, ts, g.s.cfg.AccessKeySecret)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(req.Sign)), []byte(want)) != 1 {
		g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, "sign is invalid", nil)
		return
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	exp := time.Now().Add(g.s.cfg.TokenLifetime)
	g.mu.Lock()
	for t, e := range g.tokens {
		if time.Now().After(e) {
			delete(g.tokens, t)
		}
	}
	g.tokens[tok] = exp
	g.mu.Unlock()
	g.answer(w, http.StatusOK, push.GetuiOK, "success", push.GetuiAuthData{ExpireTime: strconv.FormatInt(exp.UnixMilli(), 10), Token: tok})
}

// handleDeleteAuth revokes a token (DELETE /v2/{appId}/auth/{token}).
func (g *getuiAPI) handleDeleteAuth(w http.ResponseWriter, r *http.Request) {
	if !g.app(w, r) {
		return
	}
	g.mu.Lock()
	delete(g.tokens, r.PathValue("token"))
	g.mu.Unlock()
	g.answer(w, http.StatusOK, push.GetuiOK, "", nil)
}

// authorized checks the token header; Getui answers a missing, unknown or expired one with
// 10001, upon which clients fetch a new token.
func (g *getuiAPI) authorized(w http.ResponseWriter, r *http.Request) bool {
	if !g.app(w, r) {
		return false
	}
	tok := r.Header.Get("token")
	g.mu.Lock()
	exp, ok := g.tokens[tok]
	g.mu.Unlock()
	if tok == "" || !ok || time.Now().After(exp) {
		g.answer(w, http.StatusUnauthorized, push.GetuiTokenInvalid, "not auth", nil)
		return false
	}
	return true
}

// admitPush applies injected faults and the rate limit to a request for n messages.
func (g *getuiAPI) admitPush(w http.ResponseWriter, n int) bool {
	if g.s.fault() {
		g.s.store.add(faults, channels.AppPush, 1)
		g.answer(w, http.StatusForbidden, push.GetuiSystemBusy, "系统繁忙，请稍后重试", nil)
		return false
	}
	if !g.s.admit(vendorGetui, n) {
		g.s.store.add(throttled, channels.AppPush, 1)
		g.answer(w, http.StatusUnauthorized, push.GetuiCallRateLimit, "每分钟调用频率超限", nil)
		return false
	}
	return true
}

func (g *getuiAPI) handleSingle(w http.ResponseWriter, r *http.Request) {
	g.s.pause(r.Context())
	if !g.authorized(w, r) {
		return
	}
	var p push.GetuiPush
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&p); err != nil {
		g.answer(w, http.StatusOK, 1, "失败: the body is not JSON", nil)
		return
	}
	if !g.admitPush(w, 1) {
		return
	}
	if msg := g.check(p); msg != "" {
		g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, msg, nil)
		return
	}
	if !g.refuse([]push.GetuiPush{p}, w) {
		return
	}
	g.answer(w, http.StatusOK, push.GetuiOK, "", g.accept([]push.GetuiPush{p}))
}

func (g *getuiAPI) handleBatch(w http.ResponseWriter, r *http.Request) {
	g.s.pause(r.Context())
	if !g.authorized(w, r) {
		return
	}
	var b push.GetuiBatch
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&b); err != nil {
		g.answer(w, http.StatusOK, 1, "失败: the body is not JSON", nil)
		return
	}
	if len(b.MsgList) == 0 {
		g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, "msg_list can not be empty", nil)
		return
	}
	if len(b.MsgList) > push.GetuiMaxBatch {
		g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, "msg_list size over limit", nil)
		return
	}
	if !g.admitPush(w, len(b.MsgList)) {
		return
	}
	seen := map[string]bool{}
	for _, p := range b.MsgList {
		if msg := g.check(p); msg != "" {
			g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, msg, nil)
			return
		}
		if seen[p.Audience.CID[0]] {
			g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, "contains duplicate cid", nil)
			return
		}
		seen[p.Audience.CID[0]] = true
	}
	if !g.refuse(b.MsgList, w) {
		return
	}
	data := g.accept(b.MsgList)
	if b.IsAsync {
		g.answer(w, http.StatusOK, push.GetuiOK, "", nil) // asynchronous pushes answer without details
		return
	}
	g.answer(w, http.StatusOK, push.GetuiOK, "", data)
}

// check validates one push as Getui does; it returns the message of a 20001 answer.
func (g *getuiAPI) check(p push.GetuiPush) string {
	if n := len(p.RequestID); n < 10 || n > 32 {
		return "request_id is invalid"
	}
	if len(p.Audience.CID) == 0 || strings.TrimSpace(p.Audience.CID[0]) == "" {
		return "cid can not be empty"
	}
	if len(p.Audience.CID) > 1 {
		return "cid size over limit"
	}
	n := p.PushMessage.Notification
	if n == nil {
		return "push_message can not be empty"
	}
	if n.Title == "" || utf8.RuneCountInString(n.Title) > push.GetuiTitleMax {
		return "title is invalid"
	}
	if n.Body == "" || utf8.RuneCountInString(n.Body) > push.GetuiBodyMax {
		return "body is invalid"
	}
	switch n.ClickType {
	case "startapp", "none", "payload_custom":
	case "url":
		if !strings.HasPrefix(n.URL, "http://") && !strings.HasPrefix(n.URL, "https://") {
			return "url is invalid"
		}
	case "intent":
		if !strings.HasPrefix(n.Intent, "intent:") {
			return "intent is invalid"
		}
	case "payload":
		if n.Payload == "" {
			return "payload can not be empty"
		}
	default:
		return "click_type is invalid"
	}
	return ""
}

// refuse answers 20001 "target user is invalid" when any cid is a failing test address:
// Getui refuses the whole request and pushes nothing.
func (g *getuiAPI) refuse(ps []push.GetuiPush, w http.ResponseWriter) bool {
	bad := 0
	for _, p := range ps {
		if addressBehavior(p.Audience.CID[0]) == reject {
			bad++
			g.s.logger.Info("getui push refused", "cid", maskAddress(p.Audience.CID[0]), "request_id", p.RequestID)
		}
	}
	if bad == 0 {
		return true
	}
	g.s.store.add(rejected, channels.AppPush, int64(bad))
	g.answer(w, http.StatusBadRequest, push.GetuiParamInvalid, push.GetuiTargetInvalid, nil)
	return false
}

// accept records the pushes, schedules their receipts and returns the answer data
// {taskid: {cid: status}}. A request_id seen before is answered with its first task and not
// pushed again.
func (g *getuiAPI) accept(ps []push.GetuiPush) map[string]map[string]string {
	data := map[string]map[string]string{}
	now := time.Now()
	for _, p := range ps {
		cid := p.Audience.CID[0]
		g.mu.Lock()
		task, dup := g.requests[p.RequestID]
		if !dup {
			task = getuiTask{taskID: g.taskID(now), cid: cid, status: push.GetuiStatusOnline}
			if addressBehavior(cid) == slow {
				task.status = push.GetuiStatusOffline
			}
			g.requests[p.RequestID] = task
		}
		g.mu.Unlock()
		data[task.taskID] = map[string]string{task.cid: task.status}
		if dup {
			continue
		}
		n := p.PushMessage.Notification
		b := addressBehavior(cid)
		undeliv := b == deliver && g.s.undelivered(channels.AppPush, task.taskID)
		g.s.store.record(Message{Channel: channels.AppPush, Address: cid, Content: n.Title + "\n" + n.Body,
			ReceivedAt: now, VendorID: task.taskID, MessageID: p.RequestID, Behavior: behaviorName(b, undeliv)})
		if b == silent {
			continue
		}
		delay := g.s.cfg.ReceiptDelay
		if b == slow {
			delay = g.s.cfg.SlowDelay
		}
		msgID := hex.EncodeToString([]byte(task.taskID))[:16]
		ev := getuiEvent{cid: cid, taskID: task.taskID, msgID: msgID}
		if undeliv {
			ev.action, ev.code, ev.desc = getuiActionArrived, undelivGetuiCode, undelivGetuiDesc
			g.s.schedule(delay, vendorGetui, ev)
			continue
		}
		g.s.scheduleEngagement(delay, vendorGetui, func(action string) any {
			e := ev
			e.action = action
			return e
		}, getuiActionArrived, getuiActionShown, getuiActionClicked)
	}
	return data
}

// taskID makes an id shaped like Getui's ("RASS_0721_" and 32 hex digits).
func (g *getuiAPI) taskID(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "RASS_" + now.Format("0102") + "_" + hex.EncodeToString(b[:])
}

// scheduleEngagement schedules the receipts of a delivered message: the arrival after
// delay, then a display with probability DisplayRate and, of the displayed, a click with
// probability ClickRate, each one ReceiptDelay after the event before it. event builds the
// vendor's receipt body from one of the three action names given.
func (s *Server) scheduleEngagement(delay time.Duration, name string, event func(action string) any, arrived, displayed, clicked string) {
	s.schedule(delay, name, event(arrived))
	if s.cfg.DisplayRate <= 0 || mrand.Float64() >= s.cfg.DisplayRate {
		return
	}
	delay += s.cfg.ReceiptDelay
	s.schedule(delay, name, event(displayed))
	if s.cfg.ClickRate <= 0 || mrand.Float64() >= s.cfg.ClickRate {
		return
	}
	s.schedule(delay+s.cfg.ReceiptDelay, name, event(clicked))
}

// getuiReceiptRequest builds Getui's receipt callback: one signed JSON object per line.
func (s *Server) getuiReceiptRequest(batch []any) (*http.Request, error) {
	var body bytes.Buffer
	now := time.Now().UnixMilli()
	for _, b := range batch {
		ev := b.(getuiEvent)
		code, desc := push.GetuiReceiptSuccess, "成功"
		if ev.code != "" {
			code, desc = ev.code, ev.desc
		}
		line, err := json.Marshal(push.GetuiReceipt{
			AppID: s.cfg.AppID, CID: ev.cid, TaskID: ev.taskID, MsgID: ev.msgID, Code: code,
			Desc: desc, Sign: push.GetuiReceiptSign(s.cfg.AppID, ev.cid, ev.taskID, ev.msgID, s.cfg.AccessKeySecret),
			ActionID: ev.action, RecvTime: now,
		})
		if err != nil {
			return nil, err
		}
		body.Write(line)
		body.WriteByte('\n')
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.callbackURL(channels.AppPush, vendorGetui), &body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	return req, nil
}

// maskAddress keeps the first and last four characters of a device id for logs.
func maskAddress(id string) string {
	if len(id) <= 8 {
		return "****"
	}
	return fmt.Sprintf("%s****%s", id[:4], id[len(id)-4:])
}
