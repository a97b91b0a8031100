// Package rule holds delivery rules (下发规则): ordered routes whose first matching condition
// decides which channels a user gets, concurrently or as a fallback chain.
package rule

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
)

// Strategy says how a route uses its channels.
type Strategy string

// Strategies.
const (
	Concurrent Strategy = "CONCURRENT"
	Fallback   Strategy = "FALLBACK"
)

// Milestone is the status a fallback step must reach before the chain stops.
type Milestone string

// Milestones.
const (
	MilestoneSent      Milestone = "SENT"
	MilestoneDelivered Milestone = "DELIVERED"
	MilestoneDisplayed Milestone = "DISPLAYED"
	MilestoneClicked   Milestone = "CLICKED"
)

// Route is one entry of a rule.
type Route struct {
	When          string             `json:"when,omitempty"`
	Strategy      Strategy           `json:"strategy"`
	Channels      []channels.Channel `json:"channels"`
	FallbackAfter time.Duration      `json:"fallbackAfter,omitempty"`
	Until         Milestone          `json:"until,omitempty"`

	program *vm.Program
}

// Rule is one version of a rule.
type Rule struct {
	ID        int64
	AppID     int64
	Name      string
	Version   int
	Variables []Variable
	Routes    []Route
}

// Variable is a send variable that route conditions may use, with its type: string,
// number, bool or time. User attributes are always available as user.<name>.
type Variable struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Input creates a rule or a new version of one.
type Input struct {
	AppID     int64
	Name      string
	Variables []Variable
	Routes    []Route
}

// Service stores rules and evaluates them.
type Service struct {
	db      *sql.DB
	dl      store.Dialect
	logger  *slog.Logger
	nowFunc func() time.Time

	mu     sync.RWMutex
	cache  map[[2]int64]*Rule
	latest *store.Latest
}

// NewService returns the rule service on the core database.
func NewService(db *store.DB, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{db: db.Core, dl: db.Dialect, logger: logger.With("component", "rule"), nowFunc: time.Now, cache: map[[2]int64]*Rule{},
		latest: store.NewLatest(nil)}
}

// CacheLatest lets Get serve which version of a rule is the latest from memory while gen
// does not move; Update bumps gen after each new version, in every process sharing it.
func (s *Service) CacheLatest(gen *store.Generation) {
	s.latest = store.NewLatest(gen)
}

func validate(in *Input) error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 {
		return fault.BadInput("input.name", "must be 1 to 100 characters")
	}
	if len(in.Routes) == 0 {
		return fault.BadInput("input.routes", "at least one route is needed")
	}
	seenVar := map[string]bool{}
	for i, v := range in.Variables {
		f := fmt.Sprintf("input.variables[%d]", i)
		if !varName.MatchString(v.Name) || v.Name == "user" {
			return fault.BadInput(f+".name", "%q must start with a letter or _ and hold letters, digits and _ (and is not \"user\")", v.Name)
		}
		if seenVar[v.Name] {
			return fault.BadInput(f+".name", "variable %q is declared twice", v.Name)
		}
		seenVar[v.Name] = true
		if _, ok := zeroOf[v.Type]; !ok {
			return fault.BadInput(f+".type", "%q must be string, number, bool or time", v.Type)
		}
	}
	for i := range in.Routes {
		r := &in.Routes[i]
		f := fmt.Sprintf("input.routes[%d]", i)
		if i > 0 && in.Routes[i-1].When == "" {
			return fault.BadInput(f, "unreachable: route %d before it has no condition and always matches", i-1)
		}
		if r.Strategy != Concurrent && r.Strategy != Fallback {
			return fault.BadInput(f+".strategy", "must be CONCURRENT or FALLBACK")
		}
		if len(r.Channels) == 0 {
			return fault.BadInput(f+".channels", "at least one channel is needed")
		}
		seen := map[channels.Channel]bool{}
		for k, ch := range r.Channels {
			if !ch.Valid() {
				return fault.BadInput(fmt.Sprintf("%s.channels[%d]", f, k), "unknown channel %q", ch)
			}
			if seen[ch] {
				return fault.BadInput(fmt.Sprintf("%s.channels[%d]", f, k), "channel %s is listed twice", ch)
			}
			seen[ch] = true
		}
		if r.Strategy == Fallback {
			if r.FallbackAfter <= 0 {
				return fault.BadInput(f+".fallbackAfter", "a FALLBACK route needs fallbackAfter, such as \"30s\"")
			}
			if r.Until == "" {
				r.Until = MilestoneDelivered
			}
		}
		switch r.Until {
		case "", MilestoneSent, MilestoneDelivered, MilestoneDisplayed, MilestoneClicked:
		default:
			return fault.BadInput(f+".until", "unknown milestone %q", r.Until)
		}
		if err := r.compile(in.Variables, true); err != nil {
			return fault.BadInput(f+".when", "%s", err)
		}
	}
	return nil
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// zeroOf holds a value of each variable type, so conditions are type-checked when saved.
var zeroOf = map[string]any{"string": "", "number": float64(0), "bool": false, "time": ""}

