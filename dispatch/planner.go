package dispatch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
)

// shardMessage is one shard of a task: up to ShardSize users, in the order planned.
type shardMessage struct {
	Kind    string   `json:"kind"`
	Task    int64    `json:"task"`
	ShardNo int      `json:"shard"`
	Day     string   `json:"day"`
	UserIDs []string `json:"users"`
	// Dense says the users are every user of the app in the key range from the first to the
	// last when planned (a BROADCAST): the worker reads that range instead of each user.
	Dense bool `json:"dense,omitempty"`
}

// envelope tells the kinds of lane messages apart; a send's job has no kind.
type envelope struct {
	Kind string `json:"kind"`
}

// handleLane takes any message of the realtime or bulk lane.
func (w *Worker) handleLane(ctx context.Context, d broker.Delivery) error {
	var e envelope
	if err := json.Unmarshal(d.Body, &e); err != nil {
		return broker.Poison(fmt.Errorf("undecodable lane message: %w", err))
	}
	switch e.Kind {
	case "":
		return w.handleJob(ctx, d)
	case "plan":
		var m planMessage
		if err := json.Unmarshal(d.Body, &m); err != nil || m.Task == 0 {
			return broker.Poison(fmt.Errorf("undecodable plan message: %v", err))
		}
		return w.plan(ctx, m.Task)
	case "shard":
		var m shardMessage
		if err := json.Unmarshal(d.Body, &m); err != nil || m.Task == 0 || len(m.UserIDs) == 0 {
			return broker.Poison(fmt.Errorf("undecodable shard message: %v", err))
		}
		return w.handleShard(ctx, &m, d)
	}
	return broker.Poison(fmt.Errorf("unknown lane message kind %q", e.Kind))
}

