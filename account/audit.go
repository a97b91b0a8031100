package account

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
)

// AuditEntry is one recorded mutation.
type AuditEntry struct {
	ID         int64
	At         time.Time
	Actor      string
	Action     string
	AppID      int64
	Target     string
	RemoteAddr string
}

// AuditLog pages the audit log newest first; an ADMIN reads the entries of the apps it
// administers (appID 0: all of them, entries without an app only for an ADMIN of every app).
func (s *Service) AuditLog(ctx context.Context, appID int64, first int, beforeID int64) ([]AuditEntry, bool, error) {
	p, err := Require(ctx)
	if err != nil {
		return nil, false, err
	}
	if p.Role != Admin {
		return nil, false, fault.Forbidden("", "only an ADMIN may read the audit log")
	}
	if first <= 0 || first > 500 {
		first = 100
	}
	q := "SELECT id, at, actor, action, app_id, target, remote_addr FROM audit_log WHERE 1=1"
	var args []any
	switch {
	case appID != 0:
		if !p.CanUse(appID, Admin) {
			return nil, false, fault.Forbidden("appId", "no access to app %d", appID)
		}
		q += " AND app_id = ?"
		args = append(args, appID)
	case !p.AllApps:
		if len(p.AppIDs) == 0 {
			return nil, false, nil
		}
		q += " AND app_id IN (" + store.Placeholders(len(p.AppIDs)) + ")"
		for _, a := range p.AppIDs {
			args = append(args, a)
		}
	}
	if beforeID > 0 {
		q += " AND id < ?"
		args = append(args, beforeID)
	}
	args = append(args, first+1)
	rows, err := s.db.QueryContext(ctx, auditLogSQL(s.dl, q), args...)
	if err != nil {
		return nil, false, fmt.Errorf("error reading audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var (
			e              AuditEntry
			app            sql.NullInt64
			target, remote sql.NullString
		)
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &app, &target, &remote); err != nil {
			return nil, false, err
		}
		e.AppID, e.Target, e.RemoteAddr = app.Int64, target.String, remote.String
		out = append(out, e)
	}
	more := len(out) > first
	if more {
		out = out[:first]
	}
	return out, more, rows.Err()
}
