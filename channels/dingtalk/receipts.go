package dingtalk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/herald-msg/herald/channels"
)

// userState is how far a user's notice got, as far as receipts were delivered.
type userState uint8

const (
	pending   userState = iota // sent, nothing reported yet
	delivered                  // DELIVERED reported (unread)
	displayed                  // DISPLAYED reported (read): final
	failed                     // FAILED reported: final
)

// task is one asyncsend_v2 task whose results are polled.
type task struct {
	id       int64
	ids      map[string]string // userid → Herald's message id
	state    map[string]userState
	created  time.Time
	next     time.Time     // when to query it next
	interval time.Duration // pause before the query after next, doubling while nothing changes
}

// done reports whether every user reached a final state.
func (t *task) done() bool {
	for _, s := range t.state {
		if s != displayed && s != failed {
			return false
		}
	}
	return true
}

// tracker keeps the recent tasks in memory, at most max of them, oldest dropped first.
// Nothing is persisted: after a restart the tasks sent before it are no longer polled, and
// their messages stay SENT unless another receipt arrives.
type tracker struct {
	max   int
	mu    sync.Mutex
	tasks map[int64]*task
	order []int64 // insertion order, for dropping the oldest
}

func newTracker(max int) *tracker { return &tracker{max: max, tasks: map[int64]*task{}} }

func (tr *tracker) add(id int64, ids map[string]string, now time.Time, first time.Duration) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.max == 0 {
		return
	}
	for len(tr.tasks) >= tr.max && len(tr.order) > 0 {
		delete(tr.tasks, tr.order[0])
		tr.order = tr.order[1:]
	}
	st := make(map[string]userState, len(ids))
	for u := range ids {
		st[u] = pending
	}
	tr.tasks[id] = &task{id: id, ids: ids, state: st, created: now, next: now.Add(first), interval: first}
	tr.order = append(tr.order, id)
}

// due returns the tasks to query at now, after dropping those older than maxAge.
func (tr *tracker) due(now time.Time, maxAge time.Duration) []*task {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var out []*task
	keep := tr.order[:0]
	for _, id := range tr.order {
		t, ok := tr.tasks[id]
		if !ok {
			continue
		}
		if now.Sub(t.created) > maxAge {
			delete(tr.tasks, id)
			continue
		}
		keep = append(keep, id)
		if !now.Before(t.next) {
			out = append(out, t)
		}
	}
	tr.order = keep
	return out
}

// len is the number of tracked tasks.
func (tr *tracker) len() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.tasks)
}

// settle records the outcome of a query: the users' new states when their receipts were
// delivered, the next query time, and the task's end when every user is final.
func (tr *tracker) settle(t *task, next map[string]userState, changed bool, now time.Time, base, maxInterval time.Duration) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for u, s := range next {
		t.state[u] = s
	}
	if changed {
		t.interval = base
	} else {
		t.interval = min(t.interval*2, maxInterval)
	}
	t.next = now.Add(t.interval)
	if t.done() {
		delete(tr.tasks, t.id)
	}
}

// ParseResultAnswer decodes a getsendresult answer.
func ParseResultAnswer(body []byte) (*Answer, error) {
	var ans Answer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("dingtalk send result: %w", err)
	}
	if ans.ErrCode == CodeOK && ans.SendResult == nil {
		return nil, errors.New("dingtalk send result: answer without send_result")
	}
	return &ans, nil
}

