package store_test

import (
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

// TestOracleGolden compares the Oracle text of every statement the store's dialect writes with
// testdata/oracle (go test ./store/ -run Golden -update rewrites the files).
func TestOracleGolden(t *testing.T) {
	t.Parallel()
	o := store.Oracle{}
	after, _ := o.RowsAfter([]string{"created_at", "id"}, []any{1, 2})
	cases := map[string]string{
		"insert_ignore": o.Rebind(o.InsertIgnore("user_tags", []string{"app_id", "tag", "user_id"}, 2, []string{"app_id", "tag", "user_id"})),
		"upsert": o.Rebind(o.Upsert("inflight", []string{"id", "provider", "started_at TIMESTAMP(3)"}, 2,
			[]string{"id"}, []string{"provider", "started_at"})),
		"update_from": o.Rebind(o.UpdateFrom("tasks", "SELECT ? AS id, ? AS status FROM dual", "t.id = s.id", "t.status <> 'DONE'",
			[]string{"t.status = s.status"})),
		"page":         o.Rebind("SELECT id, name FROM tasks WHERE app_id = ? ORDER BY id" + o.Page()),
		"limit":        o.Rebind("SELECT id FROM audit_log WHERE app_id = ? ORDER BY id DESC" + o.Limit("?")),
		"rows_after":   o.Rebind("SELECT id FROM delivery WHERE app_id = ? AND " + after),
		"functions":    o.Rebind("SELECT " + strings.Join([]string{o.DayText("created_at", 28800), o.HourOf("created_at", -3600), o.CountIf("status = 'FAILED'"), o.If(o.NotEmpty("reason"), "reason", "'none'"), o.Rank("status", []string{"QUEUED", "SENT"})}, ", ") + " FROM delivery"),
		"quote":        "SELECT " + o.Quote("size") + ", " + o.Quote(`we"ird`) + " FROM task_shards",
		"day_select":   o.Rebind("SELECT id, status FROM " + o.DayTable("20261127") + " WHERE id IN (" + store.Placeholders(2) + ")"),
		"day_insert":   o.Rebind(o.InsertDayIgnore("20261127", []string{"id", "app_id", "sent_at TIMESTAMP(3)"}, 2)),
		"day_update":   o.Rebind(o.UpdateDayFrom("20261127", "SELECT ? AS id, ? AS status FROM dual", "t.id = s.id", "t.status <> 'SUPPRESSED'", []string{"t.status = s.status"})),
		"day_create":   o.CreateDay("20261127"),
		"day_list":     o.ListDays(),
		"day_drop":     o.DropDay("20261127"),
		"lock":         o.LockSQL(),
		"unlock":       o.UnlockSQL(),
		"returning_id": o.ReturningID("INSERT INTO apps (name, created_at) VALUES (?, ?)"),
		"auto_id":      "CREATE TABLE apps (id " + o.AutoID() + ")",
		"upsert_add": o.Rebind(o.UpsertAdd("rollup_daily", []string{"app_id", "period DATE", "status", "messages", "cost NUMBER(20,4)"}, 2,
			[]string{"app_id", "period", "status"}, []string{"messages", "cost"})),
		"json_conditions": func() string {
			v, _ := o.JSONValue("attributes", `$."a'b"`, false)
			n, _ := o.JSONValue("attributes", `$."n"`, true)
			yes, _ := o.JSONIsTrue("attributes", `$."vip"`)
			return o.Rebind("SELECT id FROM users WHERE " + o.NotTrue(yes) + " AND " + o.Differs(n, "?") + " AND " + v + " LIKE ?" + o.LikeEscape() + " AND " + o.Bool(true))
		}(),
		"insert": o.Rebind(o.Insert("audience_members", []string{"audience_id", "user_id"}, 2)),
		"upsert_set": o.Rebind(o.UpsertSet("users", []string{"app_id", "id", "attributes CLOB", "updated_at"}, 2, []string{"app_id", "id"},
			[]string{"attributes = COALESCE(" + o.Inserted("attributes") + ", " + o.Stored("attributes") + ")", "updated_at = " + o.Inserted("updated_at")})),
		"json":             o.Rebind("SELECT " + o.If(o.JSONContains("attributes", "?"), "1", "0") + ", " + o.JSONMergePatch("attributes", "?") + " FROM users"),
		"delete_first":     o.Rebind(o.DeleteFirst("history", "created_at < ?", "created_at", "?", []string{"app_id", "user_id"})),
		"delete_first_any": o.Rebind(o.DeleteFirst("inflight", "started_at < ?", "", "10000", []string{"id"})),
		"quarter_hours":    "SELECT " + o.QuarterHours("created_at") + " FROM delivery",
		"share_lock_day":   func() string { l, suffix := o.ShareLockDay("20261127"); return l + suffix }(),
	}
	for name, got := range cases {
		t.Run(name, func(t *testing.T) {
			storetest.Golden(t, "testdata/oracle/"+name+".sql", got)
			if name != "quote" && name != "json_conditions" { // a JSON path filter holds a literal ?
				require.NotContains(t, got, "?", "every placeholder is numbered")
			}
			require.NotContains(t, got, "`")
		})
	}
}

func TestRebindNumbersPlaceholdersOutsideLiterals(t *testing.T) {
	t.Parallel()
	q := `SELECT '?', "a?b" FROM t WHERE a = ? AND b IN (?, ?) AND c = 'it''s ?' AND d = ?`
	require.Equal(t, `SELECT '?', "a?b" FROM t WHERE a = :1 AND b IN (:2, :3) AND c = 'it''s ?' AND d = :4`, store.Oracle{}.Rebind(q))
	require.Equal(t, q, store.MySQL{}.Rebind(q))
}

func TestRowsAfterBindsEveryValueItCompares(t *testing.T) {
	t.Parallel()
	sqlText, args := store.Oracle{}.RowsAfter([]string{"a", "b", "c"}, []any{1, "x", 3})
	require.Equal(t, "((a > ?) OR (a = ? AND b > ?) OR (a = ? AND b = ? AND c > ?))", sqlText)
	require.Equal(t, []any{1, 1, "x", 1, "x", 3}, args)
	sqlText, args = store.MySQL{}.RowsAfter([]string{"a", "b"}, []any{1, "x"})
	require.Equal(t, "(a, b) > (?,?)", sqlText)
	require.Equal(t, []any{1, "x"}, args)
}

func TestDayOfReadsTableNamesAndPartitionBounds(t *testing.T) {
	t.Parallel()
	day, ok := store.Oracle{}.DayOf("SYS_P1234", "TO_DATE(' 2026-11-28 00:00:00', 'SYYYY-MM-DD HH24:MI:SS', 'NLS_CALENDAR=GREGORIAN')")
	require.True(t, ok)
	require.Equal(t, "20261127", day, "a partition's bound is the day after it")
	day, ok = store.Oracle{}.DayOf("SYS_P1", "TO_DATE(' 2026-03-01 00:00:00', 'SYYYY-MM-DD HH24:MI:SS', 'NLS_CALENDAR=GREGORIAN')")
	require.True(t, ok)
	require.Equal(t, "20260228", day)
	for _, bad := range []string{"", "MAXVALUE", "TO_DATE(' 2026-13-01 00:00:00')"} {
		_, ok := store.Oracle{}.DayOf("SYS_P9", bad)
		require.False(t, ok, bad)
	}

	day, ok = store.MySQL{}.DayOf("delivery_20261127", "")
	require.True(t, ok)
	require.Equal(t, "20261127", day)
	for _, bad := range []string{"delivery_template", "delivery_2026112", "delivery_20261340", "deliveries_20261127"} {
		_, ok := store.MySQL{}.DayOf(bad, "")
		require.False(t, ok, bad)
	}
}

func TestDialectFor(t *testing.T) {
	t.Parallel()
	for driver, want := range map[string]string{"": "mysql", "mysql": "mysql", "MariaDB": "mysql", "oracle": "oracle"} {
		d, err := store.DialectFor(driver)
		require.NoError(t, err)
		require.Equal(t, want, d.Name())
	}
	_, err := store.DialectFor("postgres")
	require.ErrorContains(t, err, `unknown database driver "postgres"`)
}

func TestOpenOracleWithoutTheBuildTagSaysHowToBuild(t *testing.T) {
	t.Parallel()
	cfg := storetest.Config()
	cfg.Driver = "oracle"
	_, err := store.Open(t.Context(), cfg)
	require.ErrorContains(t, err, "-tags oracle")
}

func TestOracleStatementsSplitsGooseFiles(t *testing.T) {
	t.Parallel()
	stmts, err := store.OracleStatements(`-- +goose Up
-- a comment
CREATE TABLE a (
  id NUMBER(19) NOT NULL
);
CREATE INDEX a_id ON a (id);
-- +goose StatementBegin
BEGIN
  NULL;
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE a;
`)
	require.NoError(t, err)
	require.Equal(t, []string{"CREATE TABLE a (\n  id NUMBER(19) NOT NULL\n)", "CREATE INDEX a_id ON a (id)", "BEGIN\n  NULL;\nEND;"}, stmts)

	_, err = store.OracleStatements("-- +goose Up\nCREATE TABLE a (id NUMBER)\n")
	require.ErrorContains(t, err, "without a closing semicolon")
	_, err = store.OracleStatements("-- +goose Up\n-- +goose StatementBegin\nBEGIN NULL; END;\n")
	require.ErrorContains(t, err, "StatementBegin without StatementEnd")
}

// mysqlOnly are MySQL spellings no Oracle statement may contain.
var mysqlOnly = regexp.MustCompile("(?i)`|AUTO_INCREMENT|ENGINE=|CHARSET|COLLATE|\\bDATETIME\\b|\\bBIGINT\\b|\\bTINYINT\\b|\\bTEXT\\b|\\bJSON NULL|\\bJSON NOT|UNIQUE KEY|^\\s*KEY |\\n\\s*KEY |DEFAULT ''|ADD COLUMN|ADD INDEX|\\bBOOLEAN\\b|\\bBINARY\\(|INSERT IGNORE|ON DUPLICATE")

// TestOracleMigrations checks the shape of every Oracle migration (golden text of the parsed
// statements, no MySQL spelling, balanced parentheses) and that each MySQL migration has an
// Oracle form of the same version that leaves every table with the same columns.
func TestOracleMigrations(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"core", "stats", "history"} {
		t.Run(dir, func(t *testing.T) {
			ms, err := store.OracleMigrations("migrations/" + dir)
			require.NoError(t, err)
			var text strings.Builder
			oracle := schema{}
			versions := map[int64]bool{}
			for _, m := range ms {
				versions[m.Version] = true
				for _, s := range m.Statements {
					fmt.Fprintf(&text, "-- %s\n%s\n/\n", m.Name, s)
					require.False(t, mysqlOnly.MatchString(s), "%s: MySQL spelling %q in\n%s", m.Name, mysqlOnly.FindString(s), s)
					require.Equal(t, strings.Count(s, "("), strings.Count(s, ")"), "%s: unbalanced parentheses in\n%s", m.Name, s)
					isBlock := strings.HasPrefix(s, "BEGIN") || strings.HasPrefix(s, "DECLARE")
					require.Equal(t, isBlock, strings.HasSuffix(s, ";"), "%s: only a PL/SQL block ends with a semicolon:\n%s", m.Name, s)
					oracle.apply(t, s)
				}
			}
			storetest.Golden(t, "testdata/oracle/migrations_"+dir+".sql", strings.TrimSuffix(text.String(), "\n"))

			mysqlFS := os.DirFS("migrations/" + dir)
			files, err := fs.Glob(mysqlFS, "*.sql")
			require.NoError(t, err)
			my := schema{}
			for _, f := range files {
				var v int64
				_, err := fmt.Sscanf(f, "%05d_", &v)
				require.NoError(t, err, f)
				require.True(t, versions[v], "migrations/%s/%s has no Oracle form in migrations/oracle/%s", dir, f, dir)
				b, err := fs.ReadFile(mysqlFS, f)
				require.NoError(t, err)
				stmts, err := store.OracleStatements(string(b))
				require.NoError(t, err, f)
				for _, s := range stmts {
					my.apply(t, s)
				}
			}
			// The day tables are the partitions of one table on Oracle, with the day column.
			if cols, ok := my["delivery_template"]; ok {
				delete(my, "delivery_template")
				my["delivery"] = append([]string{"day"}, cols...)
			}
			for table, cols := range my {
				slices.Sort(cols)
				ocols := slices.Sorted(slices.Values(oracle[table]))
				require.Equal(t, cols, ocols, "the columns of %s differ between the MySQL and the Oracle migrations", table)
			}
			require.Len(t, oracle, len(my), "tables: MySQL %v, Oracle %v", keys(my), keys(oracle))
		})
	}
}

