package content

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
)

// FuzzTemplateVariants saves arbitrary variants on three channels and renders the ones that pass with
// arbitrary values. A variant is refused with BAD_INPUT on an input field, or it renders
// without a panic, the same way every time, with values as text only: a WEBHOOK body equals
// the plain placeholder substitution, and an EMAIL body gains no markup from a value.
func FuzzTemplateVariants(f *testing.F) {
	for _, seed := range []struct{ body, title, extra, value string }{
		{"您的验证码是{{name}}，5分钟内有效", "", `{"sign":"Herald","templateCode":"SMS_1"}`, "123456"},
		{"<p>Hello {{ name }}</p><a href=\"https://x.test/{{name}}\">go</a>", "Hi {{name}}", `{}`, `<script>alert("x")</script>&amp;`},
		{"{{name}}{{n}}{{on}}", "t", `{"payload":{"v":"{{name}}","list":["{{n}}",1,true,null]}}`, `"}],"x":{"`},
		{"{{{name}}}", "{{", `{"url":"https://a.test/{{name}}"}`, "{{name}}"},
		{"{{unknown}}", "", `{}`, ""},
		{"x{{name", "}}", `[1,2]`, "\x00\xff"},
		{strings.Repeat("长", 600) + "{{name}}", "", `{}`, strings.Repeat("x", 5000)},
	} {
		f.Add(seed.body, seed.title, seed.extra, seed.value, 12.5)
	}
	declared := []Variable{{Name: "name", Type: TypeString, Required: true}, {Name: "n", Type: TypeNumber}, {Name: "on", Type: TypeBool}}
	f.Fuzz(func(t *testing.T, body, title, extraJSON, value string, n float64) {
		var extra map[string]any
		_ = json.Unmarshal([]byte(extraJSON), &extra)
		values := map[string]any{"name": value, "n": n, "on": true}
		for _, ch := range []channels.Channel{channels.SMS, channels.Email, channels.Webhook} {
			in := Input{Name: "fuzz", Variables: declared, Variants: []Variant{{Channel: ch, Title: title, Body: body, Extra: extra}}}
			if err := validate(&in); err != nil {
				fe, ok := fault.As(err)
				if !ok || fe.Code != fault.CodeBadInput || !strings.HasPrefix(fe.Field, "input.") {
					t.Fatalf("%s variant refused with %v, want BAD_INPUT on an input field", ch, err)
				}
				continue
			}
			tpl := &Template{Name: "fuzz", Variables: in.Variables, Variants: in.Variants}
			if err := tpl.CheckVariables(values, "input.variables"); err != nil {
				t.Fatalf("declared values refused: %v", err)
			}
			got, err := tpl.Render(ch, values)
			if err != nil {
				var tl *TooLongError
				if !errors.As(err, &tl) {
					t.Fatalf("%s render failed with %v, want nil or *TooLongError", ch, err)
				}
				continue
			}
			again, err := (&Template{Name: "fuzz", Variables: in.Variables, Variants: in.Variants}).Render(ch, values)
			if err != nil || !reflect.DeepEqual(got, again) {
				t.Fatalf("%s renders differ: %+v / %+v (%v)", ch, got, again, err)
			}
			switch ch {
			case channels.Webhook:
				strOnly := map[string]any{"name": value}
				plain, err := (&Template{Name: "fuzz", Variants: in.Variants}).Render(ch, strOnly)
				if err == nil && plain.Body != regexpFill(body, strOnly) {
					t.Fatalf("webhook body %q, want the plain substitution %q", plain.Body, regexpFill(body, strOnly))
				}
			case channels.Email:
				empty, err := (&Template{Name: "fuzz", Variants: in.Variants}).Render(ch, map[string]any{"name": "", "n": n, "on": true})
				if err == nil {
					for _, c := range []string{"<", ">", `"`} {
						if strings.Count(got.Body, c) != strings.Count(empty.Body, c) {
							t.Fatalf("the value %q added %q to the email body: %q", value, c, got.Body)
						}
					}
				}
			}
		}
	})
}
