package reports

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/herald-msg/herald/channels"
)

// ErrBadBatchRef reports a batch reference that names no batch of messages.
var ErrBadBatchRef = errors.New("invalid batch reference")

// ResolveBatch finds the messages of a batch reference (channels.BatchRef) sent to the given
// addresses: the rows between the reference's bounds, whose ids are a primary-key range of
// one day table, with one of the addresses. Addresses match with or without a leading "+",
// since vendors report numbers as sent. The answer maps each address as given to its message
// id; an address without a message is left out.
func (w *Writer) ResolveBatch(ctx context.Context, ref string, addresses []string) (map[string]string, error) {
	first, last, ok := channels.ParseBatchRef(ref)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrBadBatchRef, ref)
	}
	k, ok := w.tableOf(first)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrBadBatchRef, ref)
	}
	if kl, ok := w.tableOf(last); !ok || kl != k {
		return nil, fmt.Errorf("%w %q: it spans tables", ErrBadBatchRef, ref)
	}
	if len(addresses) == 0 {
		return map[string]string{}, nil
	}
	given := map[string]string{} // stored form → address as given
	args := []any{first, last}
	for _, a := range addresses {
		bare := strings.TrimPrefix(a, "+")
		for _, form := range []string{bare, "+" + bare} {
			if _, dup := given[form]; !dup {
				given[form] = a
				args = append(args, form)
			}
		}
	}
	rows, err := w.db.Stats[k.shard].QueryContext(ctx, batchRefSQL(w.db.Dialect, k.day, len(args)-2), args...)
	if w.db.Dialect.MissingTable(err) { // the day's table is gone
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error resolving a batch reference: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, addr string
		if err := rows.Scan(&id, &addr); err != nil {
			return nil, err
		}
		if a, ok := given[addr]; ok {
			out[a] = id
		}
	}
	return out, rows.Err()
}
