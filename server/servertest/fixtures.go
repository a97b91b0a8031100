package servertest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// App is an app and an API key of it.
type App struct {
	ID  string
	Key Auth
	// Role is the key's role.
	Role string
}

// CreateApp creates an app as admin (a console session) and returns its id.
func (e *Env) CreateApp(t testing.TB, admin Auth, name string) string {
	t.Helper()
	var out struct {
		CreateApp struct{ ID string } `json:"createApp"`
	}
	e.MustDo(t, admin, `mutation($name: String!) { createApp(name: $name) { id name } }`, map[string]any{"name": name}, &out)
	require.NotEmpty(t, out.CreateApp.ID)
	return out.CreateApp.ID
}

// CreateKey creates an API key of role (ADMIN, OPERATOR or VIEWER) for app.
func (e *Env) CreateKey(t testing.TB, admin Auth, appID, role string) Auth {
	t.Helper()
	var out struct {
		CreateAPIKey struct {
			ID, Role, Secret string
		} `json:"createApiKey"`
	}
	e.MustDo(t, admin, `mutation($app: ID!, $role: Role!) { createApiKey(appId: $app, role: $role) { id role secret } }`,
		map[string]any{"app": appID, "role": role}, &out)
	require.Equal(t, role, out.CreateAPIKey.Role)
	require.NotEmpty(t, out.CreateAPIKey.Secret)
	return Key(out.CreateAPIKey.Secret)
}

// AdminKey signs in as the administrator, creates a new app and an API key of role for it,
// all through GraphQL.
func (e *Env) AdminKey(t testing.TB, role string) App {
	t.Helper()
	admin := e.Login(t)
	id := e.CreateApp(t, admin, fmt.Sprintf("app-%d", e.appSeq.Add(1)))
	return App{ID: id, Key: e.CreateKey(t, admin, id, role), Role: role}
}

// Identity is an address of a user on a channel.
type Identity struct {
	Channel string `json:"channel"`
	Address string `json:"address"`
}

// SMS is a phone number identity.
func SMS(phone string) Identity { return Identity{Channel: "SMS", Address: phone} }

// Webhook is a webhook URL identity.
func Webhook(url string) Identity { return Identity{Channel: "WEBHOOK", Address: url} }

// User is the UserInput of upsertUsers.
type User struct {
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
	Identities []Identity     `json:"identities,omitempty"`
}

// WebhookURL is the simulator's webhook receiver for name; a name containing "fail",
// "silent" or "slow" makes the receiver behave so (see API.md).
func (e *Env) WebhookURL(name string) string { return e.SimURL + "/webhook/" + name }

// UpsertUsers creates or updates users of app.
func (e *Env) UpsertUsers(t testing.TB, auth Auth, appID string, users ...User) (created, updated int) {
	t.Helper()
	var out struct {
		UpsertUsers struct{ Created, Updated int } `json:"upsertUsers"`
	}
	e.MustDo(t, auth, `mutation($app: ID!, $users: [UserInput!]!) { upsertUsers(appId: $app, users: $users) { created updated } }`,
		map[string]any{"app": appID, "users": users}, &out)
	return out.UpsertUsers.Created, out.UpsertUsers.Updated
}

// Variable is a declared template variable.
type Variable struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

// Variant is a template's content on one channel.
type Variant struct {
	Channel string         `json:"channel"`
	Title   string         `json:"title,omitempty"`
	Body    string         `json:"body"`
	Extra   map[string]any `json:"extra,omitempty"`
}

// Template is the TemplateInput of createTemplate, without the app.
type Template struct {
	Name      string     `json:"name"`
	Variables []Variable `json:"variables"`
	Variants  []Variant  `json:"variants"`
}