func keys(m schema) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

// schema is the column names of each table, as migrations leave them.
type schema map[string][]string

var (
	createTable = regexp.MustCompile(`(?is)^CREATE TABLE (\w+) \((.*)\)`)
	alterTable  = regexp.MustCompile(`(?is)^ALTER TABLE (\w+)\s+(.*)$`)
	dropTable   = regexp.MustCompile(`(?is)^DROP TABLE (\w+)`)
)

// topLevel splits s at the commas outside parentheses.
func topLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func columnName(def string) (string, bool) {
	f := strings.Fields(def)
	if len(f) == 0 {
		return "", false
	}
	switch strings.ToUpper(f[0]) {
	case "PRIMARY", "UNIQUE", "KEY", "INDEX", "CONSTRAINT", "CHECK", "FOREIGN":
		return "", false
	}
	return strings.ToLower(strings.Trim(f[0], "`\"")), true
}

func (s schema) apply(t *testing.T, stmt string) {
	t.Helper()
	if m := createTable.FindStringSubmatch(stmt); m != nil {
		// The body ends at the parenthesis that closes the column list.
		body, depth := m[2], 1
		for i, c := range stmt[len("CREATE TABLE "+m[1]+" ("):] {
			if c == '(' {
				depth++
			} else if c == ')' {
				if depth--; depth == 0 {
					body = stmt[len("CREATE TABLE "+m[1]+" (") : len("CREATE TABLE "+m[1]+" (")+i]
					break
				}
			}
		}
		for _, def := range topLevel(body) {
			if c, ok := columnName(def); ok {
				s[m[1]] = append(s[m[1]], c)
			}
		}
		return
	}
	if m := dropTable.FindStringSubmatch(stmt); m != nil {
		delete(s, m[1])
		return
	}
	m := alterTable.FindStringSubmatch(stmt)
	if m == nil {
		return
	}
	table, rest := m[1], strings.TrimSpace(m[2])
	if inner, ok := strings.CutPrefix(rest, "ADD ("); ok { // Oracle: ADD (c1 …, c2 …)
		for _, def := range topLevel(strings.TrimSuffix(strings.TrimSpace(inner), ")")) {
			if c, ok := columnName(def); ok {
				s[table] = append(s[table], c)
			}
		}
		return
	}
	for _, part := range topLevel(rest) { // MySQL: ADD COLUMN c …, DROP COLUMN c, ADD KEY …
		f := strings.Fields(part)
		if len(f) >= 3 && strings.EqualFold(f[0], "ADD") && strings.EqualFold(f[1], "COLUMN") {
			s[table] = append(s[table], strings.ToLower(strings.Trim(f[2], "`")))
		}
		if len(f) >= 3 && strings.EqualFold(f[0], "DROP") && strings.EqualFold(f[1], "COLUMN") {
			s[table] = slices.DeleteFunc(s[table], func(c string) bool { return c == strings.ToLower(f[2]) })
		}
	}
}

