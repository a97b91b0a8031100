package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/herald-msg/herald/reports"
)

var receiptCommitSize = promauto.NewHistogram(prometheus.HistogramOpts{
	Name:    "herald_receipt_commit_updates",
	Help:    "Receipt status updates applied by one group commit of the receipt handlers.",
	Buckets: []float64{1, 10, 50, 100, 200, 500, 1000, 2000, 4000},
})

// Group commit of receipts: the receipt handlers run concurrently, each with one queue
// message of up to a hundred receipts, and each used to commit its own Writer.Apply. They
// now hand their status updates to one receiptBatcher, which applies everything gathered
// in one Apply — and every handler whose updates were in it returns that Apply's result, so
// a receipt is still acknowledged only after its status change is committed, and an error
// sends every message of the flush back to the broker for a retry.
const (
	// receiptBatchSize is how many gathered updates make a flush without waiting further.
	receiptBatchSize = 2000
	// receiptBatchWait is the longest a gathered update waits for others while some
	// handler is still resolving its receipts.
	receiptBatchWait = 5 * time.Millisecond
	// receiptFlushTimeout bounds one flush: the flush outlives the handlers' contexts (a
	// handler that gives up must not abort the others' commit), but not forever.
	receiptFlushTimeout = time.Minute
	// receiptDeliveriesPerWorker is how many receipt messages each receipt worker
	// (HERALD_RECEIPT_WORKERS) holds at a time, so that a batch can form while a flush runs:
	// the handlers mostly wait on the shared flush, not on their own transaction.
	receiptDeliveriesPerWorker = 4
	// receiptFlushes is how many flushes run at once: a second batch commits while the first
	// does, so that receipts keep up with a broadcast's sends rather than queueing behind
	// one transaction at a time.
	receiptFlushes = 2
)

// applyFunc applies status updates and returns the ids of those that found no row;
// Writer.ApplyFound is one.
type applyFunc func(ctx context.Context, us []reports.Update) (map[string]bool, error)

// receiptBatcher gathers the updates of concurrent receipt handlers and applies them
// together, receiptFlushes flushes at a time. A flush starts when receiptBatchSize updates are gathered,
// when no other handler is still resolving receipts (waiting would gain nothing), when the
// oldest gathered update has waited receiptBatchWait, or at once after close. Updates
// handed over while every flush slot is busy gather for the next one.
type receiptBatcher struct {
	apply  applyFunc
	size   int
	wait   time.Duration
	logger *slog.Logger

	mu        sync.Mutex
	resolving int              // handlers that began and have not handed over or given up yet
	gathered  []*receiptWaiter // handed over, waiting for the next flush
	count     int              // updates in gathered
	since     time.Time        // when the first of gathered was handed over
	flushing  int              // flushes running
	timer     *time.Timer
	closing   bool
}

// receiptWaiter is one handler's updates and, once flushed, the flush's result.
type receiptWaiter struct {
	ctx     context.Context
	updates []reports.Update
	done    chan struct{}
	err     error
	// missing holds the ids of the flush's updates that found no row.
	missing map[string]bool
}

func newReceiptBatcher(apply applyFunc, size int, wait time.Duration, logger *slog.Logger) *receiptBatcher {
	if logger == nil {
		logger = slog.Default()
	}
	return &receiptBatcher{apply: apply, size: max(size, 1), wait: wait, logger: logger}
}

// receiptHand is one handler's place in the batcher, from begin to submit or release.
type receiptHand struct {
	b    *receiptBatcher
	done bool
}

// begin notes a handler that is resolving receipts, so that a flush waits a little for its
// updates. The handler must end with submit or release.
func (b *receiptBatcher) begin() *receiptHand {
	b.mu.Lock()
	b.resolving++
	b.mu.Unlock()
	return &receiptHand{b: b}
}

// release withdraws a handler that hands nothing over (it failed, or its receipts changed
// nothing); it does nothing after submit.
func (h *receiptHand) release() {
	if h.done {
		return
	}
	h.done = true
	b := h.b
	b.mu.Lock()
	b.resolving--
	b.flushIfDue()
	b.mu.Unlock()
}

// submit hands updates over and waits for the flush that applies them: its error is that
// flush's, with the ids of the flush's updates that found no row. When ctx ends first it returns ctx's
// error; the flush still commits, and the broker's redelivery of the message changes nothing
// more, since statuses only move forward.
func (h *receiptHand) submit(ctx context.Context, us []reports.Update) (map[string]bool, error) {
	if h.done {
		return nil, errors.New("receipt updates handed over twice")
	}
	h.done = true
	b := h.b
	w := &receiptWaiter{ctx: ctx, updates: us, done: make(chan struct{})}
	b.mu.Lock()
	b.resolving--
	if len(b.gathered) == 0 {
		b.since = time.Now()
	}
	b.gathered = append(b.gathered, w)
	b.count += len(us)
	b.flushIfDue()
	b.mu.Unlock()
	select {
	case <-w.done:
		return w.missing, w.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// close flushes what is gathered without waiting, and every later submission too: the
// worker is stopping and the broker drains the handlers.
func (b *receiptBatcher) close() {
	b.mu.Lock()
	b.closing = true
	b.flushIfDue()
	b.mu.Unlock()
}

// flushIfDue starts a flush of the gathered updates when one is due, or arms the timer of
// the oldest; b.mu is held.
func (b *receiptBatcher) flushIfDue() {
	if b.flushing >= receiptFlushes || len(b.gathered) == 0 {
		return
	}
	waited := time.Since(b.since)
	if b.closing || b.count >= b.size || b.resolving <= 0 || waited >= b.wait {
		if b.timer != nil {
			b.timer.Stop()
			b.timer = nil
		}
		batch := b.gathered
		b.gathered, b.count = nil, 0
		b.flushing++
		go b.flush(batch)
		return
	}
	if b.timer == nil {
		var t *time.Timer
		t = time.AfterFunc(b.wait-waited, func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.timer == t {
				b.timer = nil
			}
			b.flushIfDue()
		})
		b.timer = t
	}
}

// flush applies a batch in one Apply, gives every waiter of it the result, and then starts
// the next flush if one is due.
func (b *receiptBatcher) flush(batch []*receiptWaiter) {
	n := 0
	for _, w := range batch {
		n += len(w.updates)
	}
	us := make([]reports.Update, 0, n)
	for _, w := range batch {
		us = append(us, w.updates...)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), receiptFlushTimeout)
	missing, err := b.apply(ctx, us)
	cancel()
	receiptCommitSize.Observe(float64(len(us)))
	b.logger.DebugContext(ctx, "receipts applied together", "receipts", len(us), "messages", len(batch))
	if err != nil {
		b.logger.WarnContext(ctx, "error applying receipts; their messages are retried", "receipts", len(us), "messages", len(batch), "error", err)
	}
	for _, w := range batch {
		w.err, w.missing = err, missing
		close(w.done)
	}
	b.mu.Lock()
	b.flushing--
	b.flushIfDue()
	b.mu.Unlock()
}
