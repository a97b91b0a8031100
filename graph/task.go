package graph

import (
	"context"

	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/graph/model"
)

func (r *mutationResolver) setTaskStatus(ctx context.Context, id string, to dispatch.Status, action string) (*model.Task, error) {
	tid, err := parseID("id", id)
	if err != nil {
		return nil, err
	}
	t, err := r.Svc.Dispatch.SetTaskStatus(ctx, tid, to)
	if err != nil {
		return nil, err
	}
	r.Svc.Accounts.Audit(ctx, action, t.AppID, "task:"+idString(t.ID), nil)
	return toTask(t), nil
}
