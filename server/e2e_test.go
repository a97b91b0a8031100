package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/server/servertest"
)

// codeTemplate declares two required strings and an optional number, with an SMS and a
// WEBHOOK variant.
var codeTemplate = servertest.Template{
	Name: "verification-code",
	Variables: []servertest.Variable{
		{Name: "name", Type: "string", Required: true},
		{Name: "code", Type: "string", Required: true},
		{Name: "minutes", Type: "number"},
	},
	Variants: []servertest.Variant{
		{Channel: "SMS", Body: "{{name}}, your code is {{code}}; it expires in {{minutes}} minutes."},
		{Channel: "WEBHOOK", Title: "Your code", Body: "Hello {{name}}: {{code}} ({{minutes}} min)"},
	},
}

// codeVars fills codeTemplate.
func codeVars(code string) map[string]any {
	return map[string]any{"name": "Ada", "code": code, "minutes": 5}
}

// What the simulated phone and webhook receiver show for codeVars(code): the SMS carries
// the provider's sign name in 【】, the webhook its title on a line of its own.
func wantSMS(code string) string {
	return "【" + providers.SimSignName + "】Ada, your code is " + code + "; it expires in 5 minutes."
}

func wantWebhook(code string) string { return "Your code\nHello Ada: " + code + " (5 min)" }

// bundle is a running Herald with an app ready to send: an OPERATOR key, codeTemplate and a
// CONCURRENT SMS+WEBHOOK rule, all made through GraphQL as an administrator and a backend
// would.
type bundle struct {
	env    *servertest.Env
	admin  servertest.Auth
	appID  string
	key    servertest.Auth
	tplID  string
	ruleID string
}

func setup(t *testing.T, opts ...servertest.Option) *bundle {
	t.Helper()
	env := servertest.Start(t, opts...)
	admin := env.Login(t)
	appID := env.CreateApp(t, admin, "shop")
	key := env.CreateKey(t, admin, appID, "OPERATOR")
	return &bundle{
		env: env, admin: admin, appID: appID, key: key,
		tplID:  env.CreateTemplate(t, key, appID, codeTemplate),
		ruleID: env.CreateRule(t, key, appID, "sms-and-webhook", "CONCURRENT", "SMS", "WEBHOOK"),
	}
}

// user has a phone and the simulator's webhook receiver of its id.
func (b *bundle) user(id, phone string) servertest.User {
	return servertest.User{ID: id, Attributes: map[string]any{"plan": "pro"},
		Identities: []servertest.Identity{servertest.SMS(phone), servertest.Webhook(b.env.WebhookURL(id))}}
}

func (b *bundle) send(userIDs []string, vars map[string]any) servertest.SendInput {
	return servertest.SendInput{AppID: b.appID, TemplateID: b.tplID, RuleID: b.ruleID, UserIDs: userIDs, Variables: vars}
}

// waitCompleted waits until the task is COMPLETED and its messages have all settled
// (delivered, failed or suppressed, plus silent ones still sent), and returns it.
func (b *bundle) waitCompleted(t *testing.T, taskID string, settled func(p servertest.Progress) bool) *servertest.Task {
	t.Helper()
	var task *servertest.Task
	b.env.Await(t, func() error {
		task = b.env.Task(t, b.key, taskID)
		if task == nil {
			return fmt.Errorf("task %s is not visible", taskID)
		}
		if task.Status != "COMPLETED" || !settled(*task.Progress) {
			return fmt.Errorf("task %s is %s with %+v", taskID, task.Status, *task.Progress)
		}
		return nil
	})
	return task
}

// delivered is settled once n messages are delivered.
func delivered(n int64) func(servertest.Progress) bool {
	return func(p servertest.Progress) bool { return p.Delivered == n }
}

