package dispatch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"golang.org/x/sync/errgroup"

	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/rule"
	"github.com/herald-msg/herald/store"
)

// Consumer takes messages from a queue; *broker.Broker is one.
type Consumer interface {
	Consume(ctx context.Context, q broker.Queue, prefetch int, handler broker.HandlerFunc) error
}

// Declarer adds queues to the broker's topology; *broker.Broker is one.
type Declarer interface {
	Declare(ctx context.Context, spec broker.QueueSpec) error
	DeclareDelay(ctx context.Context, name string, ttl time.Duration, target broker.Queue) (broker.Queue, error)
}

var failovers = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "herald_provider_failovers_total",
	Help: "Messages passed from one provider of a channel to the next because the first did not take them.",
}, []string{"channel", "from", "to"})

// sendSteps times the steps of sending a job or shard, so that an operator sees where the
// time goes: loading the users, filtering, recording the rows, marking them in flight, the
// vendor calls, applying the answers, history, clearing the marks, arming fallback timers.
var sendSteps = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "herald_send_step_seconds",
	Help:    "Time spent in each step of the send mutation (kind send), of sending a bulk task's shard (kind shard) or a job of send or of a fallback hop (kind job), and in applying a group of receipts (kind receipts).",
	Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
}, []string{"kind", "step"})

// stepTimer observes the time since its last mark under a step name.
type stepTimer struct {
	kind string
	last time.Time
}

func newStepTimer(j *job) *stepTimer {
	kind := "job"
	if j.Bulk {
		kind = "shard"
	}
	return &stepTimer{kind: kind, last: time.Now()}
}

// done observes the time since the last mark as step; a nil timer observes nothing.
func (t *stepTimer) done(step string) {
	if t == nil {
		return
	}
	now := time.Now()
	sendSteps.WithLabelValues(t.kind, step).Observe(now.Sub(t.last).Seconds())
	t.last = now
}

var receiptsRetried = promauto.NewCounter(prometheus.CounterOpts{
	Name: "herald_receipts_retried_total",
	Help: "Receipts put back on the receipts queue because their message had no row (or batch reference or vendor id match) yet.",
})

var fallbacksFired = promauto.NewCounter(prometheus.CounterOpts{
	Name: "herald_fallbacks_fired_total",
	Help: "Fallback chains that moved to their next channel because a message missed its milestone in time.",
})

// Worker sends queued messages through the channel providers and applies receipts. The
// realtime lane, the bulk lane and receipts each have their own consumer pool.
type Worker struct {
	db        *store.DB
	consumer  Consumer
	declarer  Declarer
	publisher Publisher
	registry  *channels.Registry
	content   *content.Service
	writer    *reports.Writer
	history   reports.HistoryStore
	yield     *Yielder
	lanes     Lanes
	logger    *slog.Logger
	nowFunc   func() time.Time

	realtimePrefetch int
	receiptPrefetch  int

	accounts     *account.Service
	audience     *audience.Service
	rules        *rule.Service
	bulkPrefetch int
	redis        redis.UniversalClient
	redisPrefix  string

	breakers *Breakers
	limiter  *RateLimiter
	rates    map[string]float64
	// health records every vendor call in Redis for the channels query; nil without Redis.
	health *HealthRecorder
	// receipts commits the receipt handlers' status updates together (receiptbatch.go).
	receipts *receiptBatcher

	mu       sync.Mutex
	delays   map[string]broker.Queue
	settings map[int64]cachedSettings
	statuses map[int64]cachedStatus
}

// WorkerDeps are the collaborators of a worker.
type WorkerDeps struct {
	DB               *store.DB
	Consumer         Consumer
	Declarer         Declarer
	Publisher        Publisher
	Registry         *channels.Registry
	Content          *content.Service
	Writer           *reports.Writer
	History          reports.HistoryStore
	Logger           *slog.Logger
	RealtimePrefetch int
	ReceiptPrefetch  int
	Accounts         *account.Service
	Audience         *audience.Service
	Rules            *rule.Service
	BulkPrefetch     int
	// Redis keeps frequency caps and recent content; when it is down those filters pass.
	Redis       redis.UniversalClient
	RedisPrefix string
	// Breakers judge each provider's health; nil gives every worker its own.
	Breakers *Breakers
	// Rates caps each provider's messages per second across every worker (0: no cap).
	Rates map[string]float64
	// Yield makes bulk steps wait while realtime work is in progress; nil never waits.
	Yield *Yielder
	// Lanes are the queues this worker consumes; the zero value consumes all of them.
	Lanes Lanes
}

