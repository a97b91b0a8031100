package content

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/herald-msg/herald/channels"
)

// channelRule is what Herald knows of one channel's variant: the extra fields its providers
// read, what is checked when a template is saved and what bounds the rendered text. A new
// channel is one entry of channelRules.
type channelRule struct {
	// extra lists the extra keys the channel reads. Any other key is refused, so a misspelt
	// one is not dropped silently; nil accepts every key (WEBHOOK sends them all).
	extra []string
	// titleRequired, titleMax and bodyMax (characters; 0: no limit) are checked on the raw
	// text when the template is saved.
	titleRequired     bool
	titleMax, bodyMax int
	// limits bound the rendered text; a render over a limit fails.
	limits []limit
	// htmlBody marks a body of HTML: variable values are HTML-escaped into it.
	htmlBody bool
	// plainText names the extra key that carries a plain-text part derived from the HTML
	// body at render time when the variant does not set one.
	plainText string
	// check makes the channel's own checks of title and extra.
	check func(v *Variant) *fieldError
}

// limit bounds one rendered field, in characters.
type limit struct {
	field string // "title", "body" or "extra.<key>" of a top-level string
	max   int
}

// channelRules holds the variant rules of every channel; docs/templates.md describes them.
var channelRules = map[channels.Channel]channelRule{
	channels.AppPush: {
		extra:    []string{"payload", "clickAction", "url", "intent"},
		titleMax: 100, bodyMax: 256,
		limits: []limit{{"title", 50}, {"body", 256}},
		check:  checkPush,
	},
	channels.SMS: {
		extra:   []string{"sign", "templateCode", "params"},
		bodyMax: 500,
		limits:  []limit{{"body", 500}, {"extra.sign", 12}},
		check:   checkSMS,
	},
	channels.WeChat: {
		extra: []string{"templateId", "data", "url", "miniprogram"},
		check: checkWeChat,
	},
	channels.DingTalk: {
		extra: []string{"msgType", "url", "picUrl", "singleTitle"},
		check: checkDingTalk,
	},
	channels.Voice: {
		extra:   []string{"ttsCode"},
		bodyMax: 300,
		limits:  []limit{{"body", 300}},
		check:   checkVoice,
	},
	channels.RCS: {
		extra:   []string{"card"},
		bodyMax: 1000,
		limits:  []limit{{"body", 1000}},
		check:   checkRCS,
	},
	channels.Email: {
		extra:         []string{"text"},
		titleRequired: true, titleMax: 200,
		limits:    []limit{{"title", 200}},
		htmlBody:  true,
		plainText: "text",
		check:     checkEmail,
	},
	channels.Webhook: {
		check: checkWebhook,
	},
}

// fieldError is a problem with one field of a variant; field is relative to the variant
// ("extra.clickAction") and validate puts the variant's path in front.
type fieldError struct {
	field string
	msg   string
}

func bad(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}

// checkVariant makes the checks of rule on a variant whose channel, body and placeholders in
// title and body were checked already.
func checkVariant(v *Variant, rule channelRule, declared map[string]bool) *fieldError {
	keys := slices.Sorted(maps.Keys(v.Extra))
	if rule.extra != nil {
		for _, k := range keys {
			if !slices.Contains(rule.extra, k) {
				return bad("extra."+k, "%s variants have no extra field %q; they read %s", v.Channel, k, strings.Join(rule.extra, ", "))
			}
		}
	}
	for _, k := range keys {
		if fe := checkExtraValue("extra."+k, v.Extra[k], declared); fe != nil {
			return fe
		}
	}
	if rule.titleRequired && strings.TrimSpace(v.Title) == "" {
		return bad("title", "must not be empty for %s", v.Channel)
	}
	if n := utf8.RuneCountInString(v.Title); rule.titleMax > 0 && n > rule.titleMax {
		return bad("title", "is %d characters; at most %d for %s", n, rule.titleMax, v.Channel)
	}
	if n := utf8.RuneCountInString(v.Body); rule.bodyMax > 0 && n > rule.bodyMax {
		return bad("body", "is %d characters; at most %d for %s", n, rule.bodyMax, v.Channel)
	}
	if rule.check != nil {
		return rule.check(v)
	}
	return nil
}

// checkExtraValue checks the placeholders of every string inside an extra value, at any
// depth, because Render fills them at any depth; field names the value.
func checkExtraValue(field string, val any, declared map[string]bool) *fieldError {
	switch x := val.(type) {
	case string:
		if err := checkPlaceholders(x, declared); err != nil {
			return bad(field, "%s", err)
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if fe := checkExtraValue(field+"."+k, x[k], declared); fe != nil {
				return fe
			}
		}
	case []any:
		for i, e := range x {
			if fe := checkExtraValue(fmt.Sprintf("%s[%d]", field, i), e, declared); fe != nil {
				return fe
			}
		}
	}
	return nil
}

var (
	smsTemplateCode = regexp.MustCompile(`^SMS_[0-9]+$`)
	vendorCode      = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	color           = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)
)