// TestSendDeliversOnEveryChannel follows messages the whole way: send → realtime queue →
// worker → providers → simulator → receipts → delivery rows → task progress → statistics.
func TestSendDeliversOnEveryChannel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env
	users := []servertest.User{
		b.user("u1", "+8613800138001"),
		b.user("u2", "+8613800138002"),
		b.user("u3", "13800138003"),
	}
	created, updated := env.UpsertUsers(t, b.key, b.appID, users...)
	require.Equal(t, 3, created)
	require.Zero(t, updated)

	res := env.MustSend(t, b.key, b.send([]string{"u1", "u2", "u3"}, codeVars("424242")))
	require.Empty(t, res.Rejected)
	require.Equal(t, "LIST", res.Task.Kind)
	require.Equal(t, "REALTIME", res.Task.Lane)
	require.Len(t, res.Messages, 6, "one message per user and channel")
	for _, m := range res.Messages {
		require.Equal(t, "QUEUED", m.Status, "message %+v", m)
	}
	taskID := servertest.TaskID(t, res.Task.ID)

	task := b.waitCompleted(t, res.Task.ID, delivered(6))
	require.Equal(t, servertest.Progress{Total: 3, ShardsTotal: 1, ShardsDone: 1, Sent: 6, Delivered: 6}, *task.Progress,
		"total counts the users addressed; the other counts count messages")

	// The simulator received each message once, rendered, at each user's address. The three
	// identical SMS went as one request to three numbers, whose OutId is the batch reference.
	var smsIDs []string
	for _, u := range users {
		smsIDs = append(smsIDs, res.Message(t, u.ID, "SMS").ID)
	}
	for _, u := range users {
		sms := env.Sim.Messages(channels.SMS, u.Identities[0].Address)
		require.Len(t, sms, 1, "SMS to %s", u.ID)
		require.Equal(t, wantSMS("424242"), sms[0].Content)
		require.Equal(t, channels.BatchRef(smsIDs), sms[0].MessageID)
		hook := env.Sim.Messages(channels.Webhook, env.WebhookURL(u.ID))
		require.Len(t, hook, 1, "webhook of %s", u.ID)
		require.Equal(t, wantWebhook("424242"), hook[0].Content)
		require.Equal(t, res.Message(t, u.ID, "WEBHOOK").ID, hook[0].MessageID)
	}
	stats := env.Sim.Stats()
	require.Equal(t, map[channels.Channel]int64{channels.SMS: 3, channels.Webhook: 3}, stats.Received)
	require.Empty(t, env.SimRepeated(), "no message reached the simulator twice")

	// Each delivery row sits in the table of the send's day on the task's statistics shard,
	// DELIVERED; the message id names that day.
	today, _, ok := reports.ParseMessageID(res.Messages[0].ID)
	require.True(t, ok, "message id %q", res.Messages[0].ID)
	require.Contains(t, env.Days(), today, "the id names the day of the send")
	shard := env.DB.StatsShardIndex(taskID)
	require.Equal(t, int(taskID%int64(len(env.DB.Stats))), shard, "the shard is task id modulo the shard count")
	rows := env.Rows(t, shard, today, taskID)
	require.Len(t, rows, 6)
	for _, m := range res.Messages {
		day, tid, ok := reports.ParseMessageID(m.ID)
		require.True(t, ok, "message id %q", m.ID)
		require.Equal(t, today, day, "every message of the send names the same day")
		require.Equal(t, taskID, tid)
		row, ok := rows[m.ID]
		require.True(t, ok, "no row for %s in delivery_%s on shard %d", m.ID, today, shard)
		require.Equal(t, "DELIVERED", row.Status, "row %+v", row)
		require.Equal(t, m.UserID, row.UserID)
		require.Equal(t, m.Channel, row.Channel)
		require.NotEmpty(t, row.Provider)
		require.True(t, row.SentAt.Valid && row.DeliveredAt.Valid, "sent_at and delivered_at are set")
	}
	for other := range env.DB.Stats {
		if other != shard {
			require.Empty(t, env.Rows(t, other, today, taskID), "rows of task %d on shard %d", taskID, other)
		}
	}

	// Statistics by channel and status: sent and delivered per channel, totals = Σ rows.
	now := time.Now()
	st := env.Stats(t, b.key, b.appID, now.Add(-time.Hour), now.Add(time.Hour), []string{"CHANNEL", "STATUS"}, nil)
	byChannel := map[string]servertest.StatsRow{}
	for _, r := range st.Rows {
		require.NotNil(t, r.Channel)
		require.NotNil(t, r.Status)
		require.Equal(t, "DELIVERED", *r.Status, "row %+v", r)
		byChannel[*r.Channel] = r
	}
	require.Len(t, byChannel, 2)
	for _, ch := range []string{"SMS", "WEBHOOK"} {
		require.Equal(t, int64(3), byChannel[ch].Sent, ch)
		require.Equal(t, int64(3), byChannel[ch].Delivered, ch)
		require.Zero(t, byChannel[ch].Failed, ch)
	}
	requireTotalsAreSum(t, st)
}

