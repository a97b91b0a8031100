package rule_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/rule"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

type testBundle struct {
	svc *rule.Service
	// fresh has an empty cache, so what it returns was stored.
	fresh *rule.Service
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := storetest.New(t)
	return &testBundle{svc: rule.NewService(db, nil), fresh: rule.NewService(db, nil)}
}

func as(t *testing.T, role account.Role, apps ...int64) context.Context {
	t.Helper()
	return account.WithPrincipal(t.Context(), &account.Principal{Email: "op@example.com", Role: role, AppIDs: apps})
}

func requireCode(t *testing.T, err error, code fault.Code, field string) {
	t.Helper()
	require.Error(t, err)
	fe, ok := fault.As(err)
	require.True(t, ok, "not a fault error: %v", err)
	require.Equal(t, code, fe.Code, err.Error())
	require.Equal(t, field, fe.Field, err.Error())
}

func twoRoutes(appID int64, name, city string) rule.Input {
	return rule.Input{AppID: appID, Name: name, Routes: []rule.Route{
		{When: `user.city == "` + city + `"`, Strategy: rule.Concurrent, Channels: []channels.Channel{channels.AppPush, channels.WeChat}},
		{Strategy: rule.Fallback, Channels: []channels.Channel{channels.AppPush, channels.SMS}, FallbackAfter: 45 * time.Second},
	}}
}

func TestRoundTripAndVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := as(t, account.Operator, 1)

	v1, err := b.svc.Create(ctx, twoRoutes(1, " push first ", "Beijing"))
	require.NoError(t, err)
	require.Equal(t, 1, v1.Version)
	require.Equal(t, "push first", v1.Name)
	v2, err := b.svc.Update(ctx, v1.ID, twoRoutes(1, "push first", "Shanghai"))
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)
	require.Equal(t, v1.ID, v2.ID)

	tests := []struct {
		version   int
		city      string
		wantRoute int
	}{
		{1, "Beijing", 0},
		{1, "Shanghai", 1},
		{2, "Shanghai", 0},
		{2, "Beijing", 1},
		{0, "Shanghai", 0}, // 0 is the latest
	}
	for _, tt := range tests {
		got, err := b.fresh.Get(ctx, v1.ID, tt.version)
		require.NoError(t, err)
		require.Equal(t, int64(1), got.AppID)
		require.Len(t, got.Routes, 2)
		require.Equal(t, rule.Concurrent, got.Routes[0].Strategy)
		require.Equal(t, []channels.Channel{channels.AppPush, channels.WeChat}, got.Routes[0].Channels)
		require.Equal(t, rule.Fallback, got.Routes[1].Strategy)
		require.Equal(t, 45*time.Second, got.Routes[1].FallbackAfter)
		require.Equal(t, rule.MilestoneDelivered, got.Routes[1].Until, "the default milestone is stored")
		require.Equal(t, tt.wantRoute, got.Match(map[string]any{"user": map[string]any{"city": tt.city}}), "version %d, city %s", tt.version, tt.city)
	}

	latest, err := b.fresh.Find(ctx, v1.ID)
	require.NoError(t, err)
	require.Equal(t, 2, latest.Version)

	list, err := b.fresh.List(as(t, account.Viewer, 1), 1)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, 2, list[0].Version)

	_, err = b.fresh.Get(ctx, v1.ID, 3)
	requireCode(t, err, fault.CodeNotFound, "ruleId")
}

func TestCallerChecks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	own := as(t, account.Operator, 1)
	r, err := b.svc.Create(own, twoRoutes(1, "r", "Beijing"))
	require.NoError(t, err)
	_, err = b.svc.Create(own, twoRoutes(1, "taken", "Beijing"))
	require.NoError(t, err)

	tests := []struct {
		name      string
		call      func() error
		wantCode  fault.Code
		wantField string
	}{
		{"create without a caller", func() error {
			_, err := b.svc.Create(t.Context(), twoRoutes(1, "n", "x"))
			return err
		}, fault.CodeUnauthenticated, ""},
		{"create in another app", func() error {
			_, err := b.svc.Create(as(t, account.Admin, 2), twoRoutes(1, "n", "x"))
			return err
		}, fault.CodeForbidden, "input.appId"},
		{"viewer may not create", func() error {
			_, err := b.svc.Create(as(t, account.Viewer, 1), twoRoutes(1, "n", "x"))
			return err
		}, fault.CodeForbidden, "input.appId"},
		{"update from another app", func() error {
			_, err := b.svc.Update(as(t, account.Operator, 2), r.ID, twoRoutes(1, "r", "x"))
			return err
		}, fault.CodeForbidden, "input.appId"},
		{"update moving the rule to another app", func() error {
			_, err := b.svc.Update(as(t, account.Operator, 1, 2), r.ID, twoRoutes(2, "r", "x"))
			return err
		}, fault.CodeNotFound, "id"}, // another app's object does not exist for that app
		{"find from another app", func() error {
			_, err := b.svc.Find(as(t, account.Admin, 2), r.ID)
			return err
		}, fault.CodeNotFound, "id"},
		{"list another app", func() error {
			_, err := b.svc.List(as(t, account.Operator, 2), 1)
			return err
		}, fault.CodeForbidden, "appId"},
		{"invalid routes", func() error {
			in := twoRoutes(1, "n", "x")
			in.Routes[0].When = ""
			_, err := b.svc.Create(own, in)
			return err
		}, fault.CodeBadInput, "input.routes[1]"},
		{"duplicate name", func() error {
			_, err := b.svc.Create(own, twoRoutes(1, "r", "x"))
			return err
		}, fault.CodeConflict, "input.name"},
		{"rename to a taken name", func() error {
			_, err := b.svc.Update(own, r.ID, twoRoutes(1, "taken", "x"))
			return err
		}, fault.CodeConflict, "input.name"},
		{"update of a missing rule", func() error {
			_, err := b.svc.Update(own, r.ID+100, twoRoutes(1, "r", "x"))
			return err
		}, fault.CodeNotFound, "ruleId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireCode(t, tt.call(), tt.wantCode, tt.wantField)
		})
	}

	got, err := b.fresh.Get(own, r.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version, "no failed call wrote a version")
	require.Equal(t, "r", got.Name)
}

func TestLatestVersionIsServedFromMemoryUntilAProcessSavesOne(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	rdb, prefix := storetest.Redis(t)
	withRedis := func() *rule.Service {
		s := rule.NewService(db, nil)
		s.CacheLatest(store.NewGeneration(rdb, prefix+"rules:generation"))
		return s
	}
	mine, theirs := withRedis(), withRedis()
	silent := rule.NewService(db, nil) // saves versions without telling the others
	ctx := as(t, account.Operator, 1)
	city := func(r *rule.Rule) int {
		return r.Match(map[string]any{"user": map[string]any{"city": "Beijing"}})
	}

	v1, err := theirs.Create(ctx, twoRoutes(1, "r", "Beijing"))
	require.NoError(t, err)
	got, err := mine.Get(ctx, v1.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)
	require.Equal(t, 0, city(got))

	_, err = silent.Update(ctx, v1.ID, twoRoutes(1, "r", "Shanghai"))
	require.NoError(t, err)
	got, err = mine.Get(ctx, v1.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version, "no process bumped the generation: the latest is served from memory")

	_, err = theirs.Update(ctx, v1.ID, twoRoutes(1, "r", "Shenzhen"))
	require.NoError(t, err)
	got, err = mine.Get(ctx, v1.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 3, got.Version, "another process's update is seen at the next send")
	require.Equal(t, 1, city(got), "its conditions are the new version's")
}
