package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/server/servertest"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/track"
)

// milestones is a delivery row's status and engagement times.
type milestones struct {
	status               string
	displayedAt, clickAt sql.NullTime
}

func rowMilestones(t *testing.T, env *servertest.Env, taskID, id string) milestones {
	t.Helper()
	tid := servertest.TaskID(t, taskID)
	day, _, ok := reports.ParseMessageID(id)
	require.True(t, ok, "message id %q", id)
	var m milestones
	err := env.DB.Stats[env.DB.StatsShardIndex(tid)].QueryRowContext(context.Background(),
		"SELECT status, displayed_at, clicked_at FROM "+store.DayTable(day)+" WHERE id = ?", id).
		Scan(&m.status, &m.displayedAt, &m.clickAt)
	if errors.Is(err, sql.ErrNoRows) {
		return milestones{} // written once the vendor has answered
	}
	require.NoError(t, err)
	return m
}

var noFollow = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// An EMAIL goes through the simulator's SMTP server; the simulated mail client loads the
// open pixel and follows the tracked link, which reach Herald's /t/ endpoints and move the
// delivery to DISPLAYED and then CLICKED. A silent recipient's message is moved by an app
// SDK's event and a click instead.
func TestEmailOpenAndClickTracking(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithSMTP(),
		servertest.WithSimConfig(func(c *sim.Config) { c.DisplayRate, c.ClickRate = 1, 1 }))
	app := env.AdminKey(t, "OPERATOR")
	env.UpsertUsers(t, app.Key, app.ID,
		servertest.User{ID: "alice", Identities: []servertest.Identity{{Channel: "EMAIL", Address: "alice@example.com"}}},
		servertest.User{ID: "bob", Identities: []servertest.Identity{{Channel: "EMAIL", Address: "bob-silent@example.com"}}},
		servertest.User{ID: "carol", Identities: []servertest.Identity{{Channel: "EMAIL", Address: "carol-bounce@example.com"}}},
	)
	tpl := createTemplate(t, env, app, map[string]any{"name": "sale", "class": "TRANSACTIONAL",
		"variables": []map[string]any{{"name": "name", "type": "string", "required": true}},
		"variants": []map[string]any{{"channel": "EMAIL", "title": "Soldes pour {{name}} – été",
			"body": `<html><body><p>Bonjour {{name}}</p><p><a href="https://shop.example/sale?u={{name}}">Voir</a> ` +
				`<a href="mailto:help@shop.example">Aide</a></p></body></html>`}}})
	rule := createRule(t, env, app, "email", map[string]any{"strategy": "CONCURRENT", "channels": []string{"EMAIL"}})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule,
		UserIDs: []string{"alice", "bob", "carol"}, Variables: map[string]any{"name": "Alice"}})
	alice, bob := res.Message(t, "alice", "EMAIL"), res.Message(t, "bob", "EMAIL")

	var got []sim.Message
	env.Eventually(t, func() bool {
		got = env.Sim.Messages(channels.Email, "alice@example.com")
		return len(got) == 1
	}, "the SMTP server received alice's email")
	require.Equal(t, alice.ID, got[0].MessageID)
	require.True(t, strings.HasPrefix(got[0].Content, "Soldes pour Alice – été\nBonjour Alice"), got[0].Content)
	require.Equal(t, alice.ID+"@sim.herald.local", got[0].VendorID)

	var m milestones
	env.Eventually(t, func() bool {
		m = rowMilestones(t, env, res.Task.ID, alice.ID)
		return m.status == "CLICKED"
	}, "the open pixel and the click reached Herald")
	require.True(t, m.displayedAt.Valid, "the open was recorded")
	require.False(t, m.clickAt.Time.Before(m.displayedAt.Time), "displayed, then clicked")

	// Bob's client loads nothing (a silent address); his app reports the display, then he
	// clicks the link Herald signed for his message.
	env.Eventually(t, func() bool { return rowMilestones(t, env, res.Task.ID, bob.ID).status == "SENT" }, "bob's email was sent")
	tok, err := env.Herald.Tracker.EventToken(channels.Email, bob.ID)
	require.NoError(t, err)
	body, _ := json.Marshal(map[string]any{"events": []map[string]any{
		{"token": tok, "event": "DISPLAYED"},
		{"message_id": "20200101-0-0-EMAIL", "signature": env.Herald.Tracker.EventSignature("20200101-0-0-EMAIL"), "event": "CLICKED"},
	}})
	resp, err := http.Post(env.URL+"/t/e", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "an event for an unknown message is accepted and ignored")
	env.Eventually(t, func() bool { return rowMilestones(t, env, res.Task.ID, bob.ID).status == "DISPLAYED" }, "the SDK event moved bob's email")

	link, err := env.Herald.Tracker.ClickURL(channels.Email, bob.ID, 0, "https://shop.example/sale?u=Alice")
	require.NoError(t, err)
	resp, err = noFollow.Get(link)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "https://shop.example/sale?u=Alice", resp.Header.Get("Location"))
	env.Eventually(t, func() bool { return rowMilestones(t, env, res.Task.ID, bob.ID).status == "CLICKED" }, "the click moved bob's email")

	// A repeated open changes nothing: statuses only move forward.
	pixel, err := env.Herald.Tracker.OpenURL(channels.Email, bob.ID)
	require.NoError(t, err)
	resp, err = noFollow.Get(pixel)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "image/gif", resp.Header.Get("Content-Type"))

	// Carol's server accepted the email, then bounced it: the bounce posted to
	// /callbacks/email/smtp fails the delivery with the recipient's status.
	carol := res.Message(t, "carol", "EMAIL")
	var row servertest.Row
	env.Eventually(t, func() bool {
		row = env.TaskRows(t, servertest.TaskID(t, res.Task.ID))[carol.ID]
		return row.Status == "FAILED"
	}, "the bounce failed carol's email")
	require.Equal(t, "5.1.1 smtp; 550 5.1.1 The email account that you tried to reach does not exist", row.Reason)
	env.Eventually(t, func() bool { return env.Sim.Stats().Receipts[channels.Email] == 3 },
		"alice's pixel and link were fetched, carol's bounce posted, each once")
	require.EqualValues(t, 3, env.Sim.Stats().Receipts[channels.Email])

	task := env.Task(t, app.Key, res.Task.ID)
	require.EqualValues(t, 2, task.Progress.Displayed)
	require.EqualValues(t, 2, task.Progress.Clicked)
	require.Equal(t, "CLICKED", rowMilestones(t, env, res.Task.ID, bob.ID).status)
}

