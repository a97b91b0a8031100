package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/rcs"
)

// A MaaP chatbot platform (GSMA RCC.07 chatbot API as the Chinese operators' 5G message
// platforms expose it) under /rcs: a client-credentials token endpoint and the outbound
// requests resource. The chatbot id and client id are Config.AppID, the client secret
// Config.AccessKeySecret; notifications carry Username=AppID, Password=CallbackToken.
func init() {
	registerVendor(vendor{
		name:    vendorMaaP,
		channel: channels.RCS,
		routes: func(s *Server, mux *http.ServeMux) {
			mux.HandleFunc("POST "+rcsRoot+"/oauth2/token", s.handleRCSToken)
			mux.HandleFunc("POST "+rcsRoot+"/messaging/{version}/outbound/{chatbot}/requests", s.handleRCSOutbound)
		},
		receipts: (*Server).rcsNotificationRequest,
	})
}

const (
	vendorMaaP = "maap"
	// rcsRoot is the server root of the simulated platform.
	rcsRoot = "/rcs"
	// rcsNotCapableSuffix ends the numbers whose terminal has no RCS: the platform answers
	// 404, as it does for a user who is not RCS-enabled.
	rcsNotCapableSuffix = "3333"
	// rcsMaxDestinations is the most destinationAddress entries one request takes.
	rcsMaxDestinations = 100
)

// rcsTokenAccount keys the platform's tokens in the shared token store.
func (s *Server) rcsTokenAccount() string { return "maap:" + s.cfg.AppID }

func rcsError(w http.ResponseWriter, status int, policy bool, id, text string, vars ...string) {
	var re rcs.RequestError
	ex := &rcs.Exception{MessageID: id, Text: text, Variables: vars}
	if policy {
		re.RequestError.PolicyException = ex
	} else {
		re.RequestError.ServiceException = ex
	}
	writeJSON(w, status, re)
}

// handleRCSToken hands out client-credentials access tokens (RFC 6749 §4.4), the client
// authenticated with HTTP Basic or client_id / client_secret form fields.
func (s *Server) handleRCSToken(w http.ResponseWriter, r *http.Request) {
	s.pause(r.Context())
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.cfg.AppID || !constantEqual(secret, s.cfg.AccessKeySecret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="maap"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	tok, life := s.tokens.issue(s.rcsTokenAccount(), s.cfg.TokenLifetime, time.Now())
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, rcs.TokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(life / time.Second)})
}

