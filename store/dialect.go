package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Dialect is every piece of SQL that differs between the servers Herald runs on: MariaDB/MySQL
// (the default) and Oracle. Statements are written with "?" placeholders and passed through
// Rebind last; the methods below return fragments or whole statements in the same convention.
// Generating SQL never needs a driver, so both dialects are tested in the default build.
//
// Day tables: on MySQL each day of delivery detail is its own table, delivery_YYYYMMDD, created
// ahead of time and dropped whole. On Oracle they are the daily interval partitions of one
// table, delivery, partitioned on its day column: DayTable names a day's rows as an inline view
// the optimiser prunes to one partition, creating a day materialises its partition, and
// dropping a day drops the partition.
type Dialect interface {
	// Name is "mysql" or "oracle".
	Name() string
	// Quote quotes an identifier, keeping the case the unquoted name has on the server.
	Quote(ident string) string
	// Rebind rewrites the "?" placeholders of q, outside string literals, into the
	// dialect's own.
	Rebind(q string) string

	// Limit is the clause that ends an ordered query after n rows ("?" or a number).
	Limit(n string) string
	// Page is the clause that skips then returns rows; its two placeholders take the
	// offset first, then the row count.
	Page() string
	// RowsAfter is the keyset condition (cols) > (vals) and the arguments it binds.
	RowsAfter(cols []string, vals []any) (string, []any)
	// FromDual ends a SELECT of constants.
	FromDual() string

	// Insert inserts rows rows of cols into table in one statement.
	Insert(table string, cols []string, rows int) string
	// InsertIgnore inserts rows rows of cols into table, skipping those whose key exists.
	InsertIgnore(table string, cols []string, rows int, key []string) string
	// Upsert inserts rows rows of cols into table; a row whose key exists gets the new values
	// of the update columns instead.
	Upsert(table string, cols []string, rows int, key, update []string) string
	// UpsertSet inserts rows rows of cols into table; a row whose key exists gets the
	// assignments of set instead, each "col = expr", where expr reads the stored value of a
	// column as Stored(col) and the value the new row brings as Inserted(col). MySQL runs
	// the assignments in order, each seeing those before it, Oracle on the stored row: an
	// assignment must not read a column assigned before it.
	UpsertSet(table string, cols []string, rows int, key, set []string) string
	// Stored is a column's stored value in an assignment of UpsertSet.
	Stored(col string) string
	// Inserted is the value the new row brings for a column in an assignment of UpsertSet.
	Inserted(col string) string
	// UpdateFrom updates table (alias t) from the rows of source (alias s, a SELECT): rows
	// matched by on and kept by filter get the assignments of set, each of which sees the
	// values the row had before the statement.
	UpdateFrom(table, source, on, filter string, set []string) string
	// UpsertAdd inserts rows rows of cols into table; a row whose key exists has the new
	// values of the add columns added to its own instead.
	UpsertAdd(table string, cols []string, rows int, key, add []string) string
	// DeleteFirst deletes, of the rows of table that where keeps, the first n ("?" or a
	// number) in order (no order: any n); key is the table's primary key.
	DeleteFirst(table, where, order, n string, key []string) string

	// AutoID is the definition of a generated BIGINT primary key column (AUTO_INCREMENT,
	// or an identity column).
	AutoID() string
	// InsertID runs insert (whose table has an AutoID column named id) and returns the id.
	// insert keeps its "?" placeholders: InsertID rebinds it after adding what it needs.
	InsertID(ctx context.Context, db Execer, insert string, args ...any) (int64, error)

	// If is cond ? a : b.
	If(cond, a, b string) string
	// CountIf counts the rows where cond holds (NULL for no rows on some servers).
	CountIf(cond string) string
	// Rank is the 1-based position of expr in values, 0 when absent.
	Rank(expr string, values []string) string
	// NotEmpty holds when the string expr has characters (Oracle stores '' as NULL).
	NotEmpty(expr string) string
	// JSONContains holds when the JSON document doc already holds everything of candidate,
	// so that JSONMergePatch(doc, candidate) changes nothing.
	JSONContains(doc, candidate string) string
	// JSONMergePatch is the JSON document doc with patch applied (RFC 7396).
	JSONMergePatch(doc, patch string) string
	// JSONValue is the scalar at path ($."name") of the JSON document doc, NULL when absent,
	// as a number when number is set, with the arguments it binds.
	JSONValue(doc, path string, number bool) (string, []any)
	// JSONIsTrue holds when the value at path of the JSON document doc is true.
	JSONIsTrue(doc, path string) (string, []any)
	// Bool is a condition that always (b) or never holds.
	Bool(b bool) string
	// NotTrue holds when cond does not hold, NULL (unknown) included.
	NotTrue(cond string) string
	// Differs holds when a and b differ, a NULL differing from any value.
	Differs(a, b string) string
	// LikeEscape ends a LIKE whose pattern escapes %, _ and itself with a backslash.
	LikeEscape() string
	// DayText is the day (YYYY-MM-DD) of the time expr shifted by offset seconds.
	DayText(expr string, offset int) string
	// HourOf is the hour (0-23) of the time expr shifted by offset seconds.
	HourOf(expr string, offset int) string
	// QuarterHours is the number of whole quarter hours from 2000-01-01 00:00:00 to the time
	// expr (taken as UTC), an integer whatever the session's time zone.
	QuarterHours(expr string) string

	// DayTable names the delivery detail of day (YYYYMMDD) in FROM and UPDATE.
	DayTable(day string) string
	// InsertDayIgnore inserts rows rows of cols into the detail of day, skipping existing ids.
	InsertDayIgnore(day string, cols []string, rows int) string
	// UpdateDayFrom is UpdateFrom on the detail of day.
	UpdateDayFrom(day, source, on, filter string, set []string) string
	// CreateDay makes the detail of day ready for writes; it is harmless when it is.
	CreateDay(day string) string
	// ListDays lists the days that have detail: each row is a name and a bound that DayOf reads.
	ListDays() string
	// DayOf is the day of a row of ListDays.
	DayOf(name, bound string) (string, bool)
	// DropDay removes the detail of day.
	DropDay(day string) string
	// ShareLockDay makes a query of the detail of day lock the rows it reads in share mode
	// until the transaction ends, so that writers wait: lock is a statement to run first in
	// the transaction ("" for none) and suffix ends the query ("" for none).
	ShareLockDay(day string) (lock, suffix string)

	// LockSQL takes a named lock for this session within a timeout; UnlockSQL releases it.
	// On MySQL LockSQL is a query of (name, timeout seconds) answering 1; on Oracle a PL/SQL
	// block of (name, out result, timeout seconds) whose result is 0 on success. Lock runs them.
	LockSQL() string
	UnlockSQL() string
	Lock(ctx context.Context, conn *sql.Conn, name string, timeout time.Duration) (release func(), err error)

	// MissingTable reports whether err says a table does not exist.
	MissingTable(err error) bool
	// Retryable reports whether err is a deadlock or a lock wait timeout worth a retry.
	Retryable(err error) bool
	// Duplicate reports whether err says a row with the same primary or unique key exists.
	Duplicate(err error) bool
}

