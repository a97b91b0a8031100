package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/reports"
)

// sendOutcome collects what sending one pass of a job produced.
type sendOutcome struct {
	prices  reports.Prices
	updates []reports.Update
	history []reports.HistoryEntry
	final   map[string]channels.Status
	itemOf  map[string]item
	// marks are the in-flight marks of this pass's vendor calls and those of a stopped
	// worker's calls that this pass settles, cleared once the answers are recorded.
	marks reports.Marks
	// retry, when set, makes the job retried later: some messages are still to be sent.
	retry error
	// lastFailure is the latest provider failure, named in retry.
	lastFailure error
	// steps times the vendor calls and their marks.
	steps *stepTimer
}

// reasonInterrupted is the reason of a message whose vendor call a stopped worker never saw
// answered, when its vendor cannot tell a repeated message from a new one.
const reasonInterrupted = "the sending worker stopped during the vendor call; not sent again, so that the user gets it at most once"

// resumeInterrupted looks for messages of the job that a stopped worker left in flight. Those
// of a provider whose vendor drops repeats of a message id are sent to it again; the others
// are recorded as SENT without a vendor id (their receipt, if the vendor echoes Herald's id,
// still moves them on) and removed from byChannel.
//
// A message in settled (past QUEUED already: its receipt overtook the stopped worker's
// record of the vendor call) is not sent either; if it is marked, the call's provider and
// cost are recorded.
func (w *Worker) resumeInterrupted(ctx context.Context, j *job, byChannel map[channels.Channel][]channels.Message,
	settled map[string]channels.Channel, rendered map[string]*content.Rendered, out *sendOutcome) error {
	var ids []string
	for _, msgs := range byChannel {
		for _, m := range msgs {
			ids = append(ids, m.ID)
		}
	}
	for id := range settled {
		ids = append(ids, id)
	}
	inflight, marks, err := w.writer.Interrupted(ctx, ids)
	if err != nil || len(inflight) == 0 {
		return err
	}
	out.marks = append(out.marks, marks...)
	now := w.nowFunc()
	for id, ch := range settled {
		name, ok := inflight[id]
		if !ok {
			continue
		}
		units := 1
		if r := rendered[id]; r != nil && r.Segments > 0 {
			units = r.Segments
		}
		// SENT ranks below the row's status, so only the provider and the cost are filled in.
		out.updates = append(out.updates, reports.Update{ID: id, Status: channels.Sent, Provider: name, CostUnits: units, Cost: out.prices.Cost(ch, name, units), At: now})
		if r := rendered[id]; r != nil {
			it := out.itemOf[id]
			out.history = append(out.history, reports.HistoryEntry{AppID: j.AppID, UserID: it.UserID, MessageID: id, TaskID: j.TaskID,
				Channel: ch, Address: it.Address, Title: r.Title, Body: r.Body, Status: out.final[id], CreatedAt: now})
		}
	}
	for ch, msgs := range byChannel {
		keep := msgs[:0]
		var again map[string][]channels.Message
		for _, m := range msgs {
			name, ok := inflight[m.ID]
			if !ok {
				keep = append(keep, m)
				continue
			}
			if p := w.providerNamed(ch, name); p != nil {
				if idem, ok := p.(channels.Idempotent); ok && idem.DedupesByMessageID() {
					if again == nil {
						again = map[string][]channels.Message{}
					}
					again[name] = append(again[name], m)
					continue
				}
			}
			w.logger.WarnContext(ctx, "message left in flight by a stopped worker is not sent again", "message_id", m.ID, "provider", name)
			out.updates = append(out.updates, reports.Update{ID: m.ID, Status: channels.Sent, Provider: name, Reason: reasonInterrupted, At: now})
			out.final[m.ID] = channels.Sent
			out.history = append(out.history, reports.HistoryEntry{AppID: j.AppID, UserID: out.itemOf[m.ID].UserID, MessageID: m.ID, TaskID: j.TaskID,
				Channel: ch, Address: m.Address, Title: m.Title, Body: m.Body, Status: channels.Sent, CreatedAt: now})
		}
		byChannel[ch] = keep
		for name, msgs := range again {
			p := w.providerNamed(ch, name)
			left, err := w.sendThrough(ctx, j, p, ch, msgs, out)
			if err != nil {
				return err
			}
			byChannel[ch] = append(byChannel[ch], left...) // its answer was retryable: any provider may take them
		}
	}
	return nil
}