// handleRCSOutbound accepts an outbound message request for one or more destinations.
func (s *Server) handleRCSOutbound(w http.ResponseWriter, r *http.Request) {
	s.pause(r.Context())
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if account, check := s.tokens.check(bearer, time.Now()); check != tokenOK || account != s.rcsTokenAccount() {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		rcsError(w, http.StatusUnauthorized, true, "POL0001", "Invalid or expired access token")
		return
	}
	if r.PathValue("version") != rcs.DefaultAPIVersion {
		rcsError(w, http.StatusNotFound, false, "SVC0002", "Invalid input value for message part %1", "apiVersion")
		return
	}
	if chatbot := r.PathValue("chatbot"); chatbot != s.cfg.AppID && !strings.HasPrefix(chatbot, "sip:"+s.cfg.AppID+"@") {
		rcsError(w, http.StatusForbidden, true, "POL0002", "Chatbot %1 is not served to this client", chatbot)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req rcs.OutboundRequest
	if err != nil || json.Unmarshal(body, &req) != nil {
		rcsError(w, http.StatusBadRequest, false, "SVC0001", "A service error occurred: the body is not an outbound message request")
		return
	}
	switch {
	case req.MessageID == "":
		rcsError(w, http.StatusBadRequest, false, "SVC0002", "Invalid input value for message part %1", "messageId")
		return
	case len(req.DestinationAddress) == 0 || len(req.DestinationAddress) > rcsMaxDestinations:
		rcsError(w, http.StatusBadRequest, false, "SVC0002", "Invalid input value for message part %1", "destinationAddress")
		return
	case len(req.ContentMessage) == 0:
		rcsError(w, http.StatusBadRequest, false, "SVC0002", "Invalid input value for message part %1", "contentMessage")
		return
	}
	content, ok := rcsContent(req.ContentMessage)
	if !ok {
		rcsError(w, http.StatusBadRequest, false, "SVC0002", "Invalid input value for message part %1", "contentMessage")
		return
	}
	if s.fault() {
		s.store.add(faults, channels.RCS, 1)
		rcsError(w, http.StatusServiceUnavailable, false, "SVC1000", "The service is temporarily unavailable")
		return
	}
	if !s.admit(vendorMaaP, len(req.DestinationAddress)) {
		s.store.add(throttled, channels.RCS, 1)
		w.Header().Set("Retry-After", "1")
		rcsError(w, http.StatusTooManyRequests, true, "POL3003", "Too many requests: the chatbot's rate limit was exceeded")
		return
	}
	for _, addr := range req.DestinationAddress {
		phone := strings.TrimPrefix(addr, "tel:")
		if !strings.HasPrefix(addr, "tel:+") || !validPhone(phone) || phoneBehavior(phone) == reject {
			s.store.add(rejected, channels.RCS, 1)
			rcsError(w, http.StatusBadRequest, false, "SVC0004", "No valid addresses provided in message part %1", addr)
			return
		}
		if strings.HasSuffix(phoneDigits(phone), rcsNotCapableSuffix) && !req.SMSSupported {
			s.store.add(rejected, channels.RCS, 1)
			rcsError(w, http.StatusNotFound, false, "SVC0004", "The user %1 is not RCS-enabled", addr)
			return
		}
	}
	now := time.Now()
	for _, addr := range req.DestinationAddress {
		b := phoneBehavior(addr)
		toSMS := strings.HasSuffix(phoneDigits(addr), rcsNotCapableSuffix)
		undeliv := b == deliver && !toSMS && s.undelivered(channels.RCS, req.MessageID+"/"+addr)
		s.store.record(Message{
			Channel: channels.RCS, Address: addr, Content: content, ReceivedAt: now,
			VendorID: req.MessageID, MessageID: req.MessageID, Behavior: behaviorName(b, undeliv),
		})
		if b == silent {
			continue
		}
		delay := s.cfg.ReceiptDelay
		if b == slow {
			delay = s.cfg.SlowDelay
		}
		status := rcs.StatusDeliveredToTerminal
		if toSMS {
			status = rcs.StatusDeliveredToSMS // the platform's own fallback, when allowed
		} else if undeliv {
			status = rcs.StatusDeliveryImpossible
		}
		s.schedule(delay, vendorMaaP, rcs.DeliveryInfo{Address: addr, MessageID: req.MessageID, DeliveryStatus: status})
		if status == rcs.StatusDeliveredToTerminal {
			s.schedule(2*delay, vendorMaaP, rcs.DeliveryInfo{Address: addr, MessageID: req.MessageID, DeliveryStatus: rcs.StatusDisplayed})
		}
	}
	var ans rcs.ResourceReference
	ans.ResourceReference.ResourceURL = "http://" + r.Host + r.URL.EscapedPath() + "/" + url.PathEscape(req.MessageID)
	writeJSON(w, http.StatusCreated, ans)
}

// rcsContent is what the terminal shows of a message: its text, or a card's title and
// description; false when a part is malformed.
func rcsContent(parts []rcs.ContentMessage) (string, bool) {
	var out []string
	for _, p := range parts {
		switch p.ContentType {
		case rcs.ContentTypeText:
			var text string
			if json.Unmarshal(p.ContentText, &text) != nil || text == "" {
				return "", false
			}
			out = append(out, text)
		case rcs.ContentTypeBot:
			var bot rcs.BotMessage
			if json.Unmarshal(p.ContentText, &bot) != nil {
				return "", false
			}
			c := bot.Message.GeneralPurposeCard.Content
			if c.Title == "" && c.Description == "" {
				return "", false
			}
			out = append(out, strings.TrimSpace(c.Title+"\n"+c.Description))
		default:
			return "", false
		}
	}
	return strings.Join(out, "\n"), true
}

// rcsNotificationRequest builds the delivery notification of a batch: one deliveryInfo in a
// deliveryInfoNotification, several in a deliveryInfoList, authenticated by the chatbot's
// Username and the notify Password, with the Date it was sent.
func (s *Server) rcsNotificationRequest(batch []any) (*http.Request, error) {
	infos := make([]rcs.DeliveryInfo, len(batch))
	for i, b := range batch {
		infos[i] = b.(rcs.DeliveryInfo)
	}
	var v any
	if len(infos) == 1 {
		v = map[string]any{"deliveryInfoNotification": map[string]any{"deliveryInfo": infos[0]}}
	} else {
		v = map[string]any{"deliveryInfoList": map[string]any{"deliveryInfo": infos}}
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.callbackURL(channels.RCS, vendorMaaP), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", rcs.Authorization(s.cfg.AppID, s.cfg.CallbackToken))
	req.Header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	return req, nil
}

// constantEqual compares secrets without leaking their content by timing.
func constantEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
