package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

func TestPadRows(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]int{1: 1, 2: 2, 8: 8, 9: 16, 16: 16, 17: 32, 32: 32, 33: 50, 50: 50, 51: 100, 499: 500, 500: 500, 501: 550, 1000: 1000, 1001: 1050} {
		require.Equal(t, want, store.PadRows(n), "PadRows(%d)", n)
	}
}

// preparedDB is a test database whose core pool has one connection (one session, whose
// counters a test reads) and a table prepared_t (id, v).
func preparedDB(t *testing.T) (*store.DB, *sql.DB) {
	t.Helper()
	db := storetest.New(t)
	pool := db.Core
	pool.SetMaxOpenConns(1)
	_, err := pool.ExecContext(t.Context(), "CREATE TABLE prepared_t (id INT PRIMARY KEY, v VARCHAR(16) NOT NULL)")
	require.NoError(t, err)
	return db, pool
}

// counter reads a session status counter of the pool's only connection.
func counter(t *testing.T, pool *sql.DB, name string) int {
	t.Helper()
	var k string
	var v int
	require.NoError(t, pool.QueryRowContext(t.Context(), "SHOW SESSION STATUS LIKE '"+name+"'").Scan(&k, &v))
	return v
}

// insertRows is an INSERT IGNORE of n rows (id, v) with its arguments for the ids from first,
// padded as Prepared pads them.
func insertRows(p *store.Prepared, first, n int) (string, []any) {
	var args []any
	for i := range n {
		args = append(args, first+i, fmt.Sprintf("v%d", first+i))
	}
	rows := p.Rows(n)
	for i := n; i < rows; i++ {
		args = append(args, args[len(args)-2:]...)
	}
	return "INSERT IGNORE INTO prepared_t (id, v) VALUES " + placeholderRows(rows), args
}

func placeholderRows(n int) string {
	q := ""
	for i := range n {
		if i > 0 {
			q += ","
		}
		q += "(?,?)"
	}
	return q
}

func TestPreparedStatementsArePreparedOncePerConnection(t *testing.T) {
	t.Parallel()
	_, pool := preparedDB(t)
	ctx := t.Context()
	p := store.NewPrepared(false)
	t.Cleanup(p.Close)

	prepares, executes := counter(t, pool, "Com_stmt_prepare"), counter(t, pool, "Com_stmt_execute")
	q, args := insertRows(p, 1, 9) // padded to 16 rows: 7 copies of the 9th
	require.Len(t, args, 32)
	res, err := p.Exec(ctx, pool, nil, q, args...)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 9, n, "the padding rows are duplicates and insert nothing")

	q, args = insertRows(p, 10, 12) // another batch of the same shape (16 rows)
	_, err = p.Exec(ctx, pool, nil, q, args...)
	require.NoError(t, err)
	require.Equal(t, prepares+1, counter(t, pool, "Com_stmt_prepare"), "prepared once")
	require.Equal(t, executes+2, counter(t, pool, "Com_stmt_execute"), "executed twice")

	// In a transaction: the statement runs in it and is undone with it.
	tx, err := pool.BeginTx(ctx, nil)
	require.NoError(t, err)
	q, args = insertRows(p, 100, 16)
	_, err = p.Exec(ctx, pool, tx, q, args...)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback())
	require.Equal(t, prepares+1, counter(t, pool, "Com_stmt_prepare"), "the transaction used the connection's statement")

	// An IN list repeats its last value; every row is returned once.
	var ids []any
	for i := 1; i <= 21; i++ {
		ids = append(ids, i)
	}
	in := p.In(ids)
	require.Len(t, in, 32)
	require.Equal(t, 21, in[31])
	rows, err := p.Query(ctx, pool, nil, "SELECT id FROM prepared_t WHERE id IN ("+store.Placeholders(len(in))+") ORDER BY id", in...)
	require.NoError(t, err)
	var got []int
	for rows.Next() {
		var id int
		require.NoError(t, rows.Scan(&id))
		got = append(got, id)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Len(t, got, 21)
	require.Equal(t, 21, got[20])
}

func TestUnpreparedStatementsRunAsQueries(t *testing.T) {
	t.Parallel()
	db, pool := preparedDB(t)
	ctx := context.Background()
	p := store.NewPrepared(true)
	require.Equal(t, 9, p.Rows(9), "no padding")
	require.Len(t, p.In([]any{1, 2, 3, 4, 5, 6, 7, 8, 9}), 9)

	executes := counter(t, pool, "Com_stmt_execute")
	q, args := insertRows(p, 1, 9)
	res, err := p.Exec(ctx, pool, nil, q, args...)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 9, n)
	require.Equal(t, executes, counter(t, pool, "Com_stmt_execute"), "an ordinary query")

	// A statement whose table does not exist reports the server's error, prepared or not.
	_, err = store.NewPrepared(false).Exec(ctx, pool, nil, "INSERT INTO prepared_missing (id) VALUES (?)", 1)
	require.True(t, db.Dialect.MissingTable(err), "%v", err)
}

// A statement first met inside a transaction that holds the pool's only connection does not
// wait for another: it runs unprepared, and is prepared once a connection is free.
func TestPreparedInATransactionNeverWaitsForAConnection(t *testing.T) {
	t.Parallel()
	_, pool := preparedDB(t)
	ctx := t.Context()
	p := store.NewPrepared(false)
	t.Cleanup(p.Close)
	prepares := counter(t, pool, "Com_stmt_prepare")

	tx, err := pool.BeginTx(ctx, nil)
	require.NoError(t, err)
	q, args := insertRows(p, 1, 3)
	res, err := p.Exec(ctx, pool, tx, q, args...)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	require.NoError(t, tx.Commit())

	// The background prepare takes the connection once the transaction has returned it.
	require.Eventually(t, func() bool {
		var k string
		var v int
		err := pool.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&k, &v)
		return err == nil && v > prepares
	}, 10*time.Second, 10*time.Millisecond)
	q, args = insertRows(p, 10, 3)
	_, err = p.Exec(ctx, pool, nil, q, args...)
	require.NoError(t, err)
	var rows int
	require.NoError(t, pool.QueryRowContext(ctx, "SELECT COUNT(*) FROM prepared_t").Scan(&rows))
	require.Equal(t, 6, rows)
}
