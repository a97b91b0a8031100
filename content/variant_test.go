package content

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

func TestEveryChannelHasARule(t *testing.T) {
	t.Parallel()
	for _, ch := range channels.All {
		_, ok := channelRules[ch]
		require.True(t, ok, "channel %s has no entry in channelRules", ch)
	}
	require.Len(t, channelRules, len(channels.All), "a rule for a channel that does not exist")
}

func TestChannelRules(t *testing.T) {
	t.Parallel()
	type extra = map[string]any
	long := func(n int) string { return strings.Repeat("字", n) }
	tests := []struct {
		name      string
		variant   Variant
		wantField string // relative to input.variants[0]; empty: valid
		wantMsg   string
	}{
		// APP_PUSH
		{"push: body only", Variant{Channel: channels.AppPush, Body: "{{name}}, your parcel is here"}, "", ""},
		{"push: everything", Variant{Channel: channels.AppPush, Title: "Parcel for {{name}}", Body: "Tap to track",
			Extra: extra{"payload": extra{"orderId": "{{code}}", "n": 1.0}, "clickAction": "url", "url": "https://shop.example.com/o/{{code}}"}}, "", ""},
		{"push: open the app", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"clickAction": "app"}}, "", ""},
		{"push: intent", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"clickAction": "intent", "intent": "intent://orders/{{code}}#Intent;scheme=shop;end"}}, "", ""},
		{"push: raw title of 100 characters", Variant{Channel: channels.AppPush, Title: long(100), Body: "b"}, "", ""},
		{"push: raw title over 100", Variant{Channel: channels.AppPush, Title: long(101), Body: "b"}, "title", "101 characters; at most 100"},
		{"push: body over 256", Variant{Channel: channels.AppPush, Body: long(257)}, "body", "257 characters; at most 256"},
		{"push: payload not an object", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"payload": []any{"x"}}}, "extra.payload", "JSON object, got an array"},
		{"push: unknown click action", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"clickAction": "open"}}, "extra.clickAction", `"open" must be app, url or intent`},
		{"push: click action not a string", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"clickAction": 1.0}}, "extra.clickAction", "must be a string, got a number"},
		{"push: url action without url", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"clickAction": "url"}}, "extra.url", "needs the http(s) URL"},
		{"push: url not http", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"clickAction": "url", "url": "ftp://example.com/x"}}, "extra.url", "must be an http(s) URL"},
		{"push: javascript url", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"clickAction": "url", "url": "javascript:alert(1)"}}, "extra.url", "must be an http(s) URL"},
		{"push: scheme from a variable", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"clickAction": "url", "url": "{{link}}"}}, "extra.url", "the scheme cannot come from a variable"},
		{"push: url without a host", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"url": "https:///path"}}, "extra.url", "is not an http(s) URL"},
		{"push: intent action without intent", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"clickAction": "intent"}}, "extra.intent", "needs the Android intent URI"},
		{"push: unknown extra field", Variant{Channel: channels.AppPush, Body: "b", Extra: extra{"sound": "ding"}}, "extra.sound", "APP_PUSH variants have no extra field \"sound\"; they read payload, clickAction, url, intent"},

		// SMS
		{"sms: text with a sign", Variant{Channel: channels.SMS, Body: "您的验证码是 {{code}}", Extra: extra{"sign": "Herald"}}, "", ""},
		{"sms: text without a sign (the provider's default)", Variant{Channel: channels.SMS, Body: "Your code is {{code}}"}, "", ""},
		{"sms: vendor template with params", Variant{Channel: channels.SMS, Body: "您的验证码是 {{code}}",
			Extra: extra{"sign": "阿里云短信", "templateCode": "SMS_154950909", "params": extra{"code": "{{code}}", "product": "Herald"}}}, "", ""},
		{"sms: vendor template without params (the send's variables)", Variant{Channel: channels.SMS, Body: "code {{code}}", Extra: extra{"templateCode": "SMS_1"}}, "", ""},
		{"sms: body of 500", Variant{Channel: channels.SMS, Body: long(500)}, "", ""},
		{"sms: body over 500", Variant{Channel: channels.SMS, Body: long(501)}, "body", "501 characters; at most 500"},
		{"sms: sign too short", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"sign": "H"}}, "extra.sign", "1 characters; it must be 2 to 12"},
		{"sms: sign too long", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"sign": "一二三四五六七八九十一二三"}}, "extra.sign", "13 characters"},
		{"sms: sign not a string", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"sign": true}}, "extra.sign", "must be a string, got a boolean"},
		{"sms: template code not the vendor's", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"templateCode": "154950909"}}, "extra.templateCode", "SMS_123456789"},
		{"sms: params without a template code", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"params": extra{"code": "{{code}}"}}}, "extra.params", "set extra.templateCode"},
		{"sms: params not an object", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"templateCode": "SMS_1", "params": "code"}}, "extra.params", "object of strings, got a string"},
		{"sms: param not a string", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"templateCode": "SMS_1", "params": extra{"code": 1234.0}}}, "extra.params.code", "must be a string, got a number"},
		{"sms: param with an undeclared variable", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"templateCode": "SMS_1", "params": extra{"code": "{{otp}}"}}}, "extra.params.code", `variable "otp" is used but not declared`},
		{"sms: misspelt field", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"signName": "Herald"}}, "extra.signName", "they read sign, templateCode, params"},

		// WECHAT
		{"wechat: everything", Variant{Channel: channels.WeChat, Body: "Order {{code}} shipped", Extra: extra{
			"templateId": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
			"data":       extra{"first": "Hello {{name}}", "keyword1": extra{"value": "{{code}}", "color": "#173177"}},
			"url":        "https://shop.example.com/o/{{code}}", "miniprogram": extra{"appid": "wx1234", "pagepath": "pages/order?id={{code}}"},
		}}, "", ""},
		{"wechat: no template id", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"data": extra{"first": "x"}}}, "extra.templateId", "required"},
		{"wechat: template id with a space", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "a b", "data": extra{"first": "x"}}}, "extra.templateId", "not a WeChat template id"},
		{"wechat: no data", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1"}}, "extra.data", "object of the template's keys"},
		{"wechat: empty data", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1", "data": extra{}}}, "extra.data", "object of the template's keys"},
		{"wechat: data value a number", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1", "data": extra{"keyword1": 3.0}}}, "extra.data.keyword1", "string or {value, color}, got a number"},
		{"wechat: data entry without value", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1", "data": extra{"keyword1": extra{"color": "#000000"}}}}, "extra.data.keyword1.value", "must be a string"},
		{"wechat: data entry with a bad colour", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1", "data": extra{"keyword1": extra{"value": "x", "color": "red"}}}}, "extra.data.keyword1.color", "#173177"},
		{"wechat: data entry with another field", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1", "data": extra{"keyword1": extra{"value": "x", "size": "big"}}}}, "extra.data.keyword1.size", "only value and color"},
		{"wechat: url not http", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1", "data": extra{"first": "x"}, "url": "weixin://x"}}, "extra.url", "http(s) URL"},
		{"wechat: mini program not an object", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1", "data": extra{"first": "x"}, "miniprogram": "wx1234"}}, "extra.miniprogram", "{appid, pagepath}"},
		{"wechat: mini program without appid", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1", "data": extra{"first": "x"}, "miniprogram": extra{"pagepath": "p"}}}, "extra.miniprogram.appid", "required"},
		{"wechat: mini program with another field", Variant{Channel: channels.WeChat, Body: "b", Extra: extra{"templateId": "T1", "data": extra{"first": "x"}, "miniprogram": extra{"appid": "wx1", "path": "p"}}}, "extra.miniprogram.path", "only appid and pagepath"},

		// DINGTALK
		{"dingtalk: text by default", Variant{Channel: channels.DingTalk, Body: "Build {{code}} passed"}, "", ""},
		{"dingtalk: markdown", Variant{Channel: channels.DingTalk, Title: "Build {{code}}", Body: "## passed", Extra: extra{"msgType": "markdown"}}, "", ""},
		{"dingtalk: link", Variant{Channel: channels.DingTalk, Title: "Build", Body: "passed", Extra: extra{"msgType": "link", "url": "https://ci.example.com/{{code}}", "picUrl": "https://ci.example.com/ok.png"}}, "", ""},
		{"dingtalk: action card", Variant{Channel: channels.DingTalk, Title: "Build", Body: "passed", Extra: extra{"msgType": "action_card", "url": "https://ci.example.com/{{code}}", "singleTitle": "Open"}}, "", ""},
		{"dingtalk: unknown message type", Variant{Channel: channels.DingTalk, Body: "b", Extra: extra{"msgType": "image"}}, "extra.msgType", `"image" must be text, markdown, link or action_card`},
		{"dingtalk: markdown without title", Variant{Channel: channels.DingTalk, Body: "b", Extra: extra{"msgType": "markdown"}}, "title", "markdown message needs a title"},
		{"dingtalk: link without title", Variant{Channel: channels.DingTalk, Body: "b", Extra: extra{"msgType": "link", "url": "https://x.example.com"}}, "title", "link message needs a title"},
		{"dingtalk: link without url", Variant{Channel: channels.DingTalk, Title: "t", Body: "b", Extra: extra{"msgType": "link"}}, "extra.url", "needs the http(s) URL"},
		{"dingtalk: action card without url", Variant{Channel: channels.DingTalk, Title: "t", Body: "b", Extra: extra{"msgType": "action_card", "singleTitle": "Open"}}, "extra.url", "action_card message needs the http(s) URL"},
		{"dingtalk: picture url not http", Variant{Channel: channels.DingTalk, Title: "t", Body: "b", Extra: extra{"msgType": "link", "url": "https://x.example.com", "picUrl": "data:image/png;base64,AAAA"}}, "extra.picUrl", "http(s) URL"},

		// VOICE
		{"voice: script", Variant{Channel: channels.Voice, Body: "您的验证码是 {{code}}"}, "", ""},
		{"voice: vendor TTS template", Variant{Channel: channels.Voice, Body: "code {{code}}", Extra: extra{"ttsCode": "TTS_10001"}}, "", ""},
		{"voice: script over 300", Variant{Channel: channels.Voice, Body: long(301)}, "body", "301 characters; at most 300"},
		{"voice: TTS code with a space", Variant{Channel: channels.Voice, Body: "b", Extra: extra{"ttsCode": "TTS 1"}}, "extra.ttsCode", "not a vendor TTS template code"},
		{"voice: TTS code not a string", Variant{Channel: channels.Voice, Body: "b", Extra: extra{"ttsCode": 10001.0}}, "extra.ttsCode", "must be a string"},

		// RCS
		{"rcs: plain text", Variant{Channel: channels.RCS, Body: "{{name}}, your parcel is here"}, "", ""},
		{"rcs: card", Variant{Channel: channels.RCS, Body: "Parcel for {{name}}", Extra: extra{"card": extra{
			"title": "Parcel for {{name}}", "description": "Tap to track", "media": "https://cdn.example.com/parcel.jpg",
			"suggestions": []any{extra{"text": "Track", "url": "https://shop.example.com/o/{{code}}"}, extra{"text": "Thanks"}},
		}}}, "", ""},
		{"rcs: body over 1000", Variant{Channel: channels.RCS, Body: long(1001)}, "body", "1001 characters; at most 1000"},
		{"rcs: card not an object", Variant{Channel: channels.RCS, Body: "b", Extra: extra{"card": "title"}}, "extra.card", "got a string"},
		{"rcs: card without title or description", Variant{Channel: channels.RCS, Body: "b", Extra: extra{"card": extra{"media": "https://cdn.example.com/a.jpg"}}}, "extra.card", "a title or a description"},
		{"rcs: card with another field", Variant{Channel: channels.RCS, Body: "b", Extra: extra{"card": extra{"title": "t", "image": "x"}}}, "extra.card.image", "only title, description, media and suggestions"},
		{"rcs: card title not a string", Variant{Channel: channels.RCS, Body: "b", Extra: extra{"card": extra{"title": 1.0}}}, "extra.card.title", "must be a string"},
		{"rcs: media over plain http", Variant{Channel: channels.RCS, Body: "b", Extra: extra{"card": extra{"title": "t", "media": "http://cdn.example.com/a.jpg"}}}, "extra.card.media", "must be an https URL"},
		{"rcs: five suggestions", Variant{Channel: channels.RCS, Body: "b", Extra: extra{"card": extra{"title": "t", "suggestions": []any{
			extra{"text": "1"}, extra{"text": "2"}, extra{"text": "3"}, extra{"text": "4"}, extra{"text": "5"}}}}}, "extra.card.suggestions", "at most 4"},
		{"rcs: suggestion without text", Variant{Channel: channels.RCS, Body: "b", Extra: extra{"card": extra{"title": "t", "suggestions": []any{extra{"url": "https://x.example.com"}}}}}, "extra.card.suggestions[0].text", "1 to 25"},
		{"rcs: suggestion text too long", Variant{Channel: channels.RCS, Body: "b", Extra: extra{"card": extra{"title": "t", "suggestions": []any{extra{"text": strings.Repeat("a", 26)}}}}}, "extra.card.suggestions[0].text", "1 to 25"},
		{"rcs: suggestion url not http", Variant{Channel: channels.RCS, Body: "b", Extra: extra{"card": extra{"title": "t", "suggestions": []any{extra{"text": "a"}, extra{"text": "b", "url": "tel:10086"}}}}}, "extra.card.suggestions[1].url", "http(s) URL"},

		// EMAIL
		{"email: subject, HTML and text", Variant{Channel: channels.Email, Title: "Order {{code}}", Body: "<p>Hello {{name}}</p>", Extra: extra{"text": "Hello {{name}}"}}, "", ""},
		{"email: text derived", Variant{Channel: channels.Email, Title: "Order {{code}}", Body: "<p>Hello {{name}}</p>"}, "", ""},
		{"email: no subject", Variant{Channel: channels.Email, Body: "<p>Hello</p>"}, "title", "must not be empty for EMAIL"},
		{"email: blank subject", Variant{Channel: channels.Email, Title: "  ", Body: "<p>Hello</p>"}, "title", "must not be empty"},
		{"email: subject over 200", Variant{Channel: channels.Email, Title: long(201), Body: "<p>Hello</p>"}, "title", "201 characters; at most 200"},
		{"email: text not a string", Variant{Channel: channels.Email, Title: "s", Body: "<p>Hello</p>", Extra: extra{"text": []any{"x"}}}, "extra.text", "must be a string, got an array"},
		{"email: subject with an undeclared variable", Variant{Channel: channels.Email, Title: "Hi {{first}}", Body: "b"}, "title", "line 1, column 4"},
		{"email: another field", Variant{Channel: channels.Email, Title: "s", Body: "b", Extra: extra{"from": "shop@example.com"}}, "extra.from", "they read text"},

		// WEBHOOK
		{"webhook: payload", Variant{Channel: channels.Webhook, Body: "b", Extra: extra{"payload": extra{"user": "{{name}}", "items": []any{extra{"code": "{{code}}"}}}}}, "", ""},
		{"webhook: any extra field", Variant{Channel: channels.Webhook, Body: "b", Extra: extra{"event": "shipped", "user": "{{name}}"}}, "", ""},
		{"webhook: payload not an object", Variant{Channel: channels.Webhook, Body: "b", Extra: extra{"payload": []any{}}}, "extra.payload", "JSON object, got an array"},
		{"webhook: undeclared variable in the payload", Variant{Channel: channels.Webhook, Body: "b", Extra: extra{"payload": extra{"user": "{{user}}"}}}, "extra.payload.user", `variable "user" is used but not declared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := Input{AppID: 1, Name: "rules", Variables: []Variable{
				{Name: "name", Type: TypeString}, {Name: "code", Type: TypeString}, {Name: "link", Type: TypeString}, {Name: "amount", Type: TypeNumber},
			}, Variants: []Variant{tt.variant}}
			err := validate(&in)
			if tt.wantField == "" {
				require.NoError(t, err)
				return
			}
			requireBadInput(t, err, "input.variants[0]."+tt.wantField, tt.wantMsg)
		})
	}
}