func checkPush(v *Variant) *fieldError {
	if fe := optObject(v.Extra, "payload"); fe != nil {
		return fe
	}
	action, _, fe := optString(v.Extra, "clickAction")
	if fe != nil {
		return fe
	}
	switch action {
	case "", "app":
	case "url":
		if _, ok := v.Extra["url"]; !ok {
			return bad("extra.url", "clickAction \"url\" needs the http(s) URL to open")
		}
	case "intent":
		if s, _, _ := optString(v.Extra, "intent"); strings.TrimSpace(s) == "" {
			return bad("extra.intent", "clickAction \"intent\" needs the Android intent URI to open")
		}
	default:
		return bad("extra.clickAction", "%q must be app, url or intent", action)
	}
	if _, _, fe := optString(v.Extra, "intent"); fe != nil {
		return fe
	}
	return optURL(v.Extra, "url", true)
}

func checkSMS(v *Variant) *fieldError {
	sign, hasSign, fe := optString(v.Extra, "sign")
	if fe != nil {
		return fe
	}
	if n := utf8.RuneCountInString(sign); hasSign && (n < 2 || n > 12) {
		return bad("extra.sign", "the sign name is %d characters; it must be 2 to 12 (leave it out to use the provider's)", n)
	}
	code, hasCode, fe := optString(v.Extra, "templateCode")
	if fe != nil {
		return fe
	}
	if hasCode && !smsTemplateCode.MatchString(code) {
		return bad("extra.templateCode", "%q is not a vendor template code such as SMS_123456789", code)
	}
	params, ok := v.Extra["params"]
	if !ok {
		return nil
	}
	if !hasCode {
		return bad("extra.params", "params fill a vendor template: set extra.templateCode too")
	}
	m, ok := params.(map[string]any)
	if !ok {
		return bad("extra.params", "must be an object of strings, got %s", jsonKind(params))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if _, ok := m[k].(string); !ok {
			return bad("extra.params."+k, "must be a string, got %s", jsonKind(m[k]))
		}
	}
	return nil
}

func checkWeChat(v *Variant) *fieldError {
	id, _, fe := optString(v.Extra, "templateId")
	if fe != nil {
		return fe
	}
	if id == "" {
		return bad("extra.templateId", "the WeChat template id is required")
	}
	if !vendorCode.MatchString(id) {
		return bad("extra.templateId", "%q is not a WeChat template id", id)
	}
	data, ok := v.Extra["data"].(map[string]any)
	if !ok || len(data) == 0 {
		return bad("extra.data", "must be an object of the template's keys, such as {\"thing1\": \"{{name}}\"}")
	}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		f := "extra.data." + k
		switch x := data[k].(type) {
		case string:
		case map[string]any:
			for _, kk := range slices.Sorted(maps.Keys(x)) {
				if kk != "value" && kk != "color" {
					return bad(f+"."+kk, "a data entry holds only value and color")
				}
			}
			if _, ok := x["value"].(string); !ok {
				return bad(f+".value", "must be a string")
			}
			if c, ok := x["color"]; ok {
				if s, _ := c.(string); !color.MatchString(s) {
					return bad(f+".color", "must be a colour such as #173177")
				}
			}
		default:
			return bad(f, "must be a string or {value, color}, got %s", jsonKind(x))
		}
	}
	if fe := optURL(v.Extra, "url", true); fe != nil {
		return fe
	}
	mp, ok := v.Extra["miniprogram"]
	if !ok {
		return nil
	}
	m, ok := mp.(map[string]any)
	if !ok {
		return bad("extra.miniprogram", "must be {appid, pagepath}, got %s", jsonKind(mp))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k != "appid" && k != "pagepath" {
			return bad("extra.miniprogram."+k, "a mini program link holds only appid and pagepath")
		}
	}
	if s, _ := m["appid"].(string); strings.TrimSpace(s) == "" {
		return bad("extra.miniprogram.appid", "the mini program's appid is required")
	}
	if p, ok := m["pagepath"]; ok {
		if _, ok := p.(string); !ok {
			return bad("extra.miniprogram.pagepath", "must be a string")
		}
	}
	return nil
}

func checkDingTalk(v *Variant) *fieldError {
	typ, _, fe := optString(v.Extra, "msgType")
	if fe != nil {
		return fe
	}
	switch typ {
	case "", "text":
	case "markdown", "link", "action_card":
		if strings.TrimSpace(v.Title) == "" {
			return bad("title", "a DingTalk %s message needs a title", typ)
		}
		if typ != "markdown" {
			if _, ok := v.Extra["url"]; !ok {
				return bad("extra.url", "a DingTalk %s message needs the http(s) URL it opens", typ)
			}
		}
	default:
		return bad("extra.msgType", "%q must be text, markdown, link or action_card", typ)
	}
	if _, _, fe := optString(v.Extra, "singleTitle"); fe != nil {
		return fe
	}
	if fe := optURL(v.Extra, "url", true); fe != nil {
		return fe
	}
	return optURL(v.Extra, "picUrl", true)
}

