package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Prepared runs the statements Herald repeats at every batch — the multi-row inserts of
// delivery and history rows, the receipts' updates, the IN lists of a shard's users — as
// server-side prepared statements on MariaDB/MySQL: the server parses a statement's text once
// per connection, not at every execution, and the values travel in the binary protocol instead
// of being written into the text. With 16,000 values in a 1,000-row insert, parsing is a large
// part of what the server spends on it.
//
// Every statement has a fixed shape, so a batch of a varying size is padded to one of a few
// sizes (PadRows): an IN list repeats its last value, an INSERT IGNORE its last row (the copy
// is a duplicate key and inserts nothing), a derived table of updates gets rows that match
// nothing. Statements are kept per pool and query text, at most preparedMax of them; one
// unused for preparedIdle is closed (yesterday's day table). When a statement cannot be
// prepared (the server's max_prepared_stmt_count is reached, or the dialect is Oracle, whose
// driver keeps its own statement cache) the text runs as an ordinary query.
type Prepared struct {
	off    bool
	mu     sync.Mutex
	closed bool
	stmts  map[preparedKey]*preparedStmt
}

type preparedKey struct {
	pool  *sql.DB
	query string
}

type preparedStmt struct {
	stmt   *sql.Stmt // nil after a failed prepare, until retryAt
	used   time.Time
	retry  time.Time
	failed bool
}

const (
	preparedMax   = 256
	preparedIdle  = 10 * time.Minute
	preparedRetry = time.Minute
	preparedWait  = 30 * time.Second // the longest a background prepare waits for a connection
)

// NewPrepared returns a statement cache; off makes every statement run as an ordinary query.
func NewPrepared(off bool) *Prepared {
	return &Prepared{off: off, stmts: map[preparedKey]*preparedStmt{}}
}

// Exec runs query with args on pool, inside tx when tx is not nil (tx must belong to pool).
func (p *Prepared) Exec(ctx context.Context, pool *sql.DB, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, pool, query, tx != nil); st != nil {
		if tx != nil {
			st = tx.StmtContext(ctx, st) // closed with the transaction
		}
		res, err := st.ExecContext(ctx, args...)
		if !tooManyPrepared(err) {
			return res, err
		}
	}
	if tx != nil {
		return tx.ExecContext(ctx, query, args...)
	}
	return pool.ExecContext(ctx, query, args...)
}

// Query is Exec for a statement that returns rows.
func (p *Prepared) Query(ctx context.Context, pool *sql.DB, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, pool, query, tx != nil); st != nil {
		if tx != nil {
			st = tx.StmtContext(ctx, st)
		}
		rows, err := st.QueryContext(ctx, args...)
		if !tooManyPrepared(err) {
			return rows, err
		}
	}
	if tx != nil {
		return tx.QueryContext(ctx, query, args...)
	}
	return pool.QueryContext(ctx, query, args...)
}

// tooManyPrepared reports the server's refusal to prepare the statement on another
// connection (max_prepared_stmt_count reached): it then runs unprepared, in the same
// transaction, which the refusal left as it was.
func tooManyPrepared(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1461
}

// stmt returns the prepared statement of query on pool, preparing it when it is new, or nil
// when the query is to run unprepared. Preparing takes a connection of the pool; a caller in
// a transaction already holds one, so for it a new statement is prepared in the background
// (with as many transactions as connections open, waiting for another would never end) and
// this one execution runs unprepared.
func (p *Prepared) stmt(ctx context.Context, pool *sql.DB, query string, inTx bool) *sql.Stmt {
	if p == nil || p.off {
		return nil
	}
	k := preparedKey{pool, query}
	now := time.Now()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	if e, ok := p.stmts[k]; ok {
		e.used = now
		if !e.failed || now.Before(e.retry) {
			p.mu.Unlock()
			return e.stmt // nil while a background prepare is pending
		}
		delete(p.stmts, k) // a failed prepare's retry is due
	}
	if len(p.stmts) >= preparedMax && !p.sweepLocked(now) {
		p.mu.Unlock()
		return nil
	}
	if inTx {
		p.stmts[k] = &preparedStmt{used: now} // pending
		p.mu.Unlock()
		go func() {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), preparedWait)
			defer cancel()
			p.store(pctx, k, pool, query, true)
		}()
		return nil
	}
	p.mu.Unlock()
	return p.store(ctx, k, pool, query, false)
}

// store prepares query on pool and keeps it under k; pending says k holds a placeholder that
// this prepare replaces (or removes, when it fails).
func (p *Prepared) store(ctx context.Context, k preparedKey, pool *sql.DB, query string, pending bool) *sql.Stmt {
	st, err := pool.PrepareContext(ctx, query)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		if st != nil {
			_ = st.Close()
		}
		return nil
	}
	if e, ok := p.stmts[k]; ok && !e.failed && e.stmt != nil { // prepared meanwhile by another goroutine
		if st != nil {
			_ = st.Close()
		}
		return e.stmt
	}
	if err != nil {
		// The text runs unprepared and reports its own error (a day table not created yet,
		// say); only the server's limit on statements is remembered for a while.
		if tooManyPrepared(err) {
			p.stmts[k] = &preparedStmt{used: now, retry: now.Add(preparedRetry), failed: true}
		} else if pending {
			delete(p.stmts, k)
		}
		return nil
	}
	p.stmts[k] = &preparedStmt{stmt: st, used: now}
	return st
}

// sweepLocked closes the statements unused for preparedIdle and reports whether there is
// room for another. Closing a statement a transaction still uses is safe: database/sql
// closes it on that connection once the transaction has returned it.
func (p *Prepared) sweepLocked(now time.Time) bool {
	for k, e := range p.stmts {
		if now.Sub(e.used) > preparedIdle {
			if e.stmt != nil {
				_ = e.stmt.Close()
			}
			delete(p.stmts, k)
		}
	}
	return len(p.stmts) < preparedMax
}

// Close closes every statement.
func (p *Prepared) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for k, e := range p.stmts {
		if e.stmt != nil {
			_ = e.stmt.Close()
		}
		delete(p.stmts, k)
	}
}

// PadRows is the size a batch of n rows or values is padded to for a prepared statement: n
// itself up to 8, then the next power of two up to 32, then the next multiple of 50 (the
// batches of 500 and 1,000 Herald writes and reads are exact). A statement kind thus has at
// most 25 shapes up to 1,000 rows, and a batch carries at most 49 padding rows.
func PadRows(n int) int {
	switch {
	case n <= 8:
		return n
	case n <= 16:
		return 16
	case n <= 32:
		return 32
	default:
		return (n + 49) / 50 * 50
	}
}

// Rows is the number of rows a batch of n is written or read with: PadRows(n) when statements
// are prepared, else n.
func (p *Prepared) Rows(n int) int {
	if p == nil || p.off {
		return n
	}
	return PadRows(n)
}

// In returns the values of an IN list, the last repeated up to Rows(len(vals)) values (a
// value listed twice changes nothing). vals must not be empty.
func (p *Prepared) In(vals []any) []any {
	for n := p.Rows(len(vals)); len(vals) < n; {
		vals = append(vals, vals[len(vals)-1])
	}
	return vals
}
