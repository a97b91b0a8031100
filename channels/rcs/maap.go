// Package rcs holds Herald's RCS (5G message) provider. MaaP speaks the chatbot API of a
// Messaging-as-a-Platform: GSMA RCC.07 / RCC.08 as the China Mobile, China Unicom and China
// Telecom 5G message platforms expose it.
//
// Documentation followed: GSMA RCC.07 / RCC.08 and the OMA RESTful Network API for
// Messaging it builds on (POST {serverRoot}/messaging/{apiVersion}/outbound/{chatbotId}/requests,
// requestError with serviceException / policyException, deliveryInfoNotification with
// deliveryStatus DeliveredToTerminal, MessageDisplayed, DeliveryImpossible, ...); the GSMA
// Universal Profile bot message format (application/vnd.gsma.botmessage.v1.0+json,
// generalPurposeCard with title, description, media and suggestions); the China Mobile 5G
// message chatbot interface as published in Huawei Cloud's "Message over 5G" API reference
// (DeliveryInfoNotification posted to the chatbot with an Authorization header
// Username="…",Password="…" and a Date header; deliveryStatus values incl. the network's SMS
// fallback DeliveredToNetwork / DeliveredToSMS); RFC 6749 §4.4 for the client-credentials
// access token; Google RCS Business Messaging for "404: the user is not RCS-enabled".
package rcs

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/herald-msg/herald/channels"
)

// Defaults of Config.
const (
	DefaultName        = "maap"
	DefaultAPIVersion  = "v1"
	DefaultTokenPath   = "/oauth2/token"
	DefaultConcurrency = 16
	DefaultTimeout     = 10 * time.Second
	// MaxSkew is how far the Date header of a notification may be from Herald's clock.
	MaxSkew = 5 * time.Minute
	// tokenMargin is how long before its expiry an access token is renewed.
	tokenMargin = time.Minute
)

// Content types of a contentMessage entry.
const (
	ContentTypeText = "text/plain"
	ContentTypeBot  = "application/vnd.gsma.botmessage.v1.0+json"
)

// ReasonNotCapable is the Reason of a message whose terminal cannot receive RCS: it fails so
// that the send's FALLBACK channel takes over (the provider never sends SMS itself).
const ReasonNotCapable = "not RCS capable"

// Delivery statuses of a deliveryInfo.
const (
	StatusSent                = "MessageSent"
	StatusDeliveredToTerminal = "DeliveredToTerminal"
	StatusDisplayed           = "MessageDisplayed"
	StatusDeliveryImpossible  = "DeliveryImpossible"
	StatusDeliveredToNetwork  = "DeliveredToNetwork"
	StatusDeliveredToSMS      = "DeliveredToSMS"
)