// receiptsOf maps a task's send result to the receipts not reported yet, and the users'
// states once they are: unread → DELIVERED; read → DELIVERED (unless reported) and
// DISPLAYED; invalid, forbidden and failed users → FAILED with the reason. Users the task
// does not know are ignored.
func receiptsOf(provider string, taskID int64, ids map[string]string, state map[string]userState, res *SendResult, at time.Time) ([]channels.Receipt, map[string]userState) {
	var out []channels.Receipt
	next := map[string]userState{}
	task := strconv.FormatInt(taskID, 10)
	current := func(u string) (userState, bool) {
		if _, known := ids[u]; !known {
			return 0, false
		}
		if s, ok := next[u]; ok {
			return s, true
		}
		return state[u], true
	}
	emit := func(u string, st channels.Status, reason string) {
		out = append(out, channels.Receipt{Channel: channels.DingTalk, Provider: provider, MessageID: ids[u],
			VendorID: task + ":" + u, Address: u, Status: st, Reason: reason, At: at})
	}
	forbidCode := map[string]string{}
	for _, f := range res.ForbiddenList {
		forbidCode[f.UserID] = f.Code
	}
	fail := func(list []string, reason func(u string) string) {
		for _, u := range list {
			s, ok := current(u)
			if !ok || s == failed || s == displayed {
				continue
			}
			emit(u, channels.Failed, reason(u))
			next[u] = failed
		}
	}
	fail(res.InvalidUserIDList, func(string) string { return ReasonInvalidUser })
	fail(res.ForbiddenUserIDList, func(u string) string {
		if c := forbidCode[u]; c != "" {
			return ReasonForbidden + ": " + c
		}
		return ReasonForbidden
	})
	fail(res.FailedUserIDList, func(string) string { return ReasonFailed })
	for _, u := range res.UnreadUserIDList {
		if s, ok := current(u); ok && s == pending {
			emit(u, channels.Delivered, "")
			next[u] = delivered
		}
	}
	for _, u := range res.ReadUserIDList {
		s, ok := current(u)
		if !ok || s == displayed || s == failed {
			continue
		}
		if s == pending {
			emit(u, channels.Delivered, "")
		}
		emit(u, channels.Displayed, "")
		next[u] = displayed
	}
	return out, next
}

// ListenReceipts polls the send result of every task sent through this provider until ctx
// ends: each task first after PollInterval, then again at a pause that doubles (up to
// MaxPollInterval) while its result does not change, until every user is final (read or
// failed) or TrackFor has passed. When deliver fails, the same receipts are reported again
// at the next query.
func (p *Provider) ListenReceipts(ctx context.Context, deliver func([]channels.Receipt) error) error {
	tick := min(p.cfg.PollInterval, time.Second)
	timer := time.NewTimer(tick)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		for _, t := range p.tasks.due(p.cfg.NowFunc(), p.cfg.TrackFor) {
			if ctx.Err() != nil {
				return nil
			}
			p.poll(ctx, t, deliver)
		}
		timer.Reset(tick)
	}
}

// poll queries one task and delivers its new receipts.
func (p *Provider) poll(ctx context.Context, t *task, deliver func([]channels.Receipt) error) {
	body, _ := json.Marshal(ResultRequest{AgentID: p.cfg.AgentID, TaskID: t.id})
	ans, err := p.call(ctx, PathGetSendResult, body)
	now := p.cfg.NowFunc()
	if err == nil && ans.ErrCode != CodeOK {
		err = &APIError{Path: PathGetSendResult, Answer: *ans}
	}
	if err == nil && ans.SendResult == nil {
		err = errors.New("dingtalk send result: answer without send_result")
	}
	if err != nil {
		p.logger.WarnContext(ctx, "send result query failed", "task_id", t.id, "error", err)
		p.tasks.settle(t, nil, false, now, p.cfg.PollInterval, p.cfg.MaxPollInterval)
		return
	}
	p.tasks.mu.Lock()
	state := make(map[string]userState, len(t.state))
	for u, s := range t.state {
		state[u] = s
	}
	p.tasks.mu.Unlock()
	rs, next := receiptsOf(p.cfg.Name, t.id, t.ids, state, ans.SendResult, now)
	if len(rs) > 0 {
		if err := deliver(rs); err != nil {
			p.logger.WarnContext(ctx, "send result receipts not delivered; the task is queried again", "task_id", t.id, "receipts", len(rs), "error", err)
			p.tasks.settle(t, nil, true, now, p.cfg.PollInterval, p.cfg.MaxPollInterval)
			return
		}
	}
	p.tasks.settle(t, next, len(rs) > 0, now, p.cfg.PollInterval, p.cfg.MaxPollInterval)
}
