package server_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/server/servertest"
)

// A worker process consumes only its HERALD_WORKER_LANES: one without the realtime lane
// sends broadcasts and leaves sends queued for a process that has it.
func TestWorkerLanes(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithEnv("HERALD_WORKER_LANES", "bulk,receipts"))
	app := env.AdminKey(t, "ADMIN")
	const n = 30
	var users []servertest.User
	for i := range n {
		users = append(users, servertest.User{ID: fmt.Sprintf("u%03d", i), Identities: []servertest.Identity{servertest.SMS(fmt.Sprintf("+86137%07d5", i+1))}})
	}
	otp := servertest.User{ID: "otp", Identities: []servertest.Identity{servertest.SMS("+8613912345678")}}
	env.UpsertUsers(t, app.Key, app.ID, append(users, otp)...)
	tpl := createTemplate(t, env, app, otpTemplate("notice", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})

	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule, UserIDs: []string{"otp"}, Variables: map[string]any{"code": "7"}})
	var created struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	env.MustDo(t, app.Key, `mutation($in: TaskInput!) { createTask(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"appId": app.ID, "name": "everyone", "kind": "BROADCAST", "templateId": tpl, "ruleId": rule, "variables": map[string]any{"code": "1"}}}, &created)
	env.Eventually(t, func() bool {
		task := env.Task(t, app.Key, created.CreateTask.ID)
		return task.Status == "COMPLETED" && task.Progress.Delivered == n+1
	}, "the bulk and receipts lanes run: the broadcast (which includes the otp user) is sent and its receipts applied")
	send := env.Task(t, app.Key, res.Task.ID)
	require.Equal(t, "RUNNING", send.Status, "the send waits in the realtime queue")
	require.Len(t, env.Sim.Messages(channels.SMS, "+8613912345678"), 1, "only the broadcast reached the otp user")

	// A process with the realtime lane takes the send.
	env.Config.WorkerLanes = "realtime"
	env.Restart(t)
	env.Eventually(t, func() bool {
		return env.Task(t, app.Key, res.Task.ID).Status == "COMPLETED" && len(env.Sim.Messages(channels.SMS, "+8613912345678")) == 2
	}, "the realtime lane sends the queued send")
	require.Zero(t, env.SimRepeated()[channels.SMS], "no message reached the simulator twice")
}