// Config configures a MaaP provider.
type Config struct {
	// Name identifies the provider; default "maap".
	Name string
	// Endpoint is the platform's server root, such as https://maap.example.com/chatbot.
	Endpoint string
	// APIVersion is the {apiVersion} of the messaging paths; default "v1".
	APIVersion string
	// ChatbotID is the chatbot's id (or sip: URI) on the platform, the {chatbotId} of the
	// paths, the senderAddress of messages and the Username of notifications.
	ChatbotID string
	// ClientID and ClientSecret are the OAuth2 client credentials; ClientID defaults to
	// ChatbotID.
	ClientID     string
	ClientSecret string
	// TokenURL is where access tokens are fetched; default Endpoint + "/oauth2/token".
	TokenURL string
	// NotifyPassword is the Password the platform sends in the Authorization header of its
	// notifications; with none, every notification is rejected.
	NotifyPassword string
	// NetworkFallback lets the platform turn a message for a terminal without RCS into an
	// SMS of the text (smsSupported). Off by default: such a message fails with
	// ReasonNotCapable and Herald's own FALLBACK channel takes over.
	NetworkFallback bool
	// HTTPClient sends the requests; default a client with Timeout DefaultTimeout.
	HTTPClient *http.Client
	// Concurrency bounds the requests of one batch in flight; default 16.
	Concurrency int
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// MaaP sends RCS messages, one outbound request per message, at most Concurrency at a time.
type MaaP struct {
	cfg      Config
	outbound string // URL of the outbound requests resource
	logger   *slog.Logger

	mu      sync.Mutex
	token   string
	expires time.Time
}

// OutboundRequest is the body of POST .../outbound/{chatbotId}/requests.
type OutboundRequest struct {
	MessageID          string           `json:"messageId"`
	ClientCorrelator   string           `json:"clientCorrelator,omitempty"`
	SenderAddress      string           `json:"senderAddress"`
	DestinationAddress []string         `json:"destinationAddress"`
	ContentMessage     []ContentMessage `json:"contentMessage"`
	ReportRequest      []string         `json:"reportRequest,omitempty"`
	SMSSupported       bool             `json:"smsSupported"`
	SMSContent         string           `json:"smsContent,omitempty"`
}

// ContentMessage is one part of a message: plain text, or a bot message (rich card) whose
// ContentText is a JSON object.
type ContentMessage struct {
	ContentType string          `json:"contentType"`
	ContentText json.RawMessage `json:"contentText"`
}

// BotMessage is the bot message of a rich card.
type BotMessage struct {
	Message struct {
		GeneralPurposeCard GeneralPurposeCard `json:"generalPurposeCard"`
	} `json:"message"`
}

// GeneralPurposeCard is a standalone rich card.
type GeneralPurposeCard struct {
	Layout  CardLayout  `json:"layout"`
	Content CardContent `json:"content"`
}

// CardLayout sets the card's orientation.
type CardLayout struct {
	CardOrientation string `json:"cardOrientation"`
}

// CardContent is what a card shows.
type CardContent struct {
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	Media       *CardMedia   `json:"media,omitempty"`
	Suggestions []Suggestion `json:"suggestions,omitempty"`
}

// CardMedia is the card's image or video.
type CardMedia struct {
	MediaURL         string `json:"mediaUrl"`
	MediaContentType string `json:"mediaContentType"`
	Height           string `json:"height"`
}

// Suggestion is a chip under the card: a reply, or an action that opens a URL.
type Suggestion struct {
	Reply  *SuggestedReply  `json:"reply,omitempty"`
	Action *SuggestedAction `json:"action,omitempty"`
}

// SuggestedReply is a reply chip.
type SuggestedReply struct {
	DisplayText string   `json:"displayText"`
	Postback    Postback `json:"postback"`
}

// SuggestedAction is an action chip that opens a URL.
type SuggestedAction struct {
	DisplayText string    `json:"displayText"`
	Postback    Postback  `json:"postback"`
	URLAction   URLAction `json:"urlAction"`
}

// Postback is what the platform reports back when the chip is tapped.
type Postback struct {
	Data string `json:"data"`
}

// URLAction opens a URL.
type URLAction struct {
	OpenURL struct {
		URL string `json:"url"`
	} `json:"openUrl"`
}

// RequestError is the error body of the platform (OMA RESTful Network API).
type RequestError struct {
	RequestError struct {
		ServiceException *Exception `json:"serviceException,omitempty"`
		PolicyException  *Exception `json:"policyException,omitempty"`
	} `json:"requestError"`
}

// Exception is a service or policy exception.
type Exception struct {
	MessageID string   `json:"messageId"`
	Text      string   `json:"text"`
	Variables []string `json:"variables,omitempty"`
}

// ResourceReference is the success answer of an outbound request.
type ResourceReference struct {
	ResourceReference struct {
		ResourceURL string `json:"resourceURL"`
	} `json:"resourceReference"`
}

// TokenResponse is the answer of the token endpoint.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Error       string `json:"error,omitempty"`
}

// DeliveryInfo is the report on one message.
type DeliveryInfo struct {
	Address        string `json:"address"`
	MessageID      string `json:"messageId"`
	DeliveryStatus string `json:"deliveryStatus"`
	Description    string `json:"description,omitempty"`
	Text           string `json:"text,omitempty"`
}

