package audience_test

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/store/storetest"
)

// BenchmarkImport imports a CSV file of users with two identities each (SMS and EMAIL) and,
// in the same run, writes the same users, identities and links into fresh databases with
// plain multi-row INSERTs, in transactions of the same size on as many connections: once
// as text statements, once as prepared statements. Those are the floor the import is
// measured against; ratio is the import's rate over the faster of the two.
//
//	HERALD_IMPORT_BENCH_ROWS=1000000 go test -run '^$' -bench Import -benchtime 1x ./audience/
//
// HERALD_IMPORT_BENCH_ROWS sets the number of users (default 100,000),
// HERALD_IMPORT_BENCH_BATCH the rows per transaction (default audience.DefaultImportBatch),
// HERALD_IMPORT_BENCH_WRITERS the transactions at once (default audience.DefaultImportWriters);
// HERALD_IMPORT_BENCH_RAW=0 skips the raw INSERTs (for profiling the import);
// HERALD_IMPORT_BENCH_CACHE=1 writes the import through to a Redis identity cache
// (HERALD_TEST_REDIS_URL), as the server does.
// The log line also gives the CPU seconds of this process and, when it runs on this
// machine, of the database server, to show which side the time goes to.
func BenchmarkImport(b *testing.B) {
	n := benchImportSize(b, "HERALD_IMPORT_BENCH_ROWS", 100000)
	batch := benchImportSize(b, "HERALD_IMPORT_BENCH_BATCH", audience.DefaultImportBatch)
	writers := benchImportSize(b, "HERALD_IMPORT_BENCH_WRITERS", audience.DefaultImportWriters)
	path, size := writeBenchCSV(b, n)
	for range b.N {
		b.StopTimer()
		ib := setupImport(b)
		if os.Getenv("HERALD_IMPORT_BENCH_CACHE") == "1" {
			benchCache(b, ib)
		}
		f, err := os.Open(path)
		require.NoError(b, err)
		b.StartTimer()

		cpu := startCPU()
		rep, err := ib.svc.Import(ib.ctx, ib.appID, f, audience.ImportOptions{BatchSize: batch, Writers: writers})
		imp := cpu.stop()

		b.StopTimer()
		require.NoError(b, err)
		require.NoError(b, f.Close())
		require.Equal(b, int64(n), rep.Imported, "%v", rep.Errors)
		rate := func(m cpuMeasure) float64 { return float64(n) / m.wall.Seconds() }
		if os.Getenv("HERALD_IMPORT_BENCH_RAW") == "0" {
			b.ReportMetric(rate(imp), "import_users/s")
			b.Logf("%d users, import only: %.1f s, %.0f users/s, cpu: herald %.1f s, database %s", n, imp.wall.Seconds(), rate(imp), imp.self, imp.serverText())
			b.StartTimer()
			continue
		}
		text := rawInsert(b, n, batch, writers, false)
		prepared := rawInsert(b, n, batch, writers, true)
		floor := max(rate(text), rate(prepared))
		b.ReportMetric(imp.wall.Seconds(), "import_s")
		b.ReportMetric(rate(imp), "import_users/s")
		b.ReportMetric(rate(text), "raw_text_users/s")
		b.ReportMetric(rate(prepared), "raw_prepared_users/s")
		b.ReportMetric(rate(imp)/floor, "ratio")
		b.Logf("%d users (%d MiB of CSV, 5 rows each in users, identities, user_identities), batches of %d, %d writers:", n, size>>20, batch, writers)
		for _, m := range []struct {
			name string
			m    cpuMeasure
		}{{"import", imp}, {"raw INSERT, text", text}, {"raw INSERT, prepared", prepared}} {
			b.Logf("  %-21s %6.1f s  %7.0f users/s  %8.0f rows/s  cpu: herald %5.1f s, database %s",
				m.name, m.m.wall.Seconds(), rate(m.m), 5*rate(m.m), m.m.self, m.m.serverText())
		}
		b.Logf("  ratio import / fastest raw: %.2f", rate(imp)/floor)
		b.StartTimer()
	}
}

// benchCache gives the import's service a Redis identity cache under a fresh prefix,
// removed when b ends.
func benchCache(b *testing.B, ib *importBundle) {
	b.Helper()
	opts, err := redis.ParseURL(cmp.Or(os.Getenv("HERALD_TEST_REDIS_URL"), "redis://127.0.0.1:6379/0"))
	require.NoError(b, err)
	rdb := redis.NewClient(opts)
	prefix := storetest.Prefix() + ":"
	b.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			if keys = append(keys, iter.Val()); len(keys) == 1000 {
				rdb.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			rdb.Unlink(ctx, keys...)
		}
		rdb.Close()
	})
	cache, err := audience.NewCache(rdb, prefix, ib.svc, audience.CacheOptions{})
	require.NoError(b, err)
	ib.svc.SetCache(cache)
}

// benchImportSize reads an int from the environment, or def.
func benchImportSize(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, name)
	return n
}

var benchCities = []string{"杭州", "上海", "北京", "深圳", "成都"}

// benchUser is the i-th user of the benchmark: its id, city, phone and email.
func benchUser(i int) (id, city, phone, email string) {
	return fmt.Sprintf("user-%07d", i), benchCities[i%len(benchCities)], fmt.Sprintf("+86139%08d", i), fmt.Sprintf("user%d@example.com", i)
}

