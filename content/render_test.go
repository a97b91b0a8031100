package content

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

// regexpFill is how Render filled a text before templates were compiled, kept as the
// reference the compiled renderer must agree with.
func regexpFill(text string, vars map[string]any) string {
	if !strings.Contains(text, "{{") {
		return text
	}
	return regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`).ReplaceAllStringFunc(text, func(m string) string {
		name := strings.TrimSpace(m[2 : len(m)-2])
		val, ok := vars[name]
		if !ok || val == nil {
			return ""
		}
		switch x := val.(type) {
		case string:
			return x
		case float64:
			return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.6f", x), "0"), ".")
		default:
			return fmt.Sprint(x)
		}
	})
}

// renderText renders text as the title, the body and a nested extra string of a WEBHOOK
// variant, which has no length limits.
func renderText(t *testing.T, text string, vars map[string]any) (body, title, leaf string) {
	t.Helper()
	tpl := &Template{Name: "t", Variants: []Variant{
		{Channel: channels.Webhook, Title: text, Body: text, Extra: map[string]any{"v": []any{map[string]any{"s": text}}}},
	}}
	w, err := tpl.Render(channels.Webhook, vars)
	require.NoError(t, err)
	return w.Body, w.Title, w.Extra["v"].([]any)[0].(map[string]any)["s"].(string)
}

func TestRenderMatchesRegexpPath(t *testing.T) {
	t.Parallel()
	vars := map[string]any{
		"name": "Li Lei", "a": "A", "b": "B", "n": 12.5, "zero": 0.0, "big": 1e21, "i": 7, "ok": true,
		"num": json.Number("3.50"), "nil": nil, "名字": "韩梅梅", "a b": "spaced key", "": "empty key",
		"braces": "{{a}}", "ws": " \t ",
	}
	tests := []struct{ name, text string }{
		{"empty", ""},
		{"no placeholder", "hello"},
		{"one", "Hi {{name}}!"},
		{"spaces inside", "Hi {{ name }}!"},
		{"tabs and newlines inside", "Hi {{\tname\n}}!"},
		{"no-break space inside", "Hi {{\u00a0name\u00a0}}!"},
		{"adjacent", "{{a}}{{b}}{{a}}"},
		{"only a placeholder", "{{name}}"},
		{"unknown", "x{{nope}}y"},
		{"nil value", "x{{nil}}y"},
		{"empty name", "x{{}}y{{ }}z"},
		{"name with a space", "{{a b}}"},
		{"empty key", "{{ }}"},
		{"triple braces", "{{{a}}}"},
		{"quadruple braces", "{{{{a}}}}"},
		{"unclosed", "Hi {{name}"},
		{"unopened", "Hi name}}"},
		{"closing first", "}}{{a}}{{"},
		{"brace inside", "{{a}b}}{{b}}"},
		{"open brace inside", "{{a{b}}"},
		{"stray then real", "{{ {{a}}"},
		{"unicode around", "您好 {{name}}，您的订单 {{ n }} 元 😀"},
		{"unicode name", "{{名字}}, {{ 名字 }}"},
		{"numbers", "{{n}} {{zero}} {{big}} {{i}} {{num}} {{ok}}"},
		{"a value holding a placeholder stays text", "[{{braces}}]"},
		{"a whitespace value", "[{{ws}}]"},
		{"multi-line", "line 1 {{a}}\nline 2 {{b}}\r\n{{name}}"},
		{"go template action", `{{ printf "%s" .name }} {{.}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := regexpFill(tt.text, vars)
			body, title, leaf := renderText(t, tt.text, vars)
			require.Equal(t, want, body, "body")
			require.Equal(t, want, title, "title")
			require.Equal(t, want, leaf, "extra")
		})
	}
}

