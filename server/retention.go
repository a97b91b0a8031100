package server

import (
	"context"
	"time"

	"github.com/herald-msg/herald/reports"
)

// historyPurger is a history store that can delete old entries.
type historyPurger interface {
	PurgeBefore(ctx context.Context, cutoff time.Time, batch int) (int64, error)
}

// maintainHistory deletes the history entries older than HERALD_HISTORY_RETENTION_DAYS once
// at start and then once a day, in bounded batches. Every worker runs it; two purges at once
// only share the work.
func (h *Herald) maintainHistory(ctx context.Context) error {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		h.purgeHistory(ctx, time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// purgeHistory deletes the history entries older than the retention before now.
func (h *Herald) purgeHistory(ctx context.Context, now time.Time) {
	p, ok := h.History.(historyPurger)
	if h.cfg.HistoryRetentionDays <= 0 || !ok {
		return
	}
	cutoff := now.In(h.loc).AddDate(0, 0, -h.cfg.HistoryRetentionDays)
	start := time.Now()
	n, err := p.PurgeBefore(ctx, cutoff, reports.HistoryPurgeBatch)
	if err != nil && ctx.Err() == nil {
		h.logger.Error("error purging history past retention", "error", err, "deleted", n)
		return
	}
	if n > 0 {
		h.logger.Info("purged history past retention", "deleted", n, "retention_days", h.cfg.HistoryRetentionDays,
			"before", cutoff.Format(time.RFC3339), "took", time.Since(start).String())
	}
}
