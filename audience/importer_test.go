package audience_test

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/graph"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

type importBundle struct {
	db    *sql.DB
	store *store.DB
	svc   *audience.Service
	ctx   context.Context
	appID int64
}

func setupImport(t testing.TB) *importBundle {
	t.Helper()
	db := storetest.New(t)
	res, err := db.Core.Exec("INSERT INTO apps (name, created_at) VALUES ('import', NOW(3))")
	require.NoError(t, err)
	appID, err := res.LastInsertId()
	require.NoError(t, err)
	ctx := account.WithPrincipal(context.Background(), &account.Principal{Email: "admin@example.com", Role: account.Admin, AllApps: true})
	return &importBundle{db: db.Core, store: db, svc: audience.NewService(db, nil), ctx: ctx, appID: appID}
}

func (b *importBundle) importCSV(t *testing.T, text string, opts audience.ImportOptions) *audience.ImportReport {
	t.Helper()
	rep, err := b.svc.Import(b.ctx, b.appID, strings.NewReader(text), opts)
	require.NoError(t, err)
	return rep
}

// tableCounts returns the rows of every table an import writes, keyed by table.
func (b *importBundle) tableCounts(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"users", "identities", "user_identities", "user_tags"} {
		var n int
		require.NoError(t, b.db.QueryRow("SELECT COUNT(*) FROM "+table).Scan(&n))
		out[table] = n
	}
	return out
}

// checksums returns CHECKSUM TABLE of every table an import writes: any changed row,
// updated_at included, changes it.
func (b *importBundle) checksums(t *testing.T) map[string]int64 {
	t.Helper()
	rows, err := b.db.Query("CHECKSUM TABLE users, identities, user_identities, user_tags")
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			name string
			sum  int64
		)
		require.NoError(t, rows.Scan(&name, &sum))
		out[name] = sum
	}
	require.NoError(t, rows.Err())
	return out
}

func (b *importBundle) user(t *testing.T, id string) *audience.User {
	t.Helper()
	u, err := b.svc.User(b.ctx, b.appID, id)
	require.NoError(t, err)
	return u
}

func (b *importBundle) addresses(t *testing.T, ids ...string) audience.Addresses {
	t.Helper()
	a, err := b.svc.LoadAddresses(b.ctx, b.appID, ids)
	require.NoError(t, err)
	return a
}

func importFault(t *testing.T, err error) *fault.Error {
	t.Helper()
	fe, ok := fault.As(err)
	require.True(t, ok, "want a fault, got %v", err)
	return fe
}

func TestImportHappyPath(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	file := "id,attr.city,attr.age,attr.vip,attr.card,attr.zip,attr.score,tags,sms,Email,WECHAT,webhook\n" +
		"u1,杭州,35,TRUE,6222020200112345678,010020,4.5,vip|gold,13800138000|+44 20 7946 0958,Ann@Example.COM,wx-openid-1,https://hooks.example.com/u1\n" +
		"u2,\"上海, 浦东\",28,false,,,-1e3,new; trial ,138-0013-8001,,,\n" +
		"u3,,,,,,,,,,,\n"
	rep := b.importCSV(t, file, audience.ImportOptions{})
	require.Equal(t, &audience.ImportReport{Rows: 3, Imported: 3, Errors: []audience.ImportError{}, Encoding: audience.EncodingUTF8}, rep)

	u1 := b.user(t, "u1")
	require.Equal(t, map[string]any{"city": "杭州", "age": float64(35), "vip": true, "card": "6222020200112345678", "zip": "010020", "score": 4.5}, u1.Attributes,
		"numbers a float64 holds become numbers, booleans booleans, the rest strings")
	require.Equal(t, []string{"gold", "vip"}, u1.Tags)
	u2 := b.user(t, "u2")
	require.Equal(t, map[string]any{"city": "上海, 浦东", "age": float64(28), "vip": false, "score": float64(-1000)}, u2.Attributes,
		"an empty cell sets no attribute")
	require.Equal(t, []string{"new", "trial"}, u2.Tags)
	u3 := b.user(t, "u3")
	require.NotNil(t, u3, "a row of an id only creates the user")
	require.Nil(t, u3.Attributes)

	require.Equal(t, audience.Addresses{
		"u1": {
			channels.SMS:     {"+442079460958", "+8613800138000"},
			channels.Email:   {"Ann@example.com"},
			channels.WeChat:  {"wx-openid-1"},
			channels.Webhook: {"https://hooks.example.com/u1"},
		},
		"u2": {channels.SMS: {"+8613800138001"}},
	}, sortedAddresses(b.addresses(t, "u1", "u2", "u3")))
}

