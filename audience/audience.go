// Package audience holds an app's users, their channel identities (N:M: a user has many
// devices, a family phone belongs to several users) and their tags.
package audience

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
)

// rangeMin is the fewest users for which a read of their key range (from the first to the
// last) is tried before a lookup of each (UsersInRange, OptOuts).
const rangeMin = 64

// MaxUpsert is the most users one upsert may carry.
const MaxUpsert = 10000

// chunk is the number of rows per multi-row statement.
const chunk = 1000

// Identity is one channel address.
type Identity struct {
	Channel channels.Channel
	Address string
}

// UserInput creates or updates one user; Identities and Tags are added to what the user has.
type UserInput struct {
	ID         string
	Attributes map[string]any
	Tags       []string
	Identities []Identity
}

// User is a customer's user with attributes and tags.
type User struct {
	AppID      int64
	ID         string
	Attributes map[string]any
	Tags       []string
}

// Service stores users, identities and tags in the core database, the source of truth, and
// keeps the identity cache (when one is set) written through.
type Service struct {
	db      *sql.DB
	dl      store.Dialect
	prep    *store.Prepared
	logger  *slog.Logger
	nowFunc func() time.Time
	cache   IdentityCache
}

// IdentityCache holds every user's addresses for fast lookup by shard. It may lose its
// contents at any moment; it refills itself from the database.
type IdentityCache interface {
	// Resolve returns the addresses of users, reading what it misses from the database.
	Resolve(ctx context.Context, appID int64, userIDs []string) (Addresses, error)
	// Refresh replaces the cached addresses of users with what the database holds now.
	Refresh(ctx context.Context, appID int64, userIDs []string) error
}

// NewService returns the audience service on the core database.
func NewService(db *store.DB, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{db: db.Core, dl: db.Dialect, prep: db.Prepared, logger: logger.With("component", "audience"), nowFunc: time.Now}
}

// SetCache makes the service read identities through c and write changes through to it.
func (s *Service) SetCache(c IdentityCache) { s.cache = c }

// refreshCache writes changed users through to the cache; a failure is logged, since the
// database already holds the change and the cache refills itself.
func (s *Service) refreshCache(ctx context.Context, appID int64, userIDs []string) {
	if s.cache == nil || len(userIDs) == 0 {
		return
	}
	if err := s.cache.Refresh(ctx, appID, userIDs); err != nil {
		s.logger.WarnContext(ctx, "error refreshing the identity cache", "app_id", appID, "users", len(userIDs), "error", err)
	}
}

// Upsert creates or updates up to MaxUpsert users in one transaction and reports how many
// were created and updated. Invalid input changes nothing.
func (s *Service) Upsert(ctx context.Context, appID int64, users []UserInput) (created, updated int, err error) {
	if _, err := account.Authorize(ctx, appID, account.Operator, "appId"); err != nil {
		return 0, 0, err
	}
	if len(users) == 0 {
		return 0, 0, fault.BadInput("users", "at least one user is needed")
	}
	if len(users) > MaxUpsert {
		return 0, 0, fault.BadInput("users", "%d users in one call; at most %d", len(users), MaxUpsert)
	}
	seen := make(map[string]int, len(users))
	for i := range users {
		u := &users[i]
		f := fmt.Sprintf("users[%d]", i)
		if err := ValidUserID(u.ID); err != nil {
			return 0, 0, fault.BadInput(f+".id", "%s", err)
		}
		if j, dup := seen[u.ID]; dup {
			return 0, 0, fault.BadInput(f+".id", "user %q appears twice in this call (also users[%d])", u.ID, j)
		}
		seen[u.ID] = i
		for k, t := range u.Tags {
			if err := ValidTag(t); err != nil {
				return 0, 0, fault.BadInput(fmt.Sprintf("%s.tags[%d]", f, k), "%s", err)
			}
		}
		for k := range u.Identities {
			addr, err := NormalizeAddress(u.Identities[k].Channel, u.Identities[k].Address)
			if err != nil {
				return 0, 0, fault.BadInput(fmt.Sprintf("%s.identities[%d].address", f, k), "%s", err)
			}
			u.Identities[k].Address = addr
		}
	}
	now := s.nowFunc().UTC()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("error starting transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	existing, err := existingUsers(ctx, tx, s.dl, appID, users)
	if err != nil {
		return 0, 0, err
	}
	for start := 0; start < len(users); start += chunk {
		part := users[start:min(start+chunk, len(users))]
		var args []any
		for i, u := range part {
			var attrs any
			if u.Attributes != nil {
				b, err := json.Marshal(u.Attributes)
				if err != nil {
					return 0, 0, fault.BadInput(fmt.Sprintf("users[%d].attributes", start+i), "not valid JSON: %s", err)
				}
				attrs = string(b)
			}
			args = append(args, appID, u.ID, attrs, now, now)
		}
		if _, err := tx.ExecContext(ctx, upsertUsersSQL(s.dl, len(part)), args...); err != nil {
			return 0, 0, fmt.Errorf("error writing users: %w", err)
		}
	}
	if err := addTags(ctx, tx, s.dl, appID, users); err != nil {
		return 0, 0, err
	}
	if err := bindIdentities(ctx, tx, s.dl, appID, users, now); err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("error committing users: %w", err)
	}
	ids := make([]string, 0, len(users))
	for _, u := range users {
		if len(u.Identities) > 0 {
			ids = append(ids, u.ID)
		}
	}
	s.refreshCache(ctx, appID, ids)
	return len(users) - existing, existing, nil
}

