package rule

import (
	"testing"

	"github.com/herald-msg/herald/store/storetest"
)

// TestStatementsGolden compares the text of this package's dialect-dependent statements with
// store/testdata/<dialect>/rule_*.sql (go test ./rule/ -run Golden -update rewrites them).
func TestStatementsGolden(t *testing.T) {
	t.Parallel()
	for _, dl := range storetest.Dialects {
		storetest.GoldenStatements(t, dl, "rule", map[string]string{
			"get":    getSQL(dl),
			"create": storetest.InsertIDSQL(dl, createSQL),
		})
	}
}
