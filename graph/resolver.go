// Package graph is Herald's GraphQL edge: thin resolvers that convert input, call one
// domain method and convert its output, plus the handler, its limits and the error presenter.
package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/rule"
)

// Resolver is the root of the resolvers.
type Resolver struct {
	Svc Services
}

// Services are the domain services the resolvers call.
type Services struct {
	Accounts *account.Service
	Audience *audience.Service
	Content  *content.Service
	Rules    *rule.Service
	Dispatch *dispatch.Service
	Stats    *reports.Stats
	History  reports.HistoryStore
	Registry *channels.Registry
	// Breakers give the circuit state of each provider.
	Breakers *dispatch.Breakers
	// Health reads the vendor-call figures the workers record; nil reports none.
	Health *dispatch.HealthRecorder
	// Rates are the providers' messages-per-second caps (HERALD_PROVIDER_RATES); a provider
	// missing from it has none.
	Rates map[string]float64
	// TimeZone is Herald's time zone (HERALD_TIME_ZONE), in which cron schedules run; nil is UTC.
	TimeZone *time.Location
	Logger   *slog.Logger
}

// SessionFunc sets (token non-empty) or clears (token empty) the console session cookie.
type SessionFunc func(token string, expires time.Time)

type sessionKey struct{}

// WithSessionFunc returns ctx carrying the function that writes the session cookie.
func WithSessionFunc(ctx context.Context, f SessionFunc) context.Context {
	return context.WithValue(ctx, sessionKey{}, f)
}

func sessionFunc(ctx context.Context) SessionFunc {
	if f, ok := ctx.Value(sessionKey{}).(SessionFunc); ok {
		return f
	}
	return func(string, time.Time) {}
}
