package account

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/herald-msg/herald/fault"
)

// Password length bounds of a console user: bcrypt reads at most 72 bytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
)

// ConsoleUserInput creates a console user.
type ConsoleUserInput struct {
	Email    string
	Password string
	Role     Role
	// AppIDs are the apps the user may use; none means every app.
	AppIDs []int64
}

// CreateConsoleUser saves a console user with a bcrypt hash of the password and audits it
// once per app granted. The caller must be an ADMIN of every app it grants; a user of every
// app (no AppIDs) only an ADMIN of every app may create.
func (s *Service) CreateConsoleUser(ctx context.Context, in ConsoleUserInput) (*Principal, error) {
	p, err := Require(ctx)
	if err != nil {
		return nil, err
	}
	if len(in.AppIDs) == 0 {
		if p.Role != Admin || !p.AllApps {
			return nil, fault.Forbidden("input.appIds", "only an administrator of every app may create a user of every app; name the apps")
		}
	}
	for i, app := range in.AppIDs {
		if _, err := Authorize(ctx, app, Admin, fmt.Sprintf("input.appIds[%d]", i)); err != nil {
			return nil, err
		}
	}
	email := strings.ToLower(strings.TrimSpace(in.Email))
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		return nil, fault.BadInput("input.email", "%q is not an email address", in.Email)
	}
	if len(in.Password) < MinPasswordLen || len(in.Password) > MaxPasswordLen {
		return nil, fault.BadInput("input.password", "must be %d to %d bytes", MinPasswordLen, MaxPasswordLen)
	}
	if !in.Role.Valid() {
		return nil, fault.BadInput("input.role", "unknown role %q", in.Role)
	}
	for i, app := range in.AppIDs {
		if slices.Index(in.AppIDs, app) != i {
			return nil, fault.BadInput(fmt.Sprintf("input.appIds[%d]", i), "app %d is listed twice", app)
		}
		if _, err := s.App(ctx, app); err != nil {
			return nil, fault.BadInput(fmt.Sprintf("input.appIds[%d]", i), "app %d does not exist", app)
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck
	allApps := 0
	if len(in.AppIDs) == 0 {
		allApps = 1
	}
	id, err := s.dl.InsertID(ctx, tx, createConsoleUserSQL, email, string(hash), string(in.Role), allApps, s.nowFunc().UTC())
	if s.dl.Duplicate(err) {
		return nil, fault.Conflict("input.email", "a console user %q exists already", email)
	}
	if err != nil {
		return nil, fmt.Errorf("error creating console user: %w", err)
	}
	for _, app := range in.AppIDs {
		if _, err := tx.ExecContext(ctx, s.dl.Rebind("INSERT INTO console_user_apps (user_id, app_id) VALUES (?, ?)"), id, app); err != nil {
			return nil, fmt.Errorf("error granting app %d: %w", app, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	target := "console_user:" + strconv.FormatInt(id, 10)
	detail := map[string]any{"email": email, "role": in.Role}
	if len(in.AppIDs) == 0 {
		s.Audit(ctx, "createConsoleUser", 0, target, detail)
	}
	for _, app := range in.AppIDs {
		s.Audit(ctx, "createConsoleUser", app, target, detail)
	}
	return &Principal{UserID: id, Email: email, Role: in.Role, AllApps: len(in.AppIDs) == 0, AppIDs: slices.Clone(in.AppIDs)}, nil
}