// Execer is a *sql.DB, *sql.Tx or *sql.Conn.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// DialectFor returns the dialect of a driver name: "mysql" (or empty) or "oracle".
func DialectFor(driver string) (Dialect, error) {
	switch strings.ToLower(driver) {
	case "", "mysql", "mariadb":
		return MySQL{}, nil
	case "oracle":
		return Oracle{}, nil
	}
	return nil, fmt.Errorf("unknown database driver %q: use mysql or oracle", driver)
}

// A column of InsertIgnore, Upsert and InsertDayIgnore may carry its Oracle type after a space,
// "sent_at TIMESTAMP(3)": Oracle then casts the bind, which a NULL in a multi-row statement needs.
func colName(c string) string {
	name, _, _ := strings.Cut(c, " ")
	return name
}

// joinCols is the names of cols, each after prefix, comma-separated.
func joinCols(prefix string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = prefix + colName(c)
	}
	return strings.Join(out, ", ")
}

// MySQL is the dialect of MariaDB and MySQL.
type MySQL struct{}

func (MySQL) Name() string { return "mysql" }

func (MySQL) Quote(ident string) string { return "`" + strings.ReplaceAll(ident, "`", "``") + "`" }

func (MySQL) Rebind(q string) string { return q }

func (MySQL) Limit(n string) string { return " LIMIT " + n }

