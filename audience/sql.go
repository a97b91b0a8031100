package audience

import "github.com/herald-msg/herald/store"

// The statements of this package that differ between MySQL and Oracle, built through the
// store's dialect; their text is compared with store/testdata/{mysql,oracle}/audience_*.sql by
// TestStatementsGolden (go test ./audience/ -run Golden -update rewrites the files).

var (
	userCols     = []string{"app_id", "id", "attributes CLOB", "created_at", "updated_at"}
	userKey      = []string{"app_id", "id"}
	tagCols      = []string{"app_id", "tag", "user_id"}
	identityCols = []string{"app_id", "channel", "address", "created_at"}
	identityKey  = []string{"app_id", "channel", "address"}
	linkCols     = []string{"app_id", "user_id", "identity_id", "created_at"}
	linkKey      = []string{"app_id", "user_id", "identity_id"}
	optOutCols   = []string{"app_id", "user_id", "channel", "class", "created_at"}
	optOutKey    = []string{"app_id", "user_id", "channel", "class"}
	memberCols   = []string{"audience_id", "user_id"}
)

// upsertUsersSQL writes n users (app_id, id, attributes, at, at): a user that exists keeps its
// attributes when the row has none and takes the row's updated_at.
func upsertUsersSQL(dl store.Dialect, n int) string {
	return dl.Rebind(dl.UpsertSet("users", userCols, n, userKey, []string{
		"attributes = COALESCE(" + dl.Inserted("attributes") + ", " + dl.Stored("attributes") + ")",
		"updated_at = " + dl.Inserted("updated_at"),
	}))
}

// importUsersSQL writes n users of an import, merging the row's attributes into those stored;
// a row that adds nothing leaves the user untouched, updated_at included (updated_at is
// assigned first: on MySQL it must compare against the attributes before they change).
func importUsersSQL(dl store.Dialect, n int) string {
	stored, row := "COALESCE("+dl.Stored("attributes")+", '{}')", dl.Inserted("attributes")
	same := row + " IS NULL OR " + dl.JSONContains(stored, row)
	return dl.Rebind(dl.UpsertSet("users", userCols, n, userKey, []string{
		"updated_at = " + dl.If(same, dl.Stored("updated_at"), dl.Inserted("updated_at")),
		"attributes = " + dl.If(same, dl.Stored("attributes"), dl.JSONMergePatch(stored, row)),
	}))
}

// insertTagsSQL tags n users (app_id, tag, user_id), skipping tags they have.
func insertTagsSQL(dl store.Dialect, n int) string {
	return dl.Rebind(dl.InsertIgnore("user_tags", tagCols, n, tagCols))
}

// insertIdentitiesSQL writes n identities (app_id, channel, address, created_at), skipping
// addresses that exist.
func insertIdentitiesSQL(dl store.Dialect, n int) string {
	return dl.Rebind(dl.InsertIgnore("identities", identityCols, n, identityKey))
}

// insertLinksSQL binds n identities to users (app_id, user_id, identity_id, created_at),
// skipping bindings that exist.
func insertLinksSQL(dl store.Dialect, n int) string {
	return dl.Rebind(dl.InsertIgnore("user_identities", linkCols, n, linkKey))
}

// insertMembersSQL adds n users to a static audience (audience_id, user_id).
func insertMembersSQL(dl store.Dialect, n int) string {
	return dl.Rebind(dl.Insert("audience_members", memberCols, n))
}

// insertOptOutSQL records an opt-out (app_id, user_id, channel, class, created_at) unless it
// exists.
func insertOptOutSQL(dl store.Dialect) string {
	return dl.Rebind(dl.InsertIgnore("user_optouts", optOutCols, 1, optOutKey))
}

// anyValue is how user_optouts stores "every channel" and "every class": the empty string
// on MySQL, '*' on Oracle, which stores the empty string as NULL, refused by a key column.
func anyValue(dl store.Dialect) string {
	if dl.Name() == "oracle" {
		return "*"
	}
	return ""
}

// firstUsersSQL reads a page of users of app by id: the first when after is empty (Oracle
// reads the empty string as NULL, which no id is greater than). The arguments are app_id,
// the tag when there is one, after when it is not empty, then the page size.
func firstUsersSQL(dl store.Dialect, tag, after bool) string {
	q := "SELECT u.id FROM users u WHERE u.app_id = ?"
	if tag {
		q = "SELECT t.user_id FROM user_tags t WHERE t.app_id = ? AND t.tag = ?"
	}
	col := "u.id"
	if tag {
		col = "t.user_id"
	}
	if after {
		q += " AND " + col + " > ?"
	}
	return dl.Rebind(q + " ORDER BY " + col + dl.Limit("?"))
}

// iterateSQL reads the next batch of an audience whose FROM and WHERE are from; the arguments
// are from's, after when it is not empty, then the batch size.
func iterateSQL(dl store.Dialect, from string, after bool) string {
	q := "SELECT u.id" + from
	if after {
		q += " AND u.id > ?"
	}
	return dl.Rebind(q + " ORDER BY u.id" + dl.Limit("?"))
}

// createAudienceSQL inserts an audience (app_id, name, kind, expr, created_by, created_at);
// Dialect.InsertID runs it.
const createAudienceSQL = "INSERT INTO audiences (app_id, name, kind, expr, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)"

// unbindSQL removes a user's binding to an address (app_id, user_id, app_id, channel, address).
const unbindSQL = `DELETE FROM user_identities WHERE app_id = ? AND user_id = ? AND identity_id IN
			(SELECT id FROM identities WHERE app_id = ? AND channel = ? AND address = ?)`