// TestMySQLDialectRuns runs the MySQL side of every generic builder on the real server.
func TestMySQLDialectRuns(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	ctx := t.Context()
	m := db.Dialect
	require.Equal(t, "mysql", m.Name())
	_, err := db.Core.ExecContext(ctx, "CREATE TABLE dialect_probe (id "+m.AutoID()+", name VARCHAR(20) NOT NULL, note VARCHAR(20) NOT NULL DEFAULT '', n INT NOT NULL, at DATETIME(3) NOT NULL, UNIQUE KEY probe_name (name))")
	require.NoError(t, err)

	at := time.Date(2026, 11, 27, 23, 30, 0, 0, time.UTC)
	id, err := m.InsertID(ctx, db.Core, m.Rebind("INSERT INTO dialect_probe (name, n, at) VALUES (?, ?, ?)"), "a", 1, at)
	require.NoError(t, err)
	require.Positive(t, id)
	_, err = db.Core.ExecContext(ctx, m.Rebind("INSERT INTO dialect_probe (name, n, at) VALUES (?, ?, ?)"), "a", 2, at)
	require.True(t, m.Duplicate(err), "%v", err)
	require.False(t, m.Retryable(err))

	_, err = db.Core.ExecContext(ctx, m.Rebind(m.Insert("dialect_probe", []string{"name", "n", "at"}, 2)), "x", 7, at, "a", 8, at)
	require.True(t, m.Duplicate(err), "one statement, all or nothing: %v", err)

	// Insert-ignore keeps the existing row; upsert replaces the update columns.
	_, err = db.Core.ExecContext(ctx, m.Rebind(m.InsertIgnore("dialect_probe", []string{"name", "n", "at"}, 2, []string{"name"})), "a", 99, at, "b", 2, at)
	require.NoError(t, err)
	_, err = db.Core.ExecContext(ctx, m.Rebind(m.Upsert("dialect_probe", []string{"name", "n", "at"}, 2, []string{"name"}, []string{"n"})), "b", 20, at, "c", 3, at)
	require.NoError(t, err)
	// UpsertSet assigns in order; the note assigned second reads n before the statement.
	_, err = db.Core.ExecContext(ctx, m.Rebind(m.UpsertSet("dialect_probe", []string{"name", "n", "at"}, 2, []string{"name"},
		[]string{"note = " + m.If(m.Inserted("n")+" > "+m.Stored("n"), "'grew'", "''"), "n = GREATEST(" + m.Stored("n") + ", " + m.Inserted("n") + ")"})),
		"c", 30, at, "d", 4, at)
	require.NoError(t, err)
	_, err = db.Core.ExecContext(ctx, m.Rebind(m.UpdateFrom("dialect_probe", "SELECT ? AS name, ? AS note"+m.FromDual()+" UNION ALL SELECT ? AS name, ? AS note"+m.FromDual(),
		"t.name = s.name", "t.n < 10", []string{"t.note = s.note"})), "a", "first", "b", "not kept")
	require.NoError(t, err)

	type row struct {
		name, note string
		n          int
	}
	list := func(q string, args ...any) []row {
		rows, err := db.Core.QueryContext(ctx, m.Rebind(q), args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			require.NoError(t, rows.Scan(&r.name, store.Text(&r.note), &r.n))
			out = append(out, r)
		}
		require.NoError(t, rows.Err())
		return out
	}
	require.Equal(t, []row{{"a", "first", 1}, {"b", "", 20}, {"c", "grew", 30}, {"d", "", 4}}, list("SELECT name, note, n FROM dialect_probe ORDER BY name"))
	_, err = db.Core.ExecContext(ctx, "DELETE FROM dialect_probe WHERE name IN ('c', 'd')")
	require.NoError(t, err)
	_, err = db.Core.ExecContext(ctx, m.Rebind(m.InsertIgnore("dialect_probe", []string{"name", "n", "at"}, 1, []string{"name"})), "c", 3, at)
	require.NoError(t, err)
	require.Equal(t, []row{{"b", "", 20}}, list("SELECT name, note, n FROM dialect_probe ORDER BY name"+m.Page(), 1, 1))
	require.Equal(t, []row{{"a", "first", 1}}, list("SELECT name, note, n FROM dialect_probe ORDER BY name"+m.Limit("?"), 1))
	after, args := m.RowsAfter([]string{"n", "name"}, []any{3, "c"})
	require.Equal(t, []row{{"b", "", 20}}, list("SELECT name, note, n FROM dialect_probe WHERE "+after+" ORDER BY n, name", args...))

	var day string
	var hour, failed, ranked int
	var noted string
	err = db.Core.QueryRowContext(ctx, "SELECT "+m.DayText("MIN(at)", 3600)+", "+m.HourOf("MIN(at)", 3600)+", "+m.CountIf("n > 2")+", "+
		"MAX("+m.If(m.NotEmpty("note"), "note", "'-'")+"), MAX("+m.Rank("name", []string{"x", "b", "a"})+") FROM dialect_probe").Scan(&day, &hour, &failed, &noted, &ranked)
	require.NoError(t, err)
	require.Equal(t, "2026-11-28", day, "23:30 UTC is the next day an hour east")
	require.Equal(t, 0, hour)
	require.Equal(t, 2, failed)
	require.Equal(t, "first", noted)
	require.Equal(t, 3, ranked)

	// Conditions over JSON, with NULL (an absent attribute) taken as not holding.
	_, err = db.Core.ExecContext(ctx, "ALTER TABLE dialect_probe ADD COLUMN attrs TEXT NULL")
	require.NoError(t, err)
	_, err = db.Core.ExecContext(ctx, `UPDATE dialect_probe SET attrs = CASE name WHEN 'a' THEN '{"vip": true, "n": 5, "s": "50%_off"}' WHEN 'b' THEN '{"vip": false, "s": "50%Xoff"}' END`)
	require.NoError(t, err)
	names := func(cond string, args ...any) []string {
		rows, err := db.Core.QueryContext(ctx, m.Rebind("SELECT name FROM dialect_probe WHERE "+cond+" ORDER BY name"), args...)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			require.NoError(t, rows.Scan(&n))
			out = append(out, n)
		}
		require.NoError(t, rows.Err())
		return out
	}
	vip, vipArgs := m.JSONIsTrue("attrs", `$."vip"`)
	require.Equal(t, []string{"a"}, names(vip, vipArgs...))
	require.Equal(t, []string{"b", "c"}, names(m.NotTrue(vip), vipArgs...))
	n, nArgs := m.JSONValue("attrs", `$."n"`, true)
	require.Equal(t, []string{"b", "c"}, names(m.Differs(n, "?"), append(nArgs, 5)...))
	sv, sArgs := m.JSONValue("attrs", `$."s"`, false)
	require.Equal(t, []string{"a"}, names(sv+" LIKE ?"+m.LikeEscape(), append(sArgs, `50\%\_%`)...))
	require.Equal(t, []string{"a", "b", "c"}, names(m.Bool(true)))
	require.Empty(t, names(m.Bool(false)))

	var contains, patched string
	require.NoError(t, db.Core.QueryRowContext(ctx, "SELECT "+m.If(m.JSONContains(`'{"a": 1, "b": 2}'`, `'{"a": 1}'`), "'yes'", "'no'")+", "+
		m.JSONMergePatch(`'{"a": 1, "b": 2}'`, `'{"b": null, "c": 3}'`)).Scan(&contains, &patched))
	require.Equal(t, "yes", contains)
	require.JSONEq(t, `{"a": 1, "c": 3}`, patched)

	// A named lock is exclusive between sessions until released.
	c1, err := db.Core.Conn(ctx)
	require.NoError(t, err)
	defer c1.Close()
	c2, err := db.Core.Conn(ctx)
	require.NoError(t, err)
	defer c2.Close()
	lock := "probe_" + storetest.Prefix()
	release, err := m.Lock(ctx, c1, lock, time.Second)
	require.NoError(t, err)
	_, err = m.Lock(ctx, c2, lock, 0)
	require.ErrorContains(t, err, "held elsewhere")
	release()
	release2, err := m.Lock(ctx, c2, lock, 0)
	require.NoError(t, err)
	release2()

	_, err = db.Core.QueryContext(ctx, "SELECT 1 FROM no_such_table")
	require.True(t, m.MissingTable(err), "%v", err)
	require.False(t, m.Retryable(err))
	require.False(t, m.Duplicate(err))
}

