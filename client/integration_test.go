package client_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/client"
	"github.com/herald-msg/herald/server/servertest"
)

// TestAgainstHerald runs the real Herald in-process (on the machine's MariaDB, Redis and
// RabbitMQ and the vendor simulator) and drives a send through the client, as a backend
// would, until its task completes.
func TestAgainstHerald(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	app := env.AdminKey(t, "OPERATOR")
	tplID := env.CreateTemplate(t, app.Key, app.ID, servertest.Template{
		Name:      "verification-code",
		Variables: []servertest.Variable{{Name: "code", Type: "string", Required: true}},
		Variants:  []servertest.Variant{{Channel: "SMS", Body: "Your code is {{code}}."}},
	})
	ruleID := env.CreateRule(t, app.Key, app.ID, "sms", "CONCURRENT", "SMS")

	c := client.New(env.URL, client.WithAPIKey(app.Key.APIKey), client.WithHTTPClient(&http.Client{Timeout: time.Minute}))
	ctx := t.Context()

	up, err := c.UpsertUsers(ctx, app.ID, []client.UserInput{
		{ID: "u1", Identities: []client.Identity{{Channel: "SMS", Address: "+8613600000001"}}},
	})
	require.NoError(t, err)
	require.Equal(t, &client.UpsertResult{Created: 1}, up)

	in := client.SendInput{AppID: app.ID, TemplateID: tplID, RuleID: ruleID, UserIDs: []string{"u1", "ghost"},
		Variables: map[string]any{"code": "424242"}}
	res, err := c.Send(ctx, in)
	require.NoError(t, err)
	require.Len(t, res.Messages, 1)
	require.Equal(t, client.MessageRef{ID: res.Messages[0].ID, UserID: "u1", Channel: "SMS", Status: "QUEUED"}, res.Messages[0])
	require.Len(t, res.Rejected, 1)
	require.Equal(t, "ghost", res.Rejected[0].UserID)

	var task *client.Task
	env.Await(t, func() error {
		task, err = c.Task(ctx, res.Task.ID)
		if err != nil {
			return err
		}
		if task.Status != "COMPLETED" || task.Progress.Delivered != 1 {
			return fmt.Errorf("task %s is %s with %+v", task.ID, task.Status, task.Progress)
		}
		return nil
	}, "the send completes")
	require.Equal(t, tplID, task.Template.ID)
	require.EqualValues(t, 1, task.Progress.Total)
	require.EqualValues(t, 1, task.Progress.Sent)
	require.EqualValues(t, 1, env.SimTotal(), "the simulator got the SMS")

	// Herald's own errors arrive typed.
	in.Variables = nil
	_, err = c.Send(ctx, in)
	var gqlErr *client.Error
	require.ErrorAs(t, err, &gqlErr)
	require.Equal(t, client.CodeBadInput, gqlErr.Code)
	require.Equal(t, "input.variables.code", gqlErr.Field)

	_, err = c.Task(ctx, "999999999")
	require.True(t, client.IsCode(err, client.CodeNotFound), "error %v", err)

	_, err = client.New(env.URL, client.WithAPIKey("hk_nobody_wrong")).Send(ctx, in)
	require.ErrorAs(t, err, &gqlErr)
	require.Equal(t, client.CodeUnauthenticated, gqlErr.Code)
	require.Equal(t, http.StatusUnauthorized, gqlErr.StatusCode)
}
