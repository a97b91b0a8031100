package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/server/servertest"
)

// An SMS the carrier could not deliver: the simulator accepts it, then reports it
// undelivered with a carrier code; the message ends FAILED with that code as its reason and
// the task counts it as failed.
func TestUndeliveredSMSEndsFailed(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithSimConfig(func(c *sim.Config) { c.UndeliveredRate = 1 }))
	app := env.AdminKey(t, "OPERATOR")
	env.UpsertUsers(t, app.Key, app.ID,
		servertest.User{ID: "off", Identities: []servertest.Identity{servertest.SMS("+8613900007701")}},
		servertest.User{ID: "quiet", Identities: []servertest.Identity{servertest.SMS("+8613900001111")}},
	)
	tpl := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule,
		UserIDs: []string{"off", "quiet"}, Variables: map[string]any{"code": "2468"}})

	var task *servertest.Task
	env.Eventually(t, func() bool {
		task = env.Task(t, app.Key, res.Task.ID)
		return task.Progress.Failed == 1
	}, "the undelivered SMS counts as failed")
	require.EqualValues(t, 2, task.Progress.Total)
	require.EqualValues(t, 0, task.Progress.Delivered)

	byUser := map[string]servertest.Row{}
	for _, r := range env.TaskRows(t, servertest.TaskID(t, res.Task.ID)) {
		byUser[r.UserID] = r
	}
	off := byUser["off"]
	require.Equal(t, "FAILED", off.Status)
	require.Equal(t, "aliyun", off.Provider, "a delivery failure is final: no failover to the next SMS provider")
	require.Contains(t, off.Reason, "MK:0012")
	require.Equal(t, "SENT", byUser["quiet"].Status, "the silent test number keeps its behaviour")

	require.Len(t, env.Sim.Messages(channels.SMS, "+8613900007701"), 1, "sent once")
	require.EqualValues(t, 1, env.Sim.Stats().Undelivered[channels.SMS])
}
