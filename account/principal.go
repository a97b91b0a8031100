// Package account holds who may use Herald: apps, console users, API keys, sessions, the
// authorization rules every domain package applies, and the audit log.
package account

import (
	"context"
	"slices"

	"github.com/herald-msg/herald/fault"
)

// Role is a caller's power within the apps it may use.
type Role string

// Roles, strongest first.
const (
	Admin    Role = "ADMIN"
	Operator Role = "OPERATOR"
	Viewer   Role = "VIEWER"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == Admin || r == Operator || r == Viewer }

func (r Role) rank() int {
	switch r {
	case Admin:
		return 3
	case Operator:
		return 2
	case Viewer:
		return 1
	}
	return 0
}

// AtLeast reports whether r carries at least the power of min.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() }

// Principal is an authenticated caller: a console user or an API key.
type Principal struct {
	// UserID is the console user's id (0 for an API key).
	UserID int64
	Email  string
	// KeyID is the API key's id ("" for a console user).
	KeyID string
	Role  Role
	// AllApps grants every app (the bootstrap administrator).
	AllApps bool
	// AppIDs are the apps the caller may use when AllApps is false.
	AppIDs []int64
	// RemoteAddr is where the request came from, for the audit log.
	RemoteAddr string
}

// Name identifies the caller in the audit log.
func (p *Principal) Name() string {
	if p.KeyID != "" {
		return "key:" + p.KeyID
	}
	return p.Email
}

// CanUse reports whether the caller may act on app with at least role min.
func (p *Principal) CanUse(appID int64, min Role) bool {
	if p == nil || !p.Role.AtLeast(min) {
		return false
	}
	return p.AllApps || slices.Contains(p.AppIDs, appID)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller of ctx, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Require returns the caller of ctx, or UNAUTHENTICATED.
func Require(ctx context.Context) (*Principal, error) {
	p := FromContext(ctx)
	if p == nil {
		return nil, fault.Unauthenticated("sign in or send an API key as Authorization: Bearer <key>")
	}
	return p, nil
}

// Authorize checks that the caller of ctx may act on app with at least role min; field names
// the input that carried the app id.
func Authorize(ctx context.Context, appID int64, min Role, field string) (*Principal, error) {
	p, err := Require(ctx)
	if err != nil {
		return nil, err
	}
	if !p.CanUse(appID, min) {
		if p.CanUse(appID, Viewer) {
			return nil, fault.Forbidden(field, "role %s may not do this; %s is needed", p.Role, min)
		}
		return nil, fault.Forbidden(field, "no access to app %d", appID)
	}
	return p, nil
}