// Notification is the body of a delivery notification: one deliveryInfo inside
// deliveryInfoNotification, or several inside deliveryInfoList.
type Notification struct {
	DeliveryInfoNotification *struct {
		DeliveryInfo deliveryInfos `json:"deliveryInfo"`
	} `json:"deliveryInfoNotification,omitempty"`
	DeliveryInfoList *struct {
		DeliveryInfo deliveryInfos `json:"deliveryInfo"`
	} `json:"deliveryInfoList,omitempty"`
	DeliveryInfo deliveryInfos `json:"deliveryInfo,omitempty"`
}

// deliveryInfos decodes one deliveryInfo object or an array of them.
type deliveryInfos []DeliveryInfo

// UnmarshalJSON accepts an object or an array.
func (d *deliveryInfos) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []DeliveryInfo
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
		*d = list
		return nil
	}
	var one DeliveryInfo
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*d = deliveryInfos{one}
	return nil
}

// New validates cfg, fills its defaults and returns the provider. Errors name the
// configuration field at fault.
func New(cfg Config) (*MaaP, error) {
	cfg.Name = cmp.Or(cfg.Name, DefaultName)
	cfg.APIVersion = cmp.Or(cfg.APIVersion, DefaultAPIVersion)
	cfg.ClientID = cmp.Or(cfg.ClientID, cfg.ChatbotID)
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
	if err := httpURL(cfg.Endpoint); err != nil {
		return nil, fmt.Errorf("rcs maap: endpoint: %w", err)
	}
	cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
	cfg.TokenURL = cmp.Or(cfg.TokenURL, cfg.Endpoint+DefaultTokenPath)
	switch {
	case strings.TrimSpace(cfg.ChatbotID) == "":
		return nil, errors.New("rcs maap: chatbotId is required")
	case cfg.ClientSecret == "":
		return nil, errors.New("rcs maap: clientSecret is required")
	case strings.ContainsAny(cfg.APIVersion, "/?#"):
		return nil, fmt.Errorf("rcs maap: apiVersion %q is not a path segment", cfg.APIVersion)
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("rcs maap: concurrency %d is negative", cfg.Concurrency)
	}
	if err := httpURL(cfg.TokenURL); err != nil {
		return nil, fmt.Errorf("rcs maap: tokenUrl: %w", err)
	}
	return &MaaP{
		cfg:      cfg,
		outbound: cfg.Endpoint + "/messaging/" + cfg.APIVersion + "/outbound/" + url.PathEscape(cfg.ChatbotID) + "/requests",
		logger:   cfg.Logger.With("component", "rcs.maap", "provider", cfg.Name),
	}, nil
}

func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

// Name identifies the provider.
func (p *MaaP) Name() string { return p.cfg.Name }

// Channel is RCS.
func (p *MaaP) Channel() channels.Channel { return channels.RCS }

// Send issues one outbound request per message, at most Concurrency at a time. It returns an
// error only when no request reached the platform.
func (p *MaaP) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	return channels.SendEach(ctx, "rcs maap", msgs, p.cfg.Concurrency, p.sendOne)
}

// Request builds the outbound request of m, or returns why m cannot be sent.
func (p *MaaP) Request(m channels.Message) (*OutboundRequest, error) {
	dest := TelURI(m.Address)
	if dest == "" {
		return nil, errors.New("no phone number")
	}
	if m.ID == "" {
		return nil, errors.New("no message id")
	}
	part, err := content(m)
	if err != nil {
		return nil, err
	}
	req := &OutboundRequest{
		MessageID:          m.ID,
		ClientCorrelator:   m.ID,
		SenderAddress:      p.cfg.ChatbotID,
		DestinationAddress: []string{dest},
		ContentMessage:     []ContentMessage{part},
		ReportRequest:      []string{"Delivered", "Displayed", "Failed"},
		SMSSupported:       p.cfg.NetworkFallback,
	}
	if p.cfg.NetworkFallback {
		req.SMSContent = m.Body
	}
	return req, nil
}

