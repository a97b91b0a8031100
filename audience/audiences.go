package audience

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
)

// Kind is an audience kind.
type Kind string

// Audience kinds.
const (
	// Static is an uploaded or given list of users.
	Static Kind = "STATIC"
	// Tag is a boolean expression over tags, such as `vip && !churned`.
	Tag Kind = "TAG"
	// Segment is an expression over attributes, such as `age >= 30 && city == "杭州"`.
	Segment Kind = "SEGMENT"
	// All is every user of the app.
	All Kind = "ALL"
)

// MaxStaticUsers is the most users a STATIC audience may be given in one call.
const MaxStaticUsers = 100000

// Audience is a target group (客群) of one app.
type Audience struct {
	ID        int64
	AppID     int64
	Name      string
	Kind      Kind
	Expr      string
	CreatedAt time.Time

	cond condition
}

// AudienceInput creates an audience.
type AudienceInput struct {
	AppID   int64
	Name    string
	Kind    Kind
	UserIDs []string
	TagExpr string
	Segment string
}

// CreateAudience checks and saves an audience; a STATIC audience's users must exist.
func (s *Service) CreateAudience(ctx context.Context, in AudienceInput) (*Audience, error) {
	p, err := account.Authorize(ctx, in.AppID, account.Operator, "input.appId")
	if err != nil {
		return nil, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 100 {
		return nil, fault.BadInput("input.name", "must be 1 to 100 characters")
	}
	a, err := s.checkAudience(ctx, in)
	if err != nil {
		return nil, err
	}
	a.Name = in.Name
	a.CreatedAt = s.nowFunc().UTC().Truncate(time.Millisecond)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck
	var expr any
	if a.Expr != "" {
		expr = a.Expr
	}
	a.ID, err = s.dl.InsertID(ctx, tx, createAudienceSQL, a.AppID, a.Name, string(a.Kind), expr, p.Name(), a.CreatedAt)
	if s.dl.Duplicate(err) {
		return nil, fault.Conflict("input.name", "an audience named %q exists already", a.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("error creating audience: %w", err)
	}
	if a.Kind == Static {
		rows := make([][]any, len(in.UserIDs))
		for i, id := range in.UserIDs {
			rows[i] = []any{a.ID, id}
		}
		if err := insertRows(ctx, tx, s.dl, insertMembersSQL, rows); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return a, nil
}

// MaxPreviewSample is the most users PreviewAudience samples.
const MaxPreviewSample = 20

// AudiencePreview is the size and a sample of an audience that is not saved.
type AudiencePreview struct {
	Size   int64
	Sample []*User
}

// PreviewAudience checks in as CreateAudience does (the name aside) and tells how many users
// the audience would hold now and the first sample of them by id, saving nothing: a COUNT
// over the compiled condition and a keyset read of at most sample ids. sample is 1 to
// MaxPreviewSample (0 means 10). The caller needs VIEWER on the app.
func (s *Service) PreviewAudience(ctx context.Context, in AudienceInput, sample int) (*AudiencePreview, error) {
	if _, err := account.Authorize(ctx, in.AppID, account.Viewer, "input.appId"); err != nil {
		return nil, err
	}
	if sample == 0 {
		sample = 10
	}
	if sample < 1 || sample > MaxPreviewSample {
		return nil, fault.BadInput("input.sampleSize", "%d; must be 1 to %d", sample, MaxPreviewSample)
	}
	a, err := s.checkAudience(ctx, in)
	if err != nil {
		return nil, err
	}
	if a.Kind == Static {
		// Every listed user exists (checkAudience), so the size is the list's length and
		// the sample its first ids in order.
		ids := slices.Clone(in.UserIDs)
		slices.Sort(ids)
		ids = ids[:min(sample, len(ids))]
		m, err := s.Users(ctx, a.AppID, ids)
		if err != nil {
			return nil, err
		}
		p := &AudiencePreview{Size: int64(len(in.UserIDs)), Sample: make([]*User, 0, len(ids))}
		for _, id := range ids {
			if u := m[id]; u != nil {
				p.Sample = append(p.Sample, u)
			}
		}
		return p, nil
	}
	size, err := s.Size(ctx, a)
	if err != nil {
		return nil, err
	}
	users, err := s.Sample(ctx, a, sample)
	if err != nil {
		return nil, err
	}
	return &AudiencePreview{Size: size, Sample: users}, nil
}

// checkAudience checks in's kind, users and expression (not its name) and returns the
// compiled audience, unsaved.
func (s *Service) checkAudience(ctx context.Context, in AudienceInput) (*Audience, error) {
	a := &Audience{AppID: in.AppID, Kind: in.Kind}
	var err error
	switch in.Kind {
	case Static:
		if len(in.UserIDs) == 0 {
			return nil, fault.BadInput("input.userIds", "a STATIC audience needs users (or upload them with importUsers and tag them)")
		}
		if len(in.UserIDs) > MaxStaticUsers {
			return nil, fault.BadInput("input.userIds", "%d users; at most %d per call", len(in.UserIDs), MaxStaticUsers)
		}
		seen := make(map[string]bool, len(in.UserIDs))
		for i, id := range in.UserIDs {
			if err := ValidUserID(id); err != nil {
				return nil, fault.BadInput(fmt.Sprintf("input.userIds[%d]", i), "%s", err)
			}
			if seen[id] {
				return nil, fault.BadInput(fmt.Sprintf("input.userIds[%d]", i), "user %q is listed twice", id)
			}
			seen[id] = true
		}
		known, err := s.Existing(ctx, in.AppID, in.UserIDs)
		if err != nil {
			return nil, err
		}
		for i, id := range in.UserIDs {
			if !known[id] {
				return nil, fault.BadInput(fmt.Sprintf("input.userIds[%d]", i), "unknown user %q", id)
			}
		}
	case Tag:
		if in.Segment != "" {
			return nil, fault.BadInput("input.segment", "a TAG audience takes tagExpr, not segment")
		}
		if a.cond, err = compileTags(in.TagExpr); err != nil {
			return nil, fault.BadInput("input.tagExpr", "%s", err)
		}
		a.Expr = in.TagExpr
	case Segment:
		if in.TagExpr != "" {
			return nil, fault.BadInput("input.tagExpr", "a SEGMENT audience takes segment, not tagExpr")
		}
		if a.cond, err = compileSegment(s.dl, in.Segment); err != nil {
			return nil, fault.BadInput("input.segment", "%s", err)
		}
		a.Expr = in.Segment
	case All:
	default:
		return nil, fault.BadInput("input.kind", "unknown kind %q", in.Kind)
	}
	return a, nil
}

// FindAudience returns an audience the caller may read, or NOT_FOUND.
func (s *Service) FindAudience(ctx context.Context, id int64) (*Audience, error) {
	// An anonymous caller learns nothing, not even whether the object exists.
	if _, err := account.Require(ctx); err != nil {
		return nil, err
	}
	a, err := s.GetAudience(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, err := account.Authorize(ctx, a.AppID, account.Viewer, "id"); err != nil {
		return nil, fault.NotFound("id", "audience %d does not exist", id)
	}
	return a, nil
}

// GetAudience returns an audience without checking the caller.
func (s *Service) GetAudience(ctx context.Context, id int64) (*Audience, error) {
	a := &Audience{ID: id}
	var expr sql.NullString
	err := s.db.QueryRowContext(ctx, s.dl.Rebind("SELECT app_id, name, kind, expr, created_at FROM audiences WHERE id = ?"), id).Scan(&a.AppID, &a.Name, &a.Kind, &expr, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFound("audienceId", "audience %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading audience: %w", err)
	}
	a.Expr = expr.String
	if err := a.compile(s.dl); err != nil {
		return nil, fmt.Errorf("stored audience %d does not compile: %w", id, err)
	}
	return a, nil
}

func (a *Audience) compile(dl store.Dialect) error {
	var err error
	switch a.Kind {
	case Tag:
		a.cond, err = compileTags(a.Expr)
	case Segment:
		a.cond, err = compileSegment(dl, a.Expr)
	}
	return err
}

// Audiences lists an app's audiences.
func (s *Service) Audiences(ctx context.Context, appID int64) ([]*Audience, error) {
	if _, err := account.Authorize(ctx, appID, account.Viewer, "appId"); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.dl.Rebind("SELECT id, name, kind, expr, created_at FROM audiences WHERE app_id = ? ORDER BY id"), appID)
	if err != nil {
		return nil, fmt.Errorf("error listing audiences: %w", err)
	}
	defer rows.Close()
	var out []*Audience
	for rows.Next() {
		a := &Audience{AppID: appID}
		var expr sql.NullString
		if err := rows.Scan(&a.ID, &a.Name, &a.Kind, &expr, &a.CreatedAt); err != nil {
			return nil, err
		}
		a.Expr = expr.String
		if err := a.compile(s.dl); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// from is the FROM and WHERE of the audience's users, aliased u, with its arguments.
func (a *Audience) from() (string, []any) {
	args := []any{a.AppID}
	q := " FROM users u WHERE u.app_id = ?"
	switch a.Kind {
	case Static:
		q = " FROM audience_members m JOIN users u ON u.app_id = ? AND u.id = m.user_id WHERE m.audience_id = ?"
		args = append(args, a.ID)
	case Tag, Segment:
		q += " AND " + a.cond.sql
		args = append(args, a.cond.args...)
	}
	return q, args
}

// Size counts the audience's users now.
func (s *Service) Size(ctx context.Context, a *Audience) (int64, error) {
	q, args := a.from()
	var n int64
	if err := s.db.QueryRowContext(ctx, s.dl.Rebind("SELECT COUNT(*)"+q), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("error counting audience: %w", err)
	}
	return n, nil
}

// Sample returns up to n users of the audience, the first by id.
func (s *Service) Sample(ctx context.Context, a *Audience, n int) ([]*User, error) {
	if n <= 0 || n > 100 {
		n = 10
	}
	var ids []string
	err := s.Iterate(ctx, a, n, func(batch []string) error {
		ids = batch
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	m, err := s.Users(ctx, a.AppID, ids)
	if err != nil {
		return nil, err
	}
	out := make([]*User, 0, len(ids))
	for _, id := range ids {
		if u := m[id]; u != nil {
			out = append(out, u)
		}
	}
	return out, nil
}

var errStop = errors.New("stop")

// Iterate calls fn with the audience's user ids in id order, batch at a time, reading by
// keyset (never OFFSET) so memory stays flat however large the audience is. fn must not
// keep ids after it returns: the slice is reused.
func (s *Service) Iterate(ctx context.Context, a *Audience, batch int, fn func(ids []string) error) error {
	return s.IterateFrom(ctx, a, "", batch, fn)
}

// IterateFrom is Iterate starting after the user id after.
func (s *Service) IterateFrom(ctx context.Context, a *Audience, after string, batch int, fn func(ids []string) error) error {
	if batch <= 0 {
		batch = 1000
	}
	from, args := a.from()
	ids := make([]string, 0, batch)
	for {
		ids = ids[:0]
		page := append([]any{}, args...)
		if after != "" {
			page = append(page, after)
		}
		rows, err := s.db.QueryContext(ctx, iterateSQL(s.dl, from, after != ""), append(page, batch)...)
		if err != nil {
			return fmt.Errorf("error reading audience: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := fn(ids); err != nil {
			return err
		}
		if len(ids) < batch {
			return nil
		}
		after = ids[len(ids)-1]
	}
}
