package dispatch

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/fault"
)

// ShardSize is the number of users in one shard of a bulk task.
const ShardSize = 1000

// shardStride spaces the positions of shards so a user's position (and so its message id)
// depends only on its shard and place in it.
const shardStride = 1024

// TaskInput creates a task: a bulk send to an audience or the whole app, or a scheduled or
// recurring send.
type TaskInput struct {
	AppID      int64
	Name       string
	Kind       Kind
	TemplateID int64
	RuleID     int64
	AudienceID int64
	UserIDs    []string
	Variables  map[string]any
	StartAt    *time.Time
	Cron       string
	Priority   *int
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// CreateTask validates a task completely, stores it and starts it now, at startAt, or on
// every firing of its cron schedule. Nothing is stored when any input is wrong.
func (s *Service) CreateTask(ctx context.Context, in TaskInput) (*Task, error) {
	p, err := account.Authorize(ctx, in.AppID, account.Operator, "input.appId")
	if err != nil {
		return nil, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 200 {
		return nil, fault.BadInput("input.name", "must be 1 to 200 characters")
	}
	t := &Task{AppID: in.AppID, Name: in.Name, Kind: in.Kind, Lane: LaneBulk, Priority: 5, Variables: in.Variables, Cron: in.Cron}
	if in.Priority != nil {
		if *in.Priority < 0 || *in.Priority > 9 {
			return nil, fault.BadInput("input.priority", "must be between 0 and 9")
		}
		t.Priority = *in.Priority
	}
	var userIDs []string
	switch in.Kind {
	case KindSingle, KindList:
		t.Lane = LaneRealtime
		if in.AudienceID != 0 {
			return nil, fault.BadInput("input.audienceId", "a %s task takes userIds, not an audience", in.Kind)
		}
		limit := MaxSendUsers
		if in.Kind == KindSingle {
			limit = 1
		}
		if len(in.UserIDs) == 0 || len(in.UserIDs) > limit {
			return nil, fault.BadInput("input.userIds", "a %s task takes 1 to %d users", in.Kind, limit)
		}
		seen := map[string]bool{}
		for i, id := range in.UserIDs {
			if err := audience.ValidUserID(id); err != nil {
				return nil, fault.BadInput(fmt.Sprintf("input.userIds[%d]", i), "%s", err)
			}
			if !seen[id] {
				seen[id] = true
				userIDs = append(userIDs, id)
			}
		}
	case KindTag, KindGroup:
		if len(in.UserIDs) > 0 {
			return nil, fault.BadInput("input.userIds", "a %s task takes an audience, not userIds", in.Kind)
		}
		if in.AudienceID == 0 {
			return nil, fault.BadInput("input.audienceId", "a %s task needs an audience", in.Kind)
		}
		a, err := s.audience.GetAudience(ctx, in.AudienceID)
		if err != nil || a.AppID != in.AppID {
			return nil, fault.NotFound("input.audienceId", "audience %d does not exist in app %d", in.AudienceID, in.AppID)
		}
		if in.Kind == KindTag && a.Kind != audience.Tag {
			return nil, fault.BadInput("input.audienceId", "a TAG task needs a TAG audience; %q is %s", a.Name, a.Kind)
		}
		if in.Kind == KindGroup && a.Kind != audience.Static && a.Kind != audience.Segment {
			return nil, fault.BadInput("input.audienceId", "a GROUP task needs a STATIC or SEGMENT audience; %q is %s", a.Name, a.Kind)
		}
	case KindBroadcast:
		if len(in.UserIDs) > 0 || in.AudienceID != 0 {
			return nil, fault.BadInput("input.audienceId", "a BROADCAST task reaches every user of the app; give neither audienceId nor userIds")
		}
	default:
		return nil, fault.BadInput("input.kind", "unknown kind %q", in.Kind)
	}
	tpl, rl, err := s.templateAndRule(ctx, in.AppID, in.TemplateID, in.RuleID, in.Variables)
	if err != nil {
		return nil, err
	}
	now := s.nowFunc()
	t.Status = StatusRunning
	if in.StartAt != nil {
		if in.StartAt.Before(now.Add(-time.Minute)) {
			return nil, fault.BadInput("input.startAt", "%s is in the past", in.StartAt.Format(time.RFC3339))
		}
		if in.StartAt.After(now.Add(400 * 24 * time.Hour)) {
			return nil, fault.BadInput("input.startAt", "must be within 400 days")
		}
		if in.StartAt.After(now) {
			t.Status = StatusScheduled
		}
	}
	var next *time.Time
	if in.Cron != "" {
		sched, err := cronParser.Parse(in.Cron)
		if err != nil {
			return nil, fault.BadInput("input.cron", "%q is not a cron schedule (minute hour day month weekday, or @daily): %s", in.Cron, err)
		}
		from := now
		if in.StartAt != nil && in.StartAt.After(now) {
			from = *in.StartAt
		}
		n := sched.Next(from.In(s.writer.Location())) // schedules read in Herald's time zone
		if n.IsZero() {
			return nil, fault.BadInput("input.cron", "%q never fires", in.Cron)
		}
		next = &n
		t.Status = StatusScheduled
	}
	t.TemplateID, t.TemplateVersion, t.RuleID, t.RuleVersion = tpl.ID, tpl.Version, rl.ID, rl.Version
	t.Day = s.writer.Day(now)
	t.CreatedAt = now.UTC().Truncate(time.Millisecond)
	t.NextRunAt = next
	vars, _ := json.Marshal(in.Variables)
	var users, audienceID, startAt, nextRun, cronExpr any
	if len(userIDs) > 0 {
		b, _ := json.Marshal(userIDs)
		users = string(b)
	}
	if in.AudienceID != 0 {
		audienceID = in.AudienceID
	}
	if in.StartAt != nil {
		startAt = in.StartAt.UTC()
	}
	if next != nil {
		nextRun = next.UTC()
	}
	if in.Cron != "" {
		cronExpr = in.Cron
	}
	t.ID, err = s.db.Dialect.InsertID(ctx, s.db.Core, createBulkSQL,
		t.AppID, t.Name, string(t.Kind), string(t.Lane), string(t.Status), t.TemplateID, t.TemplateVersion, t.RuleID, t.RuleVersion,
		audienceID, users, string(vars), t.Priority, cronExpr, startAt, nextRun, t.Day, p.Name(), t.CreatedAt, t.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("error creating task: %w", err)
	}
	if t.Status == StatusRunning {
		if err := s.startPlanning(ctx, t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// planMessage asks a worker to split a task into shards.
type planMessage struct {
	Kind string `json:"kind"`
	Task int64  `json:"task"`
}

// laneQueue is the queue of a task's lane.
func laneQueue(l Lane) broker.Queue {
	if l == LaneRealtime {
		return broker.Realtime
	}
	return broker.Bulk
}

// startPlanning queues the planning of a running task. If the broker cannot take it, the
// task is marked FAILED and UNAVAILABLE returned.
func (s *Service) startPlanning(ctx context.Context, t *Task) error {
	body, _ := json.Marshal(planMessage{Kind: "plan", Task: t.ID})
	pctx, cancel := context.WithTimeout(ctx, s.PublishTimeout)
	defer cancel()
	err := s.publisher.Publish(pctx, laneQueue(t.Lane), broker.Message{Body: body, Priority: uint8(t.Priority), MessageID: fmt.Sprintf("plan-%d", t.ID), ContentType: "application/json"})
	if err != nil {
		s.logger.ErrorContext(ctx, "error queuing task planning", "task_id", t.ID, "error", err)
		if _, uerr := s.db.Core.ExecContext(context.WithoutCancel(ctx), s.db.Dialect.Rebind("UPDATE tasks SET status = 'FAILED', error = 'the message queue was unavailable', updated_at = ? WHERE id = ?"), s.nowFunc().UTC(), t.ID); uerr != nil {
			s.logger.ErrorContext(ctx, "error marking task failed", "task_id", t.ID, "error", uerr)
		}
		return fault.Unavailable("the message queue is unavailable; the task was not started, retry later")
	}
	return nil
}

// SetTaskStatus pauses, resumes or cancels a task. Workers see the change within a second:
// no new shard starts, and a running shard stops at its next batch.
func (s *Service) SetTaskStatus(ctx context.Context, id int64, to Status) (*Task, error) {
	// An anonymous caller learns nothing, not even whether the object exists.
	if _, err := account.Require(ctx); err != nil {
		return nil, err
	}
	t, err := s.task(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := account.Authorize(ctx, t.AppID, account.Operator, "id"); err != nil {
		if fault.CodeOf(err) == fault.CodeForbidden && account.FromContext(ctx) != nil && account.FromContext(ctx).CanUse(t.AppID, account.Viewer) {
			return nil, err
		}
		return nil, fault.NotFound("id", "task %d does not exist", id)
	}
	var from []Status
	switch to {
	case StatusPaused:
		from = []Status{StatusRunning, StatusScheduled}
	case StatusRunning:
		from = []Status{StatusPaused}
	case StatusCancelled:
		from = []Status{StatusRunning, StatusScheduled, StatusPaused}
	default:
		return nil, fault.BadInput("status", "cannot move a task to %s", to)
	}
	args := []any{string(to), s.nowFunc().UTC(), id}
	q := "UPDATE tasks SET status = ?, updated_at = ? WHERE id = ? AND status IN ("
	for i, f := range from {
		if i > 0 {
			q += ","
		}
		q += "?"
		args = append(args, string(f))
	}
	res, err := s.db.Core.ExecContext(ctx, s.db.Dialect.Rebind(q+")"), args...)
	if err != nil {
		return nil, fmt.Errorf("error changing task status: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fault.Conflict("id", "task %d is %s and cannot become %s", id, t.Status, to)
	}
	if to == StatusRunning && t.Status == StatusPaused && t.Cron == "" && !t.planned {
		// A task paused before it was planned is planned now.
		t.Status = StatusRunning
		if err := s.startPlanning(ctx, t); err != nil {
			return nil, err
		}
	}
	return s.task(ctx, id)
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var errNotMine = errors.New("shard is being sent by another worker")

var _ = sql.ErrNoRows
