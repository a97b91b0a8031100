package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/secret"
	"github.com/herald-msg/herald/server/servertest"
)

// inboxPage is the answer of GET /inbox.
type inboxPage struct {
	Messages []struct {
		ID, TaskID, Channel, Title, Body, Status string
		SentAt                                   time.Time
	} `json:"messages"`
	NextCursor *string           `json:"nextCursor"`
	Errors     servertest.Errors `json:"errors"`
}

// getInbox calls GET /inbox with token (none when empty) and query.
func getInbox(t *testing.T, env *servertest.Env, token, query string) (int, inboxPage, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, env.URL+"/inbox?"+query, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var page inboxPage
	require.NoError(t, json.Unmarshal(raw, &page), "GET /inbox answered %d: %s", resp.StatusCode, raw)
	return resp.StatusCode, page, string(raw)
}

func rotateInboxSecret(t *testing.T, env *servertest.Env, auth servertest.Auth, appID string) string {
	t.Helper()
	var out struct {
		RotateInboxSecret struct{ AppID, Secret string } `json:"rotateInboxSecret"`
	}
	env.MustDo(t, auth, `mutation($app: ID!) { rotateInboxSecret(appId: $app) { appId secret } }`, map[string]any{"app": appID}, &out)
	require.Equal(t, appID, out.RotateInboxSecret.AppID)
	require.NotEmpty(t, out.RotateInboxSecret.Secret)
	return out.RotateInboxSecret.Secret
}

