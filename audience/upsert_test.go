package audience_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store/storetest"
)

type upsertBundle struct {
	svc   *audience.Service
	core  *sql.DB
	ctx   context.Context // an OPERATOR of app 1
	appID int64
}

func setupUpsert(t *testing.T) *upsertBundle {
	t.Helper()
	db := storetest.New(t)
	return &upsertBundle{
		svc:   audience.NewService(db, nil),
		core:  db.Core,
		ctx:   account.WithPrincipal(t.Context(), &account.Principal{Email: "op@example.com", Role: account.Operator, AppIDs: []int64{1}}),
		appID: 1,
	}
}

// rowCounts returns the number of rows of each audience table.
func (b *upsertBundle) rowCounts(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"users", "identities", "user_identities", "user_tags"} {
		var n int
		require.NoError(t, b.core.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n))
		out[table] = n
	}
	return out
}

func requireUpsertFault(t *testing.T, err error, code fault.Code, field string, msg ...string) {
	t.Helper()
	require.Error(t, err)
	fe, ok := fault.As(err)
	require.True(t, ok, "not a fault error: %v", err)
	require.Equal(t, code, fe.Code, err.Error())
	require.Equal(t, field, fe.Field, err.Error())
	for _, m := range msg {
		require.Contains(t, fe.Message, m)
	}
}

func TestUpsertCountsCreatedAndUpdated(t *testing.T) {
	t.Parallel()
	b := setupUpsert(t)

	created, updated, err := b.svc.Upsert(b.ctx, b.appID, []audience.UserInput{
		{ID: "u1", Attributes: map[string]any{"city": "杭州", "age": 35.0}, Tags: []string{"vip"}},
		{ID: "u2", Attributes: map[string]any{"city": "上海"}},
	})
	require.NoError(t, err)
	require.Equal(t, 2, created)
	require.Equal(t, 0, updated)

	created, updated, err = b.svc.Upsert(b.ctx, b.appID, []audience.UserInput{
		{ID: "u1", Tags: []string{"new", "vip"}},                          // no attributes: kept
		{ID: "u2", Attributes: map[string]any{"city": "北京", "vip": true}}, // replaced
		{ID: "u3"},
	})
	require.NoError(t, err)
	require.Equal(t, 1, created)
	require.Equal(t, 2, updated)

	users, err := b.svc.Users(b.ctx, b.appID, []string{"u1", "u2", "u3", "nobody"})
	require.NoError(t, err)
	require.Len(t, users, 3)
	require.Equal(t, map[string]any{"city": "杭州", "age": 35.0}, users["u1"].Attributes)
	require.Equal(t, []string{"new", "vip"}, users["u1"].Tags, "tags are added, sorted, without duplicates")
	require.Equal(t, map[string]any{"city": "北京", "vip": true}, users["u2"].Attributes)
	require.Empty(t, users["u2"].Tags)
	require.NotNil(t, users["u3"].Tags)
	require.Nil(t, users["u3"].Attributes)
	require.Equal(t, b.appID, users["u3"].AppID)

	existing, err := b.svc.Existing(b.ctx, b.appID, []string{"u1", "nobody", "u3"})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"u1": true, "u3": true}, existing)

	other, err := b.svc.Existing(b.ctx, 2, []string{"u1"})
	require.NoError(t, err)
	require.Empty(t, other, "users belong to one app")

	u, err := b.svc.User(b.ctx, b.appID, "u1")
	require.NoError(t, err)
	require.Equal(t, "u1", u.ID)
	missing, err := b.svc.User(b.ctx, b.appID, "nobody")
	require.NoError(t, err)
	require.Nil(t, missing)
}

func TestUpsertIdentitiesAreManyToMany(t *testing.T) {
	t.Parallel()
	b := setupUpsert(t)

	_, _, err := b.svc.Upsert(b.ctx, b.appID, []audience.UserInput{
		{ID: "dad", Identities: []audience.Identity{
			{Channel: channels.SMS, Address: "138 0013 8000"}, // the family phone
			{Channel: channels.Email, Address: "Dad@Example.COM"},
		}},
		{ID: "kid", Identities: []audience.Identity{
			{Channel: channels.SMS, Address: "+86 138-0013-8000"}, // the same phone, written differently
			{Channel: channels.AppPush, Address: "kid-device-token"},
		}},
	})
	require.NoError(t, err)
	// A later call binds the phone a second time and adds a second device to the kid.
	_, _, err = b.svc.Upsert(b.ctx, b.appID, []audience.UserInput{
		{ID: "kid", Identities: []audience.Identity{
			{Channel: channels.SMS, Address: "13800138000"},
			{Channel: channels.AppPush, Address: "kid-tablet-token"},
		}},
	})
	require.NoError(t, err)

	counts := b.rowCounts(t)
	require.Equal(t, 4, counts["identities"], "the shared phone is stored once")
	require.Equal(t, 5, counts["user_identities"])

	addrs, err := b.svc.Resolve(b.ctx, b.appID, []string{"dad", "kid", "nobody"})
	require.NoError(t, err)
	require.Equal(t, audience.Addresses{
		"dad": {channels.SMS: {"+8613800138000"}, channels.Email: {"Dad@example.com"}},
		"kid": {channels.SMS: {"+8613800138000"}, channels.AppPush: {"kid-device-token", "kid-tablet-token"}},
	}, addrs)

	owners, err := b.svc.LoadOwners(b.ctx, b.appID, channels.SMS, "+8613800138000")
	require.NoError(t, err)
	require.Equal(t, []string{"dad", "kid"}, owners)
}