// sortedAddresses orders each user's addresses of a channel, whose binding order within one
// statement is not defined.
func sortedAddresses(a audience.Addresses) audience.Addresses {
	for _, byChannel := range a {
		for ch, list := range byChannel {
			byChannel[ch] = slices.Sorted(slices.Values(list))
		}
	}
	return a
}

func gbk(t *testing.T, s string) string {
	t.Helper()
	out, err := simplifiedchinese.GBK.NewEncoder().String(s)
	require.NoError(t, err)
	return out
}

func TestImportEncodings(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	const text = "id,attr.城市,tags\nzh1,杭州,会员\n"
	// A GBK file whose first 100 KiB are ASCII: detection waits for the first non-ASCII byte.
	var late strings.Builder
	late.WriteString("id,attr.city\n")
	for i := 0; late.Len() < 100<<10; i++ {
		fmt.Fprintf(&late, "late%d,x\n", i)
	}
	late.WriteString("lateZ,杭州\n")
	tests := []struct {
		name string
		file string
		enc  audience.Encoding
		want audience.Encoding
		id   string
		attr string
	}{
		{"utf8", text, "", audience.EncodingUTF8, "zh1", "城市"},
		{"utf8 with BOM", "\ufeff" + strings.Replace(text, "zh1", "zh2", 1), "", audience.EncodingUTF8, "zh2", "城市"},
		{"utf8 with BOM forced", "\ufeff" + strings.Replace(text, "zh1", "zh3", 1), audience.EncodingUTF8, audience.EncodingUTF8, "zh3", "城市"},
		{"gbk detected", gbk(t, strings.Replace(text, "zh1", "zh4", 1)), "", audience.EncodingGBK, "zh4", "城市"},
		{"gbk forced", gbk(t, strings.Replace(text, "zh1", "zh5", 1)), audience.EncodingGBK, audience.EncodingGBK, "zh5", "城市"},
		{"gbk after 100 KiB of ASCII", gbk(t, late.String()), audience.EncodingAuto, audience.EncodingGBK, "lateZ", "city"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := b.importCSV(t, tt.file, audience.ImportOptions{Encoding: tt.enc})
			require.Empty(t, rep.Errors)
			require.Equal(t, tt.want, rep.Encoding)
			u := b.user(t, tt.id)
			require.NotNil(t, u)
			require.Equal(t, "杭州", u.Attributes[tt.attr])
		})
	}

	t.Run("gbk read as utf8", func(t *testing.T) {
		rep := b.importCSV(t, gbk(t, "id,attr.city\nzh6,杭州\nzh7,x\n"), audience.ImportOptions{Encoding: audience.EncodingUTF8})
		require.Equal(t, int64(1), rep.Imported)
		require.Equal(t, []audience.ImportError{{Row: 2, Column: "attr.city", Reason: "is not valid UTF-8 text; if the file is GBK, import it with encoding gbk"}}, rep.Errors)
		require.Nil(t, b.user(t, "zh6"))
	})

	_, err := b.svc.Import(b.ctx, b.appID, strings.NewReader(text), audience.ImportOptions{Encoding: "latin1"})
	require.Equal(t, "encoding", importFault(t, err).Field)
}

