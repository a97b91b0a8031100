package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/secret"
	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/server/servertest"
)

// postGraphQL posts a GraphQL document to the Herald at base with an API key.
func postGraphQL(t *testing.T, base, key, query string, vars map[string]any) servertest.Errors {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out struct {
		Errors servertest.Errors `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	return out.Errors
}

func userTags(t *testing.T, env *servertest.Env, auth servertest.Auth, appID, userID string) []string {
	t.Helper()
	var out struct {
		User struct{ Tags []string } `json:"user"`
	}
	env.MustDo(t, auth, `query($app: ID!, $id: ID!) { user(appId: $app, id: $id) { tags } }`, map[string]any{"app": appID, "id": userID}, &out)
	return out.User.Tags
}

const tagMutation = `mutation($app: ID!, $tag: String!) { tagUsers(appId: $app, userIds: ["u1"], tags: [$tag]) }`

// TestMutationRateLimit: each API key and console user has a budget of mutations shared
// by every Herald process; past it a mutation is refused with RATE_LIMITED and does not run,
// while queries and other callers go on.
func TestMutationRateLimit(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithEnv("HERALD_MUTATION_RATE", "1/h"), servertest.WithEnv("HERALD_MUTATION_BURST", "6"))
	admin := env.Login(t)                                    // login is not limited by it (it has its own back-off)
	appID := env.CreateApp(t, admin, "limited")              // the session's 1st mutation
	k1 := env.CreateKey(t, admin, appID, "OPERATOR")         // 2nd
	k2 := env.CreateKey(t, admin, appID, "OPERATOR")         // 3rd
	env.UpsertUsers(t, k1, appID, servertest.User{ID: "u1"}) // k1's 1st
	tag := func(auth servertest.Auth, tag string) *servertest.Response {
		return env.Exec(t, auth, tagMutation, map[string]any{"app": appID, "tag": tag})
	}
	for i := 2; i <= 6; i++ {
		r := tag(k1, fmt.Sprintf("ok-%d", i))
		require.Empty(t, r.Errors, "mutation %d of k1", i)
	}
	r := tag(k1, "over-the-limit")
	require.Len(t, r.Errors, 1)
	require.Equal(t, "RATE_LIMITED", r.Errors[0].Code())
	require.Positive(t, r.Errors[0].Extensions["retryAfterMs"])
	require.Equal(t, "null", field(r, "tagUsers"))

	// Queries are not limited; the refused mutation did not run; another key has its own budget.
	tags := userTags(t, env, k1, appID, "u1")
	require.NotContains(t, tags, "over-the-limit")
	require.Contains(t, tags, "ok-6")
	require.Empty(t, tag(k2, "k2-first").Errors)

	// A second Herald process on the same databases and Redis shares the budget.
	cfg := env.Config
	cfg.HTTPAddr = "127.0.0.1:0"
	h2, err := server.New(cfg, server.Mode{API: true}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h2.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-h2.Ready:
	case err := <-done:
		t.Fatalf("the second process stopped: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the second process was not ready in time")
	}
	other := "http://" + h2.Addr.Load().(string)
	errs := postGraphQL(t, other, k1.APIKey, tagMutation, map[string]any{"app": appID, "tag": "other-process"})
	require.Len(t, errs, 1)
	require.Equal(t, "RATE_LIMITED", errs[0].Code(), "k1's budget is spent in every process")
	require.Empty(t, postGraphQL(t, other, k2.APIKey, tagMutation, map[string]any{"app": appID, "tag": "k2-second"}))
	require.NotContains(t, userTags(t, env, k2, appID, "u1"), "other-process")

	// An operation of several mutations needs a token for each, or none of them runs.
	r = env.Exec(t, k2, `mutation($app: ID!) {
		a: tagUsers(appId: $app, userIds: ["u1"], tags: ["batch-a"]) b: tagUsers(appId: $app, userIds: ["u1"], tags: ["batch-b"])
		c: tagUsers(appId: $app, userIds: ["u1"], tags: ["batch-c"]) d: tagUsers(appId: $app, userIds: ["u1"], tags: ["batch-d"])
		e: tagUsers(appId: $app, userIds: ["u1"], tags: ["batch-e"]) }`, map[string]any{"app": appID})
	require.Len(t, r.Errors, 1)
	require.Equal(t, "RATE_LIMITED", r.Errors[0].Code())
	tags = userTags(t, env, k2, appID, "u1")
	for _, tg := range []string{"batch-a", "batch-b", "batch-c", "batch-d", "batch-e"} {
		require.NotContains(t, tags, tg)
	}

	// A console user has a budget of its own: three left after the setup.
	for i := range 3 {
		require.Empty(t, tag(admin, fmt.Sprintf("admin-%d", i)).Errors, "session mutation %d", i+4)
	}
	r = tag(admin, "admin-over")
	require.Equal(t, "RATE_LIMITED", r.Errors[0].Code())
	require.NotContains(t, userTags(t, env, admin, appID, "u1"), "admin-over")

	// Nothing refused reached the audit log.
	raw, gerrs := env.Do(t, admin, `query($app: ID) { auditLog(appId: $app, first: 500) { edges { node { action } } } }`, map[string]any{"app": appID})
	require.Empty(t, gerrs)
	var audit struct {
		AuditLog struct {
			Edges []struct{ Node struct{ Action string } }
		} `json:"auditLog"`
	}
	require.NoError(t, json.Unmarshal(raw, &audit))
	n := 0
	for _, e := range audit.AuditLog.Edges {
		if e.Node.Action == "tagUsers" {
			n++
		}
	}
	require.Equal(t, 5+1+1+3, n, "tagUsers mutations that ran: k1 5, k2 2 (one per process), admin 3")
}

// TestAliyunReceiptReplayChangesNothing: a delivery report posted again, identical or
// claiming a status that would move a message backwards, changes no delivery row and no
// count; a captured push replayed after the window is refused.
func TestAliyunReceiptReplayChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env
	env.UpsertUsers(t, b.key, b.appID, b.user("alice", "+8613800138201"), b.user("carol", "+8613800131111"), b.user("dave", "+8613800121111"))
	// One send each, so that each SMS request carries its message id.
	sends := map[string]*servertest.SendResult{}
	for _, u := range []string{"alice", "carol", "dave"} {
		sends[u] = env.MustSend(t, b.key, b.send([]string{u}, codeVars("777")))
	}
	aliceSMS, carolSMS, daveSMS := sends["alice"].Message(t, "alice", "SMS").ID, sends["carol"].Message(t, "carol", "SMS").ID, sends["dave"].Message(t, "dave", "SMS").ID
	row := func(user, id string) servertest.Row {
		return env.TaskRows(t, servertest.TaskID(t, sends[user].Task.ID))[id]
	}
	env.Await(t, func() error {
		a, c, d := row("alice", aliceSMS), row("carol", carolSMS), row("dave", daveSMS)
		if a.Status != "DELIVERED" || c.Status != "SENT" || d.Status != "SENT" {
			return fmt.Errorf("alice %s carol %s dave %s", a.Status, c.Status, d.Status)
		}
		return nil
	}, "alice's SMS delivered, the silent numbers sent")
	// Settle alice's webhook too, so that only the posts below move anything.
	b.waitCompleted(t, sends["alice"].Task.ID, delivered(2))
	before := row("alice", aliceSMS)
	progress := *env.Task(t, b.key, sends["alice"].Task.ID).Progress

	report := func(id, phone string, ok bool, at time.Time) sms.Report {
		r := sms.Report{PhoneNumber: phone, SendTime: at.In(sms.ChinaTime).Format(sms.ReportTimeLayout), ReportTime: at.In(sms.ChinaTime).Format(sms.ReportTimeLayout),
			Success: ok, ErrCode: "DELIVERED", ErrMsg: "用户接收成功", SmsSize: "1", BizID: "replay", OutID: id}
		if !ok {
			r.ErrCode, r.ErrMsg = "MK:0001", "用户关机"
		}
		return r
	}
	post := func(reports ...sms.Report) int {
		body, err := json.Marshal(reports)
		require.NoError(t, err)
		resp, err := http.Post(env.URL+"/callbacks/sms?token="+providers.SimSecret, "application/json", bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	waitDelivered := func(user, id string) {
		env.Await(t, func() error {
			if s := row(user, id).Status; s != "DELIVERED" {
				return fmt.Errorf("%s is %s", id, s)
			}
			return nil
		}, "the push was applied")
	}
	unchanged := func(why string) {
		require.Equal(t, before, row("alice", aliceSMS), why)
		require.Equal(t, progress, *env.Task(t, b.key, sends["alice"].Task.ID).Progress, why)
	}
	now := time.Now()

	// The same report again, in one push with carol's first report (so that its being
	// applied is observable).
	require.Equal(t, http.StatusOK, post(report(aliceSMS, "+8613800138201", true, now), report(carolSMS, "+8613800131111", true, now)))
	waitDelivered("carol", carolSMS)
	unchanged("an identical report replayed")

	// A report that would move alice's message back to FAILED.
	require.Equal(t, http.StatusOK, post(report(aliceSMS, "+8613800138201", false, now), report(daveSMS, "+8613800121111", true, now)))
	waitDelivered("dave", daveSMS)
	unchanged("a FAILED report after DELIVERED")

	for _, u := range []string{"carol", "dave"} {
		// Its webhook and its SMS, each once.
		task := b.waitCompleted(t, sends[u].Task.ID, func(p servertest.Progress) bool { return p.Delivered >= 2 })
		require.Equal(t, int64(2), task.Progress.Delivered, u)
		require.Zero(t, task.Progress.Failed, u)
	}

	// A push captured yesterday and replayed now: refused, nothing applied.
	require.Equal(t, http.StatusUnauthorized, post(report(aliceSMS, "+8613800138201", false, now.Add(-24*time.Hour))))
	require.Equal(t, http.StatusUnauthorized, post(report(aliceSMS, "+8613800138201", false, now.Add(time.Hour))), "a report from the future")
	require.Equal(t, http.StatusUnauthorized, func() int {
		resp, err := http.Post(env.URL+"/callbacks/sms?token=wrong", "application/json", strings.NewReader(`[]`))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}(), "a wrong token")
	unchanged("stale reports")
	require.True(t, env.Logs.Contains("delivery report outside the replay window dropped"))
	require.False(t, env.Logs.Contains("+8613800138201"), "phone numbers are masked in logs")
}

// TestEncryptedProviderSettings: provider settings given encrypted work, and neither they
// nor the secrets they carry appear in the API's answers or the logs.
func TestEncryptedProviderSettings(t *testing.T) {
	t.Parallel()
	keyText := secret.GenerateKey()
	key, err := secret.ParseKey(keyText)
	require.NoError(t, err)
	hookSecret := "hook-signing-" + strings.TrimRight(secret.GenerateKey()[:16], "=+/")
	var sealedProviders string
	b := setup(t, servertest.WithConfig(func(c *server.Config) {
		c.SecretKey = keyText
		sealedProviders = "sim=" + key.Seal([]byte(strings.TrimPrefix(c.Providers, "sim=")))
		c.Providers = sealedProviders
		c.WebhookSecret = key.Seal([]byte(hookSecret))
	}))
	env := b.env
	env.UpsertUsers(t, b.key, b.appID, b.user("u1", "+8613800138301"))
	res := env.MustSend(t, b.key, b.send([]string{"u1"}, codeVars("991")))
	b.waitCompleted(t, res.Task.ID, delivered(2))

	r := env.Exec(t, b.key, `query($app: ID!) { channels(appId: $app) { channel provider healthy circuit ratePerSecond } }`, map[string]any{"app": b.appID})
	require.Empty(t, r.Errors)
	body := string(r.Body)
	require.Contains(t, body, "SMS")
	for _, s := range []string{hookSecret, providers.SimSecret, keyText, env.SimURL, strings.TrimPrefix(sealedProviders, "sim=")} {
		require.NotContains(t, body, s)
		require.False(t, env.Logs.Contains(s) && s != env.SimURL, "the logs hold %q", s)
	}
	require.False(t, slices.ContainsFunc(env.Logs.Lines("HERALD_"), func(l string) bool { return strings.Contains(l, hookSecret) }))
}

// TestSessionCookieOnlyOnJSONPosts: the CSRF rule. A session cookie authenticates a JSON
// POST (which a foreign page cannot send without a preflight) and a same-origin websocket,
// never a GET, a form or a multipart post, which any page can make a browser send.
func TestSessionCookieOnlyOnJSONPosts(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	admin := env.Login(t)
	appID := env.CreateApp(t, admin, "csrf")
	cookie := (&http.Cookie{Name: "herald_session", Value: admin.Session}).String()
	do := func(method, path, contentType string, body io.Reader) (int, string) {
		req, err := http.NewRequestWithContext(context.Background(), method, env.URL+path, body)
		require.NoError(t, err)
		req.Header.Set("Cookie", cookie)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	mutation := `mutation { tagUsers(appId: "` + appID + `", userIds: ["victim"], tags: ["csrf"]) }`
	env.UpsertUsers(t, admin, appID, servertest.User{ID: "victim"})

	_, body := do(http.MethodGet, "/graphql?query="+strings.ReplaceAll("{ apps { id name } }", " ", "%20"), "", nil)
	require.Contains(t, body, "UNAUTHENTICATED", "a GET query with the cookie")
	require.NotContains(t, body, `"name":"csrf"`)

	_, body = do(http.MethodPost, "/graphql", "text/plain", strings.NewReader(`{"query":`+strconvQuote(mutation)+`}`))
	require.NotContains(t, body, `"tagUsers":1`, "a text/plain POST with the cookie")

	ops := `{"query":` + strconvQuote(`mutation($f: Upload!) { importUsers(appId: "`+appID+`", file: $f) { imported } }`) + `,"variables":{"f":null}}`
	var mp bytes.Buffer
	mp.WriteString("--b\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n" + ops + "\r\n")
	mp.WriteString("--b\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{\"0\":[\"variables.f\"]}\r\n")
	mp.WriteString("--b\r\nContent-Disposition: form-data; name=\"0\"; filename=\"u.csv\"\r\nContent-Type: text/csv\r\n\r\nid,tags\nvictim,csrf\n\r\n--b--\r\n")
	_, body = do(http.MethodPost, "/graphql", "multipart/form-data; boundary=b", &mp)
	require.Contains(t, body, "UNAUTHENTICATED", "a multipart POST with the cookie")

	require.Empty(t, userTags(t, env, admin, appID, "victim"), "nothing changed")
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
