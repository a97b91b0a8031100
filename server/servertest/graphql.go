package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
)

// Auth is how a request authenticates: an API key or a console session. The zero Auth is
// anonymous.
type Auth struct {
	// APIKey is sent as Authorization: Bearer.
	APIKey string
	// Session is sent as the console's session cookie.
	Session string
}

// Key returns the Auth of an API key secret.
func Key(secret string) Auth { return Auth{APIKey: secret} }

// Error is one GraphQL error as a client sees it.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// Code is extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Field is extensions.field, the offending input path.
func (e Error) Field() string { s, _ := e.Extensions["field"].(string); return s }

// String is the message with its code and field.
func (e Error) String() string {
	if f := e.Field(); f != "" {
		return fmt.Sprintf("%s (%s at %s)", e.Message, e.Code(), f)
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code())
}

// Errors are the errors of one response.
type Errors []Error

// Error joins the errors, so Errors is an error.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, "; ")
}

// Response is one /graphql answer.
type Response struct {
	// Status is the HTTP status.
	Status int
	// Header is the HTTP header.
	Header http.Header
	// Body is the raw body, for assertions on what a client can read.
	Body   []byte
	Data   json.RawMessage
	Errors Errors
}

// Post sends one GraphQL operation and returns the whole answer, or an error when the
// request cannot be made or the answer is not GraphQL JSON. Unlike Exec it may be called
// from any goroutine.
func (e *Env) Post(ctx context.Context, auth Auth, query string, vars map[string]any) (*Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+auth.APIKey)
	}
	if auth.Session != "" {
		req.AddCookie(&http.Cookie{Name: account.SessionCookie, Value: auth.Session})
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("POST /graphql: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	var parsed struct {
		Data   json.RawMessage `json:"data"`
		Errors Errors          `json:"errors"`
	}
	if err := json.Unmarshal(raw, &parsed); err != nil {
		return nil, fmt.Errorf("answer of /graphql (HTTP %d) is not JSON: %s", resp.StatusCode, raw)
	}
	out.Data, out.Errors = parsed.Data, parsed.Errors
	return out, nil
}

// Exec posts one GraphQL operation and returns the whole answer; it fails the test only
// when the request cannot be made or the answer is not GraphQL JSON.
func (e *Env) Exec(t testing.TB, auth Auth, query string, vars map[string]any) *Response {
	t.Helper()
	r, err := e.Post(context.Background(), auth, query, vars)
	require.NoError(t, err)
	return r
}

// Do runs one operation and returns its data and errors.
func (e *Env) Do(t testing.TB, auth Auth, query string, vars map[string]any) (json.RawMessage, Errors) {
	t.Helper()
	r := e.Exec(t, auth, query, vars)
	return r.Data, r.Errors
}

// MustDo runs one operation, fails the test on any error and decodes the data into out
// (which may be nil).
func (e *Env) MustDo(t testing.TB, auth Auth, query string, vars map[string]any, out any) {
	t.Helper()
	r := e.Exec(t, auth, query, vars)
	require.Empty(t, r.Errors, "GraphQL errors (HTTP %d)", r.Status)
	require.Equal(t, http.StatusOK, r.Status)
	if out != nil {
		require.NoError(t, json.Unmarshal(r.Data, out), "decoding %s", r.Data)
	}
}

// Login signs the bootstrap administrator in and returns the session.
func (e *Env) Login(t testing.TB) Auth {
	t.Helper()
	a, errs := e.LoginAs(t, AdminEmail, AdminPassword)
	require.Empty(t, errs, "login as the bootstrap administrator")
	return a
}

// LoginAs calls the login mutation and returns the session its cookie carries.
func (e *Env) LoginAs(t testing.TB, email, password string) (Auth, Errors) {
	t.Helper()
	r := e.Exec(t, Auth{}, `mutation($email: String!, $password: String!) { login(email: $email, password: $password) { email role } }`,
		map[string]any{"email": email, "password": password})
	if len(r.Errors) > 0 {
		return Auth{}, r.Errors
	}
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == account.SessionCookie && c.Value != "" {
			require.True(t, c.HttpOnly, "the session cookie must be HttpOnly")
			return Auth{Session: c.Value}, nil
		}
	}
	require.FailNow(t, "login set no session cookie", "headers: %v", r.Header)
	return Auth{}, nil
}

// Get requests path (such as /readyz) and returns the status and body.
func (e *Env) Get(t testing.TB, path string) (int, []byte) {
	t.Helper()
	resp, err := e.client.Get(e.URL + path)
	require.NoError(t, err, "GET %s", path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}
