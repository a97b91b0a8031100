// Package store is Herald's SQL plumbing: connections to the core database and to every
// statistics and history shard (分库分表), database creation, embedded migrations and the
// day tables of delivery detail.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"
)

//go:embed migrations
var migrations embed.FS

// Config says where Herald's databases live.
type Config struct {
	// Driver is "mysql" (the default: MariaDB or MySQL) or "oracle", which needs a binary
	// built with -tags oracle.
	Driver string
	// DSN is the server DSN; database names come from Prefix. On Oracle the databases are
	// schemas of that name, which must exist.
	DSN    string
	Prefix string
	// StatsShards and HistoryShards are the shard counts; StatsDSNs[i] and HistoryDSNs[i]
	// move shard i to another server (empty: DSN).
	StatsShards   int
	HistoryShards int
	StatsDSNs     []string
	HistoryDSNs   []string
	// Unprepared runs every statement as an ordinary query (Prepared), for servers or
	// proxies in between that do not keep prepared statements.
	Unprepared bool
	Logger     *slog.Logger
}

// DB is the set of connections of one Herald process.
type DB struct {
	Core    *sql.DB
	Stats   []*sql.DB
	History []*sql.DB
	// Dialect writes the SQL that differs between servers.
	Dialect Dialect
	// Prepared runs the statements repeated at every batch as prepared statements.
	Prepared *Prepared
	cfg      Config
	names    map[*sql.DB]string
}

// CoreName is the core database's name.
func (c Config) CoreName() string { return c.Prefix }

// StatsName is the name of statistics shard i.
func (c Config) StatsName(i int) string { return fmt.Sprintf("%s_stats_%d", c.Prefix, i) }

// HistoryName is the name of history shard i.
func (c Config) HistoryName(i int) string { return fmt.Sprintf("%s_history_%d", c.Prefix, i) }

// Open connects to every database, creating the missing ones. It does not migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dialect, err := DialectFor(cfg.Driver)
	if err != nil {
		return nil, err
	}
	db := &DB{cfg: cfg, names: map[*sql.DB]string{}, Dialect: dialect, Prepared: NewPrepared(cfg.Unprepared || dialect.Name() == "oracle")}
	openDatabase := openDatabase
	if dialect.Name() == "oracle" {
		if !OracleSupported() {
			return nil, ErrNoOracle
		}
		openDatabase = openOracle
	}
	if db.Core, err = openDatabase(ctx, cfg.DSN, cfg.CoreName()); err != nil {
		return nil, err
	}
	db.names[db.Core] = cfg.CoreName()
	for i := range cfg.StatsShards {
		s, err := openDatabase(ctx, dsnAt(cfg.StatsDSNs, i, cfg.DSN), cfg.StatsName(i))
		if err != nil {
			db.Close()
			return nil, err
		}
		db.Stats = append(db.Stats, s)
		db.names[s] = cfg.StatsName(i)
	}
	for i := range cfg.HistoryShards {
		h, err := openDatabase(ctx, dsnAt(cfg.HistoryDSNs, i, cfg.DSN), cfg.HistoryName(i))
		if err != nil {
			db.Close()
			return nil, err
		}
		db.History = append(db.History, h)
		db.names[h] = cfg.HistoryName(i)
	}
	return db, nil
}

func dsnAt(list []string, i int, def string) string {
	if i < len(list) && list[i] != "" {
		return list[i]
	}
	return def
}

// openOracle connects to an Oracle schema; the oracle build tag sets it.
var openOracle func(ctx context.Context, dsn, schema string) (*sql.DB, error)

// ErrNoOracle is the error of an oracle configuration in a binary built without the driver.
var ErrNoOracle = errors.New("this Herald binary was built without Oracle support: build it with -tags oracle")

// OracleSupported reports whether this binary has the Oracle driver (built with -tags oracle).
func OracleSupported() bool { return openOracle != nil }

// openDatabase creates database name on the server of dsn when missing and connects to it.
func openDatabase(ctx context.Context, dsn, name string) (*sql.DB, error) {
	mc, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("invalid MySQL DSN: %w", err)
	}
	mc.DBName = ""
	mc.ParseTime = true
	mc.Loc = time.UTC
	mc.InterpolateParams = true
	mc.MultiStatements = false
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	mc.Params["charset"] = "utf8mb4"
	server, err := sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		return nil, err
	}
	defer server.Close()
	if _, err := server.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return nil, fmt.Errorf("error creating database %s: %w", name, err)
	}
	mc.DBName = name
	db, err := sql.Open("mysql", mc.FormatDSN())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(64)
	db.SetMaxIdleConns(32)
	db.SetConnMaxLifetime(30 * time.Minute)
	return db, nil
}

// Close closes every connection pool.
func (db *DB) Close() {
	db.Prepared.Close()
	for _, d := range db.all() {
		_ = d.Close()
	}
}

func (db *DB) all() []*sql.DB {
	out := []*sql.DB{}
	if db.Core != nil {
		out = append(out, db.Core)
	}
	out = append(out, db.Stats...)
	return append(out, db.History...)
}

// Ping checks that every database answers; the error names the one that does not.
func (db *DB) Ping(ctx context.Context) error {
	for _, d := range db.all() {
		if err := d.PingContext(ctx); err != nil {
			return fmt.Errorf("database %s: %w", db.names[d], err)
		}
	}
	return nil
}

