package reports

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Marks are the in-flight marks of one or more vendor calls: one row per call and statistics
// shard, holding the ids the call hands over.
type Marks []mark

type mark struct {
	shard int
	batch string
}

// MarkSending records that the messages ids are being handed to provider in one vendor call,
// with one row per statistics shard their tasks live on. A mark outlives a worker that dies
// before the vendor's answer is recorded; Interrupted finds it, ClearSending removes it.
func (w *Writer) MarkSending(ctx context.Context, provider string, ids []string, at time.Time) (Marks, error) {
	groups, err := w.byShard(ids)
	if err != nil {
		return nil, err
	}
	out := make(Marks, 0, len(groups))
	for shard, part := range groups {
		part = slices.Clone(part)
		slices.Sort(part)
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		m := mark{shard: shard, batch: hex.EncodeToString(b)}
		if _, err := w.db.Stats[shard].ExecContext(ctx, markSendingSQL(w.db.Dialect),
			m.batch, part[0], part[len(part)-1], provider, strings.Join(part, ","), at.UTC()); err != nil {
			return out, fmt.Errorf("error marking messages in flight: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Interrupted returns, of ids, those still marked in flight, with the provider each was
// handed to — messages whose vendor call a stopped worker never saw answered, the latest
// call's provider when there were several — and the marks that name them, which the caller
// clears once it has recorded what became of those messages. A call's ids all come from one
// job, so every id of a returned mark is one of ids when ids are a whole job's.
func (w *Writer) Interrupted(ctx context.Context, ids []string) (map[string]string, Marks, error) {
	groups, err := w.byShard(ids)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]string{}
	var marks Marks
	for shard, part := range groups {
		want := make(map[string]bool, len(part))
		for _, id := range part {
			want[id] = true
		}
		rows, err := w.db.Stats[shard].QueryContext(ctx, interruptedSQL(w.db.Dialect), slices.Max(part), slices.Min(part))
		if err != nil {
			return nil, nil, fmt.Errorf("error reading messages in flight: %w", err)
		}
		latest := map[string]time.Time{}
		for rows.Next() {
			var (
				batch, provider, list string
				at                    time.Time
			)
			if err := rows.Scan(&batch, &provider, &list, &at); err != nil {
				rows.Close()
				return nil, nil, err
			}
			named := false
			for _, id := range strings.Split(list, ",") {
				if !want[id] {
					continue
				}
				named = true
				if prev, ok := latest[id]; !ok || at.After(prev) {
					latest[id] = at
					out[id] = provider
				}
			}
			if named {
				marks = append(marks, mark{shard: shard, batch: batch})
			}
		}
		if err := rows.Close(); err != nil {
			return nil, nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	return out, marks, nil
}

// ClearSending removes marks.
func (w *Writer) ClearSending(ctx context.Context, ms Marks) error {
	byShard := map[int][]any{}
	for _, m := range ms {
		byShard[m.shard] = append(byShard[m.shard], m.batch)
	}
	for shard, batches := range byShard {
		if _, err := w.db.Stats[shard].ExecContext(ctx, clearSendingSQL(w.db.Dialect, len(batches)), batches...); err != nil {
			return fmt.Errorf("error clearing messages in flight: %w", err)
		}
	}
	return nil
}

// DropStaleInflight removes marks older than before, left by messages whose answer was
// recorded by a worker that stopped before clearing them: up to 10,000 per shard a call.
func (w *Writer) DropStaleInflight(ctx context.Context, before time.Time) error {
	q := dropStaleInflightSQL(w.db.Dialect)
	for _, db := range w.db.Stats {
		if _, err := db.ExecContext(ctx, q, before.UTC()); err != nil {
			return fmt.Errorf("error dropping stale in-flight marks: %w", err)
		}
	}
	return nil
}

// byShard groups message ids by the statistics shard of their task.
func (w *Writer) byShard(ids []string) (map[int][]string, error) {
	out := map[int][]string{}
	for _, id := range ids {
		k, ok := w.tableOf(id)
		if !ok {
			return nil, fmt.Errorf("invalid message id %q", id)
		}
		out[k.shard] = append(out[k.shard], id)
	}
	return out, nil
}
