package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/server/servertest"
)

// setPrices replaces an app's settings with the defaults of the console and prices, and
// returns the errors of the mutation.
func setPrices(t *testing.T, env *servertest.Env, app servertest.App, prices []map[string]any) servertest.Errors {
	t.Helper()
	_, errs := env.Do(t, app.Key, `mutation($app: ID!, $prices: [ChannelPriceInput!]) { updateAppSettings(appId: $app, input: {timeZone: "Asia/Shanghai",
		quietHours: {enabled: false, start: "21:00", end: "08:00"}, frequencyCap: {max: 0, window: "1h"}, dedupeWindow: "0s",
		prices: $prices}) { id } }`, map[string]any{"app": app.ID, "prices": prices})
	return errs
}

// appPrices reads the prices an app's settings list.
func appPrices(t *testing.T, env *servertest.Env, app servertest.App) map[string]float64 {
	t.Helper()
	var out struct {
		Apps []struct {
			ID       string
			Settings struct {
				Prices []struct {
					Channel  string
					Provider *string
					Price    float64
				}
			}
		} `json:"apps"`
	}
	env.MustDo(t, app.Key, `{ apps { id settings { prices { channel provider price } } } }`, nil, &out)
	m := map[string]float64{}
	for _, a := range out.Apps {
		if a.ID != app.ID {
			continue
		}
		for _, p := range a.Settings.Prices {
			k := p.Channel
			if p.Provider != nil {
				k += "/" + *p.Provider
			}
			m[k] = p.Price
		}
	}
	require.NotEmpty(t, m, "app %s is listed", app.ID)
	return m
}

// A message is charged the price of the provider that took it: after a failover, the
// provider it failed over to. Bad prices are refused and change nothing.
func TestProviderPriceChargedAfterFailover(t *testing.T) {
	t.Parallel()
	_, flakySrv := simtest.StartSim(t, sim.Config{FailureRate: 1})
	env := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.ProviderAccounts = []providers.Account{smsAccount("flaky", flakySrv.URL, -1)}
	}))
	app := env.AdminKey(t, "ADMIN")
	require.Empty(t, setPrices(t, env, app, []map[string]any{
		{"channel": "SMS", "price": 0.05},
		{"channel": "SMS", "provider": "aliyun", "price": 0.03},
		{"channel": "SMS", "provider": "flaky", "price": 0.5},
	}))
	want := appPrices(t, env, app)
	require.InDelta(t, 0.03, want["SMS/aliyun"], 1e-9)
	require.InDelta(t, 0.05, want["SMS"], 1e-9)

	for _, bad := range []struct {
		prices []map[string]any
		field  string
	}{
		{[]map[string]any{{"channel": "SMS", "price": 0.05}, {"channel": "SMS", "provider": "nobody", "price": 0.01}}, "input.prices[1].provider"},
		{[]map[string]any{{"channel": "EMAIL", "provider": "aliyun", "price": 0.01}}, "input.prices[0].provider"},
		{[]map[string]any{{"channel": "SMS", "provider": "aliyun", "price": 0.01}, {"channel": "SMS", "provider": "aliyun", "price": 0.02}}, "input.prices[1]"},
		{[]map[string]any{{"channel": "SMS", "price": -1}}, "input.prices[0].price"},
	} {
		errs := setPrices(t, env, app, bad.prices)
		require.Len(t, errs, 1, "%v", bad.prices)
		require.Equal(t, "BAD_INPUT", errs[0].Code(), errs[0].String())
		require.Equal(t, bad.field, errs[0].Field())
		require.Equal(t, want, appPrices(t, env, app), "a refused update changes nothing")
	}

	env.UpsertUsers(t, app.Key, app.ID, servertest.User{ID: "u", Identities: []servertest.Identity{servertest.SMS("+8613900077777")}})
	tpl := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule, UserIDs: []string{"u"}, Variables: map[string]any{"code": "77"}})
	taskID := servertest.TaskID(t, res.Task.ID)
	id := res.Message(t, "u", "SMS").ID
	env.Eventually(t, func() bool { return env.TaskRows(t, taskID)[id].Status == "DELIVERED" }, "the SMS is delivered")
	row := env.TaskRows(t, taskID)[id]
	require.Equal(t, "aliyun", row.Provider, "the failing first provider passed it on")
	require.InDelta(t, 0.03, row.Cost, 1e-9, "aliyun's price, not the channel's nor flaky's")

	now := time.Now()
	st := env.Stats(t, app.Key, app.ID, now.Add(-time.Hour), now.Add(time.Hour), []string{"CHANNEL"}, nil)
	require.InDelta(t, 0.03, st.Totals.Cost, 1e-9)
}

