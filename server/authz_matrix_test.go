package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/herald-msg/herald/server/servertest"
)

// The authorization matrix: every Query, Mutation and Subscription field of schema.graphql
// (subscriptions over graphql-ws) × every API key role × own app / other app, plus
// anonymous callers and a forged key. An operation that is
// in the schema but not in authzCases fails the test, so a new operation has to be judged
// here before it can ship.

// Least role an operation needs on its own app.
const (
	needViewer   = "VIEWER"
	needOperator = "OPERATOR"
	needAdmin    = "ADMIN"
	// needBootstrap: only the bootstrap administrator's console session (every app).
	needBootstrap = "BOOTSTRAP"
)

// How an operation is checked with app A's key against app B's objects referenced from app A
// (appId of A, ids of B's templates, rules, audiences, tasks, addresses).
const (
	mixedNone   = ""       // the operation has no appId besides its object ids (or user ids are per-app names)
	mixedDeny   = "deny"   // must answer FORBIDDEN / NOT_FOUND (or null when nullable)
	mixedNoLeak = "noleak" // may answer, but nothing of B may show
)

// authzApp is one app of the fixture with its objects, all created through GraphQL.
type authzApp struct {
	id, name              string
	user, phone, tag      string
	tpl, tplName, tplBody string
	rule, ruleName        string
	aud, audName          string
	task, taskName        string
	sendTask              string // a task of a realtime send, so the app has deliveries and history
	marker                string
}

// authzCall is what one row's vars function gets.
type authzCall struct {
	env   *servertest.Env
	admin servertest.Auth
	app   *authzApp // the app the appId arguments name
	obj   *authzApp // the app whose object ids are used
	own   bool      // app and objects of the caller's own app (A)
	seq   func() int
	a     *authzApp
}

// uniq returns a fresh name of the caller's app (never one of B's names).
func (c *authzCall) uniq(prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, c.a.marker, c.seq())
}

type authzCase struct {
	op       string
	query    string
	vars     func(t *testing.T, c *authzCall) map[string]any
	need     string
	nullable bool   // answers null for an object the caller cannot see
	mixed    string // mixedNone, mixedDeny or mixedNoLeak
	noTarget bool   // targets no app (apps, createApp): the "other" run only checks that nothing of B shows
	upload   bool   // $file is a multipart upload
	// subscription runs the document over graphql-ws and judges its first answer.
	subscription bool
}

func window() (string, string) {
	now := time.Now().UTC()
	return now.Add(-2 * time.Hour).Format(time.RFC3339), now.Add(2 * time.Hour).Format(time.RFC3339)
}

// freshTask creates a GROUP task of c.a starting tomorrow (SCHEDULED), paused when asked,
// as the administrator; own-app task mutations each get one so roles do not race on states.
func freshTask(t *testing.T, c *authzCall, paused bool) string {
	t.Helper()
	var out struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	c.env.MustDo(t, c.admin, `mutation($in: TaskInput!) { createTask(input: $in) { id } }`, map[string]any{"in": taskInput(c.a, c.a, c.uniq("task"))}, &out)
	if paused {
		c.env.MustDo(t, c.admin, `mutation($id: ID!) { pauseTask(id: $id) { id status } }`, map[string]any{"id": out.CreateTask.ID}, nil)
	}
	return out.CreateTask.ID
}

func taskInput(app, obj *authzApp, name string) map[string]any {
	return map[string]any{"appId": app.id, "name": name, "kind": "GROUP", "templateId": obj.tpl, "ruleId": obj.rule,
		"audienceId": obj.aud, "variables": map[string]any{"code": "1"},
		"startAt": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}
}

func templateInput(appID, name string) map[string]any {
	return map[string]any{"appId": appID, "name": name,
		"variables": []map[string]any{{"name": "code", "type": "string", "required": true}},
		"variants":  []map[string]any{{"channel": "SMS", "body": "hijacked {{code}}"}}}
}

func ruleInput(appID, name string) map[string]any {
	return map[string]any{"appId": appID, "name": name, "routes": []map[string]any{{"strategy": "CONCURRENT", "channels": []string{"SMS"}}}}
}

