package storetest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
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
