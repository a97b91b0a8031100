package account

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/fault"
)

func TestCreateConsoleUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	shop, err := b.svc.CreateApp(admin(t), "shop")
	require.NoError(t, err)
	news, err := b.svc.CreateApp(admin(t), "news")
	require.NoError(t, err)
	shopAdmin := caller(t, &Principal{UserID: 7, Email: "sa@example.com", Role: Admin, AppIDs: []int64{shop.ID}})

	p, err := b.svc.CreateConsoleUser(shopAdmin, ConsoleUserInput{Email: " Viewer@Example.com ", Password: "a viewer's password", Role: Viewer, AppIDs: []int64{shop.ID}})
	require.NoError(t, err)
	require.Equal(t, "viewer@example.com", p.Email)

	// The user signs in with the password, as a VIEWER of shop only.
	in, _, _, err := b.svc.Login(t.Context(), "viewer@example.com", "a viewer's password")
	require.NoError(t, err)
	require.Equal(t, Viewer, in.Role)
	require.False(t, in.AllApps)
	require.Equal(t, []int64{shop.ID}, in.AppIDs)
	var hash string
	require.NoError(t, b.core.QueryRow("SELECT password_hash FROM console_users WHERE email = 'viewer@example.com'").Scan(&hash))
	require.True(t, strings.HasPrefix(hash, "$2"), "a bcrypt hash, never the password")
	var audits int
	require.NoError(t, b.core.QueryRow("SELECT COUNT(*) FROM audit_log WHERE action = 'createConsoleUser' AND app_id = ? AND actor = 'sa@example.com'", shop.ID).Scan(&audits))
	require.Equal(t, 1, audits)

	// The bootstrap administrator may create a user of every app.
	all, err := b.svc.CreateConsoleUser(admin(t), ConsoleUserInput{Email: "ops@example.com", Password: "operator-password", Role: Operator})
	require.NoError(t, err)
	require.True(t, all.AllApps)

	users := b.count(t, "console_users")
	refused := []struct {
		name  string
		ctx   context.Context
		in    ConsoleUserInput
		code  fault.Code
		field string
	}{
		{"no caller", nil, ConsoleUserInput{Email: "x@example.com", Password: "password1", Role: Viewer, AppIDs: []int64{shop.ID}}, fault.CodeUnauthenticated, ""},
		{"admin of another app", shopAdmin, ConsoleUserInput{Email: "x@example.com", Password: "password1", Role: Viewer, AppIDs: []int64{shop.ID, news.ID}}, fault.CodeForbidden, "input.appIds[1]"},
		{"every app by an admin of one", shopAdmin, ConsoleUserInput{Email: "x@example.com", Password: "password1", Role: Viewer}, fault.CodeForbidden, "input.appIds"},
		{"operator", caller(t, &Principal{Email: "op@example.com", Role: Operator, AllApps: true}), ConsoleUserInput{Email: "x@example.com", Password: "password1", Role: Viewer, AppIDs: []int64{shop.ID}}, fault.CodeForbidden, "input.appIds[0]"},
		{"bad email", shopAdmin, ConsoleUserInput{Email: "not an email", Password: "password1", Role: Viewer, AppIDs: []int64{shop.ID}}, fault.CodeBadInput, "input.email"},
		{"short password", shopAdmin, ConsoleUserInput{Email: "x@example.com", Password: "short", Role: Viewer, AppIDs: []int64{shop.ID}}, fault.CodeBadInput, "input.password"},
		{"long password", shopAdmin, ConsoleUserInput{Email: "x@example.com", Password: strings.Repeat("p", 73), Role: Viewer, AppIDs: []int64{shop.ID}}, fault.CodeBadInput, "input.password"},
		{"bad role", shopAdmin, ConsoleUserInput{Email: "x@example.com", Password: "password1", Role: "ROOT", AppIDs: []int64{shop.ID}}, fault.CodeBadInput, "input.role"},
		{"app twice", admin(t), ConsoleUserInput{Email: "x@example.com", Password: "password1", Role: Viewer, AppIDs: []int64{shop.ID, shop.ID}}, fault.CodeBadInput, "input.appIds[1]"},
		{"unknown app", admin(t), ConsoleUserInput{Email: "x@example.com", Password: "password1", Role: Viewer, AppIDs: []int64{news.ID + 100}}, fault.CodeBadInput, "input.appIds[0]"},
		{"email taken", shopAdmin, ConsoleUserInput{Email: "VIEWER@example.com", Password: "password1", Role: Admin, AppIDs: []int64{shop.ID}}, fault.CodeConflict, "input.email"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			_, err := b.svc.CreateConsoleUser(ctx, tt.in)
			requireCode(t, err, tt.code, tt.field)
		})
	}
	require.Equal(t, users, b.count(t, "console_users"), "nothing refused is saved")
}
