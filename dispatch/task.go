// Package dispatch turns sends and tasks into messages: it validates and plans them, queues
// them on the realtime or bulk lane, and runs the workers that send them and the consumer
// that applies vendor receipts.
package dispatch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/rule"
)

// Kind is a task kind.
type Kind string

// Task kinds.
const (
	KindSingle    Kind = "SINGLE"
	KindList      Kind = "LIST"
	KindTag       Kind = "TAG"
	KindGroup     Kind = "GROUP"
	KindBroadcast Kind = "BROADCAST"
)

// Lane is the queue family a task travels on.
type Lane string

// Lanes: realtime and bulk never share a queue or a consumer pool.
const (
	LaneRealtime Lane = "REALTIME"
	LaneBulk     Lane = "BULK"
)

// Status is a task status.
type Status string

// Task statuses.
const (
	StatusDraft     Status = "DRAFT"
	StatusScheduled Status = "SCHEDULED"
	StatusRunning   Status = "RUNNING"
	StatusPaused    Status = "PAUSED"
	StatusCompleted Status = "COMPLETED"
	StatusCancelled Status = "CANCELLED"
	StatusFailed    Status = "FAILED"
)

// Task is one send: template + rule + users + variables.
type Task struct {
	ID              int64
	AppID           int64
	Name            string
	Kind            Kind
	Lane            Lane
	Status          Status
	TemplateID      int64
	TemplateVersion int
	RuleID          int64
	RuleVersion     int
	Variables       map[string]any
	Priority        int
	Cron            string
	NextRunAt       *time.Time
	Day             string
	Total           int64
	ShardsTotal     int
	ShardsDone      int
	CreatedAt       time.Time
	// Error says why a task FAILED.
	Error string

	audienceID int64
	userIDs    []string
	planned    bool
}

const taskColumns = "id, app_id, name, kind, lane, status, template_id, template_version, rule_id, rule_version, variables, priority, cron, next_run_at, day, total, shards_total, shards_done, created_at, audience_id, user_ids, planned, error"

func scanTask(row interface{ Scan(...any) error }) (*Task, error) {
	t := &Task{}
	var (
		vars, cron, users, taskErr sql.NullString
		next                       sql.NullTime
		aud                        sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.AppID, &t.Name, &t.Kind, &t.Lane, &t.Status, &t.TemplateID, &t.TemplateVersion, &t.RuleID, &t.RuleVersion,
		&vars, &t.Priority, &cron, &next, &t.Day, &t.Total, &t.ShardsTotal, &t.ShardsDone, &t.CreatedAt, &aud, &users, &t.planned, &taskErr); err != nil {
		return nil, err
	}
	t.audienceID, t.Error = aud.Int64, taskErr.String
	if users.Valid {
		_ = json.Unmarshal([]byte(users.String), &t.userIDs)
	}
	if vars.Valid {
		_ = json.Unmarshal([]byte(vars.String), &t.Variables)
	}
	t.Cron = cron.String
	if next.Valid {
		t.NextRunAt = &next.Time
	}
	return t, nil
}

// Task returns a task the caller may read; NOT_FOUND otherwise.
func (s *Service) Task(ctx context.Context, id int64) (*Task, error) {
	// An anonymous caller learns nothing, not even whether the object exists.
	if _, err := account.Require(ctx); err != nil {
		return nil, err
	}
	t, err := s.task(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := account.Authorize(ctx, t.AppID, account.Viewer, "id"); err != nil {
		return nil, fault.NotFound("id", "task %d does not exist", id)
	}
	return t, nil
}

func (s *Service) task(ctx context.Context, id int64) (*Task, error) {
	t, err := scanTask(s.db.Core.QueryRowContext(ctx, s.db.Dialect.Rebind("SELECT "+taskColumns+" FROM tasks WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFound("id", "task %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading task: %w", err)
	}
	return t, nil
}

// Tasks lists an app's tasks, newest first, with keyset paging on the id.
func (s *Service) Tasks(ctx context.Context, appID int64, status Status, first int, afterID int64) ([]*Task, bool, error) {
	if _, err := account.Authorize(ctx, appID, account.Viewer, "appId"); err != nil {
		return nil, false, err
	}
	if first <= 0 || first > 200 {
		first = 50
	}
	q := "SELECT " + taskColumns + " FROM tasks WHERE app_id = ?"
	args := []any{appID}
	if status != "" {
		q += " AND status = ?"
		args = append(args, string(status))
	}
	if afterID > 0 {
		q += " AND id < ?"
		args = append(args, afterID)
	}
	args = append(args, first+1)
	rows, err := s.db.Core.QueryContext(ctx, tasksSQL(s.db.Dialect, q), args...)
	if err != nil {
		return nil, false, fmt.Errorf("error listing tasks: %w", err)
	}
	defer rows.Close()
	var out []*Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, t)
	}
	more := len(out) > first
	if more {
		out = out[:first]
	}
	return out, more, rows.Err()
}

// Progress is a task's progress, counted from its delivery rows.
type Progress struct {
	Total       int64
	ShardsTotal int
	ShardsDone  int
	reports.Counts
}

// Progress counts a task's deliveries. Fallbacks are counted only for a task whose rule
// version has a fallback route (or whose rule cannot be read): no other task has any.
func (s *Service) Progress(ctx context.Context, t *Task) (*Progress, error) {
	fallbacks := true
	if s.rules != nil {
		if rl, err := s.rules.Get(ctx, t.RuleID, t.RuleVersion); err == nil && t.RuleVersion > 0 {
			fallbacks = slices.ContainsFunc(rl.Routes, func(r rule.Route) bool { return r.Strategy == rule.Fallback })
		}
	}
	c, err := s.stats.TaskCounts(ctx, t.ID, t.Day, s.nowFunc(), fallbacks)
	if err != nil {
		return nil, err
	}
	return &Progress{Total: t.Total, ShardsTotal: t.ShardsTotal, ShardsDone: t.ShardsDone, Counts: c}, nil
}

// WatchProgress calls fn with a task's progress at most once per interval, whenever it
// changed, until ctx is done or the task has finished and its last progress was sent.
func (s *Service) WatchProgress(ctx context.Context, id int64, interval time.Duration, fn func(*Progress)) {
	var last *Progress
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		t, err := s.task(ctx, id)
		if err != nil {
			return
		}
		p, err := s.Progress(ctx, t)
		if err == nil && (last == nil || *p != *last) {
			fn(p)
			last = p
		}
		if t.Status == StatusCompleted || t.Status == StatusCancelled || t.Status == StatusFailed {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
