package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/graph"
	"github.com/herald-msg/herald/graph/generated"
	"github.com/herald-msg/herald/track"
	"github.com/herald-msg/herald/ui"
)

// startingHandler answers while dependencies are still being connected.
func (h *Herald) startingHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"errors": []map[string]any{{
			"message": "Herald is starting: waiting for its databases and message queue", "extensions": map[string]any{"code": "UNAVAILABLE"}}}})
	})
	return mux
}

// routes is the full HTTP surface.
func (h *Herald) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.Handle("GET /metrics", promhttp.Handler())
	if h.mode.API {
		rates, _ := h.cfg.Rates() // validated at start
		gql := graph.NewHandler(&graph.Resolver{Svc: graph.Services{Accounts: h.Accounts, Audience: h.Audience, Content: h.Content, Rules: h.Rules,
			Dispatch: h.Dispatch, Stats: h.Stats, History: h.History, Registry: h.Registry, Breakers: h.Breakers, Rates: rates, TimeZone: h.loc, Logger: h.logger,
			Health: dispatch.NewHealthRecorder(h.Redis, h.cfg.RedisPrefix, h.logger)}},
			graph.Options{Dev: h.cfg.Dev, Logger: h.logger, WebsocketInitFunc: h.websocketInit, MutationLimit: h.mutationLimit()})
		mux.Handle("/graphql", h.authenticate(gql))
		mux.Handle("GET /export/stats.csv", h.exportAuthenticate(h.exportStats))
		mux.Handle("GET /export/deliveries.csv", h.exportAuthenticate(h.exportDeliveries))
		mux.HandleFunc("POST /callbacks/{channel}", h.callback)
		mux.HandleFunc("GET /inbox", h.inbox)
		mux.HandleFunc("OPTIONS /inbox", h.inboxPreflight)
		mux.HandleFunc("POST /callbacks/{channel}/{provider}", h.callback)
		mux.HandleFunc("GET /callbacks/{channel}/{provider}", h.callbackChallenge)
		tracking := track.NewHandler(track.HandlerConfig{Tracker: h.Tracker, Logger: h.logger,
			QueueFunc: func(ctx context.Context, rs []channels.Receipt) error {
				return dispatch.QueueReceipts(ctx, h.Broker, rs)
			}})
		mux.HandleFunc("GET /t/c/{token}", tracking.Click)
		mux.HandleFunc("GET /t/o/{file}", tracking.Open)
		mux.HandleFunc("POST /t/e", tracking.Events)
		mux.HandleFunc("OPTIONS /t/e", tracking.Preflight)
		mux.Handle("GET /console/schema.graphql", h.consoleSchema())
		mux.Handle("/", consoleHandler())
	}
	return mux
}

// readyz reports whether MySQL, Redis and RabbitMQ answer, naming any that does not.
func (h *Herald) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	check := func(name string, err error) {
		if err != nil {
			checks[name] = err.Error()
			ok = false
		} else {
			checks[name] = "ok"
		}
	}
	h.depsMu.RLock()
	db, rdb, b := h.DB, h.Redis, h.Broker
	h.depsMu.RUnlock()
	if db == nil {
		check("mysql", errors.New("not connected yet"))
	} else {
		check("mysql", db.Ping(ctx))
	}
	if rdb == nil {
		check("redis", errors.New("not connected yet"))
	} else {
		check("redis", rdb.Ping(ctx).Err())
	}
	if b == nil {
		check("rabbitmq", errors.New("not connected yet"))
	} else {
		check("rabbitmq", b.Ping(ctx))
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{"ready": ok, "checks": checks})
}

// authenticate attaches the caller: an API key (Authorization: Bearer) or a console session
// cookie. A cookie authenticates only POST requests with a JSON body, which a browser cannot
// send cross-site without a CORS preflight that Herald never grants, and websocket upgrades
// whose Origin is Herald's own host (the console's subscriptions), and the console's file
// uploads (see isConsoleUpload).
func (h *Herald) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		secure := r.TLS != nil || strings.HasPrefix(h.cfg.PublicURL, "https://")
		setSession := func(token string, exp time.Time) {
			c := &http.Cookie{Name: account.SessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure}
			if token == "" {
				c.MaxAge = -1
			} else {
				c.Expires = exp
			}
			http.SetCookie(w, c)
		}
		ctx = graph.WithSessionFunc(ctx, setSession)
		var p *account.Principal
		if auth := r.Header.Get("Authorization"); auth != "" {
			secret, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok {
				writeGraphQLError(w, http.StatusUnauthorized, fault.Unauthenticated("Authorization must be \"Bearer <api key>\""))
				return
			}
			var err error
			if p, err = h.Accounts.APIKey(ctx, strings.TrimSpace(secret)); err != nil {
				writeGraphQLError(w, http.StatusUnauthorized, err)
				return
			}
		} else if c, err := r.Cookie(account.SessionCookie); err == nil && c.Value != "" && (isJSONPost(r) || isSameOriginUpgrade(r) || isConsoleUpload(r)) {
			var renewed string
			var exp time.Time
			if p, renewed, exp, err = h.Accounts.SessionRenewal(ctx, c.Value); err != nil {
				p = nil // an expired session is simply signed out
			} else if renewed != "" {
				setSession(renewed, exp) // past half its lifetime: renewed while in use
			}
		}
		if p != nil {
			p.RemoteAddr = remoteAddr(r)
			ctx = account.WithPrincipal(ctx, p)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// websocketInit authenticates a subscription connection by its session cookie or by an
// "authorization" entry in the connection_init payload.
func (h *Herald) websocketInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	if auth := payload.Authorization(); auth != "" {
		secret, _ := strings.CutPrefix(auth, "Bearer ")
		p, err := h.Accounts.APIKey(ctx, secret)
		if err != nil {
			return ctx, nil, err
		}
		return account.WithPrincipal(ctx, p), nil, nil
	}
	return ctx, nil, nil
}

