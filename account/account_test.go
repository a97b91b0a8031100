package account

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

type testBundle struct {
	svc  *Service
	db   *store.DB
	core *sql.DB
}

// setup returns an account service on fresh databases, with the session secret kept in the
// core database as in production.
func setup(t *testing.T) *testBundle {
	t.Helper()
	db := storetest.New(t)
	svc, err := NewService(t.Context(), db, Config{SessionTTL: time.Hour})
	require.NoError(t, err)
	return &testBundle{svc: svc, db: db, core: db.Core}
}

// admin is the bootstrap administrator of every app.
func admin(t *testing.T) context.Context {
	t.Helper()
	return WithPrincipal(t.Context(), &Principal{UserID: 1, Email: "admin@example.com", Role: Admin, AllApps: true})
}

func caller(t *testing.T, p *Principal) context.Context {
	t.Helper()
	return WithPrincipal(t.Context(), p)
}

func requireCode(t *testing.T, err error, code fault.Code, field string) *fault.Error {
	t.Helper()
	require.Error(t, err)
	fe, ok := fault.As(err)
	require.True(t, ok, "not a fault error: %v", err)
	require.Equal(t, code, fe.Code, err.Error())
	require.Equal(t, field, fe.Field, err.Error())
	return fe
}

func (b *testBundle) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	require.NoError(t, b.core.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

func TestEnsureAdminOnlyWhenNoUserExists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	_, err := b.svc.EnsureAdmin(ctx, "not an email", "long-enough-password")
	requireCode(t, err, fault.CodeBadInput, "email")
	require.Zero(t, b.count(t, "console_users"))

	created, err := b.svc.EnsureAdmin(ctx, "Admin@Example.com", "first-password")
	require.NoError(t, err)
	require.True(t, created)

	created, err = b.svc.EnsureAdmin(ctx, "other@example.com", "second-password")
	require.NoError(t, err)
	require.False(t, created, "a console user exists already")
	created, err = b.svc.EnsureAdmin(ctx, "admin@example.com", "third-password")
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, 1, b.count(t, "console_users"))

	p, _, _, err := b.svc.Login(ctx, "ADMIN@example.COM", "first-password")
	require.NoError(t, err, "the email is matched without regard to case")
	require.Equal(t, Admin, p.Role)
	require.True(t, p.AllApps)
	require.Equal(t, "admin@example.com", p.Email)

	_, _, _, err = b.svc.Login(ctx, "admin@example.com", "third-password")
	requireCode(t, err, fault.CodeUnauthenticated, "")
	_, _, _, err = b.svc.Login(ctx, "other@example.com", "second-password")
	requireCode(t, err, fault.CodeUnauthenticated, "")
}

func TestLogin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	_, err := b.svc.EnsureAdmin(ctx, "admin@example.com", "correct horse")
	require.NoError(t, err)
	before := time.Now().Truncate(time.Second) // expiries are kept to the second

	p, token, exp, err := b.svc.Login(ctx, "admin@example.com", "correct horse")
	after := time.Now()
	require.NoError(t, err)
	require.NotZero(t, p.UserID)
	require.Empty(t, p.KeyID)
	require.NotEmpty(t, token)
	require.False(t, exp.Before(before.Add(time.Hour)) || exp.After(after.Add(time.Hour)),
		"the session lasts SessionTTL from the login: %s not within [%s, %s]", exp, before.Add(time.Hour), after.Add(time.Hour))

	var messages []string
	tests := []struct {
		name, email, password string
	}{
		{"wrong password", "admin@example.com", "wrong horse"},
		{"password with a different case", "admin@example.com", "Correct horse"},
		{"unknown email", "nobody@example.com", "correct horse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, token, _, err := b.svc.Login(ctx, tt.email, tt.password)
			fe := requireCode(t, err, fault.CodeUnauthenticated, "")
			require.Nil(t, p)
			require.Empty(t, token)
			messages = append(messages, fe.Message)
		})
	}
	for _, m := range messages {
		require.Equal(t, messages[0], m, "an unknown email is not told apart from a wrong password")
	}
}

func TestSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	_, err := b.svc.EnsureAdmin(ctx, "admin@example.com", "correct horse")
	require.NoError(t, err)
	// A console user limited to two apps.
	res, err := b.core.ExecContext(ctx, "INSERT INTO console_users (email, password_hash, role, created_at) SELECT 'op@example.com', password_hash, 'OPERATOR', NOW(3) FROM console_users")
	require.NoError(t, err)
	opID, _ := res.LastInsertId()
	_, err = b.core.ExecContext(ctx, "INSERT INTO console_user_apps (user_id, app_id) VALUES (?, 3), (?, 5)", opID, opID)
	require.NoError(t, err)

	p, token, _, err := b.svc.Login(ctx, "op@example.com", "correct horse")
	require.NoError(t, err)
	require.Equal(t, &Principal{UserID: opID, Email: "op@example.com", Role: Operator, AppIDs: []int64{3, 5}}, p)

	got, err := b.svc.Session(ctx, token)
	require.NoError(t, err)
	require.Equal(t, p, got)

	// Another process of the cluster shares the stored secret and accepts the token.
	other, err := NewService(ctx, b.db, Config{})
	require.NoError(t, err)
	got, err = other.Session(ctx, token)
	require.NoError(t, err)
	require.Equal(t, opID, got.UserID)

	parts := strings.Split(token, ".")
	require.Len(t, parts, 4)
	flip := func(s string) string {
		last := s[len(s)-1]
		if last == 'A' {
			return s[:len(s)-1] + "B"
		}
		return s[:len(s)-1] + "A"
	}
	adminID := strconv.FormatInt(opID-1, 10)
	later := strconv.FormatInt(time.Now().Add(100*time.Hour).Unix(), 10)
	foreign, err := NewService(ctx, b.db, Config{SessionSecret: strings.Repeat("s", 32)})
	require.NoError(t, err)

	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"garbage", "not-a-token"},
		{"mac changed", strings.Join([]string{parts[0], parts[1], parts[2], flip(parts[3])}, ".")},
		{"mac missing", strings.Join(parts[:3], ".") + "."},
		{"user changed to the administrator", strings.Join([]string{parts[0], adminID, parts[2], parts[3]}, ".")},
		{"expiry pushed out", strings.Join([]string{parts[0], parts[1], later, parts[3]}, ".")},
		{"other version", strings.Join([]string{"v2", parts[1], parts[2], parts[3]}, ".")},
		{"extra part", token + ".x"},
		{"signed with another secret", foreign.signSession(opID, time.Now().Add(time.Hour))},
		{"validly signed but not numeric", "v1.x.y." + b.svc.mac("v1.x.y")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := b.svc.Session(ctx, tt.token)
			requireCode(t, err, fault.CodeUnauthenticated, "")
			require.Nil(t, p)
		})
	}

	t.Run("expired", func(t *testing.T) {
		s, err := NewService(ctx, b.db, Config{})
		require.NoError(t, err)
		_, err = s.Session(ctx, token)
		require.NoError(t, err)
		s.nowFunc = func() time.Time { return time.Now().Add(time.Hour + time.Minute) }
		_, err = s.Session(ctx, token)
		fe := requireCode(t, err, fault.CodeUnauthenticated, "")
		require.Contains(t, fe.Message, "expired")
	})

	t.Run("renewed past half its lifetime", func(t *testing.T) {
		s, err := NewService(ctx, b.db, Config{SessionTTL: time.Hour})
		require.NoError(t, err)
		_, renewed, _, err := s.SessionRenewal(ctx, token)
		require.NoError(t, err)
		require.Empty(t, renewed, "a fresh session is kept")

		at := time.Now().Add(45 * time.Minute)
		s.nowFunc = func() time.Time { return at }
		p, renewed, exp, err := s.SessionRenewal(ctx, token)
		require.NoError(t, err)
		require.NotEmpty(t, renewed, "a quarter of its lifetime left: renewed")
		require.Equal(t, at.Add(time.Hour).Unix(), exp.Unix())
		s.nowFunc = func() time.Time { return at.Add(50 * time.Minute) } // the old token has expired by now
		_, err = s.Session(ctx, token)
		requireCode(t, err, fault.CodeUnauthenticated, "")
		p2, err := s.Session(ctx, renewed)
		require.NoError(t, err, "the renewed token lasts another full lifetime")
		require.Equal(t, p.UserID, p2.UserID)
	})

	t.Run("user deleted", func(t *testing.T) {
		_, err := b.core.ExecContext(ctx, "DELETE FROM console_users WHERE id = ?", opID)
		require.NoError(t, err)
		_, err = b.svc.Session(ctx, token)
		requireCode(t, err, fault.CodeUnauthenticated, "")
	})
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	app, err := b.svc.CreateApp(admin(t), "shop")
	require.NoError(t, err)
	appAdmin := caller(t, &Principal{Email: "boss@example.com", Role: Admin, AppIDs: []int64{app.ID}})

	key, err := b.svc.CreateAPIKey(appAdmin, app.ID, Operator)
	require.NoError(t, err)
	require.Equal(t, app.ID, key.AppID)
	require.Equal(t, Operator, key.Role)
	require.True(t, strings.HasPrefix(key.Secret, "hk_"+key.ID+"_"), key.Secret)

	p, err := b.svc.APIKey(t.Context(), key.Secret)
	require.NoError(t, err)
	require.Equal(t, &Principal{KeyID: key.ID, Role: Operator, AppIDs: []int64{app.ID}}, p)
	// Served from the cache the second time; still the same caller.
	p, err = b.svc.APIKey(t.Context(), key.Secret)
	require.NoError(t, err)
	require.Equal(t, key.ID, p.KeyID)

	var stored []byte
	var createdBy string
	require.NoError(t, b.core.QueryRowContext(t.Context(), "SELECT secret_hash, created_by FROM api_keys WHERE id = ?", key.ID).Scan(&stored, &createdBy))
	sum := sha256.Sum256([]byte(key.Secret))
	require.Equal(t, sum[:], stored, "only the hash is stored")
	require.NotContains(t, string(stored), key.Secret[len(key.Secret)-10:])
	require.Equal(t, "boss@example.com", createdBy)

	other, err := b.svc.CreateAPIKey(admin(t), app.ID, Viewer)
	require.NoError(t, err)
	require.NotEqual(t, key.ID, other.ID)
	require.NotEqual(t, key.Secret, other.Secret)

	wrongTail := key.Secret[:len(key.Secret)-1] + "x"
	if wrongTail == key.Secret {
		wrongTail = key.Secret[:len(key.Secret)-1] + "y"
	}
	bad := []struct {
		name   string
		secret string
	}{
		{"empty", ""},
		{"no prefix", strings.TrimPrefix(key.Secret, "hk_")},
		{"wrong secret of a cached key", wrongTail},
		{"another key's id with this key's secret", "hk_" + other.ID + strings.TrimPrefix(key.Secret, "hk_"+key.ID)},
		{"unknown id", "hk_000000000000_" + strings.Repeat("a", 32)},
		{"no id", "hk__abc"},
		{"too long", key.Secret + strings.Repeat("a", 200)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p, err := b.svc.APIKey(t.Context(), tt.secret)
			requireCode(t, err, fault.CodeUnauthenticated, "")
			require.Nil(t, p)
		})
	}

	t.Run("wrong secret of an uncached key", func(t *testing.T) {
		fresh, err := NewService(t.Context(), b.db, Config{})
		require.NoError(t, err)
		_, err = fresh.APIKey(t.Context(), wrongTail)
		requireCode(t, err, fault.CodeUnauthenticated, "")
	})
	t.Run("revoked", func(t *testing.T) {
		_, err := b.core.ExecContext(t.Context(), "UPDATE api_keys SET revoked_at = NOW(3) WHERE id = ?", other.ID)
		require.NoError(t, err)
		fresh, err := NewService(t.Context(), b.db, Config{})
		require.NoError(t, err)
		_, err = fresh.APIKey(t.Context(), other.Secret)
		requireCode(t, err, fault.CodeUnauthenticated, "")
	})

	refused := []struct {
		name  string
		ctx   context.Context
		appID int64
		role  Role
		code  fault.Code
		field string
	}{
		{"no caller", t.Context(), app.ID, Viewer, fault.CodeUnauthenticated, ""},
		{"operator", caller(t, &Principal{Email: "op@example.com", Role: Operator, AppIDs: []int64{app.ID}}), app.ID, Viewer, fault.CodeForbidden, "appId"},
		{"viewer", caller(t, &Principal{Email: "v@example.com", Role: Viewer, AppIDs: []int64{app.ID}}), app.ID, Viewer, fault.CodeForbidden, "appId"},
		{"admin of another app", caller(t, &Principal{Email: "x@example.com", Role: Admin, AppIDs: []int64{app.ID + 1}}), app.ID, Viewer, fault.CodeForbidden, "appId"},
		{"unknown role", appAdmin, app.ID, "OWNER", fault.CodeBadInput, "role"},
		{"missing app", admin(t), app.ID + 100, Viewer, fault.CodeNotFound, "appId"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			k, err := b.svc.CreateAPIKey(tt.ctx, tt.appID, tt.role)
			requireCode(t, err, tt.code, tt.field)
			require.Nil(t, k)
		})
	}
	require.Equal(t, 2, b.count(t, "api_keys"))
}

