package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/rule"
)

// DemoApp is the name of the app HERALD_DEMO creates.
const DemoApp = "Demo"

// Names of the demo's templates and rules, one of each per delivery paradigm.
const (
	DemoConcurrentTemplate   = "demo-service-notice"
	DemoFallbackTemplate     = "demo-order-shipped"
	DemoDistributionTemplate = "demo-payment-alert"
	DemoConcurrentRule       = "demo-all-channels"
	DemoFallbackRule         = "demo-push-then-sms"
	DemoDistributionRule     = "demo-amount-routing"
)

// Demo is what the demo seed created or found, and the API key it made.
type Demo struct {
	AppID int64
	// SimURL is the simulator's base URL, which the demo's webhook addresses point at.
	SimURL string
	// Key is the secret of the OPERATOR key made by this seed; the previous one is revoked.
	Key string
	// Users are the demo users as seeded, in print order.
	Users []audience.UserInput
	// Templates and Rules map the names above to their ids.
	Templates map[string]int64
	Rules     map[string]int64
}

// seedDemo seeds the demo and prints how to use it.
func (h *Herald) seedDemo(ctx context.Context) error {
	d, err := h.SeedDemo(ctx)
	if err != nil {
		return err
	}
	h.printDemo(os.Stdout, d)
	return nil
}

// SeedDemo creates what is missing of the demo app: users with an address on every channel
// (and a few at the simulator's test addresses), a template and a rule per delivery paradigm.
// What exists already is left as it is, so seeding again changes nothing but the API key:
// the previous demo key is revoked and a new one made, since only a new key can be shown.
func (h *Herald) SeedDemo(ctx context.Context) (*Demo, error) {
	ctx = account.WithPrincipal(ctx, &account.Principal{Email: "demo", Role: account.Admin, AllApps: true})
	d := &Demo{Templates: map[string]int64{}, Rules: map[string]int64{}}
	err := h.DB.Core.QueryRowContext(ctx, h.DB.Dialect.Rebind("SELECT id FROM apps WHERE name = ?"), DemoApp).Scan(&d.AppID)
	if errors.Is(err, sql.ErrNoRows) {
		a, err := h.Accounts.CreateApp(ctx, DemoApp)
		if err != nil {
			return nil, err
		}
		d.AppID = a.ID
	} else if err != nil {
		return nil, fmt.Errorf("error reading the demo app: %w", err)
	}
	d.SimURL = "http://127.0.0.1:8090"
	for _, part := range splitList(h.cfg.Providers) {
		if v, ok := strings.CutPrefix(part, "sim="); ok {
			d.SimURL = strings.TrimRight(v, "/")
		}
	}
	d.Users = demoUsers(d.SimURL)
	if err := h.demoUpsertMissing(ctx, d.AppID, d.Users); err != nil {
		return nil, err
	}
	for _, in := range demoTemplates(d.AppID) {
		id, err := h.demoTemplate(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", in.Name, err)
		}
		d.Templates[in.Name] = id
	}
	for _, in := range demoRules(d.AppID) {
		id, err := h.demoRule(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", in.Name, err)
		}
		d.Rules[in.Name] = id
	}
	if _, err := h.DB.Core.ExecContext(ctx, h.DB.Dialect.Rebind("UPDATE api_keys SET revoked_at = ? WHERE app_id = ? AND created_by = 'demo' AND revoked_at IS NULL"),
		time.Now().UTC().Truncate(time.Millisecond), d.AppID); err != nil {
		return nil, fmt.Errorf("error revoking the previous demo key: %w", err)
	}
	key, err := h.Accounts.CreateAPIKey(ctx, d.AppID, account.Operator)
	if err != nil {
		return nil, err
	}
	d.Key = key.Secret
	return d, nil
}

