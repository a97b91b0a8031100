package dispatch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/rule"
	"github.com/herald-msg/herald/store"
)

// MaxSendUsers is the most users one realtime send may address.
const MaxSendUsers = 1000

// IdempotencyWindow is how long an idempotency key returns its first result.
const IdempotencyWindow = 24 * time.Hour

// Publisher queues messages durably; *broker.Broker is one.
type Publisher interface {
	Publish(ctx context.Context, q broker.Queue, msgs ...broker.Message) error
}

// Service validates, plans and queues sends and tasks.
type Service struct {
	db        *store.DB
	audience  *audience.Service
	content   *content.Service
	rules     *rule.Service
	stats     *reports.Stats
	writer    *reports.Writer
	publisher Publisher
	accounts  *account.Service
	registry  *channels.Registry
	yield     *Yielder
	logger    *slog.Logger
	nowFunc   func() time.Time
	// PublishTimeout bounds how long a send waits for the broker.
	PublishTimeout time.Duration
}

// Deps are the collaborators of the dispatch service.
type Deps struct {
	DB        *store.DB
	Audience  *audience.Service
	Content   *content.Service
	Rules     *rule.Service
	Stats     *reports.Stats
	Writer    *reports.Writer
	Publisher Publisher
	// Accounts gives apps' settings (unit prices); optional.
	Accounts *account.Service
	// Registry gives the providers that would take each channel's messages, whose prices a
	// simulation estimates with; optional (without it, channels' prices).
	Registry *channels.Registry
	// Yield makes the bulk lane wait while a send is being queued; optional.
	Yield  *Yielder
	Logger *slog.Logger
}

// NewService returns the dispatch service.
func NewService(d Deps) *Service {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Service{db: d.DB, audience: d.Audience, content: d.Content, rules: d.Rules, stats: d.Stats, writer: d.Writer,
		publisher: d.Publisher, accounts: d.Accounts, registry: d.Registry, yield: d.Yield, logger: d.Logger.With("component", "dispatch"), nowFunc: time.Now, PublishTimeout: 15 * time.Second}
}

// SendInput is a realtime send to up to MaxSendUsers users.
type SendInput struct {
	AppID          int64
	TemplateID     int64
	RuleID         int64
	UserIDs        []string
	Variables      map[string]any
	IdempotencyKey string
	Priority       *int
}

// MessageRef is one planned message.
type MessageRef struct {
	ID      string           `json:"id"`
	UserID  string           `json:"userId"`
	Channel channels.Channel `json:"channel"`
	Status  channels.Status  `json:"status"`
}

// RejectedUser is a user a send could not address.
type RejectedUser struct {
	UserID string `json:"userId"`
	Reason string `json:"reason"`
}

// SendResult is what a send queued.
type SendResult struct {
	Task     *Task          `json:"-"`
	TaskID   int64          `json:"taskId"`
	Messages []MessageRef   `json:"messages"`
	Rejected []RejectedUser `json:"rejected"`
}

// job is the body of a realtime-lane message: everything a worker needs to send a task's
// planned messages.
type job struct {
	TaskID          int64          `json:"task"`
	AppID           int64          `json:"app"`
	TemplateID      int64          `json:"template"`
	TemplateVersion int            `json:"templateVersion"`
	Day             string         `json:"day"`
	Variables       map[string]any `json:"vars,omitempty"`
	Items           []item         `json:"items"`
	// Retry is set when the job may have been handled before (a redelivery or a retry):
	// messages a stopped worker left in flight are then looked for.
	Retry bool `json:"-"`
	// Bulk is set for a shard of a bulk task.
	Bulk bool `json:"-"`
	// claim, when set, waits for the claim of a send's task taken alongside the job's first
	// reads (claimSend); nothing is written or sent before it says the job is to be sent.
	claim func() (bool, error)
}

// errNotClaimed ends a job whose task failed or was cancelled before a worker took it.
var errNotClaimed = errors.New("the send's task was not claimed")

// awaitClaim waits for j's claim, when one is pending: errNotClaimed when the job is not to
// be sent.
func (j *job) awaitClaim() error {
	if j.claim == nil {
		return nil
	}
	ok, err := j.claim()
	j.claim = nil
	if err != nil {
		return err
	}
	if !ok {
		return errNotClaimed
	}
	return nil
}

