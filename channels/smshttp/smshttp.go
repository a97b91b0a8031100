// Package smshttp is Herald's generic HTTP SMS provider: it talks to any SMS gateway with
// an HTTP API described by configuration instead of code — the request (URL, method,
// headers, a body template with placeholders), where the answer keeps the gateway's message
// id and result code, which codes are worth retrying, and how the gateway's delivery reports
// map to Herald's receipts.
package smshttp

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
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
)

// Defaults of Config.
const (
	DefaultMethod      = http.MethodPost
	DefaultContentType = "application/json"
	DefaultConcurrency = 16
	DefaultTimeout     = 10 * time.Second
)

// Placeholders of URL and BodyTemplate.
const (
	PlaceholderPhone = "{{phone}}" // the number as addressed, such as +8613800138000
	PlaceholderText  = "{{text}}"  // the rendered body
	PlaceholderID    = "{{id}}"    // Herald's message id
	PlaceholderSign  = "{{sign}}"  // the SMS sign name: Extra.sign or Config.Sign
)

var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// Config describes one SMS gateway.
type Config struct {
	// Name identifies the provider (metrics, callback path); required.
	Name string
	// URL is the send endpoint; placeholders in it are URL-escaped.
	URL string
	// Method is POST (default), PUT or GET.
	Method string
	// Headers are sent with every request (an API key, ...). Values are taken as they are.
	Headers map[string]string
	// ContentType of the body; default application/json. In a JSON body placeholders are
	// JSON-escaped (write "{{text}}" with the quotes); in a form body
	// (application/x-www-form-urlencoded) they are URL-escaped; otherwise inserted as is.
	ContentType string
	// BodyTemplate is the request body with placeholders {{phone}}, {{text}}, {{id}} and
	// {{sign}}; required unless Method is GET.
	BodyTemplate string
	// Sign is the sign name of messages whose Extra has none.
	Sign string
	// Response describes the gateway's answer.
	Response ResponseConfig
	// Receipt describes the gateway's delivery reports; nil for a gateway that posts none.
	Receipt *ReceiptConfig
	// HTTPClient sends the requests; default a client with Timeout DefaultTimeout.
	HTTPClient *http.Client
	// Concurrency bounds the requests of one batch in flight; default 16.
	Concurrency int
	// Logger receives failures; default slog.Default().
	Logger *slog.Logger
	// NowFunc is the clock; default time.Now.
	NowFunc func() time.Time
}

// ResponseConfig says where the answer to a send keeps what Herald needs. Paths are dotted
// paths into the JSON answer ("data.id", "result.0.sid").
type ResponseConfig struct {
	// VendorIDPath is the path of the gateway's message id; required.
	VendorIDPath string
	// CodePath is the path of the result code; empty means any 2xx answer is a success.
	CodePath string
	// SuccessValue is the code that means accepted; required with CodePath.
	SuccessValue string
	// MessagePath is the path of the error description, kept in the Reason.
	MessagePath string
	// RetryableCodes are codes worth retrying (throttling, the gateway's own faults).
	RetryableCodes []string
	// PermanentCodes are codes that fail for good. A code in neither list fails for good
	// too; listing the permanent ones documents them and guards against overlap.
	PermanentCodes []string
}

// ReceiptConfig describes the delivery reports a gateway posts to
// {HERALD_PUBLIC_URL}/callbacks/sms/{Name}. Paths are dotted paths into the JSON body.
type ReceiptConfig struct {
	// ItemsPath is the path of the array of reports; empty when the body is one report or
	// an array of them.
	ItemsPath string
	// MessageIDPath is the path of Herald's id, for gateways that echo it; VendorIDPath the
	// path of the gateway's id. At least one is required.
	MessageIDPath string
	VendorIDPath  string
	// StatusPath is the path of the report's status; required.
	StatusPath string
	// ReasonPath is the path of the failure code or description.
	ReasonPath string
	// AddressPath is the path of the phone number.
	AddressPath string
	// StatusMap maps status values to DELIVERED or FAILED; reports of other values are
	// progress and are left out. Required.
	StatusMap map[string]channels.Status
	// TokenHeader or TokenQuery names where the shared Token comes: a request header or a
	// query parameter. Exactly one is required.
	TokenHeader string
	TokenQuery  string
	// Token is the shared secret; required.
	Token string
	// AckBody is written (200, AckContentType) after the reports were accepted; empty
	// answers 204.
	AckBody        string
	AckContentType string
}