func settingsInput() map[string]any {
	return map[string]any{"timeZone": "UTC", "quietHours": map[string]any{"enabled": false, "start": "22:00", "end": "07:00"},
		"frequencyCap": map[string]any{"max": 1, "window": "1h"}, "dedupeWindow": "1m"}
}

// authzCases is the table: one row per operation of schema.graphql (login, logout and me
// excepted). Each document targets c.app / c.obj, which the test sets to app A (own), app B
// (other) or A with B's object ids (mixed).
var authzCases = []authzCase{
	// ---- queries ----
	{op: "apps", need: needViewer, noTarget: true,
		query: `query { apps { id name } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return nil }},
	{op: "user", need: needViewer, nullable: true,
		query: `query($app: ID!, $id: ID!) { user(appId: $app, id: $id) { id attributes tags identities { channel address users { id } } messages(first: 10) { edges { node { id address body } } } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"app": c.app.id, "id": c.obj.user}
		}},
	{op: "users", need: needViewer,
		query: `query($app: ID!) { users(appId: $app, first: 50) { edges { node { id tags attributes } } } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"app": c.app.id} }},
	{op: "identityOwners", need: needViewer, mixed: mixedNoLeak,
		query: `query($app: ID!, $addr: String!) { identityOwners(appId: $app, channel: SMS, address: $addr) { id tags } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"app": c.app.id, "addr": c.obj.phone}
		}},
	{op: "audience", need: needViewer, nullable: true,
		query: `query($id: ID!) { audience(id: $id) { id name kind size sample(n: 5) { id } } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"id": c.obj.aud} }},
	{op: "audiences", need: needViewer,
		query: `query($app: ID!) { audiences(appId: $app) { id name } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"app": c.app.id} }},
	{op: "previewAudience", need: needViewer,
		query: `query($in: AudiencePreviewInput!) { previewAudience(input: $in) { size sample { id tags } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"in": map[string]any{"appId": c.app.id, "kind": "STATIC", "userIds": []string{c.obj.user}}}
		}},
	{op: "template", need: needViewer, nullable: true,
		query: `query($id: ID!) { template(id: $id) { id appId name version variants { channel body } } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"id": c.obj.tpl} }},
	{op: "templates", need: needViewer,
		query: `query($app: ID!) { templates(appId: $app) { id name variants { body } } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"app": c.app.id} }},
	{op: "rule", need: needViewer, nullable: true,
		query: `query($id: ID!) { rule(id: $id) { id appId name version routes { channels } } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"id": c.obj.rule} }},
	{op: "rules", need: needViewer,
		query: `query($app: ID!) { rules(appId: $app) { id name } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"app": c.app.id} }},
	{op: "planRoute", need: needViewer,
		query: `query($rule: ID!, $user: ID!) { planRoute(ruleId: $rule, userId: $user, variables: {code: "1"}) { route steps { channel address } suppressed { channel reason } reason } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"rule": c.obj.rule, "user": c.obj.user}
		}},
	{op: "simulateRule", need: needViewer,
		query: `query($rule: ID!, $aud: ID!, $tpl: ID) { simulateRule(ruleId: $rule, audienceId: $aud, templateId: $tpl, variables: {code: "1"}) { users channels { channel users } unreachable noRoute cost } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"rule": c.obj.rule, "aud": c.obj.aud, "tpl": c.obj.tpl}
		}},
	{op: "previewTemplate", need: needViewer,
		query: `query($id: ID!) { previewTemplate(id: $id, channel: SMS, variables: {code: "1"}) { channel title body segments } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"id": c.obj.tpl} }},
	{op: "task", need: needViewer, nullable: true,
		query: `query($id: ID!) { task(id: $id) { id appId name status template { name variants { body } } rule { name } progress { total } } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"id": c.obj.task} }},
	{op: "tasks", need: needViewer,
		query: `query($app: ID!) { tasks(appId: $app, first: 50) { edges { node { id name template { name } } } } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"app": c.app.id} }},
	{op: "deliveries", need: needViewer, mixed: mixedNoLeak,
		query: `query($f: DeliveryFilter!) { deliveries(filter: $f, first: 100) { edges { node { id taskId userId address status } } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			from, to := window()
			return map[string]any{"f": map[string]any{"appId": c.app.id, "taskId": c.obj.sendTask, "from": from, "to": to}}
		}},
	{op: "stats", need: needViewer, mixed: mixedNoLeak,
		query: `query($in: StatsInput!) { stats(input: $in) { rows { appId channel taskId templateId sent } totals { sent cost } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			from, to := window()
			return map[string]any{"in": map[string]any{"appId": c.app.id, "from": from, "to": to,
				"dimensions": []string{"APP", "TASK", "TEMPLATE", "CHANNEL"}, "templateId": c.obj.tpl, "taskId": c.obj.sendTask}}
		}},
	{op: "channels", need: needViewer,
		query: `query($app: ID!) { channels(appId: $app) { channel provider circuit } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"app": c.app.id} }},
	{op: "auditLog", need: needAdmin, mixed: mixedNoLeak,
		query: `query($app: ID) { auditLog(appId: $app, first: 500) { edges { node { actor action appId target } } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			if c.app != c.obj { // mixed: no appId, "every app I administer"
				return map[string]any{"app": nil}
			}
			return map[string]any{"app": c.app.id}
		}},

	// ---- mutations ----
	{op: "createApp", need: needBootstrap, noTarget: true,
		query: `mutation($name: String!) { createApp(name: $name) { id name } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"name": c.uniq("app")} }},
	{op: "createConsoleUser", need: needAdmin,
		query: `mutation($in: ConsoleUserInput!) { createConsoleUser(input: $in) { email role apps { id name } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"in": map[string]any{"email": c.uniq("viewer") + "@example.com", "password": "viewer-password",
				"role": "VIEWER", "appIds": []string{c.app.id}}}
		}},
	{op: "createApiKey", need: needAdmin,
		query: `mutation($app: ID!) { createApiKey(appId: $app, role: ADMIN) { id role secret } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"app": c.app.id} }},
	{op: "rotateInboxSecret", need: needAdmin,
		query: `mutation($app: ID!) { rotateInboxSecret(appId: $app) { appId secret } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"app": c.app.id} }},
	{op: "updateAppSettings", need: needAdmin,
		query: `mutation($app: ID!, $in: AppSettingsInput!) { updateAppSettings(appId: $app, input: $in) { id name settings { timeZone } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"app": c.app.id, "in": settingsInput()}
		}},
	{op: "setOptOut", need: needOperator,
		query: `mutation($app: ID!, $user: ID!) { setOptOut(appId: $app, userId: $user, channel: SMS, class: MARKETING, optedOut: true) }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"app": c.app.id, "user": c.obj.user}
		}},
	{op: "upsertUsers", need: needOperator,
		query: `mutation($app: ID!, $users: [UserInput!]!) { upsertUsers(appId: $app, users: $users) { created updated } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"app": c.app.id, "users": []map[string]any{{"id": c.obj.user, "tags": []string{"hijacked"}}}}
		}},
	{op: "importUsers", need: needOperator, upload: true,
		query: `mutation($app: ID!, $file: Upload!) { importUsers(appId: $app, file: $file) { rows imported errors { row reason } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"app": c.app.id, "file": "id,tags\n" + c.obj.user + ",hijacked\n"}
		}},
	{op: "bindIdentity", need: needOperator,
		query: `mutation($app: ID!, $user: ID!, $addr: String!) { bindIdentity(appId: $app, userId: $user, identity: {channel: SMS, address: $addr}) { id tags identities { address } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"app": c.app.id, "user": c.obj.user, "addr": fmt.Sprintf("+861390000%04d", c.seq())}
		}},
	{op: "unbindIdentity", need: needOperator,
		query: `mutation($app: ID!, $user: ID!, $addr: String!) { unbindIdentity(appId: $app, userId: $user, identity: {channel: SMS, address: $addr}) { id tags identities { address } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			if c.own { // a fresh address to unbind, so every role has something to do
				addr := fmt.Sprintf("+861370000%04d", c.seq())
				c.env.MustDo(t, c.admin, `mutation($app: ID!, $user: ID!, $addr: String!) { bindIdentity(appId: $app, userId: $user, identity: {channel: SMS, address: $addr}) { id } }`,
					map[string]any{"app": c.app.id, "user": c.obj.user, "addr": addr}, nil)
				return map[string]any{"app": c.app.id, "user": c.obj.user, "addr": addr}
			}
			return map[string]any{"app": c.app.id, "user": c.obj.user, "addr": c.obj.phone}
		}},
	{op: "tagUsers", need: needOperator,
		query: `mutation($app: ID!, $users: [ID!]!) { tagUsers(appId: $app, userIds: $users, tags: ["hijacked"]) }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"app": c.app.id, "users": []string{c.obj.user}}
		}},
	{op: "untagUsers", need: needOperator,
		query: `mutation($app: ID!, $users: [ID!]!, $tag: String!) { untagUsers(appId: $app, userIds: $users, tags: [$tag]) }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"app": c.app.id, "users": []string{c.obj.user}, "tag": c.obj.tag}
		}},
	{op: "createAudience", need: needOperator,
		query: `mutation($in: AudienceInput!) { createAudience(input: $in) { id name size sample { id } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"in": map[string]any{"appId": c.app.id, "name": c.uniq("aud"), "kind": "STATIC", "userIds": []string{c.obj.user}}}
		}},
	{op: "createTemplate", need: needOperator,
		query: `mutation($in: TemplateInput!) { createTemplate(input: $in) { id name version } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"in": templateInput(c.app.id, c.uniq("tpl"))}
		}},
	{op: "updateTemplate", need: needOperator, mixed: mixedDeny,
		query: `mutation($id: ID!, $in: TemplateInput!) { updateTemplate(id: $id, input: $in) { id appId name version variants { body } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"id": c.obj.tpl, "in": templateInput(c.app.id, c.uniq("tpl"))}
		}},
	{op: "createRule", need: needOperator,
		query: `mutation($in: RuleInput!) { createRule(input: $in) { id name version } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"in": ruleInput(c.app.id, c.uniq("rule"))}
		}},
	{op: "updateRule", need: needOperator, mixed: mixedDeny,
		query: `mutation($id: ID!, $in: RuleInput!) { updateRule(id: $id, input: $in) { id appId name version } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"id": c.obj.rule, "in": ruleInput(c.app.id, c.uniq("rule"))}
		}},
	{op: "send", need: needOperator, mixed: mixedDeny,
		query: servertest.SendMutation,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			users := []string{c.obj.user}
			if c.app != c.obj { // mixed: A's own user with B's template and rule
				users = []string{c.app.user}
			}
			return map[string]any{"in": map[string]any{"appId": c.app.id, "templateId": c.obj.tpl, "ruleId": c.obj.rule,
				"userIds": users, "variables": map[string]any{"code": "1"}}}
		}},
	{op: "createTask", need: needOperator, mixed: mixedDeny,
		query: `mutation($in: TaskInput!) { createTask(input: $in) { id appId name status template { name variants { body } } rule { name } } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			return map[string]any{"in": taskInput(c.app, c.obj, c.uniq("task"))}
		}},
	{op: "pauseTask", need: needOperator,
		query: `mutation($id: ID!) { pauseTask(id: $id) { id name status } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			if c.own {
				return map[string]any{"id": freshTask(t, c, false)}
			}
			return map[string]any{"id": c.obj.task}
		}},
	{op: "resumeTask", need: needOperator,
		query: `mutation($id: ID!) { resumeTask(id: $id) { id name status } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			if c.own {
				return map[string]any{"id": freshTask(t, c, true)}
			}
			return map[string]any{"id": c.obj.task}
		}},
	{op: "cancelTask", need: needOperator,
		query: `mutation($id: ID!) { cancelTask(id: $id) { id name status } }`,
		vars: func(t *testing.T, c *authzCall) map[string]any {
			if c.own {
				return map[string]any{"id": freshTask(t, c, false)}
			}
			return map[string]any{"id": c.obj.task}
		}},

	// ---- subscriptions ----
	{op: "taskProgress", need: needViewer, subscription: true,
		query: `subscription($id: ID!) { taskProgress(id: $id) { total shardsTotal sent delivered } }`,
		vars:  func(t *testing.T, c *authzCall) map[string]any { return map[string]any{"id": c.obj.task} }},
}