// content is the message part of m: a rich card when the variant has one, else its text.
func content(m channels.Message) (ContentMessage, error) {
	card, ok := m.Extra["card"].(map[string]any)
	if !ok {
		if strings.TrimSpace(m.Body) == "" {
			return ContentMessage{}, errors.New("empty message: no body and no card")
		}
		text, _ := json.Marshal(m.Body)
		return ContentMessage{ContentType: ContentTypeText, ContentText: text}, nil
	}
	var bot BotMessage
	gc := &bot.Message.GeneralPurposeCard
	gc.Layout.CardOrientation = "VERTICAL"
	gc.Content.Title, _ = card["title"].(string)
	gc.Content.Description, _ = card["description"].(string)
	if gc.Content.Title == "" && gc.Content.Description == "" {
		return ContentMessage{}, errors.New("card has neither title nor description")
	}
	if media, _ := card["media"].(string); media != "" {
		gc.Content.Media = &CardMedia{MediaURL: media, MediaContentType: mediaType(media), Height: "MEDIUM_HEIGHT"}
	}
	list, _ := card["suggestions"].([]any)
	for i, e := range list {
		sg, _ := e.(map[string]any)
		text, _ := sg["text"].(string)
		if text == "" {
			return ContentMessage{}, fmt.Errorf("card suggestion %d has no text", i)
		}
		postback := Postback{Data: "herald:" + m.ID + ":" + strconv.Itoa(i)}
		if u, _ := sg["url"].(string); u != "" {
			a := &SuggestedAction{DisplayText: text, Postback: postback}
			a.URLAction.OpenURL.URL = u
			gc.Content.Suggestions = append(gc.Content.Suggestions, Suggestion{Action: a})
		} else {
			gc.Content.Suggestions = append(gc.Content.Suggestions, Suggestion{Reply: &SuggestedReply{DisplayText: text, Postback: postback}})
		}
	}
	b, err := json.Marshal(bot)
	if err != nil {
		return ContentMessage{}, fmt.Errorf("card: %w", err)
	}
	return ContentMessage{ContentType: ContentTypeBot, ContentText: b}, nil
}

// mediaType guesses the content type of a media URL from its extension; image/jpeg if none.
func mediaType(u string) string {
	if pu, err := url.Parse(u); err == nil {
		if t := mime.TypeByExtension(strings.ToLower(path.Ext(pu.Path))); t != "" {
			t, _, _ = strings.Cut(t, ";")
			return t
		}
	}
	return "image/jpeg"
}

// TelURI is addr as a tel: URI in international form: tel:+8613800138000 for 13800138000,
// +8613800138000 or tel:+8613800138000; "" if addr has no digits.
func TelURI(addr string) string {
	a := strings.TrimSpace(addr)
	a = strings.TrimPrefix(strings.TrimPrefix(a, "tel:"), "TEL:")
	plus := strings.HasPrefix(a, "+")
	var d strings.Builder
	for _, r := range a {
		if r >= '0' && r <= '9' {
			d.WriteRune(r)
		}
	}
	digits := d.String()
	switch {
	case digits == "":
		return ""
	case !plus && len(digits) == 11 && digits[0] == '1':
		return "tel:+86" + digits // a mainland mobile number
	}
	return "tel:+" + strings.TrimPrefix(digits, "00")
}

// sendOne sends one message; unreached reports a failure before any request reached the
// platform (token endpoint or transport down).
func (p *MaaP) sendOne(ctx context.Context, m channels.Message) (channels.Result, bool) {
	out, err := p.Request(m)
	if err != nil {
		return channels.Permanent(m.ID, err.Error()), false
	}
	body, err := json.Marshal(out)
	if err != nil {
		return channels.Permanent(m.ID, err.Error()), false
	}
	refused := ""
	for attempt := 0; ; attempt++ {
		token, res, unreached := p.accessToken(ctx, m.ID, refused)
		if token == "" {
			return res, unreached
		}
		status, answer, err := p.post(ctx, token, body)
		if err != nil {
			p.logger.WarnContext(ctx, "rcs request failed", "message_id", m.ID, "phone", channels.MaskPhone(out.DestinationAddress[0]), "error", err)
			return channels.Retryable(m.ID, "transport: "+err.Error()), true
		}
		if status == http.StatusUnauthorized && attempt == 0 {
			refused = token // expired or revoked before its time: fetch a new one once
			continue
		}
		res = mapAnswer(m.ID, status, answer)
		if res.Status == channels.Failed {
			p.logger.WarnContext(ctx, "rcs message refused", "message_id", m.ID, "phone", channels.MaskPhone(out.DestinationAddress[0]),
				"status", status, "reason", res.Reason, "retryable", res.Retryable)
		}
		return res, false
	}
}