// TestInboxTokens: an end-user app reads its own user's history with a token the app's
// backend signed, and nothing else: forged, expired, over-long, other-app and other-user
// tokens are refused with 401 and no message.
func TestInboxTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env
	adminKey := env.CreateKey(t, b.admin, b.appID, "ADMIN")
	env.UpsertUsers(t, b.key, b.appID, b.user("alice", "+8613800138101"), b.user("bob", "+8613800138102"))
	for i := range 3 {
		env.MustSend(t, b.key, b.send([]string{"alice"}, codeVars(fmt.Sprintf("alice-%d", i))))
	}
	env.MustSend(t, b.key, b.send([]string{"bob"}, codeVars("bob-secret-code")))

	// Another app with its own secret and a user of the same id.
	otherApp := env.CreateApp(t, b.admin, "other-shop")
	otherKey := env.CreateKey(t, b.admin, otherApp, "ADMIN")
	otherOp := env.CreateKey(t, b.admin, otherApp, "OPERATOR")
	otherTpl := env.CreateTemplate(t, otherOp, otherApp, codeTemplate)
	otherRule := env.CreateRule(t, otherOp, otherApp, "sms", "CONCURRENT", "SMS")
	env.UpsertUsers(t, otherOp, otherApp, b.user("alice", "+8613800138103"))
	env.MustSend(t, otherOp, servertest.SendInput{AppID: otherApp, TemplateID: otherTpl, RuleID: otherRule, UserIDs: []string{"alice"}, Variables: codeVars("other-app-code")})

	sec := rotateInboxSecret(t, env, adminKey, b.appID)
	otherSec := rotateInboxSecret(t, env, otherKey, otherApp)
	require.NotEqual(t, sec, otherSec)
	appNum, err := strconv.ParseInt(b.appID, 10, 64)
	require.NoError(t, err)
	otherNum, _ := strconv.ParseInt(otherApp, 10, 64)
	exp := time.Now().Add(10 * time.Minute)
	alice := account.SignInboxToken(sec, appNum, "alice", exp)

	// Alice reads her messages, both channels, newest first, and nothing of bob or of the
	// other app's alice.
	var page inboxPage
	env.Await(t, func() error {
		var status int
		status, page, _ = getInbox(t, env, alice, "")
		if status != http.StatusOK || len(page.Messages) != 6 {
			return fmt.Errorf("HTTP %d, %d messages", status, len(page.Messages))
		}
		return nil
	}, "alice's history")
	for i, m := range page.Messages {
		require.Contains(t, m.Body, "alice-", "message %+v", m)
		if i > 0 {
			require.False(t, m.SentAt.After(page.Messages[i-1].SentAt), "newest first")
		}
	}
	require.Nil(t, page.NextCursor)

	// Paging and the channel filter.
	status, first, _ := getInbox(t, env, alice, "limit=2&channel=sms")
	require.Equal(t, http.StatusOK, status)
	require.Len(t, first.Messages, 2)
	require.NotNil(t, first.NextCursor)
	status, second, _ := getInbox(t, env, alice, "limit=2&channel=SMS&cursor="+*first.NextCursor)
	require.Equal(t, http.StatusOK, status)
	require.Len(t, second.Messages, 1)
	require.Nil(t, second.NextCursor)
	seen := map[string]bool{}
	for _, m := range append(first.Messages, second.Messages...) {
		require.Equal(t, "SMS", m.Channel)
		require.False(t, seen[m.ID], "message %s twice", m.ID)
		seen[m.ID] = true
	}

	// Bob's token reads bob only; a user parameter changes nothing.
	var bobPage inboxPage
	env.Await(t, func() error {
		var status int
		status, bobPage, _ = getInbox(t, env, account.SignInboxToken(sec, appNum, "bob", exp), "user=alice&userId=alice")
		if status != http.StatusOK || len(bobPage.Messages) != 2 {
			return fmt.Errorf("HTTP %d, %d messages", status, len(bobPage.Messages))
		}
		return nil
	}, "bob's history")
	for _, m := range bobPage.Messages {
		require.Contains(t, m.Body, "bob-secret-code")
	}

	// Refused tokens: 401 UNAUTHENTICATED, nothing of anyone's messages in the answer.
	refused := map[string]string{
		"no token":                     "",
		"garbage":                      "not-a-token",
		"forged with a guessed secret": account.SignInboxToken("is_guessed", appNum, "alice", exp),
		"other app's secret":           account.SignInboxToken(otherSec, appNum, "alice", exp),
		"claims the other app":         account.SignInboxToken(sec, otherNum, "alice", exp),
		"expired":                      account.SignInboxToken(sec, appNum, "alice", time.Now().Add(-time.Second)),
		"lives too long":               account.SignInboxToken(sec, appNum, "alice", time.Now().Add(account.MaxInboxTokenLifetime+time.Hour)),
		"user swapped after signing":   strings.Replace(alice, ".YWxpY2U.", ".Ym9i.", 1),
		"expiry moved after signing":   strings.Replace(alice, "."+strconv.FormatInt(exp.Unix(), 10)+".", "."+strconv.FormatInt(exp.Unix()+3600, 10)+".", 1),
		"unknown app":                  account.SignInboxToken(sec, 999999, "alice", exp),
		"an API key":                   b.key.APIKey,
	}
	require.Contains(t, alice, ".YWxpY2U.", "the token carries base64url(user)")
	for name, token := range refused {
		status, page, raw := getInbox(t, env, token, "")
		require.Equal(t, http.StatusUnauthorized, status, "%s: %s", name, raw)
		require.Len(t, page.Errors, 1, name)
		require.Equal(t, "UNAUTHENTICATED", page.Errors[0].Code(), name)
		require.Empty(t, page.Messages, name)
		for _, leak := range []string{"alice-", "bob-secret", "other-app-code", sec, otherSec} {
			require.NotContains(t, raw, leak, name)
		}
	}

	// Bad parameters name the field.
	for query, field := range map[string]string{"limit=0": "limit", "limit=101": "limit", "limit=x": "limit",
		"channel=FAX": "channel", "cursor=%21%21": "cursor", "cursor=" + "MTIzL3g7ZHJvcA": "cursor"} {
		status, page, raw := getInbox(t, env, alice, query)
		require.Equal(t, http.StatusBadRequest, status, "%s: %s", query, raw)
		require.Equal(t, "BAD_INPUT", page.Errors[0].Code(), query)
		require.Equal(t, field, page.Errors[0].Field(), query)
	}

	// The secret is stored encrypted, its rotation audited without it, and a rotation
	// retires every token signed with the old secret.
	var stored string
	require.NoError(t, env.DB.Core.QueryRowContext(context.Background(), "SELECT value FROM settings WHERE name = ?", "inbox_secret:"+b.appID).Scan(&stored))
	require.True(t, strings.HasPrefix(stored, secret.Prefix), stored)
	require.NotContains(t, stored, strings.TrimPrefix(sec, "is_"))
	var audit struct {
		AuditLog struct {
			Edges []struct {
				Node struct{ Action, Actor, Target string }
			}
		} `json:"auditLog"`
	}
	raw, errs := env.Do(t, adminKey, `query($app: ID) { auditLog(appId: $app, first: 100) { edges { node { action actor target } } } }`, map[string]any{"app": b.appID})
	require.Empty(t, errs)
	require.NoError(t, json.Unmarshal(raw, &audit))
	require.NotContains(t, string(raw), sec)
	actions := []string{}
	for _, e := range audit.AuditLog.Edges {
		actions = append(actions, e.Node.Action)
	}
	require.Contains(t, actions, "rotateInboxSecret")

	rotateInboxSecret(t, env, adminKey, b.appID)
	status, _, _ = getInbox(t, env, alice, "")
	require.Equal(t, http.StatusUnauthorized, status, "a token of the old secret after rotation")

	// Only an ADMIN of the app rotates; the secret of another app is out of reach.
	r := env.Exec(t, b.key, `mutation($app: ID!) { rotateInboxSecret(appId: $app) { secret } }`, map[string]any{"app": b.appID})
	require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	r = env.Exec(t, adminKey, `mutation($app: ID!) { rotateInboxSecret(appId: $app) { secret } }`, map[string]any{"app": otherApp})
	require.Equal(t, "FORBIDDEN", r.Errors[0].Code())
	status, _, _ = getInbox(t, env, account.SignInboxToken(otherSec, otherNum, "alice", exp), "")
	require.Equal(t, http.StatusOK, status, "the other app's secret did not change")
}

// TestInboxSecretNeedsKey: without HERALD_SECRET_KEY no inbox secret is created, rather than
// one stored in clear text.
func TestInboxSecretNeedsKey(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithEnv("HERALD_SECRET_KEY", ""))
	app := env.AdminKey(t, "ADMIN")
	r := env.Exec(t, app.Key, `mutation($app: ID!) { rotateInboxSecret(appId: $app) { secret } }`, map[string]any{"app": app.ID})
	require.Len(t, r.Errors, 1)
	require.Equal(t, "UNAVAILABLE", r.Errors[0].Code())
	require.Contains(t, r.Errors[0].Message, "HERALD_SECRET_KEY")
	var n int
	require.NoError(t, env.DB.Core.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM settings WHERE name LIKE 'inbox_secret:%'").Scan(&n))
	require.Zero(t, n)
}