func writeBenchCSV(b *testing.B, n int) (string, int64) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "users.csv")
	f, err := os.Create(path)
	require.NoError(b, err)
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,attr.city,SMS,EMAIL")
	for i := range n {
		id, city, phone, email := benchUser(i)
		fmt.Fprintf(w, "%s,%s,%s,%s\n", id, city, phone, email)
	}
	require.NoError(b, w.Flush())
	st, err := f.Stat()
	require.NoError(b, err)
	require.NoError(b, f.Close())
	return path, st.Size()
}

// rawInsert writes the benchmark's users, their identities (ids chosen here, so none is
// looked up) and the links into a fresh database with plain multi-row INSERTs: batch users
// per transaction, 1,000 rows per statement, writers transactions at once, as text or as
// prepared statements.
func rawInsert(b *testing.B, n, batch, writers int, prepare bool) cpuMeasure {
	b.Helper()
	db := storetest.New(b).Core
	ctx := context.Background()
	res, err := db.Exec("INSERT INTO apps (name, created_at) VALUES ('raw', NOW(3))")
	require.NoError(b, err)
	appID, err := res.LastInsertId()
	require.NoError(b, err)
	statements := []*rawStatement{
		{head: "INSERT INTO users (app_id, id, attributes, created_at, updated_at) VALUES ", tuple: "(?,?,?,?,?)", width: 5},
		{head: "INSERT INTO identities (id, app_id, channel, address, created_at) VALUES ", tuple: "(?,?,?,?,?)", width: 5},
		{head: "INSERT INTO user_identities (app_id, user_id, identity_id, created_at) VALUES ", tuple: "(?,?,?,?)", width: 4},
	}
	if prepare {
		for _, st := range statements {
			st.prepared, err = db.Prepare(st.query(1000))
			require.NoError(b, err)
			defer st.prepared.Close()
		}
	}
	now := any(time.Now().UTC())
	app := any(appID)
	cpu := startCPU()
	var g errgroup.Group
	for w := range writers {
		g.Go(func() error {
			for lo := w * batch; lo < n; lo += writers * batch {
				hi := min(lo+batch, n)
				var users, idns, links []any
				for i := lo; i < hi; i++ {
					id, city, phone, email := benchUser(i)
					users = append(users, app, id, `{"city":"`+city+`"}`, now, now)
					idns = append(idns, int64(2*i+1), app, "SMS", phone, now, int64(2*i+2), app, "EMAIL", email, now)
					links = append(links, app, id, int64(2*i+1), now, app, id, int64(2*i+2), now)
				}
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				for i, args := range [][]any{users, idns, links} {
					if err := statements[i].exec(ctx, tx, args); err != nil {
						_ = tx.Rollback()
						return err
					}
				}
				if err := tx.Commit(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	require.NoError(b, g.Wait())
	return cpu.stop()
}

type rawStatement struct {
	head, tuple string
	width       int
	prepared    *sql.Stmt
}

func (st *rawStatement) query(rows int) string {
	return st.head + strings.TrimSuffix(strings.Repeat(st.tuple+",", rows), ",")
}

func (st *rawStatement) exec(ctx context.Context, tx *sql.Tx, args []any) error {
	step := 1000 * st.width
	for lo := 0; lo < len(args); lo += step {
		part := args[lo:min(lo+step, len(args))]
		var err error
		if st.prepared != nil && len(part) == step {
			_, err = tx.StmtContext(ctx, st.prepared).ExecContext(ctx, part...)
		} else {
			_, err = tx.ExecContext(ctx, st.query(len(part)/st.width), part...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// cpuMeasure is the wall time of a run and the CPU seconds spent in it by this process and,
// when found on this machine, by the database server (-1 otherwise).
type cpuMeasure struct {
	wall         time.Duration
	self, server float64
}

func (m cpuMeasure) serverText() string {
	if m.server < 0 {
		return "not local"
	}
	return fmt.Sprintf("%5.1f s (the whole server, other clients included)", m.server)
}

type cpuStart struct {
	at           time.Time
	self, server float64
}

func startCPU() cpuStart {
	return cpuStart{at: time.Now(), self: selfCPU(), server: serverCPU()}
}

func (c cpuStart) stop() cpuMeasure {
	m := cpuMeasure{wall: time.Since(c.at), self: selfCPU() - c.self, server: -1}
	if c.server >= 0 {
		m.server = serverCPU() - c.server
	}
	return m
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// serverCPU returns the CPU seconds of a local mariadbd or mysqld process, or -1.
func serverCPU() float64 {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, err := os.ReadFile(d + "/comm")
		if err != nil {
			continue
		}
		if name := strings.TrimSpace(string(comm)); name != "mariadbd" && name != "mysqld" {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			return -1
		}
		// The fields after the command name, which is in parentheses: utime and stime are
		// the 14th and 15th fields of the line, in clock ticks (100 a second on Linux).
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		utime, err1 := strconv.ParseFloat(f[11], 64)
		stime, err2 := strconv.ParseFloat(f[12], 64)
		if err1 != nil || err2 != nil {
			return -1
		}
		return (utime + stime) / 100
	}
	return -1
}
