package graph

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/fault"
)

// MutationLimit bounds the mutations of each API key and each console user: a token bucket
// per caller in Redis (dispatch.RateLimiter), so that every Herald process shares one
// budget. Each mutation field of an operation takes one token; an operation that cannot
// have them all is refused whole with RATE_LIMITED and none of its mutations runs. Queries
// and subscriptions are not limited; anonymous callers reach only login, which has its own
// back-off.
type MutationLimit struct {
	Limiter *dispatch.RateLimiter
	// Rate is the refill in mutations per second; Burst the most a caller may spend at once.
	Rate  float64
	Burst int
	// Logger hears of a Redis outage, during which mutations are allowed (fail open).
	Logger *slog.Logger
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = (*MutationLimit)(nil)

// ExtensionName names the extension in gqlgen.
func (*MutationLimit) ExtensionName() string { return "MutationRateLimit" }

// Validate accepts every schema.
func (*MutationLimit) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation takes the caller's tokens before a mutation runs.
func (m *MutationLimit) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if !graphql.HasOperationContext(ctx) {
		return next(ctx)
	}
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return next(ctx)
	}
	p := account.FromContext(ctx)
	if p == nil {
		return next(ctx)
	}
	bucket := "mutations:user:" + strconv.FormatInt(p.UserID, 10)
	if p.KeyID != "" {
		bucket = "mutations:key:" + p.KeyID
	}
	// Root fields as executed: fragments spread, @skip and @include applied.
	n := max(len(graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"})), 1)
	if n > m.Burst {
		return refuse(fault.RateLimited("the operation holds %d mutations; at most %d may run at once", n, m.Burst), 0)
	}
	granted, wait, err := m.Limiter.Take(ctx, bucket, n, m.Rate, m.Burst)
	if err != nil {
		if m.Logger != nil {
			m.Logger.WarnContext(ctx, "mutation rate limit not applied", "caller", p.Name(), "error", err)
		}
		return next(ctx)
	}
	if granted < n {
		return refuse(fault.RateLimited("too many mutations from this caller: at most %s per second, %d at once; retry in %s",
			strconv.FormatFloat(m.Rate, 'g', 4, 64), m.Burst, wait.Round(time.Millisecond)), wait)
	}
	return next(ctx)
}

// refuse answers an operation without running it.
func refuse(err error, retryAfter time.Duration) graphql.ResponseHandler {
	fe, _ := fault.As(err)
	ext := map[string]any{"code": string(fe.Code)}
	if retryAfter > 0 {
		ext["retryAfterMs"] = retryAfter.Milliseconds()
	}
	return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{Message: fe.Message, Extensions: ext}}})
}
