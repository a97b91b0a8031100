package sim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
)

func init() {
	registerVendor(vendor{
		name:    vendorAliyun,
		channel: channels.SMS,
		routes: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("/{$}", s.handleAliyun)
			mux.HandleFunc("/dysmsapi/", s.handleAliyun)
		},
		receipts: (*Server).smsReportRequest,
	})
}

const (
	vendorAliyun  = "aliyun"
	vendorWebhook = "webhook"
	aliyunHost    = "dysmsapi.aliyuncs.com"
	// maxTimestampSkew is how far Aliyun lets a request's Timestamp be from its clock.
	maxTimestampSkew = 15 * time.Minute
	// maxBatchNumbers is the most numbers SendSms and SendBatchSms take per request.
	maxBatchNumbers = 1000
)

// popError is an error answer of Alibaba Cloud's API gateway or of dysmsapi.
type popError struct {
	status  int
	code    string
	message string
}

func missing(param string) *popError {
	return &popError{http.StatusBadRequest, "Missing" + param, param + " is mandatory for this action."}
}

// popActions holds the actions of other Alibaba Cloud products (Dyvmsapi, ...) that share
// the POP RPC front of handleAliyun; their files register them in init functions.
var popActions = map[string]func(s *Server, w http.ResponseWriter, reqID string, call *aliyunRequest){}

// aliyunRequest is a verified dysmsapi call.
type aliyunRequest struct {
	action  string
	version string
	params  map[string]string
	xml     bool
}

// handleAliyun serves dysmsapi RPC calls: GET with a query, POST with a query and/or a form,
// signed with signature version 1.0 (HMAC-SHA1) or ACS3-HMAC-SHA256 as the current SDKs do.
func (s *Server) handleAliyun(w http.ResponseWriter, r *http.Request) {
	s.pause(r.Context())
	reqID := s.ids.requestID()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.aliyunError(w, false, reqID, &popError{http.StatusBadRequest, "InvalidParameter", "The request body could not be read."})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseForm(); err != nil {
		s.aliyunError(w, false, reqID, &popError{http.StatusBadRequest, "InvalidParameter", "The request parameters are malformed."})
		return
	}
	wantXML := strings.EqualFold(r.Form.Get("Format"), "XML")
	var call *aliyunRequest
	var perr *popError
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, sms.V3Algorithm) {
		call, perr = s.verifyV3(r, body, auth)
	} else {
		call, perr = s.verifyV2(r)
	}
	if perr != nil {
		s.aliyunError(w, wantXML, reqID, perr)
		return
	}
	call.xml = wantXML
	if call.version != sms.APIVersion {
		s.aliyunError(w, wantXML, reqID, &popError{http.StatusBadRequest, "InvalidVersion", "Specified parameter Version is not valid."})
		return
	}
	switch call.action {
	case "SendSms":
		s.sendSms(w, reqID, call)
	case "SendBatchSms":
		s.sendBatchSms(w, reqID, call)
	default:
		if handle, ok := popActions[call.action]; ok {
			handle(s, w, reqID, call)
			return
		}
		s.aliyunError(w, wantXML, reqID, &popError{http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."})
	}
}

// verifyV2 checks an RPC request signed with HMAC-SHA1 (signature version 1.0).
func (s *Server) verifyV2(r *http.Request) (*aliyunRequest, *popError) {
	f := r.Form
	for _, p := range []string{"AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce", "Timestamp", "Action", "Version"} {
		if f.Get(p) == "" {
			return nil, missing(p)
		}
	}
	if f.Get("SignatureMethod") != "HMAC-SHA1" {
		return nil, &popError{http.StatusBadRequest, "InvalidSignatureMethod", "Specified signature method is not supported."}
	}
	if v := f.Get("SignatureVersion"); v != "" && v != "1.0" {
		return nil, &popError{http.StatusBadRequest, "InvalidSignatureVersion", "Specified signature version is not supported."}
	}
	if perr := s.checkTimestamp(f.Get("Timestamp")); perr != nil {
		return nil, perr
	}
	if f.Get("AccessKeyId") != s.cfg.AccessKeyID {
		return nil, &popError{http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found."}
	}
	toSign := sms.StringToSign(r.Method, f)
	want := sms.SignRPC(s.cfg.AccessKeySecret, toSign)
	if !hmac.Equal([]byte(want), []byte(f.Get("Signature"))) {
		return nil, &popError{http.StatusBadRequest, "SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:" + toSign}
	}
	if !s.nonces.use(f.Get("SignatureNonce"), time.Now()) {
		return nil, &popError{http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already."}
	}
	params := make(map[string]string, len(f))
	for k := range f {
		params[k] = f.Get(k)
	}
	return &aliyunRequest{action: f.Get("Action"), version: f.Get("Version"), params: params}, nil
}

// verifyV3 checks a request signed with ACS3-HMAC-SHA256 in the Authorization header.
func (s *Server) verifyV3(r *http.Request, body []byte, auth string) (*aliyunRequest, *popError) {
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimSpace(strings.TrimPrefix(auth, sms.V3Algorithm)), ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(part), "="); ok {
			fields[k] = v
		}
	}
	if fields["Credential"] == "" || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return nil, &popError{http.StatusBadRequest, "IncompleteSignature", "The request signature does not conform to Aliyun standards."}
	}
	for _, h := range []string{"x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"} {
		if r.Header.Get(h) == "" {
			return nil, &popError{http.StatusBadRequest, "MissingHeader", "Header " + h + " is mandatory for this action."}
		}
	}
	if perr := s.checkTimestamp(r.Header.Get("x-acs-date")); perr != nil {
		return nil, perr
	}
	if fields["Credential"] != s.cfg.AccessKeyID {
		return nil, &popError{http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found."}
	}
	sum := sha256.Sum256(body)
	hashed := hex.EncodeToString(sum[:])
	headers := map[string]string{}
	for _, name := range strings.Split(fields["SignedHeaders"], ";") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "host" {
			headers[name] = r.Host
		} else {
			headers[name] = r.Header.Get(name)
		}
	}
	canonical, _ := sms.V3CanonicalRequest(r.Method, r.URL.EscapedPath(), r.URL.Query(), headers, hashed)
	want := sms.SignV3(s.cfg.AccessKeySecret, canonical)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(fields["Signature"]))) {
		return nil, &popError{http.StatusBadRequest, "SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:" + canonical}
	}
	if !s.nonces.use(r.Header.Get("x-acs-signature-nonce"), time.Now()) {
		return nil, &popError{http.StatusBadRequest, "SignatureNonceUsed", "Specified signature nonce was used already."}
	}
	params := make(map[string]string, len(r.Form))
	for k := range r.Form {
		params[k] = r.Form.Get(k)
	}
	return &aliyunRequest{action: r.Header.Get("x-acs-action"), version: r.Header.Get("x-acs-version"), params: params}, nil
}