// Migrate brings every database to the latest schema and creates the day tables from
// today to ahead days on. Concurrent callers (several processes starting) serialise on a
// named lock (GET_LOCK on MySQL, DBMS_LOCK on Oracle).
func (db *DB) Migrate(ctx context.Context, now time.Time, ahead int) error {
	conn, err := db.Core.Conn(ctx)
	if err != nil {
		return fmt.Errorf("error connecting to %s: %w", db.cfg.CoreName(), err)
	}
	defer conn.Close()
	release, err := db.Dialect.Lock(ctx, conn, "herald_migrate_"+db.cfg.Prefix, 120*time.Second)
	if err != nil {
		return fmt.Errorf("error taking the migration lock: %w", err)
	}
	defer release()
	migrate := migrate
	if db.Dialect.Name() == "oracle" {
		migrate = migrateOracle
	}
	if err := migrate(ctx, db.Core, "migrations/core"); err != nil {
		return fmt.Errorf("error migrating %s: %w", db.cfg.CoreName(), err)
	}
	for i, s := range db.Stats {
		if err := migrate(ctx, s, "migrations/stats"); err != nil {
			return fmt.Errorf("error migrating %s: %w", db.cfg.StatsName(i), err)
		}
	}
	for i, h := range db.History {
		if err := migrate(ctx, h, "migrations/history"); err != nil {
			return fmt.Errorf("error migrating %s: %w", db.cfg.HistoryName(i), err)
		}
	}
	return db.EnsureDayTables(ctx, now, ahead)
}

func migrate(ctx context.Context, db *sql.DB, dir string) error {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectMySQL, db, sub)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return nil
	}
	return err
}

// DayFormat is the layout of the day in delivery table names.
const DayFormat = "20060102"

// DayTable is the delivery detail table of day (a YYYYMMDD string).
func DayTable(day string) string { return "delivery_" + day }

// EnsureDayTables creates delivery_YYYYMMDD (on Oracle: the day's partition of delivery) on
// every statistics shard for the day of now and the ahead days after it.
func (db *DB) EnsureDayTables(ctx context.Context, now time.Time, ahead int) error {
	for i, s := range db.Stats {
		for d := 0; d <= ahead; d++ {
			day := now.AddDate(0, 0, d).Format(DayFormat)
			if _, err := s.ExecContext(ctx, db.Dialect.CreateDay(day)); err != nil {
				return fmt.Errorf("error creating %s on %s: %w", DayTable(day), db.cfg.StatsName(i), err)
			}
		}
	}
	return nil
}

// StatsShard is the statistics shard that holds the deliveries of a task.
func (db *DB) StatsShard(taskID int64) *sql.DB {
	return db.Stats[int(uint64(taskID)%uint64(len(db.Stats)))]
}

// StatsShardIndex is the index of the statistics shard of a task.
func (db *DB) StatsShardIndex(taskID int64) int {
	return int(uint64(taskID) % uint64(len(db.Stats)))
}

// HistoryShard is the history shard that holds a user's messages.
func (db *DB) HistoryShard(appID int64, userID string) *sql.DB {
	return db.History[HistoryShardIndex(appID, userID, len(db.History))]
}

// HistoryShardIndex hashes (app, user) onto one of n history shards.
func HistoryShardIndex(appID int64, userID string, n int) int {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%s", appID, userID)
	return int(h.Sum32() % uint32(n))
}

// Drop removes every database of the configuration; tests use it to clean up.
func (db *DB) Drop(ctx context.Context) error {
	var errs []error
	if db.Dialect.Name() != "mysql" {
		return fmt.Errorf("dropping databases is not supported on %s: drop the schemas by hand", db.Dialect.Name())
	}
	for _, d := range db.all() {
		if _, err := d.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+db.names[d]+"`"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DropDayTablesBefore drops, on every statistics shard, the day tables (on Oracle: the daily
// partitions) of days before cutoff (a YYYYMMDD day), and returns the names it dropped. Day
// tables are found by name, so tables created by hand are never touched unless they follow the
// pattern.
func (db *DB) DropDayTablesBefore(ctx context.Context, cutoff string) ([]string, error) {
	var dropped []string
	for i, s := range db.Stats {
		rows, err := s.QueryContext(ctx, db.Dialect.ListDays())
		if err != nil {
			return dropped, fmt.Errorf("error listing day tables on %s: %w", db.cfg.StatsName(i), err)
		}
		type oldDay struct{ name, day string }
		var old []oldDay
		for rows.Next() {
			var name, bound string
			if err := rows.Scan(&name, &bound); err != nil {
				rows.Close()
				return dropped, err
			}
			if day, ok := db.Dialect.DayOf(name, bound); ok && day < cutoff {
				old = append(old, oldDay{name, day})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return dropped, fmt.Errorf("error listing day tables on %s: %w", db.cfg.StatsName(i), err)
		}
		for _, o := range old {
			if _, err := s.ExecContext(ctx, db.Dialect.DropDay(o.day)); err != nil {
				return dropped, fmt.Errorf("error dropping %s on %s: %w", o.name, db.cfg.StatsName(i), err)
			}
			dropped = append(dropped, db.cfg.StatsName(i)+"."+o.name)
		}
	}
	return dropped, nil
}

// Placeholders is n comma-separated "?" for an IN list or a row of a multi-row statement.
func Placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