// FuzzRenderMatchesRegexpPath checks the compiled renderer against regexpFill on any text;
// `go test` runs the seeds, `go test -fuzz FuzzRender ./content/` explores.
func FuzzRenderMatchesRegexpPath(f *testing.F) {
	for _, s := range []string{"", "{{a}}", "{{ a }}{{b}}", "{{{a}}}", "}}{{", "{{a}b}}", "中{{ 名 }}文", "{{\u3000a}}", "{{\xff}}"} {
		f.Add(s, "v")
	}
	f.Fuzz(func(t *testing.T, text, val string) {
		vars := map[string]any{"a": val, "b": 2.25, "名": val, "": val}
		body, _, _ := renderText(t, text, vars)
		require.Equal(t, regexpFill(text, vars), body)
	})
}

func TestRenderEscapesHTMLInEmailBodyOnly(t *testing.T) {
	t.Parallel()
	const attack = `<script>alert(1)</script><img src=x onerror="alert('x')">&`
	const escaped = `&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(&#39;x&#39;)&#34;&gt;&amp;`
	vars := map[string]any{"name": attack, "n": 3.5}
	tpl := &Template{Name: "t", Variables: []Variable{{Name: "name", Type: TypeString}, {Name: "n", Type: TypeNumber}}, Variants: []Variant{
		{Channel: channels.Email, Title: "Hi {{name}}", Body: "<p>Dear {{name}}, you owe {{n}}.</p>"},
		{Channel: channels.SMS, Title: "Hi {{name}}", Body: "Dear {{name}}"},
		{Channel: channels.Webhook, Title: "Hi {{name}}", Body: "Dear {{name}}", Extra: map[string]any{"payload": map[string]any{"name": "{{name}}"}}},
		{Channel: channels.DingTalk, Title: "Hi {{name}}", Body: "Dear {{name}}", Extra: map[string]any{"msgType": "markdown"}},
	}}

	r, err := tpl.Render(channels.Email, vars)
	require.NoError(t, err)
	require.Equal(t, "<p>Dear "+escaped+", you owe 3.5.</p>", r.Body, "values are escaped into the HTML")
	require.NotContains(t, r.Body, "<script>")
	require.Equal(t, "Hi "+attack, r.Title, "the subject is not HTML")
	require.Equal(t, "Dear "+attack+", you owe 3.5.", r.Extra["text"], "the plain-text part is not HTML")

	for _, ch := range []channels.Channel{channels.SMS, channels.Webhook, channels.DingTalk} {
		r, err := tpl.Render(ch, vars)
		require.NoError(t, err)
		require.Equal(t, "Dear "+attack, r.Body, "%s gets raw text", ch)
		require.Equal(t, "Hi "+attack, r.Title, "%s gets raw text", ch)
	}
	r, err = tpl.Render(channels.Webhook, vars)
	require.NoError(t, err)
	require.Equal(t, attack, r.Extra["payload"].(map[string]any)["name"])
}

func TestRenderEmailPlainText(t *testing.T) {
	t.Parallel()
	vars := map[string]any{"name": "Ada  <Lovelace>", "code": "SO-42", "url": "https://x.example.com/o"}
	tests := []struct {
		name  string
		body  string
		extra map[string]any
		want  string
	}{
		{"tags stripped, source line breaks are spaces as in HTML", "<p>Hello   <b>{{name}}</b>,\n\n  your order\t<i>{{code}}</i> shipped.</p>",
			nil, "Hello Ada  <Lovelace>, your order SO-42 shipped."},
		{"block elements break lines", "<h1>Hi</h1><div>one</div><ul><li>a</li><li>b</li></ul>line<br>next<br/>last",
			nil, "Hi\none\na\nb\nline\nnext\nlast"},
		{"cells spaced", "<table><tr><td>Order</td><td>{{code}}</td></tr><tr><th>Total</th><td>9</td></tr></table>",
			nil, "Order SO-42\nTotal 9"},
		{"script, style, head and comments dropped", `<html><head><title>T</title><style>p{color:red}</style></head><body>` +
			`<script>var x = "<p>{{name}}</p>";</script><!-- {{code}} -->Hi {{name}}</body></html>`, nil, "Hi Ada  <Lovelace>"},
		{"script closed in upper case", "<SCRIPT>x()</SCRIPT>after", nil, "after"},
		{"script holding letters that change length in lower case", "<script>var s = 'İSTANBUL';</SCRIPT>after {{code}}", nil, "after SO-42"},
		{"placeholders inside tags dropped", `<a href="{{url}}" title='a > b'>track {{code}}</a>`, nil, "track SO-42"},
		{"entities decoded", "Tom &amp; Jerry &lt;3 &quot;{{code}}&quot; &#x4F60;&#22909;", nil, `Tom & Jerry <3 "SO-42" 你好`},
		{"a lone < is text", "1 < 2 and {{code}}", nil, "1 < 2 and SO-42"},
		{"doctype dropped", "<!DOCTYPE html><p>x</p>", nil, "x"},
		{"plain text body", "Hello {{name}}", nil, "Hello Ada  <Lovelace>"},
		{"explicit text kept", "<p>Hello {{name}}</p>", map[string]any{"text": "Hi {{name}}, see {{url}}"}, "Hi Ada  <Lovelace>, see https://x.example.com/o"},
		{"null text derived", "<p>Hello {{code}}</p>", map[string]any{"text": nil}, "Hello SO-42"},
		{"other extra kept alongside", "<p>{{code}}</p>", map[string]any{"tag": "receipt"}, "SO-42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tpl := &Template{Name: "t", Variants: []Variant{{Channel: channels.Email, Title: "s", Body: tt.body, Extra: tt.extra}}}
			r, err := tpl.Render(channels.Email, vars)
			require.NoError(t, err)
			require.Equal(t, tt.want, r.Extra["text"])
			for k, v := range tt.extra {
				if k != "text" {
					require.Equal(t, v, r.Extra[k])
				}
			}
		})
	}
}

