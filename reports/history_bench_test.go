package reports_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store/storetest"
)

// BenchmarkHistory measures the history table of store's history migration on each storage
// engine with Herald's own write and read paths: SQLHistory.Append (multi-row INSERT IGNORE of
// up to 1,000 rows, users drawn at random so the keys arrive in random order) and
// SQLHistory.List (a user's newest 20 messages).
//
//	go test -bench History -run '^$' -benchtime 1x -timeout 0 ./reports/
//
// Knobs (environment):
//
//	HERALD_HISTORY_BENCH_ROWS     rows written per engine (default 1000000)
//	HERALD_HISTORY_BENCH_USERS    distinct users (default rows/30)
//	HERALD_HISTORY_BENCH_ENGINE   innodb, rocksdb or both (default both)
//	HERALD_HISTORY_BENCH_WRITERS  concurrent writers (default 4)
//	HERALD_HISTORY_BENCH_READS    newest-first reads timed (default 5000)
//	HERALD_HISTORY_BENCH_DSN      server DSN (default HERALD_TEST_MYSQL_DSN, else the local server)
//
// Reported per engine: rows/s written, the bytes the server reports for the table after the
// load (memtables flushed), and the p50/p99 of the newest-20 read in milliseconds. RocksDB is
// skipped, saying so, when the server has no ROCKSDB engine.
func BenchmarkHistory(b *testing.B) {
	rows := envInt(b, "HERALD_HISTORY_BENCH_ROWS", 1_000_000)
	users := envInt(b, "HERALD_HISTORY_BENCH_USERS", max(rows/30, 1))
	writers := envInt(b, "HERALD_HISTORY_BENCH_WRITERS", 4)
	reads := envInt(b, "HERALD_HISTORY_BENCH_READS", 5000)
	dsn := cmp.Or(os.Getenv("HERALD_HISTORY_BENCH_DSN"), storetest.DSN())
	engines := []string{"InnoDB", "ROCKSDB"}
	switch e := strings.ToLower(cmp.Or(os.Getenv("HERALD_HISTORY_BENCH_ENGINE"), "both")); e {
	case "both":
	case "innodb":
		engines = engines[:1]
	case "rocksdb":
		engines = engines[1:]
	default:
		b.Fatalf("HERALD_HISTORY_BENCH_ENGINE: %q is not innodb, rocksdb or both", e)
	}
	for _, engine := range engines {
		b.Run(engine, func(b *testing.B) {
			cfg := storetest.Config()
			cfg.DSN, cfg.StatsShards, cfg.HistoryShards = dsn, 1, 1
			db := storetest.NewWith(b, cfg)
			ctx := context.Background()
			var support string
			err := db.History[0].QueryRowContext(ctx, "SELECT support FROM information_schema.engines WHERE engine = ?", engine).Scan(&support)
			if err != nil || (support != "YES" && support != "DEFAULT") {
				b.Skipf("the server has no %s engine (Debian: apt-get install mariadb-plugin-rocksdb, then load ha_rocksdb at server start with plugin-load-add=ha_rocksdb.so)", engine)
			}
			// The migrations pick ROCKSDB when the server has it: each run sets its own engine.
			if _, err := db.History[0].ExecContext(ctx, "ALTER TABLE history ENGINE="+engine); err != nil {
				b.Fatalf("error moving history to %s: %v", engine, err)
			}
			h := reports.NewSQLHistory(db)
			for b.Loop() {
				elapsed := loadHistory(b, h, rows, users, writers)
				b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
				size := historySize(b, db.History[0], engine)
				b.ReportMetric(float64(size), "bytes")
				p50, p99 := readHistory(b, h, users, reads)
				b.ReportMetric(p50, "p50-ms")
				b.ReportMetric(p99, "p99-ms")
				b.Logf("%s: %d rows (%d users, %d writers) in %s = %.0f rows/s; %.2f GiB; newest 20 of a user p50 %.2f ms, p99 %.2f ms over %d reads",
					engine, rows, users, writers, elapsed.Round(time.Second), float64(rows)/elapsed.Seconds(),
					float64(size)/(1<<30), p50, p99, reads)
			}
		})
	}
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil || n <= 0 {
		b.Fatalf("%s: %q is not a positive whole number", name, v)
	}
	return n
}