// demoUsers are the demo's users. The first three have an ordinary address on every channel;
// the others sit on the simulator's test addresses (API.md) and are named after what they show.
func demoUsers(simBase string) []audience.UserInput {
	everywhere := func(id, name, phone string) audience.UserInput {
		return audience.UserInput{ID: id, Attributes: map[string]any{"name": name},
			Identities: []audience.Identity{
				{Channel: channels.AppPush, Address: "demo-device-" + id},
				{Channel: channels.SMS, Address: phone},
				{Channel: channels.WeChat, Address: "oDemo-" + id},
				{Channel: channels.DingTalk, Address: "demo." + id},
				{Channel: channels.Voice, Address: phone},
				{Channel: channels.RCS, Address: phone},
				{Channel: channels.Email, Address: id + "@example.com"},
				{Channel: channels.Webhook, Address: simBase + "/webhook/" + id},
			}}
	}
	phoneOnly := func(id, phone string) audience.UserInput {
		return audience.UserInput{ID: id, Attributes: map[string]any{"name": id},
			Identities: []audience.Identity{{Channel: channels.SMS, Address: phone}, {Channel: channels.Voice, Address: phone}, {Channel: channels.RCS, Address: phone}}}
	}
	alice := everywhere("alice", "Alice", "+8613800138001")
	alice.Attributes["city"], alice.Tags = "杭州", []string{"vip"}
	bob := everywhere("bob", "Bob", "+8613800138002")
	bob.Attributes["city"] = "上海"
	return []audience.UserInput{
		alice, bob, everywhere("wang-fang", "王芳", "+8613800138003"),
		// Rejected by the vendor (phone ending in 0000).
		phoneOnly("demo-fail-phone", "+8613800130000"),
		// Accepted, never delivered (1111).
		phoneOnly("demo-silent-phone", "+8613800131111"),
		// Delivered after 10 s (2222).
		phoneOnly("demo-slow-phone", "+8613800132222"),
		// Its push is never delivered, so the FALLBACK rule texts it 30 s later.
		{ID: "demo-silent-push", Attributes: map[string]any{"name": "demo-silent-push"},
			Identities: []audience.Identity{{Channel: channels.AppPush, Address: "demo-device-silent"}, {Channel: channels.SMS, Address: "+8613800138004"}}},
	}
}

// demoUpsertMissing upserts the users that do not exist yet or lack one of their demo
// addresses; users already as seeded are not written again.
func (h *Herald) demoUpsertMissing(ctx context.Context, appID int64, users []audience.UserInput) error {
	var todo []audience.UserInput
	for _, u := range users {
		have := map[string]bool{}
		rows, err := h.DB.Core.QueryContext(ctx, h.DB.Dialect.Rebind(`SELECT i.channel, i.address FROM user_identities ui
			JOIN identities i ON i.id = ui.identity_id WHERE ui.app_id = ? AND ui.user_id = ?`), appID, u.ID)
		if err != nil {
			return fmt.Errorf("error reading the demo users: %w", err)
		}
		for rows.Next() {
			var ch, addr string
			if err := rows.Scan(&ch, &addr); err != nil {
				rows.Close()
				return fmt.Errorf("error reading the demo users: %w", err)
			}
			have[ch+" "+addr] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("error reading the demo users: %w", err)
		}
		for _, idn := range u.Identities {
			addr, err := audience.NormalizeAddress(idn.Channel, idn.Address)
			if err != nil {
				return fmt.Errorf("demo user %s: %w", u.ID, err)
			}
			if !have[string(idn.Channel)+" "+addr] {
				todo = append(todo, u)
				break
			}
		}
	}
	if len(todo) == 0 {
		return nil
	}
	_, _, err := h.Audience.Upsert(ctx, appID, todo)
	return err
}