// A forged, altered or misused /t/c token never redirects.
func TestForgedClickTokenNeverRedirects(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	genuine, err := env.Herald.Tracker.ClickURL(channels.Email, "20261127-1-0-EMAIL", 0, "https://shop.example/")
	require.NoError(t, err)
	other, err := track.NewTracker([]byte("a key Herald does not have, 32 bytes+"), env.URL)
	require.NoError(t, err)
	forged, err := other.ClickURL(channels.Email, "20261127-1-0-EMAIL", 0, "https://evil.example/")
	require.NoError(t, err)
	open, err := env.Herald.Tracker.OpenURL(channels.Email, "20261127-1-0-EMAIL")
	require.NoError(t, err)
	tok := genuine[strings.LastIndex(genuine, "/")+1:]
	altered := []byte(tok)
	if altered[len(altered)/2] == 'A' {
		altered[len(altered)/2] = 'B'
	} else {
		altered[len(altered)/2] = 'A'
	}

	for name, u := range map[string]string{
		"signed with another key": forged,
		"altered":                 env.URL + "/t/c/" + string(altered),
		"an open token":           env.URL + "/t/c/" + strings.TrimSuffix(open[strings.LastIndex(open, "/")+1:], ".gif"),
		"garbage":                 env.URL + "/t/c/https%3A%2F%2Fevil.example%2F",
	} {
		resp, err := noFollow.Get(u)
		require.NoError(t, err, name)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode, name)
		require.Empty(t, resp.Header.Get("Location"), name)
	}
	resp, err := noFollow.Get(genuine)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Equal(t, "https://shop.example/", resp.Header.Get("Location"))
}