func TestImportInvalidRows(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	file := "id,SMS,EMAIL,tags\n" +
		"ok1,13800138000,a@example.com,vip\n" +
		"badphone,12345,b@example.com,vip\n" + // row 3: the good email must not be written either
		"bademail,13800138002,not-an-email,\n" +
		",13800138003,,\n" +
		"badtag,,,has space\n" +
		"short,13800138004\n" +
		"twobad,999,nope,\n" +
		"ok2,13800138009,,\n"
	rep := b.importCSV(t, file, audience.ImportOptions{})
	require.Equal(t, int64(8), rep.Rows)
	require.Equal(t, int64(2), rep.Imported)
	require.Equal(t, int64(6), rep.Failed)
	type at struct {
		Row    int
		Column string
	}
	var got []at
	for _, e := range rep.Errors {
		got = append(got, at{e.Row, e.Column})
		require.NotEmpty(t, e.Reason)
	}
	require.Equal(t, []at{{3, "SMS"}, {4, "EMAIL"}, {5, "id"}, {6, "tags"}, {7, ""}, {8, "SMS"}, {8, "EMAIL"}}, got)
	require.Contains(t, rep.Errors[0].Reason, `"12345" is not a Chinese mobile number`)
	require.Contains(t, rep.Errors[4].Reason, "has 2 fields; the header has 4")

	require.Equal(t, map[string]int{"users": 2, "identities": 3, "user_identities": 3, "user_tags": 1}, b.tableCounts(t),
		"only the valid rows are written, none of an invalid row")
	require.Nil(t, b.user(t, "badphone"))
	owners, err := b.svc.LoadOwners(b.ctx, b.appID, channels.Email, "b@example.com")
	require.NoError(t, err)
	require.Empty(t, owners)
}

func TestImportErrorCap(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	var file strings.Builder
	file.WriteString("id,sms\n")
	for i := range 30 {
		fmt.Fprintf(&file, "u%d,bad%d\n", i, i)
	}
	rep := b.importCSV(t, file.String(), audience.ImportOptions{MaxErrors: 10})
	require.Equal(t, int64(30), rep.Failed)
	require.Len(t, rep.Errors, 10)
	require.True(t, rep.Truncated)
	require.Equal(t, 11, rep.Errors[9].Row)
}

func TestImportBadHeader(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	tests := []struct {
		name   string
		file   string
		reason string
	}{
		{"no id column", "user,sms\nu1,13800138000\n", `unknown column "user"`},
		{"id missing", "attr.city,sms\n杭州,13800138000\n", "no id column"},
		{"unknown channel", "id,FAX\nu1,123\n", `unknown column "FAX"`},
		{"duplicate column", "id,sms,SMS\nu1,13800138000,13800138001\n", `columns 2 and 3 are both "SMS"`},
		{"duplicate attribute", "id,attr.city,ATTR.city\nu1,a,b\n", `columns 2 and 3 are both "ATTR.city"`},
		{"attribute without a name", "id,attr.\nu1,a\n", "names no attribute"},
		{"empty column name", "id,,sms\nu1,,13800138000\n", "column 2 has no name"},
		{"broken quoting", "id,\"sms\nu1,13800138000\n", "row 1 (header)"},
		{"empty file", "", "the file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := b.svc.Import(b.ctx, b.appID, strings.NewReader(tt.file), audience.ImportOptions{})
			require.Nil(t, rep)
			fe := importFault(t, err)
			require.Equal(t, fault.CodeBadInput, fe.Code)
			require.Equal(t, "file", fe.Field)
			require.Contains(t, fe.Message, tt.reason)
		})
	}
	require.Equal(t, map[string]int{"users": 0, "identities": 0, "user_identities": 0, "user_tags": 0}, b.tableCounts(t))
}

func TestImportBrokenQuoting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		broken string
		reason string
	}{
		{"bare quote", `u3,ab"c`, "bare \""},
		{"unterminated quote", `u3,"abc`, "extraneous or missing \""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupImport(t)
			file := "id,attr.note\nu1,a\nu2,b\n" + tt.broken + "\nu4,d\nu5,e\n"
			rep := b.importCSV(t, file, audience.ImportOptions{BatchSize: 1})
			require.True(t, rep.Stopped)
			require.Equal(t, int64(2), rep.Imported, "the rows before the broken one stay imported")
			require.Len(t, rep.Errors, 1)
			require.Equal(t, 4, rep.Errors[0].Row)
			require.Contains(t, rep.Errors[0].Reason, tt.reason)
			require.Contains(t, rep.Errors[0].Reason, "the rest of the file were not imported")
			require.NotNil(t, b.user(t, "u2"))
			require.Nil(t, b.user(t, "u4"))
			require.Nil(t, b.user(t, "u5"))
		})
	}
}

func TestImportTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	_, _, err := b.svc.Upsert(b.ctx, b.appID, []audience.UserInput{{ID: "old", Attributes: map[string]any{"city": "杭州", "age": 40}, Tags: []string{"vip"}}})
	require.NoError(t, err)
	file := "id,attr.city,attr.age,tags,SMS,EMAIL\n" +
		"old,杭州,40,vip,13800138000,\n" + // adds only a phone
		"mum,上海,61,family,13800138000|13900139000,mum@example.com\n" + // the family phone
		"kid,上海,9,family;young,13800138000,\n" +
		"bad,x,1,,123,\n"
	first := b.importCSV(t, file, audience.ImportOptions{BatchSize: 2})
	require.Equal(t, int64(3), first.Imported)
	counts, sums := b.tableCounts(t), b.checksums(t)
	require.Equal(t, map[string]int{"users": 3, "identities": 3, "user_identities": 5, "user_tags": 4}, counts)
	owners, err := b.svc.LoadOwners(b.ctx, b.appID, channels.SMS, "+8613800138000")
	require.NoError(t, err)
	require.Equal(t, []string{"kid", "mum", "old"}, owners)
	require.Equal(t, map[string]any{"city": "杭州", "age": float64(40)}, b.user(t, "old").Attributes)

	second := b.importCSV(t, file, audience.ImportOptions{BatchSize: 3})
	require.Equal(t, first, second, "the same report")
	require.Equal(t, counts, b.tableCounts(t))
	require.Equal(t, sums, b.checksums(t), "no row changed, updated_at included")
}

func TestImportMergesAttributesAndLaterRowsWin(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	_, _, err := b.svc.Upsert(b.ctx, b.appID, []audience.UserInput{{ID: "u1", Attributes: map[string]any{"city": "杭州", "age": 40, "vip": true}}})
	require.NoError(t, err)
	file := "id,attr.city,attr.age,tags,SMS\n" +
		"u1,上海,,a,13800138000\n" +
		"u2,北京,20,x,\n" +
		"u1,深圳,41,b,13800138001\n"
	for _, o := range []audience.ImportOptions{{BatchSize: 1, Writers: 1}, {BatchSize: 2, Writers: 4}, {BatchSize: 10}} {
		t.Run(fmt.Sprintf("batch %d writers %d", o.BatchSize, o.Writers), func(t *testing.T) {
			rep := b.importCSV(t, file, o)
			require.Equal(t, int64(3), rep.Imported, "a repeated user id is not an error")
			u1 := b.user(t, "u1")
			require.Equal(t, map[string]any{"city": "深圳", "age": float64(41), "vip": true}, u1.Attributes,
				"the later row wins; attributes the file does not set stay")
			require.Equal(t, []string{"a", "b"}, u1.Tags, "tags accumulate")
			require.Len(t, b.addresses(t, "u1")["u1"][channels.SMS], 2, "identities accumulate")
		})
	}
}

