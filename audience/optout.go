package audience

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
)

// OptOut is one opt-out of a user: Channel "" means every channel, Class "" every class.
type OptOut struct {
	Channel channels.Channel
	Class   string
}

// SetOptOut opts a user out of, or back into, a class of messages on a channel.
func (s *Service) SetOptOut(ctx context.Context, appID int64, userID string, ch channels.Channel, class string, out bool) error {
	if _, err := account.Authorize(ctx, appID, account.Operator, "appId"); err != nil {
		return err
	}
	if ch != "" && !ch.Valid() {
		return fault.BadInput("channel", "unknown channel %q", ch)
	}
	if class != "" && class != "TRANSACTIONAL" && class != "MARKETING" {
		return fault.BadInput("class", "%q must be TRANSACTIONAL or MARKETING", class)
	}
	known, err := s.Existing(ctx, appID, []string{userID})
	if err != nil {
		return err
	}
	if !known[userID] {
		return fault.NotFound("userId", "user %q does not exist in app %d", userID, appID)
	}
	if out {
		_, err = s.db.ExecContext(ctx, insertOptOutSQL(s.dl), appID, userID, s.optOutValue(string(ch)), s.optOutValue(class), s.nowFunc().UTC())
	} else {
		_, err = s.db.ExecContext(ctx, s.dl.Rebind("DELETE FROM user_optouts WHERE app_id = ? AND user_id = ? AND channel = ? AND class = ?"),
			appID, userID, s.optOutValue(string(ch)), s.optOutValue(class))
	}
	if err != nil {
		return fmt.Errorf("error saving opt-out: %w", err)
	}
	return nil
}

// OptOuts returns the opt-outs of users, one query per thousand users. Opt-outs are few, so
// a part of many users reads the opt-outs of the key range from its first user to its last
// (one range scan instead of a lookup per user) and keeps those of its users; only when that
// range holds more than twice as many opt-outs as the part has users are they looked up by id.
func (s *Service) OptOuts(ctx context.Context, appID int64, userIDs []string) (map[string][]OptOut, error) {
	out := map[string][]OptOut{}
	for start := 0; start < len(userIDs); start += chunk {
		part := userIDs[start:min(start+chunk, len(userIDs))]
		if len(part) >= rangeMin {
			if ok, err := s.optOutsInRange(ctx, appID, part, out); ok || err != nil {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		in := s.prep.In(userArgs(part))
		args := append([]any{appID}, in...)
		rows, err := s.prep.Query(ctx, s.db, nil, s.dl.Rebind("SELECT user_id, channel, class FROM user_optouts WHERE app_id = ? AND user_id IN ("+store.Placeholders(len(in))+")"), args...)
		if err != nil {
			return nil, fmt.Errorf("error reading opt-outs: %w", err)
		}
		if _, err := s.scanOptOuts(rows, nil, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// optOutsInRange adds to out the opt-outs of users read from the key range they span; false
// when the range holds more than twice as many opt-outs as there are users (nothing added).
func (s *Service) optOutsInRange(ctx context.Context, appID int64, users []string, out map[string][]OptOut) (bool, error) {
	limit := 2 * len(users)
	rows, err := s.prep.Query(ctx, s.db, nil, s.dl.Rebind("SELECT user_id, channel, class FROM user_optouts WHERE app_id = ? AND user_id BETWEEN ? AND ?"+s.dl.Limit("?")),
		appID, slices.Min(users), slices.Max(users), limit+1)
	if err != nil {
		return false, fmt.Errorf("error reading opt-outs: %w", err)
	}
	want := idSet(users)
	found := map[string][]OptOut{}
	n, err := s.scanOptOuts(rows, want, found)
	if err != nil || n > limit {
		return false, err
	}
	for u, os := range found {
		out[u] = append(out[u], os...)
	}
	return true, nil
}

// scanOptOuts adds the (user_id, channel, class) rows to out, keeping the users in want when
// want is not nil, closes rows and returns how many rows it read.
func (s *Service) scanOptOuts(rows *sql.Rows, want map[string]bool, out map[string][]OptOut) (int, error) {
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			id string
			o  OptOut
		)
		if err := rows.Scan(&id, &o.Channel, &o.Class); err != nil {
			return n, err
		}
		n++
		if want != nil && !want[id] {
			continue
		}
		if string(o.Channel) == anyValue(s.dl) {
			o.Channel = ""
		}
		if o.Class == anyValue(s.dl) {
			o.Class = ""
		}
		out[id] = append(out[id], o)
	}
	return n, rows.Err()
}

// Covers reports whether opt-out o applies to a message of class on ch.
func (o OptOut) Covers(ch channels.Channel, class string) bool {
	return (o.Channel == "" || o.Channel == ch) && (o.Class == "" || o.Class == class)
}

// optOutValue is how user_optouts stores a channel or class, "" (every one) included.
func (s *Service) optOutValue(v string) string {
	if v == "" {
		return anyValue(s.dl)
	}
	return v
}