// authzSkipped are the operations every caller may use on itself.
var authzSkipped = []string{"login", "logout", "me"}

func rank(role string) int {
	switch role {
	case needViewer:
		return 1
	case needOperator:
		return 2
	case needAdmin:
		return 3
	}
	return 4 // needBootstrap: no API key reaches it
}

// postUpload sends a GraphQL multipart request with vars["file"] as the file.
func postUpload(t *testing.T, env *servertest.Env, auth servertest.Auth, query string, vars map[string]any) *servertest.Response {
	t.Helper()
	content, _ := vars["file"].(string)
	v := map[string]any{}
	for k, x := range vars {
		v[k] = x
	}
	v["file"] = nil
	ops, err := json.Marshal(map[string]any{"query": query, "variables": v})
	require.NoError(t, err)
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	require.NoError(t, w.WriteField("operations", string(ops)))
	require.NoError(t, w.WriteField("map", `{"0":["variables.file"]}`))
	fw, err := w.CreateFormFile("0", "users.csv")
	require.NoError(t, err)
	_, _ = io.WriteString(fw, content)
	require.NoError(t, w.Close())
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, env.URL+"/graphql", &body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if auth.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+auth.APIKey)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := &servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	var parsed struct {
		Data   json.RawMessage   `json:"data"`
		Errors servertest.Errors `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(raw, &parsed), "answer of multipart /graphql (HTTP %d): %s", resp.StatusCode, raw)
	out.Data, out.Errors = parsed.Data, parsed.Errors
	return out
}

func authzDo(t *testing.T, env *servertest.Env, auth servertest.Auth, tc authzCase, vars map[string]any) *servertest.Response {
	t.Helper()
	if tc.upload {
		return postUpload(t, env, auth, tc.query, vars)
	}
	if tc.subscription {
		return subscribeOnce(t, env, auth, tc.query, vars)
	}
	return env.Exec(t, auth, tc.query, vars)
}

// field returns data.<op>, or "null" when there is none.
func field(r *servertest.Response, op string) string {
	var d map[string]json.RawMessage
	if len(r.Data) == 0 || json.Unmarshal(r.Data, &d) != nil {
		return "null"
	}
	v, ok := d[op]
	if !ok || len(v) == 0 {
		return "null"
	}
	return string(v)
}

func codes(r *servertest.Response) []string {
	out := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		out[i] = e.Code()
	}
	return out
}

// denied reports whether r refuses: errors all FORBIDDEN or NOT_FOUND and no data for op.
func denied(r *servertest.Response, op string) bool {
	if len(r.Errors) == 0 || field(r, op) != "null" {
		return false
	}
	for _, c := range codes(r) {
		if c != "FORBIDDEN" && c != "NOT_FOUND" {
			return false
		}
	}
	return true
}

// secrets of B: names that never appear in any input the test sends, checked on the whole
// body (errors included), and ids that the test does send (so may be echoed in an error
// message), checked on the data only.
func bodySecrets(b *authzApp) []string {
	return []string{b.name, b.tplName, b.tplBody, b.ruleName, b.audName, b.taskName, b.phone[len(b.phone)-6:], "city-" + b.marker}
}

func dataSecrets(b *authzApp) []string {
	// Ids are per-type sequences (A's template 2 and B's rule 2 may both exist), so ids are
	// looked for only under keys that name their type; every document also selects names.
	return append(bodySecrets(b), b.user, b.tag, b.marker,
		`"appId":"`+b.id+`"`, `"templateId":"`+b.tpl+`"`, `"taskId":"`+b.task+`"`, `"taskId":"`+b.sendTask+`"`)
}

func assertNoLeak(t *testing.T, r *servertest.Response, b *authzApp) {
	t.Helper()
	body := string(r.Body)
	for _, s := range bodySecrets(b) {
		if strings.Contains(body, s) {
			t.Errorf("LEAK: the answer contains %q of app B: %s", s, body)
		}
	}
	data := string(r.Data)
	for _, s := range dataSecrets(b) {
		if strings.Contains(data, s) {
			t.Errorf("LEAK: the data contains %s of app B: %s", s, data)
		}
	}
}

func makeAuthzApp(t *testing.T, env *servertest.Env, admin servertest.Auth, marker string) *authzApp {
	t.Helper()
	a := &authzApp{marker: marker, name: "app-" + marker, user: "user-" + marker, tag: "tag-" + marker,
		tplName: "tpl-" + marker, tplBody: "body-" + marker, ruleName: "rule-" + marker,
		audName: "aud-" + marker, taskName: "task-" + marker}
	if marker == "zqxB" {
		a.phone = "+8613812340042"
	} else {
		a.phone = "+8613812340041"
	}
	a.id = env.CreateApp(t, admin, a.name)
	env.UpsertUsers(t, admin, a.id, servertest.User{ID: a.user, Attributes: map[string]any{"city": "city-" + marker},
		Tags: []string{a.tag}, Identities: []servertest.Identity{servertest.SMS(a.phone), servertest.Webhook(env.WebhookURL(a.user))}})
	a.tpl = env.CreateTemplate(t, admin, a.id, servertest.Template{Name: a.tplName,
		Variables: []servertest.Variable{{Name: "code", Type: "string", Required: true}},
		Variants: []servertest.Variant{{Channel: "SMS", Body: a.tplBody + " {{code}}"},
			{Channel: "WEBHOOK", Title: "t", Body: a.tplBody + " {{code}}"}}})
	a.rule = env.CreateRule(t, admin, a.id, a.ruleName, "CONCURRENT", "SMS", "WEBHOOK")
	var aud struct {
		CreateAudience struct{ ID string } `json:"createAudience"`
	}
	env.MustDo(t, admin, `mutation($in: AudienceInput!) { createAudience(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"appId": a.id, "name": a.audName, "kind": "STATIC", "userIds": []string{a.user}}}, &aud)
	a.aud = aud.CreateAudience.ID
	var task struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	env.MustDo(t, admin, `mutation($in: TaskInput!) { createTask(input: $in) { id status } }`,
		map[string]any{"in": taskInput(a, a, a.taskName)}, &task)
	a.task = task.CreateTask.ID
	res := env.MustSend(t, admin, servertest.SendInput{AppID: a.id, TemplateID: a.tpl, RuleID: a.rule, UserIDs: []string{a.user},
		Variables: map[string]any{"code": "1"}})
	a.sendTask = res.Task.ID
	require.NotEmpty(t, a.id)
	require.NotEmpty(t, a.task)
	return a
}