// Lanes choose which of the worker's queues a process consumes, so that realtime sends can
// have worker processes (and cores) of their own: Realtime takes send jobs and fallback
// timers, Bulk takes task plans and shards, Receipts takes the receipts queue and runs the
// providers' receipt listeners.
type Lanes struct{ Realtime, Bulk, Receipts bool }

// AllLanes consumes every queue.
var AllLanes = Lanes{Realtime: true, Bulk: true, Receipts: true}

// ParseLanes reads a comma-separated list of realtime, bulk and receipts.
func ParseLanes(s string) (Lanes, error) {
	var l Lanes
	for _, part := range strings.Split(s, ",") {
		var on *bool
		switch strings.TrimSpace(part) {
		case "realtime":
			on = &l.Realtime
		case "bulk":
			on = &l.Bulk
		case "receipts":
			on = &l.Receipts
		default:
			return Lanes{}, fmt.Errorf("%q is not a lane; the lanes are realtime, bulk and receipts", strings.TrimSpace(part))
		}
		if *on {
			return Lanes{}, fmt.Errorf("lane %s is named twice", strings.TrimSpace(part))
		}
		*on = true
	}
	return l, nil
}

// String lists the lanes as ParseLanes reads them.
func (l Lanes) String() string {
	var names []string
	for _, n := range []struct {
		on   bool
		name string
	}{{l.Realtime, "realtime"}, {l.Bulk, "bulk"}, {l.Receipts, "receipts"}} {
		if n.on {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// NewWorker returns a worker.
func NewWorker(d WorkerDeps) *Worker {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Breakers == nil {
		d.Breakers = NewBreakers(BreakerConfig{})
	}
	w := &Worker{db: d.DB, consumer: d.Consumer, declarer: d.Declarer, publisher: d.Publisher, delays: map[string]broker.Queue{}, settings: map[int64]cachedSettings{}, statuses: map[int64]cachedStatus{}, rules: d.Rules, bulkPrefetch: max(d.BulkPrefetch, 1),
		accounts: d.Accounts, audience: d.Audience, redis: d.Redis, redisPrefix: d.RedisPrefix,
		breakers: d.Breakers, rates: d.Rates, registry: d.Registry, content: d.Content, writer: d.Writer,
		history: d.History, yield: d.Yield, lanes: d.Lanes, logger: d.Logger.With("component", "dispatch.worker"), nowFunc: time.Now,
		realtimePrefetch: max(d.RealtimePrefetch, 1), receiptPrefetch: max(d.ReceiptPrefetch, 1)}
	w.receipts = newReceiptBatcher(func(ctx context.Context, us []reports.Update) (map[string]bool, error) {
		// Receipts are applied behind the sends; a group waits like a bulk step.
		w.yield.Wait(ctx)
		started := time.Now()
		missing, err := w.writer.ApplyFound(ctx, us)
		sendSteps.WithLabelValues("receipts", "apply").Observe(time.Since(started).Seconds())
		return missing, err
	}, receiptBatchSize, receiptBatchWait, w.logger)
	if d.Redis != nil {
		w.limiter = NewRateLimiter(d.Redis, d.RedisPrefix, d.Logger)
		w.health = NewHealthRecorder(d.Redis, d.RedisPrefix, d.Logger)
	}
	return w
}

// Run consumes its lanes — the realtime and bulk queues (separate consumer pools), the
// receipts queue and the fallback timers — until ctx is done, then drains.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.declarer.Declare(ctx, broker.QueueSpec{Name: FallbackQueue, DeadLetter: true}); err != nil {
		return err
	}
	lanes := w.lanes
	if lanes == (Lanes{}) {
		lanes = AllLanes
	}
	g, gctx := errgroup.WithContext(ctx)
	// On shutdown the gathered receipts are committed at once, not after their wait.
	stopReceipts := context.AfterFunc(gctx, w.receipts.close)
	defer stopReceipts()
	if lanes.Realtime {
		g.Go(func() error { return w.consumer.Consume(gctx, broker.Realtime, w.realtimePrefetch, w.handleLane) })
		g.Go(func() error { return w.consumer.Consume(gctx, FallbackQueue, w.realtimePrefetch, w.handleFallback) })
	}
	if lanes.Bulk {
		g.Go(func() error { return w.consumer.Consume(gctx, broker.Bulk, w.bulkPrefetch, w.handleLane) })
	}
	if !lanes.Receipts {
		return g.Wait()
	}
	g.Go(func() error {
		return w.consumer.Consume(gctx, broker.Receipts, w.receiptPrefetch*receiptDeliveriesPerWorker, w.handleReceipts)
	})
	for _, p := range w.registry.Providers() {
		if l, ok := p.(channels.ReceiptListener); ok {
			g.Go(func() error {
				w.listenReceipts(gctx, p, l)
				return nil
			})
		}
	}
	return g.Wait()
}

// listenReceipts runs a provider's receipt listener until ctx is done, restarting it with
// a growing pause when it fails; its receipts go to the receipts queue like callbacks.
func (w *Worker) listenReceipts(ctx context.Context, p channels.Provider, l channels.ReceiptListener) {
	deliver := func(rs []channels.Receipt) error {
		for i := range rs {
			rs[i].Channel = p.Channel()
			if rs[i].Provider == "" {
				rs[i].Provider = p.Name()
			}
		}
		return QueueReceipts(ctx, w.publisher, rs)
	}
	for attempt := 1; ; attempt++ {
		err := l.ListenReceipts(ctx, deliver)
		if ctx.Err() != nil {
			return
		}
		pause := Backoff(attempt, time.Second, time.Minute)
		w.logger.WarnContext(ctx, "receipt listener stopped; restarting", "provider", p.Name(), "error", err, "retry_in", pause.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// handleJob sends one realtime job. It is acknowledged only after every result is recorded
// and every fallback timer armed; on redelivery, messages already past QUEUED are not sent
// again.
func (w *Worker) handleJob(ctx context.Context, d broker.Delivery) error {
	var j job
	if err := json.Unmarshal(d.Body, &j); err != nil {
		return broker.Poison(fmt.Errorf("undecodable job: %w", err))
	}
	if j.TaskID == 0 || len(j.Items) == 0 {
		return broker.Poison(errors.New("job without task or items"))
	}
	j.Retry = d.Redelivered || d.Attempt > 1
	defer w.yield.Realtime(ctx)()
	// The claim runs alongside the job's first reads (the filters' opt-outs, the rows already
	// recorded): deliverOnce waits for it before anything is written or sent, and before a
	// MARKETING message's filters, which count it in Redis.
	claimed := make(chan claimResult, 1)
	go func() {
		started := time.Now()
		ok, err := w.claimSend(ctx, j.TaskID)
		if err == nil {
			sendSteps.WithLabelValues("job", "claim").Observe(time.Since(started).Seconds())
		}
		claimed <- claimResult{ok, err}
	}()
	j.claim = sync.OnceValues(func() (bool, error) {
		r := <-claimed
		return r.ok, r.err
	})
	defer func() { _ = j.awaitClaim() }() // the claim is over before the job is
	tpl, err := w.content.Get(ctx, j.TemplateID, j.TemplateVersion)
	if err != nil {
		if cerr := j.awaitClaim(); cerr != nil {
			return dropUnclaimed(cerr)
		}
		return fmt.Errorf("error loading template: %w", err)
	}
	if tpl.Class == content.Marketing {
		if err := j.awaitClaim(); err != nil {
			return dropUnclaimed(err)
		}
	}
	if held, err := w.holdForQuietHours(ctx, &j, tpl, d); held || err != nil {
		return err
	}
	if err := w.deliver(ctx, &j, j.Items, false); err != nil {
		return dropUnclaimed(err)
	}
	if _, err := w.db.Core.ExecContext(ctx, sendDoneSQL(w.db.Dialect),
		w.nowFunc().UTC(), j.TaskID); err != nil {
		return fmt.Errorf("error completing task: %w", err)
	}
	return nil
}

type claimResult struct {
	ok  bool
	err error
}

// dropUnclaimed is err, or nil for errNotClaimed: the job of a failed or cancelled send is
// dropped.
func dropUnclaimed(err error) error {
	if errors.Is(err, errNotClaimed) {
		return nil
	}
	return err
}

// claimSend marks a send's task as taken by a worker, so that the API no longer fails it when
// RabbitMQ's confirm of the job was lost; it reports whether the job is to be sent (false:
// the task failed or was cancelled before any worker took it).
func (w *Worker) claimSend(ctx context.Context, taskID int64) (bool, error) {
	res, err := w.db.Core.ExecContext(ctx, w.db.Dialect.Rebind("UPDATE tasks SET planned = 1 WHERE id = ? AND status IN ('RUNNING', 'COMPLETED')"), taskID)
	if err != nil {
		return false, fmt.Errorf("error claiming task: %w", err)
	}
	// The first claim changes the row: the task was running. Otherwise it was claimed before
	// (a redelivered job), or it failed, was cancelled or does not exist: its status says.
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return true, nil
	}
	var st Status
	err = w.db.Core.QueryRowContext(ctx, w.db.Dialect.Rebind("SELECT status FROM tasks WHERE id = ?"), taskID).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return false, broker.Poison(fmt.Errorf("task %d does not exist", taskID))
	}
	if err != nil {
		return false, err
	}
	if st == StatusFailed || st == StatusCancelled {
		w.logger.InfoContext(ctx, "job of a failed or cancelled send dropped", "task_id", taskID, "status", st)
		return false, nil
	}
	return true, nil
}

// deliver records, renders and sends items of job j, then moves fallback chains on: a
// message that failed or could not be sent passes to the chain's next channel at once; a sent
// one arms a durable timer. It returns an error (and the job is retried) when a provider
// failure may pass; everything recorded so far stays recorded.
func (w *Worker) deliver(ctx context.Context, j *job, items []item, fallback bool) error {
	tpl, err := w.content.Get(ctx, j.TemplateID, j.TemplateVersion)
	if err != nil {
		return fmt.Errorf("error loading template: %w", err)
	}
	for first := true; len(items) > 0; first = false {
		next, err := w.deliverOnce(ctx, j, tpl, items, first && !fallback)
		if err != nil {
			return err
		}
		items = next
	}
	return nil
}

// deliverOnce sends items and returns the fallback items that must follow at once.
func (w *Worker) deliverOnce(ctx context.Context, j *job, tpl *content.Template, items []item, first bool) ([]item, error) {
	steps := newStepTimer(j)
	now := w.nowFunc()
	rendered := make(map[string]*content.Rendered, len(items))
	renderErr := map[string]error{}
	for _, it := range items {
		if it.Status != reports.Queued {
			continue
		}
		r, err := tpl.Render(it.Channel, j.Variables)
		if err != nil {
			renderErr[it.ID] = err
			continue
		}
		rendered[it.ID] = r
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	// A message's row is written once its vendor call is answered (or when it is not to be
	// sent); the in-flight mark taken before the call is what keeps a redelivered job from
	// sending it twice. Rows found here were recorded by an earlier pass. They are read while
	// the filters run: a filter changes the status of items, never which items there are.
	w.yieldBulk(ctx, j, steps)
	var (
		stored    map[string]channels.Status
		storedErr error
		read      = make(chan struct{})
	)
	go func() {
		defer close(read)
		stored, storedErr = w.writer.Statuses(ctx, ids)
	}()
	items, err := w.filter(ctx, j, tpl, items, rendered, first)
	<-read
	if err != nil {
		return nil, err
	}
	steps.done("filter")
	if storedErr != nil {
		return nil, storedErr
	}
	steps.done("statuses")
	if err := j.awaitClaim(); err != nil {
		return nil, err
	}
	final := make(map[string]channels.Status, len(items)) // the status each item ends this pass with
	byChannel := map[channels.Channel][]channels.Message{}
	itemOf := make(map[string]item, len(items))
	var updates []reports.Update
	// settled are messages planned for sending whose rows are already past QUEUED; on a
	// retry, one of them may have been sent by a worker that stopped before recording it
	// (its receipt came first), which resumeInterrupted completes.
	settled := map[string]channels.Channel{}
	for _, it := range items {
		itemOf[it.ID] = it
		st, ok := stored[it.ID]
		if !ok {
			st = it.Status
		}
		final[it.ID] = st
		if it.Status == reports.Queued && st != reports.Queued && j.Retry {
			settled[it.ID] = it.Channel
		}
		if it.Status != reports.Queued || st != reports.Queued {
			continue
		}
		r := rendered[it.ID]
		if r == nil {
			updates = append(updates, reports.Update{ID: it.ID, Status: channels.Failed, Reason: fmt.Sprintf("render: %v", renderErr[it.ID]), At: now})
			final[it.ID] = channels.Failed
			continue
		}
		byChannel[it.Channel] = append(byChannel[it.Channel], channels.Message{ID: it.ID, AppID: j.AppID, Channel: it.Channel,
			Address: it.Address, Title: r.Title, Body: r.Body, Extra: r.Extra, Variables: j.Variables})
	}
	out := &sendOutcome{updates: updates, final: final, itemOf: itemOf}
	out.prices = w.writer.Prices()
	if st, err := w.appSettings(ctx, j.AppID); err == nil {
		out.prices = out.prices.With(st.Prices)
	}
	if j.Retry && (len(byChannel) > 0 || len(settled) > 0) {
		if err := w.resumeInterrupted(ctx, j, byChannel, settled, rendered, out); err != nil {
			return nil, err
		}
	}
	out.steps = steps
	for ch, msgs := range byChannel {
		w.yieldBulk(ctx, j, steps)
		if err := w.sendChannel(ctx, j, ch, msgs, out); err != nil {
			return nil, err
		}
	}
	w.yieldBulk(ctx, j, steps)
	if err := w.record(ctx, j, items, stored, now, out.updates); err != nil {
		return nil, err
	}
	steps.done("record")
	history, retry := out.history, out.retry
	if len(history) > 0 && w.history != nil {
		w.yieldBulk(ctx, j, steps)
		if err := w.history.Append(ctx, history); err != nil {
			return nil, err
		}
	}
	steps.done("history")
	if len(out.marks) > 0 {
		w.yieldBulk(ctx, j, steps)
		if err := w.writer.ClearSending(ctx, out.marks); err != nil {
			return nil, err
		}
	}
	steps.done("clear")
	follow, err := w.moveChains(ctx, j, items, final)
	if err != nil {
		return nil, err
	}
	steps.done("timers")
	if retry != nil {
		return nil, retry
	}
	return follow, nil
}

// yieldBulk holds a bulk shard's next step while realtime work is in progress (Yielder).
// The wait is timed as the step "yield".
func (w *Worker) yieldBulk(ctx context.Context, j *job, steps *stepTimer) {
	if j.Bulk && w.yield.Wait(ctx) {
		steps.done("yield")
	}
}

// record writes what a pass did: the rows of items not recorded before, each with the outcome
// of its vendor call (SENT or FAILED, provider, vendor id, cost) or as it was planned (QUEUED
// when no provider took it yet, SUPPRESSED), with the rollups in the same transaction; then
// the updates of rows recorded before and those that go past SENT (a vendor that answers
// DELIVERED at once), which move the stored rows forward.
func (w *Worker) record(ctx context.Context, j *job, items []item, stored map[string]channels.Status, now time.Time, updates []reports.Update) error {
	best := make(map[string]reports.Update, len(updates))
	var later []reports.Update
	for _, u := range updates {
		if _, ok := stored[u.ID]; ok || (u.Status != channels.Sent && u.Status != channels.Failed) {
			later = append(later, u)
			continue
		}
		if b, ok := best[u.ID]; !ok || (b.Status == channels.Sent && u.Status == channels.Failed) {
			best[u.ID] = u
		}
	}
	rows := make([]reports.Delivery, 0, len(items))
	for _, it := range items {
		if _, ok := stored[it.ID]; ok {
			continue
		}
		d := reports.Delivery{ID: it.ID, AppID: j.AppID, TaskID: j.TaskID, TemplateID: j.TemplateID, UserID: it.UserID,
			Channel: it.Channel, Address: it.Address, Status: it.Status, Reason: it.Reason, CreatedAt: now}
		if u, ok := best[it.ID]; ok && it.Status == reports.Queued {
			d.Status, d.Provider, d.VendorID, d.Reason, d.CostUnits, d.Cost = u.Status, u.Provider, u.VendorID, u.Reason, u.CostUnits, u.Cost
			if !u.At.IsZero() {
				d.SentAt = u.At
			}
		}
		rows = append(rows, d)
	}
	if len(rows) > 0 {
		if _, err := w.writer.Record(ctx, rows); err != nil {
			return err
		}
	}
	if len(later) > 0 {
		if _, err := w.writer.Apply(ctx, later); err != nil {
			return err
		}
	}
	return nil
}

// moveChains arms a fallback timer for every sent chain message that has not reached its
// milestone yet, and returns the next hop of every chain whose message failed or was
// suppressed. Arming twice (a redelivered job) is harmless: the timer acts once.
func (w *Worker) moveChains(ctx context.Context, j *job, items []item, final map[string]channels.Status) ([]item, error) {
	var (
		follow []item
		ended  []item
		timers = map[time.Duration][]broker.Message{}
	)
	for _, it := range items {
		if len(it.Next) == 0 {
			continue
		}
		switch st := final[it.ID]; {
		case st == channels.Failed || st == reports.Suppressed:
			follow = append(follow, nextHop(it))
		case st == reports.Queued:
			// Not sent yet (a retryable failure): the retried job moves it on.
		case reachedMilestone(st, it.Until):
			// Done: the vendor confirmed the milestone synchronously.
			ended = append(ended, it)
		default:
			body, err := json.Marshal(fallbackTimer{Job: jobMeta(j), Item: it})
			if err != nil {
				return nil, err
			}
			timers[it.After] = append(timers[it.After], broker.Message{Body: body, MessageID: it.ID, ContentType: "application/json"})
		}
	}
	if err := w.recordSavings(ctx, j, ended); err != nil {
		return nil, err
	}
	for after, msgs := range timers {
		q, err := w.delayQueue(ctx, after)
		if err != nil {
			return nil, err
		}
		if err := w.publisher.Publish(ctx, q, msgs...); err != nil {
			return nil, fmt.Errorf("error arming fallback timers: %w", err)
		}
	}
	return follow, nil
}

// fallbackTimer is the body of a fallback timer: the job without its items, and the chain
// message whose milestone is awaited.
type fallbackTimer struct {
	Job  job  `json:"job"`
	Item item `json:"item"`
}

func jobMeta(j *job) job {
	return job{TaskID: j.TaskID, AppID: j.AppID, TemplateID: j.TemplateID, TemplateVersion: j.TemplateVersion, Day: j.Day, Variables: j.Variables}
}

// nextHop is the message of a chain's next channel. Its id takes the day of the message
// before it, so a timer that fires twice, even across midnight, names the same message.
func nextHop(prev item) item {
	day, task, _ := reports.ParseMessageID(prev.ID)
	h := prev.Next[0]
	it := item{ID: reports.MessageID(day, task, prev.Seq, h.Channel), UserID: prev.UserID, Channel: h.Channel, Address: h.Address,
		Status: reports.Queued, Seq: prev.Seq, Next: prev.Next[1:], After: prev.After, Until: prev.Until}
	if h.Address == "" {
		it.Status, it.Reason = reports.Suppressed, "no address on "+string(h.Channel)
	}
	if len(it.Next) == 0 {
		it.Next = nil
	}
	return it
}

// reachedMilestone reports whether status st means milestone m was reached.
func reachedMilestone(st, m channels.Status) bool {
	order := map[channels.Status]int{channels.Sent: 1, channels.Delivered: 2, channels.Displayed: 3, channels.Clicked: 4}
	return order[st] > 0 && order[st] >= order[m]
}

// delayQueue returns the delay queue of fallback timers of duration d, declaring it once.
func (w *Worker) delayQueue(ctx context.Context, d time.Duration) (broker.Queue, error) {
	return w.delayQueueInto(ctx, string(FallbackQueue), d, FallbackQueue)
}

// delayQueueInto returns the delay queue "<kind>.<ms>ms" that moves messages into target
// after d, declaring it once per process.
func (w *Worker) delayQueueInto(ctx context.Context, kind string, d time.Duration, target broker.Queue) (broker.Queue, error) {
	name := fmt.Sprintf("%s.%dms", kind, d.Milliseconds())
	w.mu.Lock()
	q, ok := w.delays[name]
	w.mu.Unlock()
	if ok {
		return q, nil
	}
	q, err := w.declarer.DeclareDelay(ctx, name, d, target)
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	w.delays[name] = q
	w.mu.Unlock()
	return q, nil
}

// FallbackQueue receives fallback timers when they expire.
const FallbackQueue broker.Queue = "fallback"

// handleFallback acts on an expired fallback timer: if the awaited message has not reached
// its milestone, it is marked (a later receipt makes it REDUNDANT) and the chain's next
// channel is sent.
func (w *Worker) handleFallback(ctx context.Context, d broker.Delivery) error {
	var t fallbackTimer
	if err := json.Unmarshal(d.Body, &t); err != nil {
		return broker.Poison(fmt.Errorf("undecodable fallback timer: %w", err))
	}
	if t.Item.ID == "" || len(t.Item.Next) == 0 {
		return broker.Poison(errors.New("fallback timer without a chain"))
	}
	move, err := w.writer.MarkFallback(ctx, t.Item.ID, t.Item.Until, w.nowFunc())
	if err != nil {
		return err
	}
	if !move {
		// The milestone was reached in time: the chain ends without its later channels.
		return w.recordSavings(ctx, &t.Job, []item{t.Item})
	}
	fallbacksFired.Inc()
	t.Job.Retry = d.Redelivered || d.Attempt > 1
	return w.deliver(ctx, &t.Job, []item{nextHop(t.Item)}, true)
}

// anyRetryable reports whether a provider answered a temporary failure for any message.
func anyRetryable(results []channels.Result) bool {
	for _, r := range results {
		if r.Status == channels.Failed && r.Retryable {
			return true
		}
	}
	return false
}

// throttle waits until provider's rate limit, shared by every worker through Redis, lets n
// more messages go. A provider without a limit, or Redis out of reach, does not wait.
func (w *Worker) throttle(ctx context.Context, provider string, n int) error {
	rate := w.rates[provider]
	if rate <= 0 || w.limiter == nil {
		return nil
	}
	err := w.limiter.Wait(ctx, provider, n, rate, max(int(rate), 1))
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil // a Redis failure lets the batch go: the vendor's own limit still answers
}

// receiptBatch is the body of a receipts-queue message.
type receiptBatch struct {
	Receipts []channels.Receipt `json:"receipts"`
	// Tries counts how often these receipts named no known message yet.
	Tries int `json:"tries,omitempty"`
}

// QueueReceipts puts verified receipts on the receipts queue, so a callback is answered as
// soon as the receipts are durable.
func QueueReceipts(ctx context.Context, p Publisher, rs []channels.Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	body, err := encodeReceiptBatch(receiptBatch{Receipts: rs})
	if err != nil {
		return err
	}
	return p.Publish(ctx, broker.Receipts, broker.Message{Body: body, ContentType: "application/json"})
}

// resolveBatches sets the message id of receipts that carry a batch reference and an
// address instead, with one lookup per batch, and returns how many found no message: their
// rows may not be recorded yet.
func (w *Worker) resolveBatches(ctx context.Context, rs []channels.Receipt) (int, error) {
	byRef := map[string][]int{}
	unresolved := 0
	for i, r := range rs {
		if r.MessageID == "" && r.Batch != "" && r.Address != "" {
			byRef[r.Batch] = append(byRef[r.Batch], i)
		}
	}
	for ref, idx := range byRef {
		addrs := make([]string, len(idx))
		for k, i := range idx {
			addrs[k] = rs[i].Address
		}
		ids, err := w.writer.ResolveBatch(ctx, ref, addrs)
		if errors.Is(err, reports.ErrBadBatchRef) {
			w.logger.WarnContext(ctx, "receipts with an unusable batch reference", "batch", ref, "receipts", len(idx), "error", err)
			continue
		}
		if err != nil {
			return 0, err
		}
		for _, i := range idx {
			rs[i].MessageID = ids[rs[i].Address]
			if rs[i].MessageID == "" {
				unresolved++
			}
		}
	}
	return unresolved, nil
}

// handleReceipts applies a batch of receipts: statuses only move forward. The updates are
// committed together with those of the other receipt handlers (receiptBatcher), and the
// handler returns once they are.
func (w *Worker) handleReceipts(ctx context.Context, d broker.Delivery) error {
	b, err := decodeReceiptBatch(d.Body)
	if err != nil {
		return broker.Poison(fmt.Errorf("undecodable receipts: %w", err))
	}
	hand := w.receipts.begin()
	defer hand.release()
	if _, err := w.resolveBatches(ctx, b.Receipts); err != nil {
		return err
	}
	if _, err := w.resolveVendorIDs(ctx, b.Receipts); err != nil {
		return err
	}
	updates := make([]reports.Update, 0, len(b.Receipts))
	var unresolved []channels.Receipt
	applied := make([]channels.Receipt, 0, len(b.Receipts))
	for _, r := range b.Receipts {
		switch r.Status {
		case channels.Delivered, channels.Displayed, channels.Clicked, channels.Failed:
		default:
			w.logger.WarnContext(ctx, "receipt with an unknown status", "channel", r.Channel, "status", r.Status)
			continue
		}
		if r.MessageID == "" {
			if r.Batch != "" || r.VendorID != "" {
				unresolved = append(unresolved, r) // its message may not be recorded or indexed yet
			} else {
				w.logger.WarnContext(ctx, "receipt without a message id", "channel", r.Channel)
			}
			continue
		}
		at := r.At
		if at.IsZero() {
			at = w.nowFunc()
		}
		updates = append(updates, reports.Update{ID: r.MessageID, Status: r.Status, Reason: r.Reason, VendorID: r.VendorID, At: at})
		applied = append(applied, r)
	}
	if len(updates) > 0 {
		missing, err := hand.submit(ctx, updates)
		if err != nil {
			return err
		}
		for _, r := range applied {
			if missing[r.MessageID] {
				unresolved = append(unresolved, r)
			}
		}
	}
	return w.retryUnresolved(ctx, b.Tries, unresolved)
}

// maxUnresolvedTries is how often receipts that name no known message yet are taken again —
// a vendor id not indexed yet, or a message whose row is not recorded yet (a receipt can
// overtake the worker's record of the vendor call, which follows its answer by the time of a
// multi-row insert) — each time after the next of unresolvedWaits, the last repeated: about
// 18 s in all; after that they are receipts for unknown messages, logged and dropped. The
// first waits are short, so that a receipt that merely overtook its row is applied long
// before a fallback timer could take its message for unanswered.
const maxUnresolvedTries = 12

var unresolvedWaits = []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}

// retryUnresolved queues receipts that name no known message yet to be taken again after the
// wait of their try, through a delay queue, while they have tries left; the rest of their
// batch is done.
func (w *Worker) retryUnresolved(ctx context.Context, tries int, rs []channels.Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	if tries+1 >= maxUnresolvedTries {
		w.logger.WarnContext(ctx, "receipts naming unknown messages dropped", "receipts", len(rs), "tries", tries+1)
		return nil
	}
	receiptsRetried.Add(float64(len(rs)))
	body, err := encodeReceiptBatch(receiptBatch{Receipts: rs, Tries: tries + 1})
	if err != nil {
		return err
	}
	q, err := w.delayQueueInto(ctx, "receipts-wait", unresolvedWaits[min(tries, len(unresolvedWaits)-1)], broker.Receipts)
	if err != nil {
		return err
	}
	return w.publisher.Publish(ctx, q, broker.Message{Body: body, ContentType: "application/json"})
}
