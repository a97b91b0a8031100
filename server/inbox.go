package server

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/reports"
)

// Inbox page sizes.
const (
	defaultInboxLimit = 20
	maxInboxLimit     = 100
)

// inboxCursor is the form of a history cursor: reversed time and message id.
var inboxCursor = regexp.MustCompile(`^[0-9]{1,19}/[A-Za-z0-9_.:-]{1,128}$`)

// inboxMessage is one message of GET /inbox.
type inboxMessage struct {
	ID      string           `json:"id"`
	TaskID  string           `json:"taskId"`
	Channel channels.Channel `json:"channel"`
	Title   string           `json:"title"`
	Body    string           `json:"body"`
	Status  channels.Status  `json:"status"`
	SentAt  time.Time        `json:"sentAt"`
}

// inbox serves GET /inbox: the history of the one end user an inbox token names, newest
// first. The token (Authorization: Bearer) is the only authority; no parameter names a user
// or an app, so a token reads nothing but its own user's messages.
func (h *Herald) inbox(w http.ResponseWriter, r *http.Request) {
	allowAnyOrigin(w)
	w.Header().Set("Cache-Control", "no-store")
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		writeInboxError(w, http.StatusUnauthorized, fault.Unauthenticated("send the inbox token as Authorization: Bearer <token>"))
		return
	}
	reader, err := h.Accounts.InboxToken(r.Context(), strings.TrimSpace(token))
	if err != nil {
		if fault.CodeOf(err) != fault.CodeUnauthenticated {
			h.logger.ErrorContext(r.Context(), "error verifying an inbox token", "error", err)
			writeInboxError(w, http.StatusInternalServerError, err)
			return
		}
		h.logger.InfoContext(r.Context(), "inbox token refused", "remote_addr", remoteAddr(r))
		writeInboxError(w, http.StatusUnauthorized, err)
		return
	}
	q := r.URL.Query()
	limit := defaultInboxLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxInboxLimit {
			writeInboxError(w, http.StatusBadRequest, fault.BadInput("limit", "%q must be a whole number from 1 to %d", v, maxInboxLimit))
			return
		}
		limit = n
	}
	hq := reports.HistoryQuery{First: limit + 1}
	if v := q.Get("cursor"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || !inboxCursor.Match(raw) {
			writeInboxError(w, http.StatusBadRequest, fault.BadInput("cursor", "not a cursor of this inbox; pass nextCursor of the previous page"))
			return
		}
		hq.After = string(raw)
	}
	if v := q.Get("channel"); v != "" {
		ch := channels.Channel(strings.ToUpper(v))
		if !ch.Valid() {
			writeInboxError(w, http.StatusBadRequest, fault.BadInput("channel", "unknown channel %q", v))
			return
		}
		hq.Channel = ch
	}
	es, err := h.History.List(r.Context(), reader.AppID, reader.UserID, hq)
	if err != nil {
		h.logger.ErrorContext(r.Context(), "error reading an inbox", "app_id", reader.AppID, "error", err)
		writeInboxError(w, http.StatusInternalServerError, err)
		return
	}
	out := struct {
		Messages   []inboxMessage `json:"messages"`
		NextCursor *string        `json:"nextCursor"`
	}{Messages: make([]inboxMessage, 0, min(len(es), limit))}
	for i, e := range es {
		if i == limit {
			c := base64.RawURLEncoding.EncodeToString([]byte(reports.HistoryCursor(es[i-1])))
			out.NextCursor = &c
			break
		}
		out.Messages = append(out.Messages, inboxMessage{ID: e.MessageID, TaskID: strconv.FormatInt(e.TaskID, 10), Channel: e.Channel,
			Title: e.Title, Body: e.Body, Status: e.Status, SentAt: e.CreatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
}

// inboxPreflight answers a browser's CORS preflight: an inbox is read with a bearer token,
// never a cookie, so any origin may ask.
func (h *Herald) inboxPreflight(w http.ResponseWriter, _ *http.Request) {
	allowAnyOrigin(w)
	w.Header().Set("Access-Control-Allow-Methods", "GET")
	w.Header().Set("Access-Control-Allow-Headers", "Authorization")
	w.Header().Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

func allowAnyOrigin(w http.ResponseWriter) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
}

// writeInboxError answers with the GraphQL error shape, so clients read one error format.
func writeInboxError(w http.ResponseWriter, status int, err error) {
	e := map[string]any{"message": "internal error", "extensions": map[string]any{"code": string(fault.CodeInternal)}}
	if fe, ok := fault.As(err); ok {
		ext := map[string]any{"code": string(fe.Code)}
		if fe.Field != "" {
			ext["field"] = fe.Field
		}
		e = map[string]any{"message": fe.Message, "extensions": ext}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald-inbox"`)
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{e}})
}
