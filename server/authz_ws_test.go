package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/server/servertest"
)

// subscribeOnce opens /graphql as a graphql-ws (graphql-transport-ws) client, as the console
// and backends do, subscribes with query and returns the first answer as a Response: a
// "next" message's data and errors, an "error" message's errors, or the HTTP refusal of the
// handshake. An API key goes as the Authorization header, a session as the cookie of a
// same-origin page.
func subscribeOnce(t *testing.T, env *servertest.Env, auth servertest.Auth, query string, vars map[string]any) *servertest.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	header := http.Header{}
	if auth.APIKey != "" {
		header.Set("Authorization", "Bearer "+auth.APIKey)
	}
	if auth.Session != "" {
		header.Set("Origin", env.URL)
		header.Set("Cookie", (&http.Cookie{Name: account.SessionCookie, Value: auth.Session}).String())
	}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(env.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header})
	if err != nil {
		require.NotNil(t, resp, "websocket handshake: %v", err)
		raw, _ := io.ReadAll(resp.Body)
		out := &servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
		var parsed struct {
			Errors servertest.Errors `json:"errors"`
		}
		require.NoError(t, json.Unmarshal(raw, &parsed), "refused handshake (HTTP %d): %s", resp.StatusCode, raw)
		out.Errors = parsed.Errors
		return out
	}
	defer conn.CloseNow()
	send := func(v any) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, conn.Write(ctx, websocket.MessageText, b))
	}
	read := func() (string, json.RawMessage, []byte) {
		_, b, err := conn.Read(ctx)
		require.NoError(t, err)
		var m struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		require.NoError(t, json.Unmarshal(b, &m), "%s", b)
		return m.Type, m.Payload, b
	}
	send(map[string]any{"type": "connection_init", "payload": map[string]any{}})
	typ, _, raw := read()
	require.Equal(t, "connection_ack", typ, "%s", raw)
	send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query, "variables": vars}})
	for {
		typ, payload, raw := read()
		out := &servertest.Response{Status: http.StatusSwitchingProtocols, Body: raw}
		switch typ {
		case "ping", "pong", "ka":
			continue
		case "next":
			var p struct {
				Data   json.RawMessage   `json:"data"`
				Errors servertest.Errors `json:"errors"`
			}
			require.NoError(t, json.Unmarshal(payload, &p), "%s", raw)
			out.Data, out.Errors = p.Data, p.Errors
		case "error":
			require.NoError(t, json.Unmarshal(payload, &out.Errors), "%s", raw)
		case "complete":
			require.Fail(t, "the subscription completed without an answer")
		default:
			require.Fail(t, "unexpected graphql-ws message", "%s", raw)
		}
		send(map[string]any{"id": "1", "type": "complete"})
		err := conn.Close(websocket.StatusNormalClosure, "")
		var ce websocket.CloseError
		if err != nil && !errors.As(err, &ce) && !errors.Is(err, context.Canceled) {
			t.Logf("closing the websocket: %v", err)
		}
		return out
	}
}

// TestSubscriptionFromAnotherOriginIsRefused: a page of another site cannot ride the session
// cookie into a subscription.
func TestSubscriptionFromAnotherOriginIsRefused(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	admin := env.Login(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	header := http.Header{}
	header.Set("Origin", "https://evil.example")
	header.Set("Cookie", (&http.Cookie{Name: account.SessionCookie, Value: admin.Session}).String())
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(env.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: header})
	if conn != nil {
		conn.CloseNow()
	}
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}