func (MySQL) Page() string { return " LIMIT ?, ?" }

func (MySQL) RowsAfter(cols []string, vals []any) (string, []any) {
	return "(" + strings.Join(cols, ", ") + ") > (" + Placeholders(len(vals)) + ")", vals
}

func (MySQL) FromDual() string { return "" }

func valuesRows(cols, rows int) string {
	row := "(" + Placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

func (MySQL) Insert(table string, cols []string, rows int) string {
	return "INSERT INTO " + table + " (" + joinCols("", cols) + ") VALUES " + valuesRows(len(cols), rows)
}

func (MySQL) InsertIgnore(table string, cols []string, rows int, _ []string) string {
	return "INSERT IGNORE INTO " + table + " (" + joinCols("", cols) + ") VALUES " + valuesRows(len(cols), rows)
}

func (MySQL) Upsert(table string, cols []string, rows int, _, update []string) string {
	sets := make([]string, len(update))
	for i, c := range update {
		sets[i] = colName(c) + " = VALUES(" + colName(c) + ")"
	}
	return "INSERT INTO " + table + " (" + joinCols("", cols) + ") VALUES " + valuesRows(len(cols), rows) +
		" ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
}

func (MySQL) UpsertSet(table string, cols []string, rows int, _, set []string) string {
	return "INSERT INTO " + table + " (" + joinCols("", cols) + ") VALUES " + valuesRows(len(cols), rows) +
		" ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
}

func (MySQL) Stored(col string) string { return col }

func (MySQL) Inserted(col string) string { return "VALUES(" + col + ")" }

func (MySQL) UpdateFrom(table, source, on, filter string, set []string) string {
	if filter != "" {
		on += " AND " + filter
	}
	return "UPDATE " + table + " t JOIN (" + source + ") s ON " + on + " SET " + strings.Join(set, ", ")
}

func (MySQL) UpsertAdd(table string, cols []string, rows int, _, add []string) string {
	sets := make([]string, len(add))
	for i, c := range add {
		sets[i] = colName(c) + " = " + colName(c) + " + VALUES(" + colName(c) + ")"
	}
	return "INSERT INTO " + table + " (" + joinCols("", cols) + ") VALUES " + valuesRows(len(cols), rows) +
		" ON DUPLICATE KEY UPDATE " + strings.Join(sets, ", ")
}

func (MySQL) DeleteFirst(table, where, order, n string, _ []string) string {
	q := "DELETE FROM " + table + " WHERE " + where
	if order != "" {
		q += " ORDER BY " + order
	}
	return q + " LIMIT " + n
}

func (MySQL) AutoID() string { return "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY" }

func (MySQL) InsertID(ctx context.Context, db Execer, insert string, args ...any) (int64, error) {
	res, err := db.ExecContext(ctx, insert, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (MySQL) If(cond, a, b string) string { return "IF(" + cond + ", " + a + ", " + b + ")" }

func (MySQL) CountIf(cond string) string { return "SUM(" + cond + ")" }

func (MySQL) Rank(expr string, values []string) string {
	return "FIELD(" + expr + ", " + quoteList(values) + ")"
}

func (MySQL) NotEmpty(expr string) string { return expr + " <> ''" }

func (MySQL) JSONContains(doc, candidate string) string {
	return "JSON_CONTAINS(" + doc + ", " + candidate + ")"
}

func (MySQL) JSONMergePatch(doc, patch string) string {
	return "JSON_MERGE_PATCH(" + doc + ", " + patch + ")"
}

func (MySQL) JSONValue(doc, path string, number bool) (string, []any) {
	if number {
		return "CAST(JSON_VALUE(" + doc + ", ?) AS DECIMAL(38,10))", []any{path}
	}
	return "JSON_VALUE(" + doc + ", ?)", []any{path}
}

func (MySQL) JSONIsTrue(doc, path string) (string, []any) {
	return "(JSON_EXTRACT(" + doc + ", ?) = TRUE)", []any{path}
}

func (MySQL) Bool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

func (MySQL) NotTrue(cond string) string { return "NOT COALESCE(" + cond + ", FALSE)" }

func (MySQL) Differs(a, b string) string { return "(NOT " + a + " <=> " + b + ")" }

// LikeEscape is empty: the backslash is MySQL's escape character already.
func (MySQL) LikeEscape() string { return "" }

func (MySQL) DayText(expr string, offset int) string {
	return fmt.Sprintf("DATE_FORMAT(%s + INTERVAL %d SECOND, '%%Y-%%m-%%d')", expr, offset)
}

func (MySQL) HourOf(expr string, offset int) string {
	return fmt.Sprintf("HOUR(%s + INTERVAL %d SECOND)", expr, offset)
}

// QuarterHours truncates like the division of whole minutes it is.
func (MySQL) QuarterHours(expr string) string {
	return "TIMESTAMPDIFF(MINUTE, '2000-01-01 00:00:00', " + expr + ") DIV 15"
}

func (MySQL) DayTable(day string) string { return DayTable(day) }

func (m MySQL) InsertDayIgnore(day string, cols []string, rows int) string {
	return m.InsertIgnore(DayTable(day), cols, rows, []string{"id"})
}

func (m MySQL) UpdateDayFrom(day, source, on, filter string, set []string) string {
	return m.UpdateFrom(DayTable(day), source, on, filter, set)
}

func (MySQL) CreateDay(day string) string {
	return "CREATE TABLE IF NOT EXISTS " + DayTable(day) + " LIKE delivery_template"
}

func (MySQL) ListDays() string {
	return `SELECT table_name, '' FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE 'delivery\_%'`
}

func (MySQL) DayOf(name, _ string) (string, bool) {
	day, ok := strings.CutPrefix(name, "delivery_")
	if !ok || len(day) != 8 {
		return "", false
	}
	if _, err := time.Parse(DayFormat, day); err != nil {
		return "", false
	}
	return day, true
}

func (m MySQL) DropDay(day string) string { return "DROP TABLE IF EXISTS " + m.Quote(DayTable(day)) }

func (MySQL) ShareLockDay(string) (string, string) { return "", " LOCK IN SHARE MODE" }

func (MySQL) LockSQL() string { return "SELECT GET_LOCK(?, ?)" }

func (MySQL) UnlockSQL() string { return "SELECT RELEASE_LOCK(?)" }

func (m MySQL) Lock(ctx context.Context, conn *sql.Conn, name string, timeout time.Duration) (func(), error) {
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, m.LockSQL(), name, int(timeout.Seconds())).Scan(&got); err != nil {
		return nil, err
	}
	if got.Int64 != 1 {
		return nil, fmt.Errorf("lock %s is held elsewhere after %s", name, timeout)
	}
	return func() { conn.ExecContext(context.WithoutCancel(ctx), m.UnlockSQL(), name) }, nil //nolint:errcheck
}

func (MySQL) MissingTable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1146
}

func (MySQL) Retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

func (MySQL) Duplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

func quoteList(values []string) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return strings.Join(out, ",")
}

