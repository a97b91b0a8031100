package reports

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/herald-msg/herald/channels"
)

// ErrBadBatchRef reports a batch reference that names no batch of messages.
var ErrBadBatchRef = errors.New("invalid batch reference")

// ResolveBatch finds the messages of a batch reference (channels.BatchRef) sent to the given
// addresses: the rows between the reference's bounds, whose ids are a primary-key range of
// one day table, with one of the addresses. Addresses match with or without a leading "+",
// since vendors report numbers as sent. The answer maps each address as given to its message
// id; an address without a message is left out.
//
// A vendor reports a batch's messages in several callbacks, so the writer reads the whole
// range once and keeps its addresses (batchRefCache); a later callback is answered from them
// when every address it names is there, and reads the range again otherwise (rows recorded
// since, or an address of no message). A row's id and address never change.
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
	if ids := w.batches.get(ref); ids != nil {
		if out, all := matchBatch(ids, addresses); all {
			return out, nil
		}
	}
	read := func() (map[string]string, error) { return w.readBatch(ctx, k, first, last) }
	// A batch's callbacks come together: while one of them reads the range, the others
	// wait for its answer. One that still misses an address then reads for itself, since
	// the range may have been read before that address's row was recorded.
	ids, err := w.batches.shared(ctx, ref, read)
	if err != nil {
		return nil, err
	}
	out, all := matchBatch(ids, addresses)
	if all {
		return out, nil
	}
	if ids, err = read(); err != nil {
		return nil, err
	}
	w.batches.put(ref, ids)
	out, _ = matchBatch(ids, addresses)
	return out, nil
}

// readBatch reads the ids of a batch's range by address (stored address → id; ids ascend,
// so the last message to an address wins); a day table that is gone has none. A batch is
// one channel's: the range also holds the task's messages on its other channels between the
// bounds (a send to SMS and VOICE numbers its users' SMS and VOICE messages in turn, to the
// same phone number), and those are not the batch's — the channel is the ids' last byte.
func (w *Writer) readBatch(ctx context.Context, k tableKey, first, last string) (map[string]string, error) {
	rows, err := w.db.Prepared.Query(ctx, w.db.Stats[k.shard], nil, batchRangeSQL(w.db.Dialect, k.day), first, last)
	if w.db.Dialect.MissingTable(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error resolving a batch reference: %w", err)
	}
	defer rows.Close()
	ids := map[string]string{}
	for rows.Next() {
		var id, addr string
		if err := rows.Scan(&id, &addr); err != nil {
			return nil, err
		}
		if id == "" || id[len(id)-1] != first[len(first)-1] {
			continue
		}
		ids[addr] = id
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return ids, nil
}

// matchBatch maps each of addresses, with or without a leading "+", to its message in ids
// (stored address → id), and reports whether every address has one.
func matchBatch(ids map[string]string, addresses []string) (map[string]string, bool) {
	out := make(map[string]string, len(addresses))
	all := true
	for _, a := range addresses {
		bare := strings.TrimPrefix(a, "+")
		id, ok := ids[bare]
		if plus, ok2 := ids["+"+bare]; ok2 && (!ok || plus > id) {
			id, ok = plus, true
		}
		if ok {
			out[a] = id
		} else {
			all = false
		}
	}
	return out, all
}

// batchRefCache keeps the addresses of the batches resolved last, for the rest of their
// receipts: at most batchRefEntries batches, each for batchRefTTL.
type batchRefCache struct {
	mu      sync.Mutex
	entries map[string]batchRefEntry
	reading map[string]*batchRead // reads in progress, by batch reference
}

// batchRead is a read of a batch's range that other callers of the batch wait for.
type batchRead struct {
	done    chan struct{}
	ids     map[string]string
	err     error
	waiting int // callers waiting for it, besides the one reading
}

// shared returns the result of read for ref, or of the read of ref already in progress:
// concurrent callers of one batch make one read. The result is kept in the cache.
func (c *batchRefCache) shared(ctx context.Context, ref string, read func() (map[string]string, error)) (map[string]string, error) {
	c.mu.Lock()
	if r, ok := c.reading[ref]; ok {
		r.waiting++
		c.mu.Unlock()
		select {
		case <-r.done:
			return r.ids, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.reading == nil {
		c.reading = map[string]*batchRead{}
	}
	r := &batchRead{done: make(chan struct{})}
	c.reading[ref] = r
	c.mu.Unlock()

	r.ids, r.err = read()
	if r.err == nil {
		c.put(ref, r.ids)
	}
	c.mu.Lock()
	delete(c.reading, ref)
	c.mu.Unlock()
	close(r.done)
	return r.ids, r.err
}

type batchRefEntry struct {
	ids map[string]string
	at  time.Time
}

const (
	batchRefEntries = 64
	batchRefTTL     = time.Minute
)

func (c *batchRefCache) get(ref string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[ref]
	if !ok || time.Since(e.at) > batchRefTTL {
		return nil
	}
	return e.ids
}

// put keeps ids for ref; when the cache is full it first drops the expired entries and, if
// none was, the oldest one.
func (c *batchRefCache) put(ref string, ids map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]batchRefEntry{}
	}
	if _, ok := c.entries[ref]; !ok && len(c.entries) >= batchRefEntries {
		var oldest string
		var oldestAt time.Time
		for r, e := range c.entries {
			if time.Since(e.at) > batchRefTTL {
				delete(c.entries, r)
				continue
			}
			if oldest == "" || e.at.Before(oldestAt) {
				oldest, oldestAt = r, e.at
			}
		}
		if len(c.entries) >= batchRefEntries {
			delete(c.entries, oldest)
		}
	}
	c.entries[ref] = batchRefEntry{ids: ids, at: time.Now()}
}
