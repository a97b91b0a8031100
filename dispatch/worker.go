package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
)

// Consumer takes messages from a queue; *broker.Broker is one.
type Consumer interface {
	Consume(ctx context.Context, q broker.Queue, prefetch int, handler broker.HandlerFunc) error
}

// Worker sends queued messages through the channel providers and applies receipts. The
// realtime lane, the bulk lane and receipts each have their own consumer pool.
type Worker struct {
	db        *store.DB
	consumer  Consumer
	publisher Publisher
	registry  *channels.Registry
	content   *content.Service
	writer    *reports.Writer
	history   reports.HistoryStore
	logger    *slog.Logger
	nowFunc   func() time.Time

	realtimePrefetch int
	receiptPrefetch  int
}

// WorkerDeps are the collaborators of a worker.
type WorkerDeps struct {
	DB               *store.DB
	Consumer         Consumer
	Publisher        Publisher
	Registry         *channels.Registry
	Content          *content.Service
	Writer           *reports.Writer
	History          reports.HistoryStore
	Logger           *slog.Logger
	RealtimePrefetch int
	ReceiptPrefetch  int
}

// NewWorker returns a worker.
func NewWorker(d WorkerDeps) *Worker {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Worker{db: d.DB, consumer: d.Consumer, publisher: d.Publisher, registry: d.Registry, content: d.Content, writer: d.Writer,
		history: d.History, logger: d.Logger.With("component", "dispatch.worker"), nowFunc: time.Now,
		realtimePrefetch: max(d.RealtimePrefetch, 1), receiptPrefetch: max(d.ReceiptPrefetch, 1)}
}

// Run consumes the realtime lane and the receipts queue until ctx is done, then drains.
func (w *Worker) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return w.consumer.Consume(gctx, broker.Realtime, w.realtimePrefetch, w.handleJob) })
	g.Go(func() error { return w.consumer.Consume(gctx, broker.Receipts, w.receiptPrefetch, w.handleReceipts) })
	return g.Wait()
}