// A FALLBACK chain [APP_PUSH, SMS]: a push delivered before its timer ends the chain and
// saves the SMS, at the app's SMS price times the SMS's segments; a push whose receipt comes
// after the SMS was sent is REDUNDANT, its cost counted in redundantCost.
func TestFallbackSavingsAndRedundantCost(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithSimConfig(func(c *sim.Config) { c.SlowDelay = 6 * time.Second }))
	app := env.AdminKey(t, "ADMIN")
	require.Empty(t, setPrices(t, env, app, []map[string]any{
		{"channel": "SMS", "price": 0.05},
		{"channel": "SMS", "provider": "aliyun", "price": 0.03},
		{"channel": "APP_PUSH", "price": 0.002},
	}))
	env.UpsertUsers(t, app.Key, app.ID,
		servertest.User{ID: "reached", Identities: []servertest.Identity{{Channel: "APP_PUSH", Address: "cid-reached"}, servertest.SMS("+8613900000021")}},
		servertest.User{ID: "late", Identities: []servertest.Identity{{Channel: "APP_PUSH", Address: "cid-slow-late"}, servertest.SMS("+8613900000022")}},
	)
	smsText := strings.Repeat("a", 200) + " {{code}}"
	tpl := createTemplate(t, env, app, map[string]any{"name": "parcel", "class": "TRANSACTIONAL",
		"variables": []map[string]any{{"name": "code", "type": "string", "required": true}},
		"variants": []map[string]any{
			{"channel": "APP_PUSH", "title": "Parcel", "body": "Your parcel {{code}} is on its way"},
			{"channel": "SMS", "body": smsText, "extra": map[string]any{"sign": "Herald"}},
		}})
	rule := createRule(t, env, app, "push-then-sms", map[string]any{"strategy": "FALLBACK", "channels": []string{"APP_PUSH", "SMS"}, "fallbackAfter": "3s"})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule,
		UserIDs: []string{"reached", "late"}, Variables: map[string]any{"code": "4242"}})
	taskID := servertest.TaskID(t, res.Task.ID)

	var task *servertest.Task
	env.Eventually(t, func() bool {
		task = env.Task(t, app.Key, res.Task.ID)
		return task.Progress.Saved == 1 && task.Progress.Redundant == 1
	}, "the reached push saves its SMS; the slow push's late receipt makes it REDUNDANT")
	require.Empty(t, env.Sim.Messages(channels.SMS, "+8613900000021"), "the user reached by push gets no SMS")
	require.Len(t, env.Sim.Messages(channels.SMS, "+8613900000022"), 1)

	byUser := map[string]servertest.Row{}
	for _, r := range env.TaskRows(t, taskID) {
		byUser[r.UserID+"/"+r.Channel] = r
	}
	require.Equal(t, "DELIVERED", byUser["reached/APP_PUSH"].Status)
	require.Equal(t, "REDUNDANT", byUser["late/APP_PUSH"].Status)
	require.InDelta(t, 0.002, byUser["late/APP_PUSH"].Cost, 1e-9, "a redundant send keeps its cost")

	segments := content.SMSSegments(strings.ReplaceAll(smsText, "{{code}}", "4242"))
	require.Equal(t, 2, segments)
	now := time.Now()
	st := env.Stats(t, app.Key, app.ID, now.Add(-time.Hour), now.Add(time.Hour), []string{"CHANNEL", "STATUS"}, nil)
	requireTotalsAreSum(t, st)
	require.EqualValues(t, 1, st.Totals.SavedByFallback)
	require.InDelta(t, 0.05*float64(segments), st.Totals.SavedCost, 1e-9, "the app's SMS price times the SMS's segments")
	require.EqualValues(t, 1, st.Totals.Redundant)
	require.InDelta(t, 0.002, st.Totals.RedundantCost, 1e-9)
	for _, r := range st.Rows {
		switch *r.Channel + "/" + *r.Status {
		case "APP_PUSH/DELIVERED":
			require.EqualValues(t, 1, r.SavedByFallback, "counted on the channel that reached the user")
		case "APP_PUSH/REDUNDANT":
			require.InDelta(t, 0.002, r.RedundantCost, 1e-9)
		default:
			require.Zero(t, r.SavedByFallback, "%s/%s", *r.Channel, *r.Status)
			require.Zero(t, r.RedundantCost, "%s/%s", *r.Channel, *r.Status)
		}
	}
}