// Oracle is the dialect of Oracle Database 19c and later. Its connections need the driver of
// the oracle build tag (store/oracle.go); the SQL does not.
type Oracle struct{}

func (Oracle) Name() string { return "oracle" }

// Quote upper-cases: unquoted Oracle names are stored in upper case.
func (Oracle) Quote(ident string) string {
	return `"` + strings.ReplaceAll(strings.ToUpper(ident), `"`, `""`) + `"`
}

// Rebind numbers the placeholders :1, :2, … in order, leaving string literals and quoted
// identifiers alone.
func (Oracle) Rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (Oracle) Limit(n string) string { return " FETCH FIRST " + n + " ROWS ONLY" }

func (Oracle) Page() string { return " OFFSET ? ROWS FETCH NEXT ? ROWS ONLY" }

// RowsAfter expands (a, b) > (x, y) into a > x OR (a = x AND b > y): Oracle has no row
// comparison beyond equality.
func (Oracle) RowsAfter(cols []string, vals []any) (string, []any) {
	var ors []string
	var args []any
	for i := range cols {
		var ands []string
		for k := range i {
			ands = append(ands, cols[k]+" = ?")
			args = append(args, vals[k])
		}
		ands = append(ands, cols[i]+" > ?")
		args = append(args, vals[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args
}

func (Oracle) FromDual() string { return " FROM dual" }

// sourceRows is rows rows of cols as a UNION ALL of SELECTs from dual, each column named.
func sourceRows(cols []string, rows int, lead string) string {
	named := make([]string, len(cols))
	for i, c := range cols {
		if name, typ, ok := strings.Cut(c, " "); ok {
			named[i] = "CAST(? AS " + typ + ") AS " + name
		} else {
			named[i] = "? AS " + c
		}
	}
	row := "SELECT " + lead + strings.Join(named, ", ") + " FROM dual"
	return strings.TrimSuffix(strings.Repeat(row+" UNION ALL ", rows), " UNION ALL ")
}

func keyOn(key []string) string {
	on := make([]string, len(key))
	for i, k := range key {
		on[i] = "t." + colName(k) + " = s." + colName(k)
	}
	return strings.Join(on, " AND ")
}

// Insert selects the rows from dual: Oracle's VALUES takes one row.
func (Oracle) Insert(table string, cols []string, rows int) string {
	return "INSERT INTO " + table + " (" + joinCols("", cols) + ") " + sourceRows(cols, rows, "")
}

func (o Oracle) InsertIgnore(table string, cols []string, rows int, key []string) string {
	return "MERGE INTO " + table + " t USING (" + sourceRows(cols, rows, "") + ") s ON (" + keyOn(key) +
		") WHEN NOT MATCHED THEN INSERT (" + joinCols("", cols) + ") VALUES (" + joinCols("s.", cols) + ")"
}

func (o Oracle) Upsert(table string, cols []string, rows int, key, update []string) string {
	sets := make([]string, len(update))
	for i, c := range update {
		sets[i] = "t." + colName(c) + " = s." + colName(c)
	}
	return "MERGE INTO " + table + " t USING (" + sourceRows(cols, rows, "") + ") s ON (" + keyOn(key) +
		") WHEN MATCHED THEN UPDATE SET " + strings.Join(sets, ", ") +
		" WHEN NOT MATCHED THEN INSERT (" + joinCols("", cols) + ") VALUES (" + joinCols("s.", cols) + ")"
}

// UpsertSet is a MERGE whose WHEN MATCHED assigns set to the target row t.
func (o Oracle) UpsertSet(table string, cols []string, rows int, key, set []string) string {
	sets := make([]string, len(set))
	for i, a := range set {
		sets[i] = "t." + strings.TrimSpace(a)
	}
	return "MERGE INTO " + table + " t USING (" + sourceRows(cols, rows, "") + ") s ON (" + keyOn(key) +
		") WHEN MATCHED THEN UPDATE SET " + strings.Join(sets, ", ") +
		" WHEN NOT MATCHED THEN INSERT (" + joinCols("", cols) + ") VALUES (" + joinCols("s.", cols) + ")"
}

func (Oracle) Stored(col string) string { return "t." + col }

func (Oracle) Inserted(col string) string { return "s." + col }

// UpdateFrom is a MERGE: the filter goes to the WHERE of its update, since Oracle does not
// let a MERGE update a column its ON clause reads.
func (o Oracle) UpdateFrom(table, source, on, filter string, set []string) string {
	q := "MERGE INTO " + table + " t USING (" + source + ") s ON (" + on + ") WHEN MATCHED THEN UPDATE SET " + strings.Join(set, ", ")
	if filter != "" {
		q += " WHERE " + filter
	}
	return q
}

func (o Oracle) UpsertAdd(table string, cols []string, rows int, key, add []string) string {
	sets := make([]string, len(add))
	for i, c := range add {
		sets[i] = "t." + colName(c) + " = t." + colName(c) + " + s." + colName(c)
	}
	return "MERGE INTO " + table + " t USING (" + sourceRows(cols, rows, "") + ") s ON (" + keyOn(key) +
		") WHEN MATCHED THEN UPDATE SET " + strings.Join(sets, ", ") +
		" WHEN NOT MATCHED THEN INSERT (" + joinCols("", cols) + ") VALUES (" + joinCols("s.", cols) + ")"
}

// DeleteFirst bounds the DELETE with ROWNUM; with an order, ROWNUM counts the rows of an
// ordered inline view of the keys, since ROWNUM is given before ORDER BY sorts.
func (Oracle) DeleteFirst(table, where, order, n string, key []string) string {
	if order == "" {
		return "DELETE FROM " + table + " WHERE " + where + " AND ROWNUM <= " + n
	}
	k := strings.Join(key, ", ")
	return "DELETE FROM " + table + " WHERE (" + k + ") IN (SELECT " + k + " FROM (SELECT " + k + " FROM " + table +
		" WHERE " + where + " ORDER BY " + order + ") WHERE ROWNUM <= " + n + ")"
}

func (Oracle) AutoID() string { return "NUMBER(19) GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" }

// ReturningID is insert with the clause that hands the generated id to a last, out bind.
func (o Oracle) ReturningID(insert string) string { return o.Rebind(insert + " RETURNING id INTO ?") }

// InsertID binds the id of RETURNING … INTO: Oracle has no LastInsertId.
func (o Oracle) InsertID(ctx context.Context, db Execer, insert string, args ...any) (int64, error) {
	var id int64
	if _, err := db.ExecContext(ctx, o.ReturningID(insert), append(args, sql.Out{Dest: &id})...); err != nil {
		return 0, err
	}
	return id, nil
}

func (Oracle) If(cond, a, b string) string {
	return "CASE WHEN " + cond + " THEN " + a + " ELSE " + b + " END"
}

func (Oracle) CountIf(cond string) string { return "SUM(CASE WHEN " + cond + " THEN 1 ELSE 0 END)" }

func (Oracle) Rank(expr string, values []string) string {
	parts := make([]string, 0, 2*len(values))
	for i, v := range values {
		parts = append(parts, quoteList([]string{v}), strconv.Itoa(i+1))
	}
	return "DECODE(" + expr + ", " + strings.Join(parts, ", ") + ", 0)"
}

func (Oracle) NotEmpty(expr string) string { return expr + " IS NOT NULL" }

// JSONContains: Oracle has no JSON_CONTAINS; a document holds a candidate when patching it
// with the candidate leaves it equal to itself.
func (o Oracle) JSONContains(doc, candidate string) string {
	return "JSON_EQUAL(" + o.JSONMergePatch(doc, candidate) + ", " + doc + ")"
}

// JSONMergePatch returns a CLOB: the default VARCHAR2(4000) would cut large documents.
func (Oracle) JSONMergePatch(doc, patch string) string {
	return "JSON_MERGEPATCH(" + doc + ", " + patch + " RETURNING CLOB)"
}

// JSONValue writes the path as a literal: Oracle takes no bind there. A value that is not a
// number reads as NULL when a number is asked for.
func (Oracle) JSONValue(doc, path string, number bool) (string, []any) {
	if number {
		return "JSON_VALUE(" + doc + ", " + quoteList([]string{path}) + " RETURNING NUMBER NULL ON ERROR)", nil
	}
	return "JSON_VALUE(" + doc + ", " + quoteList([]string{path}) + " RETURNING VARCHAR2(4000) NULL ON ERROR)", nil
}

func (Oracle) JSONIsTrue(doc, path string) (string, []any) {
	return "JSON_EXISTS(" + doc + ", " + quoteList([]string{path + "?(@ == true)"}) + ")", nil
}

// Bool is a comparison: Oracle SQL has no boolean values before 23ai.
func (Oracle) Bool(b bool) string {
	if b {
		return "1 = 1"
	}
	return "1 = 0"
}

func (Oracle) NotTrue(cond string) string { return "(CASE WHEN " + cond + " THEN 0 ELSE 1 END = 1)" }

// Differs uses DECODE, which takes two NULLs as equal.
func (Oracle) Differs(a, b string) string { return "(DECODE(" + a + ", " + b + ", 0, 1) = 1)" }

func (Oracle) LikeEscape() string { return ` ESCAPE '\'` }

func (Oracle) DayText(expr string, offset int) string {
	return fmt.Sprintf("TO_CHAR(%s + NUMTODSINTERVAL(%d, 'SECOND'), 'YYYY-MM-DD')", expr, offset)
}

func (Oracle) HourOf(expr string, offset int) string {
	return fmt.Sprintf("EXTRACT(HOUR FROM %s + NUMTODSINTERVAL(%d, 'SECOND'))", expr, offset)
}

// QuarterHours counts whole days between DATEs (exact) and the quarter hours of the day from
// the fields of expr, so no fraction of a day is ever rounded.
func (Oracle) QuarterHours(expr string) string {
	return "((TRUNC(CAST(" + expr + " AS DATE)) - DATE '2000-01-01') * 96 + EXTRACT(HOUR FROM " + expr + ") * 4 + TRUNC(EXTRACT(MINUTE FROM " + expr + ") / 15))"
}

// oracleDate is the DATE literal of a YYYYMMDD day; an invalid day yields a literal Oracle
// rejects rather than a wrong day.
func oracleDate(day string) string {
	t, err := time.Parse(DayFormat, day)
	if err != nil {
		return "DATE 'invalid'"
	}
	return "DATE '" + t.Format(time.DateOnly) + "'"
}

// DayTable is an inline view of the day's partition: updatable, and pruned to one partition.
func (Oracle) DayTable(day string) string {
	return "(SELECT * FROM delivery WHERE day = " + oracleDate(day) + ")"
}

func (o Oracle) InsertDayIgnore(day string, cols []string, rows int) string {
	return "MERGE INTO delivery t USING (" + sourceRows(cols, rows, oracleDate(day)+" AS day, ") +
		") s ON (t.day = s.day AND t.id = s.id) WHEN NOT MATCHED THEN INSERT (day, " + joinCols("", cols) +
		") VALUES (s.day, " + joinCols("s.", cols) + ")"
}

func (o Oracle) UpdateDayFrom(day, source, on, filter string, set []string) string {
	return o.UpdateFrom("delivery", source, "t.day = "+oracleDate(day)+" AND "+on, filter, set)
}

// CreateDay materialises the day's interval partition ahead of the first insert.
func (Oracle) CreateDay(day string) string {
	return "LOCK TABLE delivery PARTITION FOR (" + oracleDate(day) + ") IN SHARE MODE"
}

// ListDays lists the materialised daily partitions with their upper bound, the next day.
func (Oracle) ListDays() string {
	return "SELECT partition_name, high_value FROM user_tab_partitions WHERE table_name = 'DELIVERY' AND interval = 'YES'"
}

// DayOf reads a bound such as TO_DATE(' 2026-11-28 00:00:00', 'SYYYY-MM-DD HH24:MI:SS', …),
// the exclusive upper bound of the partition, and returns the day before it.
func (Oracle) DayOf(_, bound string) (string, bool) {
	_, rest, ok := strings.Cut(bound, "'")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if len(rest) < 10 {
		return "", false
	}
	t, err := time.Parse(time.DateOnly, rest[:10])
	if err != nil {
		return "", false
	}
	return t.AddDate(0, 0, -1).Format(DayFormat), true
}

func (Oracle) DropDay(day string) string {
	return "ALTER TABLE delivery DROP PARTITION FOR (" + oracleDate(day) + ") UPDATE INDEXES"
}

// ShareLockDay locks the day's partition in share mode (Oracle has no shared row locks in a
// SELECT, and FOR UPDATE does not go with GROUP BY): writers of that day wait for the
// transaction, readers do not.
func (Oracle) ShareLockDay(day string) (string, string) {
	return "LOCK TABLE delivery PARTITION FOR (" + oracleDate(day) + ") IN SHARE MODE", ""
}

// LockSQL uses DBMS_LOCK (EXECUTE on it must be granted to Herald's user); the lock is held
// by the session until released.
func (Oracle) LockSQL() string {
	return "DECLARE h VARCHAR2(128); BEGIN DBMS_LOCK.ALLOCATE_UNIQUE(:1, h); :2 := DBMS_LOCK.REQUEST(h, DBMS_LOCK.X_MODE, :3, FALSE); END;"
}

func (Oracle) UnlockSQL() string {
	return "DECLARE h VARCHAR2(128); r INTEGER; BEGIN DBMS_LOCK.ALLOCATE_UNIQUE(:1, h); r := DBMS_LOCK.RELEASE(h); END;"
}

func (o Oracle) Lock(ctx context.Context, conn *sql.Conn, name string, timeout time.Duration) (func(), error) {
	var got int64
	// Binds go by position, in the order they appear.
	if _, err := conn.ExecContext(ctx, o.LockSQL(), name, sql.Out{Dest: &got}, int(timeout.Seconds())); err != nil {
		return nil, err
	}
	// 0 is success, 4 means this session already holds it.
	if got != 0 && got != 4 {
		return nil, fmt.Errorf("lock %s not taken: DBMS_LOCK.REQUEST answered %d", name, got)
	}
	return func() { conn.ExecContext(context.WithoutCancel(ctx), o.UnlockSQL(), name) }, nil //nolint:errcheck
}

// oraCode is the ORA- number of an error of the Oracle driver, or 0.
func oraCode(err error) int {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		return coded.Code()
	}
	return 0
}

func (Oracle) MissingTable(err error) bool { return oraCode(err) == 942 }

// Retryable: ORA-00060 deadlock, ORA-30006 resource busy with a wait timeout.
func (Oracle) Retryable(err error) bool { c := oraCode(err); return c == 60 || c == 30006 }

// Duplicate: ORA-00001 unique constraint violated.
func (Oracle) Duplicate(err error) bool { return oraCode(err) == 1 }

// Text scans a string column that may hold NULL into s, NULL as "": Oracle stores ” as NULL.
func Text(s *string) sql.Scanner { return (*nullText)(s) }

type nullText string

func (t *nullText) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*t = ""
	case string:
		*t = nullText(x)
	case []byte:
		*t = nullText(x)
	default:
		return fmt.Errorf("cannot scan %T into a string", v)
	}
	return nil
}
