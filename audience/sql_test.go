package audience

import (
	"testing"

	"github.com/herald-msg/herald/store/storetest"
)

// TestStatementsGolden compares the text of this package's dialect-dependent statements with
// store/testdata/<dialect>/audience_*.sql (go test ./audience/ -run Golden -update rewrites them).
func TestStatementsGolden(t *testing.T) {
	t.Parallel()
	for _, dl := range storetest.Dialects {
		storetest.GoldenStatements(t, dl, "audience", map[string]string{
			"upsert_users":       upsertUsersSQL(dl, 2),
			"import_users":       importUsersSQL(dl, 2),
			"insert_tags":        insertTagsSQL(dl, 2),
			"insert_identities":  insertIdentitiesSQL(dl, 2),
			"insert_links":       insertLinksSQL(dl, 2),
			"insert_members":     insertMembersSQL(dl, 2),
			"insert_opt_out":     insertOptOutSQL(dl),
			"first_users":        firstUsersSQL(dl, false, false),
			"tagged_users_after": firstUsersSQL(dl, true, true),
			"iterate_after":      iterateSQL(dl, " FROM users u WHERE u.app_id = ?", true),
			"create_audience":    storetest.InsertIDSQL(dl, createAudienceSQL),
			"unbind":             dl.Rebind(unbindSQL),
			"segment": func() string {
				c, err := compileSegment(dl, `vip && !churned && age >= 30 && city == "杭州" && plan != "free" && tier in [1, 2] && `+
					`region not in ["x"] && email endsWith "_co.com" && nick == nil && true`)
				if err != nil {
					t.Fatal(err)
				}
				return dl.Rebind(c.sql)
			}(),
		})
	}
}

// TestOptOutsForEveryChannelAreNotEmptyOnOracle: Oracle's key columns cannot hold ”.
func TestOptOutsForEveryChannelAreNotEmptyOnOracle(t *testing.T) {
	t.Parallel()
	for _, dl := range storetest.Dialects {
		s := &Service{dl: dl}
		if dl.Name() == "oracle" {
			if got := s.optOutValue(""); got != "*" {
				t.Errorf("oracle stores every channel as %q, want *", got)
			}
		} else if got := s.optOutValue(""); got != "" {
			t.Errorf("%s stores every channel as %q, want ''", dl.Name(), got)
		}
		if got := s.optOutValue("SMS"); got != "SMS" {
			t.Errorf("%s stores SMS as %q", dl.Name(), got)
		}
	}
}
