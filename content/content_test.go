package content

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
)

// validInput is a template input that passes validation; tests change one thing in it.
func validInput() Input {
	return Input{
		AppID: 1,
		Name:  "order shipped",
		Variables: []Variable{
			{Name: "name", Type: TypeString, Required: true},
			{Name: "amount", Type: TypeNumber},
			{Name: "vip", Type: TypeBool},
			{Name: "eta", Type: TypeTime},
		},
		Variants: []Variant{
			{Channel: channels.SMS, Body: "Hi {{name}}, your order of {{ amount }} ships {{eta}}"},
			{Channel: channels.Email, Title: "Shipped, {{name}}", Body: "Dear {{name}},\nit ships."},
			{Channel: channels.Webhook, Body: "{{name}}", Extra: map[string]any{"payload": map[string]any{"user": "{{name}}", "vip": "{{vip}}"}}},
		},
	}
}

// requireBadInput checks that err is a BAD_INPUT naming field, with a message holding every
// part of want.
func requireBadInput(t *testing.T, err error, field string, want ...string) {
	t.Helper()
	require.Error(t, err)
	fe, ok := fault.As(err)
	require.True(t, ok, "not a fault error: %v", err)
	require.Equal(t, fault.CodeBadInput, fe.Code, err.Error())
	require.Equal(t, field, fe.Field, err.Error())
	for _, w := range want {
		require.Contains(t, fe.Message, w)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		change    func(in *Input)
		wantField string // empty: valid
		wantMsg   []string
	}{
		{"valid", func(*Input) {}, "", nil},
		{"name trimmed", func(in *Input) { in.Name = "  spaced  " }, "", nil},
		{"empty name", func(in *Input) { in.Name = "   " }, "input.name", nil},
		{"name too long", func(in *Input) { in.Name = strings.Repeat("名", 101) }, "input.name", nil},
		{"bad variable name", func(in *Input) { in.Variables[1].Name = "1st" }, "input.variables[1].name", []string{`"1st"`}},
		{"variable declared twice", func(in *Input) { in.Variables[2].Name = "name" }, "input.variables[2].name", []string{"declared twice"}},
		{"bad variable type", func(in *Input) { in.Variables[3].Type = "date" }, "input.variables[3].type", []string{`"date"`}},
		{"no variants", func(in *Input) { in.Variants = nil }, "input.variants", nil},
		{"unknown channel", func(in *Input) { in.Variants[1].Channel = "FAX" }, "input.variants[1].channel", []string{"FAX"}},
		{"duplicate channel", func(in *Input) { in.Variants[2].Channel = channels.SMS }, "input.variants[2].channel", []string{"SMS", "two variants"}},
		{"empty body", func(in *Input) { in.Variants[0].Body = "" }, "input.variants[0].body", []string{"empty"}},
		{"blank body", func(in *Input) { in.Variants[1].Body = " \n\t" }, "input.variants[1].body", []string{"empty"}},
		{"body too long", func(in *Input) { in.Variants[0].Body = strings.Repeat("a", 65536) }, "input.variants[0].body", []string{"too long"}},
		{
			"undeclared variable in body", func(in *Input) { in.Variants[1].Body = "Dear {{name}},\nyour code is {{code}}." },
			"input.variants[1].body", []string{"line 2, column 14", `"code"`, "not declared"},
		},
		{
			"undeclared variable counts columns in characters", func(in *Input) { in.Variants[0].Body = "您好 {{name}}，验证码 {{ code }}" },
			"input.variants[0].body", []string{"line 1, column 17", `"code"`},
		},
		{"undeclared variable in title", func(in *Input) { in.Variants[1].Title = "{{subject}}" }, "input.variants[1].title", []string{"line 1, column 1", `"subject"`}},
		{"expression instead of a name", func(in *Input) { in.Variants[0].Body = "{{ amount * 2 }}" }, "input.variants[0].body", []string{"not a variable name"}},
		{"go template action", func(in *Input) { in.Variants[0].Body = `{{ printf "%s" .name }}` }, "input.variants[0].body", []string{"not a variable name"}},
		{"unbalanced braces", func(in *Input) { in.Variants[0].Body = "Hi {{name}" }, "input.variants[0].body", []string{"unbalanced"}},
		{"undeclared variable in extra", func(in *Input) { in.Variants[0].Extra = map[string]any{"sign": "{{brand}}"} }, "input.variants[0].extra.sign", []string{`"brand"`}},
		{
			"undeclared variable nested in extra", func(in *Input) {
				in.Variants[2].Extra = map[string]any{"payload": map[string]any{"items": []any{map[string]any{"sku": "{{sku}}"}}}}
			},
			"input.variants[2].extra.payload.items[0].sku", []string{"line 1, column 1", `"sku"`},
		},
		{"webhook payload not an object", func(in *Input) { in.Variants[2].Extra = map[string]any{"payload": "text"} }, "input.variants[2].extra.payload", []string{"JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := validInput()
			tt.change(&in)
			err := validate(&in)
			if tt.wantField == "" {
				require.NoError(t, err)
				require.Equal(t, strings.TrimSpace(in.Name), in.Name)
				return
			}
			requireBadInput(t, err, tt.wantField, tt.wantMsg...)
		})
	}
}

