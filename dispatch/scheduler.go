package dispatch

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/store"
)

// Scheduler starts tasks whose startAt has come and fires cron campaigns. Any number of
// Herald processes may run it: a Redis lock keeps one of them polling, and every start is a
// compare-and-set on the task row, so a schedule fires once even while two processes both
// believe they lead (the row is the fence).
type Scheduler struct {
	db      *store.DB
	svc     *Service
	redis   redis.UniversalClient
	lockKey string
	logger  *slog.Logger
	nowFunc func() time.Time
	// Interval is how often due tasks are looked for.
	Interval time.Duration
	// CatchUp fires a cron campaign once at start for the runs missed while no Herald ran;
	// when false, missed runs are skipped.
	CatchUp bool
	id      string
}

// NewScheduler returns a scheduler; rdb may be nil (every process then polls).
func NewScheduler(db *store.DB, svc *Service, rdb redis.UniversalClient, redisPrefix string, logger *slog.Logger) *Scheduler {
	if logger == nil {
		logger = slog.Default()
	}
	return &Scheduler{db: db, svc: svc, redis: rdb, lockKey: redisPrefix + "scheduler:leader", logger: logger.With("component", "dispatch.scheduler"),
		nowFunc: time.Now, Interval: time.Second, CatchUp: true, id: newToken()}
}

// Run polls until ctx is done.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		if s.lead(ctx) {
			if err := s.tick(ctx); err != nil && ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "error starting due tasks", "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// lead takes or renews the leader lock; without Redis, or when Redis is down, every process
// polls (the row compare-and-set keeps firings single).
func (s *Scheduler) lead(ctx context.Context) bool {
	if s.redis == nil {
		return true
	}
	ttl := 5 * s.Interval
	ok, err := s.redis.SetNX(ctx, s.lockKey, s.id, ttl).Result()
	if err != nil {
		return true
	}
	if ok {
		return true
	}
	owner, err := s.redis.Get(ctx, s.lockKey).Result()
	if err == nil && owner == s.id {
		s.redis.PExpire(ctx, s.lockKey, ttl)
		return true
	}
	return false
}

func (s *Scheduler) tick(ctx context.Context) error {
	now := s.nowFunc()
	rows, err := s.db.Core.QueryContext(ctx, dueTasksSQL(s.db.Dialect, false), now.UTC())
	if err != nil {
		return err
	}
	due, err := scanTasks(rows)
	if err != nil {
		return err
	}
	for _, t := range due {
		res, err := s.db.Core.ExecContext(ctx, s.db.Dialect.Rebind("UPDATE tasks SET status = 'RUNNING', updated_at = ? WHERE id = ? AND status = 'SCHEDULED'"), now.UTC(), t.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			t.Status = StatusRunning
			if err := s.svc.startPlanning(ctx, t); err != nil {
				s.logger.ErrorContext(ctx, "error starting scheduled task", "task_id", t.ID, "error", err)
			}
		}
	}
	rows, err = s.db.Core.QueryContext(ctx, dueTasksSQL(s.db.Dialect, true), now.UTC())
	if err != nil {
		return err
	}
	campaigns, err := scanTasks(rows)
	if err != nil {
		return err
	}
	for _, c := range campaigns {
		if err := s.fire(ctx, c, now); err != nil {
			return err
		}
	}
	return nil
}

func scanTasks(rows *sql.Rows) ([]*Task, error) {
	defer rows.Close()
	var out []*Task
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// fire runs one firing of a cron campaign: it advances next_run_at with a compare-and-set
// and, if this process won, starts a run: a new task copied from the campaign.
func (s *Scheduler) fire(ctx context.Context, c *Task, now time.Time) error {
	sched, err := cronParser.Parse(c.Cron)
	if err != nil {
		_, err := s.db.Core.ExecContext(ctx, s.db.Dialect.Rebind("UPDATE tasks SET status = 'FAILED', error = ? WHERE id = ?"), "invalid cron: "+err.Error(), c.ID)
		return err
	}
	next := sched.Next(now.In(s.svc.writer.Location())) // schedules read in Herald's time zone
	res, err := s.db.Core.ExecContext(ctx, s.db.Dialect.Rebind("UPDATE tasks SET next_run_at = ?, updated_at = ? WHERE id = ? AND status = 'SCHEDULED' AND next_run_at = ?"),
		next.UTC(), now.UTC(), c.ID, c.NextRunAt.UTC())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil // another process fired it
	}
	missed := now.Sub(*c.NextRunAt) > 2*time.Minute
	if missed && !s.CatchUp {
		s.logger.InfoContext(ctx, "skipped a missed cron run", "task_id", c.ID, "was_due", c.NextRunAt.Format(time.RFC3339))
		return nil
	}
	// The run copies the campaign's stored columns, its name cut to 180 characters.
	var (
		appID, templateID, ruleID              int64
		name, kind, lane                       string
		templateVersion, ruleVersion, priority int
		audienceID                             sql.NullInt64
		userIDs, variables                     sql.NullString
	)
	if err := s.db.Core.QueryRowContext(ctx, s.db.Dialect.Rebind(cronRunSourceSQL), c.ID).Scan(&appID, &name, &kind, &lane, &templateID, &templateVersion,
		&ruleID, &ruleVersion, &audienceID, &userIDs, &variables, &priority); err != nil {
		return fmt.Errorf("error reading a cron campaign: %w", err)
	}
	if r := []rune(name); len(r) > 180 {
		name = string(r[:180])
	}
	name += " @ " + c.NextRunAt.In(s.svc.writer.Location()).Format("2006-01-02 15:04")
	id, err := s.db.Dialect.InsertID(ctx, s.db.Core, createCronRunSQL, appID, name, kind, lane, templateID, templateVersion, ruleID, ruleVersion,
		audienceID, userIDs, variables, priority, s.svc.writer.Day(now), c.ID, now.UTC(), now.UTC())
	if err != nil {
		return fmt.Errorf("error creating a cron run: %w", err)
	}
	run, err := s.svc.task(ctx, id)
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "cron campaign fired", "campaign_id", c.ID, "task_id", id, "next_run_at", next.Format(time.RFC3339))
	return s.svc.startPlanning(ctx, run)
}
