package sim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/wechat"
)

func init() {
	registerVendor(vendor{
		name:    vendorWeChat,
		channel: channels.WeChat,
		routes: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("GET "+wechat.PathToken, s.handleWeChatToken)
			mux.HandleFunc("POST "+wechat.PathStableToken, s.handleWeChatStableToken)
			mux.HandleFunc("POST "+wechat.PathTemplateSend, s.handleWeChatTemplateSend)
		},
		receipts: (*Server).wechatEventRequest,
		perPost:  1, // WeChat pushes one event per request
	})
}

const vendorWeChat = "wechat"

// wechatTemplateID is the shape of a template id WeChat hands out.
var wechatTemplateID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// wechatEvent is a TEMPLATESENDJOBFINISH event waiting to be pushed.
type wechatEvent struct {
	openid string
	msgID  int64
	status string
}

func wechatError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, http.StatusOK, wechat.Answer{ErrCode: code, ErrMsg: msg + " rid: " + strconv.FormatInt(time.Now().UnixNano()%1e10, 16)})
}

// wechatCredentials checks appid and secret as both token endpoints do; false means an
// error was written.
func (s *Server) wechatCredentials(w http.ResponseWriter, grant, appid, secret string) bool {
	switch {
	case grant != "client_credential":
		wechatError(w, 40002, "invalid grant_type")
	case appid != s.cfg.AppID:
		wechatError(w, wechat.CodeInvalidAppID, "invalid appid")
	case secret != s.cfg.AccessKeySecret:
		wechatError(w, wechat.CodeInvalidAppSecret, "invalid appsecret")
	case s.fault():
		s.store.add(faults, channels.WeChat, 1)
		wechatError(w, wechat.CodeBusy, "system error")
	default:
		return true
	}
	return false
}

// handleWeChatToken serves GET /cgi-bin/token: every call issues a new token.
func (s *Server) handleWeChatToken(w http.ResponseWriter, r *http.Request) {
	s.pause(r.Context())
	q := r.URL.Query()
	if !s.wechatCredentials(w, q.Get("grant_type"), q.Get("appid"), q.Get("secret")) {
		return
	}
	tok, life := s.tokens.issue("wechat:"+q.Get("appid"), s.cfg.TokenLifetime, time.Now())
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": int64(life / time.Second)})
}

// handleWeChatStableToken serves POST /cgi-bin/stable_token: the account's current token
// while it is valid, a new one on force_refresh.
func (s *Server) handleWeChatStableToken(w http.ResponseWriter, r *http.Request) {
	s.pause(r.Context())
	var req wechat.StableTokenRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		wechatError(w, wechat.CodeDataFormat, "data format error")
		return
	}
	if !s.wechatCredentials(w, req.GrantType, req.AppID, req.Secret) {
		return
	}
	tok, life := s.tokens.stableToken("wechat:"+req.AppID, s.cfg.TokenLifetime, req.ForceRefresh, time.Now())
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": int64(life / time.Second)})
}