func TestCreateAppAndApps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var ids []int64
	for _, name := range []string{"shop", " games ", "news"} {
		a, err := b.svc.CreateApp(admin(t), name)
		require.NoError(t, err)
		require.Equal(t, strings.TrimSpace(name), a.Name)
		ids = append(ids, a.ID)
	}

	refused := []struct {
		name  string
		ctx   context.Context
		app   string
		code  fault.Code
		field string
	}{
		{"duplicate name", admin(t), "shop", fault.CodeConflict, "name"},
		{"duplicate after trimming", admin(t), "  news", fault.CodeConflict, "name"},
		{"empty name", admin(t), "   ", fault.CodeBadInput, "name"},
		{"name too long", admin(t), strings.Repeat("n", 101), fault.CodeBadInput, "name"},
		{"no caller", t.Context(), "x", fault.CodeUnauthenticated, ""},
		{"admin of some apps", caller(t, &Principal{Email: "a@example.com", Role: Admin, AppIDs: ids}), "x", fault.CodeForbidden, ""},
		{"operator of every app", caller(t, &Principal{Email: "o@example.com", Role: Operator, AllApps: true}), "x", fault.CodeForbidden, ""},
		{"admin API key", caller(t, &Principal{KeyID: "k1", Role: Admin, AllApps: true}), "x", fault.CodeForbidden, ""},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			a, err := b.svc.CreateApp(tt.ctx, tt.app)
			requireCode(t, err, tt.code, tt.field)
			require.Nil(t, a)
		})
	}
	require.Equal(t, 3, b.count(t, "apps"))
	var audited int
	require.NoError(t, b.core.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM audit_log WHERE action = 'createApp' AND actor = 'admin@example.com'").Scan(&audited))
	require.Equal(t, 3, audited)

	lists := []struct {
		name string
		p    *Principal
		want []int64
	}{
		{"every app", &Principal{Role: Viewer, AllApps: true}, ids},
		{"two of three", &Principal{Role: Viewer, AppIDs: []int64{ids[2], ids[0]}}, []int64{ids[0], ids[2]}},
		{"an API key", &Principal{KeyID: "k", Role: Operator, AppIDs: []int64{ids[1]}}, []int64{ids[1]}},
		{"only apps that exist", &Principal{Role: Admin, AppIDs: []int64{ids[1], 999}}, []int64{ids[1]}},
		{"none", &Principal{Role: Admin, AppIDs: nil}, nil},
		{"unknown role", &Principal{Role: "GUEST", AllApps: true}, nil},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			apps, err := b.svc.Apps(caller(t, tt.p))
			require.NoError(t, err)
			var got []int64
			for _, a := range apps {
				got = append(got, a.ID)
			}
			require.Equal(t, tt.want, got)
		})
	}
	_, err := b.svc.Apps(t.Context())
	requireCode(t, err, fault.CodeUnauthenticated, "")

	a, err := b.svc.App(t.Context(), ids[1])
	require.NoError(t, err)
	require.Equal(t, "games", a.Name)
	_, err = b.svc.App(t.Context(), 999)
	requireCode(t, err, fault.CodeNotFound, "appId")
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	const own, other = int64(1), int64(2)
	tests := []struct {
		role   Role
		app    int64
		min    Role
		wantOK bool
	}{
		{Admin, own, Admin, true},
		{Admin, own, Operator, true},
		{Admin, own, Viewer, true},
		{Admin, other, Viewer, false},
		{Operator, own, Admin, false},
		{Operator, own, Operator, true},
		{Operator, own, Viewer, true},
		{Operator, other, Operator, false},
		{Operator, other, Viewer, false},
		{Viewer, own, Admin, false},
		{Viewer, own, Operator, false},
		{Viewer, own, Viewer, true},
		{Viewer, other, Viewer, false},
		{"", own, Viewer, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.role)+"/"+strconv.FormatInt(tt.app, 10)+"/"+string(tt.min), func(t *testing.T) {
			t.Parallel()
			in := &Principal{Email: "u@example.com", Role: tt.role, AppIDs: []int64{own}}
			p, err := Authorize(caller(t, in), tt.app, tt.min, "input.appId")
			if tt.wantOK {
				require.NoError(t, err)
				require.Same(t, in, p)
				return
			}
			fe := requireCode(t, err, fault.CodeForbidden, "input.appId")
			require.Nil(t, p)
			if tt.app == own && tt.role != "" {
				require.Contains(t, fe.Message, string(tt.min), "says which role is needed")
			} else {
				require.Contains(t, fe.Message, "no access to app "+strconv.FormatInt(tt.app, 10))
			}
		})
	}

	t.Run("every app", func(t *testing.T) {
		t.Parallel()
		_, err := Authorize(caller(t, &Principal{Role: Operator, AllApps: true}), 12345, Operator, "appId")
		require.NoError(t, err)
	})
	t.Run("no caller", func(t *testing.T) {
		t.Parallel()
		_, err := Authorize(t.Context(), own, Viewer, "appId")
		requireCode(t, err, fault.CodeUnauthenticated, "")
	})
	t.Run("nil principal in the context", func(t *testing.T) {
		t.Parallel()
		_, err := Authorize(WithPrincipal(t.Context(), nil), own, Viewer, "appId")
		requireCode(t, err, fault.CodeUnauthenticated, "")
	})
}

