package graph_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/graph"
)

// logBuffer collects log lines; handlers may log from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewJSONHandler(lb, nil)), lb
}

func TestErrorPresenterMapsFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		path      []string // where the error happened
		wantCode  string
		wantField string // empty: no field extension
		wantMsg   string
	}{
		{"bad input", fault.BadInput("input.users[3].id", "appears twice"), nil, "BAD_INPUT", "input.users[3].id", "appears twice"},
		{"bad input without field takes the path", fault.BadInput("", "not valid"), []string{"send", "input"}, "BAD_INPUT", "send.input", "not valid"},
		{"bad input without field or path", fault.BadInput("", "not valid"), nil, "BAD_INPUT", "", "not valid"},
		{"not found", fault.NotFound("templateId", "template 7 does not exist"), []string{"template"}, "NOT_FOUND", "templateId", "template 7 does not exist"},
		{"not found without field ignores the path", fault.NotFound("", "gone"), []string{"template"}, "NOT_FOUND", "", "gone"},
		{"unauthenticated", fault.Unauthenticated("sign in"), []string{"me"}, "UNAUTHENTICATED", "", "sign in"},
		{"forbidden", fault.Forbidden("appId", "no access to app 2"), nil, "FORBIDDEN", "appId", "no access to app 2"},
		{"conflict", fault.Conflict("name", "exists"), nil, "CONFLICT", "name", "exists"},
		{"rate limited", fault.RateLimited("slow down"), nil, "RATE_LIMITED", "", "slow down"},
		{"unavailable", fault.Unavailable("try again"), nil, "UNAVAILABLE", "", "try again"},
		{"not implemented", fault.NotImplemented("Audience.sample"), nil, "NOT_IMPLEMENTED", "", "Audience.sample is not available in this release of Herald"},
		{"wrapped keeps the user's message only", fmt.Errorf("error loading rule 9 from db-7.internal: %w", fault.NotFound("ruleId", "rule 9 does not exist")), nil,
			"NOT_FOUND", "ruleId", "rule 9 does not exist"},
		{"inside a gqlerror", &gqlerror.Error{Message: "x", Err: fault.Forbidden("appId", "no")}, nil, "FORBIDDEN", "appId", "no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := newLogger()
			ctx := t.Context()
			for _, p := range tt.path {
				ctx = graphql.WithPathContext(ctx, graphql.NewPathWithField(p))
			}
			got := graph.ErrorPresenter(logger)(ctx, tt.err)
			require.Equal(t, tt.wantMsg, got.Message)
			require.Equal(t, tt.wantCode, got.Extensions["code"])
			if tt.wantField == "" {
				require.NotContains(t, got.Extensions, "field")
			} else {
				require.Equal(t, tt.wantField, got.Extensions["field"])
			}
			require.Empty(t, logs.String(), "errors a client may see are not logged as internal")
		})
	}
}

func TestErrorPresenterHidesInternals(t *testing.T) {
	t.Parallel()
	secret := "Error 1146 (42S02): Table 'herald.delivery_20240301' doesn't exist; dial tcp 10.0.0.5:3306; +8613800138000"
	tests := []struct {
		name string
		err  error
	}{
		{"plain", errors.New(secret)},
		{"wrapped", fmt.Errorf("error recording deliveries: %w", errors.New(secret))},
		{"inside a gqlerror from a resolver", &gqlerror.Error{Message: secret, Err: errors.New(secret), Path: ast.Path{ast.PathName("stats")}, Extensions: map[string]any{"sql": secret}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := newLogger()
			ctx := graphql.WithPathContext(t.Context(), graphql.NewPathWithField("stats"))
			got := graph.ErrorPresenter(logger)(ctx, tt.err)

			require.Equal(t, "internal error", got.Message)
			require.Equal(t, map[string]any{"code": "INTERNAL"}, got.Extensions)
			require.Equal(t, ast.Path{ast.PathName("stats")}, got.Path, "the client learns where, not what")
			b, err := json.Marshal(got)
			require.NoError(t, err)
			for _, leak := range []string{"1146", "delivery_", "10.0.0.5", "13800138000"} {
				require.NotContains(t, string(b), leak)
			}

			line := logs.String()
			require.Contains(t, line, `"msg":"internal error"`)
			require.Contains(t, line, `"level":"ERROR"`)
			require.Contains(t, line, "Table 'herald.delivery_20240301'", "the detail goes to the log")
			require.Contains(t, line, `"path":"stats"`)
		})
	}
}

func TestErrorPresenterRequestErrors(t *testing.T) {
	t.Parallel()
	logger, logs := newLogger()
	present := graph.ErrorPresenter(logger)

	got := present(t.Context(), &gqlerror.Error{Message: `Cannot query field "nope" on type "Query".`})
	require.Equal(t, `Cannot query field "nope" on type "Query".`, got.Message)
	require.Equal(t, "BAD_INPUT", got.Extensions["code"])

	got = present(t.Context(), &gqlerror.Error{Message: "PersistedQueryNotFound", Extensions: map[string]any{"code": "PERSISTED_QUERY_NOT_FOUND"}})
	require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", got.Extensions["code"], "APQ clients rely on this code to resend the query")

	require.Empty(t, logs.String())
}

