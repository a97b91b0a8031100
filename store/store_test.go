package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

// server connects to the test server without a database, to look at what Herald created.
func server(t *testing.T) *sql.DB {
	t.Helper()
	mc, err := mysql.ParseDSN(storetest.DSN())
	require.NoError(t, err)
	mc.DBName = ""
	db, err := sql.Open("mysql", mc.FormatDSN())
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	require.NoError(t, db.PingContext(t.Context()), "MariaDB must run at %s (HERALD_TEST_MYSQL_DSN)", storetest.DSN())
	return db
}

// databases lists the databases whose names start with prefix.
func databases(t *testing.T, srv *sql.DB, prefix string) []string {
	t.Helper()
	return databasesCtx(t, t.Context(), srv, prefix)
}

func databasesCtx(t *testing.T, ctx context.Context, srv *sql.DB, prefix string) []string {
	t.Helper()
	rows, err := srv.QueryContext(ctx, "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ? ORDER BY schema_name", prefix+"%")
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		out = append(out, name)
	}
	require.NoError(t, rows.Err())
	return out
}

// tables lists the tables of one database.
func tables(t *testing.T, srv *sql.DB, db string) []string {
	t.Helper()
	rows, err := srv.QueryContext(t.Context(), "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name", db)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		out = append(out, name)
	}
	require.NoError(t, rows.Err())
	return out
}

// open opens (without migrating) a fresh set of databases, dropped when t ends.
func open(t *testing.T, cfg store.Config) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		// t.Context is cancelled before cleanups run.
		require.NoError(t, db.Drop(context.Background()))
		db.Close()
	})
	return db
}

func TestOpenCreatesMissingDatabases(t *testing.T) {
	t.Parallel()
	srv := server(t)
	cfg := storetest.Config()
	cfg.StatsShards, cfg.HistoryShards = 3, 2
	cfg.StatsDSNs = []string{"", storetest.DSN()} // shard 1 names its server explicitly
	require.Empty(t, databases(t, srv, cfg.Prefix))

	db := open(t, cfg)
	want := []string{cfg.Prefix, cfg.Prefix + "_history_0", cfg.Prefix + "_history_1", cfg.Prefix + "_stats_0", cfg.Prefix + "_stats_1", cfg.Prefix + "_stats_2"}
	require.Equal(t, want, databases(t, srv, cfg.Prefix))
	require.Len(t, db.Stats, 3)
	require.Len(t, db.History, 2)
	require.NoError(t, db.Ping(t.Context()))

	var charset, collation string
	require.NoError(t, srv.QueryRowContext(t.Context(), "SELECT default_character_set_name, default_collation_name FROM information_schema.schemata WHERE schema_name = ?", cfg.Prefix+"_stats_2").
		Scan(&charset, &collation))
	require.Equal(t, "utf8mb4", charset)
	require.Equal(t, "utf8mb4_bin", collation)

	// Opening again finds the databases and changes nothing.
	again, err := store.Open(t.Context(), cfg)
	require.NoError(t, err)
	again.Close()
	require.Equal(t, want, databases(t, srv, cfg.Prefix))

	require.Equal(t, cfg.Prefix, cfg.CoreName())
	require.Equal(t, cfg.Prefix+"_stats_2", cfg.StatsName(2))
	require.Equal(t, cfg.Prefix+"_history_0", cfg.HistoryName(0))
}

func TestOpenRefusesABadDSN(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	cfg.DSN = "not a dsn"
	_, err := store.Open(t.Context(), cfg)
	require.ErrorContains(t, err, "invalid MySQL DSN")

	cfg = storetest.Config()
	cfg.HistoryDSNs = []string{"", "also not a dsn"}
	srv := server(t)
	_, err = store.Open(t.Context(), cfg)
	require.ErrorContains(t, err, "invalid MySQL DSN")
	t.Cleanup(func() {
		// The core and stats databases were created before the bad shard was reached.
		for _, name := range databasesCtx(t, context.Background(), srv, cfg.Prefix) {
			_, err := srv.ExecContext(context.Background(), "DROP DATABASE `"+name+"`")
			require.NoError(t, err)
		}
	})
}

// deliveryTables keeps the day tables and their template: the other tables of a statistics
// shard come and go with its migrations.
func deliveryTables(ts []string) []string {
	var out []string
	for _, name := range ts {
		if strings.HasPrefix(name, "delivery_") {
			out = append(out, name)
		}
	}
	return out
}

func TestMigrateTwiceIsANoOp(t *testing.T) {
	t.Parallel()
	srv := server(t)
	cfg := storetest.Config()
	db := open(t, cfg)
	now := time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)

	require.NoError(t, db.Migrate(t.Context(), now, 1))
	snapshot := func() map[string][]string {
		out := map[string][]string{}
		for _, name := range databases(t, srv, cfg.Prefix) {
			out[name] = tables(t, srv, name)
		}
		return out
	}
	versions := func(d *sql.DB) int {
		var n int
		require.NoError(t, d.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM goose_db_version").Scan(&n))
		return n
	}
	first := snapshot()
	require.Contains(t, first[cfg.Prefix], "apps")
	require.Contains(t, first[cfg.Prefix], "templates")
	require.Contains(t, first[cfg.Prefix+"_history_1"], "history")
	require.Equal(t, []string{"delivery_20310506", "delivery_20310507", "delivery_template"}, deliveryTables(first[cfg.Prefix+"_stats_1"]))
	require.Contains(t, first[cfg.Prefix+"_stats_1"], "goose_db_version")
	coreVersions, statsVersions := versions(db.Core), versions(db.Stats[0])

	// A row survives the second run: nothing was dropped and recreated.
	_, err := db.Core.ExecContext(t.Context(), "INSERT INTO apps (name, created_at) VALUES ('kept', NOW(3))")
	require.NoError(t, err)

	require.NoError(t, db.Migrate(t.Context(), now, 1))
	require.Equal(t, first, snapshot())
	require.Equal(t, coreVersions, versions(db.Core))
	require.Equal(t, statsVersions, versions(db.Stats[0]))
	var name string
	require.NoError(t, db.Core.QueryRowContext(t.Context(), "SELECT name FROM apps").Scan(&name))
	require.Equal(t, "kept", name)
}