// Provider sends SMS through a configured gateway, one request per message.
type Provider struct {
	cfg    Config
	logger *slog.Logger
}

// New validates cfg, fills its defaults and returns the provider. Errors name the field
// at fault.
func New(cfg Config) (*Provider, error) {
	cfg.Method = strings.ToUpper(cmp.Or(strings.TrimSpace(cfg.Method), DefaultMethod))
	cfg.ContentType = cmp.Or(strings.TrimSpace(cfg.ContentType), DefaultContentType)
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
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("smshttp %q: %w", cfg.Name, err)
	}
	return &Provider{cfg: cfg, logger: cfg.Logger.With("component", "sms.http", "provider", cfg.Name)}, nil
}

func (c *Config) validate() error {
	if strings.TrimSpace(c.Name) == "" || strings.ContainsAny(c.Name, "/?# ") {
		return fmt.Errorf("name: %q must be a non-empty path segment", c.Name)
	}
	if err := checkPlaceholders(c.URL); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	u, err := url.Parse(fill(c.URL, sample, url.QueryEscape))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url: %q is not an http(s) URL", c.URL)
	}
	switch c.Method {
	case http.MethodPost, http.MethodPut:
		if strings.TrimSpace(c.BodyTemplate) == "" {
			return fmt.Errorf("bodyTemplate: required for %s", c.Method)
		}
	case http.MethodGet:
		if c.BodyTemplate != "" {
			return errors.New("bodyTemplate: a GET request has no body; put the placeholders in url")
		}
	default:
		return fmt.Errorf("method: %q must be POST, PUT or GET", c.Method)
	}
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("headers: %q is not a valid header", k)
		}
	}
	if err := checkPlaceholders(c.BodyTemplate); err != nil {
		return fmt.Errorf("bodyTemplate: %w", err)
	}
	for _, name := range []string{"phone", "text"} {
		if !hasPlaceholder(c.URL, name) && !hasPlaceholder(c.BodyTemplate, name) {
			return fmt.Errorf("bodyTemplate: neither it nor url has the {{%s}} placeholder", name)
		}
	}
	if isJSON(c.ContentType) && c.BodyTemplate != "" {
		if body := c.render(c.BodyTemplate, sample); !json.Valid([]byte(body)) {
			return errors.New("bodyTemplate: not valid JSON once its placeholders are filled (quote string placeholders: \"{{text}}\")")
		}
	}
	r := c.Response
	if err := checkPath("response.vendorIdPath", r.VendorIDPath, true); err != nil {
		return err
	}
	if err := checkPath("response.codePath", r.CodePath, false); err != nil {
		return err
	}
	if err := checkPath("response.messagePath", r.MessagePath, false); err != nil {
		return err
	}
	if r.CodePath != "" && r.SuccessValue == "" {
		return errors.New("response.successValue: required with response.codePath")
	}
	if r.CodePath == "" && (r.SuccessValue != "" || len(r.RetryableCodes) > 0 || len(r.PermanentCodes) > 0) {
		return errors.New("response.codePath: required with successValue, retryableCodes or permanentCodes")
	}
	for _, code := range r.RetryableCodes {
		if slices.Contains(r.PermanentCodes, code) {
			return fmt.Errorf("response.retryableCodes: %q is listed as permanent too", code)
		}
		if code == r.SuccessValue {
			return fmt.Errorf("response.retryableCodes: %q is the success value", code)
		}
	}
	if slices.Contains(r.PermanentCodes, r.SuccessValue) && r.SuccessValue != "" {
		return fmt.Errorf("response.permanentCodes: %q is the success value", r.SuccessValue)
	}
	if c.Concurrency < 0 {
		return fmt.Errorf("concurrency: %d is negative", c.Concurrency)
	}
	if rc := c.Receipt; rc != nil {
		return rc.validate()
	}
	return nil
}