// providerNamed returns the provider of ch called name, or nil.
func (w *Worker) providerNamed(ch channels.Channel, name string) channels.Provider {
	for _, p := range w.registry.ChannelProviders(ch) {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// sendChannel sends msgs through the providers of ch in route order: what one provider does
// not take (a transport error, a retryable answer, an open circuit) goes to the next. A
// permanent failure is final and never goes to another provider. What no provider took makes
// the job retried.
func (w *Worker) sendChannel(ctx context.Context, j *job, ch channels.Channel, msgs []channels.Message, out *sendOutcome) error {
	if len(msgs) == 0 {
		return nil
	}
	route := w.registry.Route(ch)
	if len(route) == 0 {
		now := w.nowFunc()
		for _, m := range msgs {
			out.updates = append(out.updates, reports.Update{ID: m.ID, Status: channels.Failed, Reason: "no provider configured for " + string(ch), At: now})
			out.final[m.ID] = channels.Failed
		}
		return nil
	}
	pending := msgs
	var lastErr error
	for i, p := range route {
		if len(pending) == 0 {
			return nil
		}
		if err := w.breakers.Allow(p.Name()); err != nil {
			lastErr = err
			continue
		}
		if i > 0 {
			failovers.WithLabelValues(string(ch), route[i-1].Name(), p.Name()).Add(float64(len(pending)))
		}
		left, err := w.sendThrough(ctx, j, p, ch, pending, out)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			lastErr = out.lastFailure
		}
		pending = left
	}
	if len(pending) > 0 {
		if lastErr == nil {
			lastErr = errors.New("no provider took the messages")
		}
		out.retry = fmt.Errorf("%d %s messages not taken by any provider: %w", len(pending), ch, lastErr)
	}
	return nil
}

// sendThrough sends msgs through p in the batches its vendor allows and records every
// answer; it returns the messages p did not take (transport errors, retryable answers, an
// open circuit), for the next provider. Each batch is marked in flight before the vendor call.
func (w *Worker) sendThrough(ctx context.Context, j *job, p channels.Provider, ch channels.Channel, msgs []channels.Message, out *sendOutcome) ([]channels.Message, error) {
	size := len(msgs)
	if bl, ok := p.(channels.BatchLimiter); ok && bl.MaxBatch() > 0 {
		size = bl.MaxBatch()
	}
	var left []channels.Message
	for start := 0; start < len(msgs); start += size {
		batch := msgs[start:min(start+size, len(msgs))]
		if err := w.breakers.Allow(p.Name()); err != nil {
			out.lastFailure = err
			left = append(left, msgs[start:]...)
			break
		}
		if err := w.throttle(ctx, p.Name(), len(batch)); err != nil {
			return nil, err
		}
		ids := make([]string, len(batch))
		for i, m := range batch {
			ids[i] = m.ID
		}
		out.steps.done("throttle")
		marks, err := w.writer.MarkSending(ctx, p.Name(), ids, w.nowFunc())
		out.marks = append(out.marks, marks...)
		if err != nil {
			return nil, err
		}
		out.steps.done("mark")
		started := time.Now()
		results, err := p.Send(ctx, batch)
		latency := time.Since(started)
		out.steps.done("vendor")
		if ctx.Err() != nil {
			// Stopping mid-call: the vendor may have the batch. Its marks stay, so whoever
			// takes the job over does not send it blindly again.
			return nil, ctx.Err()
		}
		w.breakers.Record(p.Name(), err == nil && !anyRetryable(results))
		w.recordCall(ctx, p.Name(), batch, results, err, latency)
		if err != nil {
			w.logger.WarnContext(ctx, "provider batch failed", "provider", p.Name(), "channel", ch, "messages", len(batch), "error", err)
			out.lastFailure = fmt.Errorf("%s: %w", p.Name(), err)
			left = append(left, batch...)
			continue
		}
		at := w.nowFunc()
		var byVendorID map[string]string
		if vendorKeyed(p) {
			byVendorID = make(map[string]string, len(batch))
		}
		for i, m := range batch {
			if i >= len(results) {
				left = append(left, m) // the provider broke its contract; another may take it
				continue
			}
			res := results[i]
			if res.Status == channels.Failed && res.Retryable {
				out.lastFailure = fmt.Errorf("retryable failure from %s: %s", p.Name(), res.Reason)
				left = append(left, m)
				continue
			}
			units := max(res.CostUnits, 0)
			if res.Status != channels.Failed && units == 0 {
				units = 1
			}
			u := reports.Update{ID: m.ID, Status: res.Status, Provider: p.Name(), VendorID: res.VendorID, Reason: res.Reason, At: at}
			if res.Status != channels.Failed {
				u.CostUnits, u.Cost = units, out.prices.Cost(ch, p.Name(), units)
				out.history = append(out.history, reports.HistoryEntry{AppID: j.AppID, UserID: out.itemOf[m.ID].UserID, MessageID: m.ID, TaskID: j.TaskID,
					Channel: ch, Address: m.Address, Title: m.Title, Body: m.Body, Status: res.Status, CreatedAt: at})
			}
			out.updates = append(out.updates, u)
			out.final[m.ID] = res.Status
			if byVendorID != nil && res.VendorID != "" && res.Status != channels.Failed {
				byVendorID[res.VendorID] = m.ID
			}
		}
		w.rememberVendorIDs(ctx, p, byVendorID)
	}
	return left, nil
}

// recordCall adds one vendor call to the provider health figures the channels query reads,
// with the circuit state it left: the messages the vendor did not take (all of them when the
// call failed) count as failures. A Redis failure is logged by the recorder and otherwise
// ignored: the figures never hold up sending.
func (w *Worker) recordCall(ctx context.Context, provider string, batch []channels.Message, results []channels.Result, err error, latency time.Duration) {
	if w.health == nil {
		return
	}
	c := Call{Provider: provider, Messages: len(batch), Latency: latency, Circuit: w.breakers.State(provider)}
	if err != nil {
		c.Failed, c.Failures = true, len(batch)
	} else {
		c.Failures = max(len(batch)-len(results), 0)
		for _, r := range results[:min(len(results), len(batch))] {
			if r.Status == channels.Failed {
				c.Failures++
			}
		}
	}
	_ = w.health.Record(ctx, c)
}