func TestImportStreamsInBatches(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	const n = 10000
	pr, pw := io.Pipe()
	var written atomic.Bool
	go func() {
		w := io.Writer(pw)
		fmt.Fprintln(w, "id,attr.n,tags,SMS,EMAIL")
		for i := range n {
			fmt.Fprintf(w, "user-%05d,%d,t%d,+86139%08d,user%d@example.com\n", i, i, i%7, i, i)
		}
		written.Store(true)
		pw.Close()
	}()
	type progress struct{ rows, imported int64 }
	var (
		calls       []progress
		beforeWrite int
	)
	rep, err := b.svc.Import(b.ctx, b.appID, pr, audience.ImportOptions{BatchSize: 1000, ProgressFunc: func(rows, imported int64) {
		calls = append(calls, progress{rows, imported})
		if !written.Load() {
			beforeWrite++
		}
	}})
	require.NoError(t, err)
	require.Equal(t, int64(n), rep.Imported)
	require.Empty(t, rep.Errors)
	require.GreaterOrEqual(t, len(calls), n/1000)
	require.Positive(t, beforeWrite, "batches are committed while the file is still being written")
	for i := 1; i < len(calls); i++ {
		require.GreaterOrEqual(t, calls[i].imported, calls[i-1].imported)
		require.GreaterOrEqual(t, calls[i].rows, calls[i].imported)
	}
	require.Equal(t, progress{n, n}, calls[len(calls)-1])
	require.Equal(t, map[string]int{"users": n, "identities": 2 * n, "user_identities": 2 * n, "user_tags": n}, b.tableCounts(t))
	for _, i := range []int{0, 999, 1000, 4321, n - 1} {
		id := fmt.Sprintf("user-%05d", i)
		require.Equal(t, map[channels.Channel][]string{
			channels.SMS:   {fmt.Sprintf("+86139%08d", i)},
			channels.Email: {fmt.Sprintf("user%d@example.com", i)},
		}, b.addresses(t, id)[id], "identity ids computed from LAST_INSERT_ID() link the right addresses")
	}

	// Family members: every third new user shares a phone already bound, so full statements
	// mix new and existing addresses.
	var family strings.Builder
	family.WriteString("id,SMS\n")
	for i := range 3000 {
		phone := fmt.Sprintf("+86137%08d", i)
		if i%3 == 0 {
			phone = fmt.Sprintf("+86139%08d", i)
		}
		fmt.Fprintf(&family, "kin-%05d,%s\n", i, phone)
	}
	rep = b.importCSV(t, family.String(), audience.ImportOptions{BatchSize: 3000, Writers: 1})
	require.Equal(t, int64(3000), rep.Imported)
	require.Equal(t, map[string]int{"users": n + 3000, "identities": 2*n + 2000, "user_identities": 2*n + 3000, "user_tags": n}, b.tableCounts(t))
	for _, i := range []int{0, 1, 2999} {
		kin := fmt.Sprintf("kin-%05d", i)
		phone := b.addresses(t, kin)[kin][channels.SMS]
		require.Len(t, phone, 1)
		owners, err := b.svc.LoadOwners(b.ctx, b.appID, channels.SMS, phone[0])
		require.NoError(t, err)
		if i%3 == 0 {
			require.Equal(t, []string{kin, fmt.Sprintf("user-%05d", i)}, owners)
		} else {
			require.Equal(t, fmt.Sprintf("+86137%08d", i), phone[0])
			require.Equal(t, []string{kin}, owners)
		}
	}
}

func TestImportAuthorization(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	file := "id\nu1\n"
	viewer := account.WithPrincipal(context.Background(), &account.Principal{Role: account.Viewer, AppIDs: []int64{b.appID}})
	_, err := b.svc.Import(viewer, b.appID, strings.NewReader(file), audience.ImportOptions{})
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err))
	_, err = b.svc.Import(context.Background(), b.appID, strings.NewReader(file), audience.ImportOptions{})
	require.Equal(t, fault.CodeUnauthenticated, fault.CodeOf(err))
	_, err = b.svc.Import(b.ctx, b.appID+1000, strings.NewReader(file), audience.ImportOptions{})
	require.Equal(t, fault.CodeNotFound, fault.CodeOf(err))
	require.Equal(t, 0, b.tableCounts(t)["users"])
}