func (rc *ReceiptConfig) validate() error {
	for _, p := range []struct{ field, path string }{
		{"receipt.itemsPath", rc.ItemsPath}, {"receipt.messageIdPath", rc.MessageIDPath},
		{"receipt.vendorIdPath", rc.VendorIDPath}, {"receipt.reasonPath", rc.ReasonPath},
		{"receipt.addressPath", rc.AddressPath},
	} {
		if err := checkPath(p.field, p.path, false); err != nil {
			return err
		}
	}
	if rc.MessageIDPath == "" && rc.VendorIDPath == "" {
		return errors.New("receipt.messageIdPath: messageIdPath or vendorIdPath is required to match reports to messages")
	}
	if err := checkPath("receipt.statusPath", rc.StatusPath, true); err != nil {
		return err
	}
	if len(rc.StatusMap) == 0 {
		return errors.New("receipt.statusMap: required, mapping the gateway's status values to DELIVERED or FAILED")
	}
	for v, st := range rc.StatusMap {
		if st != channels.Delivered && st != channels.Failed {
			return fmt.Errorf("receipt.statusMap: %q maps to %q; want DELIVERED or FAILED", v, st)
		}
	}
	switch {
	case rc.TokenHeader == "" && rc.TokenQuery == "":
		return errors.New("receipt.tokenHeader: tokenHeader or tokenQuery is required: reports must be authenticated")
	case rc.TokenHeader != "" && rc.TokenQuery != "":
		return errors.New("receipt.tokenHeader: set tokenHeader or tokenQuery, not both")
	case rc.Token == "":
		return errors.New("receipt.token: required")
	}
	return nil
}

// sample fills placeholders when a configuration is checked.
var sample = map[string]string{"phone": "+8613800138000", "text": "sample \"text\"\n", "id": "msg-1", "sign": "Herald"}

func checkPlaceholders(s string) error {
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if _, ok := sample[m[1]]; !ok {
			return fmt.Errorf("unknown placeholder %q; use {{phone}}, {{text}}, {{id}} or {{sign}}", m[0])
		}
	}
	return nil
}

func hasPlaceholder(s, name string) bool {
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if m[1] == name {
			return true
		}
	}
	return false
}

var pathSegment = regexp.MustCompile(`^[^.\s]+(\.[^.\s]+)*$`)

func checkPath(field, p string, required bool) error {
	if p == "" {
		if required {
			return fmt.Errorf("%s: required", field)
		}
		return nil
	}
	if !pathSegment.MatchString(p) {
		return fmt.Errorf("%s: %q is not a dotted path such as data.id", field, p)
	}
	return nil
}

func isJSON(contentType string) bool {
	ct := strings.ToLower(contentType)
	return strings.Contains(ct, "json")
}

func isForm(contentType string) bool {
	return strings.HasPrefix(strings.ToLower(contentType), "application/x-www-form-urlencoded")
}

// render fills the placeholders of a body template, escaped for the content type.
func (c *Config) render(tmpl string, vals map[string]string) string {
	switch {
	case isJSON(c.ContentType):
		return fill(tmpl, vals, jsonEscape)
	case isForm(c.ContentType):
		return fill(tmpl, vals, url.QueryEscape)
	}
	return fill(tmpl, vals, func(s string) string { return s })
}

func fill(tmpl string, vals map[string]string, escape func(string) string) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		if v, ok := vals[name]; ok {
			return escape(v)
		}
		return m
	})
}

// jsonEscape escapes s for the inside of a JSON string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// Name identifies the provider.
func (p *Provider) Name() string { return p.cfg.Name }

// Channel is SMS.
func (p *Provider) Channel() channels.Channel { return channels.SMS }

// Send issues one request per message, at most Concurrency at a time. It returns an error
// only when no request reached the gateway.
func (p *Provider) Send(ctx context.Context, msgs []channels.Message) ([]channels.Result, error) {
	return channels.SendEach(ctx, "smshttp %s", msgs, p.cfg.Concurrency, p.sendOne)
}

