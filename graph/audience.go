package graph

import (
	"context"

	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/graph/model"
)

func (r *mutationResolver) changeIdentity(ctx context.Context, appID, userID string, idn model.IdentityInput, bind bool) (*model.User, error) {
	app, err := parseID("appId", appID)
	if err != nil {
		return nil, err
	}
	in := audience.Identity{Channel: channels.Channel(idn.Channel), Address: idn.Address}
	var u *audience.User
	action := "bindIdentity"
	if bind {
		u, err = r.Svc.Audience.Bind(ctx, app, userID, in)
	} else {
		action = "unbindIdentity"
		u, err = r.Svc.Audience.Unbind(ctx, app, userID, in)
	}
	if err != nil {
		return nil, err
	}
	r.Svc.Accounts.Audit(ctx, action, app, "user:"+userID, map[string]any{"channel": in.Channel})
	return toUser(u), nil
}

func (r *mutationResolver) setTags(ctx context.Context, appID string, userIDs, tags []string, add bool) (int, error) {
	app, err := parseID("appId", appID)
	if err != nil {
		return 0, err
	}
	n, err := r.Svc.Audience.SetTags(ctx, app, userIDs, tags, add)
	if err != nil {
		return 0, err
	}
	action := "tagUsers"
	if !add {
		action = "untagUsers"
	}
	r.Svc.Accounts.Audit(ctx, action, app, "", map[string]any{"users": len(userIDs), "tags": tags, "changed": n})
	return n, nil
}