// handleJob sends one realtime job. It is acknowledged only after every result is recorded;
// on redelivery, messages already past QUEUED are not sent again.
func (w *Worker) handleJob(ctx context.Context, d broker.Delivery) error {
	var j job
	if err := json.Unmarshal(d.Body, &j); err != nil {
		return broker.Poison(fmt.Errorf("undecodable job: %w", err))
	}
	if j.TaskID == 0 || len(j.Items) == 0 {
		return broker.Poison(errors.New("job without task or items"))
	}
	tpl, err := w.content.Get(ctx, j.TemplateID, j.TemplateVersion)
	if err != nil {
		return fmt.Errorf("error loading template: %w", err)
	}
	now := w.nowFunc()
	rows := make([]reports.Delivery, len(j.Items))
	for i, it := range j.Items {
		rows[i] = reports.Delivery{ID: it.ID, AppID: j.AppID, TaskID: j.TaskID, TemplateID: j.TemplateID, UserID: it.UserID,
			Channel: it.Channel, Address: it.Address, Status: it.Status, Reason: it.Reason, CreatedAt: now}
	}
	stored, err := w.writer.Record(ctx, rows)
	if err != nil {
		return err
	}
	byChannel := map[channels.Channel][]channels.Message{}
	userOf := map[string]item{}
	var updates []reports.Update
	for _, it := range j.Items {
		if it.Status != reports.Queued || stored[it.ID] != reports.Queued {
			continue
		}
		r, err := tpl.Render(it.Channel, j.Variables)
		if err != nil {
			updates = append(updates, reports.Update{ID: it.ID, Status: channels.Failed, Reason: "render: " + err.Error(), At: now})
			continue
		}
		userOf[it.ID] = it
		byChannel[it.Channel] = append(byChannel[it.Channel], channels.Message{ID: it.ID, AppID: j.AppID, Channel: it.Channel,
			Address: it.Address, Title: r.Title, Body: r.Body, Extra: r.Extra, Variables: j.Variables})
	}
	var (
		history []reports.HistoryEntry
		retry   error
	)
	for ch, msgs := range byChannel {
		p, ok := w.registry.Provider(ch)
		if !ok {
			for _, m := range msgs {
				updates = append(updates, reports.Update{ID: m.ID, Status: channels.Failed, Reason: "no provider configured for " + string(ch), At: now})
			}
			continue
		}
		size := len(msgs)
		if bl, ok := p.(channels.BatchLimiter); ok && bl.MaxBatch() > 0 {
			size = bl.MaxBatch()
		}
		for start := 0; start < len(msgs); start += size {
			batch := msgs[start:min(start+size, len(msgs))]
			results, err := p.Send(ctx, batch)
			if err != nil {
				w.logger.WarnContext(ctx, "provider batch failed; the job will be retried", "provider", p.Name(), "channel", ch, "messages", len(batch), "error", err)
				retry = err
				continue
			}
			at := w.nowFunc()
			for i, res := range results {
				if i >= len(batch) {
					break
				}
				m := batch[i]
				if res.Status == channels.Failed && res.Retryable {
					retry = fmt.Errorf("retryable failure from %s: %s", p.Name(), res.Reason)
					continue
				}
				units := max(res.CostUnits, 0)
				if res.Status != channels.Failed && units == 0 {
					units = 1
				}
				u := reports.Update{ID: m.ID, Status: res.Status, Provider: p.Name(), VendorID: res.VendorID, Reason: res.Reason, At: at}
				if res.Status != channels.Failed {
					u.CostUnits, u.Cost = units, w.writer.Prices().Cost(ch, units)
				}
				updates = append(updates, u)
				if res.Status != channels.Failed {
					history = append(history, reports.HistoryEntry{AppID: j.AppID, UserID: userOf[m.ID].UserID, MessageID: m.ID, TaskID: j.TaskID,
						Channel: ch, Address: m.Address, Title: m.Title, Body: m.Body, Status: res.Status, CreatedAt: at})
				}
			}
		}
	}
	if len(updates) > 0 {
		if _, err := w.writer.Apply(ctx, updates); err != nil {
			return err
		}
	}
	if len(history) > 0 && w.history != nil {
		if err := w.history.Append(ctx, history); err != nil {
			return err
		}
	}
	if retry != nil {
		return retry
	}
	if _, err := w.db.Core.ExecContext(ctx, "UPDATE tasks SET status = IF(status = 'RUNNING', 'COMPLETED', status), shards_done = LEAST(shards_done + 1, shards_total), updated_at = ? WHERE id = ?",
		w.nowFunc().UTC(), j.TaskID); err != nil {
		return fmt.Errorf("error completing task: %w", err)
	}
	return nil
}

// receiptBatch is the body of a receipts-queue message.
type receiptBatch struct {
	Receipts []channels.Receipt `json:"receipts"`
}

// QueueReceipts puts verified receipts on the receipts queue, so a callback is answered as
// soon as the receipts are durable.
func QueueReceipts(ctx context.Context, p Publisher, rs []channels.Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	body, err := json.Marshal(receiptBatch{Receipts: rs})
	if err != nil {
		return err
	}
	return p.Publish(ctx, broker.Receipts, broker.Message{Body: body, ContentType: "application/json"})
}

// handleReceipts applies a batch of receipts: statuses only move forward.
func (w *Worker) handleReceipts(ctx context.Context, d broker.Delivery) error {
	var b receiptBatch
	if err := json.Unmarshal(d.Body, &b); err != nil {
		return broker.Poison(fmt.Errorf("undecodable receipts: %w", err))
	}
	updates := make([]reports.Update, 0, len(b.Receipts))
	for _, r := range b.Receipts {
		if r.MessageID == "" {
			w.logger.WarnContext(ctx, "receipt without a message id", "channel", r.Channel, "vendor_id", r.VendorID)
			continue
		}
		switch r.Status {
		case channels.Delivered, channels.Displayed, channels.Clicked, channels.Failed:
		default:
			w.logger.WarnContext(ctx, "receipt with an unknown status", "channel", r.Channel, "status", r.Status)
			continue
		}
		at := r.At
		if at.IsZero() {
			at = w.nowFunc()
		}
		updates = append(updates, reports.Update{ID: r.MessageID, Status: r.Status, Reason: r.Reason, VendorID: r.VendorID, At: at})
	}
	if len(updates) == 0 {
		return nil
	}
	n, err := w.writer.Apply(ctx, updates)
	if err != nil {
		return err
	}
	if n < len(updates) {
		w.logger.WarnContext(ctx, "receipts for unknown messages", "unknown", len(updates)-n, "receipts", len(updates))
	}
	return nil
}