func TestAuditLogIsForAdminsOfTheApp(t *testing.T) {
	t.Parallel()
	b := setupAccountsForAudit(t)
	admin := WithPrincipal(context.Background(), &Principal{Email: "root@example.com", Role: Admin, AllApps: true})
	for i := 0; i < 3; i++ {
		b.Audit(admin, "send", 1, "task:x", nil)
	}
	b.Audit(admin, "createApp", 2, "other", nil)
	es, more, err := b.AuditLog(admin, 1, 2, 0)
	require.NoError(t, err)
	require.True(t, more)
	require.Len(t, es, 2)
	require.Greater(t, es[0].ID, es[1].ID, "newest first")
	rest, more, err := b.AuditLog(admin, 1, 2, es[1].ID)
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, rest, 1)

	appAdmin := WithPrincipal(context.Background(), &Principal{Email: "a@example.com", Role: Admin, AppIDs: []int64{2}})
	es, _, err = b.AuditLog(appAdmin, 0, 10, 0)
	require.NoError(t, err)
	require.Len(t, es, 1, "only the entries of the apps it administers")
	_, _, err = b.AuditLog(appAdmin, 1, 10, 0)
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err))
	op := WithPrincipal(context.Background(), &Principal{Email: "o@example.com", Role: Operator, AllApps: true})
	_, _, err = b.AuditLog(op, 0, 10, 0)
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err))
}

func setupAccountsForAudit(t *testing.T) *Service {
	t.Helper()
	db := storetest.New(t)
	s, err := NewService(context.Background(), db, Config{})
	require.NoError(t, err)
	return s
}
