// Package content holds templates: versioned content with declared, typed variables and one
// variant per channel, checked when saved and rendered without executing any code.
package content

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

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
)

// Variable types.
const (
	TypeString = "string"
	TypeNumber = "number"
	TypeBool   = "bool"
	TypeTime   = "time"
)

// Class says what kind of message a template sends; users may opt out of a class, and
// quiet hours and frequency caps apply to MARKETING only.
type Class string

// Message classes.
const (
	Transactional Class = "TRANSACTIONAL"
	Marketing     Class = "MARKETING"
)

// Variable is a declared template variable.
type Variable struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

// Variant is a template's content for one channel.
type Variant struct {
	Channel channels.Channel `json:"channel"`
	Title   string           `json:"title,omitempty"`
	Body    string           `json:"body"`
	Extra   map[string]any   `json:"extra,omitempty"`
}

// Template is one version of a template.
type Template struct {
	ID        int64
	AppID     int64
	Name      string
	Version   int
	Class     Class
	Variables []Variable
	Variants  []Variant
	CreatedAt time.Time

	// compiled holds the variants split into literals and placeholders, built on the first
	// render; a version never changes, so neither does its compiled form.
	compileOnce sync.Once
	compiled    []compiledVariant
}

// Input creates a template or a new version of one.
type Input struct {
	AppID int64
	Name  string
	// Class defaults to TRANSACTIONAL.
	Class     Class
	Variables []Variable
	Variants  []Variant
}

// Variant returns the template's variant for ch.
func (t *Template) Variant(ch channels.Channel) (*Variant, bool) {
	for i := range t.Variants {
		if t.Variants[i].Channel == ch {
			return &t.Variants[i], true
		}
	}
	return nil, false
}

// Service stores and renders templates.
type Service struct {
	db      *sql.DB
	dl      store.Dialect
	logger  *slog.Logger
	nowFunc func() time.Time

	mu     sync.RWMutex
	cache  map[versionKey]*Template
	latest *store.Latest
}

type versionKey struct {
	id      int64
	version int
}

// NewService returns the template service on the core database.
func NewService(db *store.DB, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	return &Service{db: db.Core, dl: db.Dialect, logger: logger.With("component", "content"), nowFunc: time.Now, cache: map[versionKey]*Template{},
		latest: store.NewLatest(nil)}
}

// CacheLatest lets Get serve which version of a template is the latest from memory while gen
// does not move; Update bumps gen after each new version, in every process sharing it.
func (s *Service) CacheLatest(gen *store.Generation) {
	s.latest = store.NewLatest(gen)
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// validate checks an input completely and returns the first problem, naming its field.
func validate(in *Input) error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 {
		return fault.BadInput("input.name", "must be 1 to 100 characters")
	}
	switch in.Class {
	case "":
		in.Class = Transactional
	case Transactional, Marketing:
	default:
		return fault.BadInput("input.class", "%q must be TRANSACTIONAL or MARKETING", in.Class)
	}
	declared := map[string]bool{}
	for i, v := range in.Variables {
		f := fmt.Sprintf("input.variables[%d]", i)
		if !varName.MatchString(v.Name) {
			return fault.BadInput(f+".name", "%q must start with a letter or _ and hold letters, digits and _ (at most 64)", v.Name)
		}
		if declared[v.Name] {
			return fault.BadInput(f+".name", "variable %q is declared twice", v.Name)
		}
		declared[v.Name] = true
		switch v.Type {
		case TypeString, TypeNumber, TypeBool, TypeTime:
		default:
			return fault.BadInput(f+".type", "%q must be string, number, bool or time", v.Type)
		}
	}
	if len(in.Variants) == 0 {
		return fault.BadInput("input.variants", "at least one channel variant is needed")
	}
	seen := map[channels.Channel]bool{}
	for i, v := range in.Variants {
		f := fmt.Sprintf("input.variants[%d]", i)
		if !v.Channel.Valid() {
			return fault.BadInput(f+".channel", "unknown channel %q", v.Channel)
		}
		if seen[v.Channel] {
			return fault.BadInput(f+".channel", "channel %s has two variants", v.Channel)
		}
		seen[v.Channel] = true
		if strings.TrimSpace(v.Body) == "" {
			return fault.BadInput(f+".body", "must not be empty")
		}
		if len(v.Body) > 65535 || len(v.Title) > 1024 {
			return fault.BadInput(f+".body", "too long (body at most 64 KiB, title 1 KiB)")
		}
		for _, part := range []struct{ field, text string }{{"title", v.Title}, {"body", v.Body}} {
			if err := checkPlaceholders(part.text, declared); err != nil {
				return fault.BadInput(f+"."+part.field, "%s", err)
			}
		}
		if fe := checkVariant(&v, channelRules[v.Channel], declared); fe != nil {
			return fault.BadInput(f+"."+fe.field, "%s", fe.msg)
		}
	}
	return nil
}

