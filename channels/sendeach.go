package channels

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// SendOne sends one message; unreached reports that the request never reached the vendor
// (a transport failure before any answer).
type SendOne func(ctx context.Context, m Message) (res Result, unreached bool)

// SendEach sends msgs one request each, at most concurrency at a time, for vendors without
// a batch API. A message not started before ctx ends gets a retryable result. It returns
// an error naming vendor only when no request reached the vendor — the contract of
// Provider.Send: the whole batch may then be retried or passed to another provider.
func SendEach(ctx context.Context, vendor string, msgs []Message, concurrency int, send SendOne) ([]Result, error) {
	results := make([]Result, len(msgs))
	unreached := make([]bool, len(msgs))
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	for i := range msgs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			for j := i; j < len(msgs); j++ {
				results[j] = Result{MessageID: msgs[j].ID, Status: Failed, Reason: "not sent: " + ctx.Err().Error(), Retryable: true}
				unreached[j] = true
			}
			wg.Wait()
			return Unreached(vendor, results, unreached)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], unreached[i] = send(ctx, msgs[i])
		}()
	}
	wg.Wait()
	return Unreached(vendor, results, unreached)
}

// Unreached returns results, or an error when every message's request failed to reach
// the vendor.
func Unreached(vendor string, results []Result, unreached []bool) ([]Result, error) {
	if len(results) == 0 {
		return results, nil
	}
	for _, u := range unreached {
		if !u {
			return results, nil
		}
	}
	return nil, fmt.Errorf("%s: no request reached the vendor: %s", vendor, results[0].Reason)
}

// Permanent is a failed result that no later attempt or other provider can change.
func Permanent(id, reason string) Result {
	return Result{MessageID: id, Status: Failed, Reason: reason}
}

// Retryable is a failed result that may pass later or through another provider.
func Retryable(id, reason string) Result {
	return Result{MessageID: id, Status: Failed, Reason: reason, Retryable: true}
}

// ExtraString returns the trimmed string field key of a variant's extra fields, or "".
func ExtraString(extra map[string]any, key string) string {
	s, _ := extra[key].(string)
	return strings.TrimSpace(s)
}
