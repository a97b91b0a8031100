package content_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/rule"
)

// benchTemplate is an order notice as a shop would write it: an SMS variant with three
// variables, an EMAIL variant whose HTML receives a hostile name, and a WEBHOOK payload.
func benchTemplate() *content.Template {
	return &content.Template{
		Name: "order shipped",
		Variables: []content.Variable{
			{Name: "name", Type: content.TypeString, Required: true},
			{Name: "order", Type: content.TypeString, Required: true},
			{Name: "amount", Type: content.TypeNumber},
		},
		Variants: []content.Variant{
			{Channel: channels.SMS, Body: "{{name}}，您的订单 {{order}} 已发货，金额 {{amount}} 元，请注意查收。", Extra: map[string]any{"sign": "Herald"}},
			{Channel: channels.Email, Title: "Order {{order}} has shipped, {{name}}", Body: `<html><body>
<h1>Hello {{name}},</h1>
<p>Your order <b>{{order}}</b> has shipped. The amount charged is <b>{{amount}}</b> CNY.</p>
<p>Track it at <a href="https://shop.example.com/orders/{{order}}">your orders page</a>.</p>
<p>Thank you for shopping with us.</p>
</body></html>`},
			{Channel: channels.Webhook, Title: "order shipped", Body: "{{name}}: {{order}}", Extra: map[string]any{"payload": map[string]any{
				"event":  "order.shipped",
				"user":   "{{name}}",
				"order":  "{{order}}",
				"amount": "{{amount}}",
				"meta":   map[string]any{"source": "herald", "version": 2.0},
			}}},
		},
	}
}

func benchVars() map[string]any {
	return map[string]any{"name": "<script>alert(1)</script>", "order": "SO-20250301-0042", "amount": 128.5}
}

// benchRender renders ch of benchTemplate once per iteration.
func benchRender(b *testing.B, ch channels.Channel) {
	tpl, vars := benchTemplate(), benchVars()
	_, err := tpl.Render(ch, vars)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(ch, vars); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderSMS renders a Chinese SMS with three variables and counts its segments.
func BenchmarkRenderSMS(b *testing.B) { benchRender(b, channels.SMS) }

// BenchmarkRenderEmail renders an HTML email, escaping the variables into the body and
// deriving the plain-text part.
func BenchmarkRenderEmail(b *testing.B) { benchRender(b, channels.Email) }

// BenchmarkRenderWebhook renders a webhook with a JSON payload of placeholders.
func BenchmarkRenderWebhook(b *testing.B) { benchRender(b, channels.Webhook) }

// BenchmarkRenderAndMatch is the per-user hot path of dispatch: build the rule environment
// from the user's attributes and the send's variables (as dispatch.routeEnv does), pick the
// route with a compiled condition, and render the SMS variant.
func BenchmarkRenderAndMatch(b *testing.B) {
	tpl, vars := benchTemplate(), benchVars()
	vars["amount"] = 128.5
	rl := &rule.Rule{Name: "vip first", Variables: []rule.Variable{{Name: "amount", Type: "number"}}, Routes: []rule.Route{
		{When: "user.vip == true && amount > 100", Strategy: rule.Concurrent, Channels: []channels.Channel{channels.SMS}},
		{Strategy: rule.Concurrent, Channels: []channels.Channel{channels.Email}},
	}}
	require.NoError(b, rl.Compile())
	attrs := map[string]any{"vip": true, "city": "Hangzhou", "level": 3.0}
	routeEnv := func() map[string]any {
		env := make(map[string]any, len(vars)+len(attrs)+1)
		for k, v := range attrs {
			env[k] = v
		}
		for k, v := range vars {
			env[k] = v
		}
		env["user"] = attrs
		return env
	}
	require.Equal(b, 0, rl.Match(routeEnv()), "the VIP route matches")

	b.Run("env+match+render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rl.Match(routeEnv()) != 0 {
				b.Fatal("the VIP route did not match")
			}
			if _, err := tpl.Render(channels.SMS, vars); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The environment built once, as a caller that reuses it per user would.
	env := routeEnv()
	b.Run("match+render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if rl.Match(env) != 0 {
				b.Fatal("the VIP route did not match")
			}
			if _, err := tpl.Render(channels.SMS, vars); err != nil {
				b.Fatal(err)
			}
		}
	})
}