// handleWeChatTemplateSend serves POST /cgi-bin/message/template/send.
func (s *Server) handleWeChatTemplateSend(w http.ResponseWriter, r *http.Request) {
	s.pause(r.Context())
	switch _, c := s.tokens.check(r.URL.Query().Get("access_token"), time.Now()); c {
	case tokenMissing:
		wechatError(w, wechat.CodeTokenMissing, "access_token missing")
		return
	case tokenInvalid:
		wechatError(w, wechat.CodeInvalidCredential, "invalid credential, access_token is invalid or not latest")
		return
	case tokenExpired:
		wechatError(w, wechat.CodeTokenExpired, "access_token expired")
		return
	}
	if s.fault() {
		s.store.add(faults, channels.WeChat, 1)
		wechatError(w, wechat.CodeBusy, "system error")
		return
	}
	if !s.admit(vendorWeChat, 1) {
		s.store.add(throttled, channels.WeChat, 1)
		wechatError(w, wechat.CodeDailyQuota, "api freq out of limit")
		return
	}
	var req wechat.SendRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		wechatError(w, wechat.CodeDataFormat, "data format error")
		return
	}
	b := addressBehavior(req.ToUser)
	switch {
	case strings.TrimSpace(req.ToUser) == "" || b == reject:
		s.store.add(rejected, channels.WeChat, 1)
		s.logger.Info("wechat template message rejected", "openid", channels.MaskID(req.ToUser))
		wechatError(w, wechat.CodeInvalidOpenID, "invalid openid")
		return
	case !wechatTemplateID.MatchString(req.TemplateID):
		s.store.add(rejected, channels.WeChat, 1)
		wechatError(w, wechat.CodeInvalidTemplateID, "invalid template_id")
		return
	case len(req.Data) == 0:
		s.store.add(rejected, channels.WeChat, 1)
		wechatError(w, 47003, "argument invalid! data is empty")
		return
	case req.MiniProgram != nil && req.MiniProgram.AppID == "":
		s.store.add(rejected, channels.WeChat, 1)
		wechatError(w, 47003, "argument invalid! miniprogram.appid is empty")
		return
	}
	msgID := time.Now().Unix()<<20 + int64(s.ids.n.Add(1)%(1<<20))
	undeliv := b == deliver && s.undelivered(channels.WeChat, strconv.FormatInt(msgID, 10))
	s.store.record(Message{
		Channel: channels.WeChat, Address: req.ToUser, Content: renderWeChat(&req), ReceivedAt: time.Now(),
		VendorID: strconv.FormatInt(msgID, 10), MessageID: req.ClientMsgID, Behavior: behaviorName(b, undeliv),
	})
	if b != silent {
		delay := s.cfg.ReceiptDelay
		if b == slow {
			delay = s.cfg.SlowDelay
		}
		status := wechat.StatusSuccess
		if undeliv {
			status = wechat.StatusUserBlock
		}
		s.schedule(delay, vendorWeChat, wechatEvent{openid: req.ToUser, msgID: msgID, status: status})
	}
	writeJSON(w, http.StatusOK, wechat.Answer{ErrCode: 0, ErrMsg: "ok", MsgID: msgID})
}

// renderWeChat is the text a template message shows: its data values by key.
func renderWeChat(req *wechat.SendRequest) string {
	var b strings.Builder
	b.WriteString(req.TemplateID)
	for _, k := range slices.Sorted(maps.Keys(req.Data)) {
		fmt.Fprintf(&b, "\n%s: %s", k, req.Data[k].Value)
	}
	return b.String()
}

// wechatEventXML is the plaintext push of a TEMPLATESENDJOBFINISH event.
type wechatEventXML struct {
	XMLName      xml.Name `xml:"xml"`
	ToUserName   cdata    `xml:"ToUserName"`
	FromUserName cdata    `xml:"FromUserName"`
	CreateTime   int64    `xml:"CreateTime"`
	MsgType      cdata    `xml:"MsgType"`
	Event        cdata    `xml:"Event"`
	MsgID        int64    `xml:"MsgID"`
	Status       cdata    `xml:"Status"`
}

// cdata is a string WeChat wraps in CDATA.
type cdata struct {
	Text string `xml:",cdata"`
}

// wechatEventRequest builds the signed push of one event to the server URL.
func (s *Server) wechatEventRequest(batch []any) (*http.Request, error) {
	ev := batch[0].(wechatEvent)
	now := time.Now()
	body, err := xml.Marshal(wechatEventXML{
		ToUserName: cdata{"gh_" + s.cfg.AppID}, FromUserName: cdata{ev.openid}, CreateTime: now.Unix(),
		MsgType: cdata{"event"}, Event: cdata{wechat.EventTemplateSendJobFinish}, MsgID: ev.msgID, Status: cdata{ev.status},
	})
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := strconv.FormatInt(int64(s.ids.n.Add(1))*7919%1_000_000_007, 10)
	q := url.Values{}
	q.Set("signature", wechat.Signature(s.cfg.CallbackToken, ts, nonce))
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	q.Set("openid", ev.openid)
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.callbackURL(channels.WeChat, vendorWeChat)+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	return req, nil
}