// requireTotalsAreSum checks that stats totals equal the sum of the rows.
func requireTotalsAreSum(t *testing.T, st *servertest.StatsResult) {
	t.Helper()
	var sum servertest.StatsRow
	for _, r := range st.Rows {
		sum.Sent += r.Sent
		sum.Delivered += r.Delivered
		sum.Displayed += r.Displayed
		sum.Clicked += r.Clicked
		sum.Failed += r.Failed
		sum.Suppressed += r.Suppressed
		sum.Redundant += r.Redundant
		sum.Cost += r.Cost
		sum.RedundantCost += r.RedundantCost
		sum.SavedByFallback += r.SavedByFallback
		sum.SavedCost += r.SavedCost
	}
	require.InDelta(t, sum.Cost, st.Totals.Cost, 1e-9)
	require.InDelta(t, sum.RedundantCost, st.Totals.RedundantCost, 1e-9)
	require.InDelta(t, sum.SavedCost, st.Totals.SavedCost, 1e-9)
	totals := st.Totals
	sum.Cost, totals.Cost, sum.RedundantCost, totals.RedundantCost, sum.SavedCost, totals.SavedCost = 0, 0, 0, 0, 0, 0
	require.Equal(t, sum, totals)
}

// TestSimulatorTestAddresses drives the failure paths with the simulator's test addresses.
func TestSimulatorTestAddresses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env
	env.UpsertUsers(t, b.key, b.appID,
		b.user("fine", "+8613800138001"),
		servertest.User{ID: "broken", Identities: []servertest.Identity{
			servertest.SMS("+8613800130000"), servertest.Webhook(env.WebhookURL("broken-fail"))}},
		servertest.User{ID: "phone-only", Identities: []servertest.Identity{servertest.SMS("+8613800131111")}},
	)
	res := env.MustSend(t, b.key, b.send([]string{"fine", "broken", "phone-only"}, codeVars("777000")))
	require.Empty(t, res.Rejected)
	require.Equal(t, "SUPPRESSED", res.Message(t, "phone-only", "WEBHOOK").Status, "a user without a webhook identity")

	// The receipts of the fine user's messages arrive; the silent number's never does.
	task := b.waitCompleted(t, res.Task.ID, func(p servertest.Progress) bool { return p.Delivered == 2 && p.Failed == 2 })
	require.Equal(t, servertest.Progress{Total: 3, ShardsTotal: 1, ShardsDone: 1, Sent: 3, Delivered: 2, Failed: 2, Suppressed: 1}, *task.Progress)

	rows := env.TaskRows(t, servertest.TaskID(t, res.Task.ID))
	require.Len(t, rows, 6)
	status := func(user, ch string) servertest.Row { return rows[res.Message(t, user, ch).ID] }
	require.Equal(t, "DELIVERED", status("fine", "SMS").Status)
	require.Equal(t, "DELIVERED", status("fine", "WEBHOOK").Status)

	sms := status("broken", "SMS")
	require.Equal(t, "FAILED", sms.Status)
	require.Contains(t, sms.Reason, "isv.MOBILE_NUMBER_ILLEGAL", "the vendor's reason is kept")
	hook := status("broken", "WEBHOOK")
	require.Equal(t, "FAILED", hook.Status)
	require.Contains(t, hook.Reason, "410", "the receiver's answer is kept")

	silent := status("phone-only", "SMS")
	require.Equal(t, "SENT", silent.Status, "1111 is accepted and never receipted")
	require.True(t, silent.SentAt.Valid)
	require.False(t, silent.DeliveredAt.Valid)
	got := env.Sim.Messages(channels.SMS, "+8613800131111")
	require.Len(t, got, 1)
	require.Equal(t, "silent", got[0].Behavior)

	suppressed := status("phone-only", "WEBHOOK")
	require.Equal(t, "SUPPRESSED", suppressed.Status)
	require.Contains(t, suppressed.Reason, "no address")
	require.Empty(t, suppressed.Address)

	st := env.Sim.Stats()
	// The three SMS went as one request, refused whole for the bad number, then one request
	// each: the bad number was refused twice and the others were received once.
	require.Equal(t, map[channels.Channel]int64{channels.SMS: 2, channels.Webhook: 1}, st.Rejected)
	require.Equal(t, map[channels.Channel]int64{channels.SMS: 2, channels.Webhook: 1}, st.Received)

	now := time.Now()
	stats := env.Stats(t, b.key, b.appID, now.Add(-time.Hour), now.Add(time.Hour), []string{"CHANNEL", "STATUS"}, nil)
	counts := map[string]servertest.StatsRow{}
	for _, r := range stats.Rows {
		counts[*r.Channel+"/"+*r.Status] = r
	}
	require.Equal(t, int64(1), counts["SMS/FAILED"].Failed)
	require.Equal(t, int64(1), counts["WEBHOOK/FAILED"].Failed)
	require.Equal(t, int64(1), counts["SMS/SENT"].Sent)
	require.Zero(t, counts["SMS/SENT"].Delivered)
	require.Equal(t, int64(1), counts["WEBHOOK/SUPPRESSED"].Suppressed)
	require.Equal(t, servertest.StatsRow{Sent: 3, Delivered: 2, Failed: 2, Suppressed: 1, Cost: stats.Totals.Cost},
		stats.Totals)
	requireTotalsAreSum(t, stats)
}

