package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/reports"
)

// The CSV exports answer GET /export/stats.csv and GET /export/deliveries.csv with the
// filters of the stats and deliveries queries as query parameters. They are authorised like
// the queries — the domain layer checks the caller's access to the app — and streamed: the
// deliveries are read a page at a time by keyset and written as they come.

// exportAuthenticate attaches the caller of an export: an API key (Authorization: Bearer) or
// the console session cookie. A cookie is accepted on these GET requests because they only
// read: a cross-site page may make the browser download a file but cannot read it, and a
// request the browser marks as cross-site (Sec-Fetch-Site) is refused anyway.
func (h *Herald) exportAuthenticate(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var p *account.Principal
		if auth := r.Header.Get("Authorization"); auth != "" {
			secret, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok {
				writeExportError(w, fault.Unauthenticated("Authorization must be \"Bearer <api key>\""))
				return
			}
			var err error
			if p, err = h.Accounts.APIKey(ctx, strings.TrimSpace(secret)); err != nil {
				writeExportError(w, err)
				return
			}
		} else if c, err := r.Cookie(account.SessionCookie); err == nil && c.Value != "" {
			if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				writeExportError(w, fault.Forbidden("", "a cross-site request cannot export with a console session"))
				return
			}
			if p, err = h.Accounts.Session(ctx, c.Value); err != nil {
				p = nil // an expired session is simply signed out
			}
		}
		if p != nil {
			p.RemoteAddr = remoteAddr(r)
			ctx = account.WithPrincipal(ctx, p)
		}
		next(w, r.WithContext(ctx))
	})
}

// exportStats answers GET /export/stats.csv.
func (h *Herald) exportStats(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := statsQueryOf(v)
	if err != nil {
		writeExportError(w, err)
		return
	}
	cw := newCSVResponse(w, fmt.Sprintf("stats-%d.csv", q.AppID))
	if err := h.Stats.ExportStats(r.Context(), cw, q); err != nil {
		h.exportFailed(w, r, cw, err)
	}
}

// exportDeliveries answers GET /export/deliveries.csv.
func (h *Herald) exportDeliveries(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	f, err := deliveryFilterOf(v)
	if err != nil {
		writeExportError(w, err)
		return
	}
	cw := newCSVResponse(w, fmt.Sprintf("deliveries-%d.csv", f.AppID))
	// A long export outlives any write deadline of the server.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	if err := h.Stats.ExportDeliveries(r.Context(), cw, f, cw.flush); err != nil {
		h.exportFailed(w, r, cw, err)
	}
}

// exportFailed answers an export that failed: with the error when nothing was sent yet, or
// by breaking the connection, so that a client never takes a cut file for a whole one.
func (h *Herald) exportFailed(w http.ResponseWriter, r *http.Request, cw *csvResponse, err error) {
	if !cw.started {
		if _, ok := fault.As(err); !ok {
			h.logger.ErrorContext(r.Context(), "error exporting", "path", r.URL.Path, "error", err)
		}
		writeExportError(w, err)
		return
	}
	if r.Context().Err() == nil {
		h.logger.ErrorContext(r.Context(), "export broken off", "path", r.URL.Path, "error", err)
	}
	panic(http.ErrAbortHandler)
}

// csvResponse sends the CSV headers with the first bytes written.
type csvResponse struct {
	w        http.ResponseWriter
	filename string
	started  bool
}

func newCSVResponse(w http.ResponseWriter, filename string) *csvResponse {
	return &csvResponse{w: w, filename: filename}
}

func (c *csvResponse) Write(p []byte) (int, error) {
	if !c.started {
		c.started = true
		hd := c.w.Header()
		hd.Set("Content-Type", "text/csv; charset=utf-8")
		hd.Set("Content-Disposition", `attachment; filename="`+c.filename+`"`)
		hd.Set("Cache-Control", "no-store")
		hd.Set("X-Content-Type-Options", "nosniff")
		c.w.WriteHeader(http.StatusOK)
	}
	return c.w.Write(p)
}

func (c *csvResponse) flush() {
	if c.started {
		_ = http.NewResponseController(c.w).Flush()
	}
}