func TestRenderLengthLimits(t *testing.T) {
	t.Parallel()
	type extra = map[string]any
	tests := []struct {
		name      string
		variant   Variant
		value     string // the value of {{v}}
		wantField string // empty: renders
		wantLen   int
		wantMax   int
	}{
		{"push title at 50", Variant{Channel: channels.AppPush, Title: "{{v}}", Body: "b"}, strings.Repeat("字", 50), "", 0, 0},
		{"push title over 50", Variant{Channel: channels.AppPush, Title: "Hi {{v}}", Body: "b"}, strings.Repeat("字", 48), "title", 51, 50},
		{"push body over 256", Variant{Channel: channels.AppPush, Body: "{{v}}"}, strings.Repeat("a", 257), "body", 257, 256},
		{"sms body at 500", Variant{Channel: channels.SMS, Body: "{{v}}"}, strings.Repeat("短", 500), "", 0, 0},
		{"sms body over 500", Variant{Channel: channels.SMS, Body: "{{v}}!"}, strings.Repeat("短", 500), "body", 501, 500},
		{"sms sign over 12", Variant{Channel: channels.SMS, Body: "b", Extra: extra{"sign": "{{v}}"}}, "一二三四五六七八九十一二三", "extra.sign", 13, 12},
		{"voice script over 300", Variant{Channel: channels.Voice, Body: "{{v}}"}, strings.Repeat("语", 301), "body", 301, 300},
		{"rcs body over 1000", Variant{Channel: channels.RCS, Body: "{{v}}"}, strings.Repeat("r", 1001), "body", 1001, 1000},
		{"email subject over 200", Variant{Channel: channels.Email, Title: "{{v}}", Body: "b"}, strings.Repeat("s", 201), "title", 201, 200},
		{"email body has no limit", Variant{Channel: channels.Email, Title: "s", Body: "{{v}}"}, strings.Repeat("<", 10000), "", 0, 0},
		{"webhook has no limit", Variant{Channel: channels.Webhook, Title: "{{v}}", Body: "{{v}}"}, strings.Repeat("w", 10000), "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tpl := &Template{Name: "t", Variants: []Variant{tt.variant}}
			r, err := tpl.Render(tt.variant.Channel, map[string]any{"v": tt.value})
			if tt.wantField == "" {
				require.NoError(t, err)
				require.NotNil(t, r)
				return
			}
			require.Nil(t, r)
			var tl *TooLongError
			require.True(t, errors.As(err, &tl), "%v is not a *TooLongError", err)
			require.Equal(t, &TooLongError{Channel: tt.variant.Channel, Field: tt.wantField, Length: tt.wantLen, Max: tt.wantMax}, tl)
			require.Equal(t, fmt.Sprintf("%s is %d characters; at most %d", tt.wantField, tt.wantLen, tt.wantMax), err.Error())
		})
	}
}

