package storetest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-msg/herald/store"
)

var update = flag.Bool("update", false, "rewrite the golden files of SQL statements with what the code generates")

// Golden compares got with the golden file path (relative to the test's package); with
// -update it writes got there instead. The file holds the text and one final newline.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	got += "\n"
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (run the test with -update to write it)", path, err)
	}
	if string(want) != got {
		t.Errorf("the SQL differs from %s (run with -update if the change is intended):\n--- want\n%s--- got\n%s", path, want, got)
	}
}

// Dialects are the dialects every golden test writes statements in.
var Dialects = []store.Dialect{store.MySQL{}, store.Oracle{}}

// mysqlOnly is spelling that has no place in an Oracle statement.
var mysqlOnly = []string{"?", "`", " LIMIT ", "IGNORE", "IF(", "FIELD(", "DUPLICATE", "VALUES(", "LAST_INSERT_ID",
	"GET_LOCK", "NOW(", "TIMESTAMPDIFF", " DIV ", "LOCK IN", "JSON_EXTRACT", "JSON_CONTAINS", "JSON_MERGE_PATCH", "CONCAT(", "LEFT("}

// GoldenStatements compares each statement of cases, written in dialect dl, with
// ../store/testdata/<dialect>/<prefix>_<name>.sql (relative to a package of the repository's
// root), and checks that an Oracle statement holds no MySQL spelling.
func GoldenStatements(t *testing.T, dl store.Dialect, prefix string, cases map[string]string) {
	t.Helper()
	for name, got := range cases {
		t.Run(dl.Name()+"/"+name, func(t *testing.T) {
			Golden(t, "../store/testdata/"+dl.Name()+"/"+prefix+"_"+name+".sql", got)
			if dl.Name() != "oracle" {
				return
			}
			code := withoutLiterals(got)
			for _, s := range mysqlOnly {
				if strings.Contains(code, s) {
					t.Errorf("the Oracle statement holds %q:\n%s", s, got)
				}
			}
		})
	}
}

// withoutLiterals is q with the text of its string literals removed.
func withoutLiterals(q string) string {
	var b strings.Builder
	in := false
	for _, c := range q {
		if c == '\'' {
			in = !in
			b.WriteRune(c)
			continue
		}
		if !in {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// InsertIDSQL is the statement Dialect.InsertID runs for insert.
func InsertIDSQL(dl store.Dialect, insert string) string {
	if o, ok := dl.(store.Oracle); ok {
		return o.ReturningID(insert)
	}
	return dl.Rebind(insert)
}