// CreateTemplate creates a template in app and returns its id.
func (e *Env) CreateTemplate(t testing.TB, auth Auth, appID string, tpl Template) string {
	t.Helper()
	in := map[string]any{"appId": appID, "name": tpl.Name, "variables": tpl.Variables, "variants": tpl.Variants}
	var out struct {
		CreateTemplate struct {
			ID      string
			Version int
		} `json:"createTemplate"`
	}
	e.MustDo(t, auth, `mutation($in: TemplateInput!) { createTemplate(input: $in) { id version } }`, map[string]any{"in": in}, &out)
	require.NotEmpty(t, out.CreateTemplate.ID)
	return out.CreateTemplate.ID
}

// CreateRule creates a rule of one route with strategy (CONCURRENT or FALLBACK) over
// channels, and returns its id.
func (e *Env) CreateRule(t testing.TB, auth Auth, appID, name, strategy string, channels ...string) string {
	t.Helper()
	in := map[string]any{"appId": appID, "name": name, "routes": []map[string]any{{"strategy": strategy, "channels": channels}}}
	var out struct {
		CreateRule struct{ ID string } `json:"createRule"`
	}
	e.MustDo(t, auth, `mutation($in: RuleInput!) { createRule(input: $in) { id version } }`, map[string]any{"in": in}, &out)
	require.NotEmpty(t, out.CreateRule.ID)
	return out.CreateRule.ID
}

// SendInput is the SendInput of the send mutation.
type SendInput struct {
	AppID          string         `json:"appId"`
	TemplateID     string         `json:"templateId"`
	RuleID         string         `json:"ruleId"`
	UserIDs        []string       `json:"userIds"`
	Variables      map[string]any `json:"variables,omitempty"`
	IdempotencyKey string         `json:"idempotencyKey,omitempty"`
	Priority       *int           `json:"priority,omitempty"`
}

// MessageRef is one message a send planned.
type MessageRef struct {
	ID      string `json:"id"`
	UserID  string `json:"userId"`
	Channel string `json:"channel"`
	Status  string `json:"status"`
}

// RejectedUser is a user a send could not address.
type RejectedUser struct {
	UserID string `json:"userId"`
	Reason string `json:"reason"`
}

// SendResult is what send answers.
type SendResult struct {
	Task     Task           `json:"task"`
	Messages []MessageRef   `json:"messages"`
	Rejected []RejectedUser `json:"rejected"`
}

// Queued returns the messages the send queued (not suppressed).
func (r *SendResult) Queued() []MessageRef {
	var out []MessageRef
	for _, m := range r.Messages {
		if m.Status == "QUEUED" {
			out = append(out, m)
		}
	}
	return out
}

// Message returns the message of user on channel, failing the test when there is none.
func (r *SendResult) Message(t testing.TB, user, channel string) MessageRef {
	t.Helper()
	for _, m := range r.Messages {
		if m.UserID == user && m.Channel == channel {
			return m
		}
	}
	require.FailNow(t, "no such message", "user %s channel %s in %+v", user, channel, r.Messages)
	return MessageRef{}
}

// SendMutation is the send mutation with every field of SendResult; its variable is $in.
const SendMutation = `mutation($in: SendInput!) {
  send(input: $in) {
    task { id status kind lane }
    messages { id userId channel status }
    rejected { userId reason }
  }
}`

// Send calls the send mutation and returns its result, or its errors.
func (e *Env) Send(t testing.TB, auth Auth, in SendInput) (*SendResult, *Response) {
	t.Helper()
	r := e.Exec(t, auth, SendMutation, map[string]any{"in": in})
	if len(r.Errors) > 0 {
		return nil, r
	}
	var out struct {
		Send SendResult `json:"send"`
	}
	require.NoError(t, json.Unmarshal(r.Data, &out))
	return &out.Send, r
}

// PostSend calls send from any goroutine; it returns the result, or the GraphQL errors, or
// an error when the request failed.
func (e *Env) PostSend(ctx context.Context, auth Auth, in SendInput) (*SendResult, Errors, error) {
	r, err := e.Post(ctx, auth, SendMutation, map[string]any{"in": in})
	if err != nil {
		return nil, nil, err
	}
	if len(r.Errors) > 0 {
		return nil, r.Errors, nil
	}
	var out struct {
		Send SendResult `json:"send"`
	}
	if err := json.Unmarshal(r.Data, &out); err != nil {
		return nil, nil, fmt.Errorf("decoding %s: %w", r.Data, err)
	}
	return &out.Send, nil, nil
}

