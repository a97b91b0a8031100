package audience_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/fault"
)

func sampleIDs(us []*audience.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func audienceCount(t *testing.T, b *audienceBundle) int {
	t.Helper()
	var n int
	require.NoError(t, b.db.QueryRow("SELECT COUNT(*) FROM audiences WHERE app_id = ?", b.appID).Scan(&n))
	return n
}

// A preview gives the size and sample the saved audience then has, and saves nothing.
func TestPreviewAudienceMatchesSaved(t *testing.T) {
	t.Parallel()
	b := setupAudiences(t)
	viewer := account.WithPrincipal(context.Background(), &account.Principal{Email: "v@example.com", Role: account.Viewer, AppIDs: []int64{b.appID}})
	inputs := []audience.AudienceInput{
		{Kind: audience.All},
		{Kind: audience.Static, UserIDs: []string{"u5", "u3", "u1"}},
		{Kind: audience.Tag, TagExpr: "vip && !churned"},
		{Kind: audience.Tag, TagExpr: "vip || new || b"},
		{Kind: audience.Segment, Segment: `age >= 30`},
		{Kind: audience.Segment, Segment: `city == "北京"`},
	}
	for i, in := range inputs {
		in.AppID = b.appID
		before := audienceCount(t, b)
		p, err := b.svc.PreviewAudience(viewer, in, 2)
		require.NoError(t, err, "%+v", in)
		require.Equal(t, before, audienceCount(t, b), "a preview saves nothing")

		in.Name = "saved-" + string(rune('a'+i))
		a, err := b.svc.CreateAudience(b.ctx, in)
		require.NoError(t, err)
		size, err := b.svc.Size(b.ctx, a)
		require.NoError(t, err)
		require.Equal(t, size, p.Size, "preview and saved sizes of %+v", in)
		saved, err := b.svc.Sample(b.ctx, a, 2)
		require.NoError(t, err)
		require.Equal(t, sampleIDs(saved), sampleIDs(p.Sample), "preview and saved samples of %+v", in)
		require.LessOrEqual(t, len(p.Sample), 2)
	}
}

func TestPreviewAudienceSampleBounds(t *testing.T) {
	t.Parallel()
	b := setupAudiences(t)
	in := audience.AudienceInput{AppID: b.appID, Kind: audience.All}
	p, err := b.svc.PreviewAudience(b.ctx, in, 0)
	require.NoError(t, err)
	require.EqualValues(t, 5, p.Size)
	require.Equal(t, []string{"u1", "u2", "u3", "u4", "u5"}, sampleIDs(p.Sample), "0 samples the default 10, here every user")
	for _, n := range []int{-1, audience.MaxPreviewSample + 1} {
		_, err := b.svc.PreviewAudience(b.ctx, in, n)
		require.Equal(t, "input.sampleSize", mustFault(t, err).Field, "sample %d", n)
	}
}

// A bad expression is refused on the field that carries it, with its position, as
// createAudience refuses it; nothing is saved.
func TestPreviewAudienceBadInput(t *testing.T) {
	t.Parallel()
	b := setupAudiences(t)
	tests := []struct {
		in    audience.AudienceInput
		field string
		msg   string
	}{
		{audience.AudienceInput{Kind: audience.Tag, TagExpr: "vip $ new"}, "input.tagExpr", "line 1, column 5"},
		{audience.AudienceInput{Kind: audience.Tag, TagExpr: "(vip || new"}, "input.tagExpr", "missing )"},
		{audience.AudienceInput{Kind: audience.Tag, TagExpr: "vip", Segment: "age > 1"}, "input.segment", "not segment"},
		{audience.AudienceInput{Kind: audience.Segment, Segment: `city == "杭州" && len(city) > 1`}, "input.segment", "column 17"},
		{audience.AudienceInput{Kind: audience.Static, UserIDs: []string{"u1", "nobody"}}, "input.userIds[1]", "unknown user"},
		{audience.AudienceInput{Kind: audience.Static}, "input.userIds", "needs users"},
		{audience.AudienceInput{Kind: "NOPE"}, "input.kind", "unknown kind"},
	}
	for _, tt := range tests {
		tt.in.AppID = b.appID
		_, err := b.svc.PreviewAudience(b.ctx, tt.in, 5)
		fe := mustFault(t, err)
		require.Equal(t, fault.CodeBadInput, fe.Code, "%+v", tt.in)
		require.Equal(t, tt.field, fe.Field, "%+v", tt.in)
		require.Contains(t, fe.Message, tt.msg)

		// createAudience answers the same for the same input.
		tt.in.Name = "bad"
		_, err = b.svc.CreateAudience(b.ctx, tt.in)
		require.Equal(t, tt.field, mustFault(t, err).Field)
	}
	require.Zero(t, audienceCount(t, b))
}

func TestPreviewAudienceAuthorization(t *testing.T) {
	t.Parallel()
	b := setupAudiences(t)
	in := audience.AudienceInput{AppID: b.appID, Kind: audience.All}
	_, err := b.svc.PreviewAudience(context.Background(), in, 5)
	require.Equal(t, fault.CodeUnauthenticated, fault.CodeOf(err))
	other := account.WithPrincipal(context.Background(), &account.Principal{Email: "o@example.com", Role: account.Admin, AppIDs: []int64{b.appID + 1000}})
	_, err = b.svc.PreviewAudience(other, in, 5)
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err), "an admin of another app")
	require.Equal(t, "input.appId", mustFault(t, err).Field)
}
