// Package client is a typed Go client for Herald's GraphQL API, for backends that trigger
// sends, watch tasks and read statistics.
//
//	c := client.New("https://herald.example.com", client.WithAPIKey(os.Getenv("HERALD_API_KEY")))
//	res, err := c.Send(ctx, client.SendInput{AppID: app, TemplateID: tpl, RuleID: rule, UserIDs: []string{"u1"}})
//	if client.IsCode(err, client.CodeBadInput) { ... }
//
// It uses net/http only. Every method is one POST /graphql request; GraphQL errors come
// back as *Error, which carries extensions.code and extensions.field.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultTimeout bounds a request made with the default HTTP client.
const DefaultTimeout = 30 * time.Second

// maxBody bounds how much of an answer the client reads; Herald's answers are far smaller.
const maxBody = 64 << 20

// Client calls one Herald. It is safe for concurrent use.
type Client struct {
	endpoint string
	apiKey   string
	http     *http.Client
}

// Option changes how New builds a Client.
type Option func(*Client)

// WithAPIKey authenticates every request with an API key (hk_<id>_<secret>), sent as
// Authorization: Bearer.
func WithAPIKey(secret string) Option {
	return func(c *Client) { c.apiKey = secret }
}

// WithHTTPClient makes requests through hc instead of a client with DefaultTimeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// New returns a client of the Herald at baseURL (such as http://127.0.0.1:8080); requests go
// to baseURL + "/graphql".
func New(baseURL string, opts ...Option) *Client {
	c := &Client{endpoint: strings.TrimRight(baseURL, "/") + "/graphql"}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	return c
}

// request is the body of a GraphQL POST.
type request struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

// response is a GraphQL answer.
type response struct {
	Data   json.RawMessage `json:"data"`
	Errors []*Error        `json:"errors"`
}

// Do runs one GraphQL operation with its variables and decodes the answer's data into out
// (a pointer, or nil to discard it). GraphQL errors are returned as *Error (several are
// joined with errors.Join); an answer that is not GraphQL JSON is an *HTTPError; HTTP 401
// is always an UNAUTHENTICATED *Error.
func (c *Client) Do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(request{Query: query, Variables: vars})
	if err != nil {
		return fmt.Errorf("error encoding the request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("error building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("error calling Herald: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("error reading Herald's answer (HTTP %d): %w", resp.StatusCode, err)
	}

	var r response
	jsonErr := json.Unmarshal(raw, &r)
	if resp.StatusCode == http.StatusUnauthorized {
		// A bad API key is refused before GraphQL runs; keep Herald's message when it sent one.
		e := &Error{Code: CodeUnauthenticated, Message: "unauthenticated", StatusCode: resp.StatusCode}
		if jsonErr == nil && len(r.Errors) > 0 && r.Errors[0].Message != "" {
			e.Message = r.Errors[0].Message
		}
		return e
	}
	if jsonErr != nil || (r.Data == nil && len(r.Errors) == 0) {
		return &HTTPError{StatusCode: resp.StatusCode, Body: snippet(raw)}
	}
	if len(r.Errors) > 0 {
		errs := make([]error, len(r.Errors))
		for i, e := range r.Errors {
			e.StatusCode = resp.StatusCode
			errs[i] = e
		}
		if len(errs) == 1 {
			return errs[0]
		}
		return errors.Join(errs...)
	}
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{StatusCode: resp.StatusCode, Body: snippet(raw)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Data, out); err != nil {
		return fmt.Errorf("error decoding Herald's data: %w", err)
	}
	return nil
}

// snippet is the start of a body, for error messages.
func snippet(b []byte) string {
	const max = 512
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
