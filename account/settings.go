package account

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
)

// Settings are an app's delivery policies.
type Settings struct {
	// TimeZone is the app's IANA zone; quiet hours are in it.
	TimeZone string `json:"timeZone"`
	// QuietHours hold MARKETING messages between Start and End ("21:00", "08:00") and release
	// them when the window closes; TRANSACTIONAL messages pass.
	QuietHours QuietHours `json:"quietHours"`
	// FrequencyCap limits MARKETING messages per user per window; Max 0 means no cap.
	FrequencyCap FrequencyCap `json:"frequencyCap"`
	// DedupeWindow suppresses the same MARKETING content to the same user on the same
	// channel within it; 0 turns it off.
	DedupeWindow time.Duration `json:"dedupeWindow"`
	// Prices are the app's unit prices per channel in yuan (per SMS segment, per message);
	// a channel without one costs Herald's default list price.
	Prices map[string]float64 `json:"prices,omitempty"`
}

// QuietHours is a daily window in the app's time zone.
type QuietHours struct {
	Enabled bool   `json:"enabled"`
	Start   string `json:"start"`
	End     string `json:"end"`
}

// FrequencyCap is at most Max messages per Window.
type FrequencyCap struct {
	Max    int           `json:"max"`
	Window time.Duration `json:"window"`
}

// DefaultSettings hold marketing at night in China time and drop a repeat within 10 minutes.
func DefaultSettings() Settings {
	return Settings{
		TimeZone:     "Asia/Shanghai",
		QuietHours:   QuietHours{Enabled: true, Start: "21:00", End: "08:00"},
		DedupeWindow: 10 * time.Minute,
	}
}

// Validate checks settings, naming the field of the first problem.
func (s *Settings) Validate(field string) error {
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" {
		return fault.BadInput(field+".timeZone", "%q is not a time zone name such as Asia/Shanghai", s.TimeZone)
	}
	if s.QuietHours.Enabled {
		if _, err := clock(s.QuietHours.Start); err != nil {
			return fault.BadInput(field+".quietHours.start", "%s", err)
		}
		if _, err := clock(s.QuietHours.End); err != nil {
			return fault.BadInput(field+".quietHours.end", "%s", err)
		}
		if s.QuietHours.Start == s.QuietHours.End {
			return fault.BadInput(field+".quietHours.end", "the window is empty: start and end are both %s", s.QuietHours.End)
		}
	}
	if s.FrequencyCap.Max < 0 || s.FrequencyCap.Max > 10000 {
		return fault.BadInput(field+".frequencyCap.max", "must be between 0 and 10000")
	}
	if s.FrequencyCap.Max > 0 && (s.FrequencyCap.Window < time.Minute || s.FrequencyCap.Window > 31*24*time.Hour) {
		return fault.BadInput(field+".frequencyCap.window", "must be between 1m and 744h")
	}
	if s.DedupeWindow < 0 || s.DedupeWindow > 7*24*time.Hour {
		return fault.BadInput(field+".dedupeWindow", "must be between 0 and 168h")
	}
	for ch, p := range s.Prices {
		if !channels.Channel(ch).Valid() {
			return fault.BadInput(field+".prices", "unknown channel %q", ch)
		}
		if p < 0 || p > 1000 {
			return fault.BadInput(field+".prices."+ch, "%v must be between 0 and 1000 yuan", p)
		}
	}
	return nil
}

// clock parses "HH:MM" into minutes after midnight.
func clock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day such as 21:00", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// QuietUntil returns when the quiet window that contains now ends, or the zero time when now
// is outside it.
func (s *Settings) QuietUntil(now time.Time) time.Time {
	if !s.QuietHours.Enabled {
		return time.Time{}
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.Time{}
	}
	start, err1 := clock(s.QuietHours.Start)
	end, err2 := clock(s.QuietHours.End)
	if err1 != nil || err2 != nil {
		return time.Time{}
	}
	local := now.In(loc)
	m := local.Hour()*60 + local.Minute()
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	at := func(dayOffset, minutes int) time.Time {
		d := midnight.AddDate(0, 0, dayOffset)
		return time.Date(d.Year(), d.Month(), d.Day(), minutes/60, minutes%60, 0, 0, loc)
	}
	if start < end { // e.g. 12:00–14:00
		if m >= start && m < end {
			return at(0, end)
		}
		return time.Time{}
	}
	switch { // across midnight, e.g. 21:00–08:00
	case m >= start:
		return at(1, end)
	case m < end:
		return at(0, end)
	}
	return time.Time{}
}

// Settings returns an app's settings, the defaults where it has none.
func (s *Service) Settings(ctx context.Context, appID int64) (Settings, error) {
	st := DefaultSettings()
	var raw sql.NullString
	err := s.db.QueryRowContext(ctx, "SELECT settings FROM apps WHERE id = ?", appID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return st, fault.NotFound("appId", "app %d does not exist", appID)
	}
	if err != nil {
		return st, fmt.Errorf("error reading app settings: %w", err)
	}
	if raw.Valid {
		if err := json.Unmarshal([]byte(raw.String), &st); err != nil {
			return DefaultSettings(), fmt.Errorf("error decoding app settings: %w", err)
		}
	}
	return st, nil
}

// UpdateSettings replaces an app's settings; only an ADMIN of the app may.
func (s *Service) UpdateSettings(ctx context.Context, appID int64, st Settings) (Settings, error) {
	if _, err := Authorize(ctx, appID, Admin, "appId"); err != nil {
		return st, err
	}
	if err := st.Validate("input"); err != nil {
		return st, err
	}
	b, _ := json.Marshal(st)
	res, err := s.db.ExecContext(ctx, "UPDATE apps SET settings = ? WHERE id = ?", string(b), appID)
	if err != nil {
		return st, fmt.Errorf("error saving app settings: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.App(ctx, appID); err != nil {
			return st, err
		}
	}
	s.Audit(ctx, "updateAppSettings", appID, "", map[string]any{"settings": st})
	return st, nil
}