// TestSendRefusesBadInput checks that every invalid send is refused with a code and the
// offending field before anything is stored, queued or sent.
func TestSendRefusesBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env
	env.UpsertUsers(t, b.key, b.appID, b.user("u1", "+8613800138001"))
	viewer := env.CreateKey(t, b.admin, b.appID, "VIEWER")

	// Another app, with a template and a key of its own.
	otherApp := env.CreateApp(t, b.admin, "other")
	otherKey := env.CreateKey(t, b.admin, otherApp, "OPERATOR")
	otherTpl := env.CreateTemplate(t, otherKey, otherApp, codeTemplate)
	otherRule := env.CreateRule(t, otherKey, otherApp, "other-rule", "CONCURRENT", "SMS")

	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("u%d", i)
	}
	valid := func(change func(*servertest.SendInput)) servertest.SendInput {
		in := b.send([]string{"u1"}, codeVars("123456"))
		change(&in)
		return in
	}
	tests := []struct {
		name  string
		auth  servertest.Auth
		in    servertest.SendInput
		code  string
		field string
	}{
		{"unknown template", b.key, valid(func(in *servertest.SendInput) { in.TemplateID = "987654" }), "NOT_FOUND", "input.templateId"},
		{"unknown rule", b.key, valid(func(in *servertest.SendInput) { in.RuleID = "987654" }), "NOT_FOUND", "input.ruleId"},
		{"missing required variable", b.key, valid(func(in *servertest.SendInput) { delete(in.Variables, "code") }), "BAD_INPUT", "input.variables.code"},
		{"string where a number is declared", b.key, valid(func(in *servertest.SendInput) { in.Variables["minutes"] = "five" }), "BAD_INPUT", "input.variables.minutes"},
		{"undeclared variable", b.key, valid(func(in *servertest.SendInput) { in.Variables["coupon"] = "x" }), "BAD_INPUT", "input.variables.coupon"},
		{"1,001 users", b.key, valid(func(in *servertest.SendInput) { in.UserIDs = tooMany }), "BAD_INPUT", "input.userIds"},
		{"no users", b.key, valid(func(in *servertest.SendInput) { in.UserIDs = []string{} }), "BAD_INPUT", "input.userIds"},
		{"another app's template", b.key, valid(func(in *servertest.SendInput) { in.TemplateID = otherTpl }), "NOT_FOUND", "input.templateId"},
		{"another app's rule", b.key, valid(func(in *servertest.SendInput) { in.RuleID = otherRule }), "NOT_FOUND", "input.ruleId"},
		{"an app the key may not use", b.key, valid(func(in *servertest.SendInput) {
			in.AppID, in.TemplateID, in.RuleID = otherApp, otherTpl, otherRule
		}), "FORBIDDEN", "input.appId"},
		{"a role that may not send", viewer, valid(func(*servertest.SendInput) {}), "FORBIDDEN", "input.appId"},
		{"priority out of range", b.key, valid(func(in *servertest.SendInput) { p := 10; in.Priority = &p }), "BAD_INPUT", "input.priority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, r := env.Send(t, tt.auth, tt.in)
			require.Nil(t, res)
			require.Len(t, r.Errors, 1, "errors: %v", r.Errors)
			require.Equal(t, tt.code, r.Errors[0].Code(), "error %v", r.Errors[0])
			require.Equal(t, tt.field, r.Errors[0].Field(), "error %v", r.Errors[0])
			requireNothingQueued(t, env)
		})
	}

	t.Run("a wrong API key", func(t *testing.T) {
		for _, secret := range []string{"hk_000000000000_wrong", "not-a-key"} {
			r := env.Exec(t, servertest.Key(secret), servertest.SendMutation, map[string]any{"in": valid(func(*servertest.SendInput) {})})
			require.Equal(t, http.StatusUnauthorized, r.Status)
			require.Len(t, r.Errors, 1)
			require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code())
		}
		r := env.Exec(t, servertest.Auth{}, servertest.SendMutation, map[string]any{"in": valid(func(*servertest.SendInput) {})})
		require.Len(t, r.Errors, 1)
		require.Equal(t, "UNAUTHENTICATED", r.Errors[0].Code(), "no credentials at all")
		requireNothingQueued(t, env)
	})

	// A valid send now goes through, and it is the only thing the simulator ever gets: had
	// any refused send been queued, its messages would have arrived before these.
	res := env.MustSend(t, b.key, b.send([]string{"u1"}, codeVars("123456")))
	b.waitCompleted(t, res.Task.ID, delivered(2))
	require.Equal(t, 1, env.CountTasks(t))
	require.Equal(t, int64(2), env.SimTotal())
}