// compile checks and compiles the route's condition. Strictly (when a rule is saved) it may
// use only the declared variables and user.<attribute>, types must fit, and a condition that
// can never hold is refused; leniently (a rule saved by an older release) unknown names are
// allowed and evaluate to nil.
func (r *Route) compile(vars []Variable, strict bool) error {
	if r.When == "" {
		return nil
	}
	if len(r.When) > 2000 {
		return fmt.Errorf("condition longer than 2000 characters")
	}
	opts := []expr.Option{expr.AsBool()}
	if strict {
		env := map[string]any{"user": map[string]any{}}
		for _, v := range vars {
			env[v.Name] = zeroOf[v.Type]
		}
		opts = append(opts, expr.Env(env))
	} else {
		opts = append(opts, expr.AllowUndefinedVariables())
	}
	p, err := expr.Compile(r.When, opts...)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			msg := fe.Message
			if strings.HasPrefix(msg, "unknown name ") {
				msg += " (declare it in the rule's variables, or use user.<attribute>)"
			}
			return fmt.Errorf("line %d, column %d: %s", max(fe.Line, 1), fe.Column+1, msg)
		}
		return fmt.Errorf("invalid condition: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if strict && constant(p) {
		if out, err := expr.Run(p, map[string]any{"user": map[string]any{}}); err == nil && out == false {
			return fmt.Errorf("the condition is always false, so the route never matches")
		}
	}
	r.program = p
	return nil
}

// constant reports whether a program reads no variable.
func constant(p *vm.Program) bool {
	node := p.Node()
	v := &nameFinder{}
	ast.Walk(&node, v)
	return !v.found
}

type nameFinder struct{ found bool }

func (f *nameFinder) Visit(n *ast.Node) {
	if _, ok := (*n).(*ast.IdentifierNode); ok {
		f.found = true
	}
}

// Compile compiles every route's condition once, so that Match only runs programs: strictly
// against the declared variables, or leniently for a rule saved by an older release. It must
// be called before the rule is shared between goroutines; it reports the first condition
// that does not compile at all (that route then never matches).
func (r *Rule) Compile() error {
	var first error
	for i := range r.Routes {
		if err := r.Routes[i].compile(r.Variables, true); err == nil {
			continue
		}
		if err := r.Routes[i].compile(r.Variables, false); err != nil && first == nil {
			first = fmt.Errorf("route %d: %w", i, err)
		}
	}
	return first
}

// Match returns the index of the first route whose condition holds for env, or -1. A
// condition that errors counts as false and moves on to the next route.
func (r *Rule) Match(env map[string]any) int {
	for i := range r.Routes {
		rt := &r.Routes[i]
		if rt.When == "" {
			return i
		}
		program := rt.program
		if program == nil {
			// Not compiled by Get (a rule built by hand): compile a copy, so that concurrent
			// callers never write the shared route.
			c := *rt
			if err := c.compile(r.Variables, false); err != nil {
				continue
			}
			program = c.program
		}
		out, err := expr.Run(program, env)
		if err == nil {
			if b, ok := out.(bool); ok && b {
				return i
			}
		}
	}
	return -1
}