func TestAuthorizationMatrix(t *testing.T) {
	// Every operation of the schema has a row, and every row an operation.
	src, err := os.ReadFile(filepath.Join("..", "schema.graphql"))
	require.NoError(t, err)
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: string(src)})
	require.Nil(t, gerr, "schema.graphql")
	var ops []string
	for _, typ := range []*ast.Definition{schema.Query, schema.Mutation, schema.Subscription} {
		for _, f := range typ.Fields {
			if strings.HasPrefix(f.Name, "__") || slices.Contains(authzSkipped, f.Name) {
				continue
			}
			ops = append(ops, f.Name)
		}
	}
	rows := map[string]authzCase{}
	for _, tc := range authzCases {
		_, dup := rows[tc.op]
		require.False(t, dup, "authzCases has two rows for %s", tc.op)
		rows[tc.op] = tc
	}
	for _, op := range ops {
		if _, ok := rows[op]; !ok {
			t.Errorf("operation %s of schema.graphql has no row in authzCases: add one and decide who may call it", op)
		}
	}
	for op := range rows {
		if !slices.Contains(ops, op) {
			t.Errorf("authzCases has a row for %s, which schema.graphql does not have", op)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	env := servertest.Start(t)
	admin := env.Login(t)
	a := makeAuthzApp(t, env, admin, "zqxA")
	b := makeAuthzApp(t, env, admin, "zqxB")
	keys := map[string]servertest.Auth{}
	roles := []string{needAdmin, needOperator, needViewer}
	for _, role := range roles {
		keys[role] = env.CreateKey(t, admin, a.id, role)
	}
	var n atomic.Int64
	seq := func() int { return int(n.Add(1)) }
	call := func(app, obj *authzApp, own bool) *authzCall {
		return &authzCall{env: env, admin: admin, app: app, obj: obj, own: own, seq: seq, a: a}
	}

	for _, tc := range authzCases {
		t.Run(tc.op, func(t *testing.T) {
			for _, role := range roles {
				key := keys[role]
				// Other app: B's appId and B's objects, with A's key.
				t.Run(role+"/other", func(t *testing.T) {
					r := authzDo(t, env, key, tc, tc.vars(t, call(b, b, false)))
					assertNoLeak(t, r, b)
					switch {
					case tc.noTarget && tc.need == needBootstrap:
						if !denied(r, tc.op) || !slices.Contains(codes(r), "FORBIDDEN") {
							t.Errorf("%s with app A's %s key: want FORBIDDEN, got errors %v data %s", tc.op, role, r.Errors, r.Data)
						}
					case tc.noTarget:
						require.Empty(t, r.Errors, "%s with app A's %s key", tc.op, role)
					case tc.nullable && len(r.Errors) == 0:
						if got := field(r, tc.op); got != "null" {
							t.Errorf("%s on app B's object with app A's %s key: want null or FORBIDDEN/NOT_FOUND, got %s", tc.op, role, got)
						}
					default:
						if !denied(r, tc.op) {
							t.Errorf("%s on app B with app A's %s key: want FORBIDDEN or NOT_FOUND, got codes %v errors %v data %s", tc.op, role, codes(r), r.Errors, r.Data)
						}
					}
				})
				// Mixed: app A's appId with B's object ids.
				if tc.mixed != mixedNone {
					t.Run(role+"/mixed", func(t *testing.T) {
						r := authzDo(t, env, key, tc, tc.vars(t, call(a, b, false)))
						assertNoLeak(t, r, b)
						if tc.mixed == mixedDeny && rank(role) >= rank(tc.need) {
							// With a role that may use the operation on A, B's objects must still not be reachable.
							if !(tc.nullable && len(r.Errors) == 0 && field(r, tc.op) == "null") && !denied(r, tc.op) {
								t.Errorf("%s in app A naming app B's objects, %s key: want FORBIDDEN or NOT_FOUND, got codes %v errors %v data %s", tc.op, role, codes(r), r.Errors, r.Data)
							}
						}
						if tc.mixed == mixedNoLeak {
							for _, e := range r.Errors {
								if e.Code() == "INTERNAL" {
									t.Errorf("%s in app A naming app B's objects, %s key: INTERNAL error %v", tc.op, role, e)
								}
							}
						}
					})
				}
				// Own app: allowed from the operation's least role up, FORBIDDEN below it.
				t.Run(role+"/own", func(t *testing.T) {
					r := authzDo(t, env, key, tc, tc.vars(t, call(a, a, true)))
					assertNoLeak(t, r, b)
					if rank(role) >= rank(tc.need) {
						if len(r.Errors) > 0 || field(r, tc.op) == "null" {
							t.Errorf("%s on app A with its %s key: want allowed, got codes %v errors %v data %s", tc.op, role, codes(r), r.Errors, r.Data)
						}
						return
					}
					if len(r.Errors) == 0 || field(r, tc.op) != "null" || slices.ContainsFunc(codes(r), func(c string) bool { return c != "FORBIDDEN" }) {
						t.Errorf("%s on app A with its %s key (needs %s): want FORBIDDEN, got codes %v errors %v data %s", tc.op, role, tc.need, codes(r), r.Errors, r.Data)
					}
				})
			}
			// The bootstrap administrator's session may do everything on app A.
			t.Run("SESSION/own", func(t *testing.T) {
				if tc.upload {
					t.Skip("a session cookie authenticates only application/json requests (CSRF rule); multipart is for keys")
				}
				r := authzDo(t, env, admin, tc, tc.vars(t, call(a, a, true)))
				if len(r.Errors) > 0 || field(r, tc.op) == "null" {
					t.Errorf("%s on app A as the bootstrap administrator: want allowed, got codes %v errors %v", tc.op, codes(r), r.Errors)
				}
			})
			// No key, and a forged one.
			for name, auth := range map[string]servertest.Auth{"NONE": {}, "FORGED": servertest.Key("hk_000000000000_forgedforgedforgedforged00")} {
				t.Run(name, func(t *testing.T) {
					r := authzDo(t, env, auth, tc, tc.vars(t, call(a, a, true)))
					assertNoLeak(t, r, b)
					cs := codes(r)
					if len(cs) == 0 || field(r, tc.op) != "null" || slices.ContainsFunc(cs, func(c string) bool { return c != "UNAUTHENTICATED" }) {
						t.Errorf("%s as %s: want UNAUTHENTICATED, got HTTP %d codes %v errors %v data %s", tc.op, name, r.Status, cs, r.Errors, r.Data)
					}
				})
			}
		})
	}

	// Nothing of B changed through A's keys.
	t.Run("B unchanged", func(t *testing.T) {
		var out struct {
			Template struct {
				Name    string
				Version int
			}
			Rule struct {
				Name    string
				Version int
			}
			Task struct{ Status string }
			User struct {
				Tags       []string
				Identities []struct{ Address string }
			}
			Audience struct{ Size json.RawMessage }
			Users    struct {
				Edges []struct{ Node struct{ ID string } }
			}
			Audiences []struct{ ID string }
			Templates []struct{ ID string }
			Rules     []struct{ ID string }
			Apps      []struct {
				ID       string
				Settings struct{ TimeZone string }
			}
		}
		env.MustDo(t, admin, `query($app: ID!, $tpl: ID!, $rule: ID!, $task: ID!, $user: ID!, $aud: ID!) {
			template(id: $tpl) { name version } rule(id: $rule) { name version } task(id: $task) { status }
			user(appId: $app, id: $user) { tags identities { address } } audience(id: $aud) { size }
			users(appId: $app) { edges { node { id } } } audiences(appId: $app) { id } templates(appId: $app) { id } rules(appId: $app) { id }
			apps { id settings { timeZone } } }`,
			map[string]any{"app": b.id, "tpl": b.tpl, "rule": b.rule, "task": b.task, "user": b.user, "aud": b.aud}, &out)
		require.Equal(t, b.tplName, out.Template.Name)
		require.Equal(t, 1, out.Template.Version, "B's template got a new version")
		require.Equal(t, b.ruleName, out.Rule.Name)
		require.Equal(t, 1, out.Rule.Version, "B's rule got a new version")
		require.Equal(t, "SCHEDULED", out.Task.Status, "B's task changed state")
		require.Equal(t, []string{b.tag}, out.User.Tags, "B's user's tags changed")
		require.Len(t, out.User.Identities, 2, "B's user's identities changed: %+v", out.User.Identities)
		require.Equal(t, "1", strings.Trim(string(out.Audience.Size), `"`), "B's audience size")
		require.Len(t, out.Users.Edges, 1, "B's users changed: %+v", out.Users.Edges)
		require.Len(t, out.Audiences, 1)
		require.Len(t, out.Templates, 1)
		require.Len(t, out.Rules, 1)
		var secrets int
		require.NoError(t, env.DB.Core.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM settings WHERE name = ?", "inbox_secret:"+b.id).Scan(&secrets))
		require.Zero(t, secrets, "an inbox secret was made for B")
		for _, app := range out.Apps {
			if app.ID == b.id {
				require.NotEqual(t, "UTC", app.Settings.TimeZone, "B's settings were replaced")
			}
		}
	})
}