// TestImportWritesThroughTheCache checks that users cached before an import are read with
// their new addresses after it, from a real Redis.
func TestImportWritesThroughTheCache(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	opts, err := redis.ParseURL(cmp.Or(os.Getenv("HERALD_TEST_REDIS_URL"), "redis://127.0.0.1:6379/0"))
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	prefix := storetest.Prefix() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		require.NoError(t, err)
		if len(keys) > 0 {
			require.NoError(t, rdb.Del(ctx, keys...).Err())
		}
		rdb.Close()
	})
	cache, err := audience.NewCache(rdb, prefix, b.svc, audience.CacheOptions{})
	require.NoError(t, err)
	b.svc.SetCache(cache)

	_, _, err = b.svc.Upsert(b.ctx, b.appID, []audience.UserInput{{ID: "u1", Identities: []audience.Identity{{Channel: channels.SMS, Address: "13800138000"}}}})
	require.NoError(t, err)
	before, err := b.svc.Resolve(b.ctx, b.appID, []string{"u1", "u2"})
	require.NoError(t, err)
	require.Equal(t, audience.Addresses{"u1": {channels.SMS: {"+8613800138000"}}}, before, "u1 and u2 (absent) are cached now")
	keys, err := rdb.Keys(b.ctx, prefix+"*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)

	rep := b.importCSV(t, "id,SMS,EMAIL\nu1,,u1@example.com\nu2,13800138000,\n", audience.ImportOptions{})
	require.Equal(t, int64(2), rep.Imported)
	after, err := b.svc.Resolve(b.ctx, b.appID, []string{"u1", "u2"})
	require.NoError(t, err)
	require.Equal(t, audience.Addresses{
		"u1": {channels.SMS: {"+8613800138000"}, channels.Email: {"u1@example.com"}},
		"u2": {channels.SMS: {"+8613800138000"}},
	}, after)
	owners, err := cache.Owners(b.ctx, b.appID, channels.SMS, "+8613800138000")
	require.NoError(t, err)
	require.Equal(t, []string{"u1", "u2"}, owners)
}

// TestImportUsersGraphQL uploads a file to importUsers as a multipart request, the way the
// console does, and checks the report and the audit entry.
func TestImportUsersGraphQL(t *testing.T) {
	t.Parallel()
	b := setupImport(t)
	accounts, err := account.NewService(b.ctx, b.store, account.Config{SessionSecret: "test"})
	require.NoError(t, err)
	h := graph.NewHandler(&graph.Resolver{Svc: graph.Services{Accounts: accounts, Audience: b.svc}}, graph.Options{})
	principal := &account.Principal{Email: "op@example.com", Role: account.Operator, AppIDs: []int64{b.appID}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(account.WithPrincipal(r.Context(), principal)))
	}))
	defer srv.Close()

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	ops := fmt.Sprintf(`{"query":"mutation($app: ID!, $file: Upload!) { importUsers(appId: $app, file: $file) { rows imported errors { row column reason } } }","variables":{"app":"%d","file":null}}`, b.appID)
	require.NoError(t, mw.WriteField("operations", ops))
	require.NoError(t, mw.WriteField("map", `{"0":["variables.file"]}`))
	fw, err := mw.CreateFormFile("0", "users.csv")
	require.NoError(t, err)
	_, err = io.WriteString(fw, "id,SMS\nu1,13800138000\nu2,12\n")
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	resp, err := http.Post(srv.URL, mw.FormDataContentType(), &body)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct {
		Data struct {
			ImportUsers struct {
				Rows     int
				Imported int
				Errors   []struct {
					Row    int
					Column *string
					Reason string
				}
			}
		}
		Errors []map[string]any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Empty(t, out.Errors)
	got := out.Data.ImportUsers
	require.Equal(t, 2, got.Rows)
	require.Equal(t, 1, got.Imported)
	require.Len(t, got.Errors, 1)
	require.Equal(t, 3, got.Errors[0].Row)
	require.Equal(t, "SMS", *got.Errors[0].Column)
	require.Contains(t, got.Errors[0].Reason, "not a Chinese mobile number")

	var actor, detail string
	require.NoError(t, b.db.QueryRow("SELECT actor, detail FROM audit_log WHERE action = 'importUsers' AND app_id = ?", b.appID).Scan(&actor, &detail))
	require.Equal(t, "op@example.com", actor)
	require.JSONEq(t, `{"file": "users.csv", "rows": 2, "imported": 1, "failed": 1}`, detail)
}