// Create saves version 1 of a new rule.
func (s *Service) Create(ctx context.Context, in Input) (*Rule, error) {
	p, err := account.Authorize(ctx, in.AppID, account.Operator, "input.appId")
	if err != nil {
		return nil, err
	}
	if err := validate(&in); err != nil {
		return nil, err
	}
	now := s.nowFunc().UTC().Truncate(time.Millisecond)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck
	id, err := s.dl.InsertID(ctx, tx, createSQL, in.AppID, in.Name, now, now)
	if s.dl.Duplicate(err) {
		return nil, fault.Conflict("input.name", "a rule named %q exists already; update it to add a version", in.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("error creating rule: %w", err)
	}
	routes, _ := json.Marshal(in.Routes)
	vars, _ := json.Marshal(in.Variables)
	if _, err := tx.ExecContext(ctx, s.dl.Rebind("INSERT INTO rule_versions (rule_id, version, routes, variables, created_by, created_at) VALUES (?, 1, ?, ?, ?, ?)"), id, string(routes), string(vars), p.Name(), now); err != nil {
		return nil, fmt.Errorf("error saving rule version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return &Rule{ID: id, AppID: in.AppID, Name: in.Name, Version: 1, Variables: in.Variables, Routes: in.Routes}, nil
}

// Update saves a new version of a rule.
func (s *Service) Update(ctx context.Context, id int64, in Input) (*Rule, error) {
	if _, err := account.Require(ctx); err != nil {
		return nil, err
	}
	cur, err := s.Get(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	if cur.AppID != in.AppID {
		// Another app's object does not exist for this caller.
		return nil, fault.NotFound("id", "rule %d does not exist in app %d", id, in.AppID)
	}
	p, err := account.Authorize(ctx, in.AppID, account.Operator, "input.appId")
	if err != nil {
		return nil, err
	}
	if err := validate(&in); err != nil {
		return nil, err
	}
	now := s.nowFunc().UTC().Truncate(time.Millisecond)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck
	var version int
	if err := tx.QueryRowContext(ctx, s.dl.Rebind("SELECT version FROM rules WHERE id = ? FOR UPDATE"), id).Scan(&version); err != nil {
		return nil, fmt.Errorf("error locking rule: %w", err)
	}
	version++
	routes, _ := json.Marshal(in.Routes)
	vars, _ := json.Marshal(in.Variables)
	_, err = tx.ExecContext(ctx, s.dl.Rebind("UPDATE rules SET version = ?, name = ?, updated_at = ? WHERE id = ?"), version, in.Name, now, id)
	if s.dl.Duplicate(err) {
		return nil, fault.Conflict("input.name", "another rule is named %q", in.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("error updating rule: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.dl.Rebind("INSERT INTO rule_versions (rule_id, version, routes, variables, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)"), id, version, string(routes), string(vars), p.Name(), now); err != nil {
		return nil, fmt.Errorf("error saving rule version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if err := s.latest.Changed(ctx, id); err != nil {
		s.logger.WarnContext(ctx, "other processes may apply the previous version for a few seconds", "rule_id", id, "error", err)
	}
	return &Rule{ID: id, AppID: in.AppID, Name: in.Name, Version: version, Variables: in.Variables, Routes: in.Routes}, nil
}

// Get returns a rule at version (0: the latest) without checking the caller.
func (s *Service) Get(ctx context.Context, id int64, version int) (*Rule, error) {
	version, remember := s.latest.Resolve(ctx, id, version)
	if version > 0 {
		s.mu.RLock()
		r := s.cache[[2]int64{id, int64(version)}]
		s.mu.RUnlock()
		if r != nil {
			return r, nil
		}
	}
	r := &Rule{ID: id}
	var (
		routes string
		vars   sql.NullString
	)
	err := s.db.QueryRowContext(ctx, getSQL(s.dl), id, version, version).
		Scan(&r.AppID, &r.Name, &r.Version, &routes, &vars)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFound("ruleId", "rule %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading rule: %w", err)
	}
	if err := json.Unmarshal([]byte(routes), &r.Routes); err != nil {
		return nil, fmt.Errorf("error decoding rule routes: %w", err)
	}
	if vars.Valid {
		if err := json.Unmarshal([]byte(vars.String), &r.Variables); err != nil {
			return nil, fmt.Errorf("error decoding rule variables: %w", err)
		}
	}
	if err := r.Compile(); err != nil {
		s.logger.WarnContext(ctx, "stored rule condition does not compile", "rule_id", id, "error", err)
	}
	s.mu.Lock()
	s.cache[[2]int64{id, int64(r.Version)}] = r
	s.mu.Unlock()
	remember(r.Version)
	return r, nil
}

// Find returns a rule the caller may read.
func (s *Service) Find(ctx context.Context, id int64) (*Rule, error) {
	// An anonymous caller learns nothing, not even whether the object exists.
	if _, err := account.Require(ctx); err != nil {
		return nil, err
	}
	r, err := s.Get(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	if _, err := account.Authorize(ctx, r.AppID, account.Viewer, "id"); err != nil {
		return nil, fault.NotFound("id", "rule %d does not exist", id)
	}
	return r, nil
}

// List returns the latest version of every rule of app.
func (s *Service) List(ctx context.Context, appID int64) ([]*Rule, error) {
	if _, err := account.Authorize(ctx, appID, account.Viewer, "appId"); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.dl.Rebind("SELECT id, version FROM rules WHERE app_id = ? ORDER BY id"), appID)
	if err != nil {
		return nil, fmt.Errorf("error listing rules: %w", err)
	}
	var ids [][2]int64
	for rows.Next() {
		var x [2]int64
		if err := rows.Scan(&x[0], &x[1]); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, x)
	}
	rows.Close()
	out := make([]*Rule, 0, len(ids))
	for _, x := range ids {
		r, err := s.Get(ctx, x[0], int(x[1]))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
