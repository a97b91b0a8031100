package audience

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
)

// OwnerCache is implemented by identity caches that keep the reverse index.
type OwnerCache interface {
	Owners(ctx context.Context, appID int64, ch channels.Channel, address string) ([]string, error)
}

// Bind adds an identity to a user of app.
func (s *Service) Bind(ctx context.Context, appID int64, userID string, idn Identity) (*User, error) {
	return s.changeIdentity(ctx, appID, userID, idn, true)
}

// Unbind removes an identity from a user of app; other users of the address keep it.
func (s *Service) Unbind(ctx context.Context, appID int64, userID string, idn Identity) (*User, error) {
	return s.changeIdentity(ctx, appID, userID, idn, false)
}

func (s *Service) changeIdentity(ctx context.Context, appID int64, userID string, idn Identity, bind bool) (*User, error) {
	if _, err := account.Authorize(ctx, appID, account.Operator, "appId"); err != nil {
		return nil, err
	}
	addr, err := NormalizeAddress(idn.Channel, idn.Address)
	if err != nil {
		return nil, fault.BadInput("identity.address", "%s", err)
	}
	idn.Address = addr
	known, err := s.Existing(ctx, appID, []string{userID})
	if err != nil {
		return nil, err
	}
	if !known[userID] {
		return nil, fault.NotFound("userId", "user %q does not exist in app %d", userID, appID)
	}
	if bind {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer tx.Rollback() //nolint:errcheck
		if err := bindIdentities(ctx, tx, s.dl, appID, []UserInput{{ID: userID, Identities: []Identity{idn}}}, s.nowFunc().UTC()); err != nil {
			return nil, err
		}
		if err := tx.Commit(); err != nil {
			return nil, err
		}
	} else {
		res, err := s.db.ExecContext(ctx, s.dl.Rebind(unbindSQL),
			appID, userID, appID, string(idn.Channel), idn.Address)
		if err != nil {
			return nil, fmt.Errorf("error unbinding identity: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, fault.NotFound("identity", "user %q has no %s address %q", userID, idn.Channel, idn.Address)
		}
	}
	s.refreshCache(ctx, appID, []string{userID})
	m, err := s.Users(ctx, appID, []string{userID})
	if err != nil {
		return nil, err
	}
	return m[userID], nil
}

// Owners returns the users an address belongs to (reverse lookup), through the cache when
// it keeps the reverse index.
func (s *Service) Owners(ctx context.Context, appID int64, ch channels.Channel, address string) ([]*User, error) {
	if _, err := account.Authorize(ctx, appID, account.Viewer, "appId"); err != nil {
		return nil, err
	}
	addr, err := NormalizeAddress(ch, address)
	if err != nil {
		return nil, fault.BadInput("address", "%s", err)
	}
	var ids []string
	if oc, ok := s.cache.(OwnerCache); ok {
		ids, err = oc.Owners(ctx, appID, ch, addr)
	} else {
		ids, err = s.LoadOwners(ctx, appID, ch, addr)
	}
	if err != nil {
		return nil, err
	}
	m, err := s.Users(ctx, appID, ids)
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

// SetTags adds (add true) or removes tags of users and returns how many (user, tag) pairs
// changed. Every user must exist.
func (s *Service) SetTags(ctx context.Context, appID int64, userIDs, tags []string, add bool) (int, error) {
	if _, err := account.Authorize(ctx, appID, account.Operator, "appId"); err != nil {
		return 0, err
	}
	if len(userIDs) == 0 || len(userIDs) > MaxUpsert {
		return 0, fault.BadInput("userIds", "give 1 to %d users", MaxUpsert)
	}
	if len(tags) == 0 || len(tags) > 100 {
		return 0, fault.BadInput("tags", "give 1 to 100 tags")
	}
	for i, t := range tags {
		if err := ValidTag(t); err != nil {
			return 0, fault.BadInput(fmt.Sprintf("tags[%d]", i), "%s", err)
		}
	}
	for i, id := range userIDs {
		if err := ValidUserID(id); err != nil {
			return 0, fault.BadInput(fmt.Sprintf("userIds[%d]", i), "%s", err)
		}
	}
	known, err := s.Existing(ctx, appID, userIDs)
	if err != nil {
		return 0, err
	}
	for i, id := range userIDs {
		if !known[id] {
			return 0, fault.BadInput(fmt.Sprintf("userIds[%d]", i), "unknown user %q", id)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck
	changed := 0
	for start := 0; start < len(userIDs); start += chunk {
		part := userIDs[start:min(start+chunk, len(userIDs))]
		if add {
			var rows [][]any
			for _, id := range part {
				for _, t := range tags {
					rows = append(rows, []any{appID, t, id})
				}
			}
			n, err := execRows(ctx, tx, s.dl, insertTagsSQL, rows)
			if err != nil {
				return 0, err
			}
			changed += n
		} else {
			args := []any{appID}
			for _, t := range tags {
				args = append(args, t)
			}
			for _, id := range part {
				args = append(args, id)
			}
			res, err := tx.ExecContext(ctx, s.dl.Rebind("DELETE FROM user_tags WHERE app_id = ? AND tag IN ("+store.Placeholders(len(tags))+") AND user_id IN ("+store.Placeholders(len(part))+")"), args...)
			if err != nil {
				return 0, fmt.Errorf("error removing tags: %w", err)
			}
			n, _ := res.RowsAffected()
			changed += int(n)
		}
	}
	return changed, tx.Commit()
}

// execRows runs multi-row statements of at most chunk rows and returns the rows affected.
func execRows(ctx context.Context, tx *sql.Tx, dl store.Dialect, query func(dl store.Dialect, n int) string, rows [][]any) (int, error) {
	total := 0
	for start := 0; start < len(rows); start += chunk {
		part := rows[start:min(start+chunk, len(rows))]
		args := make([]any, 0, len(part)*len(part[0]))
		for _, r := range part {
			args = append(args, r...)
		}
		res, err := tx.ExecContext(ctx, query(dl, len(part)), args...)
		if err != nil {
			return total, fmt.Errorf("error writing rows: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}

// ListUsers pages an app's users by id, optionally those with a tag.
func (s *Service) ListUsers(ctx context.Context, appID int64, tag string, first int, after string) ([]*User, bool, error) {
	if _, err := account.Authorize(ctx, appID, account.Viewer, "appId"); err != nil {
		return nil, false, err
	}
	if first <= 0 || first > 500 {
		first = 50
	}
	args := []any{appID}
	if tag != "" {
		if err := ValidTag(tag); err != nil {
			return nil, false, fault.BadInput("tag", "%s", err)
		}
		args = append(args, tag)
	}
	if after != "" {
		args = append(args, after)
	}
	rows, err := s.db.QueryContext(ctx, firstUsersSQL(s.dl, tag != "", after != ""), append(args, first+1)...)
	if err != nil {
		return nil, false, fmt.Errorf("error listing users: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, false, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(ids) > first
	if more {
		ids = ids[:first]
	}
	m, err := s.Users(ctx, appID, ids)
	if err != nil {
		return nil, false, err
	}
	out := make([]*User, 0, len(ids))
	for _, id := range ids {
		if u := m[id]; u != nil {
			out = append(out, u)
		}
	}
	return out, more, nil
}