// Create saves version 1 of a new template.
func (s *Service) Create(ctx context.Context, in Input) (*Template, error) {
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
		return nil, fault.Conflict("input.name", "a template named %q exists already; update it to add a version", in.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("error creating template: %w", err)
	}
	if err := s.insertVersion(ctx, tx, id, 1, in, p.Name(), now); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return &Template{ID: id, AppID: in.AppID, Name: in.Name, Version: 1, Class: in.Class, Variables: in.Variables, Variants: in.Variants, CreatedAt: now}, nil
}

// Update saves a new version of a template; tasks keep the version they pinned.
func (s *Service) Update(ctx context.Context, id int64, in Input) (*Template, error) {
	if _, err := account.Require(ctx); err != nil {
		return nil, err
	}
	cur, err := s.Get(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	if cur.AppID != in.AppID {
		// Another app's object does not exist for this caller.
		return nil, fault.NotFound("id", "template %d does not exist in app %d", id, in.AppID)
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
	if err := tx.QueryRowContext(ctx, s.dl.Rebind("SELECT version FROM templates WHERE id = ? FOR UPDATE"), id).Scan(&version); err != nil {
		return nil, fmt.Errorf("error locking template: %w", err)
	}
	version++
	_, err = tx.ExecContext(ctx, s.dl.Rebind("UPDATE templates SET version = ?, name = ?, updated_at = ? WHERE id = ?"), version, in.Name, now, id)
	if s.dl.Duplicate(err) {
		return nil, fault.Conflict("input.name", "another template is named %q", in.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("error updating template: %w", err)
	}
	if err := s.insertVersion(ctx, tx, id, version, in, p.Name(), now); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if err := s.latest.Changed(ctx, id); err != nil {
		s.logger.WarnContext(ctx, "other processes may send the previous version for a few seconds", "template_id", id, "error", err)
	}
	return &Template{ID: id, AppID: in.AppID, Name: in.Name, Version: version, Class: in.Class, Variables: in.Variables, Variants: in.Variants, CreatedAt: now}, nil
}

func (s *Service) insertVersion(ctx context.Context, tx *sql.Tx, id int64, version int, in Input, by string, now time.Time) error {
	vars, _ := json.Marshal(in.Variables)
	variants, err := json.Marshal(in.Variants)
	if err != nil {
		return fault.BadInput("input.variants", "extra is not valid JSON: %s", err)
	}
	_, err = tx.ExecContext(ctx, s.dl.Rebind("INSERT INTO template_versions (template_id, version, class, variables, variants, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
		id, version, string(in.Class), string(vars), string(variants), by, now)
	if err != nil {
		return fmt.Errorf("error saving template version: %w", err)
	}
	return nil
}

// Get returns a template at version (0: the latest) without checking the caller; versions
// are immutable, so they are cached.
func (s *Service) Get(ctx context.Context, id int64, version int) (*Template, error) {
	version, remember := s.latest.Resolve(ctx, id, version)
	if version > 0 {
		s.mu.RLock()
		t := s.cache[versionKey{id, version}]
		s.mu.RUnlock()
		if t != nil {
			return t, nil
		}
	}
	t := &Template{ID: id}
	var vars, variants string
	err := s.db.QueryRowContext(ctx, getSQL(s.dl), id, version, version).Scan(&t.AppID, &t.Name, &t.Version, &t.Class, &vars, &variants, &t.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		if version > 0 {
			return nil, fault.NotFound("version", "template %d has no version %d", id, version)
		}
		return nil, fault.NotFound("templateId", "template %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading template: %w", err)
	}
	if err := json.Unmarshal([]byte(vars), &t.Variables); err != nil {
		return nil, fmt.Errorf("error decoding template variables: %w", err)
	}
	if err := json.Unmarshal([]byte(variants), &t.Variants); err != nil {
		return nil, fmt.Errorf("error decoding template variants: %w", err)
	}
	s.mu.Lock()
	s.cache[versionKey{id, t.Version}] = t
	s.mu.Unlock()
	remember(t.Version)
	return t, nil
}

// Find returns a template the caller may read, at version (0: the latest).
func (s *Service) Find(ctx context.Context, id int64, version int) (*Template, error) {
	// An anonymous caller learns nothing, not even whether the object exists.
	if _, err := account.Require(ctx); err != nil {
		return nil, err
	}
	t, err := s.Get(ctx, id, version)
	if err != nil {
		return nil, err
	}
	if _, err := account.Authorize(ctx, t.AppID, account.Viewer, "id"); err != nil {
		return nil, fault.NotFound("id", "template %d does not exist", id)
	}
	return t, nil
}

// List returns the latest version of every template of app.
func (s *Service) List(ctx context.Context, appID int64) ([]*Template, error) {
	if _, err := account.Authorize(ctx, appID, account.Viewer, "appId"); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.dl.Rebind("SELECT id, version FROM templates WHERE app_id = ? ORDER BY id"), appID)
	if err != nil {
		return nil, fmt.Errorf("error listing templates: %w", err)
	}
	type iv struct {
		id int64
		v  int
	}
	var ids []iv
	for rows.Next() {
		var x iv
		if err := rows.Scan(&x.id, &x.v); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, x)
	}
	rows.Close()
	out := make([]*Template, 0, len(ids))
	for _, x := range ids {
		t, err := s.Get(ctx, x.id, x.v)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// CheckVariables checks send-time variables against the declarations: every required one
// present, every value of its declared type, nothing undeclared. field prefixes the path.
func (t *Template) CheckVariables(vars map[string]any, field string) error {
	for _, v := range t.Variables {
		val, ok := vars[v.Name]
		if !ok || val == nil {
			if v.Required {
				return fault.BadInput(field+"."+v.Name, "required variable %q is missing", v.Name)
			}
			continue
		}
		if err := checkType(v.Type, val); err != nil {
			return fault.BadInput(field+"."+v.Name, "%s", err)
		}
	}
	for name := range vars {
		if !t.declares(name) {
			return fault.BadInput(field+"."+name, "variable %q is not declared by template %q", name, t.Name)
		}
	}
	return nil
}

func (t *Template) declares(name string) bool {
	for _, v := range t.Variables {
		if v.Name == name {
			return true
		}
	}
	return false
}

func checkType(typ string, val any) error {
	switch typ {
	case TypeString:
		if _, ok := val.(string); !ok {
			return fmt.Errorf("must be a string, got %s", jsonKind(val))
		}
	case TypeNumber:
		switch val.(type) {
		case float64, int, int64, json.Number:
		default:
			return fmt.Errorf("must be a number, got %s", jsonKind(val))
		}
	case TypeBool:
		if _, ok := val.(bool); !ok {
			return fmt.Errorf("must be true or false, got %s", jsonKind(val))
		}
	case TypeTime:
		s, ok := val.(string)
		if !ok {
			return fmt.Errorf("must be an RFC 3339 time string, got %s", jsonKind(val))
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			return fmt.Errorf("%q is not an RFC 3339 time", s)
		}
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, int, int64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// SMSSegments counts the SMS parts a text is billed as, the way the carriers count them
// (sms.Segments): GSM 03.38 text 160 septets in one part and 153 per part when concatenated,
// anything else UCS-2, 70 and 67 UTF-16 units.
func SMSSegments(text string) int { return sms.Segments(text) }

// Preview renders one channel of a template's latest version for a caller that may read it.
// Variables are type-checked; missing ones render empty, so a half-filled form previews.
func (s *Service) Preview(ctx context.Context, id int64, ch channels.Channel, vars map[string]any) (*Rendered, error) {
	t, err := s.Find(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	for name, val := range vars {
		if !t.declares(name) {
			return nil, fault.BadInput("variables."+name, "variable %q is not declared by template %q", name, t.Name)
		}
		for _, v := range t.Variables {
			if v.Name == name && val != nil {
				if err := checkType(v.Type, val); err != nil {
					return nil, fault.BadInput("variables."+name, "%s", err)
				}
			}
		}
	}
	r, err := t.Render(ch, vars)
	if tl, ok := errors.AsType[*TooLongError](err); ok {
		return nil, fault.BadInput("variables", "the rendered %s", tl)
	}
	return r, err
}