func TestEnsureDayTablesOnEveryShard(t *testing.T) {
	t.Parallel()
	srv := server(t)
	cfg := storetest.Config()
	cfg.StatsShards = 3
	db := open(t, cfg)
	require.NoError(t, db.Migrate(t.Context(), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 0))

	// Across a month end, and again: CREATE TABLE IF NOT EXISTS makes it idempotent.
	now := time.Date(2030, 1, 30, 23, 59, 0, 0, time.UTC)
	for range 2 {
		require.NoError(t, db.EnsureDayTables(t.Context(), now, 3))
	}
	for i := range cfg.StatsShards {
		require.Equal(t, []string{"delivery_20300101", "delivery_20300130", "delivery_20300131", "delivery_20300201", "delivery_20300202", "delivery_template"},
			deliveryTables(tables(t, srv, cfg.StatsName(i))), "shard %d", i)
	}
	// A day table has the template's shape.
	var cols int
	require.NoError(t, srv.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = 'delivery_20300202'", cfg.StatsName(2)).Scan(&cols))
	var want int
	require.NoError(t, srv.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = ? AND table_name = 'delivery_template'", cfg.StatsName(2)).Scan(&want))
	require.Equal(t, want, cols)
	require.Positive(t, cols)
	// History shards get no day tables.
	require.NotContains(t, strings.Join(tables(t, srv, cfg.HistoryName(0)), ","), "delivery_")

	require.Equal(t, "delivery_20300202", store.DayTable("20300202"))
}

func TestShardingIsStable(t *testing.T) {
	t.Parallel()
	db := storetest.NewWith(t, store.Config{DSN: storetest.DSN(), Prefix: storetest.Prefix(), StatsShards: 3, HistoryShards: 4})

	tasks := []struct {
		task int64
		want int
	}{{0, 0}, {1, 1}, {2, 2}, {3, 0}, {10, 1}, {1 << 40, int((1 << 40) % 3)}}
	for _, tt := range tasks {
		require.Equal(t, tt.want, db.StatsShardIndex(tt.task), "task %d", tt.task)
		require.Same(t, db.Stats[tt.want], db.StatsShard(tt.task))
	}

	// Golden values: history rows are found again only if the hash never changes.
	users := []struct {
		app  int64
		user string
		n    int
		want int
	}{
		{1, "u1", 2, 1},
		{1, "u1", 4, 3},
		{1, "u2", 2, 0},
		{1, "u2", 4, 2},
		{2, "u1", 4, 0},
		{1, "用户", 4, 1},
		{7, "", 4, 3},
	}
	for _, tt := range users {
		got := store.HistoryShardIndex(tt.app, tt.user, tt.n)
		require.Equal(t, tt.want, got, "app %d user %q over %d", tt.app, tt.user, tt.n)
		require.Equal(t, got, store.HistoryShardIndex(tt.app, tt.user, tt.n), "stable across calls")
		if tt.n == 4 {
			require.Same(t, db.History[got], db.HistoryShard(tt.app, tt.user))
		}
	}

	// Users spread evenly enough: each of four shards gets 20 to 30 percent.
	counts := make([]int, 4)
	for i := range 10000 {
		counts[store.HistoryShardIndex(1, fmt.Sprintf("user-%d", i), 4)]++
	}
	for i, c := range counts {
		require.InDelta(t, 2500, c, 500, "shard %d got %d of 10000", i, c)
	}
}

func TestDropDayTablesBefore(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	ctx := context.Background()
	start := time.Date(2025, 12, 30, 12, 0, 0, 0, time.UTC)
	require.NoError(t, db.EnsureDayTables(ctx, start, 4)) // 20251230 … 20260103
	_, err := db.Stats[0].Exec("CREATE TABLE delivery_notes (id INT)")
	require.NoError(t, err)

	dropped, err := db.DropDayTablesBefore(ctx, "20260101")
	require.NoError(t, err)
	require.Len(t, dropped, 4, "two days on each of two shards")
	for i := range db.Stats {
		var names []string
		rows, err := db.Stats[i].Query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'delivery%' ORDER BY table_name")
		require.NoError(t, err)
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			// storetest also made today's tables; only the days of this test are looked at.
			if day, ok := strings.CutPrefix(n, "delivery_"); ok && day > "20260103" {
				if _, err := time.Parse(store.DayFormat, day); err == nil {
					continue
				}
			}
			names = append(names, n)
		}
		require.NoError(t, rows.Close())
		want := []string{"delivery_20260101", "delivery_20260102", "delivery_20260103", "delivery_template"}
		if i == 0 {
			want = append([]string{}, "delivery_20260101", "delivery_20260102", "delivery_20260103", "delivery_notes", "delivery_template")
		}
		require.Equal(t, want, names, "shard %d keeps the template, later days and tables that are not day tables", i)
	}
}
