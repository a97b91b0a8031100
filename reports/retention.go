package reports

import (
	"context"
	"fmt"
	"time"
)

// MaxHistoryPage is the most entries one page of a user's history may hold.
const MaxHistoryPage = 200

// DefaultHistoryRetentionDays is how long users' history is kept unless configured otherwise
// (HERALD_HISTORY_RETENTION_DAYS).
const DefaultHistoryRetentionDays = 180

// HistoryPurgeBatch is the most history rows one DELETE removes: a purge is many short
// statements, each holding its locks briefly, never one long one.
const HistoryPurgeBatch = 5000

// PurgeBefore deletes, on every history shard, the history entries created before cutoff,
// oldest first, batch rows per statement (HistoryPurgeBatch when batch ≤ 0), and returns how
// many it deleted. It stops between batches when ctx is done; a purge that stopped is taken
// up by the next one.
func (h *SQLHistory) PurgeBefore(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = HistoryPurgeBatch
	}
	var total int64
	q := purgeHistorySQL(h.db.Dialect)
	for i, db := range h.db.History {
		for {
			if err := ctx.Err(); err != nil {
				return total, err
			}
			res, err := db.ExecContext(ctx, q, cutoff.UTC(), batch)
			if err != nil {
				return total, fmt.Errorf("error purging history on shard %d: %w", i, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, err
			}
			total += n
			if n < int64(batch) {
				break
			}
		}
	}
	return total, nil
}
