package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Oracle migrations live in migrations/oracle/<core|stats|history>, one file per version of
// the MySQL migration of the same number, in goose's format: the "-- +goose Up" section runs;
// statements end with a semicolon at the end of a line, and a PL/SQL block sits between
// "-- +goose StatementBegin" and "-- +goose StatementEnd". goose itself has no Oracle dialect,
// so Herald applies them and records the versions in herald_schema_version.

// oracleVersionTable and the statements around it are the bookkeeping of migrateOracle.
const (
	oracleVersionTable = `DECLARE n INTEGER; BEGIN SELECT COUNT(*) INTO n FROM user_tables WHERE table_name = 'HERALD_SCHEMA_VERSION'; ` +
		`IF n = 0 THEN EXECUTE IMMEDIATE 'CREATE TABLE herald_schema_version (version NUMBER(19) NOT NULL PRIMARY KEY, applied_at TIMESTAMP(3) DEFAULT SYSTIMESTAMP NOT NULL)'; END IF; END;`
	oracleVersions     = "SELECT version FROM herald_schema_version"
	oracleVersionStamp = "INSERT INTO herald_schema_version (version) VALUES (:1)"
)

// migrateOracle applies the Oracle migrations of dir (migrations/core, …) that db lacks.
func migrateOracle(ctx context.Context, db *sql.DB, dir string) error {
	files, err := OracleMigrations(dir)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, oracleVersionTable); err != nil {
		return fmt.Errorf("error creating herald_schema_version: %w", err)
	}
	rows, err := db.QueryContext(ctx, oracleVersions)
	if err != nil {
		return err
	}
	done := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		done[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range files {
		if done[m.Version] {
			continue
		}
		// Oracle commits every DDL statement: a migration that fails halfway is finished by
		// hand, as with MySQL.
		for _, stmt := range m.Statements {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		if _, err := db.ExecContext(ctx, oracleVersionStamp, m.Version); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// OracleMigration is one parsed Oracle migration file.
type OracleMigration struct {
	Name       string
	Version    int64
	Statements []string
}

// OracleMigrations parses the Oracle migrations of dir ("migrations/core", "migrations/stats"
// or "migrations/history"), in version order.
func OracleMigrations(dir string) ([]OracleMigration, error) {
	odir := path.Join("migrations/oracle", path.Base(dir))
	entries, err := fs.ReadDir(migrations, odir)
	if err != nil {
		return nil, err
	}
	var out []OracleMigration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration %s: the name must start with its version", e.Name())
		}
		b, err := fs.ReadFile(migrations, path.Join(odir, e.Name()))
		if err != nil {
			return nil, err
		}
		stmts, err := OracleStatements(string(b))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		out = append(out, OracleMigration{Name: e.Name(), Version: v, Statements: stmts})
	}
	slices.SortFunc(out, func(a, b OracleMigration) int { return int(a.Version - b.Version) })
	return out, nil
}

// OracleStatements splits the Up section of a goose-format file into statements Oracle
// accepts: a plain statement loses its closing semicolon, a PL/SQL block keeps its own.
func OracleStatements(text string) ([]string, error) {
	var (
		out   []string
		buf   strings.Builder
		up    bool
		block bool
	)
	for line := range strings.Lines(text) {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "-- +goose Up"):
			up = true
			continue
		case strings.HasPrefix(trimmed, "-- +goose Down"):
			up = false
			continue
		case !up:
			continue
		case strings.HasPrefix(trimmed, "-- +goose StatementBegin"):
			block = true
			continue
		case strings.HasPrefix(trimmed, "-- +goose StatementEnd"):
			if !block {
				return nil, fmt.Errorf("StatementEnd without StatementBegin")
			}
			block = false
			out = append(out, strings.TrimSpace(buf.String()))
			buf.Reset()
			continue
		case !block && (trimmed == "" || strings.HasPrefix(trimmed, "--")):
			continue
		}
		buf.WriteString(line)
		if !block && strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(buf.String()), ";"))
			buf.Reset()
		}
	}
	if block {
		return nil, fmt.Errorf("StatementBegin without StatementEnd")
	}
	if rest := strings.TrimSpace(buf.String()); rest != "" {
		return nil, fmt.Errorf("statement without a closing semicolon: %.60s", rest)
	}
	return out, nil
}
