package reports

import (
	"context"
	"fmt"
	"time"
)

// MarkSending records that the messages ids are being handed to provider, with one
// statement per statistics shard. A mark outlives a worker that dies before the vendor's
// answer is recorded; Interrupted finds it.
func (w *Writer) MarkSending(ctx context.Context, provider string, ids []string, at time.Time) error {
	groups, err := w.byShard(ids)
	if err != nil {
		return err
	}
	for shard, part := range groups {
		args := make([]any, 0, 3*len(part))
		for _, id := range part {
			args = append(args, id, provider, at.UTC())
		}
		if _, err := w.db.Stats[shard].ExecContext(ctx, markSendingSQL(w.db.Dialect, len(part)), args...); err != nil {
			return fmt.Errorf("error marking messages in flight: %w", err)
		}
	}
	return nil
}

// Interrupted returns, of ids, those still marked in flight, with the provider each was
// handed to: messages whose vendor call a stopped worker never saw answered.
func (w *Writer) Interrupted(ctx context.Context, ids []string) (map[string]string, error) {
	groups, err := w.byShard(ids)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for shard, part := range groups {
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		rows, err := w.db.Stats[shard].QueryContext(ctx, interruptedSQL(w.db.Dialect, len(part)), args...)
		if err != nil {
			return nil, fmt.Errorf("error reading messages in flight: %w", err)
		}
		for rows.Next() {
			var id, provider string
			if err := rows.Scan(&id, &provider); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = provider
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ClearSending removes the in-flight marks of ids.
func (w *Writer) ClearSending(ctx context.Context, ids []string) error {
	groups, err := w.byShard(ids)
	if err != nil {
		return err
	}
	for shard, part := range groups {
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		if _, err := w.db.Stats[shard].ExecContext(ctx, clearSendingSQL(w.db.Dialect, len(part)), args...); err != nil {
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