// demoTemplates are the demo's templates, each with a variant on every channel.
func demoTemplates(appID int64) []content.Input {
	str := func(name string) content.Variable {
		return content.Variable{Name: name, Type: content.TypeString, Required: true}
	}
	return []content.Input{
		{AppID: appID, Name: DemoConcurrentTemplate, Variables: []content.Variable{str("service"), str("time")},
			Variants: []content.Variant{
				{Channel: channels.AppPush, Title: "Planned maintenance", Body: "{{service}} is unavailable {{time}}.",
					Extra: map[string]any{"payload": map[string]any{"service": "{{service}}"}}},
				{Channel: channels.SMS, Body: "{{service}} 将于 {{time}} 停机维护，请提前安排。", Extra: map[string]any{"sign": "Herald"}},
				{Channel: channels.WeChat, Body: "{{service}} maintenance {{time}}",
					Extra: map[string]any{"templateId": "DEMO_MAINTENANCE", "data": map[string]any{"thing1": "{{service}}", "time2": "{{time}}"}}},
				{Channel: channels.DingTalk, Title: "Planned maintenance", Body: "### {{service}}\n\nUnavailable {{time}}.",
					Extra: map[string]any{"msgType": "markdown"}},
				{Channel: channels.Voice, Body: "您好，{{service}} 将于 {{time}} 停机维护。"},
				{Channel: channels.RCS, Body: "{{service}} is unavailable {{time}}.",
					Extra: map[string]any{"card": map[string]any{"title": "Planned maintenance", "description": "{{service}} is unavailable {{time}}."}}},
				{Channel: channels.Email, Title: "Planned maintenance: {{service}}",
					Body: "<p>{{service}} is unavailable <b>{{time}}</b>.</p><p>We are sorry for the inconvenience.</p>"},
				{Channel: channels.Webhook, Title: "service.maintenance", Body: "{{service}}: {{time}}",
					Extra: map[string]any{"payload": map[string]any{"event": "service.maintenance", "service": "{{service}}", "time": "{{time}}"}}},
			}},
		{AppID: appID, Name: DemoFallbackTemplate, Variables: []content.Variable{str("name"), str("order")},
			Variants: []content.Variant{
				{Channel: channels.AppPush, Title: "Parcel for {{name}}", Body: "Order {{order}} is on its way.",
					Extra: map[string]any{"payload": map[string]any{"orderId": "{{order}}"}, "clickAction": "url", "url": "https://shop.example.com/orders/{{order}}"}},
				{Channel: channels.SMS, Body: "{{name}}，您的订单 {{order}} 已发货。", Extra: map[string]any{"sign": "Herald"}},
				{Channel: channels.WeChat, Body: "{{name}}, order {{order}} has shipped.",
					Extra: map[string]any{"templateId": "DEMO_ORDER_SHIPPED", "data": map[string]any{"thing1": "{{name}}", "character_string2": "{{order}}"}}},
				{Channel: channels.DingTalk, Title: "Order {{order}} shipped", Body: "### Order {{order}}\n\n{{name}}, it has shipped.",
					Extra: map[string]any{"msgType": "markdown"}},
				{Channel: channels.Voice, Body: "{{name}}，您的订单 {{order}} 已发货。"},
				{Channel: channels.RCS, Body: "{{name}}, order {{order}} has shipped: https://shop.example.com/orders/{{order}}",
					Extra: map[string]any{"card": map[string]any{"title": "Order {{order}} shipped", "description": "Hi {{name}}, it is on its way.",
						"suggestions": []any{map[string]any{"text": "Track", "url": "https://shop.example.com/orders/{{order}}"}}}}},
				{Channel: channels.Email, Title: "Order {{order}} has shipped",
					Body: "<p>Hello {{name}},</p><p>Your order <b>{{order}}</b> has shipped.</p>"},
				{Channel: channels.Webhook, Title: "order.shipped", Body: "{{name}}: {{order}}",
					Extra: map[string]any{"payload": map[string]any{"event": "order.shipped", "order": "{{order}}", "customer": map[string]any{"name": "{{name}}"}}}},
			}},
		{AppID: appID, Name: DemoDistributionTemplate,
			Variables: []content.Variable{{Name: "amount", Type: content.TypeNumber, Required: true}, str("merchant")},
			Variants: []content.Variant{
				{Channel: channels.AppPush, Title: "Card payment", Body: "{{amount}} CNY at {{merchant}}.",
					Extra: map[string]any{"payload": map[string]any{"amount": "{{amount}}"}}},
				{Channel: channels.SMS, Body: "您的信用卡在 {{merchant}} 消费 {{amount}} 元。", Extra: map[string]any{"sign": "Herald"}},
				{Channel: channels.WeChat, Body: "{{amount}} CNY at {{merchant}}",
					Extra: map[string]any{"templateId": "DEMO_CARD_PAYMENT", "data": map[string]any{"amount1": "{{amount}}", "thing2": "{{merchant}}"}}},
				{Channel: channels.DingTalk, Body: "Card payment: {{amount}} CNY at {{merchant}}."},
				{Channel: channels.Voice, Body: "您的信用卡在 {{merchant}} 消费 {{amount}} 元。"},
				{Channel: channels.RCS, Body: "Card payment: {{amount}} CNY at {{merchant}}.",
					Extra: map[string]any{"card": map[string]any{"title": "Card payment", "description": "{{amount}} CNY at {{merchant}}."}}},
				{Channel: channels.Email, Title: "Card payment of {{amount}} CNY",
					Body: "<p>Your card paid <b>{{amount}} CNY</b> at {{merchant}}.</p>"},
				{Channel: channels.Webhook, Title: "card.payment", Body: "{{amount}} at {{merchant}}",
					Extra: map[string]any{"payload": map[string]any{"event": "card.payment", "amount": "{{amount}}", "merchant": "{{merchant}}"}}},
			}},
	}
}

// demoRules are the demo's rules, one per delivery paradigm.
func demoRules(appID int64) []rule.Input {
	return []rule.Input{
		{AppID: appID, Name: DemoConcurrentRule, Routes: []rule.Route{{Strategy: rule.Concurrent, Channels: slices.Clone(channels.All)}}},
		{AppID: appID, Name: DemoFallbackRule, Routes: []rule.Route{{Strategy: rule.Fallback,
			Channels: []channels.Channel{channels.AppPush, channels.SMS}, FallbackAfter: 30 * time.Second, Until: rule.MilestoneDelivered}}},
		{AppID: appID, Name: DemoDistributionRule, Variables: []rule.Variable{{Name: "amount", Type: "number"}},
			Routes: []rule.Route{
				{When: "amount < 200", Strategy: rule.Concurrent, Channels: []channels.Channel{channels.WeChat}},
				{Strategy: rule.Concurrent, Channels: []channels.Channel{channels.SMS}},
			}},
	}
}