func (p *MaaP) post(ctx context.Context, token string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.outbound, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return 0, nil, fmt.Errorf("reading answer: %w", err)
	}
	return resp.StatusCode, answer, nil
}

// mapAnswer turns the platform's answer to an outbound request into a Result.
func mapAnswer(id string, status int, answer []byte) channels.Result {
	if status >= 200 && status < 300 {
		var ref ResourceReference
		_ = json.Unmarshal(answer, &ref)
		vendorID := id // the resource is named after Herald's messageId
		if u := ref.ResourceReference.ResourceURL; u != "" {
			if last, err := url.PathUnescape(path.Base(u)); err == nil && last != "" && last != "." && last != "/" {
				vendorID = last
			}
		}
		return channels.Result{MessageID: id, VendorID: vendorID, Status: channels.Sent, CostUnits: 1}
	}
	reason := fmt.Sprintf("HTTP %d", status)
	var re RequestError
	if json.Unmarshal(answer, &re) == nil {
		ex := cmp.Or(re.RequestError.ServiceException, re.RequestError.PolicyException)
		if ex != nil {
			reason = ex.MessageID + ": " + expand(ex.Text, ex.Variables)
		}
	}
	switch {
	case status == http.StatusNotFound:
		return channels.Permanent(id, ReasonNotCapable+" ("+reason+")")
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		return channels.Retryable(id, reason)
	}
	return channels.Permanent(id, reason)
}

// expand fills the %1, %2, ... of an OMA exception text with its variables.
func expand(text string, vars []string) string {
	for i := len(vars); i >= 1; i-- {
		text = strings.ReplaceAll(text, "%"+strconv.Itoa(i), vars[i-1])
	}
	return text
}

// accessToken returns a valid access token, fetching one when the cached one is missing,
// about to expire or the one the platform just refused. Concurrent sends wait for a single
// fetch. With no token it returns the Result the message gets instead.
func (p *MaaP) accessToken(ctx context.Context, id, refused string) (string, channels.Result, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.NowFunc()
	if p.token != "" && p.token != refused && now.Before(p.expires.Add(-tokenMargin)) {
		return p.token, channels.Result{}, false
	}
	tok, err := p.fetchToken(ctx)
	if err != nil {
		var te *tokenError
		if errors.As(err, &te) && te.permanent {
			return "", channels.Permanent(id, "access token: "+err.Error()), false
		}
		return "", channels.Retryable(id, "access token: "+err.Error()), true
	}
	p.token = tok.AccessToken
	p.expires = now.Add(time.Duration(tok.ExpiresIn) * time.Second)
	return p.token, channels.Result{}, false
}

type tokenError struct {
	msg       string
	permanent bool
}

func (e *tokenError) Error() string { return e.msg }

// fetchToken asks the token endpoint for a client-credentials token (RFC 6749 §4.4), the
// client authenticated with HTTP Basic.
func (p *MaaP) fetchToken(ctx context.Context) (*TokenResponse, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return nil, err
	}
	var tok TokenResponse
	_ = json.Unmarshal(body, &tok)
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, &tokenError{msg: fmt.Sprintf("token endpoint answered HTTP %d", resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		return nil, &tokenError{msg: fmt.Sprintf("token endpoint answered HTTP %d %s", resp.StatusCode, tok.Error), permanent: true}
	case tok.AccessToken == "" || !strings.EqualFold(cmp.Or(tok.TokenType, "Bearer"), "Bearer"):
		return nil, &tokenError{msg: "token endpoint answered without a bearer token", permanent: true}
	}
	if tok.ExpiresIn <= 0 {
		tok.ExpiresIn = 3600
	}
	return &tok, nil
}