func TestRenderSMSSegments(t *testing.T) {
	t.Parallel()
	tpl := &Template{Name: "t", Variants: []Variant{
		{Channel: channels.SMS, Body: "{{v}}"},
		{Channel: channels.Voice, Body: "{{v}}"},
	}}
	tests := []struct {
		value string
		want  int
	}{
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("中", 70), 1},
		{strings.Repeat("中", 71), 2},
	}
	for _, tt := range tests {
		r, err := tpl.Render(channels.SMS, map[string]any{"v": tt.value})
		require.NoError(t, err)
		require.Equal(t, tt.want, r.Segments, "%d characters", len([]rune(tt.value)))
		v, err := tpl.Render(channels.Voice, map[string]any{"v": tt.value})
		require.NoError(t, err)
		require.Zero(t, v.Segments, "segments are counted for SMS only")
	}
}

// TestRenderConcurrently renders one template version from many goroutines, as the
// dispatch workers do with a cached version; `go test -race` checks the compilation.
func TestRenderConcurrently(t *testing.T) {
	t.Parallel()
	tpl := &Template{Name: "t", Variants: []Variant{
		{Channel: channels.Email, Title: "Hi {{name}}", Body: "<p>{{name}} {{n}}</p>"},
		{Channel: channels.Webhook, Body: "b", Extra: map[string]any{"payload": map[string]any{"u": "{{name}}", "k": "const"}}},
	}}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			name := fmt.Sprintf("<u%d>", i)
			for range 50 {
				r, err := tpl.Render(channels.Email, map[string]any{"name": name, "n": float64(i)})
				require.NoError(t, err)
				require.Equal(t, fmt.Sprintf("<p>&lt;u%d&gt; %d</p>", i, i), r.Body)
				w, err := tpl.Render(channels.Webhook, map[string]any{"name": name})
				require.NoError(t, err)
				require.Equal(t, map[string]any{"payload": map[string]any{"u": name, "k": "const"}}, w.Extra)
			}
		})
	}
	wg.Wait()
}

func TestRenderExtraWithoutPlaceholdersIsBuiltOnce(t *testing.T) {
	t.Parallel()
	tpl := &Template{Name: "t", Variants: []Variant{{Channel: channels.SMS, Body: "{{v}}", Extra: map[string]any{"sign": "Herald"}}}}
	a, err := tpl.Render(channels.SMS, map[string]any{"v": "1"})
	require.NoError(t, err)
	b, err := tpl.Render(channels.SMS, map[string]any{"v": "2"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"sign": "Herald"}, a.Extra)
	require.Equal(t, fmt.Sprintf("%p", a.Extra), fmt.Sprintf("%p", b.Extra), "a constant extra is shared, not copied per render")
	require.NotEqual(t, fmt.Sprintf("%p", tpl.Variants[0].Extra), fmt.Sprintf("%p", a.Extra), "but it is not the template's own map")
}

// FuzzRenderEmail checks that an EMAIL body is the regexp path's output with every value
// HTML-escaped, whatever the HTML and the value, and that deriving the plain text never
// fails.
func FuzzRenderEmail(f *testing.F) {
	for _, s := range []string{"<p>{{a}}</p>", "<a href='{{a}}'>{{b}}</a>", "<script>{{a}}", "<!-- {{a}}", "&amp;{{a}}&lt;", "<{{a}}>"} {
		f.Add(s, `<script>"'&`)
	}
	f.Fuzz(func(t *testing.T, body, val string) {
		tpl := &Template{Name: "t", Variants: []Variant{{Channel: channels.Email, Title: "s", Body: body}}}
		r, err := tpl.Render(channels.Email, map[string]any{"a": val, "b": 1.5})
		require.NoError(t, err)
		require.Equal(t, regexpFill(body, map[string]any{"a": html.EscapeString(val), "b": 1.5}), r.Body)
		require.IsType(t, "", r.Extra["text"])
	})
}