// demoTemplate creates the template unless one of its name exists, and returns its id.
func (h *Herald) demoTemplate(ctx context.Context, in content.Input) (int64, error) {
	t, err := h.Content.Create(ctx, in)
	if fault.CodeOf(err) == fault.CodeConflict {
		var id int64
		err = h.DB.Core.QueryRowContext(ctx, h.DB.Dialect.Rebind("SELECT id FROM templates WHERE app_id = ? AND name = ?"), in.AppID, in.Name).Scan(&id)
		return id, err
	}
	if err != nil {
		return 0, err
	}
	return t.ID, nil
}

// demoRule creates the rule unless one of its name exists, and returns its id.
func (h *Herald) demoRule(ctx context.Context, in rule.Input) (int64, error) {
	r, err := h.Rules.Create(ctx, in)
	if fault.CodeOf(err) == fault.CodeConflict {
		var id int64
		err = h.DB.Core.QueryRowContext(ctx, h.DB.Dialect.Rebind("SELECT id FROM rules WHERE app_id = ? AND name = ?"), in.AppID, in.Name).Scan(&id)
		return id, err
	}
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

// printDemo writes the demo's data and ready-to-paste send commands.
func (h *Herald) printDemo(w io.Writer, d *Demo) {
	admin := h.cfg.AdminEmail
	if admin == "" {
		admin = "(set HERALD_ADMIN_EMAIL and HERALD_ADMIN_PASSWORD to create one)"
	}
	send := func(tpl, rl, users, vars string) string {
		return fmt.Sprintf(`curl -s %s/graphql -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
      -d '{"query":"mutation{send(input:{appId:\"%d\",templateId:\"%d\",ruleId:\"%d\",userIds:[%s],variables:{%s}}){task{id status} messages{id userId channel status} rejected{userId reason}}}"}'`,
			h.cfg.PublicURL, d.Key, d.AppID, d.Templates[tpl], d.Rules[rl], users, vars)
	}
	var users strings.Builder
	for _, u := range d.Users {
		chs := make([]string, 0, len(u.Identities))
		for _, idn := range u.Identities {
			chs = append(chs, string(idn.Channel))
		}
		if len(u.Identities) == len(channels.All) {
			chs = []string{"every channel"}
		}
		fmt.Fprintf(&users, "    %-18s %s\n", u.ID, strings.Join(chs, " "))
	}
	fmt.Fprintf(w, `
  Herald demo
  ───────────
  console     %s   (admin: %s  password: %s)
  app         %s (id %d)
  API key     %s   (OPERATOR; a new one on every start)
  users (demo-fail-*, -silent-*, -slow-* sit on the simulator's failing, silent and slow test addresses)
%s
  CONCURRENT    template %d %s, rule %d %s: all eight channels at once
  FALLBACK      template %d %s, rule %d %s: APP_PUSH, then SMS after 30s if not delivered
  DISTRIBUTION  template %d %s, rule %d %s: amount < 200 on WECHAT, else SMS

  Send on all eight channels:
    %s

  Push first, SMS 30s later for demo-silent-push:
    %s

  By amount (WECHAT under 200, SMS from 200):
    %s

  What the simulated vendors received: curl -s %s/sim/stats

`, h.cfg.PublicURL, admin, maskedPassword(h.cfg.AdminPassword), DemoApp, d.AppID, d.Key, users.String(),
		d.Templates[DemoConcurrentTemplate], DemoConcurrentTemplate, d.Rules[DemoConcurrentRule], DemoConcurrentRule,
		d.Templates[DemoFallbackTemplate], DemoFallbackTemplate, d.Rules[DemoFallbackRule], DemoFallbackRule,
		d.Templates[DemoDistributionTemplate], DemoDistributionTemplate, d.Rules[DemoDistributionRule], DemoDistributionRule,
		send(DemoConcurrentTemplate, DemoConcurrentRule, `\"alice\",\"bob\",\"wang-fang\"`, `service:\"Mobile banking\",time:\"Sat 02:00-04:00\"`),
		send(DemoFallbackTemplate, DemoFallbackRule, `\"alice\",\"demo-silent-push\"`, `name:\"Alice\",order:\"A1024\"`),
		send(DemoDistributionTemplate, DemoDistributionRule, `\"alice\"`, `amount:128.5,merchant:\"Coffee Lab\"`),
		d.SimURL)
}

func maskedPassword(p string) string {
	if p == "" {
		return "-"
	}
	return p
}
