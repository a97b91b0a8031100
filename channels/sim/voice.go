package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/channels/voice"
)

// Alibaba Cloud's voice service (Dyvmsapi) shares the POP RPC front of dysmsapi: the real
// SDK posts to https://dyvmsapi.aliyuncs.com/, so the simulator serves SingleCallByTts on
// "/" next to SendSms, told apart by the Action parameter, and on /dyvmsapi/ as well.
func init() {
	popActions[voice.ActionSingleCallByTts] = (*Server).singleCallByTts
	registerVendor(vendor{
		name:    vendorAliyunVoice,
		channel: channels.Voice,
		routes: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("/dyvmsapi/", s.handleAliyun)
		},
		receipts: (*Server).voiceReportRequest,
	})
}

const (
	// vendorAliyunVoice is the name of the simulated Dyvmsapi and of the provider that
	// talks to it.
	vendorAliyunVoice = "aliyun-voice"
	// voiceNoAnswerSuffix ends the callee numbers whose calls ring out unanswered: the
	// call is placed and its report says 200003.
	voiceNoAnswerSuffix = "3333"
)

// singleCallByTts places a simulated text-to-speech call and schedules its call report.
func (s *Server) singleCallByTts(w http.ResponseWriter, reqID string, call *aliyunRequest) {
	p := call.params
	for _, name := range []string{"CalledNumber", "TtsCode"} {
		if p[name] == "" {
			s.aliyunError(w, call.xml, reqID, missing(name))
			return
		}
	}
	if p["TtsParam"] != "" && !validTemplateParam(p["TtsParam"]) {
		s.aliyunError(w, call.xml, reqID, &popError{http.StatusOK, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"})
		return
	}
	if pt := p["PlayTimes"]; pt != "" {
		if n, err := strconv.Atoi(pt); err != nil || n < 1 || n > 3 {
			s.aliyunError(w, call.xml, reqID, &popError{http.StatusOK, "isv.INVALID_PARAMETERS", "参数异常: PlayTimes"})
			return
		}
	}
	if s.fault() {
		s.store.add(faults, channels.Voice, 1)
		s.aliyunError(w, call.xml, reqID, &popError{http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."})
		return
	}
	if !s.admit(vendorAliyunVoice, 1) {
		s.store.add(throttled, channels.Voice, 1)
		s.aliyunError(w, call.xml, reqID, &popError{http.StatusOK, voice.CodeBusinessLimitControl, "触发号码天级流控"})
		return
	}
	phone := strings.TrimSpace(p["CalledNumber"])
	if !validPhone(phone) || phoneBehavior(phone) == reject {
		s.store.add(rejected, channels.Voice, 1)
		s.logger.Info("call rejected", "phone", channels.MaskPhone(phone), "out_id", p["OutId"])
		s.aliyunError(w, call.xml, reqID, &popError{http.StatusOK, voice.CodeMobileNumberIllegal, "号码格式非法"})
		return
	}
	callID := fmt.Sprintf("%d^%d", time.Now().Unix(), s.ids.n.Add(1))
	now := time.Now()
	b := phoneBehavior(phone)
	noAnswer := strings.HasSuffix(phoneDigits(phone), voiceNoAnswerSuffix)
	undeliv := b == deliver && !noAnswer && s.undelivered(channels.Voice, callID)
	s.store.record(Message{
		Channel: channels.Voice, Address: phone, Content: renderTts(p["TtsCode"], p["TtsParam"]), ReceivedAt: now,
		VendorID: callID, MessageID: p["OutId"], Behavior: behaviorName(b, undeliv),
	})
	if b != silent {
		delay := s.cfg.ReceiptDelay
		if b == slow {
			delay = s.cfg.SlowDelay
		}
		rep := voice.Report{
			CallID: callID, Callee: phone, Caller: p["CalledShowNumber"],
			OriginateTime: now.In(sms.ChinaTime).Format(sms.ReportTimeLayout),
			StatusCode:    voice.StatusListened, StatusMsg: "用户听完语音", Duration: "12", OutID: p["OutId"],
		}
		if noAnswer {
			rep.StatusCode, rep.StatusMsg, rep.Duration = "200003", "用户收到呼叫但未接听", "0"
		} else if undeliv {
			rep.StatusCode, rep.StatusMsg, rep.Duration = undelivVoiceCode, undelivVoiceMsg, "0"
		}
		s.schedule(delay, vendorAliyunVoice, rep)
	}
	writeVoiceAnswer(w, call.xml, voice.APIResponse{Code: voice.CodeOK, Message: "OK", CallID: callID, RequestID: reqID})
}

// writeVoiceAnswer writes a SingleCallByTts success answer; errors go through aliyunError.
func writeVoiceAnswer(w http.ResponseWriter, asXML bool, ans voice.APIResponse) {
	if !asXML {
		writeJSON(w, http.StatusOK, ans)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<SingleCallByTtsResponse><RequestId>%s</RequestId><Code>OK</Code><Message>OK</Message><CallId>%s</CallId></SingleCallByTtsResponse>`,
		ans.RequestID, ans.CallID)
}

// renderTts returns what the callee hears: the content parameter of Herald's free-text
// template, otherwise the template code and its parameters.
func renderTts(code, param string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(param), &m)
	if c, ok := m["content"].(string); ok && len(m) == 1 {
		return c
	}
	if len(m) == 0 {
		return code
	}
	b, _ := json.Marshal(m) // sorted keys: the same parameters render the same text
	return code + " " + string(b)
}

// voiceReportRequest builds the VoiceReport push of a batch of call records, authenticated
// by the callback token in the query as Alibaba Cloud's HTTP report push is.
func (s *Server) voiceReportRequest(batch []any) (*http.Request, error) {
	reports := make([]voice.Report, len(batch))
	now := time.Now().In(sms.ChinaTime)
	for i, b := range batch {
		reports[i] = b.(voice.Report)
		reports[i].EndTime = now.Format(sms.ReportTimeLayout)
		if reports[i].StatusCode == voice.StatusListened {
			reports[i].StartTime = now.Add(-12 * time.Second).Format(sms.ReportTimeLayout)
		}
	}
	body, err := json.Marshal(reports)
	if err != nil {
		return nil, err
	}
	u := s.callbackURL(channels.Voice, vendorAliyunVoice) + "?token=" + url.QueryEscape(s.cfg.CallbackToken)
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
