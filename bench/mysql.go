package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// insertColumns are the columns of the INSERT baseline's rows, shaped like a delivery row.
const insertColumns = 7

// MySQL measures rows inserted per second by INSERTs of InsertRows rows each (one prepared
// statement, autocommit) into a temporary InnoDB table, in a database named cfg.Name that
// is created for the run and dropped after.
func MySQL(ctx context.Context, cfg BaselineConfig) (Measurement, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Measurement{}, err
	}
	dsn, err := mysql.ParseDSN(cfg.MySQLDSN)
	if err != nil {
		return Measurement{}, fmt.Errorf("invalid MySQL DSN: %w", err)
	}
	dsn.DBName = ""
	server, err := sql.Open("mysql", dsn.FormatDSN())
	if err != nil {
		return Measurement{}, fmt.Errorf("error opening MySQL: %w", err)
	}
	defer server.Close()
	// cfg.Name is validated as an identifier, so it may be quoted into the statements.
	if _, err := server.ExecContext(ctx, "CREATE DATABASE `"+cfg.Name+"`"); err != nil {
		return Measurement{}, fmt.Errorf("error creating database %s: %w", cfg.Name, err)
	}
	defer func() {
		cctx, cancel := cleanupContext()
		defer cancel()
		_, _ = server.ExecContext(cctx, "DROP DATABASE IF EXISTS `"+cfg.Name+"`")
	}()

	dsn.DBName = cfg.Name
	db, err := sql.Open("mysql", dsn.FormatDSN())
	if err != nil {
		return Measurement{}, fmt.Errorf("error opening database %s: %w", cfg.Name, err)
	}
	defer db.Close()
	// A temporary table lives on one connection.
	conn, err := db.Conn(ctx)
	if err != nil {
		return Measurement{}, fmt.Errorf("error connecting to database %s: %w", cfg.Name, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TEMPORARY TABLE deliveries (
		id BIGINT NOT NULL PRIMARY KEY,
		task_id BIGINT NOT NULL,
		user_id VARCHAR(64) NOT NULL,
		channel TINYINT NOT NULL,
		status TINYINT NOT NULL,
		address VARCHAR(128) NOT NULL,
		created_at DATETIME(3) NOT NULL
	) ENGINE=InnoDB`); err != nil {
		return Measurement{}, fmt.Errorf("error creating the temporary table: %w", err)
	}
	defer func() { _, _ = conn.ExecContext(context.Background(), "DROP TEMPORARY TABLE IF EXISTS deliveries") }()

	row := "(" + strings.TrimSuffix(strings.Repeat("?,", insertColumns), ",") + ")"
	query := "INSERT INTO deliveries (id, task_id, user_id, channel, status, address, created_at) VALUES " +
		strings.TrimSuffix(strings.Repeat(row+",", InsertRows), ",")
	stmt, err := conn.PrepareContext(ctx, query)
	if err != nil {
		return Measurement{}, fmt.Errorf("error preparing the INSERT: %w", err)
	}
	defer stmt.Close()

	args := make([]any, InsertRows*insertColumns)
	now := time.Now().UTC()
	var n int64
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	for n < cfg.Rows && time.Now().Before(deadline) {
		for i := range InsertRows {
			id := n + int64(i) + 1
			a := args[i*insertColumns:]
			a[0], a[1], a[2], a[3], a[4] = id, int64(7), fmt.Sprintf("user-%d", id), 2, 1
			a[5], a[6] = fmt.Sprintf("+86136%08d", id%100_000_000), now
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return Measurement{}, fmt.Errorf("error inserting rows: %w", err)
		}
		n += InsertRows
	}
	return measured(n, time.Since(start)), nil
}
