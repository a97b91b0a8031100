package rule

import "github.com/herald-msg/herald/store"

// The statements of this package that differ between MySQL and Oracle, built through the
// store's dialect; their text is compared with store/testdata/{mysql,oracle}/rule_*.sql by
// TestStatementsGolden (go test ./rule/ -run Golden -update rewrites the files).

// getSQL reads a rule at a version (id, version, version); version 0 is the latest.
func getSQL(dl store.Dialect) string {
	return dl.Rebind(`SELECT r.app_id, r.name, v.version, v.routes, v.variables FROM rules r
		JOIN rule_versions v ON v.rule_id = r.id WHERE r.id = ? AND v.version = ` + dl.If("? = 0", "r.version", "?"))
}

// createSQL inserts a rule (app_id, name, at, at); Dialect.InsertID runs it.
const createSQL = "INSERT INTO rules (app_id, name, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)"