func TestUpsertLimit(t *testing.T) {
	t.Parallel()
	b := setupUpsert(t)

	users := make([]audience.UserInput, audience.MaxUpsert+1)
	for i := range users {
		users[i] = audience.UserInput{ID: fmt.Sprintf("u%05d", i)}
	}
	_, _, err := b.svc.Upsert(b.ctx, b.appID, users)
	requireUpsertFault(t, err, fault.CodeBadInput, "users", "10001", "10000")
	require.Zero(t, b.rowCounts(t)["users"])

	// Exactly the limit is accepted, across several multi-row statements, identities included.
	users = users[:audience.MaxUpsert]
	for i := range users {
		users[i].Identities = []audience.Identity{{Channel: channels.AppPush, Address: fmt.Sprintf("token-%d", i%2500)}}
		users[i].Tags = []string{"bulk"}
	}
	created, updated, err := b.svc.Upsert(b.ctx, b.appID, users)
	require.NoError(t, err)
	require.Equal(t, audience.MaxUpsert, created)
	require.Zero(t, updated)
	require.Equal(t, map[string]int{"users": 10000, "identities": 2500, "user_identities": 10000, "user_tags": 10000}, b.rowCounts(t))

	owners, err := b.svc.LoadOwners(b.ctx, b.appID, channels.AppPush, "token-7")
	require.NoError(t, err)
	require.Equal(t, []string{"u00007", "u02507", "u05007", "u07507"}, owners)
}

func TestUpsertInvalidInputWritesNothing(t *testing.T) {
	t.Parallel()
	b := setupUpsert(t)
	good := func() []audience.UserInput {
		return []audience.UserInput{
			{ID: "u1", Attributes: map[string]any{"a": 1.0}, Tags: []string{"t"}, Identities: []audience.Identity{{Channel: channels.SMS, Address: "13800138000"}}},
			{ID: "u2", Tags: []string{"t", "u"}, Identities: []audience.Identity{{Channel: channels.Email, Address: "u2@example.com"}}},
			{ID: "u3", Identities: []audience.Identity{{Channel: channels.AppPush, Address: "tok"}, {Channel: channels.Webhook, Address: "https://example.com/h"}}},
		}
	}
	tests := []struct {
		name    string
		change  func(us []audience.UserInput) []audience.UserInput
		field   string
		message []string
	}{
		{"no users", func([]audience.UserInput) []audience.UserInput { return nil }, "users", nil},
		{"duplicate ids", func(us []audience.UserInput) []audience.UserInput { us[2].ID = "u1"; return us }, "users[2].id", []string{`"u1"`, "users[0]"}},
		{"empty id", func(us []audience.UserInput) []audience.UserInput { us[1].ID = ""; return us }, "users[1].id", nil},
		{"id equal to another but for a trailing space", func(us []audience.UserInput) []audience.UserInput { us[1].ID = "u1 "; return us }, "users[1].id", nil},
		{"bad tag", func(us []audience.UserInput) []audience.UserInput { us[1].Tags[1] = "no spaces"; return us }, "users[1].tags[1]", nil},
		{"invalid phone", func(us []audience.UserInput) []audience.UserInput {
			us[0].Identities[0].Address = "12345"
			return us
		}, "users[0].identities[0].address", []string{"12345"}},
		{"invalid identity on the last user", func(us []audience.UserInput) []audience.UserInput {
			us[2].Identities[1].Address = "ftp://example.com"
			return us
		}, "users[2].identities[1].address", nil},
		{"unknown channel", func(us []audience.UserInput) []audience.UserInput {
			us[1].Identities[0].Channel = "FAX"
			return us
		}, "users[1].identities[0].address", []string{"FAX"}},
		{"attributes that are not JSON", func(us []audience.UserInput) []audience.UserInput {
			us[1].Attributes = map[string]any{"f": func() {}}
			return us
		}, "users[1].attributes", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := b.svc.Upsert(b.ctx, b.appID, tt.change(good()))
			requireUpsertFault(t, err, fault.CodeBadInput, tt.field, tt.message...)
			require.Equal(t, map[string]int{"users": 0, "identities": 0, "user_identities": 0, "user_tags": 0}, b.rowCounts(t))
		})
	}

	// The same input without the fault is written: the checks above were not vacuous.
	created, _, err := b.svc.Upsert(b.ctx, b.appID, good())
	require.NoError(t, err)
	require.Equal(t, 3, created)
	require.Equal(t, map[string]int{"users": 3, "identities": 4, "user_identities": 4, "user_tags": 3}, b.rowCounts(t))
}

func TestUpsertCallerChecks(t *testing.T) {
	t.Parallel()
	b := setupUpsert(t)
	users := []audience.UserInput{{ID: "u1"}}
	tests := []struct {
		name  string
		ctx   context.Context
		code  fault.Code
		field string
	}{
		{"no caller", t.Context(), fault.CodeUnauthenticated, ""},
		{"another app", account.WithPrincipal(t.Context(), &account.Principal{Role: account.Admin, AppIDs: []int64{2}}), fault.CodeForbidden, "appId"},
		{"viewer", account.WithPrincipal(t.Context(), &account.Principal{Role: account.Viewer, AppIDs: []int64{1}}), fault.CodeForbidden, "appId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := b.svc.Upsert(tt.ctx, b.appID, users)
			requireUpsertFault(t, err, tt.code, tt.field)
		})
	}
	require.Zero(t, b.rowCounts(t)["users"])

	_, err := b.svc.User(account.WithPrincipal(t.Context(), &account.Principal{Role: account.Admin, AppIDs: []int64{2}}), b.appID, "u1")
	requireUpsertFault(t, err, fault.CodeForbidden, "appId")
}
