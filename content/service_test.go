package content_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

type testBundle struct {
	svc *content.Service
	// fresh is a second service on the same database, with an empty cache, to prove what
	// is stored rather than what is cached.
	fresh *content.Service
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	db := storetest.New(t)
	return &testBundle{svc: content.NewService(db, nil), fresh: content.NewService(db, nil)}
}

// as returns a context whose caller has role on apps.
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

func smsInput(appID int64, name, body string) content.Input {
	return content.Input{
		AppID:     appID,
		Name:      name,
		Variables: []content.Variable{{Name: "code", Type: content.TypeString, Required: true}},
		Variants:  []content.Variant{{Channel: channels.SMS, Body: body}},
	}
}

func TestCreateUpdateGetVersions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := as(t, account.Operator, 1)

	v1, err := b.svc.Create(ctx, smsInput(1, " login code ", "v1 {{code}}"))
	require.NoError(t, err)
	require.Equal(t, 1, v1.Version)
	require.Equal(t, "login code", v1.Name, "the name is trimmed")
	require.NotZero(t, v1.ID)

	v2, err := b.svc.Update(ctx, v1.ID, smsInput(1, "login code", "v2 {{code}}"))
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)
	v3, err := b.svc.Update(ctx, v1.ID, smsInput(1, "login code (new)", "v3 {{code}}"))
	require.NoError(t, err)
	require.Equal(t, 3, v3.Version)
	require.Equal(t, v1.ID, v3.ID)

	for _, svc := range []*content.Service{b.svc, b.fresh} {
		for version, body := range map[int]string{1: "v1 {{code}}", 2: "v2 {{code}}", 3: "v3 {{code}}", 0: "v3 {{code}}"} {
			got, err := svc.Get(ctx, v1.ID, version)
			require.NoError(t, err)
			require.Equal(t, int64(1), got.AppID)
			require.Equal(t, body, got.Variants[0].Body, "version %d", version)
			require.Equal(t, []content.Variable{{Name: "code", Type: content.TypeString, Required: true}}, got.Variables)
			if version == 0 {
				require.Equal(t, 3, got.Version)
				require.Equal(t, "login code (new)", got.Name)
			}
		}
	}

	found, err := b.fresh.Find(ctx, v1.ID, 2)
	require.NoError(t, err)
	require.Equal(t, 2, found.Version)

	_, err = b.fresh.Get(ctx, v1.ID, 4)
	requireCode(t, err, fault.CodeNotFound, "version")
	_, err = b.fresh.Get(ctx, v1.ID+100, 0)
	requireCode(t, err, fault.CodeNotFound, "templateId")
}

func TestList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := as(t, account.Operator, 1, 2)
	a, err := b.svc.Create(ctx, smsInput(1, "a", "a1 {{code}}"))
	require.NoError(t, err)
	_, err = b.svc.Update(ctx, a.ID, smsInput(1, "a", "a2 {{code}}"))
	require.NoError(t, err)
	c, err := b.svc.Create(ctx, smsInput(1, "c", "c1 {{code}}"))
	require.NoError(t, err)
	_, err = b.svc.Create(ctx, smsInput(2, "other app", "x {{code}}"))
	require.NoError(t, err)

	list, err := b.fresh.List(as(t, account.Viewer, 1), 1)
	require.NoError(t, err)
	require.Len(t, list, 2, "only app 1's templates")
	require.Equal(t, a.ID, list[0].ID)
	require.Equal(t, 2, list[0].Version, "the latest version")
	require.Equal(t, "a2 {{code}}", list[0].Variants[0].Body)
	require.Equal(t, c.ID, list[1].ID)
	require.Equal(t, 1, list[1].Version)

	empty, err := b.fresh.List(as(t, account.Viewer, 3), 3)
	require.NoError(t, err)
	require.Empty(t, empty)
}

func TestCallerChecks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	own := as(t, account.Operator, 1)
	tpl, err := b.svc.Create(own, smsInput(1, "login code", "{{code}}"))
	require.NoError(t, err)

	tests := []struct {
		name      string
		call      func() error
		wantCode  fault.Code
		wantField string
	}{
		{"create without a caller", func() error {
			_, err := b.svc.Create(t.Context(), smsInput(1, "n", "{{code}}"))
			return err
		}, fault.CodeUnauthenticated, ""},
		{"create in another app", func() error {
			_, err := b.svc.Create(as(t, account.Operator, 2), smsInput(1, "n", "{{code}}"))
			return err
		}, fault.CodeForbidden, "input.appId"},
		{"viewer may not create", func() error {
			_, err := b.svc.Create(as(t, account.Viewer, 1), smsInput(1, "n", "{{code}}"))
			return err
		}, fault.CodeForbidden, "input.appId"},
		{"update from another app", func() error {
			_, err := b.svc.Update(as(t, account.Operator, 2), tpl.ID, smsInput(1, "login code", "{{code}}"))
			return err
		}, fault.CodeForbidden, "input.appId"},
		{"update moving the template to another app", func() error {
			_, err := b.svc.Update(as(t, account.Operator, 1, 2), tpl.ID, smsInput(2, "login code", "{{code}}"))
			return err
		}, fault.CodeNotFound, "id"}, // another app's object does not exist for that app
		{"update of a missing template", func() error {
			_, err := b.svc.Update(own, tpl.ID+100, smsInput(1, "login code", "{{code}}"))
			return err
		}, fault.CodeNotFound, "templateId"},
		{"find from another app", func() error {
			_, err := b.svc.Find(as(t, account.Admin, 2), tpl.ID, 0)
			return err
		}, fault.CodeNotFound, "id"},
		{"list another app", func() error {
			_, err := b.svc.List(as(t, account.Admin, 2), 1)
			return err
		}, fault.CodeForbidden, "appId"},
		{"invalid input", func() error {
			_, err := b.svc.Create(own, smsInput(1, "n", "{{nope}}"))
			return err
		}, fault.CodeBadInput, "input.variants[0].body"},
		{"duplicate name", func() error {
			_, err := b.svc.Create(own, smsInput(1, "login code", "{{code}}"))
			return err
		}, fault.CodeConflict, "input.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireCode(t, tt.call(), tt.wantCode, tt.wantField)
		})
	}

	// Nothing above wrote a version.
	got, err := b.fresh.Get(own, tpl.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)
	list, err := b.fresh.List(as(t, account.Viewer, 2), 2)
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestUpdateToATakenNameConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := as(t, account.Operator, 1)
	_, err := b.svc.Create(ctx, smsInput(1, "first", "{{code}}"))
	require.NoError(t, err)
	second, err := b.svc.Create(ctx, smsInput(1, "second", "{{code}}"))
	require.NoError(t, err)

	_, err = b.svc.Update(ctx, second.ID, smsInput(1, "first", "{{code}} again"))
	requireCode(t, err, fault.CodeConflict, "input.name")

	got, err := b.fresh.Get(ctx, second.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version, "the failed update left no version behind")
	require.Equal(t, "second", got.Name)
}

