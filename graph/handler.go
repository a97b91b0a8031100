package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/graph/generated"
)

// Limits bound what one GraphQL request may ask.
type Limits struct {
	// Complexity is the most fields (lists weighted) one operation may select.
	Complexity int
	// Depth is the deepest selection nesting allowed.
	Depth int
	// UploadBytes is the largest multipart upload.
	UploadBytes int64
}

// DefaultLimits suit the console and backends alike.
func DefaultLimits() Limits {
	return Limits{Complexity: 2000, Depth: 12, UploadBytes: 256 << 20}
}

// Options configure the GraphQL handler.
type Options struct {
	// Dev enables introspection (production deployments keep the schema private).
	Dev    bool
	Limits Limits
	Logger *slog.Logger
	// WebsocketInitFunc authenticates a websocket connection.
	WebsocketInitFunc transport.WebsocketInitFunc
	// MutationLimit bounds each caller's mutations; nil leaves them unbounded.
	MutationLimit *MutationLimit
}

// NewHandler returns the /graphql handler: explicit transports, a query cache, automatic
// persisted queries, complexity and depth limits, and Herald's error presenter.
func NewHandler(r *Resolver, opts Options) *handler.Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits()
	}
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: r}))
	srv.AddTransport(transport.Websocket{KeepAlivePingInterval: 15 * time.Second, InitFunc: opts.WebsocketInitFunc})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: opts.Limits.UploadBytes, MaxMemory: 32 << 20})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.Dev {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	srv.Use(extension.FixedComplexityLimit(opts.Limits.Complexity))
	srv.Use(depthLimit{max: opts.Limits.Depth})
	if opts.MutationLimit != nil {
		srv.Use(opts.MutationLimit)
	}
	srv.SetErrorPresenter(ErrorPresenter(opts.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		opts.Logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(v))
		return errors.New("internal error")
	})
	return srv
}

// ErrorPresenter maps domain errors to the public codes and hides everything else behind
// INTERNAL with a log line: no SQL, address or stack trace reaches a client.
func ErrorPresenter(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if gerr.Extensions == nil {
			gerr.Extensions = map[string]any{}
		}
		if fe, ok := fault.As(err); ok {
			gerr.Message = fe.Message
			gerr.Extensions["code"] = string(fe.Code)
			field := fe.Field
			if field == "" && fe.Code == fault.CodeBadInput && len(gerr.Path) > 0 {
				field = gerr.Path.String()
			}
			if field != "" {
				gerr.Extensions["field"] = field
			}
			return gerr
		}
		var qe *gqlerror.Error
		if errors.As(err, &qe) && qe.Err == nil {
			// Parse, validation and coercion errors of the request itself.
			code := "BAD_INPUT"
			if c, ok := qe.Extensions["code"].(string); ok && c == "PERSISTED_QUERY_NOT_FOUND" {
				code = c
			}
			gerr.Extensions["code"] = code
			return gerr
		}
		logger.ErrorContext(ctx, "internal error", "path", gerr.Path.String(), "error", err)
		return &gqlerror.Error{Message: "internal error", Path: gerr.Path, Extensions: map[string]any{"code": string(fault.CodeInternal)}}
	}
}

// depthLimit refuses operations nested deeper than max.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	if n := depth(rc.Doc, rc.Operation.SelectionSet, 0, map[string]bool{}); n > d.max {
		return &gqlerror.Error{Message: fmt.Sprintf("operation is nested %d levels deep; at most %d are allowed", n, d.max),
			Extensions: map[string]any{"code": "BAD_INPUT"}}
	}
	return nil
}

func depth(doc *ast.QueryDocument, set ast.SelectionSet, level int, visiting map[string]bool) int {
	deepest := level
	for _, sel := range set {
		var n int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				n = level + 1
			} else {
				n = depth(doc, s.SelectionSet, level+1, visiting)
			}
		case *ast.InlineFragment:
			n = depth(doc, s.SelectionSet, level, visiting)
		case *ast.FragmentSpread:
			if visiting[s.Name] || doc == nil {
				continue
			}
			f := doc.Fragments.ForName(s.Name)
			if f == nil {
				continue
			}
			visiting[s.Name] = true
			n = depth(doc, f.SelectionSet, level, visiting)
			delete(visiting, s.Name)
		}
		deepest = max(deepest, n)
	}
	return deepest
}

// Handle serves http with the handler; it exists so callers need not import gqlgen.
func Handle(srv *handler.Server) http.Handler { return srv }
