package server_test

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/server/servertest"
)

// export GETs an export path with the given auth and extra headers.
func export(t *testing.T, env *servertest.Env, auth servertest.Auth, path string, params url.Values, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, env.URL+path+"?"+params.Encode(), nil)
	require.NoError(t, err)
	if auth.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+auth.APIKey)
	}
	if auth.Session != "" {
		req.AddCookie(&http.Cookie{Name: account.SessionCookie, Value: auth.Session})
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

// exportError reads the code and field of an export's JSON error.
func exportError(t *testing.T, body []byte) (code, field string) {
	t.Helper()
	var out struct {
		Errors []servertest.Error `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(body, &out), "%s", body)
	require.Len(t, out.Errors, 1, "%s", body)
	return out.Errors[0].Code(), out.Errors[0].Field()
}

func TestExportCSV(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.env
	var ids []string
	for i := range 4 {
		id := "u" + strconv.Itoa(i)
		ids = append(ids, id)
		env.UpsertUsers(t, b.key, b.appID, b.user(id, "+861380013800"+strconv.Itoa(i)))
	}
	// Webhook messages only: their receipts come straight from the simulator's receiver.
	rule := env.CreateRule(t, b.key, b.appID, "webhook-only", "CONCURRENT", "WEBHOOK")
	in := b.send(ids, codeVars("777777"))
	in.RuleID = rule
	res := env.MustSend(t, b.key, in)
	b.waitCompleted(t, res.Task.ID, delivered(4))

	from := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	to := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	params := url.Values{"appId": {b.appID}, "from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}

	// Statistics: the same rows as the stats query, then the totals.
	sp := url.Values{"dimensions": {"CHANNEL,STATUS"}}
	for k, v := range params {
		sp[k] = v
	}
	resp, body := export(t, env, b.key, "/export/stats.csv", sp, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	lines, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"channel", "status", "total", "sent", "delivered", "displayed", "clicked", "failed", "suppressed", "redundant", "cost",
		"redundant_cost", "saved_by_fallback", "saved_cost"}, lines[0])
	want := env.Stats(t, b.key, b.appID, from, to, []string{"CHANNEL", "STATUS"}, nil)
	require.Len(t, lines, len(want.Rows)+2)
	for i, r := range want.Rows {
		require.Equal(t, *r.Channel, lines[i+1][0])
		require.Equal(t, *r.Status, lines[i+1][1])
		require.Equal(t, strconv.FormatInt(r.Sent, 10), lines[i+1][3])
		require.Equal(t, strconv.FormatInt(r.Delivered, 10), lines[i+1][4])
	}
	require.Equal(t, []string{"totals", "", "4", "4", "4", "0", "0", "0", "0", "0"}, lines[len(lines)-1][:10])

	// Deliveries: every message once, with the same filters as the deliveries query.
	resp, body = export(t, env, b.key, "/export/deliveries.csv", params, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	lines, err = csv.NewReader(strings.NewReader(string(body))).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "id", lines[0][0])
	var got, planned []string
	for _, l := range lines[1:] {
		got = append(got, l[0])
		require.Equal(t, "DELIVERED", l[8])
	}
	for _, m := range res.Messages {
		planned = append(planned, m.ID)
	}
	slices.Sort(got)
	slices.Sort(planned)
	require.Equal(t, planned, got)
	fp := url.Values{"channel": {"webhook"}, "userId": {"u2"}}
	for k, v := range params {
		fp[k] = v
	}
	_, body = export(t, env, b.key, "/export/deliveries.csv", fp, nil)
	lines, err = csv.NewReader(strings.NewReader(string(body))).ReadAll()
	require.NoError(t, err)
	require.Len(t, lines, 2, "one webhook message for u2")
	require.Equal(t, res.Message(t, "u2", "WEBHOOK").ID, lines[1][0])
	require.Equal(t, env.WebhookURL("u2"), lines[1][5])

	// A console session exports too, unless the browser says the request is cross-site.
	resp, body = export(t, env, b.admin, "/export/deliveries.csv", params, map[string]string{"Sec-Fetch-Site": "same-origin"})
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	resp, body = export(t, env, b.admin, "/export/deliveries.csv", params, map[string]string{"Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s", body)

	// Authorisation is the queries': no caller, a key of another app.
	resp, body = export(t, env, servertest.Auth{}, "/export/stats.csv", params, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	code, _ := exportError(t, body)
	require.Equal(t, "UNAUTHENTICATED", code)
	other := env.CreateApp(t, b.admin, "other")
	otherKey := env.CreateKey(t, b.admin, other, "VIEWER")
	for _, path := range []string{"/export/stats.csv", "/export/deliveries.csv"} {
		resp, body = export(t, env, otherKey, path, params, nil)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %s", path, body)
		code, field := exportError(t, body)
		require.Equal(t, "FORBIDDEN", code)
		require.Equal(t, "appId", field)
	}

	// Pages of the GraphQL queries have a limit too: first over it is refused, naming it.
	const messages = `query($app: ID!, $first: Int) { user(appId: $app, id: "u1") { messages(first: $first) { edges { node { id } } pageInfo { hasNextPage } } } }`
	for _, first := range []int{0, 201} {
		_, errs := env.Do(t, b.key, messages, map[string]any{"app": b.appID, "first": first})
		require.Len(t, errs, 1, "first %d", first)
		require.Equal(t, "BAD_INPUT", errs[0].Code())
		require.Equal(t, "first", errs[0].Field())
	}
	var page struct {
		User struct {
			Messages struct {
				Edges    []any `json:"edges"`
				PageInfo struct {
					HasNextPage bool `json:"hasNextPage"`
				} `json:"pageInfo"`
			} `json:"messages"`
		} `json:"user"`
	}
	env.MustDo(t, b.key, messages, map[string]any{"app": b.appID, "first": 200}, &page)
	require.Len(t, page.User.Messages.Edges, 1, "u1 got one message")
	require.False(t, page.User.Messages.PageInfo.HasNextPage)
	const detail = `query($f: DeliveryFilter!, $first: Int) { deliveries(filter: $f, first: $first) { edges { node { id } } } }`
	filter := map[string]any{"appId": b.appID, "from": from.Format(time.RFC3339), "to": to.Format(time.RFC3339)}
	_, errs := env.Do(t, b.key, detail, map[string]any{"f": filter, "first": 501})
	require.Len(t, errs, 1)
	require.Equal(t, "BAD_INPUT", errs[0].Code())
	require.Equal(t, "first", errs[0].Field())

	// Bad input names the parameter.
	for _, tt := range []struct {
		path, param, value, field string
	}{
		{"/export/stats.csv", "from", "yesterday", "from"},
		{"/export/stats.csv", "appId", "", "appId"},
		{"/export/stats.csv", "to", from.AddDate(0, 0, 401).Format(time.RFC3339), "to"},
		{"/export/stats.csv", "dimensions", "DAY,WEEK", "dimensions[1]"},
		{"/export/stats.csv", "channel", "TELEX", "channel"},
		{"/export/stats.csv", "limit", "many", "limit"},
		{"/export/deliveries.csv", "status", "LOST", "status"},
		{"/export/deliveries.csv", "taskId", "x", "taskId"},
		{"/export/deliveries.csv", "to", from.AddDate(0, 0, 94).Format(time.RFC3339), "to"},
	} {
		p := url.Values{}
		for k, v := range params {
			p[k] = v
		}
		p.Set(tt.param, tt.value)
		resp, body := export(t, env, b.key, tt.path, p, nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %s=%s: %s", tt.path, tt.param, tt.value, body)
		code, field := exportError(t, body)
		require.Equal(t, "BAD_INPUT", code)
		require.Equal(t, tt.field, field, "%s %s=%s", tt.path, tt.param, tt.value)
	}
}