func TestPreview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := as(t, account.Operator, 1)
	tpl, err := b.svc.Create(ctx, content.Input{
		AppID:     1,
		Name:      "parcel",
		Variables: []content.Variable{{Name: "name", Type: content.TypeString, Required: true}, {Name: "n", Type: content.TypeNumber}},
		Variants: []content.Variant{
			{Channel: channels.AppPush, Title: "Parcel for {{name}}", Body: "{{n}} items"},
			{Channel: channels.Email, Title: "Parcel for {{name}}", Body: "<p>Dear {{name}},</p><p>{{n}} items shipped.</p>"},
		},
	})
	require.NoError(t, err)
	viewer := as(t, account.Viewer, 1)

	r, err := b.fresh.Preview(viewer, tpl.ID, channels.Email, map[string]any{"name": "<b>Ada</b>", "n": 2})
	require.NoError(t, err)
	require.Equal(t, "Parcel for <b>Ada</b>", r.Title)
	require.Equal(t, "<p>Dear &lt;b&gt;Ada&lt;/b&gt;,</p><p>2 items shipped.</p>", r.Body)
	require.Equal(t, map[string]any{"text": "Dear <b>Ada</b>,\n2 items shipped."}, r.Extra)

	r, err = b.fresh.Preview(viewer, tpl.ID, channels.AppPush, map[string]any{"name": "Ada"})
	require.NoError(t, err)
	require.Equal(t, " items", r.Body, "a missing variable previews empty")

	tests := []struct {
		name      string
		ch        channels.Channel
		vars      map[string]any
		wantField string
		wantMsg   string
	}{
		{"rendered title over the push limit", channels.AppPush, map[string]any{"name": strings.Repeat("名", 40)}, "variables", "the rendered title is 51 characters; at most 50"},
		{"wrong type", channels.AppPush, map[string]any{"n": "3"}, "variables.n", "must be a number"},
		{"undeclared variable", channels.AppPush, map[string]any{"x": "3"}, "variables.x", "not declared"},
		{"no such variant", channels.SMS, nil, "channel", "no SMS variant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.fresh.Preview(viewer, tpl.ID, tt.ch, tt.vars)
			requireCode(t, err, fault.CodeBadInput, tt.wantField)
			fe, _ := fault.As(err)
			require.Contains(t, fe.Message, tt.wantMsg)
		})
	}
}

func TestLatestVersionIsServedFromMemoryUntilAProcessSavesOne(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	rdb, prefix := storetest.Redis(t)
	withRedis := func() *content.Service {
		s := content.NewService(db, nil)
		s.CacheLatest(store.NewGeneration(rdb, prefix+"templates:generation"))
		return s
	}
	mine, theirs := withRedis(), withRedis()
	// A process without Redis saves versions without telling the others.
	silent := content.NewService(db, nil)
	ctx := as(t, account.Operator, 1)

	v1, err := theirs.Create(ctx, smsInput(1, "otp", "v1 {{code}}"))
	require.NoError(t, err)
	got, err := mine.Get(ctx, v1.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)

	_, err = silent.Update(ctx, v1.ID, smsInput(1, "otp", "v2 {{code}}"))
	require.NoError(t, err)
	got, err = mine.Get(ctx, v1.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version, "no process bumped the generation: the latest is served from memory")

	v3, err := theirs.Update(ctx, v1.ID, smsInput(1, "otp", "v3 {{code}}"))
	require.NoError(t, err)
	require.Equal(t, 3, v3.Version)
	got, err = mine.Get(ctx, v1.ID, 0)
	require.NoError(t, err)
	require.Equal(t, 3, got.Version, "another process's update is seen at the next send")
	require.Equal(t, "v3 {{code}}", got.Variants[0].Body)

	v4, err := mine.Update(ctx, v1.ID, smsInput(1, "otp", "v4 {{code}}"))
	require.NoError(t, err)
	for _, s := range []*content.Service{mine, theirs} {
		got, err = s.Get(ctx, v1.ID, 0)
		require.NoError(t, err)
		require.Equal(t, v4.Version, got.Version)
	}
	_, err = mine.Get(ctx, v1.ID+100, 0)
	requireCode(t, err, fault.CodeNotFound, "templateId")
}
