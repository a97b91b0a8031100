package audience_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
)

// seedRange upserts users u000…u(n-1), with tags and an attribute, and returns their ids.
func seedRange(t *testing.T, b *upsertBundle, n int) []string {
	t.Helper()
	var users []audience.UserInput
	var ids []string
	for i := range n {
		u := audience.UserInput{ID: fmt.Sprintf("u%03d", i), Attributes: map[string]any{"n": i},
			Identities: []audience.Identity{{Channel: channels.SMS, Address: fmt.Sprintf("+86138%08d", i)}}}
		if i%4 == 0 {
			u.Identities = append(u.Identities, audience.Identity{Channel: channels.Email, Address: fmt.Sprintf("u%d@example.com", i)})
		}
		if i%2 == 0 {
			u.Tags = append(u.Tags, "vip")
		}
		if i%3 == 0 {
			u.Tags = append(u.Tags, "b")
		}
		users = append(users, u)
		ids = append(ids, u.ID)
	}
	_, _, err := b.svc.Upsert(b.ctx, b.appID, users)
	require.NoError(t, err)
	return ids
}

func TestUsersInRangeEqualsUsers(t *testing.T) {
	t.Parallel()
	b := setupUpsert(t)
	ids := seedRange(t, b, 200)
	dense := ids[:100]
	// A user added inside the range after the shard was planned is not one of its users.
	_, _, err := b.svc.Upsert(b.ctx, b.appID, []audience.UserInput{{ID: "u050x", Tags: []string{"vip"}}})
	require.NoError(t, err)

	want, err := b.svc.Users(b.ctx, b.appID, dense)
	require.NoError(t, err)
	require.Len(t, want, 100)
	got, err := b.svc.UsersInRange(b.ctx, b.appID, dense)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NotContains(t, got, "u050x")
	require.Equal(t, []string{"b", "vip"}, got["u006"].Tags)

	// Every third user: the range holds three times as many users, so each is looked up.
	var sparse []string
	for i := 0; i < len(ids); i += 3 {
		sparse = append(sparse, ids[i])
	}
	want, err = b.svc.Users(b.ctx, b.appID, sparse)
	require.NoError(t, err)
	got, err = b.svc.UsersInRange(b.ctx, b.appID, sparse)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Len(t, got, len(sparse))
}

func TestOptOutsOfManyUsers(t *testing.T) {
	t.Parallel()
	b := setupUpsert(t)
	ids := seedRange(t, b, 200)
	part := ids[:100]
	require.NoError(t, b.svc.SetOptOut(b.ctx, b.appID, "u010", channels.SMS, "MARKETING", true))
	require.NoError(t, b.svc.SetOptOut(b.ctx, b.appID, "u020", "", "", true))
	require.NoError(t, b.svc.SetOptOut(b.ctx, b.appID, "u150", channels.SMS, "", true)) // in the table, outside the part

	got, err := b.svc.OptOuts(b.ctx, b.appID, part)
	require.NoError(t, err)
	require.Equal(t, map[string][]audience.OptOut{
		"u010": {{Channel: channels.SMS, Class: "MARKETING"}},
		"u020": {{}},
	}, got)

	// More opt-outs in the range than twice its users: they are looked up by user.
	for _, id := range ids {
		require.NoError(t, b.svc.SetOptOut(b.ctx, b.appID, id, channels.Email, "", true))
		require.NoError(t, b.svc.SetOptOut(b.ctx, b.appID, id, channels.WeChat, "", true))
	}
	got, err = b.svc.OptOuts(b.ctx, b.appID, part[:70])
	require.NoError(t, err)
	require.Len(t, got, 70)
	require.Len(t, got["u010"], 3)
	require.Len(t, got["u069"], 2)
	require.NotContains(t, got, "u070")
}

func TestLoadAddressesOfManyUsers(t *testing.T) {
	t.Parallel()
	b := setupUpsert(t)
	ids := seedRange(t, b, 400)
	want := func(users []string) audience.Addresses {
		out := audience.Addresses{}
		for _, u := range users {
			var i int
			_, err := fmt.Sscanf(u, "u%03d", &i)
			require.NoError(t, err)
			out[u] = map[channels.Channel][]string{channels.SMS: {fmt.Sprintf("+86138%08d", i)}}
			if i%4 == 0 {
				out[u][channels.Email] = []string{fmt.Sprintf("u%d@example.com", i)}
			}
		}
		return out
	}
	// A user added inside the range since is left out.
	_, _, err := b.svc.Upsert(b.ctx, b.appID, []audience.UserInput{{ID: "u050x", Identities: []audience.Identity{{Channel: channels.SMS, Address: "+8613900000000"}}}})
	require.NoError(t, err)

	got, err := b.svc.LoadAddresses(b.ctx, b.appID, ids[:100])
	require.NoError(t, err)
	require.Equal(t, want(ids[:100]), got)

	var sparse []string // one user in six: more than four identities per user in the range, so looked up by user
	for i := 0; i < len(ids); i += 6 {
		sparse = append(sparse, ids[i])
	}
	require.Len(t, sparse, 67)
	got, err = b.svc.LoadAddresses(b.ctx, b.appID, sparse)
	require.NoError(t, err)
	require.Equal(t, want(sparse), got)
}