func existingUsers(ctx context.Context, tx *sql.Tx, dl store.Dialect, appID int64, users []UserInput) (int, error) {
	n := 0
	for start := 0; start < len(users); start += chunk {
		part := users[start:min(start+chunk, len(users))]
		args := []any{appID}
		for _, u := range part {
			args = append(args, u.ID)
		}
		var c int
		q := "SELECT COUNT(*) FROM users WHERE app_id = ? AND id IN (" + store.Placeholders(len(part)) + ")"
		if err := tx.QueryRowContext(ctx, dl.Rebind(q), args...).Scan(&c); err != nil {
			return 0, fmt.Errorf("error counting users: %w", err)
		}
		n += c
	}
	return n, nil
}

func addTags(ctx context.Context, tx *sql.Tx, dl store.Dialect, appID int64, users []UserInput) error {
	var rows [][]any
	for _, u := range users {
		for _, t := range u.Tags {
			rows = append(rows, []any{appID, t, u.ID})
		}
	}
	return insertRows(ctx, tx, dl, insertTagsSQL, rows)
}

func bindIdentities(ctx context.Context, tx *sql.Tx, dl store.Dialect, appID int64, users []UserInput, now time.Time) error {
	var ids [][]any
	for _, u := range users {
		for _, idn := range u.Identities {
			ids = append(ids, []any{appID, string(idn.Channel), idn.Address, now})
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err := insertRows(ctx, tx, dl, insertIdentitiesSQL, ids); err != nil {
		return err
	}
	idOf := map[Identity]int64{}
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := []any{appID}
		var sb strings.Builder
		for i, r := range part {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString("(?,?)")
			args = append(args, r[1], r[2])
		}
		rows, err := tx.QueryContext(ctx, dl.Rebind("SELECT id, channel, address FROM identities WHERE app_id = ? AND (channel, address) IN ("+sb.String()+")"), args...)
		if err != nil {
			return fmt.Errorf("error reading identities: %w", err)
		}
		for rows.Next() {
			var (
				id int64
				k  Identity
			)
			if err := rows.Scan(&id, &k.Channel, &k.Address); err != nil {
				rows.Close()
				return err
			}
			idOf[k] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	var links [][]any
	for _, u := range users {
		for _, idn := range u.Identities {
			links = append(links, []any{appID, u.ID, idOf[idn], now})
		}
	}
	return insertRows(ctx, tx, dl, insertLinksSQL, links)
}

// insertRows writes rows with multi-row statements of at most chunk rows, the statement
// of n rows written by query.
func insertRows(ctx context.Context, tx *sql.Tx, dl store.Dialect, query func(dl store.Dialect, n int) string, rows [][]any) error {
	_, err := execRows(ctx, tx, dl, query, rows)
	return err
}

// Existing returns which of ids are users of app.
func (s *Service) Existing(ctx context.Context, appID int64, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		in := s.prep.In(userArgs(part))
		args := append([]any{appID}, in...)
		rows, err := s.prep.Query(ctx, s.db, nil, s.dl.Rebind("SELECT id FROM users WHERE app_id = ? AND id IN ("+store.Placeholders(len(in))+")"), args...)
		if err != nil {
			return nil, fmt.Errorf("error reading users: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Addresses maps each user to its addresses per channel, oldest binding first.
type Addresses map[string]map[channels.Channel][]string

// Resolve returns the addresses of users of app: from the identity cache when one is set
// (one pipelined round trip per shard), else from the database.
func (s *Service) Resolve(ctx context.Context, appID int64, userIDs []string) (Addresses, error) {
	if s.cache != nil {
		return s.cache.Resolve(ctx, appID, userIDs)
	}
	return s.LoadAddresses(ctx, appID, userIDs)
}

// LoadAddresses reads the addresses of users of app from the database, with one query per
// thousand users. Users without addresses are absent from the result. A part of many users
// (a shard's, on a cold identity cache) reads the identities of the key range from its first
// user to its last, as UsersInRange does, unless that range holds more than four identities
// per user of the part; then it looks them up by user.
func (s *Service) LoadAddresses(ctx context.Context, appID int64, userIDs []string) (Addresses, error) {
	out := make(Addresses, len(userIDs))
	for start := 0; start < len(userIDs); start += chunk {
		part := userIDs[start:min(start+chunk, len(userIDs))]
		lo, hi := slices.Min(part), slices.Max(part)
		if len(part) >= rangeMin {
			limit := 4 * len(part)
			rows, err := s.prep.Query(ctx, s.db, nil, s.dl.Rebind(`SELECT ui.user_id, i.channel, i.address
				FROM user_identities ui JOIN identities i ON i.id = ui.identity_id
				WHERE ui.app_id = ? AND ui.user_id BETWEEN ? AND ?
				ORDER BY ui.user_id, ui.created_at, i.id`+s.dl.Limit("?")), appID, lo, hi, limit+1)
			if err != nil {
				return nil, fmt.Errorf("error resolving identities: %w", err)
			}
			want := idSet(part)
			found := Addresses{}
			n, err := scanAddresses(rows, want, found)
			if err != nil {
				return nil, err
			}
			if n <= limit {
				maps.Copy(out, found)
				continue
			}
		}
		// The bounds keep the server's plan to the part's key range whatever its statistics
		// say: right after a bulk import they can make it walk the app's identities from the
		// start up to the part's users.
		ids := s.prep.In(userArgs(part))
		args := append([]any{appID, lo, hi}, ids...)
		rows, err := s.prep.Query(ctx, s.db, nil, s.dl.Rebind(`SELECT ui.user_id, i.channel, i.address
			FROM user_identities ui JOIN identities i ON i.id = ui.identity_id
			WHERE ui.app_id = ? AND ui.user_id BETWEEN ? AND ? AND ui.user_id IN (`+store.Placeholders(len(ids))+`)
			ORDER BY ui.user_id, ui.created_at, i.id`), args...)
		if err != nil {
			return nil, fmt.Errorf("error resolving identities: %w", err)
		}
		if _, err := scanAddresses(rows, nil, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanAddresses adds the (user_id, channel, address) rows to out, keeping the users in want
// when want is not nil, closes rows and returns how many rows it read.
func scanAddresses(rows *sql.Rows, want map[string]bool, out Addresses) (int, error) {
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			user, addr string
			ch         channels.Channel
		)
		if err := rows.Scan(&user, &ch, &addr); err != nil {
			return n, err
		}
		n++
		if want != nil && !want[user] {
			continue
		}
		if out[user] == nil {
			out[user] = map[channels.Channel][]string{}
		}
		out[user][ch] = append(out[user][ch], addr)
	}
	return n, rows.Err()
}

// Users returns the users of app among ids, with attributes and tags.
func (s *Service) Users(ctx context.Context, appID int64, ids []string) (map[string]*User, error) {
	out := make(map[string]*User, len(ids))
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		in := s.prep.In(userArgs(part))
		args := append([]any{appID}, in...)
		tags := s.tags(ctx, "SELECT user_id, tag FROM user_tags WHERE app_id = ? AND user_id IN ("+store.Placeholders(len(in))+") ORDER BY tag", args)
		rows, err := s.prep.Query(ctx, s.db, nil, s.dl.Rebind("SELECT id, attributes FROM users WHERE app_id = ? AND id IN ("+store.Placeholders(len(in))+")"), args...)
		if err != nil {
			<-tags
			return nil, fmt.Errorf("error reading users: %w", err)
		}
		found, _, err := scanUsers(rows, appID, nil)
		if err == nil {
			err = attachTags(<-tags, found)
		} else {
			<-tags
		}
		if err != nil {
			return nil, err
		}
		maps.Copy(out, found)
	}
	return out, nil
}

// UsersInRange is Users for ids that make up a key range of the app's users, from the first
// to the last, as the shards of a BROADCAST are planned: each table is read with one range
// scan instead of a lookup of every id, which costs the server several times less. Users added
// to the range since the ids were listed are read and left out; when the range holds more than
// twice as many users as ids, the ids are looked up (Users).
func (s *Service) UsersInRange(ctx context.Context, appID int64, ids []string) (map[string]*User, error) {
	if len(ids) < rangeMin {
		return s.Users(ctx, appID, ids)
	}
	lo, hi := slices.Min(ids), slices.Max(ids)
	want := idSet(ids)
	limit := 2 * len(ids)
	tags := s.tags(ctx, "SELECT user_id, tag FROM user_tags WHERE app_id = ? AND user_id BETWEEN ? AND ? ORDER BY user_id, tag", []any{appID, lo, hi})
	rows, err := s.prep.Query(ctx, s.db, nil, s.dl.Rebind("SELECT id, attributes FROM users WHERE app_id = ? AND id BETWEEN ? AND ?"+s.dl.Limit("?")),
		appID, lo, hi, limit+1)
	if err != nil {
		<-tags
		return nil, fmt.Errorf("error reading users: %w", err)
	}
	out, n, err := scanUsers(rows, appID, want)
	t := <-tags
	if err != nil {
		return nil, err
	}
	if n > limit {
		return s.Users(ctx, appID, ids)
	}
	if err := attachTags(t, out); err != nil {
		return nil, err
	}
	return out, nil
}

// scanUsers reads (id, attributes) rows into users of app, keeping the ids in want when want
// is not nil, closes rows and returns how many rows it read.
func scanUsers(rows *sql.Rows, appID int64, want map[string]bool) (map[string]*User, int, error) {
	defer rows.Close()
	out := map[string]*User{}
	n := 0
	for rows.Next() {
		u := &User{AppID: appID, Tags: []string{}}
		var attrs sql.NullString
		if err := rows.Scan(&u.ID, &attrs); err != nil {
			return nil, n, err
		}
		n++
		if want != nil && !want[u.ID] {
			continue
		}
		if attrs.Valid {
			_ = json.Unmarshal([]byte(attrs.String), &u.Attributes)
		}
		out[u.ID] = u
	}
	return out, n, rows.Err()
}

// tagRows are the (user_id, tag) rows of a tags query, in order, or its error.
type tagRows struct {
	rows [][2]string
	err  error
}

// tags runs a query of (user_id, tag) rows alongside the caller's read of the users, one
// round trip instead of two one after the other; the answer comes on the channel.
func (s *Service) tags(ctx context.Context, query string, args []any) <-chan tagRows {
	out := make(chan tagRows, 1)
	go func() {
		var t tagRows
		rows, err := s.prep.Query(ctx, s.db, nil, s.dl.Rebind(query), args...)
		if err != nil {
			out <- tagRows{err: fmt.Errorf("error reading tags: %w", err)}
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r [2]string
			if err := rows.Scan(&r[0], &r[1]); err != nil {
				out <- tagRows{err: err}
				return
			}
			t.rows = append(t.rows, r)
		}
		t.err = rows.Err()
		out <- t
	}()
	return out
}

// attachTags adds the tags to the users in out, in the rows' order.
func attachTags(t tagRows, out map[string]*User) error {
	if t.err != nil {
		return t.err
	}
	for _, r := range t.rows {
		if u := out[r[0]]; u != nil {
			u.Tags = append(u.Tags, r[1])
		}
	}
	return nil
}

// idSet is the set of ids, for keeping a range read's rows of those users.
func idSet(ids []string) map[string]bool {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// userArgs are ids as query arguments.
func userArgs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// User returns one user of app, checking the caller may read the app; nil when absent.
func (s *Service) User(ctx context.Context, appID int64, id string) (*User, error) {
	if _, err := account.Authorize(ctx, appID, account.Viewer, "appId"); err != nil {
		return nil, err
	}
	m, err := s.Users(ctx, appID, []string{id})
	if err != nil {
		return nil, err
	}
	return m[id], nil
}

// ValidUserID checks a customer's user id.
func ValidUserID(id string) error {
	if id == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(id) > 128 || !utf8.ValidString(id) {
		return fmt.Errorf("must be valid UTF-8 of at most 128 bytes")
	}
	// MariaDB compares VARCHAR keys without trailing spaces, so "u1 " would be user "u1".
	if strings.TrimSpace(id) != id {
		return fmt.Errorf("%q must not start or end with white space", id)
	}
	return nil
}

// ValidTag checks a tag name.
func ValidTag(t string) error {
	if t == "" || len(t) > 64 {
		return fmt.Errorf("tag must be 1 to 64 bytes")
	}
	for _, r := range t {
		if !(r == '_' || r == '-' || r == '.' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 0x7f) {
			return fmt.Errorf("tag %q may hold letters, digits and _ - . : only", t)
		}
	}
	return nil
}

// NormalizeAddress checks an address for its channel and returns its canonical form: phones
// in E.164 (+86 when no country code is given), emails lower-cased in the domain.
func NormalizeAddress(ch channels.Channel, addr string) (string, error) {
	if !ch.Valid() {
		return "", fmt.Errorf("unknown channel %q", ch)
	}
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", fmt.Errorf("must not be empty")
	}
	if len(addr) > 512 || !utf8.ValidString(addr) {
		return "", fmt.Errorf("must be valid UTF-8 of at most 512 bytes")
	}
	switch ch {
	case channels.SMS, channels.Voice, channels.RCS:
		return NormalizePhone(addr)
	case channels.Email:
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Name != "" || a.Address != addr {
			return "", fmt.Errorf("%q is not an email address", addr)
		}
		local, domain, _ := strings.Cut(a.Address, "@")
		return local + "@" + strings.ToLower(domain), nil
	case channels.Webhook:
		u, err := url.Parse(addr)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return "", fmt.Errorf("%q must be an http or https URL without credentials", addr)
		}
		return u.String(), nil
	default:
		if len(addr) > 256 || strings.ContainsAny(addr, " \t\r\n") {
			return "", fmt.Errorf("must be at most 256 bytes without spaces")
		}
		return addr, nil
	}
}

var phoneNoise = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "")

// NormalizePhone returns a phone number in E.164, assuming China (+86) without a country code.
func NormalizePhone(s string) (string, error) {
	clean := phoneNoise.Replace(s)
	intl := false
	switch {
	case strings.HasPrefix(clean, "+"):
		clean, intl = clean[1:], true
	case strings.HasPrefix(clean, "00"):
		clean, intl = clean[2:], true
	}
	for _, r := range clean {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("%q is not a phone number", s)
		}
	}
	if !intl {
		if len(clean) != 11 || clean[0] != '1' {
			return "", fmt.Errorf("%q is not a Chinese mobile number (11 digits starting with 1) and has no +country code", s)
		}
		clean = "86" + clean
	}
	if len(clean) < 8 || len(clean) > 15 || clean[0] == '0' {
		return "", fmt.Errorf("%q is not an E.164 phone number", s)
	}
	return "+" + clean, nil
}

// LoadOwners reads from the database the users an address belongs to, in id order.
func (s *Service) LoadOwners(ctx context.Context, appID int64, ch channels.Channel, address string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.dl.Rebind(`SELECT ui.user_id FROM identities i JOIN user_identities ui ON ui.identity_id = i.id
		WHERE i.app_id = ? AND i.channel = ? AND i.address = ? ORDER BY ui.user_id`), appID, string(ch), address)
	if err != nil {
		return nil, fmt.Errorf("error reading identity owners: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
