package account

import (
	"testing"

	"github.com/herald-msg/herald/store/storetest"
)

// TestStatementsGolden compares the text of this package's dialect-dependent statements with
// store/testdata/<dialect>/account_*.sql (go test ./account/ -run Golden -update rewrites them).
func TestStatementsGolden(t *testing.T) {
	t.Parallel()
	for _, dl := range storetest.Dialects {
		storetest.GoldenStatements(t, dl, "account", map[string]string{
			"session_secret":      sessionSecretSQL(dl),
			"inbox_secret":        inboxSecretSQL(dl),
			"audit_log":           auditLogSQL(dl, "SELECT id, at, actor, action, app_id, target, remote_addr FROM audit_log WHERE 1=1 AND app_id = ? AND id < ?"),
			"create_app":          storetest.InsertIDSQL(dl, createAppSQL),
			"create_console_user": storetest.InsertIDSQL(dl, createConsoleUserSQL),
		})
	}
}
