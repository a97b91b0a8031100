package audience

import (
	"context"
	"fmt"

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

// OptOuts returns the opt-outs of users, one query per thousand users.
func (s *Service) OptOuts(ctx context.Context, appID int64, userIDs []string) (map[string][]OptOut, error) {
	out := map[string][]OptOut{}
	for start := 0; start < len(userIDs); start += chunk {
		part := userIDs[start:min(start+chunk, len(userIDs))]
		in := s.prep.In(userArgs(part))
		args := append([]any{appID}, in...)
		rows, err := s.prep.Query(ctx, s.db, nil, s.dl.Rebind("SELECT user_id, channel, class FROM user_optouts WHERE app_id = ? AND user_id IN ("+store.Placeholders(len(in))+")"), args...)
		if err != nil {
			return nil, fmt.Errorf("error reading opt-outs: %w", err)
		}
		for rows.Next() {
			var (
				id string
				o  OptOut
			)
			if err := rows.Scan(&id, &o.Channel, &o.Class); err != nil {
				rows.Close()
				return nil, err
			}
			if string(o.Channel) == anyValue(s.dl) {
				o.Channel = ""
			}
			if o.Class == anyValue(s.dl) {
				o.Class = ""
			}
			out[id] = append(out[id], o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
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