// loadTask reads a task for a worker; a task that does not exist is poison.
func (w *Worker) loadTask(ctx context.Context, id int64) (*Task, error) {
	t, err := scanTask(w.db.Core.QueryRowContext(ctx, w.db.Dialect.Rebind("SELECT "+taskColumns+" FROM tasks WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, broker.Poison(fmt.Errorf("task %d does not exist", id))
	}
	return t, err
}

// plan splits a task into shards of ShardSize users read by keyset from its audience, with
// flat memory however large the audience. Shards are published in groups, each confirmed by
// RabbitMQ, then recorded; a planner that restarts resumes after the last recorded shard.
func (w *Worker) plan(ctx context.Context, taskID int64) error {
	t, err := w.loadTask(ctx, taskID)
	if err != nil {
		return err
	}
	if t.Status != StatusRunning || t.planned {
		return nil // paused (resume plans again), cancelled, finished, or planned before
	}
	var (
		shardNo = 0
		after   = ""
		last    sql.NullString
		maxNo   sql.NullInt64
	)
	err = w.db.Core.QueryRowContext(ctx, lastShardSQL(w.db.Dialect), taskID).Scan(&maxNo, &last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("error reading planned shards: %w", err)
	}
	if maxNo.Valid {
		shardNo, after = int(maxNo.Int64)+1, last.String
	}
	day := w.writer.Day(w.nowFunc())
	q := laneQueue(t.Lane)
	var pending []shardMessage
	dense := len(t.userIDs) == 0 && t.audienceID == 0 // every user of the app
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		msgs := make([]broker.Message, len(pending))
		for i, m := range pending {
			body, _ := json.Marshal(m)
			msgs[i] = broker.Message{Body: body, Priority: uint8(t.Priority), MessageID: fmt.Sprintf("shard-%d-%d", m.Task, m.ShardNo), ContentType: "application/json"}
		}
		if err := w.publisher.Publish(ctx, q, msgs...); err != nil {
			return fmt.Errorf("error publishing shards: %w", err)
		}
		var args []any
		now := w.nowFunc().UTC()
		for _, m := range pending {
			args = append(args, m.Task, m.ShardNo, m.UserIDs[0], m.UserIDs[len(m.UserIDs)-1], len(m.UserIDs), now)
		}
		if _, err := w.db.Core.ExecContext(ctx, recordShardsSQL(w.db.Dialect, len(pending)), args...); err != nil {
			return fmt.Errorf("error recording shards: %w", err)
		}
		pending = pending[:0]
		return nil
	}
	add := func(ids []string) error {
		pending = append(pending, shardMessage{Kind: "shard", Task: taskID, ShardNo: shardNo, Day: day, UserIDs: append([]string(nil), ids...), Dense: dense})
		shardNo++
		if len(pending) >= 20 {
			if err := flush(); err != nil {
				return err
			}
			if st, err := w.taskStatus(ctx, taskID); err == nil && st != StatusRunning {
				return errStopPlanning
			}
		}
		return nil
	}
	switch {
	case len(t.userIDs) > 0:
		if shardNo == 0 {
			err = add(t.userIDs)
		}
	default:
		a := &audience.Audience{AppID: t.AppID, Kind: audience.All}
		if t.audienceID != 0 {
			if a, err = w.audience.GetAudience(ctx, t.audienceID); err != nil {
				return w.failTask(ctx, taskID, "its audience is gone")
			}
		}
		err = w.audience.IterateFrom(ctx, a, after, ShardSize, add)
	}
	if errors.Is(err, errStopPlanning) {
		return flush()
	}
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	var shards, users int64
	if err := w.db.Core.QueryRowContext(ctx, planTotalsSQL(w.db.Dialect), taskID).Scan(&shards, &users); err != nil {
		return err
	}
	if _, err := w.db.Core.ExecContext(ctx, w.db.Dialect.Rebind("UPDATE tasks SET planned = 1, shards_total = ?, total = ?, updated_at = ? WHERE id = ?"),
		shards, users, w.nowFunc().UTC(), taskID); err != nil {
		return fmt.Errorf("error recording the plan: %w", err)
	}
	w.logger.InfoContext(ctx, "task planned", "task_id", taskID, "shards", shards, "users", users)
	return w.completeIfDone(ctx, taskID)
}

var errStopPlanning = errors.New("task is no longer running")

func (w *Worker) failTask(ctx context.Context, id int64, reason string) error {
	_, err := w.db.Core.ExecContext(ctx, w.db.Dialect.Rebind("UPDATE tasks SET status = 'FAILED', error = ?, updated_at = ? WHERE id = ? AND status = 'RUNNING'"), reason, w.nowFunc().UTC(), id)
	return err
}

// completeIfDone completes a planned task whose shards are all done.
func (w *Worker) completeIfDone(ctx context.Context, id int64) error {
	_, err := w.db.Core.ExecContext(ctx, w.db.Dialect.Rebind("UPDATE tasks SET status = 'COMPLETED', updated_at = ? WHERE id = ? AND status = 'RUNNING' AND planned = 1 AND shards_done >= shards_total"),
		w.nowFunc().UTC(), id)
	return err
}

// taskStatus returns a task's status, cached for up to a second, so pause and cancel reach
// every worker within a second without a query per shard.
func (w *Worker) taskStatus(ctx context.Context, id int64) (Status, error) {
	now := w.nowFunc()
	w.mu.Lock()
	c, ok := w.statuses[id]
	w.mu.Unlock()
	if ok && now.Sub(c.at) < time.Second {
		return c.status, nil
	}
	var st Status
	if err := w.db.Core.QueryRowContext(ctx, w.db.Dialect.Rebind("SELECT status FROM tasks WHERE id = ?"), id).Scan(&st); err != nil {
		return "", err
	}
	w.mu.Lock()
	w.statuses[id] = cachedStatus{status: st, at: now}
	w.mu.Unlock()
	return st, nil
}

type cachedStatus struct {
	status Status
	at     time.Time
}

// shardLease is how long a shard claimed by a worker that died stays blocked. The worker
// sending a shard renews its claim every shardRenew, so a shard that takes longer than the
// lease keeps its claim while its worker lives.
const (
	shardLease = 30 * time.Second
	shardRenew = 10 * time.Second
)

// handleShard sends one shard: it claims the shard (so a shard published twice is sent by
// one worker), plans each user's messages and delivers them; a paused task's shard waits on
// a delay queue, a cancelled task's is dropped.
func (w *Worker) handleShard(ctx context.Context, m *shardMessage, d broker.Delivery) error {
	t, err := w.loadTask(ctx, m.Task)
	if err != nil {
		return err
	}
	switch t.Status {
	case StatusCancelled, StatusFailed:
		return nil
	case StatusPaused:
		return w.requeueLater(ctx, t, d)
	}
	token := newToken()
	mine, done, err := w.claimShard(ctx, m, token)
	if err != nil {
		return err
	}
	if done {
		return nil
	}
	if !mine {
		return w.requeueLater(ctx, t, d)
	}
	stopRenewing := w.keepClaim(ctx, m, token)
	err = w.sendShard(ctx, t, m, d)
	stopRenewing()
	if err != nil {
		if _, rerr := w.db.Core.ExecContext(context.WithoutCancel(ctx), w.db.Dialect.Rebind("UPDATE task_shards SET claimed_by = NULL WHERE task_id = ? AND shard_no = ? AND claimed_by = ?"), m.Task, m.ShardNo, token); rerr != nil {
			w.logger.WarnContext(ctx, "error releasing shard", "task_id", m.Task, "shard", m.ShardNo, "error", rerr)
		}
		return err
	}
	res, err := w.db.Core.ExecContext(ctx, w.db.Dialect.Rebind("UPDATE task_shards SET done = 1, claimed_by = NULL, updated_at = ? WHERE task_id = ? AND shard_no = ? AND done = 0"),
		w.nowFunc().UTC(), m.Task, m.ShardNo)
	if err != nil {
		return fmt.Errorf("error completing shard: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		if _, err := w.db.Core.ExecContext(ctx, w.db.Dialect.Rebind("UPDATE tasks SET shards_done = shards_done + 1, updated_at = ? WHERE id = ?"), w.nowFunc().UTC(), m.Task); err != nil {
			return fmt.Errorf("error counting shard: %w", err)
		}
	}
	return w.completeIfDone(ctx, m.Task)
}

// claimShard takes the shard for token unless another worker holds an unexpired claim.
// claimed_by is decided on the old claim, then claimed_at moves only when the claim is now
// token's (tokens are unique per attempt), so a claim renewed in the same second as a
// takeover attempt is kept (claimShardSQL).
func (w *Worker) claimShard(ctx context.Context, m *shardMessage, token string) (mine, done bool, err error) {
	now := w.nowFunc().UTC()
	lease := now.Add(-shardLease)
	_, err = w.db.Core.ExecContext(ctx, claimShardSQL(w.db.Dialect),
		m.Task, m.ShardNo, m.UserIDs[0], m.UserIDs[len(m.UserIDs)-1], len(m.UserIDs), token, now, now, lease, lease)
	if err != nil {
		return false, false, fmt.Errorf("error claiming shard: %w", err)
	}
	var owner sql.NullString
	if err := w.db.Core.QueryRowContext(ctx, w.db.Dialect.Rebind("SELECT claimed_by, done FROM task_shards WHERE task_id = ? AND shard_no = ?"), m.Task, m.ShardNo).Scan(&owner, &done); err != nil {
		return false, false, fmt.Errorf("error reading shard claim: %w", err)
	}
	return owner.String == token, done, nil
}

// keepClaim renews token's claim on the shard every shardRenew until the returned function
// is called (it waits for a renewal under way).
func (w *Worker) keepClaim(ctx context.Context, m *shardMessage, token string) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(shardRenew)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := w.renewClaim(ctx, m, token); err != nil && ctx.Err() == nil {
					w.logger.WarnContext(ctx, "error renewing shard claim", "task_id", m.Task, "shard", m.ShardNo, "error", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// renewClaim starts token's lease on the shard again; false means token no longer holds it.
func (w *Worker) renewClaim(ctx context.Context, m *shardMessage, token string) (bool, error) {
	res, err := w.db.Core.ExecContext(ctx, w.db.Dialect.Rebind("UPDATE task_shards SET claimed_at = ? WHERE task_id = ? AND shard_no = ? AND claimed_by = ? AND done = 0"),
		w.nowFunc().UTC(), m.Task, m.ShardNo, token)
	if err != nil {
		return false, fmt.Errorf("error renewing shard claim: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// requeueLater puts a lane message back after ten seconds.
func (w *Worker) requeueLater(ctx context.Context, t *Task, d broker.Delivery) error {
	q, err := w.delayQueueInto(ctx, "wait", 10*time.Second, laneQueue(t.Lane))
	if err != nil {
		return err
	}
	return w.publisher.Publish(ctx, q, broker.Message{Body: d.Body, Priority: d.Priority, MessageID: d.MessageID, ContentType: "application/json"})
}

// sendShard plans every user of the shard with the task's rule and delivers the messages.
func (w *Worker) sendShard(ctx context.Context, t *Task, m *shardMessage, d broker.Delivery) error {
	tpl, err := w.content.Get(ctx, t.TemplateID, t.TemplateVersion)
	if err != nil {
		return fmt.Errorf("error loading template: %w", err)
	}
	rl, err := w.rules.Get(ctx, t.RuleID, t.RuleVersion)
	if err != nil {
		return fmt.Errorf("error loading rule: %w", err)
	}
	// A shard's in-flight marks are always looked for (one small read): a worker whose claim
	// lapsed may have started it, and its message then comes back put back by requeueLater,
	// as a new message without the broker's redelivered flag.
	j := &job{TaskID: t.ID, AppID: t.AppID, TemplateID: t.TemplateID, TemplateVersion: t.TemplateVersion, Day: m.Day, Variables: t.Variables,
		Retry: true, Bulk: true}
	steps := newStepTimer(j)
	if held, err := w.holdForQuietHours(ctx, j, tpl, d); held || err != nil {
		return err
	}
	w.yieldBulk(ctx, j, steps)
	load := w.audience.Users
	if m.Dense {
		load = w.audience.UsersInRange
	}
	users, err := load(ctx, t.AppID, m.UserIDs)
	if err != nil {
		return err
	}
	addrs, err := w.audience.Resolve(ctx, t.AppID, m.UserIDs)
	if err != nil {
		return err
	}
	steps.done("users")
	items := make([]item, 0, len(m.UserIDs))
	for i, id := range m.UserIDs {
		u := users[id]
		if u == nil {
			continue // removed since planning
		}
		seq := int64(m.ShardNo)*shardStride + int64(i)
		its, _ := plan(rl, tpl, u, addrs[id], t.Variables, seq, func(ch channels.Channel) string {
			return reports.MessageID(m.Day, t.ID, seq, ch)
		})
		items = append(items, its...)
	}
	if len(items) == 0 {
		return nil
	}
	return w.deliver(ctx, j, items, false)
}
