package reports

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// Saving is a message that reached its FALLBACK chain's milestone before an SMS later in the
// chain was started, with what that SMS would have cost.
type Saving struct {
	ID   string
	Cost float64
}

// MarkSaved records savings: each message is marked once (a repeated mark, from a
// redelivered timer or job, changes nothing), and moves between rollup groups in the same
// transaction, as Apply moves them, so that statistics count it in saved and savedCost.
// Unknown ids are ignored.
func (w *Writer) MarkSaved(ctx context.Context, ss []Saving) error {
	groups := map[tableKey][]Saving{}
	for _, s := range ss {
		k, ok := w.tableOf(s.ID)
		if !ok {
			return fmt.Errorf("invalid message id %q", s.ID)
		}
		groups[k] = append(groups[k], s)
	}
	for k, part := range groups {
		part = slices.Clone(part)
		slices.SortFunc(part, func(a, b Saving) int { return strings.Compare(a.ID, b.ID) })
		part = slices.CompactFunc(part, func(a, b Saving) bool { return a.ID == b.ID })
		for start := 0; start < len(part); start += 500 {
			batch := part[start:min(start+500, len(part))]
			if err := w.inTx(ctx, k, func(tx *sql.Tx) error { return w.markSaved(ctx, tx, k, batch) }); err != nil {
				return fmt.Errorf("error marking fallback savings: %w", err)
			}
		}
	}
	return nil
}

// markSaved marks a batch of one day table (ids in order, each once) with one statement,
// reading the rows before (locked) and after it to move the rollup.
func (w *Writer) markSaved(ctx context.Context, tx *sql.Tx, k tableKey, ss []Saving) error {
	ids := make([]string, len(ss))
	args := make([]any, 0, len(ss)*3)
	for i, s := range ss {
		ids[i] = s.ID
		// The cost column's precision; the rollup reads the row back, so it adds what was stored.
		args = append(args, s.ID, float64(costUnits4(s.Cost))/1e4)
	}
	for _, id := range ids {
		args = append(args, id)
	}
	before, err := w.rowStates(ctx, tx, k, ids, true)
	if err != nil || len(before) == 0 {
		return err
	}
	if _, err := tx.ExecContext(ctx, markSavedSQL(w.db.Dialect, k.day, len(ss)), args...); err != nil {
		return err
	}
	after, err := w.rowStates(ctx, tx, k, ids, false)
	if err != nil {
		return err
	}
	deltas := rollupDeltas{}
	for id, b := range before {
		if a, ok := after[id]; ok && a != b {
			deltas.add(b, -1)
			deltas.add(a, 1)
		}
	}
	return applyRollup(ctx, tx, w.db.Dialect, deltas, w.loc)
}