// requireNothingQueued checks that no task was created, the simulator received nothing and
// the realtime lane is empty.
func requireNothingQueued(t *testing.T, env *servertest.Env) {
	t.Helper()
	require.Zero(t, env.CountTasks(t), "a task row was created")
	require.Zero(t, env.QueueDepth(t, broker.Realtime), "the realtime lane holds messages")
	require.Zero(t, env.SimTotal(), "the simulator received messages")
}

// TestSendReportsUnknownUsers checks that unknown user ids are listed in rejected, not
// dropped, and that a send of only unknown users completes without sending.
func TestSendReportsUnknownUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env
	env.UpsertUsers(t, b.key, b.appID, b.user("known", "+8613800138001"))

	res := env.MustSend(t, b.key, b.send([]string{"known", "ghost", "known", "phantom"}, codeVars("314159")))
	require.ElementsMatch(t, []servertest.RejectedUser{{UserID: "ghost", Reason: "unknown user"}, {UserID: "phantom", Reason: "unknown user"}}, res.Rejected)
	require.Len(t, res.Messages, 2, "the known user once per channel, although named twice")
	b.waitCompleted(t, res.Task.ID, delivered(2))

	none := env.MustSend(t, b.key, b.send([]string{"ghost"}, codeVars("271828")))
	require.Equal(t, []servertest.RejectedUser{{UserID: "ghost", Reason: "unknown user"}}, none.Rejected)
	require.Empty(t, none.Messages)
	require.Equal(t, "COMPLETED", none.Task.Status, "nothing to send")
	require.Empty(t, env.TaskRows(t, servertest.TaskID(t, none.Task.ID)))
	require.Equal(t, int64(2), env.SimTotal())
}

