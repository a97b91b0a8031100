package server_test

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/rule"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/server/servertest"
)

// demoSnapshot reads every row the demo seed writes for app, except API keys.
func demoSnapshot(t *testing.T, db *sql.DB, appID int64) map[string][]string {
	t.Helper()
	queries := map[string]string{
		"apps":              "SELECT id, name FROM apps WHERE id = ?",
		"users":             "SELECT id, COALESCE(attributes, ''), created_at, updated_at FROM users WHERE app_id = ? ORDER BY id",
		"identities":        "SELECT id, channel, address, created_at FROM identities WHERE app_id = ? ORDER BY id",
		"user_identities":   "SELECT user_id, identity_id, created_at FROM user_identities WHERE app_id = ? ORDER BY user_id, identity_id",
		"user_tags":         "SELECT tag, user_id FROM user_tags WHERE app_id = ? ORDER BY tag, user_id",
		"templates":         "SELECT id, name, version, updated_at FROM templates WHERE app_id = ? ORDER BY id",
		"template_versions": "SELECT v.template_id, v.version, v.variants FROM template_versions v JOIN templates t ON t.id = v.template_id WHERE t.app_id = ? ORDER BY 1, 2",
		"rules":             "SELECT id, name, version, updated_at FROM rules WHERE app_id = ? ORDER BY id",
		"rule_versions":     "SELECT v.rule_id, v.version, v.routes FROM rule_versions v JOIN rules r ON r.id = v.rule_id WHERE r.app_id = ? ORDER BY 1, 2",
	}
	out := map[string][]string{}
	for table, q := range queries {
		rows, err := db.QueryContext(context.Background(), q, appID)
		require.NoError(t, err, table)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = string(v)
			}
			out[table] = append(out[table], strings.Join(parts, "|"))
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return out
}

