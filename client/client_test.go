package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/client"
)

const testKey = "hk_k1_s3cret"

// exchange is what the fake Herald expects and answers.
type exchange struct {
	query  string // the operation text the request must carry
	vars   string // the variables as JSON, compared semantically
	noAuth bool   // the request must carry no Authorization header
	status int    // the HTTP status of the answer (200 unless set)
	ctype  string // the Content-Type of the answer (application/json unless set)
	answer string // the body of the answer
}

// fake starts a Herald stand-in that checks one request per call against ex and answers
// ex's canned body; it returns a client of it.
func fake(t *testing.T, ex exchange, opts ...client.Option) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Assertions run in the handler's goroutine, so they report with Errorf-style checks.
		checkRequest(t, r, ex)
		w.Header().Set("Content-Type", cmpOr(ex.ctype, "application/json"))
		w.WriteHeader(cmpOr(ex.status, http.StatusOK))
		_, _ = io.WriteString(w, ex.answer)
	}))
	t.Cleanup(srv.Close)
	if !ex.noAuth {
		opts = append([]client.Option{client.WithAPIKey(testKey)}, opts...)
	}
	return client.New(srv.URL+"/", opts...)
}

func checkRequest(t *testing.T, r *http.Request, ex exchange) {
	t.Helper()
	a := assertions{t}
	a.equal(http.MethodPost, r.Method, "method")
	a.equal("/graphql", r.URL.Path, "path")
	a.equal("application/json", r.Header.Get("Content-Type"), "Content-Type")
	if ex.noAuth {
		a.equal("", r.Header.Get("Authorization"), "Authorization")
	} else {
		a.equal("Bearer "+testKey, r.Header.Get("Authorization"), "Authorization")
	}
	var body struct {
		Query     string          `json:"query"`
		Variables json.RawMessage `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		t.Errorf("request body is not JSON: %v", err)
		return
	}
	a.equal(ex.query, body.Query, "query")
	if ex.vars != "" {
		var want, got any
		if err := json.Unmarshal([]byte(ex.vars), &want); err != nil {
			t.Errorf("bad expected variables: %v", err)
		}
		if err := json.Unmarshal(body.Variables, &got); err != nil {
			t.Errorf("variables are not JSON: %v", err)
		}
		if !jsonEqual(want, got) {
			t.Errorf("variables:\nwant %s\ngot  %s", ex.vars, body.Variables)
		}
	}
}

// assertions reports mismatches without stopping the goroutine, as a handler must.
type assertions struct{ t *testing.T }

func (a assertions) equal(want, got, what string) {
	a.t.Helper()
	if want != got {
		a.t.Errorf("%s: want %q, got %q", what, want, got)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

const taskJSON = `{"id":"t1","appId":"a1","name":"send","kind":"LIST","lane":"REALTIME","status":"RUNNING",
  "template":{"id":"tpl1","name":"otp","version":2},"rule":{"id":"r1","name":"sms","version":1},
  "cron":null,"nextRunAt":null,"createdAt":"2026-11-27T08:00:00Z",
  "progress":{"total":2,"shardsTotal":1,"shardsDone":1,"sent":2,"delivered":1,"displayed":0,"clicked":0,
    "failed":0,"suppressed":1,"fallbacks":0,"redundant":0}}`

func TestSend(t *testing.T) {
	t.Parallel()
	prio := 3
	c := fake(t, exchange{
		query: client.SendMutation,
		vars: `{"in":{"appId":"a1","templateId":"tpl1","ruleId":"r1","userIds":["u1","u2","ghost"],
		        "variables":{"code":"424242"},"idempotencyKey":"order-9","priority":3}}`,
		answer: `{"data":{"send":{"task":` + taskJSON + `,
		  "messages":[{"id":"20261127-0000001a-0000000-1","userId":"u1","channel":"SMS","status":"QUEUED"},
		              {"id":"20261127-0000001a-0000001-1","userId":"u2","channel":"SMS","status":"SUPPRESSED"}],
		  "rejected":[{"userId":"ghost","reason":"unknown user"}]}}}`,
	})
	res, err := c.Send(t.Context(), client.SendInput{AppID: "a1", TemplateID: "tpl1", RuleID: "r1",
		UserIDs: []string{"u1", "u2", "ghost"}, Variables: map[string]any{"code": "424242"},
		IdempotencyKey: "order-9", Priority: &prio})
	require.NoError(t, err)
	require.Equal(t, "t1", res.Task.ID)
	require.Equal(t, "REALTIME", res.Task.Lane)
	require.Equal(t, client.Ref{ID: "tpl1", Name: "otp", Version: 2}, res.Task.Template)
	require.Equal(t, time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC), res.Task.CreatedAt.UTC())
	require.EqualValues(t, 2, res.Task.Progress.Sent)
	require.Equal(t, []client.MessageRef{
		{ID: "20261127-0000001a-0000000-1", UserID: "u1", Channel: "SMS", Status: "QUEUED"},
		{ID: "20261127-0000001a-0000001-1", UserID: "u2", Channel: "SMS", Status: "SUPPRESSED"},
	}, res.Messages)
	require.Equal(t, []client.RejectedUser{{UserID: "ghost", Reason: "unknown user"}}, res.Rejected)
}

func TestSendOmitsUnsetOptionalFields(t *testing.T) {
	t.Parallel()
	c := fake(t, exchange{
		query:  client.SendMutation,
		vars:   `{"in":{"appId":"a1","templateId":"tpl1","ruleId":"r1","userIds":["u1"]}}`,
		answer: `{"data":{"send":{"task":` + taskJSON + `,"messages":[],"rejected":[]}}}`,
	})
	_, err := c.Send(t.Context(), client.SendInput{AppID: "a1", TemplateID: "tpl1", RuleID: "r1", UserIDs: []string{"u1"}})
	require.NoError(t, err)
}

func TestTask(t *testing.T) {
	t.Parallel()
	t.Run("found", func(t *testing.T) {
		t.Parallel()
		c := fake(t, exchange{query: client.TaskQuery, vars: `{"id":"t1"}`, answer: `{"data":{"task":` + taskJSON + `}}`})
		task, err := c.Task(t.Context(), "t1")
		require.NoError(t, err)
		require.Equal(t, "RUNNING", task.Status)
		require.False(t, task.Done())
		require.Equal(t, client.TaskProgress{Total: 2, ShardsTotal: 1, ShardsDone: 1, Sent: 2, Delivered: 1, Suppressed: 1}, task.Progress)
	})
	t.Run("null is NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		c := fake(t, exchange{query: client.TaskQuery, vars: `{"id":"nope"}`, answer: `{"data":{"task":null}}`})
		task, err := c.Task(t.Context(), "nope")
		require.Nil(t, task)
		require.True(t, client.IsCode(err, client.CodeNotFound), "error %v", err)
	})
}

func TestUpsertUsers(t *testing.T) {
	t.Parallel()
	c := fake(t, exchange{
		query: client.UpsertUsersMutation,
		vars: `{"appId":"a1","users":[{"id":"u1","attributes":{"city":"杭州"},"tags":["vip"],
		        "identities":[{"channel":"SMS","address":"+8613600000001"}]},{"id":"u2"}]}`,
		answer: `{"data":{"upsertUsers":{"created":1,"updated":1}}}`,
	})
	res, err := c.UpsertUsers(t.Context(), "a1", []client.UserInput{
		{ID: "u1", Attributes: map[string]any{"city": "杭州"}, Tags: []string{"vip"},
			Identities: []client.Identity{{Channel: "SMS", Address: "+8613600000001"}}},
		{ID: "u2"},
	})
	require.NoError(t, err)
	require.Equal(t, &client.UpsertResult{Created: 1, Updated: 1}, res)
}

func TestCreateTask(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	c := fake(t, exchange{
		query: client.CreateTaskMutation,
		vars: `{"in":{"appId":"a1","name":"december","kind":"BROADCAST","templateId":"tpl1","ruleId":"r1",
		        "variables":{"discount":10},"startAt":"2026-12-01T09:30:00Z"}}`,
		answer: `{"data":{"createTask":{"id":"t2","appId":"a1","name":"december","kind":"BROADCAST","lane":"BULK",
		  "status":"SCHEDULED","template":{"id":"tpl1","name":"promo","version":1},"rule":{"id":"r1","name":"sms","version":1},
		  "cron":null,"nextRunAt":"2026-12-01T09:30:00Z","createdAt":"2026-11-27T08:00:00Z",
		  "progress":{"total":0,"shardsTotal":0,"shardsDone":0,"sent":0,"delivered":0,"displayed":0,"clicked":0,
		    "failed":0,"suppressed":0,"fallbacks":0,"redundant":0}}}}`,
	})
	task, err := c.CreateTask(t.Context(), client.TaskInput{AppID: "a1", Name: "december", Kind: "BROADCAST",
		TemplateID: "tpl1", RuleID: "r1", Variables: map[string]any{"discount": 10}, StartAt: &start})
	require.NoError(t, err)
	require.Equal(t, "SCHEDULED", task.Status)
	require.NotNil(t, task.NextRunAt)
	require.True(t, start.Equal(*task.NextRunAt))
}

func TestStats(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	c := fake(t, exchange{
		query: client.StatsQuery,
		vars: `{"in":{"appId":"a1","from":"2026-11-01T00:00:00+08:00","to":"2026-12-01T00:00:00+08:00",
		        "dimensions":["DAY","CHANNEL"],"channel":"SMS","limit":10}}`,
		answer: `{"data":{"stats":{
		  "rows":[{"day":"2026-11-27","hour":null,"appId":null,"channel":"SMS","templateId":null,"taskId":null,"status":null,
		           "sent":10,"delivered":9,"displayed":0,"clicked":0,"failed":1,"suppressed":0,"redundant":0,"cost":0.4}],
		  "totals":{"day":null,"hour":null,"appId":null,"channel":null,"templateId":null,"taskId":null,"status":null,
		           "sent":10,"delivered":9,"displayed":0,"clicked":0,"failed":1,"suppressed":0,"redundant":0,"cost":0.4}}}}`,
	})
	res, err := c.Stats(t.Context(), client.StatsInput{AppID: "a1", From: from, To: from.AddDate(0, 1, 0),
		Dimensions: []string{"DAY", "CHANNEL"}, Channel: "SMS", Limit: 10})
	require.NoError(t, err)
	require.Len(t, res.Rows, 1)
	require.Equal(t, "2026-11-27", *res.Rows[0].Day)
	require.Equal(t, "SMS", *res.Rows[0].Channel)
	require.Nil(t, res.Rows[0].Status)
	require.EqualValues(t, 9, res.Totals.Delivered)
	require.InDelta(t, 0.4, res.Totals.Cost, 1e-9)
}

func TestDo(t *testing.T) {
	t.Parallel()
	const query = `query { me { role } }`
	t.Run("decodes data", func(t *testing.T) {
		t.Parallel()
		c := fake(t, exchange{query: query, answer: `{"data":{"me":{"role":"OPERATOR"}}}`})
		var out struct{ Me struct{ Role string } }
		require.NoError(t, c.Do(t.Context(), query, nil, &out))
		require.Equal(t, "OPERATOR", out.Me.Role)
	})
	t.Run("nil out discards data", func(t *testing.T) {
		t.Parallel()
		c := fake(t, exchange{query: query, answer: `{"data":{"me":{"role":"OPERATOR"}}}`})
		require.NoError(t, c.Do(t.Context(), query, nil, nil))
	})
	t.Run("no key, no Authorization", func(t *testing.T) {
		t.Parallel()
		c := fake(t, exchange{query: query, noAuth: true, answer: `{"data":{"me":{"role":"VIEWER"}}}`})
		require.NoError(t, c.Do(t.Context(), query, nil, nil))
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		c := fake(t, exchange{query: query, answer: `{"data":{}}`})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := c.Do(ctx, query, nil, nil)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		ctype   string
		answer  string
		want    *client.Error // nil when the error must be an *HTTPError
		wantMsg string
	}{
		{
			name:   "GraphQL error with code and field",
			answer: `{"errors":[{"message":"required variable \"code\" is missing","path":["send"],"extensions":{"code":"BAD_INPUT","field":"input.variables.code"}}],"data":null}`,
			want: &client.Error{Code: "BAD_INPUT", Field: "input.variables.code", Message: `required variable "code" is missing`,
				Path: []any{"send"}, StatusCode: http.StatusOK},
			wantMsg: `herald: required variable "code" is missing (BAD_INPUT at input.variables.code)`,
		},
		{
			name:    "GraphQL error on a failed transport status",
			status:  http.StatusServiceUnavailable,
			answer:  `{"errors":[{"message":"RabbitMQ is down","extensions":{"code":"UNAVAILABLE"}}]}`,
			want:    &client.Error{Code: "UNAVAILABLE", Message: "RabbitMQ is down", StatusCode: http.StatusServiceUnavailable},
			wantMsg: "herald: RabbitMQ is down (UNAVAILABLE)",
		},
		{
			name:    "HTTP 401 with Herald's answer",
			status:  http.StatusUnauthorized,
			answer:  `{"errors":[{"message":"invalid API key","extensions":{"code":"UNAUTHENTICATED"}}]}`,
			want:    &client.Error{Code: "UNAUTHENTICATED", Message: "invalid API key", StatusCode: http.StatusUnauthorized},
			wantMsg: "herald: invalid API key (UNAUTHENTICATED)",
		},
		{
			name:    "HTTP 401 from a proxy",
			status:  http.StatusUnauthorized,
			ctype:   "text/plain",
			answer:  "go away",
			want:    &client.Error{Code: "UNAUTHENTICATED", Message: "unauthenticated", StatusCode: http.StatusUnauthorized},
			wantMsg: "herald: unauthenticated (UNAUTHENTICATED)",
		},
		{
			name:    "non-JSON 502",
			status:  http.StatusBadGateway,
			ctype:   "text/html",
			answer:  "<html><body>502 Bad Gateway</body></html>",
			wantMsg: `herald: HTTP 502 with no GraphQL answer: "<html><body>502 Bad Gateway</body></html>"`,
		},
		{
			name:    "JSON that is not GraphQL",
			status:  http.StatusInternalServerError,
			answer:  `{"oops":true}`,
			wantMsg: `herald: HTTP 500 with no GraphQL answer: "{\"oops\":true}"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := fake(t, exchange{query: client.SendMutation, status: tt.status, ctype: tt.ctype, answer: tt.answer})
			res, err := c.Send(t.Context(), client.SendInput{AppID: "a1", TemplateID: "tpl1", RuleID: "r1", UserIDs: []string{"u1"}})
			require.Nil(t, res)
			require.Error(t, err)
			require.Equal(t, tt.wantMsg, err.Error())

			var gqlErr *client.Error
			if tt.want == nil {
				require.False(t, errors.As(err, &gqlErr), "a non-GraphQL answer is no *Error")
				var httpErr *client.HTTPError
				require.ErrorAs(t, err, &httpErr)
				require.Equal(t, tt.status, httpErr.StatusCode)
				require.Empty(t, client.CodeOf(err))
				return
			}
			require.ErrorAs(t, err, &gqlErr)
			require.Equal(t, tt.want, gqlErr)
			require.True(t, client.IsCode(err, tt.want.Code))
			require.False(t, client.IsCode(err, client.CodeInternal))
			require.Equal(t, tt.want.Code, client.CodeOf(err))
		})
	}
}

func TestSeveralErrors(t *testing.T) {
	t.Parallel()
	c := fake(t, exchange{query: client.SendMutation, answer: `{"errors":[
	  {"message":"no such template","extensions":{"code":"NOT_FOUND","field":"input.templateId"}},
	  {"message":"priority must be 0 to 9","extensions":{"code":"BAD_INPUT","field":"input.priority"}}],"data":null}`})
	_, err := c.Send(t.Context(), client.SendInput{AppID: "a1", TemplateID: "x", RuleID: "r1", UserIDs: []string{"u1"}})
	require.True(t, client.IsCode(err, client.CodeNotFound))
	require.True(t, client.IsCode(err, client.CodeBadInput), "any of the errors counts")
	require.True(t, client.IsCode(fmtWrap(err), client.CodeBadInput), "through wrapping too")
	var first *client.Error
	require.ErrorAs(t, err, &first)
	require.Equal(t, "input.templateId", first.Field)
	require.False(t, client.IsCode(nil, client.CodeBadInput))
}

func fmtWrap(err error) error { return fmt.Errorf("error sending the code: %w", err) }