func benchUser(i int) string { return fmt.Sprintf("user-%08d", i) }

// loadHistory writes rows entries in batches of 1,000 from writers goroutines, each entry for a
// user drawn at random, and returns the time it took.
func loadHistory(b *testing.B, h *reports.SQLHistory, rows, users, writers int) time.Duration {
	b.Helper()
	const batch, progressEvery = 1000, 1_000_000
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	chs := []channels.Channel{channels.AppPush, channels.SMS, channels.WeChat, channels.Email}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			es := make([]reports.HistoryEntry, 0, batch)
			for {
				first := next.Add(batch) - batch
				if first >= int64(rows) {
					return
				}
				es = es[:0]
				for k := first; k < min(first+batch, int64(rows)); k++ {
					es = append(es, reports.HistoryEntry{
						AppID: 1, UserID: benchUser(r.IntN(users)), MessageID: fmt.Sprintf("m%012d", k),
						TaskID: k/10_000 + 1, Channel: chs[k%int64(len(chs))], Address: fmt.Sprintf("1380013%04d", k%10_000),
						Title: "Your statement is ready",
						Body:  "Dear customer, your November statement is ready: 3 transactions, balance 12,480.55 CNY. Reply TD to unsubscribe.",
						// The instants cover a month, in the order the messages were sent.
						Status: channels.Sent, CreatedAt: base.Add(time.Duration(k) * 30 * 24 * time.Hour / time.Duration(rows)),
					})
				}
				if err := h.Append(context.Background(), es); err != nil {
					errs <- err
					return
				}
				if done := first + batch; done%progressEvery == 0 {
					fmt.Fprintf(os.Stderr, "history bench: %d rows in %s\n", done, time.Since(start).Round(time.Second))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("error loading history: %v", err)
	}
	return elapsed
}

// historySize flushes what the engine keeps in memory and returns the table's size as the
// server reports it (InnoDB: the tablespace file's allocated size; RocksDB: its SST data).
func historySize(b *testing.B, db *sql.DB, engine string) int64 {
	b.Helper()
	ctx := context.Background()
	var size int64
	if engine == "InnoDB" {
		if _, err := db.ExecContext(ctx, "FLUSH TABLES history FOR EXPORT"); err != nil {
			b.Fatalf("error flushing history: %v", err)
		}
		if _, err := db.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
			b.Fatalf("error unlocking history: %v", err)
		}
		err := db.QueryRowContext(ctx, "SELECT allocated_size FROM information_schema.innodb_sys_tablespaces WHERE name = CONCAT(DATABASE(), '/history')").Scan(&size)
		if err != nil {
			b.Fatalf("error reading the size of history: %v", err)
		}
		return size
	}
	if _, err := db.ExecContext(ctx, "SET GLOBAL rocksdb_force_flush_memtable_now = 1"); err != nil {
		b.Fatalf("error flushing RocksDB memtables: %v", err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE history"); err != nil {
		b.Fatalf("error analysing history: %v", err)
	}
	err := db.QueryRowContext(ctx, "SELECT data_length + index_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'history'").Scan(&size)
	if err != nil {
		b.Fatalf("error reading the size of history: %v", err)
	}
	return size
}

// readHistory times reads of the newest 20 messages of random users, one at a time, and returns
// the p50 and p99 in milliseconds.
func readHistory(b *testing.B, h *reports.SQLHistory, users, reads int) (p50, p99 float64) {
	b.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	took := make([]time.Duration, reads)
	for i := range took {
		user := benchUser(r.IntN(users))
		start := time.Now()
		es, err := h.List(context.Background(), 1, user, reports.HistoryQuery{First: 20})
		took[i] = time.Since(start)
		if err != nil {
			b.Fatalf("error reading the history of %s: %v", user, err)
		}
		for k := 1; k < len(es); k++ {
			if es[k].CreatedAt.After(es[k-1].CreatedAt) {
				b.Fatalf("history of %s is not newest first", user)
			}
		}
	}
	slices.Sort(took)
	ms := func(q float64) float64 {
		return float64(took[min(int(q*float64(len(took))), len(took)-1)]) / float64(time.Millisecond)
	}
	return ms(0.50), ms(0.99)
}