// The demo seed (HERALD_DEMO) creates users on every channel and on the simulator's test
// addresses, a template with a variant on all eight channels and a rule per delivery
// paradigm; seeding again changes nothing but the API key, and a send with the demo's
// CONCURRENT rule reaches the simulated vendor of every channel.
func TestDemoSeedReachesEveryChannel(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithSMTP(), servertest.WithEnv("HERALD_DEMO", "true"))
	ctx := context.Background()
	core := env.DB.Core

	var appID int64
	require.NoError(t, core.QueryRowContext(ctx, "SELECT id FROM apps WHERE name = ?", server.DemoApp).Scan(&appID), "the start seeded the demo app")
	before := demoSnapshot(t, core, appID)
	d, err := env.Herald.SeedDemo(ctx)
	require.NoError(t, err)
	require.Equal(t, appID, d.AppID)
	require.Equal(t, before, demoSnapshot(t, core, appID), "seeding again changes nothing")
	var live int
	require.NoError(t, core.QueryRowContext(ctx, "SELECT COUNT(*) FROM api_keys WHERE app_id = ? AND revoked_at IS NULL", appID).Scan(&live))
	require.Equal(t, 1, live, "the previous demo key is revoked")
	require.Equal(t, env.SimURL, d.SimURL)

	// Users: three on every channel at ordinary addresses, and one per test behaviour.
	var everywhere []string
	behaviours := map[string]string{"fail": "0000", "silent": "1111", "slow": "2222"}
	seen := map[string]bool{}
	for _, u := range d.Users {
		var chs []channels.Channel
		for _, idn := range u.Identities {
			chs = append(chs, idn.Channel)
			if idn.Channel != channels.SMS {
				continue
			}
			suffix := idn.Address[len(idn.Address)-4:]
			if kind, ok := strings.CutPrefix(u.ID, "demo-"); ok && strings.HasSuffix(kind, "-phone") {
				want := behaviours[strings.TrimSuffix(kind, "-phone")]
				require.Equal(t, want, suffix, "%s sits on its test number", u.ID)
				seen[kind] = true
			} else {
				require.NotContains(t, []string{"0000", "1111", "2222", "3333"}, suffix, "%s has an ordinary number", u.ID)
			}
		}
		if slices.Equal(chs, channels.All) {
			everywhere = append(everywhere, u.ID)
		}
	}
	require.Len(t, seen, len(behaviours), "a user per test behaviour")
	require.GreaterOrEqual(t, len(everywhere), 3, "users with an address on every channel")
	var stored int
	require.NoError(t, core.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE app_id = ?", appID).Scan(&stored))
	require.Equal(t, len(d.Users), stored)

	// A template per paradigm, each on all eight channels.
	for _, name := range []string{server.DemoConcurrentTemplate, server.DemoFallbackTemplate, server.DemoDistributionTemplate} {
		tpl, err := env.Herald.Content.Get(ctx, d.Templates[name], 0)
		require.NoError(t, err, name)
		require.Equal(t, appID, tpl.AppID)
		var chs []channels.Channel
		for _, v := range tpl.Variants {
			chs = append(chs, v.Channel)
		}
		require.ElementsMatch(t, channels.All, chs, name)
	}
	// The rules.
	conc, err := env.Herald.Rules.Get(ctx, d.Rules[server.DemoConcurrentRule], 0)
	require.NoError(t, err)
	require.Len(t, conc.Routes, 1)
	require.Equal(t, rule.Concurrent, conc.Routes[0].Strategy)
	require.ElementsMatch(t, channels.All, conc.Routes[0].Channels)
	fb, err := env.Herald.Rules.Get(ctx, d.Rules[server.DemoFallbackRule], 0)
	require.NoError(t, err)
	require.Len(t, fb.Routes, 1)
	require.Equal(t, rule.Fallback, fb.Routes[0].Strategy)
	require.Equal(t, []channels.Channel{channels.AppPush, channels.SMS}, fb.Routes[0].Channels)
	require.Equal(t, 30*time.Second, fb.Routes[0].FallbackAfter)
	require.Equal(t, rule.MilestoneDelivered, fb.Routes[0].Until)

	key := servertest.Key(d.Key)
	app := strconv.FormatInt(appID, 10)
	id := func(n int64) string { return strconv.FormatInt(n, 10) }

	// Concurrent: every channel's simulated vendor receives the message of every user.
	type target struct {
		user string
		ch   channels.Channel
		addr string
	}
	had := map[target]int{}
	for _, u := range d.Users {
		if slices.Contains(everywhere, u.ID) {
			for _, idn := range u.Identities {
				had[target{u.ID, idn.Channel, idn.Address}] = len(env.Sim.Messages(idn.Channel, idn.Address))
			}
		}
	}
	res := env.MustSend(t, key, servertest.SendInput{AppID: app, TemplateID: id(d.Templates[server.DemoConcurrentTemplate]),
		RuleID: id(d.Rules[server.DemoConcurrentRule]), UserIDs: everywhere,
		Variables: map[string]any{"service": "Mobile banking", "time": "Sat 02:00-04:00"}})
	require.Empty(t, res.Rejected)
	require.Len(t, res.Queued(), len(everywhere)*len(channels.All))
	for tg, n := range had {
		res.Message(t, tg.user, string(tg.ch))
		env.Eventually(t, func() bool { return len(env.Sim.Messages(tg.ch, tg.addr)) > n },
			"the %s vendor received %s's message", tg.ch, tg.user)
	}
	// Distribution: under 200 on WECHAT, from 200 by SMS.
	for amount, want := range map[float64]string{128.5: "WECHAT", 200: "SMS", 5000: "SMS"} {
		res := env.MustSend(t, key, servertest.SendInput{AppID: app, TemplateID: id(d.Templates[server.DemoDistributionTemplate]),
			RuleID: id(d.Rules[server.DemoDistributionRule]), UserIDs: []string{everywhere[0]},
			Variables: map[string]any{"amount": amount, "merchant": "Coffee Lab"}})
		require.Len(t, res.Messages, 1, "amount %v", amount)
		require.Equal(t, want, res.Messages[0].Channel, "amount %v", amount)
	}

	received := env.Sim.Stats().Received
	for _, ch := range channels.All {
		require.GreaterOrEqual(t, received[ch], int64(len(everywhere)), "the simulator's %s vendor", ch)
	}
}