func TestCheckVariables(t *testing.T) {
	t.Parallel()
	in := validInput()
	tpl := &Template{Name: in.Name, Variables: in.Variables, Variants: in.Variants}
	ok := func() map[string]any {
		return map[string]any{"name": "Li Lei", "amount": 12.5, "vip": true, "eta": "2025-03-01T08:00:00+08:00"}
	}
	tests := []struct {
		name      string
		change    func(vars map[string]any)
		wantField string // empty: accepted
		wantMsg   string
	}{
		{"all present", func(map[string]any) {}, "", ""},
		{"optional ones missing", func(v map[string]any) { delete(v, "amount"); delete(v, "vip"); delete(v, "eta") }, "", ""},
		{"optional one null", func(v map[string]any) { v["amount"] = nil }, "", ""},
		{"number as int", func(v map[string]any) { v["amount"] = 3 }, "", ""},
		{"number as json.Number", func(v map[string]any) { v["amount"] = json.Number("3.25") }, "", ""},
		{"time in UTC", func(v map[string]any) { v["eta"] = "2025-03-01T00:00:00Z" }, "", ""},
		{"required missing", func(v map[string]any) { delete(v, "name") }, "variables.name", "required"},
		{"required null", func(v map[string]any) { v["name"] = nil }, "variables.name", "required"},
		{"string given a number", func(v map[string]any) { v["name"] = 42.0 }, "variables.name", "must be a string, got a number"},
		{"number given a string", func(v map[string]any) { v["amount"] = "12.5" }, "variables.amount", "must be a number, got a string"},
		{"number given a bool", func(v map[string]any) { v["amount"] = false }, "variables.amount", "must be a number, got a boolean"},
		{"bool given a string", func(v map[string]any) { v["vip"] = "true" }, "variables.vip", "must be true or false, got a string"},
		{"bool given an object", func(v map[string]any) { v["vip"] = map[string]any{} }, "variables.vip", "got an object"},
		{"time given a number", func(v map[string]any) { v["eta"] = 1700000000.0 }, "variables.eta", "RFC 3339"},
		{"time not RFC 3339", func(v map[string]any) { v["eta"] = "2025-03-01 08:00" }, "variables.eta", "not an RFC 3339 time"},
		{"time given an array", func(v map[string]any) { v["eta"] = []any{"x"} }, "variables.eta", "got an array"},
		{"undeclared name", func(v map[string]any) { v["coupon"] = "X1" }, "variables.coupon", "not declared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := ok()
			tt.change(vars)
			err := tpl.CheckVariables(vars, "variables")
			if tt.wantField == "" {
				require.NoError(t, err)
				return
			}
			requireBadInput(t, err, tt.wantField, tt.wantMsg)
		})
	}
}

func TestRenderFillsPlaceholders(t *testing.T) {
	t.Parallel()
	in := validInput()
	tpl := &Template{Name: in.Name, Variables: in.Variables, Variants: in.Variants}
	r, err := tpl.Render(channels.Email, map[string]any{"name": "Han Meimei"})
	require.NoError(t, err)
	require.Equal(t, channels.Email, r.Channel)
	require.Equal(t, "Shipped, Han Meimei", r.Title)
	require.Equal(t, "Dear Han Meimei,\nit ships.", r.Body)
	require.Zero(t, r.Segments, "segments are counted for SMS only")

	r, err = tpl.Render(channels.SMS, map[string]any{"name": "Li", "amount": 3.0})
	require.NoError(t, err)
	require.Equal(t, "Hi Li, your order of 3 ships ", r.Body, "a missing optional variable renders empty")
	require.Equal(t, 1, r.Segments)

	_, err = tpl.Render(channels.Voice, nil)
	requireBadInput(t, err, "channel", "VOICE")
}

