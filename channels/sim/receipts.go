package sim

import (
	"bytes"
	"cmp"
	"container/heap"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/channels/webhook"
)

const (
	// maxReceiptsPerPost caps the receipts batched into one callback request.
	maxReceiptsPerPost = 100
	// coalesceWindow lets receipts due within it of each other go out in one post.
	coalesceWindow = 10 * time.Millisecond
)

// pending is a receipt waiting for its time.
type pending struct {
	due    time.Time
	vendor string // name of the vendor that posts it
	body   any    // what the vendor's receipts function batches
}

type pendingHeap []pending

func (h pendingHeap) Len() int           { return len(h) }
func (h pendingHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h pendingHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)        { *h = append(*h, x.(pending)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// scheduler orders pending receipts by due time; one goroutine waits for the earliest.
type scheduler struct {
	mu   sync.Mutex
	q    pendingHeap
	wake chan struct{}
}

func newScheduler() *scheduler { return &scheduler{wake: make(chan struct{}, 1)} }

func (s *scheduler) add(p pending) {
	s.mu.Lock()
	heap.Push(&s.q, p)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// due pops the receipts due at now (or within coalesceWindow after it) and returns when the
// next one is due (zero if none).
func (s *scheduler) due(now time.Time) ([]pending, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []pending
	if s.q.Len() > 0 && !s.q[0].due.After(now) {
		for s.q.Len() > 0 && !s.q[0].due.After(now.Add(coalesceWindow)) {
			out = append(out, heap.Pop(&s.q).(pending))
		}
	}
	if s.q.Len() == 0 {
		return out, time.Time{}
	}
	return out, s.q[0].due
}

// schedule queues body, a receipt of the vendor called name, after delay.
func (s *Server) schedule(delay time.Duration, name string, body any) {
	s.sched.add(pending{due: time.Now().Add(delay), vendor: name, body: body})
}

// runReceipts posts receipts as they fall due, batching those due together, until Close.
func (s *Server) runReceipts() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		due, next := s.sched.due(time.Now())
		if len(due) > 0 {
			s.dispatch(due)
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-s.ctx.Done():
			return
		case <-s.sched.wake:
		case <-timer.C:
		}
	}
}

// dispatch groups due receipts per vendor into posts of at most maxReceiptsPerPost.
func (s *Server) dispatch(due []pending) {
	byVendor := map[string][]any{}
	var order []string
	for _, p := range due {
		if _, ok := byVendor[p.vendor]; !ok {
			order = append(order, p.vendor)
		}
		byVendor[p.vendor] = append(byVendor[p.vendor], p.body)
	}
	for _, name := range order {
		v, ok := vendorByName(name)
		if !ok || v.receipts == nil {
			continue
		}
		bodies := byVendor[name]
		for len(bodies) > 0 {
			n := min(len(bodies), cmp.Or(v.perPost, maxReceiptsPerPost))
			batch := bodies[:n]
			bodies = bodies[n:]
			s.post(v.channel, len(batch), func() (*http.Request, error) { return v.receipts(s, batch) })
		}
	}
}

func (s *Server) smsReportRequest(batch []any) (*http.Request, error) {
	reports := make([]sms.Report, len(batch))
	for i, b := range batch {
		reports[i] = b.(sms.Report)
	}
	now := time.Now().In(sms.ChinaTime).Format(sms.ReportTimeLayout)
	for i := range reports {
		reports[i].ReportTime = now
	}
	body, err := json.Marshal(reports)
	if err != nil {
		return nil, err
	}
	u := s.cfg.Callback + "/callbacks/sms?token=" + url.QueryEscape(s.cfg.CallbackToken)
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

func (s *Server) webhookReceiptRequest(batch []any) (*http.Request, error) {
	receipts := make([]webhook.CallbackReceipt, len(batch))
	for i, b := range batch {
		receipts[i] = b.(webhook.CallbackReceipt)
	}
	now := time.Now()
	for i := range receipts {
		receipts[i].At = now.UTC()
	}
	body, err := json.Marshal(webhook.Callback{Receipts: receipts})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.cfg.Callback+"/callbacks/webhook", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(s.cfg.WebhookSecret, ts, body))
	return req, nil
}

// post sends a receipt batch in the background, building the request anew for each attempt
// (fresh timestamps and signatures) and backing off between attempts while Herald is down.
func (s *Server) post(ch channels.Channel, n int, build func() (*http.Request, error)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case s.postSem <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		defer func() { <-s.postSem }()
		backoff := s.cfg.RetryBackoff
		var lastErr error
		for attempt := 1; attempt <= s.cfg.ReceiptAttempts; attempt++ {
			if lastErr = s.postOnce(build); lastErr == nil {
				s.store.add(receiptsPosted, ch, int64(n))
				return
			}
			if s.ctx.Err() != nil {
				return
			}
			s.logger.Warn("receipt post failed", "channel", ch, "receipts", n, "attempt", attempt, "error", lastErr)
			if attempt == s.cfg.ReceiptAttempts {
				break
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			backoff *= 2
		}
		s.store.add(receiptsDropped, ch, int64(n))
		s.logger.Error("receipts dropped", "channel", ch, "receipts", n, "error", lastErr)
	}()
}

func (s *Server) postOnce(build func() (*http.Request, error)) error {
	req, err := build()
	if err != nil {
		return err
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return fmt.Errorf("callback answered HTTP %d", resp.StatusCode)
	}
	return nil
}