// ParseReceipts verifies a delivery notification (the chatbot's Username and the notify
// Password in the Authorization header, a Date within MaxSkew) and parses its reports.
// MessageSent reports are progress, not receipts, and are left out.
func (p *MaaP) ParseReceipts(r *http.Request) ([]channels.Receipt, error) {
	if err := p.verify(r); err != nil {
		return nil, fmt.Errorf("rcs notification: %w: %s", channels.ErrUnverified, err)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("rcs notification: method %s, want POST", r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("rcs notification: reading body: %w", err)
	}
	return p.parse(body)
}

func (p *MaaP) parse(body []byte) ([]channels.Receipt, error) {
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("rcs notification: decoding body: %w", err)
	}
	infos := n.DeliveryInfo
	if n.DeliveryInfoNotification != nil {
		infos = append(infos, n.DeliveryInfoNotification.DeliveryInfo...)
	}
	if n.DeliveryInfoList != nil {
		infos = append(infos, n.DeliveryInfoList.DeliveryInfo...)
	}
	if len(infos) == 0 {
		return nil, errors.New("rcs notification: no deliveryInfo")
	}
	now := p.cfg.NowFunc()
	out := make([]channels.Receipt, 0, len(infos))
	for i, di := range infos {
		if di.MessageID == "" {
			return nil, fmt.Errorf("rcs notification: deliveryInfo %d has no messageId", i)
		}
		rc := channels.Receipt{Channel: channels.RCS, Provider: p.cfg.Name, MessageID: di.MessageID,
			VendorID: di.MessageID, Address: di.Address, At: now}
		reason := strings.Trim(di.Description+": "+di.Text, ": ")
		switch strings.ToLower(di.DeliveryStatus) {
		case "messagesent", "sent":
			continue
		case "deliveredtoterminal", "delivered":
			rc.Status = channels.Delivered
		case "messagedisplayed", "displayed":
			rc.Status = channels.Displayed
		case "deliveredtonetwork", "deliveredtosms", "deliverdtosms", "deliveredtovms":
			// The platform's own SMS / video SMS fallback reached the terminal.
			rc.Status = channels.Delivered
			rc.Reason = di.DeliveryStatus
		case "deliveryimpossible", "failed", "deliveredtosmsfailed", "deliverdtosmsfailed", "deliveredtovmsfailed":
			rc.Status = channels.Failed
			rc.Reason = cmp.Or(reason, di.DeliveryStatus)
		default:
			return nil, fmt.Errorf("rcs notification: deliveryInfo %d has unknown deliveryStatus %q", i, truncate(di.DeliveryStatus, 40))
		}
		out = append(out, rc)
	}
	return out, nil
}

// verify checks the Authorization and Date headers of a notification.
func (p *MaaP) verify(r *http.Request) error {
	if p.cfg.NotifyPassword == "" {
		return errors.New("no notify password configured")
	}
	user, pass, ok := ParseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return errors.New("no Username/Password authorization")
	}
	if !equal(user, p.cfg.ChatbotID) || !equal(pass, p.cfg.NotifyPassword) {
		return errors.New("wrong username or password")
	}
	date, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return errors.New("missing or malformed Date")
	}
	if d := p.cfg.NowFunc().Sub(date); d > MaxSkew || d < -MaxSkew {
		return fmt.Errorf("Date is %s off", d.Round(time.Second))
	}
	return nil
}

// Authorization returns the Authorization header value of a notification:
// Username="<chatbot>",Password="<password>".
func Authorization(username, password string) string {
	return `Username="` + username + `",Password="` + password + `"`
}

// ParseAuthorization reads a Username="…",Password="…" header value.
func ParseAuthorization(h string) (user, pass string, ok bool) {
	var gotUser, gotPass bool
	for _, part := range strings.Split(h, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return "", "", false
		}
		v = strings.TrimSpace(v)
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return "", "", false
		}
		v = v[1 : len(v)-1]
		switch strings.TrimSpace(k) {
		case "Username":
			user, gotUser = v, true
		case "Password":
			pass, gotPass = v, true
		}
	}
	return user, pass, gotUser && gotPass
}

// equal compares digests so that neither content nor length leaks by timing.
func equal(a, b string) bool {
	x, y := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

var (
	_ channels.Provider      = (*MaaP)(nil)
	_ channels.ReceiptParser = (*MaaP)(nil)
)