// oraError is an error of the Oracle driver: it has the ORA- number as Code.
type oraError int

func (e oraError) Error() string { return fmt.Sprintf("ORA-%05d", int(e)) }
func (e oraError) Code() int     { return int(e) }

func TestOracleErrorsAreReadByNumber(t *testing.T) {
	t.Parallel()
	o := store.Oracle{}
	dup := fmt.Errorf("error creating app: %w", oraError(1))
	require.True(t, o.Duplicate(dup))
	require.False(t, o.Retryable(dup))
	require.False(t, o.MissingTable(dup))
	require.True(t, o.MissingTable(oraError(942)))
	require.False(t, o.Duplicate(oraError(942)))
	require.True(t, o.Retryable(oraError(60)))
	require.False(t, o.Duplicate(fmt.Errorf("plain")))
	require.False(t, store.MySQL{}.Duplicate(dup))
}

// TestHistoryEngine checks the engine the history migrations pick: ROCKSDB when the server
// has it, InnoDB otherwise (see docs/architecture.md, "History storage engine").
func TestHistoryEngine(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	var rocks int
	require.NoError(t, db.History[0].QueryRowContext(t.Context(), "SELECT COUNT(*) FROM information_schema.engines WHERE engine = 'ROCKSDB' AND support IN ('YES', 'DEFAULT')").Scan(&rocks))
	want := "InnoDB"
	if rocks > 0 {
		want = "ROCKSDB"
	}
	for i, h := range db.History {
		var engine string
		require.NoError(t, h.QueryRowContext(t.Context(), "SELECT engine FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'history'").Scan(&engine))
		require.Equal(t, want, engine, "history shard %d", i)
	}
}
