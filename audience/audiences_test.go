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

type audienceBundle struct {
	svc   *audience.Service
	db    *sql.DB
	ctx   context.Context
	appID int64
}

func (b *audienceBundle) svcDB() *sql.DB { return b.db }

func setupAudiences(t *testing.T) *audienceBundle {
	t.Helper()
	db := storetest.New(t)
	res, err := db.Core.Exec("INSERT INTO apps (name, created_at) VALUES ('a', NOW(3))")
	require.NoError(t, err)
	appID, _ := res.LastInsertId()
	ctx := account.WithPrincipal(context.Background(), &account.Principal{Email: "op@example.com", Role: account.Operator, AppIDs: []int64{appID}})
	svc := audience.NewService(db, nil)
	users := []audience.UserInput{
		{ID: "u1", Attributes: map[string]any{"age": 35, "city": "杭州", "vip": true}, Tags: []string{"vip"}},
		{ID: "u2", Attributes: map[string]any{"age": 28, "city": "杭州"}, Tags: []string{"vip", "churned"}},
		{ID: "u3", Attributes: map[string]any{"age": 41, "city": "上海"}, Tags: []string{"new"}},
		{ID: "u4", Attributes: map[string]any{"name": "no age"}},
		{ID: "u5", Attributes: map[string]any{"age": 30.5, "city": "杭州市"}, Tags: []string{"b", "c"}},
	}
	_, _, err = svc.Upsert(ctx, appID, users)
	require.NoError(t, err)
	return &audienceBundle{svc: svc, db: db.Core, ctx: ctx, appID: appID}
}

func (b *audienceBundle) members(t *testing.T, a *audience.Audience) []string {
	t.Helper()
	var ids []string
	require.NoError(t, b.svc.Iterate(b.ctx, a, 2, func(batch []string) error {
		ids = append(ids, batch...)
		return nil
	}))
	n, err := b.svc.Size(b.ctx, a)
	require.NoError(t, err)
	require.EqualValues(t, len(ids), n, "size equals the iterated members")
	return ids
}

func TestAudienceKinds(t *testing.T) {
	t.Parallel()
	b := setupAudiences(t)
	tests := []struct {
		in   audience.AudienceInput
		want []string
	}{
		{audience.AudienceInput{Kind: audience.All}, []string{"u1", "u2", "u3", "u4", "u5"}},
		{audience.AudienceInput{Kind: audience.Static, UserIDs: []string{"u3", "u1"}}, []string{"u1", "u3"}},
		{audience.AudienceInput{Kind: audience.Tag, TagExpr: "vip && !churned"}, []string{"u1"}},
		{audience.AudienceInput{Kind: audience.Tag, TagExpr: "(vip || new) and not churned"}, []string{"u1", "u3"}},
		{audience.AudienceInput{Kind: audience.Tag, TagExpr: "(a || b) && c"}, []string{"u5"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `age >= 30 && city == "杭州"`}, []string{"u1"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `age >= 30`}, []string{"u1", "u3", "u5"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `30 < age`}, []string{"u1", "u3", "u5"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `city in ["上海", "北京"]`}, []string{"u3"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `city not in ["上海", "杭州"]`}, []string{"u4", "u5"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `city startsWith "杭州"`}, []string{"u1", "u2", "u5"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `age == nil`}, []string{"u4"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `user.vip`}, []string{"u1"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `vip == true`}, []string{"u1"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `vip != true && age > 29`}, []string{"u3", "u5"}},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `!(city == "杭州")`}, []string{"u3", "u4", "u5"}},
	}
	for i, tt := range tests {
		tt.in.AppID, tt.in.Name = b.appID, fmt.Sprintf("aud-%d", i)
		a, err := b.svc.CreateAudience(b.ctx, tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, b.members(t, a), "%s%s", tt.in.TagExpr, tt.in.Segment)
		stored, err := b.svc.FindAudience(b.ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, tt.want, b.members(t, stored), "the stored audience compiles to the same members")
	}
	all, err := b.svc.Audiences(b.ctx, b.appID)
	require.NoError(t, err)
	require.Len(t, all, len(tests))
}

func TestAudienceBadInput(t *testing.T) {
	t.Parallel()
	b := setupAudiences(t)
	tests := []struct {
		in     audience.AudienceInput
		code   fault.Code
		field  string
		reason string
	}{
		{audience.AudienceInput{Kind: audience.Tag, TagExpr: "vip &&"}, fault.CodeBadInput, "input.tagExpr", "ends early"},
		{audience.AudienceInput{Kind: audience.Tag, TagExpr: "(vip || new"}, fault.CodeBadInput, "input.tagExpr", "missing )"},
		{audience.AudienceInput{Kind: audience.Tag, TagExpr: "vip $ new"}, fault.CodeBadInput, "input.tagExpr", "line 1, column 5"},
		{audience.AudienceInput{Kind: audience.Segment, Segment: "age >="}, fault.CodeBadInput, "input.segment", "line 1"},
		{audience.AudienceInput{Kind: audience.Segment, Segment: "age + 1 > 3"}, fault.CodeBadInput, "input.segment", "attribute"},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `city == "杭州" && len(city) > 1`}, fault.CodeBadInput, "input.segment", "column 17"},
		{audience.AudienceInput{Kind: audience.Static, UserIDs: []string{"u1", "nobody"}}, fault.CodeBadInput, "input.userIds[1]", "unknown user"},
		{audience.AudienceInput{Kind: audience.Static, UserIDs: []string{"u1", "u1"}}, fault.CodeBadInput, "input.userIds[1]", "twice"},
		{audience.AudienceInput{Kind: "NOPE"}, fault.CodeBadInput, "input.kind", "unknown kind"},
	}
	for i, tt := range tests {
		tt.in.AppID, tt.in.Name = b.appID, fmt.Sprintf("bad-%d", i)
		_, err := b.svc.CreateAudience(b.ctx, tt.in)
		fe, ok := fault.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, tt.code, fe.Code)
		require.Equal(t, tt.field, fe.Field)
		require.Contains(t, fe.Message, tt.reason)
	}
	all, err := b.svc.Audiences(b.ctx, b.appID)
	require.NoError(t, err)
	require.Empty(t, all, "no audience was saved")
	other := account.WithPrincipal(context.Background(), &account.Principal{Role: account.Operator, AppIDs: []int64{b.appID + 1}})
	_, err = b.svc.CreateAudience(other, audience.AudienceInput{AppID: b.appID, Name: "x", Kind: audience.All})
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err))
}

