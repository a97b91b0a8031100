package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/rule"
)

// DemoApp is the name of the app HERALD_DEMO creates.
const DemoApp = "Demo"

// seedDemo creates the demo app with users whose addresses reach the simulator, a template,
// a rule and a fresh API key, and prints how to use them.
func (h *Herald) seedDemo(ctx context.Context) error {
	ctx = account.WithPrincipal(ctx, &account.Principal{Email: "demo", Role: account.Admin, AllApps: true})
	var appID int64
	err := h.DB.Core.QueryRowContext(ctx, "SELECT id FROM apps WHERE name = ?", DemoApp).Scan(&appID)
	if err != nil {
		a, err := h.Accounts.CreateApp(ctx, DemoApp)
		if err != nil {
			return err
		}
		appID = a.ID
	}
	simBase := "http://127.0.0.1:8090"
	for _, part := range splitList(h.cfg.Providers) {
		if v, ok := strings.CutPrefix(part, "sim="); ok {
			simBase = strings.TrimRight(v, "/")
		}
	}
	users := []audience.UserInput{
		{ID: "alice", Attributes: map[string]any{"name": "Alice", "city": "杭州"}, Tags: []string{"vip"},
			Identities: []audience.Identity{{Channel: channels.SMS, Address: "+8613800138001"}, {Channel: channels.Webhook, Address: simBase + "/webhook/alice"}}},
		{ID: "bob", Attributes: map[string]any{"name": "Bob", "city": "上海"},
			Identities: []audience.Identity{{Channel: channels.SMS, Address: "+8613800138002"}}},
		{ID: "carol", Attributes: map[string]any{"name": "Carol"},
			Identities: []audience.Identity{{Channel: channels.SMS, Address: "+8613800130000"}, {Channel: channels.Webhook, Address: simBase + "/webhook/carol-fail"}}},
	}
	if _, _, err := h.Audience.Upsert(ctx, appID, users); err != nil {
		return err
	}
	tplID, err := h.demoTemplate(ctx, appID)
	if err != nil {
		return err
	}
	ruleID, err := h.demoRule(ctx, appID)
	if err != nil {
		return err
	}
	if _, err := h.DB.Core.ExecContext(ctx, "UPDATE api_keys SET revoked_at = NOW(3) WHERE app_id = ? AND created_by = 'demo' AND revoked_at IS NULL", appID); err != nil {
		return err
	}
	key, err := h.Accounts.CreateAPIKey(ctx, appID, account.Operator)
	if err != nil {
		return err
	}
	admin := h.cfg.AdminEmail
	if admin == "" {
		admin = "(set HERALD_ADMIN_EMAIL and HERALD_ADMIN_PASSWORD to create one)"
	}
	fmt.Printf(`
  Herald demo
  ───────────
  console     %s   (admin: %s  password: %s)
  app         %s (id %d)
  API key     %s   (OPERATOR; a new one on every start)
  template %d (SMS + WEBHOOK), rule %d (CONCURRENT SMS + WEBHOOK); users alice, bob, carol

  Send a message:
    curl -s %s/graphql -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
      -d '{"query":"mutation{send(input:{appId:\"%d\",templateId:\"%d\",ruleId:\"%d\",userIds:[\"alice\",\"bob\"],variables:{name:\"Alice\",code:\"123456\"}}){task{id status} messages{id userId channel status} rejected{userId reason}}}"}'

`, h.cfg.PublicURL, admin, maskedPassword(h.cfg.AdminPassword), DemoApp, appID, key.Secret, tplID, ruleID, h.cfg.PublicURL, key.Secret, appID, tplID, ruleID)
	return nil
}

func maskedPassword(p string) string {
	if p == "" {
		return "-"
	}
	return p
}

func (h *Herald) demoTemplate(ctx context.Context, appID int64) (int64, error) {
	in := content.Input{AppID: appID, Name: "verification-code",
		Variables: []content.Variable{{Name: "name", Type: content.TypeString}, {Name: "code", Type: content.TypeString, Required: true}},
		Variants: []content.Variant{
			{Channel: channels.SMS, Body: "{{name}}，您的验证码是 {{code}}，5 分钟内有效。", Extra: map[string]any{"sign": "Herald"}},
			{Channel: channels.Webhook, Title: "Verification code", Body: "Hello {{name}}, your code is {{code}}.", Extra: map[string]any{"payload": map[string]any{"code": "{{code}}"}}},
		}}
	t, err := h.Content.Create(ctx, in)
	if fault.CodeOf(err) == fault.CodeConflict {
		var id int64
		err = h.DB.Core.QueryRowContext(ctx, "SELECT id FROM templates WHERE app_id = ? AND name = ?", appID, in.Name).Scan(&id)
		return id, err
	}
	if err != nil {
		return 0, err
	}
	return t.ID, nil
}

func (h *Herald) demoRule(ctx context.Context, appID int64) (int64, error) {
	in := rule.Input{AppID: appID, Name: "sms-and-webhook", Routes: []rule.Route{{Strategy: rule.Concurrent, Channels: []channels.Channel{channels.SMS, channels.Webhook}}}}
	r, err := h.Rules.Create(ctx, in)
	if fault.CodeOf(err) == fault.CodeConflict {
		var id int64
		err = h.DB.Core.QueryRowContext(ctx, "SELECT id FROM rules WHERE app_id = ? AND name = ?", appID, in.Name).Scan(&id)
		return id, err
	}
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}
