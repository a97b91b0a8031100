package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/server/servertest"
)

// otpTemplate is a template with an SMS and a WEBHOOK variant and one required variable.
func otpTemplate(name, class string) map[string]any {
	return map[string]any{"name": name, "class": class,
		"variables": []map[string]any{{"name": "code", "type": "string", "required": true}},
		"variants": []map[string]any{
			{"channel": "SMS", "body": "Your code is {{code}}", "extra": map[string]any{"sign": "Herald"}},
			{"channel": "WEBHOOK", "title": "Code", "body": "Your code is {{code}}"},
		}}
}

func createTemplate(t *testing.T, env *servertest.Env, app servertest.App, in map[string]any) string {
	t.Helper()
	in["appId"] = app.ID
	var out struct {
		CreateTemplate struct{ ID string } `json:"createTemplate"`
	}
	env.MustDo(t, app.Key, `mutation($in: TemplateInput!) { createTemplate(input: $in) { id } }`, map[string]any{"in": in}, &out)
	return out.CreateTemplate.ID
}

func createRule(t *testing.T, env *servertest.Env, app servertest.App, name string, routes ...map[string]any) string {
	t.Helper()
	var out struct {
		CreateRule struct{ ID string } `json:"createRule"`
	}
	env.MustDo(t, app.Key, `mutation($in: RuleInput!) { createRule(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"appId": app.ID, "name": name, "routes": routes}}, &out)
	return out.CreateRule.ID
}

// The fallback paradigm (补发): the webhook first, SMS only for those it did not reach.
func TestFallbackChain(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithSimConfig(func(c *sim.Config) { c.SlowDelay = 4 * time.Second }))
	app := env.AdminKey(t, "OPERATOR")
	env.UpsertUsers(t, app.Key, app.ID,
		servertest.User{ID: "reached", Identities: []servertest.Identity{servertest.Webhook(env.WebhookURL("reached")), servertest.SMS("+8613900000001")}},
		servertest.User{ID: "silent", Identities: []servertest.Identity{servertest.Webhook(env.WebhookURL("u-silent")), servertest.SMS("+8613900000002")}},
		servertest.User{ID: "refused", Identities: []servertest.Identity{servertest.Webhook(env.WebhookURL("u-fail")), servertest.SMS("+8613900000003")}},
		servertest.User{ID: "late", Identities: []servertest.Identity{servertest.Webhook(env.WebhookURL("u-slow")), servertest.SMS("+8613900000004")}},
		servertest.User{ID: "smsonly", Identities: []servertest.Identity{servertest.SMS("+8613900000005")}},
	)
	tpl := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "hook-then-sms", map[string]any{"strategy": "FALLBACK", "channels": []string{"WEBHOOK", "SMS"}, "fallbackAfter": "1s"})

	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule,
		UserIDs: []string{"reached", "silent", "refused", "late", "smsonly"}, Variables: map[string]any{"code": "4242"}})
	require.Equal(t, "SUPPRESSED", res.Message(t, "smsonly", "WEBHOOK").Status)

	smsOf := func(phone string) int { return len(env.Sim.Messages(channels.SMS, phone)) }
	env.Eventually(t, func() bool {
		return smsOf("+8613900000002") == 1 && smsOf("+8613900000003") == 1 && smsOf("+8613900000004") == 1 && smsOf("+8613900000005") == 1
	}, "every user the webhook did not reach in time gets the SMS")
	var task *servertest.Task
	env.Eventually(t, func() bool {
		task = env.Task(t, app.Key, res.Task.ID)
		return task.Progress.Redundant == 1
	}, "the slow webhook's late receipt marks it REDUNDANT")
	require.Zero(t, smsOf("+8613900000001"), "a user reached by the webhook gets no SMS")
	require.EqualValues(t, 2, task.Progress.Fallbacks, "the silent and the slow webhook moved their chains on")
	for ch, n := range env.SimRepeated() {
		require.Zero(t, n, "no message repeated on %s", ch)
	}
	rows := env.TaskRows(t, servertest.TaskID(t, res.Task.ID))
	byUser := map[string]string{}
	for _, r := range rows {
		byUser[r.UserID+"/"+r.Channel] = r.Status
	}
	require.Equal(t, map[string]string{
		"reached/WEBHOOK": "DELIVERED",
		"silent/WEBHOOK":  "SENT", "silent/SMS": "DELIVERED",
		"refused/WEBHOOK": "FAILED", "refused/SMS": "DELIVERED",
		"late/WEBHOOK": "REDUNDANT", "late/SMS": "DELIVERED",
		"smsonly/WEBHOOK": "SUPPRESSED", "smsonly/SMS": "DELIVERED",
	}, byUser)

	var plan struct {
		PlanRoute struct {
			Route int
			Steps []struct {
				Channel, StartsAfter string
			}
		} `json:"planRoute"`
	}
	env.MustDo(t, app.Key, `query($r: ID!) { planRoute(ruleId: $r, userId: "silent") { route steps { channel startsAfter } } }`, map[string]any{"r": rule}, &plan)
	require.Len(t, plan.PlanRoute.Steps, 2)
	require.Equal(t, "1s", plan.PlanRoute.Steps[1].StartsAfter)
}

// A bulk BROADCAST is split into shards, sent once to every user, and completes.
func TestBroadcastTask(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	app := env.AdminKey(t, "ADMIN")
	const n = 2345
	var users []servertest.User
	for i := range n {
		u := servertest.User{ID: fmt.Sprintf("u%05d", i), Identities: []servertest.Identity{servertest.SMS(fmt.Sprintf("+86137%07d5", i+1))}}
		if i%3 == 0 {
			u.Tags = []string{"vip"}
		}
		users = append(users, u)
	}
	env.UpsertUsers(t, app.Key, app.ID, users...)
	tpl := createTemplate(t, env, app, otpTemplate("notice", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	before := env.SimTotal()

	var created struct {
		CreateTask struct{ ID, Status, Lane string } `json:"createTask"`
	}
	env.MustDo(t, app.Key, `mutation($in: TaskInput!) { createTask(input: $in) { id status lane } }`, map[string]any{"in": map[string]any{
		"appId": app.ID, "name": "everyone", "kind": "BROADCAST", "templateId": tpl, "ruleId": rule, "variables": map[string]any{"code": "1"}}}, &created)
	require.Equal(t, "BULK", created.CreateTask.Lane)
	var task *servertest.Task
	env.Eventually(t, func() bool {
		task = env.Task(t, app.Key, created.CreateTask.ID)
		return task.Status == "COMPLETED"
	}, "the broadcast completes")
	require.EqualValues(t, n, task.Progress.Total)
	require.Equal(t, 3, task.Progress.ShardsTotal)
	require.Equal(t, 3, task.Progress.ShardsDone)
	require.EqualValues(t, n, task.Progress.Sent)
	require.EqualValues(t, n, env.SimTotal()-before, "every user once")
	require.Zero(t, env.SimRepeated()[channels.SMS])
	// The broadcast went as SendSms requests of many numbers, whose reports carry a batch
	// reference instead of a message id: every one still finds its message.
	env.Eventually(t, func() bool {
		task = env.Task(t, app.Key, created.CreateTask.ID)
		return task.Progress.Delivered == n
	}, "every report of the broadcast finds its message")

	// A TAG task over a TAG audience reaches only the tagged users.
	var aud struct {
		CreateAudience struct {
			ID   string
			Size int64
		} `json:"createAudience"`
	}
	env.MustDo(t, app.Key, `mutation($app: ID!) { createAudience(input: {appId: $app, name: "vips", kind: TAG, tagExpr: "vip"}) { id size } }`, map[string]any{"app": app.ID}, &aud)
	require.EqualValues(t, (n+2)/3, aud.CreateAudience.Size)

	// What the TAG task will cost, at this app's SMS price, before it is sent.
	env.MustDo(t, app.Key, `mutation($app: ID!) { updateAppSettings(appId: $app, input: {timeZone: "Asia/Shanghai",
		quietHours: {enabled: false, start: "21:00", end: "08:00"}, frequencyCap: {max: 0, window: "1h"}, dedupeWindow: "0s",
		prices: [{channel: SMS, price: 0.05}]}) { settings { prices { channel price } } } }`, map[string]any{"app": app.ID}, nil)
	var sim struct {
		SimulateRule struct {
			Users       int64
			Unreachable int64
			Cost        float64
			Channels    []struct {
				Channel string
				Users   int64
				Cost    float64
			}
		} `json:"simulateRule"`
	}
	env.MustDo(t, app.Key, `query($r: ID!, $a: ID!, $t: ID) { simulateRule(ruleId: $r, audienceId: $a, templateId: $t, variables: {code: "2"}) {
		users unreachable cost channels { channel users cost } } }`, map[string]any{"r": rule, "a": aud.CreateAudience.ID, "t": tpl}, &sim)
	require.Equal(t, aud.CreateAudience.Size, sim.SimulateRule.Users)
	require.Zero(t, sim.SimulateRule.Unreachable)
	require.Len(t, sim.SimulateRule.Channels, 1)
	require.InDelta(t, float64(aud.CreateAudience.Size)*0.05, sim.SimulateRule.Cost, 1e-6, "one segment each at the app's price")
	env.MustDo(t, app.Key, `mutation($in: TaskInput!) { createTask(input: $in) { id status lane } }`, map[string]any{"in": map[string]any{
		"appId": app.ID, "name": "vips", "kind": "TAG", "audienceId": aud.CreateAudience.ID, "templateId": tpl, "ruleId": rule, "variables": map[string]any{"code": "2"}}}, &created)
	env.Eventually(t, func() bool {
		task = env.Task(t, app.Key, created.CreateTask.ID)
		return task.Status == "COMPLETED"
	}, "the TAG task completes")
	require.EqualValues(t, aud.CreateAudience.Size, task.Progress.Sent)

	// Bad input stores nothing.
	_, errs := env.Do(t, app.Key, `mutation($in: TaskInput!) { createTask(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"appId": app.ID, "name": "bad", "kind": "GROUP", "audienceId": aud.CreateAudience.ID, "templateId": tpl, "ruleId": rule, "variables": map[string]any{"code": "3"}}})
	require.Len(t, errs, 1)
	require.Equal(t, "BAD_INPUT", errs[0].Code())
	require.Equal(t, "input.audienceId", errs[0].Field())
	_, errs = env.Do(t, app.Key, `mutation($in: TaskInput!) { createTask(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"appId": app.ID, "name": "bad", "kind": "BROADCAST", "templateId": tpl, "ruleId": rule, "cron": "every day", "variables": map[string]any{"code": "3"}}})
	require.Equal(t, "input.cron", errs[0].Field())
}

// A cron campaign fires once per schedule; cancelling it stops it.
func TestCronCampaign(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	app := env.AdminKey(t, "OPERATOR")
	env.UpsertUsers(t, app.Key, app.ID, servertest.User{ID: "u1", Identities: []servertest.Identity{servertest.SMS("+8613600000001")}})
	tpl := createTemplate(t, env, app, otpTemplate("tick", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	var created struct {
		CreateTask struct{ ID, Status, NextRunAt string } `json:"createTask"`
	}
	env.MustDo(t, app.Key, `mutation($in: TaskInput!) { createTask(input: $in) { id status nextRunAt } }`, map[string]any{"in": map[string]any{
		"appId": app.ID, "name": "tick", "kind": "SINGLE", "userIds": []string{"u1"}, "templateId": tpl, "ruleId": rule,
		"cron": "@every 2s", "variables": map[string]any{"code": "5"}}}, &created)
	require.Equal(t, "SCHEDULED", created.CreateTask.Status)
	require.NotEmpty(t, created.CreateTask.NextRunAt)
	env.Eventually(t, func() bool { return env.CountTasks(t) >= 3 }, "two runs were created")
	var cancelled struct {
		CancelTask struct{ Status string } `json:"cancelTask"`
	}
	env.MustDo(t, app.Key, `mutation($id: ID!) { cancelTask(id: $id) { status } }`, map[string]any{"id": created.CreateTask.ID}, &cancelled)
	require.Equal(t, "CANCELLED", cancelled.CancelTask.Status)
	runs, cancelledAt := env.CountTasks(t), time.Now()
	// Proving that nothing fires needs time to pass: three schedule periods.
	env.Eventually(t, func() bool { return time.Since(cancelledAt) > 6*time.Second })
	require.LessOrEqual(t, env.CountTasks(t), runs+1, "at most a run already firing when the campaign was cancelled")
	env.Eventually(t, func() bool {
		for id, st := range env.TaskStatuses(t) {
			if id != servertest.TaskID(t, created.CreateTask.ID) && st != "COMPLETED" {
				return false
			}
		}
		return true
	}, "every run completes")
	_, errs := env.Do(t, app.Key, `mutation($id: ID!) { resumeTask(id: $id) { status } }`, map[string]any{"id": created.CreateTask.ID})
	require.Equal(t, "CONFLICT", errs[0].Code(), "a cancelled task cannot resume")
}

// The per-user filters: opt-out, duplicate content, frequency cap, quiet hours.
func TestFilters(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	app := env.AdminKey(t, "ADMIN")
	env.UpsertUsers(t, app.Key, app.ID,
		servertest.User{ID: "a", Identities: []servertest.Identity{servertest.SMS("+8613500000001")}},
		servertest.User{ID: "b", Identities: []servertest.Identity{servertest.SMS("+8613500000002")}},
	)
	otp := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	promo := createTemplate(t, env, app, otpTemplate("promo", "MARKETING"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	setSettings := func(quiet map[string]any, capMax int) {
		env.MustDo(t, app.Key, `mutation($app: ID!, $in: AppSettingsInput!) { updateAppSettings(appId: $app, input: $in) { id } }`,
			map[string]any{"app": app.ID, "in": map[string]any{"timeZone": "UTC", "quietHours": quiet, "dedupeWindow": "10m",
				"frequencyCap": map[string]any{"max": capMax, "window": "1h"}}}, nil)
	}
	setSettings(map[string]any{"enabled": false, "start": "21:00", "end": "08:00"}, 2)
	env.MustDo(t, app.Key, `mutation($app: ID!) { setOptOut(appId: $app, userId: "b", class: MARKETING, optedOut: true) }`, map[string]any{"app": app.ID}, nil)
	reasonOf := func(taskID, user string) string {
		for _, r := range env.TaskRows(t, servertest.TaskID(t, taskID)) {
			if r.UserID == user {
				return r.Status + ": " + r.Reason
			}
		}
		return ""
	}
	await := func(taskID string) {
		env.Eventually(t, func() bool { return env.Task(t, app.Key, taskID).Status == "COMPLETED" }, "task %s completes", taskID)
	}
	send := func(tpl, code string) string {
		res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule, UserIDs: []string{"a", "b"}, Variables: map[string]any{"code": code}})
		await(res.Task.ID)
		return res.Task.ID
	}

	var plan struct {
		PlanRoute struct {
			Steps      []struct{ Channel string }
			Suppressed []struct{ Channel, Reason string }
		} `json:"planRoute"`
	}
	env.MustDo(t, app.Key, `query($r: ID!) { planRoute(ruleId: $r, userId: "b") { steps { channel } suppressed { channel reason } } }`, map[string]any{"r": rule}, &plan)
	require.Len(t, plan.PlanRoute.Steps, 1, "TRANSACTIONAL messages still reach b")
	require.Contains(t, plan.PlanRoute.Suppressed[0].Reason, "opted out of MARKETING messages on SMS")
	var all struct {
		CreateAudience struct{ ID string } `json:"createAudience"`
	}
	env.MustDo(t, app.Key, `mutation($app: ID!) { createAudience(input: {appId: $app, name: "all", kind: ALL}) { id } }`, map[string]any{"app": app.ID}, &all)
	var sim struct {
		SimulateRule struct {
			Users    int64
			Channels []struct{ Users, Filtered int64 }
		} `json:"simulateRule"`
	}
	env.MustDo(t, app.Key, `query($r: ID!, $a: ID!, $t: ID) { simulateRule(ruleId: $r, audienceId: $a, templateId: $t, variables: {code: "1"}) { users channels { users filtered } } }`,
		map[string]any{"r": rule, "a": all.CreateAudience.ID, "t": promo}, &sim)
	require.EqualValues(t, 2, sim.SimulateRule.Users)
	require.EqualValues(t, 1, sim.SimulateRule.Channels[0].Users)
	require.EqualValues(t, 1, sim.SimulateRule.Channels[0].Filtered, "b opted out of MARKETING")

	first := send(promo, "11")
	env.Eventually(t, func() bool { return reasonOf(first, "a") == "DELIVERED: " }, "a MARKETING message reaches a")
	require.Contains(t, reasonOf(first, "b"), "opted out of MARKETING messages on SMS")
	otpTask := send(otp, "11")
	require.Contains(t, []string{"SENT: ", "DELIVERED: "}, reasonOf(otpTask, "b"), "an opt-out of MARKETING keeps TRANSACTIONAL")
	resent := send(otp, "11")
	require.Contains(t, []string{"SENT: ", "DELIVERED: "}, reasonOf(resent, "b"), "a TRANSACTIONAL resend of the same code goes")
	dup := send(promo, "11")
	require.Contains(t, reasonOf(dup, "a"), "same content sent on SMS")
	capped := send(promo, "12")
	require.Contains(t, reasonOf(capped, "a"), "frequency cap: at most 2 MARKETING messages per 1h0m0s")

	// Quiet hours all day hold MARKETING; turning them off releases the held job.
	now := time.Now().UTC()
	setSettings(map[string]any{"enabled": true, "start": now.Add(-time.Hour).Format("15:04"), "end": now.Add(2 * time.Minute).Format("15:04")}, 0)
	// Workers read an app's settings again after at most five seconds.
	env.Eventually(t, func() bool { return time.Since(now) > 6*time.Second })
	before := len(env.Sim.Messages(channels.SMS, "+8613500000001"))
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: promo, RuleID: rule, UserIDs: []string{"a"}, Variables: map[string]any{"code": "13"}})
	env.Eventually(t, func() bool { return env.Logs.Contains("job held for quiet hours") }, "the job is held")
	require.Empty(t, env.TaskRows(t, servertest.TaskID(t, res.Task.ID)), "nothing is recorded or sent while held")
	require.Len(t, env.Sim.Messages(channels.SMS, "+8613500000001"), before)
	setSettings(map[string]any{"enabled": false, "start": "21:00", "end": "08:00"}, 0)
	env.WaitFor = 2 * time.Minute // a held job is checked again after at most a minute
	await(res.Task.ID)
	require.Len(t, env.Sim.Messages(channels.SMS, "+8613500000001"), before+1, "released when the window closes")
}

// A provider's rate limit holds across workers, and a provider that keeps failing opens its
// circuit, which the channels query shows.
func TestProviderRateLimitAndCircuit(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithEnv("HERALD_PROVIDER_RATES", "aliyun=20"))
	app := env.AdminKey(t, "OPERATOR")
	var users []servertest.User
	var ids []string
	for i := range 60 {
		id := fmt.Sprintf("r%02d", i)
		users = append(users, servertest.User{ID: id, Identities: []servertest.Identity{servertest.SMS(fmt.Sprintf("+86138%08d", 500+i))}})
		ids = append(ids, id)
	}
	env.UpsertUsers(t, app.Key, app.ID, users...)
	tpl := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	started := time.Now()
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule, UserIDs: ids, Variables: map[string]any{"code": "1"}})
	env.Eventually(t, func() bool { return env.Task(t, app.Key, res.Task.ID).Status == "COMPLETED" })
	// 60 messages at 20/s with a burst of 20 need at least two seconds.
	require.GreaterOrEqual(t, time.Since(started), 1900*time.Millisecond)

	failing := servertest.Start(t, servertest.WithSimConfig(func(c *sim.Config) { c.FailureRate = 1 }))
	app2 := failing.AdminKey(t, "OPERATOR")
	failing.UpsertUsers(t, app2.Key, app2.ID, servertest.User{ID: "u", Identities: []servertest.Identity{servertest.SMS("+8613800001234")}})
	tpl2 := createTemplate(t, failing, app2, otpTemplate("otp", "TRANSACTIONAL"))
	rule2 := createRule(t, failing, app2, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	failing.MustSend(t, app2.Key, servertest.SendInput{AppID: app2.ID, TemplateID: tpl2, RuleID: rule2, UserIDs: []string{"u"}, Variables: map[string]any{"code": "2"}})
	failing.Eventually(t, func() bool {
		var out struct {
			Channels []struct{ Channel, Provider, Circuit string } `json:"channels"`
		}
		failing.MustDo(t, app2.Key, `query($app: ID!) { channels(appId: $app) { channel provider circuit } }`, map[string]any{"app": app2.ID}, &out)
		for _, c := range out.Channels {
			if c.Channel == "SMS" && c.Circuit != "CLOSED" {
				return true
			}
		}
		return false
	}, "the SMS provider's circuit opens after repeated failures")
}

// A webhook URL that leads into Herald's own network is refused at connect time.
func TestWebhookToAnInternalAddressIsRefused(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	app := env.AdminKey(t, "OPERATOR")
	// 127.0.0.2 is loopback but not the simulator's address, which alone is allowed.
	env.UpsertUsers(t, app.Key, app.ID, servertest.User{ID: "probe", Identities: []servertest.Identity{servertest.Webhook("http://127.0.0.2:9/admin")}})
	tpl := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "hook", map[string]any{"strategy": "CONCURRENT", "channels": []string{"WEBHOOK"}})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule, UserIDs: []string{"probe"}, Variables: map[string]any{"code": "1"}})
	env.Eventually(t, func() bool { return env.Task(t, app.Key, res.Task.ID).Status == "COMPLETED" })
	for _, r := range env.TaskRows(t, servertest.TaskID(t, res.Task.ID)) {
		require.Equal(t, "FAILED", r.Status)
		require.Contains(t, r.Reason, "address not allowed")
	}
}