func TestIdentitiesAndTags(t *testing.T) {
	t.Parallel()
	b := setupAudiences(t)
	family := audience.Identity{Channel: channels.SMS, Address: "138 0013 8000"}
	for _, u := range []string{"u1", "u2", "u3"} {
		_, err := b.svc.Bind(b.ctx, b.appID, u, family)
		require.NoError(t, err)
	}
	owners, err := b.svc.Owners(b.ctx, b.appID, channels.SMS, "+8613800138000")
	require.NoError(t, err)
	require.Len(t, owners, 3)
	_, err = b.svc.Unbind(b.ctx, b.appID, "u2", family)
	require.NoError(t, err)
	owners, err = b.svc.Owners(b.ctx, b.appID, channels.SMS, "13800138000")
	require.NoError(t, err)
	require.Equal(t, []string{"u1", "u3"}, []string{owners[0].ID, owners[1].ID})
	_, err = b.svc.Unbind(b.ctx, b.appID, "u2", family)
	require.Equal(t, fault.CodeNotFound, fault.CodeOf(err), "unbinding twice")
	_, err = b.svc.Bind(b.ctx, b.appID, "ghost", family)
	require.Equal(t, fault.CodeNotFound, fault.CodeOf(err))
	_, err = b.svc.Bind(b.ctx, b.appID, "u1", audience.Identity{Channel: channels.Email, Address: "not-an-email"})
	require.Equal(t, "identity.address", mustFault(t, err).Field)

	n, err := b.svc.SetTags(b.ctx, b.appID, []string{"u3", "u4"}, []string{"vip", "gold"}, true)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	n, err = b.svc.SetTags(b.ctx, b.appID, []string{"u3", "u4"}, []string{"vip"}, true)
	require.NoError(t, err)
	require.Zero(t, n, "tagging again changes nothing")
	users, more, err := b.svc.ListUsers(b.ctx, b.appID, "vip", 2, "")
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{"u1", "u2"}, []string{users[0].ID, users[1].ID})
	users, more, err = b.svc.ListUsers(b.ctx, b.appID, "vip", 2, "u2")
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, []string{"u3", "u4"}, []string{users[0].ID, users[1].ID})
	n, err = b.svc.SetTags(b.ctx, b.appID, []string{"u3"}, []string{"vip", "gold"}, false)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	_, err = b.svc.SetTags(b.ctx, b.appID, []string{"u3", "nobody"}, []string{"vip"}, true)
	require.Equal(t, "userIds[1]", mustFault(t, err).Field)
}

func mustFault(t *testing.T, err error) *fault.Error {
	t.Helper()
	fe, ok := fault.As(err)
	require.True(t, ok, "%v", err)
	return fe
}

// An address bound in two apps is two identities: neither app sees or changes the other's.
func TestIdentitiesNeverCrossApps(t *testing.T) {
	t.Parallel()
	b := setupAudiences(t)
	res, err := b.svcDB().Exec("INSERT INTO apps (name, created_at) VALUES ('b', NOW(3))")
	require.NoError(t, err)
	appB, _ := res.LastInsertId()
	ctxB := account.WithPrincipal(context.Background(), &account.Principal{Role: account.Operator, AppIDs: []int64{appB}})
	_, _, err = b.svc.Upsert(ctxB, appB, []audience.UserInput{{ID: "u1", Identities: []audience.Identity{{Channel: channels.SMS, Address: "13800138000"}}}})
	require.NoError(t, err)
	_, err = b.svc.Bind(b.ctx, b.appID, "u2", audience.Identity{Channel: channels.SMS, Address: "+8613800138000"})
	require.NoError(t, err)

	owners, err := b.svc.Owners(ctxB, appB, channels.SMS, "13800138000")
	require.NoError(t, err)
	require.Len(t, owners, 1)
	require.Equal(t, appB, owners[0].AppID, "app B sees only its own user u1")
	owners, err = b.svc.Owners(b.ctx, b.appID, channels.SMS, "13800138000")
	require.NoError(t, err)
	require.Len(t, owners, 1)
	require.Equal(t, "u2", owners[0].ID)

	_, err = b.svc.Bind(ctxB, b.appID, "u1", audience.Identity{Channel: channels.SMS, Address: "13800138000"})
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err), "app B's caller cannot bind in app A")
	_, err = b.svc.Owners(ctxB, b.appID, channels.SMS, "13800138000")
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err), "nor look up app A's owners")
	_, err = b.svc.Unbind(ctxB, appB, "u1", audience.Identity{Channel: channels.SMS, Address: "13800138000"})
	require.NoError(t, err)
	owners, err = b.svc.Owners(b.ctx, b.appID, channels.SMS, "13800138000")
	require.NoError(t, err)
	require.Len(t, owners, 1, "unbinding in app B leaves app A's identity")
}