// isSameOriginUpgrade tells whether r opens a websocket from a page of this very host: a
// browser always sends Origin with a websocket handshake, and a page elsewhere cannot forge
// it, so the session cookie may authenticate it (the websocket library checks it again).
func isSameOriginUpgrade(r *http.Request) bool {
	if r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	return sameOrigin(r)
}

// ConsoleUploadHeader marks a multipart upload (importUsers) sent by the console.
const ConsoleUploadHeader = "X-Herald-Console"

// isConsoleUpload tells whether r is a multipart GraphQL upload from a page of this very
// host: a header no HTML form can send (a script of another site would need a CORS preflight,
// which Herald never grants) and an Origin that is Herald's own host.
func isConsoleUpload(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get(ConsoleUploadHeader) != "upload" {
		return false
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	return ct == "multipart/form-data" && sameOrigin(r)
}

// sameOrigin tells whether r's Origin header names r's own host.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

func isJSONPost(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	return ct == "application/json"
}

func remoteAddr(r *http.Request) string {
	addr := r.RemoteAddr
	if i := strings.LastIndex(addr, ":"); i > 0 {
		addr = addr[:i]
	}
	return strings.Trim(addr, "[]")
}

// callback takes a vendor's receipts: verified by the channel's provider, queued durably,
// then acknowledged to the vendor.
func (h *Herald) callback(w http.ResponseWriter, r *http.Request) {
	ch := channels.Channel(strings.ToUpper(r.PathValue("channel")))
	if !ch.Valid() {
		http.Error(w, "unknown channel", http.StatusNotFound)
		return
	}
	var (
		parser channels.ReceiptParser
		ok     bool
	)
	if name := r.PathValue("provider"); name != "" {
		parser, ok = h.Registry.ReceiptParserOf(ch, name)
	} else {
		parser, ok = h.Registry.ReceiptParser(ch)
	}
	if !ok {
		http.Error(w, "no provider of this channel takes receipts", http.StatusNotFound)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<20)
	receipts, err := parser.ParseReceipts(r)
	if errors.Is(err, channels.ErrUnverified) {
		h.logger.Warn("unverified receipt refused", "channel", ch, "remote_addr", remoteAddr(r))
		http.Error(w, "unverified", http.StatusUnauthorized)
		return
	}
	if err != nil {
		h.logger.Warn("malformed receipt refused", "channel", ch, "error", err)
		http.Error(w, "malformed receipt", http.StatusBadRequest)
		return
	}
	for i := range receipts {
		receipts[i].Channel = ch
	}
	if err := dispatch.QueueReceipts(r.Context(), h.Broker, receipts); err != nil {
		h.logger.Error("error queuing receipts", "channel", ch, "receipts", len(receipts), "error", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if acker, ok := parser.(channels.ReceiptAcker); ok {
		acker.AckReceipts(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// callbackChallenge answers a vendor's GET check of its callback URL (WeChat's echostr
// handshake, ...) through the provider named in the path.
func (h *Herald) callbackChallenge(w http.ResponseWriter, r *http.Request) {
	ch := channels.Channel(strings.ToUpper(r.PathValue("channel")))
	parser, ok := h.Registry.ReceiptParserOf(ch, r.PathValue("provider"))
	challenger, isChallenger := parser.(channels.CallbackChallenger)
	if !ch.Valid() || !ok || !isChallenger {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err := challenger.AnswerChallenge(w, r); err != nil {
		h.logger.Warn("unverified callback check refused", "channel", ch, "provider", r.PathValue("provider"), "remote_addr", remoteAddr(r))
		http.Error(w, "unverified", http.StatusUnauthorized)
	}
}

// consoleHandler serves the built console with a single-page-app fallback.
func consoleHandler() http.Handler {
	dist, err := fs.Sub(ui.Dist, "dist")
	if err != nil {
		panic(err)
	}
	index, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		index = []byte(`<!doctype html><meta charset="utf-8"><title>Herald</title><body style="font-family:sans-serif;margin:3em">` +
			`<h1>Herald</h1><p>The console is not built into this binary. Run <code>make build</code> (or <code>make run</code>) to build it; ` +
			`the GraphQL API is at <a href="/graphql">/graphql</a>.</p>`)
	}
	files := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Referrer-Policy", "same-origin")
		p := strings.TrimPrefix(r.URL.Path, "/")
		if p != "" && p != "index.html" {
			if f, err := dist.Open(p); err == nil {
				f.Close()
				if strings.HasPrefix(p, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	})
}

// consoleSchema serves the API's schema in SDL to a signed-in console user, for the API
// explorer: introspection stays off in production, and the schema is not given to anyone
// who has not signed in.
func (h *Herald) consoleSchema() http.Handler {
	var buf bytes.Buffer
	formatter.NewFormatter(&buf, formatter.WithComments()).FormatSchema(generated.NewExecutableSchema(generated.Config{}).Schema())
	sdl := buf.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		c, err := r.Cookie(account.SessionCookie)
		if err != nil || c.Value == "" {
			writeGraphQLError(w, http.StatusUnauthorized, fault.Unauthenticated("sign in to read the schema"))
			return
		}
		if _, err := h.Accounts.Session(r.Context(), c.Value); err != nil {
			writeGraphQLError(w, http.StatusUnauthorized, fault.Unauthenticated("sign in to read the schema"))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(sdl)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeGraphQLError(w http.ResponseWriter, status int, err error) {
	code, msg := fault.CodeInternal, "internal error"
	if fe, ok := fault.As(err); ok {
		code, msg = fe.Code, fe.Message
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": string(code)}}}})
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