// gqlResponse is the JSON answer of /graphql.
type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

type handlerBundle struct {
	srv  *httptest.Server
	logs *logBuffer
}

// setupHandler serves a handler whose resolver has no services: enough for the limits and
// the error boundary. principal, when set, is put into every request's context.
func setupHandler(t *testing.T, principal *account.Principal) *handlerBundle {
	t.Helper()
	logger, logs := newLogger()
	h := graph.NewHandler(&graph.Resolver{}, graph.Options{Limits: graph.Limits{Complexity: 100, Depth: 3, UploadBytes: 1 << 20}, Logger: logger})
	var handler http.Handler = h
	if principal != nil {
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(account.WithPrincipal(r.Context(), principal)))
		})
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &handlerBundle{srv: srv, logs: logs}
}

func (b *handlerBundle) query(t *testing.T, q string) gqlResponse {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": q})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.srv.URL, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out gqlResponse
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	tests := []struct {
		name      string
		query     string
		wantDepth int // 0: allowed
	}{
		{"three levels", `{ me { apps { id } } }`, 0},
		{"three levels, several fields", `{ me { email role apps { id name createdAt } } }`, 0},
		{"three levels through an inline fragment", `{ ... on Query { me { apps { id } } } }`, 0},
		{"three levels through a fragment", `query { ...Q } fragment Q on Query { me { apps { ...A } } } fragment A on App { id }`, 0},
		{"four levels", `{ me { apps { settings { timeZone } } } }`, 4},
		{"four levels beside a shallow field", `{ me { email apps { id settings { timeZone } } } }`, 4},
		{"four levels hidden in a fragment", `query { me { ...V } } fragment V on Viewer { apps { settings { timeZone } } }`, 4},
		{"four levels in nested fragments", `query { ...Q } fragment Q on Query { me { apps { ...A } } } fragment A on App { settings { timeZone } }`, 4},
		{"five levels", `{ me { apps { settings { quietHours { start } } } } }`, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := b.query(t, tt.query)
			require.NotEmpty(t, res.Errors)
			e := res.Errors[0]
			if tt.wantDepth == 0 {
				// Allowed: it runs, and without a caller `me` is refused.
				require.Equal(t, "UNAUTHENTICATED", e.Extensions["code"], e.Message)
				require.Equal(t, []any{"me"}, e.Path)
				return
			}
			require.Equal(t, "BAD_INPUT", e.Extensions["code"], e.Message)
			require.Equal(t, fmt.Sprintf("operation is nested %d levels deep; at most 3 are allowed", tt.wantDepth), e.Message)
			require.Equal(t, "null", string(res.Data), "nothing ran")
		})
	}
}

// aliases is a query selecting field n times under different aliases.
func aliases(n int, field string) string {
	var sb strings.Builder
	sb.WriteString("{ ")
	for k := range n {
		fmt.Fprintf(&sb, "a%d: %s ", k, field)
	}
	sb.WriteString("}")
	return sb.String()
}

func TestHandlerRequestErrors(t *testing.T) {
	t.Parallel()
	b := setupHandler(t, nil)
	tests := []struct {
		name    string
		query   string
		wantMsg string
	}{
		{"syntax", `{ me { apps { id }`, "Expected Name"},
		{"unknown field", `{ me { password } }`, `Cannot query field "password"`},
		{"too complex", aliases(51, "me { email }"), "complexity"}, // 102 fields, 100 allowed
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := b.query(t, tt.query)
			require.NotEmpty(t, res.Errors)
			require.Equal(t, "BAD_INPUT", res.Errors[0].Extensions["code"])
			require.Contains(t, res.Errors[0].Message, tt.wantMsg)
		})
	}
	require.Empty(t, b.logs.String(), "request errors are not internal errors")
}

func TestHandlerHidesAPanickingResolver(t *testing.T) {
	t.Parallel()
	// A caller is signed in, but the resolver has no account service: the resolver panics.
	b := setupHandler(t, &account.Principal{Role: account.Admin, AllApps: true})
	res := b.query(t, `{ apps { id } }`)
	require.Len(t, res.Errors, 1)
	require.Equal(t, "internal error", res.Errors[0].Message)
	require.Equal(t, map[string]any{"code": "INTERNAL"}, res.Errors[0].Extensions)
	require.Equal(t, []any{"apps"}, res.Errors[0].Path)
	logs := b.logs.String()
	require.Contains(t, logs, "panic in resolver")
	require.Contains(t, logs, "nil pointer")

	// Without a caller the same query is refused before any service is touched.
	anon := setupHandler(t, nil)
	res = anon.query(t, `{ apps { id } }`)
	require.Equal(t, "UNAUTHENTICATED", res.Errors[0].Extensions["code"])
}
