package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/server/servertest"
)

// smsAccount is an Aliyun SMS account on a simulator.
func smsAccount(name, url string, priority int) providers.Account {
	return providers.Account{Name: name, Type: "aliyun-sms", Channel: "SMS", Priority: priority, Settings: map[string]string{
		"endpoint": url, "access_key_id": sim.DefaultAccessKeyID, "access_key_secret": sim.DefaultSecret,
		"sign_name": "Herald", "template_code": "SMS_HERALD_TEXT", "callback_token": sim.DefaultSecret,
	}}
}

// A channel with several providers: a failing first provider passes its messages to the
// next, each message is delivered exactly once, and a permanent refusal goes no further.
func TestProviderFailover(t *testing.T) {
	t.Parallel()
	// "flaky" answers every request with a vendor error; "aliyun" (the sim= provider, on the
	// main simulator) works; "spare" works too but comes last.
	flaky, flakySrv := simtest.StartSim(t, sim.Config{FailureRate: 1})
	spare, spareSrv := simtest.StartSim(t, sim.Config{})
	env := servertest.Start(t, servertest.WithConfig(func(c *server.Config) {
		c.ProviderAccounts = []providers.Account{smsAccount("flaky", flakySrv.URL, -1), smsAccount("spare", spareSrv.URL, 1)}
	}))
	app := env.AdminKey(t, "OPERATOR")
	const n = 12
	var users []servertest.User
	var ids []string
	for i := range n {
		id := fmt.Sprintf("u%d", i)
		users = append(users, servertest.User{ID: id, Identities: []servertest.Identity{servertest.SMS(fmt.Sprintf("+86139%04d7777", i))}})
		ids = append(ids, id)
	}
	users = append(users, servertest.User{ID: "bad", Identities: []servertest.Identity{servertest.SMS("+8613900010000")}})
	env.UpsertUsers(t, app.Key, app.ID, users...)
	tpl := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})

	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule,
		UserIDs: append(ids, "bad"), Variables: map[string]any{"code": "5150"}})
	taskID := servertest.TaskID(t, res.Task.ID)
	env.Eventually(t, func() bool {
		rows := env.TaskRows(t, taskID)
		done := 0
		for _, r := range rows {
			if r.Status == "DELIVERED" || r.Status == "FAILED" {
				done++
			}
		}
		return done == n+1
	}, "every message reaches a final status")

	for _, r := range env.TaskRows(t, taskID) {
		if r.UserID == "bad" {
			require.Equal(t, "FAILED", r.Status, "the refused number")
			require.Equal(t, "aliyun", r.Provider, "refused by the first provider that answered")
			continue
		}
		require.Equal(t, "DELIVERED", r.Status, r.UserID)
		require.Equal(t, "aliyun", r.Provider, "%s went to the next provider after the failing one", r.UserID)
	}
	require.Positive(t, flaky.Stats().Faults[channels.SMS], "the failing provider was tried first")
	require.Zero(t, flaky.Stats().Received[channels.SMS])
	require.EqualValues(t, n, env.Sim.Stats().Received[channels.SMS], "each good number got exactly one SMS")
	require.Zero(t, env.Sim.Stats().Repeated[channels.SMS], "no SMS was repeated")
	require.Zero(t, spare.Stats().Received[channels.SMS]+spare.Stats().Rejected[channels.SMS],
		"the last provider was not needed, and a permanent refusal is not passed on")
}

// A worker that stops while a vendor call is under way leaves the message marked in flight;
// the process that takes the job over does not send it again.
func TestStopDuringVendorCallSendsOnce(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t,
		servertest.WithSimConfig(func(c *sim.Config) { c.Latency = 3 * time.Second }),
		servertest.WithConfig(func(c *server.Config) { c.ShutdownGrace = 100 * time.Millisecond }))
	app := env.AdminKey(t, "OPERATOR")
	env.UpsertUsers(t, app.Key, app.ID, servertest.User{ID: "u", Identities: []servertest.Identity{servertest.SMS("+8613912345678")}})
	tpl := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule, UserIDs: []string{"u"}, Variables: map[string]any{"code": "9"}})
	id := res.Message(t, "u", "SMS").ID
	taskID := servertest.TaskID(t, res.Task.ID)

	inflight := func() int {
		var n int
		require.NoError(t, env.DB.Stats[env.DB.StatsShardIndex(taskID)].QueryRow("SELECT COUNT(*) FROM inflight_batch WHERE FIND_IN_SET(?, ids) > 0", id).Scan(&n))
		return n
	}
	env.Eventually(t, func() bool { return inflight() == 1 }, "the message is handed to the vendor")
	_ = env.Stop(t) // mid-call: the vendor answers only after 3 s
	require.Equal(t, 1, inflight(), "the stopped worker left its mark")
	env.Eventually(t, func() bool { return len(env.Sim.Messages(channels.SMS, "+8613912345678")) == 1 }, "the vendor got the message")

	env.Restart(t) // RabbitMQ hands the unacknowledged job to the new process
	env.Eventually(t, func() bool { return inflight() == 0 }, "the new process settles the interrupted message")
	rows := env.TaskRows(t, taskID)
	require.Contains(t, rows, id, "the new process wrote the row from the mark")
	row := rows[id]
	require.Contains(t, []string{"SENT", "DELIVERED"}, row.Status)
	require.Equal(t, "aliyun", row.Provider)
	require.Len(t, env.Sim.Messages(channels.SMS, "+8613912345678"), 1, "not sent a second time")
	require.Zero(t, env.Sim.Stats().Repeated[channels.SMS])
}

// A message's row is written once the vendor has answered, so a receipt can arrive first:
// here the SMS vendor posts its DELIVERED report and only then, three seconds later, answers the
// request. The receipt is taken again until the row is there, and the row ends DELIVERED.
func TestReceiptBeforeVendorAnswerIsApplied(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithSimConfig(func(c *sim.Config) {
		c.AnswerLatency = 3 * time.Second
		c.ReceiptDelay = 10 * time.Millisecond
	}))
	app := env.AdminKey(t, "OPERATOR")
	env.UpsertUsers(t, app.Key, app.ID, servertest.User{ID: "u", Identities: []servertest.Identity{servertest.SMS("+8613912340005")}})
	tpl := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule, UserIDs: []string{"u"}, Variables: map[string]any{"code": "7"}})
	id := res.Message(t, "u", "SMS").ID
	taskID := servertest.TaskID(t, res.Task.ID)

	env.Eventually(t, func() bool { return len(env.Sim.Messages(channels.SMS, "+8613912340005")) == 1 }, "the vendor took the message")
	require.NotContains(t, env.TaskRows(t, taskID), id, "no row before the vendor answers")
	env.Eventually(t, func() bool { return env.TaskRows(t, taskID)[id].Status == "DELIVERED" }, "the early receipt is applied once the row is written")
	row := env.TaskRows(t, taskID)[id]
	require.Equal(t, "aliyun", row.Provider)
}
