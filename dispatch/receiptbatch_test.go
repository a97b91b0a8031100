package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store/storetest"
)

// receiptBundle is a worker on fresh databases whose receipt batcher counts its Apply calls
// and can be made to fail them.
type receiptBundle struct {
	worker *Worker
	writer *reports.Writer
	calls  atomic.Int64
	fail   atomic.Bool
	day    string
}

// setupReceipts records n SENT SMS messages of one task and gives a worker whose receipt
// batcher flushes at size updates or after wait.
func setupReceipts(t *testing.T, task int64, n, size int, wait time.Duration) (*receiptBundle, []string) {
	t.Helper()
	db := storetest.New(t)
	writer := reports.NewWriter(db, time.UTC, nil, nil)
	// Today: its tables exist on every shard, so the rollups can be reconciled.
	at := time.Now().UTC().Add(-time.Minute)
	rb := &receiptBundle{writer: writer, day: writer.Day(at)}
	ds := make([]reports.Delivery, n)
	ids := make([]string, n)
	for i := range ds {
		ids[i] = reports.MessageID(rb.day, task, int64(i), channels.SMS)
		ds[i] = reports.Delivery{ID: ids[i], AppID: 1, TaskID: task, TemplateID: 1, UserID: "u", Channel: channels.SMS,
			Address: "+8613900000000", Provider: "aliyun", Status: channels.Sent, CreatedAt: at}
	}
	_, err := writer.Record(t.Context(), ds)
	require.NoError(t, err)
	rb.worker = NewWorker(WorkerDeps{DB: db, Writer: writer})
	rb.worker.receipts = newReceiptBatcher(func(ctx context.Context, us []reports.Update) (map[string]bool, error) {
		rb.calls.Add(1)
		if rb.fail.Load() {
			return nil, errors.New("the statistics shard is away")
		}
		return writer.ApplyFound(ctx, us)
	}, size, wait, nil)
	return rb, ids
}

// receiptDeliveries splits ids into receipt queue messages of per receipts each, as the receipts
// queue carries them.
func receiptDeliveries(t *testing.T, ids []string, per int, status channels.Status) []broker.Delivery {
	t.Helper()
	var out []broker.Delivery
	at := time.Now().UTC()
	for start := 0; start < len(ids); start += per {
		var b receiptBatch
		for _, id := range ids[start:min(start+per, len(ids))] {
			b.Receipts = append(b.Receipts, channels.Receipt{Channel: channels.SMS, Provider: "aliyun", MessageID: id, Status: status, At: at})
		}
		body, err := json.Marshal(b)
		require.NoError(t, err)
		out = append(out, broker.Delivery{Body: body, Attempt: 1})
	}
	return out
}

// handleAll runs the receipt handler on every delivery at once and returns their errors.
// The deadline only keeps a batcher that never flushes from hanging the test.
func (rb *receiptBundle) handleAll(ctx context.Context, ds []broker.Delivery) []error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	errs := make([]error, len(ds))
	var wg sync.WaitGroup
	for i, d := range ds {
		wg.Go(func() { errs[i] = rb.worker.handleReceipts(ctx, d) })
	}
	wg.Wait()
	return errs
}

// requireStatuses checks every message's status and that the day's rollups equal its rows.
func (rb *receiptBundle) requireStatuses(t *testing.T, ids []string, want channels.Status) {
	t.Helper()
	for _, id := range ids {
		d, err := rb.writer.Get(t.Context(), id)
		require.NoError(t, err)
		require.Equal(t, want, d.Status, id)
	}
	rep, err := rb.writer.Reconcile(t.Context(), rb.day, false)
	require.NoError(t, err)
	require.Equal(t, int64(len(ids)), rep.Messages)
	require.Zero(t, rep.Differing, "rollups equal the rows")
}

func TestReceiptHandlersShareOneApply(t *testing.T) {
	t.Parallel()
	// 20 messages of 50 receipts; the batch flushes at 1,000 updates, and a handler that
	// is still resolving keeps it from flushing earlier.
	rb, ids := setupReceipts(t, 41, 1000, 1000, time.Hour)
	held := rb.worker.receipts.begin()
	errs := rb.handleAll(t.Context(), receiptDeliveries(t, ids, 50, channels.Delivered))
	held.release()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), rb.calls.Load(), "the 20 handlers' receipts were applied together")
	rb.requireStatuses(t, ids, channels.Delivered)
}