// TestIdempotentSend checks that an idempotency key returns the first result, even to
// concurrent calls, and that the messages go out once.
func TestIdempotentSend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env
	env.UpsertUsers(t, b.key, b.appID, b.user("u1", "+8613800138001"), b.user("u2", "+8613800138002"))

	in := b.send([]string{"u1", "u2"}, codeVars("111222"))
	in.IdempotencyKey = "order-1"
	first := env.MustSend(t, b.key, in)
	b.waitCompleted(t, first.Task.ID, delivered(4))
	again := env.MustSend(t, b.key, in)
	require.Equal(t, first.Task.ID, again.Task.ID)
	require.Equal(t, first.Messages, again.Messages)

	// Concurrent calls with a new key all get the one task.
	in2 := b.send([]string{"u1", "u2"}, codeVars("333444"))
	in2.IdempotencyKey = "order-2"
	const callers = 6
	var (
		wg  sync.WaitGroup
		ids [callers]string
		err [callers]error
	)
	for i := range callers {
		wg.Go(func() {
			res, errs, e := env.PostSend(context.Background(), b.key, in2)
			switch {
			case e != nil:
				err[i] = e
			case len(errs) > 0:
				err[i] = errs
			default:
				ids[i] = res.Task.ID
			}
		})
	}
	wg.Wait()
	for i := range callers {
		require.NoError(t, err[i], "caller %d", i)
		require.Equal(t, ids[0], ids[i], "caller %d got another task", i)
	}
	require.NotEqual(t, first.Task.ID, ids[0], "another key is another send")
	b.waitCompleted(t, ids[0], delivered(4))

	// A plain send after them: once it is delivered, anything queued twice before it has
	// arrived too.
	last := env.MustSend(t, b.key, b.send([]string{"u1"}, codeVars("555666")))
	b.waitCompleted(t, last.Task.ID, delivered(2))
	require.Equal(t, 3, env.CountTasks(t))
	require.Equal(t, int64(4+4+2), env.SimTotal())
	require.Empty(t, env.SimRepeated())
}

// readiness is the body of /readyz.
type readiness struct {
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func getReadyz(t *testing.T, env *servertest.Env) (int, readiness) {
	t.Helper()
	status, body := env.Get(t, "/readyz")
	var r readiness
	require.NoError(t, json.Unmarshal(body, &r), "/readyz: %s", body)
	return status, r
}

// TestHealth checks the probes of a Herald whose dependencies are all up.
func TestHealth(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	status, body := env.Get(t, "/healthz")
	require.Equal(t, http.StatusOK, status, "%s", body)

	status, r := getReadyz(t, env)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, readiness{Ready: true, Checks: map[string]string{"mysql": "ok", "redis": "ok", "rabbitmq": "ok"}}, r)
}

// TestWaitsForDependencies starts Herald with one dependency unreachable: it keeps waiting
// with a log line naming it, /healthz answers, /readyz answers 503 naming it, and the API
// says it is unavailable.
func TestWaitsForDependencies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, value, check, log string
	}{
		{"Redis", "HERALD_REDIS_URL", "redis://127.0.0.1:1/0", "redis", "waiting for Redis"},
		{"RabbitMQ", "HERALD_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/", "rabbitmq", "waiting for RabbitMQ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := servertest.Start(t, servertest.NoWait(), servertest.WithEnv(tt.key, tt.value))
			env.Eventually(t, func() bool { return len(env.Logs.Lines(tt.log)) >= 2 }, "Herald does not log that it waits for %s", tt.name)

			status, body := env.Get(t, "/healthz")
			require.Equal(t, http.StatusOK, status, "%s", body)
			status, r := getReadyz(t, env)
			require.Equal(t, http.StatusServiceUnavailable, status)
			require.False(t, r.Ready)
			require.NotEqual(t, "ok", r.Checks[tt.check], "/readyz names %s: %v", tt.check, r.Checks)
			require.Equal(t, "ok", r.Checks["mysql"])

			resp := env.Exec(t, servertest.Auth{}, `{ me { role } }`, nil)
			require.Equal(t, http.StatusServiceUnavailable, resp.Status)
			require.Equal(t, "UNAVAILABLE", resp.Errors[0].Code())
			select {
			case <-env.Herald.Ready:
				t.Fatal("Herald says it is ready")
			default:
			}
		})
	}
}

