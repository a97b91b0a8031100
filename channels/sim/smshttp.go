package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
)

// A small generic SMS gateway under /smsgw/, with an API of its own that Herald's generic
// HTTP SMS provider (channels/smshttp) is configured for, field by field:
//
//	POST /smsgw/v1/messages
//	Authorization: Bearer <Config.AccessKeySecret>
//	{"to": "+8613800138000", "text": "...", "sign": "Herald", "ref": "<Herald's id>"}
//
// answers {"code": 0, "message": "accepted", "data": {"id": "gw-..."}} on success; HTTP 400
// with code 1000 (missing field) or 1001 (invalid number), 401 with code 1002 (bad key),
// 429 with code 4290 (rate limit) and HTTP 200 with code 5000 (gateway busy, transient).
// Reports are posted to {Callback}/callbacks/sms/smsgw with header X-Smsgw-Token:
// <Config.CallbackToken> and body {"reports": [{"msg_id", "ref", "to", "status": "DELIVRD" |
// "UNDELIV", "error"}]}.
func init() {
	registerVendor(vendor{
		name:    vendorSMSGW,
		channel: channels.SMS,
		routes: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("POST /smsgw/v1/messages", s.handleSMSGW)
		},
		receipts: (*Server).smsgwReportRequest,
	})
}

const (
	vendorSMSGW = "smsgw"
	// SMSGWTokenHeader carries the callback token of the generic gateway's reports.
	SMSGWTokenHeader = "X-Smsgw-Token"
)

// smsgwSend is the body of a send request.
type smsgwSend struct {
	To   string `json:"to"`
	Text string `json:"text"`
	Sign string `json:"sign"`
	Ref  string `json:"ref"`
}

// smsgwReport is one delivery report.
type smsgwReport struct {
	MsgID  string `json:"msg_id"`
	Ref    string `json:"ref,omitempty"`
	To     string `json:"to"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func smsgwAnswer(w http.ResponseWriter, status, code int, msg string, data any) {
	body := map[string]any{"code": code, "message": msg}
	if data != nil {
		body["data"] = data
	}
	writeJSON(w, status, body)
}

func (s *Server) handleSMSGW(w http.ResponseWriter, r *http.Request) {
	s.pause(r.Context())
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !constantEqual(key, s.cfg.AccessKeySecret) {
		smsgwAnswer(w, http.StatusUnauthorized, 1002, "invalid api key", nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	var req smsgwSend
	if err != nil || json.Unmarshal(body, &req) != nil {
		smsgwAnswer(w, http.StatusBadRequest, 1000, "body is not JSON", nil)
		return
	}
	for field, v := range map[string]string{"to": req.To, "text": req.Text} {
		if strings.TrimSpace(v) == "" {
			smsgwAnswer(w, http.StatusBadRequest, 1000, "missing field "+field, nil)
			return
		}
	}
	if s.fault() {
		s.store.add(faults, channels.SMS, 1)
		smsgwAnswer(w, http.StatusOK, 5000, "gateway busy, try later", nil)
		return
	}
	if !s.admit(vendorSMSGW, 1) {
		s.store.add(throttled, channels.SMS, 1)
		w.Header().Set("Retry-After", "1")
		smsgwAnswer(w, http.StatusTooManyRequests, 4290, "rate limit exceeded", nil)
		return
	}
	if !validPhone(req.To) || phoneBehavior(req.To) == reject {
		s.store.add(rejected, channels.SMS, 1)
		smsgwAnswer(w, http.StatusBadRequest, 1001, "invalid number", nil)
		return
	}
	id := s.ids.vendorID("gw")
	content := req.Text
	if req.Sign != "" {
		content = "【" + req.Sign + "】" + req.Text
	}
	b := phoneBehavior(req.To)
	undeliv := b == deliver && s.undelivered(channels.SMS, id)
	s.store.record(Message{
		Channel: channels.SMS, Address: req.To, Content: content, ReceivedAt: time.Now(),
		VendorID: id, MessageID: req.Ref, Behavior: behaviorName(b, undeliv),
	})
	if b != silent {
		delay := s.cfg.ReceiptDelay
		if b == slow {
			delay = s.cfg.SlowDelay
		}
		rep := smsgwReport{MsgID: id, Ref: req.Ref, To: req.To, Status: "DELIVRD"}
		if undeliv {
			rep.Status, rep.Error = undelivSMSGW, undelivSMSGWError
		}
		s.schedule(delay, vendorSMSGW, rep)
	}
	smsgwAnswer(w, http.StatusOK, 0, "accepted", map[string]any{"id": id, "segments": sms.Segments(content)})
}

func (s *Server) smsgwReportRequest(batch []any) (*http.Request, error) {
	reports := make([]smsgwReport, len(batch))
	for i, b := range batch {
		reports[i] = b.(smsgwReport)
	}
	body, err := json.Marshal(map[string]any{"reports": reports})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.callbackURL(channels.SMS, vendorSMSGW), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SMSGWTokenHeader, s.cfg.CallbackToken)
	return req, nil
}