// MustSend calls send and fails the test on any error.
func (e *Env) MustSend(t testing.TB, auth Auth, in SendInput) *SendResult {
	t.Helper()
	res, r := e.Send(t, auth, in)
	require.Empty(t, r.Errors, "send")
	require.NotEmpty(t, res.Task.ID)
	return res
}

// Progress is a task's TaskProgress.
type Progress struct {
	Total       int64 `json:"total"`
	ShardsTotal int   `json:"shardsTotal"`
	ShardsDone  int   `json:"shardsDone"`
	Sent        int64 `json:"sent"`
	Delivered   int64 `json:"delivered"`
	Displayed   int64 `json:"displayed"`
	Clicked     int64 `json:"clicked"`
	Failed      int64 `json:"failed"`
	Suppressed  int64 `json:"suppressed"`
	Fallbacks   int64 `json:"fallbacks"`
	Redundant   int64 `json:"redundant"`
	Saved       int64 `json:"saved"`
}

// Task is a task as the task query returns it.
type Task struct {
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Kind     string    `json:"kind,omitempty"`
	Lane     string    `json:"lane,omitempty"`
	Progress *Progress `json:"progress,omitempty"`
}

// Task queries a task with its progress; nil when the caller cannot see it.
func (e *Env) Task(t testing.TB, auth Auth, id string) *Task {
	t.Helper()
	var out struct {
		Task *Task `json:"task"`
	}
	e.MustDo(t, auth, `query($id: ID!) { task(id: $id) { id status kind lane
		progress { total shardsTotal shardsDone sent delivered displayed clicked failed suppressed fallbacks redundant saved } } }`,
		map[string]any{"id": id}, &out)
	return out.Task
}

// StatsRow is a row of the stats query.
type StatsRow struct {
	Day        *string `json:"day"`
	Channel    *string `json:"channel"`
	Status     *string `json:"status"`
	TaskID     *string `json:"taskId"`
	TemplateID *string `json:"templateId"`
	Sent       int64   `json:"sent"`
	Delivered  int64   `json:"delivered"`
	Displayed  int64   `json:"displayed"`
	Clicked    int64   `json:"clicked"`
	Failed     int64   `json:"failed"`
	Suppressed int64   `json:"suppressed"`
	Redundant  int64   `json:"redundant"`
	Cost       float64 `json:"cost"`
	// RedundantCost, SavedByFallback and SavedCost are the cost metrics (docs/api.md, "Cost").
	RedundantCost   float64 `json:"redundantCost"`
	SavedByFallback int64   `json:"savedByFallback"`
	SavedCost       float64 `json:"savedCost"`
}

// StatsResult is what the stats query answers.
type StatsResult struct {
	Rows   []StatsRow `json:"rows"`
	Totals StatsRow   `json:"totals"`
}

// Stats queries statistics of app over [from, to) grouped by dims; extra filters go in
// filter (channel, templateId, taskId, limit).
func (e *Env) Stats(t testing.TB, auth Auth, appID string, from, to time.Time, dims []string, filter map[string]any) *StatsResult {
	t.Helper()
	in := map[string]any{"appId": appID, "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339), "dimensions": dims}
	for k, v := range filter {
		in[k] = v
	}
	const fields = "day channel status taskId templateId sent delivered displayed clicked failed suppressed redundant cost redundantCost savedByFallback savedCost"
	var out struct {
		Stats StatsResult `json:"stats"`
	}
	e.MustDo(t, auth, `query($in: StatsInput!) { stats(input: $in) { rows { `+fields+` } totals { `+fields+` } } }`,
		map[string]any{"in": in}, &out)
	return &out.Stats
}