func TestRenderExecutesNothing(t *testing.T) {
	t.Parallel()
	tpl := &Template{Name: "t", Variables: []Variable{{Name: "a", Type: TypeString}, {Name: "b", Type: TypeString}},
		Variants: []Variant{{Channel: channels.SMS, Body: "[{{a}}] [{{b}}] [{{ .Secret }}] [{{ call .Exec }}]"}}}
	tests := []struct {
		name string
		vars map[string]any
		want string
	}{
		{"a placeholder in a value stays text", map[string]any{"a": "{{b}}", "b": "B"}, "[{{b}}] [B] [] []"},
		{"template actions in a value stay text", map[string]any{"a": `{{ printf "%s" "x" }}`, "b": "{{.}}"}, `[{{ printf "%s" "x" }}] [{{.}}] [] []`},
		{"markup stays text", map[string]any{"a": "<script>alert(1)</script>", "b": "${jndi:ldap://x}"}, "[<script>alert(1)</script>] [${jndi:ldap://x}] [] []"},
		{"no variables at all", nil, "[] [] [] []"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := tpl.Render(channels.SMS, tt.vars)
			require.NoError(t, err)
			require.Equal(t, tt.want, r.Body)
		})
	}
}

func TestRenderNumberFormatting(t *testing.T) {
	t.Parallel()
	tpl := &Template{Name: "t", Variables: []Variable{{Name: "n", Type: TypeNumber}},
		Variants: []Variant{{Channel: channels.SMS, Body: "n={{n}}"}}}
	tests := []struct {
		name string
		val  any
		want string
	}{
		{"whole float", 3.0, "n=3"},
		{"zero", 0.0, "n=0"},
		{"ten keeps its zero", 10.0, "n=10"},
		{"hundred", 100.0, "n=100"},
		{"fraction", 2.5, "n=2.5"},
		{"negative", -4.25, "n=-4.25"},
		{"binary noise hidden", 0.1 + 0.2, "n=0.3"},
		{"large", 1e6, "n=1000000"},
		{"six decimals at most", 1.0 / 3, "n=0.333333"},
		{"int", 7, "n=7"},
		{"int64", int64(9007199254740993), "n=9007199254740993"},
		{"json.Number verbatim", json.Number("12.50"), "n=12.50"},
		{"bool", true, "n=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := tpl.Render(channels.SMS, map[string]any{"n": tt.val})
			require.NoError(t, err)
			require.Equal(t, tt.want, r.Body)
		})
	}
}

func TestRenderExtraRecursively(t *testing.T) {
	t.Parallel()
	extra := map[string]any{
		"sign": "{{brand}}",
		"payload": map[string]any{
			"user":  "{{name}}",
			"n":     5.0,
			"flag":  true,
			"items": []any{"{{name}}-1", map[string]any{"deep": "{{brand}}/{{name}}"}, 2.0},
		},
	}
	tpl := &Template{Name: "t", Variables: []Variable{{Name: "name", Type: TypeString}, {Name: "brand", Type: TypeString}},
		Variants: []Variant{{Channel: channels.Webhook, Body: "{{name}}", Extra: extra}}}
	r, err := tpl.Render(channels.Webhook, map[string]any{"name": "u7", "brand": "Herald"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"sign": "Herald",
		"payload": map[string]any{
			"user":  "u7",
			"n":     5.0,
			"flag":  true,
			"items": []any{"u7-1", map[string]any{"deep": "Herald/u7"}, 2.0},
		},
	}, r.Extra)
	// The template itself is untouched: versions are cached and shared.
	require.Equal(t, "{{name}}", extra["payload"].(map[string]any)["user"])
	require.Equal(t, "{{brand}}/{{name}}", extra["payload"].(map[string]any)["items"].([]any)[1].(map[string]any)["deep"])
}

func TestSMSSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want int
	}{
		{"empty", "", 1},
		{"gsm-7 fits one", strings.Repeat("a", 160), 1},
		{"gsm-7 needs two", strings.Repeat("a", 161), 2},
		{"gsm-7 two full parts", strings.Repeat("a", 306), 2},
		{"gsm-7 three parts", strings.Repeat("a", 307), 3},
		{"ucs-2 fits one", strings.Repeat("中", 70), 1},
		{"ucs-2 needs two", strings.Repeat("中", 71), 2},
		{"ucs-2 two full parts", strings.Repeat("中", 134), 2},
		{"ucs-2 three parts", strings.Repeat("中", 135), 3},
		{"one chinese character makes all ucs-2", strings.Repeat("a", 70) + "中", 2},
		{"gsm-7 letters beyond ascii", strings.Repeat("é", 160), 1},
		{"gsm-7 extension characters take two septets", strings.Repeat("€", 81), 2},
		{"gsm-7 brackets take two septets", strings.Repeat("[", 80), 1},
		{"backtick is not gsm-7", strings.Repeat("`", 71), 2},
		{"emoji take two ucs-2 units", strings.Repeat("😀", 36), 2},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, SMSSegments(tt.text), tt.name)
	}
}