func TestReceiptBatcherDefaultsUnderConcurrency(t *testing.T) {
	t.Parallel()
	rb, ids := setupReceipts(t, 42, 3000, receiptBatchSize, receiptBatchWait)
	ds := receiptDeliveries(t, ids, 100, channels.Delivered)
	for _, err := range rb.handleAll(t.Context(), ds) {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, rb.calls.Load(), int64(len(ds)))
	rb.requireStatuses(t, ids, channels.Delivered)
	// Receipts of statuses already passed change nothing: statuses only move forward.
	for _, err := range rb.handleAll(t.Context(), receiptDeliveries(t, ids, 100, channels.Delivered)) {
		require.NoError(t, err)
	}
	rb.requireStatuses(t, ids, channels.Delivered)
}

func TestReceiptHandlerAloneDoesNotWait(t *testing.T) {
	t.Parallel()
	rb, ids := setupReceipts(t, 43, 10, receiptBatchSize, time.Hour)
	// With no other handler resolving, the flush starts at once rather than after an hour;
	// the deadline only keeps a broken batcher from hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, rb.worker.handleReceipts(ctx, receiptDeliveries(t, ids, 100, channels.Delivered)[0]))
	require.Equal(t, int64(1), rb.calls.Load())
	rb.requireStatuses(t, ids, channels.Delivered)
}

func TestReceiptApplyErrorFailsTheWholeFlush(t *testing.T) {
	t.Parallel()
	rb, ids := setupReceipts(t, 44, 300, 300, time.Hour)
	ds := receiptDeliveries(t, ids, 60, channels.Delivered)
	rb.fail.Store(true)
	held := rb.worker.receipts.begin()
	errs := rb.handleAll(t.Context(), ds)
	held.release()
	require.Equal(t, int64(1), rb.calls.Load())
	for _, err := range errs {
		require.ErrorContains(t, err, "the statistics shard is away", "every handler of the flush fails, so the broker retries its message")
	}
	rb.requireStatuses(t, ids, channels.Sent)

	// The broker's retries apply them.
	rb.fail.Store(false)
	for _, err := range rb.handleAll(t.Context(), ds) {
		require.NoError(t, err)
	}
	rb.requireStatuses(t, ids, channels.Delivered)
}

func TestReceiptBatcherCloseFlushesWhatIsGathered(t *testing.T) {
	t.Parallel()
	rb, ids := setupReceipts(t, 45, 200, receiptBatchSize, time.Hour)
	// A handler still resolving and an hour's wait: the gathered receipts would stay put.
	held := rb.worker.receipts.begin()
	defer held.release()
	ds := receiptDeliveries(t, ids, 100, channels.Clicked)
	result := make(chan []error, 1)
	go func() { result <- rb.handleAll(t.Context(), ds) }()
	require.Eventually(t, func() bool {
		rb.worker.receipts.mu.Lock()
		defer rb.worker.receipts.mu.Unlock()
		return len(rb.worker.receipts.gathered) == len(ds)
	}, time.Minute, time.Millisecond, "both handlers hand their receipts over")
	require.Zero(t, rb.calls.Load())
	// The worker stopping closes the batcher: what is gathered is committed at once.
	rb.worker.receipts.close()
	for _, err := range <-result {
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), rb.calls.Load())
	rb.requireStatuses(t, ids, channels.Clicked)
}

func TestReceiptHandlerWithNothingToApplyReleases(t *testing.T) {
	t.Parallel()
	rb, ids := setupReceipts(t, 46, 50, receiptBatchSize, time.Hour)
	// A receipt with an unknown status is dropped by its handler, which hands nothing over:
	// it must not keep the others' flush waiting for the hour.
	bad := receiptDeliveries(t, ids[:1], 1, "LOST")[0]
	require.NoError(t, rb.worker.handleReceipts(t.Context(), bad))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	require.NoError(t, rb.worker.handleReceipts(ctx, receiptDeliveries(t, ids, 100, channels.Delivered)[0]))
	require.Equal(t, int64(1), rb.calls.Load())
	rb.requireStatuses(t, ids, channels.Delivered)
}
