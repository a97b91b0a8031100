package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/server/servertest"
)

// What the console asks of the API beyond the domain operations: Herald's time zone, a live
// audience preview, and console users with a role.
func TestConsoleAPI(t *testing.T) {
	env := servertest.Start(t, servertest.WithConfig(func(c *server.Config) { c.TimeZone = "Asia/Shanghai" }))
	admin := env.Login(t)
	app := env.CreateApp(t, admin, "console-api")
	other := env.CreateApp(t, admin, "console-api-other")
	env.UpsertUsers(t, admin, app,
		servertest.User{ID: "c1", Tags: []string{"vip"}},
		servertest.User{ID: "c2", Tags: []string{"vip", "churned"}},
		servertest.User{ID: "c3", Tags: []string{"vip"}},
		servertest.User{ID: "c4"})

	var me struct {
		Me struct{ TimeZone string } `json:"me"`
	}
	env.MustDo(t, admin, `query { me { timeZone } }`, nil, &me)
	require.Equal(t, "Asia/Shanghai", me.Me.TimeZone)

	// A VIEWER of one app, made by the administrator, signs in with its password.
	viewerEmail, viewerPassword := "console-viewer@example.com", "console-viewer-password"
	var created struct {
		CreateConsoleUser struct {
			Email string
			Role  string
			Apps  []struct{ ID string }
		} `json:"createConsoleUser"`
	}
	env.MustDo(t, admin, `mutation($in: ConsoleUserInput!) { createConsoleUser(input: $in) { email role apps { id } } }`,
		map[string]any{"in": map[string]any{"email": viewerEmail, "password": viewerPassword, "role": "VIEWER", "appIds": []string{app}}}, &created)
	require.Equal(t, "VIEWER", created.CreateConsoleUser.Role)
	require.Len(t, created.CreateConsoleUser.Apps, 1)
	require.Equal(t, app, created.CreateConsoleUser.Apps[0].ID)
	viewer, errs := env.LoginAs(t, viewerEmail, viewerPassword)
	require.Empty(t, errs)
	env.MustDo(t, viewer, `query { me { timeZone } }`, nil, &me)
	require.Equal(t, "Asia/Shanghai", me.Me.TimeZone, "any signed-in caller reads the zone")
	_, errs = env.Do(t, viewer, `mutation($in: ConsoleUserInput!) { createConsoleUser(input: $in) { email } }`,
		map[string]any{"in": map[string]any{"email": "x@example.com", "password": "x-password", "role": "ADMIN", "appIds": []string{app}}})
	require.Len(t, errs, 1)
	require.Equal(t, "FORBIDDEN", errs[0].Code(), "a VIEWER makes no users")

	// The preview's size and sample are those of the audience once saved.
	const previewQ = `query($in: AudiencePreviewInput!) { previewAudience(input: $in) { size sample { id } } }`
	var preview struct {
		PreviewAudience struct {
			Size   int64
			Sample []struct{ ID string }
		} `json:"previewAudience"`
	}
	env.MustDo(t, viewer, previewQ, map[string]any{"in": map[string]any{"appId": app, "kind": "TAG", "tagExpr": "vip && !churned", "sampleSize": 1}}, &preview)
	require.EqualValues(t, 2, preview.PreviewAudience.Size)
	require.Len(t, preview.PreviewAudience.Sample, 1)
	require.Equal(t, "c1", preview.PreviewAudience.Sample[0].ID)
	var saved struct {
		CreateAudience struct {
			Size   int64
			Sample []struct{ ID string }
		} `json:"createAudience"`
	}
	env.MustDo(t, admin, `mutation($in: AudienceInput!) { createAudience(input: $in) { size sample(n: 1) { id } } }`,
		map[string]any{"in": map[string]any{"appId": app, "name": "vip-active", "kind": "TAG", "tagExpr": "vip && !churned"}}, &saved)
	require.Equal(t, saved.CreateAudience.Size, preview.PreviewAudience.Size)
	require.Equal(t, saved.CreateAudience.Sample[0].ID, preview.PreviewAudience.Sample[0].ID)

	// A bad expression is refused on its field with its position; a VIEWER of another app
	// learns nothing.
	_, errs = env.Do(t, viewer, previewQ, map[string]any{"in": map[string]any{"appId": app, "kind": "TAG", "tagExpr": "vip $ new"}})
	require.Len(t, errs, 1)
	require.Equal(t, "BAD_INPUT", errs[0].Code())
	require.Equal(t, "input.tagExpr", errs[0].Field())
	require.Contains(t, errs[0].Message, "column 5")
	_, errs = env.Do(t, viewer, previewQ, map[string]any{"in": map[string]any{"appId": other, "kind": "ALL"}})
	require.Len(t, errs, 1)
	require.Equal(t, "FORBIDDEN", errs[0].Code())
	var list struct {
		Audiences []struct{ Name string } `json:"audiences"`
	}
	env.MustDo(t, viewer, `query($app: ID!) { audiences(appId: $app) { name } }`, map[string]any{"app": app}, &list)
	require.Len(t, list.Audiences, 1, "previews saved nothing")
}