func checkVoice(v *Variant) *fieldError {
	code, ok, fe := optString(v.Extra, "ttsCode")
	if fe != nil {
		return fe
	}
	if ok && !vendorCode.MatchString(code) {
		return bad("extra.ttsCode", "%q is not a vendor TTS template code such as TTS_123456789", code)
	}
	return nil
}

func checkRCS(v *Variant) *fieldError {
	c, ok := v.Extra["card"]
	if !ok {
		return nil
	}
	card, ok := c.(map[string]any)
	if !ok {
		return bad("extra.card", "must be {title, description, media, suggestions}, got %s", jsonKind(c))
	}
	for _, k := range slices.Sorted(maps.Keys(card)) {
		switch k {
		case "title", "description", "media", "suggestions":
		default:
			return bad("extra.card."+k, "a card holds only title, description, media and suggestions")
		}
	}
	title, _, fe := optString(card, "title")
	if fe != nil {
		return &fieldError{field: "extra.card.title", msg: fe.msg}
	}
	desc, _, fe := optString(card, "description")
	if fe != nil {
		return &fieldError{field: "extra.card.description", msg: fe.msg}
	}
	if strings.TrimSpace(title) == "" && strings.TrimSpace(desc) == "" {
		return bad("extra.card", "a card needs a title or a description")
	}
	if n := utf8.RuneCountInString(title); n > 200 {
		return bad("extra.card.title", "is %d characters; at most 200", n)
	}
	if n := utf8.RuneCountInString(desc); n > 2000 {
		return bad("extra.card.description", "is %d characters; at most 2000", n)
	}
	if fe := optURL(card, "media", false); fe != nil {
		return &fieldError{field: "extra.card.media", msg: fe.msg}
	}
	s, ok := card["suggestions"]
	if !ok {
		return nil
	}
	list, ok := s.([]any)
	if !ok {
		return bad("extra.card.suggestions", "must be a list of {text, url}, got %s", jsonKind(s))
	}
	if len(list) > 4 {
		return bad("extra.card.suggestions", "a card has at most 4 suggestions, got %d", len(list))
	}
	for i, e := range list {
		f := fmt.Sprintf("extra.card.suggestions[%d]", i)
		sg, ok := e.(map[string]any)
		if !ok {
			return bad(f, "must be {text, url}, got %s", jsonKind(e))
		}
		for _, k := range slices.Sorted(maps.Keys(sg)) {
			if k != "text" && k != "url" {
				return bad(f+"."+k, "a suggestion holds only text and url")
			}
		}
		text, _ := sg["text"].(string)
		if n := utf8.RuneCountInString(text); strings.TrimSpace(text) == "" || n > 25 {
			return bad(f+".text", "must be 1 to 25 characters")
		}
		if fe := optURL(sg, "url", true); fe != nil {
			return &fieldError{field: f + ".url", msg: fe.msg}
		}
	}
	return nil
}

func checkEmail(v *Variant) *fieldError {
	_, _, fe := optString(v.Extra, "text")
	return fe
}

func checkWebhook(v *Variant) *fieldError {
	return optObject(v.Extra, "payload")
}

// optString returns extra[key] when it is a string; set reports whether the key is there.
func optString(extra map[string]any, key string) (s string, set bool, fe *fieldError) {
	val, ok := extra[key]
	if !ok {
		return "", false, nil
	}
	s, ok = val.(string)
	if !ok {
		return "", true, bad("extra."+key, "must be a string, got %s", jsonKind(val))
	}
	return s, true, nil
}

// optObject checks that extra[key], when set, is a JSON object.
func optObject(extra map[string]any, key string) *fieldError {
	if val, ok := extra[key]; ok {
		if _, ok := val.(map[string]any); !ok {
			return bad("extra."+key, "%s must be a JSON object, got %s", key, jsonKind(val))
		}
	}
	return nil
}

// optURL checks the link extra[key], when set: it starts with https:// (or http:// when
// allowHTTP) in the template itself, so no variable chooses the scheme, and has a host.
func optURL(extra map[string]any, key string, allowHTTP bool) *fieldError {
	val, ok := extra[key]
	if !ok {
		return nil
	}
	want := "an https URL"
	if allowHTTP {
		want = "an http(s) URL"
	}
	s, ok := val.(string)
	if !ok {
		return bad("extra."+key, "must be %s, got %s", want, jsonKind(val))
	}
	lower := strings.ToLower(s)
	if !strings.HasPrefix(lower, "https://") && (!allowHTTP || !strings.HasPrefix(lower, "http://")) {
		return bad("extra."+key, "%q must be %s; the scheme cannot come from a variable", s, want)
	}
	u, err := url.Parse(sampleFill(s))
	if err != nil || u.Host == "" {
		return bad("extra."+key, "%q is not %s", s, want)
	}
	return nil
}

// sampleFill replaces every placeholder of text with "x", so a URL with placeholders can be
// parsed.
func sampleFill(text string) string {
	var b strings.Builder
	last := 0
	for {
		start, end, _, ok := nextPlaceholder(text, last)
		if !ok {
			break
		}
		b.WriteString(text[last:start])
		b.WriteString("x")
		last = end
	}
	b.WriteString(text[last:])
	return b.String()
}