// writeExportError answers with a JSON error shaped like a GraphQL one; the field is the
// query parameter at fault.
func writeExportError(w http.ResponseWriter, err error) {
	fe, ok := fault.As(err)
	if !ok {
		fe = &fault.Error{Code: fault.CodeInternal, Message: "internal error"}
	}
	status := map[fault.Code]int{
		fault.CodeBadInput: http.StatusBadRequest, fault.CodeUnauthenticated: http.StatusUnauthorized, fault.CodeForbidden: http.StatusForbidden,
		fault.CodeNotFound: http.StatusNotFound, fault.CodeRateLimited: http.StatusTooManyRequests, fault.CodeUnavailable: http.StatusServiceUnavailable,
	}[fe.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	ext := map[string]any{"code": string(fe.Code)}
	if fe.Field != "" {
		field, _ := strings.CutPrefix(fe.Field, "input.")
		field, _ = strings.CutPrefix(field, "filter.")
		ext["field"] = field
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": fe.Message, "extensions": ext}}})
}

// statsQueryOf reads the parameters of a stats export: appId, from, to, dimensions (a
// comma-separated list, or the parameter repeated), channel, templateId, taskId, limit.
func statsQueryOf(v url.Values) (reports.StatsQuery, error) {
	var (
		q   reports.StatsQuery
		err error
	)
	if q.AppID, err = idParam(v, "appId", true); err != nil {
		return q, err
	}
	if q.From, q.To, err = rangeParams(v); err != nil {
		return q, err
	}
	for _, list := range v["dimensions"] {
		for _, d := range strings.Split(list, ",") {
			if d = strings.TrimSpace(d); d != "" {
				q.Dimensions = append(q.Dimensions, reports.Dimension(strings.ToUpper(d)))
			}
		}
	}
	q.Channel = channels.Channel(strings.ToUpper(v.Get("channel")))
	if q.TemplateID, err = idParam(v, "templateId", false); err != nil {
		return q, err
	}
	if q.TaskID, err = idParam(v, "taskId", false); err != nil {
		return q, err
	}
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil {
			return q, fault.BadInput("limit", "%q is not a number", s)
		}
	}
	return q, nil
}

// deliveryFilterOf reads the parameters of a deliveries export: appId, from, to, taskId,
// userId, channel, status.
func deliveryFilterOf(v url.Values) (reports.DeliveryFilter, error) {
	var (
		f   reports.DeliveryFilter
		err error
	)
	if f.AppID, err = idParam(v, "appId", true); err != nil {
		return f, err
	}
	if f.From, f.To, err = rangeParams(v); err != nil {
		return f, err
	}
	if f.TaskID, err = idParam(v, "taskId", false); err != nil {
		return f, err
	}
	f.UserID = v.Get("userId")
	f.Channel = channels.Channel(strings.ToUpper(v.Get("channel")))
	f.Status = channels.Status(strings.ToUpper(v.Get("status")))
	if f.Status != "" && !validStatus(f.Status) {
		return f, fault.BadInput("status", "unknown delivery status %q", f.Status)
	}
	return f, nil
}

func validStatus(s channels.Status) bool {
	switch s {
	case reports.Queued, channels.Sent, channels.Delivered, channels.Displayed, channels.Clicked, channels.Failed, reports.Suppressed, reports.Redundant:
		return true
	}
	return false
}

func idParam(v url.Values, name string, required bool) (int64, error) {
	s := v.Get(name)
	if s == "" {
		if required {
			return 0, fault.BadInput(name, "is required")
		}
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fault.BadInput(name, "%q is not an id", s)
	}
	return id, nil
}

func rangeParams(v url.Values) (from, to time.Time, err error) {
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		s := v.Get(p.name)
		if s == "" {
			return from, to, fault.BadInput(p.name, "is required (RFC 3339, e.g. 2026-01-01T00:00:00Z)")
		}
		t, perr := time.Parse(time.RFC3339Nano, s)
		if perr != nil {
			return from, to, fault.BadInput(p.name, "%q is not an RFC 3339 time such as 2026-01-01T00:00:00Z", s)
		}
		*p.dst = t
	}
	return from, to, nil
}