func (s *Server) checkTimestamp(ts string) *popError {
	t, err := time.Parse(sms.TimestampLayout, ts)
	if err != nil {
		if t, err = time.Parse(time.RFC3339, ts); err != nil {
			return &popError{http.StatusBadRequest, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted."}
		}
	}
	if time.Since(t).Abs() > maxTimestampSkew {
		return &popError{http.StatusBadRequest, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."}
	}
	return nil
}

// admitAliyun applies injected faults and the rate limit to a request for n messages.
func (s *Server) admitAliyun(n int) *popError {
	if s.fault() {
		s.store.add(faults, channels.SMS, 1)
		return &popError{http.StatusServiceUnavailable, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."}
	}
	if !s.admit(vendorAliyun, n) {
		s.store.add(throttled, channels.SMS, 1)
		return &popError{http.StatusOK, sms.CodeBusinessLimitControl, "触发分钟级流控Permits:1"}
	}
	return nil
}

// smsOut is one number of an accepted SendSms or SendBatchSms call.
type smsOut struct {
	phone, sign, code, param string
}

func (s *Server) sendSms(w http.ResponseWriter, reqID string, call *aliyunRequest) {
	p := call.params
	for _, name := range []string{"PhoneNumbers", "SignName", "TemplateCode"} {
		if p[name] == "" {
			s.aliyunError(w, call.xml, reqID, missing(name))
			return
		}
	}
	if p["TemplateParam"] != "" && !validTemplateParam(p["TemplateParam"]) {
		s.aliyunError(w, call.xml, reqID, &popError{http.StatusOK, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"})
		return
	}
	var outs []smsOut
	for _, phone := range strings.Split(p["PhoneNumbers"], ",") {
		outs = append(outs, smsOut{phone: strings.TrimSpace(phone), sign: p["SignName"], code: p["TemplateCode"], param: p["TemplateParam"]})
	}
	s.acceptSms(w, reqID, call, outs, p["OutId"])
}

func (s *Server) sendBatchSms(w http.ResponseWriter, reqID string, call *aliyunRequest) {
	p := call.params
	for _, name := range []string{"PhoneNumberJson", "SignNameJson", "TemplateCode"} {
		if p[name] == "" {
			s.aliyunError(w, call.xml, reqID, missing(name))
			return
		}
	}
	var phones, signs []string
	var params []json.RawMessage
	bad := json.Unmarshal([]byte(p["PhoneNumberJson"]), &phones) != nil ||
		json.Unmarshal([]byte(p["SignNameJson"]), &signs) != nil ||
		(p["TemplateParamJson"] != "" && json.Unmarshal([]byte(p["TemplateParamJson"]), &params) != nil)
	if bad || len(phones) == 0 || len(signs) != len(phones) || (params != nil && len(params) != len(phones)) {
		s.aliyunError(w, call.xml, reqID, &popError{http.StatusOK, "isv.INVALID_PARAMETERS", "参数异常"})
		return
	}
	outs := make([]smsOut, len(phones))
	for i := range phones {
		outs[i] = smsOut{phone: phones[i], sign: signs[i], code: p["TemplateCode"]}
		if params != nil {
			if !validTemplateParam(string(params[i])) {
				s.aliyunError(w, call.xml, reqID, &popError{http.StatusOK, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"})
				return
			}
			outs[i].param = string(params[i])
		}
	}
	s.acceptSms(w, reqID, call, outs, p["OutId"])
}

// acceptSms applies the number rules to a whole request, as Aliyun refuses a request with
// any bad number, then records each number and schedules its report.
func (s *Server) acceptSms(w http.ResponseWriter, reqID string, call *aliyunRequest, outs []smsOut, outID string) {
	if len(outs) > maxBatchNumbers {
		s.aliyunError(w, call.xml, reqID, &popError{http.StatusOK, "isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制"})
		return
	}
	if perr := s.admitAliyun(len(outs)); perr != nil {
		s.aliyunError(w, call.xml, reqID, perr)
		return
	}
	for _, o := range outs {
		if !validPhone(o.phone) || phoneBehavior(o.phone) == reject {
			s.store.add(rejected, channels.SMS, 1)
			s.logger.Info("sms rejected", "phone", channels.MaskPhone(o.phone), "out_id", outID)
			s.aliyunError(w, call.xml, reqID, &popError{http.StatusOK, sms.CodeMobileNumberIllegal, "非法手机号"})
			return
		}
	}
	bizID := s.ids.bizID()
	now := time.Now()
	for _, o := range outs {
		content := renderSms(o.sign, o.code, o.param)
		b := phoneBehavior(o.phone)
		undeliv := b == deliver && s.undelivered(channels.SMS, bizID+"/"+o.phone)
		s.store.record(Message{
			Channel: channels.SMS, Address: o.phone, Content: content, ReceivedAt: now,
			VendorID: bizID, MessageID: outID, Behavior: behaviorName(b, undeliv),
		})
		s.logger.Debug("sms accepted", "phone", channels.MaskPhone(o.phone), "out_id", outID, "behavior", behaviorName(b, undeliv))
		if b == silent {
			continue
		}
		delay := s.cfg.ReceiptDelay
		if b == slow {
			delay = s.cfg.SlowDelay
		}
		rep := sms.Report{
			PhoneNumber: o.phone,
			SendTime:    now.In(sms.ChinaTime).Format(sms.ReportTimeLayout),
			Success:     true,
			ErrCode:     "DELIVERED",
			ErrMsg:      "用户接收成功",
			SmsSize:     strconv.Itoa(sms.Segments(content)),
			BizID:       bizID,
			OutID:       outID,
		}
		if undeliv {
			rep.Success, rep.ErrCode, rep.ErrMsg = false, undelivAliyunCode, undelivAliyunMsg
		}
		s.schedule(delay, vendorAliyun, rep)
	}
	if d := s.cfg.AnswerLatency; d > 0 {
		time.Sleep(d)
	}
	s.aliyunWrite(w, call.xml, call.action, http.StatusOK, sms.APIResponse{Code: sms.CodeOK, Message: "OK", BizID: bizID, RequestID: reqID})
}

// validTemplateParam accepts a JSON object, the only TemplateParam shape Aliyun takes.
func validTemplateParam(s string) bool {
	var m map[string]any
	return json.Unmarshal([]byte(s), &m) == nil
}

// renderSms returns the text a phone shows: the sign in 【】 and, for Herald's free-text
// template, the content parameter; otherwise the template code and its parameters.
func renderSms(sign, code, param string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(param), &m)
	if c, ok := m["content"].(string); ok && len(m) == 1 {
		return "【" + sign + "】" + c
	}
	text := code
	if len(m) > 0 {
		b, _ := json.Marshal(m) // sorted keys: the same parameters render the same text
		text += " " + string(b)
	}
	return "【" + sign + "】" + text
}

func (s *Server) aliyunError(w http.ResponseWriter, asXML bool, reqID string, e *popError) {
	ans := sms.APIResponse{Code: e.code, Message: e.message, RequestID: reqID}
	if e.status != http.StatusOK {
		ans.HostID = aliyunHost
		ans.Recommend = "https://api.aliyun.com/troubleshoot?q=" + e.code
	}
	s.aliyunWrite(w, asXML, "Error", e.status, ans)
}

// aliyunWrite writes ans as JSON, or as XML named after the action when Format=XML.
func (s *Server) aliyunWrite(w http.ResponseWriter, asXML bool, action string, status int, ans sms.APIResponse) {
	if !asXML {
		writeJSON(w, status, ans)
		return
	}
	root := action
	if root != "Error" {
		root += "Response"
	}
	doc := struct {
		XMLName   xml.Name
		RequestID string `xml:"RequestId"`
		HostID    string `xml:"HostId,omitempty"`
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
		BizID     string `xml:"BizId,omitempty"`
		Recommend string `xml:"Recommend,omitempty"`
	}{xml.Name{Local: root}, ans.RequestID, ans.HostID, ans.Code, ans.Message, ans.BizID, ans.Recommend}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(doc)
}