type item struct {
	ID      string           `json:"id"`
	UserID  string           `json:"user"`
	Channel channels.Channel `json:"ch"`
	Address string           `json:"addr,omitempty"`
	// Status is QUEUED, or SUPPRESSED with Reason.
	Status channels.Status `json:"st"`
	Reason string          `json:"reason,omitempty"`
	// Seq is the user's position in the task; with the channel it makes the message id.
	Seq int64 `json:"seq"`
	// Next are the channels a fallback chain tries after this one, in order; After is how
	// long this message has to reach Until before the chain moves on.
	Next  []hop           `json:"next,omitempty"`
	After time.Duration   `json:"after,omitempty"`
	Until channels.Status `json:"until,omitempty"`
}

// hop is a later channel of a fallback chain with the user's address there ("" if none).
type hop struct {
	Channel channels.Channel `json:"ch"`
	Address string           `json:"addr,omitempty"`
}

// Send validates a realtime send completely, plans its messages and queues them. Invalid
// input is refused before anything is stored or queued.
func (s *Service) Send(ctx context.Context, in SendInput) (*SendResult, error) {
	steps := &stepTimer{kind: "send", last: time.Now()}
	defer s.yield.Realtime(ctx)()
	p, err := account.Authorize(ctx, in.AppID, account.Operator, "input.appId")
	if err != nil {
		return nil, err
	}
	if len(in.UserIDs) == 0 {
		return nil, fault.BadInput("input.userIds", "at least one user is needed")
	}
	if len(in.UserIDs) > MaxSendUsers {
		return nil, fault.BadInput("input.userIds", "%d users in one send; at most %d (use createTask for more)", len(in.UserIDs), MaxSendUsers)
	}
	priority := 5
	if in.Priority != nil {
		if *in.Priority < 0 || *in.Priority > 9 {
			return nil, fault.BadInput("input.priority", "must be between 0 and 9")
		}
		priority = *in.Priority
	}
	if len(in.IdempotencyKey) > 128 {
		return nil, fault.BadInput("input.idempotencyKey", "must be at most 128 bytes")
	}
	ids := make([]string, 0, len(in.UserIDs))
	seen := make(map[string]bool, len(in.UserIDs))
	var badID error
	for i, id := range in.UserIDs {
		if err := audience.ValidUserID(id); err != nil {
			badID = fault.BadInput(fmt.Sprintf("input.userIds[%d]", i), "%s", err)
			break
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	// The reads a send needs are independent: they run at once, so that a send waits for the
	// slowest of them rather than their sum; their errors are reported in this order.
	var (
		tpl      *content.Template
		rl       *rule.Rule
		tplErr   error
		prev     *SendResult
		prevErr  error
		known    map[string]*audience.User
		addrs    audience.Addresses
		usersErr error
		addrsErr error
		wg       sync.WaitGroup
	)
	wg.Go(func() { tpl, rl, tplErr = s.templateAndRule(ctx, in.AppID, in.TemplateID, in.RuleID, in.Variables) })
	if in.IdempotencyKey != "" {
		wg.Go(func() { prev, prevErr = s.remembered(ctx, in.AppID, in.IdempotencyKey) })
	}
	if badID == nil {
		wg.Go(func() { known, usersErr = s.audience.Users(ctx, in.AppID, ids) })
		wg.Go(func() { addrs, addrsErr = s.audience.Resolve(ctx, in.AppID, ids) })
	}
	wg.Wait()
	if tplErr != nil {
		return nil, tplErr
	}
	if badID != nil {
		return nil, badID
	}
	if prevErr != nil || prev != nil {
		return prev, prevErr
	}
	if usersErr != nil {
		return nil, usersErr
	}
	if addrsErr != nil {
		return nil, addrsErr
	}
	steps.done("validate")
	now := s.nowFunc()
	day := s.writer.Day(now)
	kind := KindList
	if len(ids) == 1 {
		kind = KindSingle
	}
	t := &Task{AppID: in.AppID, Name: fmt.Sprintf("send %s", tpl.Name), Kind: kind, Lane: LaneRealtime, Status: StatusRunning,
		TemplateID: tpl.ID, TemplateVersion: tpl.Version, RuleID: rl.ID, RuleVersion: rl.Version, Variables: in.Variables,
		Priority: priority, Day: day, ShardsTotal: 1, CreatedAt: now.UTC().Truncate(time.Millisecond)}

	// The messages are planned first, so that the task's row is written once with its
	// total; their ids, which hold the task's id, are filled in once the row has it.
	res := &SendResult{Task: t, Messages: []MessageRef{}, Rejected: []RejectedUser{}}
	j := job{AppID: t.AppID, TemplateID: tpl.ID, TemplateVersion: tpl.Version, Day: day, Variables: in.Variables}
	noID := func(channels.Channel) string { return "" }
	for seq, id := range ids {
		u := known[id]
		if u == nil {
			res.Rejected = append(res.Rejected, RejectedUser{UserID: id, Reason: "unknown user"})
			continue
		}
		items, reason := plan(rl, tpl, u, addrs[id], in.Variables, int64(seq), noID)
		if reason != "" {
			res.Rejected = append(res.Rejected, RejectedUser{UserID: id, Reason: reason})
			continue
		}
		j.Items = append(j.Items, items...)
	}
	t.Total = int64(len(ids) - len(res.Rejected))
	if len(j.Items) == 0 {
		t.Status = StatusCompleted
		t.ShardsDone = 1
	}

	// Without an idempotency key the task's row is the only write: one statement in
	// autocommit, a single round trip to the database instead of three.
	var (
		tx   *sql.Tx
		exec store.Execer = s.db.Core
	)
	if in.IdempotencyKey != "" {
		if tx, err = s.db.Core.BeginTx(ctx, nil); err != nil {
			return nil, fmt.Errorf("error starting transaction: %w", err)
		}
		defer tx.Rollback() //nolint:errcheck
		exec = tx
	}
	vars, _ := json.Marshal(in.Variables)
	t.ID, err = s.db.Dialect.InsertID(ctx, exec, createSendSQL,
		t.AppID, t.Name, string(t.Kind), string(t.Lane), string(t.Status), t.TemplateID, t.TemplateVersion, t.RuleID, t.RuleVersion,
		string(vars), t.Priority, t.Day, t.Total, 1, t.ShardsDone, p.Name(), t.CreatedAt, t.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("error creating task: %w", err)
	}
	res.TaskID, j.TaskID = t.ID, t.ID
	for i := range j.Items {
		it := &j.Items[i]
		it.ID = reports.MessageID(day, t.ID, it.Seq, it.Channel)
		res.Messages = append(res.Messages, MessageRef{ID: it.ID, UserID: it.UserID, Channel: it.Channel, Status: it.Status})
	}
	if in.IdempotencyKey != "" {
		b, _ := json.Marshal(res)
		_, err := tx.ExecContext(ctx, s.db.Dialect.Rebind("INSERT INTO idempotency_keys (app_id, idem_key, task_id, result, created_at) VALUES (?, ?, ?, ?, ?)"),
			in.AppID, in.IdempotencyKey, t.ID, string(b), t.CreatedAt)
		if s.db.Dialect.Duplicate(err) {
			// A concurrent send with the same key won, or an expired key is still stored.
			_ = tx.Rollback()
			if prev, err := s.remembered(ctx, in.AppID, in.IdempotencyKey); err != nil || prev != nil {
				return prev, err
			}
			if _, err := s.db.Core.ExecContext(ctx, s.db.Dialect.Rebind("DELETE FROM idempotency_keys WHERE app_id = ? AND idem_key = ? AND created_at < ?"),
				in.AppID, in.IdempotencyKey, now.Add(-IdempotencyWindow).UTC()); err != nil {
				return nil, err
			}
			return s.Send(ctx, in)
		}
		if err != nil {
			return nil, fmt.Errorf("error storing idempotency key: %w", err)
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("error committing task: %w", err)
		}
	}
	steps.done("task")
	if len(j.Items) > 0 {
		defer steps.done("publish")
		body, err := json.Marshal(j)
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, s.PublishTimeout)
		defer cancel()
		err = s.publisher.Publish(pctx, broker.Realtime, broker.Message{Body: body, Priority: uint8(priority), MessageID: fmt.Sprintf("task-%d", t.ID), ContentType: "application/json"})
		if err != nil {
			s.logger.ErrorContext(ctx, "error queuing send", "task_id", t.ID, "error", err)
			// RabbitMQ may hold the job although its confirm was lost. The task fails only if
			// no worker claimed it; a worker that finds it failed drops the job. Either the
			// caller is told nothing was sent and nothing is, or the send goes through.
			failed, ferr := s.failUnclaimed(context.WithoutCancel(ctx), t.ID, in.AppID, in.IdempotencyKey)
			if ferr != nil {
				s.logger.ErrorContext(ctx, "error marking task failed", "task_id", t.ID, "error", ferr)
				return nil, fault.Unavailable("the message queue is unavailable; the send's outcome is unknown, look at task %d", t.ID)
			}
			if failed {
				return nil, fault.Unavailable("the message queue is unavailable; nothing was sent, retry later")
			}
			s.logger.InfoContext(ctx, "send queued although its confirm was lost", "task_id", t.ID)
		}
	}
	return res, nil
}

// templateAndRule returns the latest versions of a send's template and rule, both of app,
// and checks the variables against the template: NOT_FOUND names the input that is wrong.
func (s *Service) templateAndRule(ctx context.Context, appID, templateID, ruleID int64, vars map[string]any) (*content.Template, *rule.Rule, error) {
	var (
		rl     *rule.Rule
		rulErr error
		wg     sync.WaitGroup
	)
	wg.Go(func() { rl, rulErr = s.rules.Get(ctx, ruleID, 0) })
	tpl, err := s.content.Get(ctx, templateID, 0)
	wg.Wait()
	if err != nil || tpl.AppID != appID {
		if err != nil && fault.CodeOf(err) != fault.CodeNotFound {
			return nil, nil, err
		}
		return nil, nil, fault.NotFound("input.templateId", "template %d does not exist in app %d", templateID, appID)
	}
	if rulErr != nil || rl.AppID != appID {
		if rulErr != nil && fault.CodeOf(rulErr) != fault.CodeNotFound {
			return nil, nil, rulErr
		}
		return nil, nil, fault.NotFound("input.ruleId", "rule %d does not exist in app %d", ruleID, appID)
	}
	if err := tpl.CheckVariables(vars, "input.variables"); err != nil {
		return nil, nil, err
	}
	return tpl, rl, nil
}

// failUnclaimed marks a realtime task FAILED unless a worker claimed its job, and forgets
// its idempotency key so that a retry sends. It reports whether the task failed.
func (s *Service) failUnclaimed(ctx context.Context, taskID, appID int64, key string) (bool, error) {
	res, err := s.db.Core.ExecContext(ctx, s.db.Dialect.Rebind("UPDATE tasks SET status = 'FAILED', error = 'the message queue was unavailable', updated_at = ? WHERE id = ? AND planned = 0 AND status = 'RUNNING'"),
		s.nowFunc().UTC(), taskID)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if key != "" {
		if _, err := s.db.Core.ExecContext(ctx, s.db.Dialect.Rebind("DELETE FROM idempotency_keys WHERE app_id = ? AND idem_key = ? AND task_id = ?"), appID, key, taskID); err != nil {
			return true, err
		}
	}
	return true, nil
}

// remembered returns the stored result of an idempotency key used within the window.
func (s *Service) remembered(ctx context.Context, appID int64, key string) (*SendResult, error) {
	var raw string
	var taskID int64
	err := s.db.Core.QueryRowContext(ctx, s.db.Dialect.Rebind("SELECT task_id, result FROM idempotency_keys WHERE app_id = ? AND idem_key = ? AND created_at >= ?"),
		appID, key, s.nowFunc().Add(-IdempotencyWindow).UTC()).Scan(&taskID, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error reading idempotency key: %w", err)
	}
	res := &SendResult{}
	if err := json.Unmarshal([]byte(raw), res); err != nil {
		return nil, fmt.Errorf("error decoding idempotent result: %w", err)
	}
	if res.Task, err = s.task(ctx, taskID); err != nil {
		return nil, err
	}
	return res, nil
}

// plan decides the messages of one user: the first route whose condition holds, then its
// channels. CONCURRENT queues every channel; FALLBACK queues the first channel that can be
// used and carries the rest of the chain for the fallback timer. A channel without an
// address, or without a template variant, is SUPPRESSED.
func plan(rl *rule.Rule, tpl *content.Template, u *audience.User, addrs map[channels.Channel][]string, vars map[string]any, seq int64, idFunc func(channels.Channel) string) ([]item, string) {
	ri := rl.Match(routeEnv(u, vars))
	if ri < 0 {
		return nil, fmt.Sprintf("no route of rule %q matches", rl.Name)
	}
	rt := rl.Routes[ri]
	var items []item
	for i, ch := range rt.Channels {
		it := item{ID: idFunc(ch), UserID: u.ID, Channel: ch, Status: reports.Queued, Seq: seq}
		switch {
		case len(addrs[ch]) == 0:
			it.Status, it.Reason = reports.Suppressed, "no address on "+string(ch)
		case !hasVariant(tpl, ch):
			it.Status, it.Reason = reports.Suppressed, "template has no "+string(ch)+" variant"
		default:
			it.Address = addrs[ch][0]
		}
		if rt.Strategy == rule.Fallback && it.Status == reports.Queued {
			it.After, it.Until = rt.FallbackAfter, channels.Status(rt.Until)
			for _, next := range rt.Channels[i+1:] {
				h := hop{Channel: next}
				if len(addrs[next]) > 0 && hasVariant(tpl, next) {
					h.Address = addrs[next][0]
				}
				it.Next = append(it.Next, h)
			}
			items = append(items, it)
			break // the rest of the chain waits for the fallback timer
		}
		items = append(items, it)
	}
	return items, ""
}

func hasVariant(t *content.Template, ch channels.Channel) bool {
	_, ok := t.Variant(ch)
	return ok
}
