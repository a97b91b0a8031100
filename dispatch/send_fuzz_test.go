package dispatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/graph/model"
	"github.com/herald-msg/herald/rule"
)

// FuzzSendVariables follows the variables of a send from the request to the worker: the
// GraphQL JSON scalar (an object, or a string holding one), the template's check, the
// rule's condition, the rendering, and the job a worker decodes. Whatever the variables,
// they are refused with BAD_INPUT naming input.variables.<name>, or accepted and then
// nothing panics, and the worker renders exactly what the send checked.
func FuzzSendVariables(f *testing.F) {
	for _, seed := range []string{
		`{"code":"123456","amount":250,"vip":true,"at":"2026-05-01T08:00:00+08:00"}`,
		`{"code":"1"}`,
		`{"code":123456}`,
		`{"code":"1","amount":"250"}`,
		`{"code":"1","amount":1e400}`,
		`{"code":"1","amount":-0.0000001,"vip":null}`,
		`{"code":"<b>\"x\"</b>&","extra":1}`,
		`{"code":"{{code}}","at":"yesterday"}`,
		`{"code":["a"],"amount":{"n":1}}`,
		`{"code":"\u0000\ud800"}`,
		`"{\"code\":\"in a string\"}"`,
		`[1,2]`,
		`null`,
	} {
		f.Add(seed)
	}
	tpl := &content.Template{ID: 1, AppID: 1, Name: "otp", Version: 1,
		Variables: []content.Variable{{Name: "code", Type: content.TypeString, Required: true}, {Name: "amount", Type: content.TypeNumber},
			{Name: "vip", Type: content.TypeBool}, {Name: "at", Type: content.TypeTime}},
		Variants: []content.Variant{
			{Channel: channels.SMS, Body: "验证码 {{code}}，金额 {{amount}}", Extra: map[string]any{"sign": "Herald", "templateCode": "SMS_1"}},
			{Channel: channels.Email, Title: "Code {{code}}", Body: "<p>Your code is <b>{{code}}</b> ({{amount}}, {{vip}}, {{at}})</p>"},
			{Channel: channels.Webhook, Title: "otp", Body: "{{code}}", Extra: map[string]any{"payload": map[string]any{"code": "{{code}}", "amount": "{{amount}}"}}},
		}}
	rl := &rule.Rule{ID: 1, AppID: 1, Name: "by amount", Variables: []rule.Variable{{Name: "amount", Type: "number"}, {Name: "vip", Type: "bool"}},
		Routes: []rule.Route{
			{When: "vip == true && amount > 200", Strategy: rule.Concurrent, Channels: []channels.Channel{channels.SMS, channels.Email}},
			{When: `user.city == "Beijing"`, Strategy: rule.Concurrent, Channels: []channels.Channel{channels.Webhook}},
			{Strategy: rule.Concurrent, Channels: []channels.Channel{channels.SMS}},
		}}
	if err := rl.Compile(); err != nil {
		f.Fatal(err)
	}
	user := &audience.User{AppID: 1, ID: "u1", Attributes: map[string]any{"city": "Beijing", "amount": "shadowed"}}
	addrs := map[channels.Channel][]string{channels.SMS: {"+8613800138000"}, channels.Email: {"a@example.com"}, channels.Webhook: {"https://hooks.example.com/x"}}

	f.Fuzz(func(t *testing.T, raw string) {
		// The request body's variables, decoded as the GraphQL transport does.
		var decoded any
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		if dec.Decode(&decoded) != nil {
			decoded = raw // the scalar also takes a string holding the object
		}
		var j model.JSON
		if err := j.UnmarshalGQL(decoded); err != nil {
			return // a GraphQL coercion error: BAD_INPUT before any resolver
		}
		vars := map[string]any(j)
		if err := tpl.CheckVariables(vars, "input.variables"); err != nil {
			fe, ok := fault.As(err)
			if !ok || fe.Code != fault.CodeBadInput || !strings.HasPrefix(fe.Field, "input.variables.") {
				t.Fatalf("variables %s refused with %v, want BAD_INPUT on input.variables.<name>", raw, err)
			}
			return
		}
		items, reason := plan(rl, tpl, user, addrs, vars, 0, func(ch channels.Channel) string { return "m-" + string(ch) })
		if reason != "" || len(items) == 0 {
			t.Fatalf("variables %s: no message planned (%q)", raw, reason)
		}

		// The worker renders from the job it decodes, which must carry the same variables.
		body, err := json.Marshal(job{TaskID: 1, AppID: 1, TemplateID: 1, TemplateVersion: 1, Variables: vars, Items: items})
		if err != nil {
			t.Fatalf("variables %s accepted but the job does not encode: %v", raw, err)
		}
		var back job
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&back); err != nil {
			t.Fatalf("the job of variables %s does not decode: %v", raw, err)
		}
		if err := tpl.CheckVariables(back.Variables, "input.variables"); err != nil && len(vars) > 0 {
			t.Fatalf("variables %s no longer pass once queued: %v", raw, err)
		}
		for _, it := range items {
			want, err1 := tpl.Render(it.Channel, vars)
			got, err2 := tpl.Render(it.Channel, back.Variables)
			var tl *content.TooLongError
			if err1 != nil && !errors.As(err1, &tl) {
				t.Fatalf("render of %s failed: %v", it.Channel, err1)
			}
			if (err1 == nil) != (err2 == nil) || (err1 == nil && !reflect.DeepEqual(want, got)) {
				t.Fatalf("the worker renders %s differently from the send: %+v (%v) / %+v (%v)", it.Channel, want, err1, got, err2)
			}
		}
	})
}