// TestInternalErrorsHideSQL breaks the test's own core database under a running Herald and
// checks that clients get INTERNAL without a trace of SQL, while the log keeps the cause.
func TestInternalErrorsHideSQL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env
	env.UpsertUsers(t, b.key, b.appID, b.user("u1", "+8613800138001"))
	_, err := env.DB.Core.Exec("RENAME TABLE rules TO rules_hidden")
	require.NoError(t, err)

	for name, call := range map[string]func() *servertest.Response{
		"rules query": func() *servertest.Response {
			return env.Exec(t, b.key, `query($app: ID!) { rules(appId: $app) { id } }`, map[string]any{"app": b.appID})
		},
		"send": func() *servertest.Response {
			return env.Exec(t, b.key, servertest.SendMutation, map[string]any{"in": b.send([]string{"u1"}, codeVars("123456"))})
		},
	} {
		r := call()
		require.Len(t, r.Errors, 1, "%s: %s", name, r.Body)
		require.Equal(t, "INTERNAL", r.Errors[0].Code(), name)
		require.Equal(t, "internal error", r.Errors[0].Message, name)
		body := strings.ToLower(string(r.Body))
		for _, leak := range []string{"rules_hidden", "table", "1146", "42s02", "exist", "select", "sql", env.Prefix} {
			require.NotContains(t, body, strings.ToLower(leak), "%s leaks %q: %s", name, leak, r.Body)
		}
	}
	require.NotEmpty(t, env.Logs.Lines("Error 1146"), "the cause is logged")
	require.Zero(t, env.CountTasks(t), "the failed send stored no task")
	require.Zero(t, env.SimTotal())
}

// TestShutdownDrains cancels Herald, as SIGTERM does, while messages are in flight: what it
// sent is recorded before it stops, what it had not taken stays queued, and a new process
// finishes the rest without sending anything twice.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	b := setup(t,
		servertest.WithEnv("HERALD_REALTIME_WORKERS", "2"),
		servertest.WithSimConfig(func(c *sim.Config) {
			c.Latency = 40 * time.Millisecond
			c.ReceiptAttempts = 20 // the receipts of the first process's messages wait for the second
		}))
	env := b.env
	const sends, perSend = 10, 60
	var users []servertest.User
	for i := range sends * perSend {
		users = append(users, b.user(fmt.Sprintf("u%03d", i), phone(i)))
	}
	env.UpsertUsers(t, b.key, b.appID, users...)

	var (
		planned []string
		tasks   []string
	)
	for s := range sends {
		ids := make([]string, perSend)
		for i := range ids {
			ids[i] = users[s*perSend+i].ID
		}
		res := env.MustSend(t, b.key, b.send(ids, codeVars(fmt.Sprintf("%06d", s))))
		tasks = append(tasks, res.Task.ID)
		for _, m := range res.Queued() {
			planned = append(planned, m.ID)
		}
	}
	require.Len(t, planned, sends*perSend*2)

	env.Eventually(t, func() bool { return env.SimTotal() > 0 }, "nothing reached the simulator")
	require.NoError(t, env.Stop(t), "Run returns nil after a drain")

	// Stopped: everything the simulator got is recorded as sent, and no message is left
	// half done.
	sentAtStop := env.SimTotal()
	require.Less(t, sentAtStop, int64(len(planned)), "the stop came after everything was sent; nothing was in flight")
	recorded := env.AllRows(t)
	var sentRows int64
	for id, r := range recorded {
		require.NotEqual(t, "QUEUED", r.Status, "message %s was left QUEUED by the drain", id)
		if r.SentAt.Valid {
			sentRows++
		}
	}
	require.Equal(t, sentAtStop, sentRows, "every message the simulator received is recorded as sent")
	require.Positive(t, env.QueueDepth(t, broker.Realtime), "sends not yet taken stay queued")

	// A new process on the same queues and databases finishes the work.
	env.Restart(t)
	for _, id := range tasks {
		b.waitCompleted(t, id, delivered(perSend*2))
	}
	require.Equal(t, int64(len(planned)), env.SimTotal(), "every planned message reached the simulator once")
	require.Empty(t, env.SimRepeated())
	rows := env.AllRows(t)
	require.Len(t, rows, len(planned))
	for _, id := range planned {
		require.Equal(t, "DELIVERED", rows[id].Status, "message %s", id)
	}
}

// phone returns a distinct mainland mobile number for i that is none of the simulator's
// test numbers (ending 0000, 1111 or 2222).
func phone(i int) string { return fmt.Sprintf("+86138%04d3333", i) }