// Request builds the HTTP request that sends m.
func (p *Provider) Request(ctx context.Context, m channels.Message) (*http.Request, error) {
	phone := strings.TrimSpace(m.Address)
	if phone == "" {
		return nil, errors.New("no phone number")
	}
	if strings.TrimSpace(m.Body) == "" {
		return nil, errors.New("empty message")
	}
	sign, _ := m.Extra["sign"].(string)
	vals := map[string]string{"phone": phone, "text": m.Body, "id": m.ID, "sign": cmp.Or(strings.TrimSpace(sign), p.cfg.Sign)}
	var body io.Reader
	if p.cfg.BodyTemplate != "" {
		body = strings.NewReader(p.cfg.render(p.cfg.BodyTemplate, vals))
	}
	req, err := http.NewRequestWithContext(ctx, p.cfg.Method, fill(p.cfg.URL, vals, url.QueryEscape), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", p.cfg.ContentType)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range p.cfg.Headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

func (p *Provider) sendOne(ctx context.Context, m channels.Message) (channels.Result, bool) {
	req, err := p.Request(ctx, m)
	if err != nil {
		return channels.Permanent(m.ID, err.Error()), false
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		p.logger.WarnContext(ctx, "sms request failed", "message_id", m.ID, "phone", channels.MaskPhone(m.Address), "error", err)
		return channels.Retryable(m.ID, "transport: "+err.Error()), true
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return channels.Retryable(m.ID, "reading answer: "+err.Error()), false
	}
	res := p.mapAnswer(m.ID, resp.StatusCode, answer)
	if res.Status == channels.Sent {
		sign, _ := m.Extra["sign"].(string)
		if sign = cmp.Or(strings.TrimSpace(sign), p.cfg.Sign); sign != "" {
			res.CostUnits = sms.Segments("【" + sign + "】" + m.Body)
		} else {
			res.CostUnits = sms.Segments(m.Body)
		}
	} else {
		p.logger.WarnContext(ctx, "sms rejected", "message_id", m.ID, "phone", channels.MaskPhone(m.Address),
			"status", resp.StatusCode, "reason", res.Reason, "retryable", res.Retryable)
	}
	return res, false
}

// mapAnswer turns the gateway's answer into a Result.
func (p *Provider) mapAnswer(id string, status int, answer []byte) channels.Result {
	r := p.cfg.Response
	doc, jsonErr := decode(answer)
	code, msg := "", ""
	if jsonErr == nil {
		if r.CodePath != "" {
			code, _ = Lookup(doc, r.CodePath)
		}
		if r.MessagePath != "" {
			msg, _ = Lookup(doc, r.MessagePath)
		}
	}
	reason := fmt.Sprintf("HTTP %d", status)
	if code != "" {
		reason = code
	}
	if msg != "" {
		reason += ": " + msg
	}
	ok := status >= 200 && status < 300 && jsonErr == nil && (r.CodePath == "" || code == r.SuccessValue)
	if ok {
		vendorID, _ := Lookup(doc, r.VendorIDPath)
		return channels.Result{MessageID: id, VendorID: vendorID, Status: channels.Sent}
	}
	switch {
	case code != "" && slices.Contains(r.RetryableCodes, code):
		return channels.Retryable(id, reason)
	case code != "" && slices.Contains(r.PermanentCodes, code):
		return channels.Permanent(id, reason)
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout, status >= 500:
		return channels.Retryable(id, reason)
	case jsonErr != nil && status < 300:
		return channels.Permanent(id, reason+": unreadable answer")
	}
	return channels.Permanent(id, reason)
}

// decode parses a JSON document keeping numbers as written.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// Lookup follows a dotted path (object keys, array indexes) into doc and returns the value
// as a string: strings as they are, numbers as written, booleans as true/false. ok is false
// when the path leads nowhere or to an object, an array or null.
func Lookup(doc any, path string) (string, bool) {
	v := doc
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var found bool
			if v, found = x[seg]; !found {
				return "", false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return "", false
			}
			v = x[i]
		default:
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// ParseReceipts verifies a delivery-report post by its shared token and maps its reports.
func (p *Provider) ParseReceipts(r *http.Request) ([]channels.Receipt, error) {
	rc := p.cfg.Receipt
	if rc == nil {
		return nil, fmt.Errorf("smshttp %s: %w: the provider takes no reports", p.cfg.Name, channels.ErrUnverified)
	}
	token := r.Header.Get(rc.TokenHeader)
	if rc.TokenQuery != "" {
		token = r.URL.Query().Get(rc.TokenQuery)
	}
	if !tokenOK(token, rc.Token) {
		return nil, fmt.Errorf("smshttp %s report: %w: token mismatch", p.cfg.Name, channels.ErrUnverified)
	}
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("smshttp %s report: method %s, want POST", p.cfg.Name, r.Method)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("smshttp %s report: reading body: %w", p.cfg.Name, err)
	}
	return p.parseReports(body)
}

func (p *Provider) parseReports(body []byte) ([]channels.Receipt, error) {
	rc := p.cfg.Receipt
	doc, err := decode(body)
	if err != nil {
		return nil, fmt.Errorf("smshttp %s report: decoding body: %w", p.cfg.Name, err)
	}
	items, ok := doc.([]any)
	if rc.ItemsPath != "" {
		v := doc
		for _, seg := range strings.Split(rc.ItemsPath, ".") {
			m, isMap := v.(map[string]any)
			if !isMap {
				v = nil
				break
			}
			v = m[seg]
		}
		if items, ok = v.([]any); !ok {
			return nil, fmt.Errorf("smshttp %s report: %s is not an array", p.cfg.Name, rc.ItemsPath)
		}
	} else if !ok {
		items = []any{doc}
	}
	now := p.cfg.NowFunc()
	out := make([]channels.Receipt, 0, len(items))
	for i, item := range items {
		if _, isMap := item.(map[string]any); !isMap {
			return nil, fmt.Errorf("smshttp %s report: item %d is not an object", p.cfg.Name, i)
		}
		raw, ok := Lookup(item, rc.StatusPath)
		if !ok {
			return nil, fmt.Errorf("smshttp %s report: item %d has no %s", p.cfg.Name, i, rc.StatusPath)
		}
		st, known := rc.StatusMap[raw]
		if !known {
			continue // a progress state the configuration does not map
		}
		rcpt := channels.Receipt{Channel: channels.SMS, Provider: p.cfg.Name, Status: st, At: now}
		if rc.MessageIDPath != "" {
			rcpt.MessageID, _ = Lookup(item, rc.MessageIDPath)
		}
		if rc.VendorIDPath != "" {
			rcpt.VendorID, _ = Lookup(item, rc.VendorIDPath)
		}
		if rcpt.MessageID == "" && rcpt.VendorID == "" {
			return nil, fmt.Errorf("smshttp %s report: item %d names no message", p.cfg.Name, i)
		}
		if rc.AddressPath != "" {
			rcpt.Address, _ = Lookup(item, rc.AddressPath)
		}
		if st == channels.Failed {
			if rc.ReasonPath != "" {
				rcpt.Reason, _ = Lookup(item, rc.ReasonPath)
			}
			rcpt.Reason = cmp.Or(rcpt.Reason, raw)
		}
		out = append(out, rcpt)
	}
	return out, nil
}

// AckReceipts writes the configured acknowledgement, or 204.
func (p *Provider) AckReceipts(w http.ResponseWriter) {
	rc := p.cfg.Receipt
	if rc == nil || rc.AckBody == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", cmp.Or(rc.AckContentType, "text/plain; charset=utf-8"))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, rc.AckBody)
}

// tokenOK compares digests so that neither content nor length of the token leaks by timing.
func tokenOK(got, want string) bool {
	if want == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

var (
	_ channels.Provider      = (*Provider)(nil)
	_ channels.ReceiptParser = (*Provider)(nil)
	_ channels.ReceiptAcker  = (*Provider)(nil)
)
