package account

import "github.com/herald-msg/herald/store"

// The statements of this package that differ between MySQL and Oracle, built through the
// store's dialect; their text is compared with store/testdata/{mysql,oracle}/account_*.sql by
// TestStatementsGolden (go test ./account/ -run Golden -update rewrites the files).

// settingsKey is the key of the settings table.
var settingsKey = []string{"name"}

// sessionSecretSQL stores a setting (name, value) unless it exists: the first process to start
// picks the session secret.
func sessionSecretSQL(dl store.Dialect) string {
	return dl.Rebind(dl.InsertIgnore("settings", []string{"name", "value"}, 1, settingsKey))
}

// inboxSecretSQL stores a setting (name, value), replacing its value.
func inboxSecretSQL(dl store.Dialect) string {
	return dl.Rebind(dl.Upsert("settings", []string{"name", "value"}, 1, settingsKey, []string{"value"}))
}

// auditLogSQL ends the audit log query q, newest first, with its row count as last argument.
func auditLogSQL(dl store.Dialect, q string) string {
	return dl.Rebind(q + " ORDER BY id DESC" + dl.Limit("?"))
}

// createAppSQL inserts an app (name, created_at); Dialect.InsertID runs it.
const createAppSQL = "INSERT INTO apps (name, created_at) VALUES (?, ?)"

// createConsoleUserSQL inserts a console user (email, password_hash, role, all_apps,
// created_at); Dialect.InsertID runs it.
const createConsoleUserSQL = "INSERT INTO console_users (email, password_hash, role, all_apps, created_at) VALUES (?, ?, ?, ?, ?)"
