package content

import "github.com/herald-msg/herald/store"

// The statements of this package that differ between MySQL and Oracle, built through the
// store's dialect; their text is compared with store/testdata/{mysql,oracle}/content_*.sql by
// TestStatementsGolden (go test ./content/ -run Golden -update rewrites the files).

// getSQL reads a template at a version (id, version, version); version 0 is the latest.
func getSQL(dl store.Dialect) string {
	return dl.Rebind(`SELECT t.app_id, t.name, v.version, v.class, v.variables, v.variants, v.created_at
		FROM templates t JOIN template_versions v ON v.template_id = t.id
		WHERE t.id = ? AND v.version = ` + dl.If("? = 0", "t.version", "?"))
}

// createSQL inserts a template (app_id, name, at, at); Dialect.InsertID runs it.
const createSQL = "INSERT INTO templates (app_id, name, version, created_at, updated_at) VALUES (?, ?, 1, ?, ?)"
