package account

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
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
	// Prices are the app's unit prices in yuan (per SMS segment, per message elsewhere), per
	// channel or per provider of a channel; a channel without one costs Herald's default
	// list price.
	Prices Prices `json:"prices,omitempty"`
}

// Price is a unit price of a channel's providers, or of one provider (Provider set): a
// provider without its own price costs the channel's.
type Price struct {
	Channel  string  `json:"channel"`
	Provider string  `json:"provider,omitempty"`
	Price    float64 `json:"price"`
}

// Prices are an app's unit prices, in the order they were given.
type Prices []Price

// UnmarshalJSON reads the list form, and the object form {"SMS": 0.04} of settings stored
// before prices could name a provider.
func (p *Prices) UnmarshalJSON(b []byte) error {
	var list []Price
	if err := json.Unmarshal(b, &list); err == nil {
		*p = list
		return nil
	}
	var byChannel map[string]float64
	if err := json.Unmarshal(b, &byChannel); err != nil {
		return fmt.Errorf("prices are neither a list nor an object of channel prices: %w", err)
	}
	out := make(Prices, 0, len(byChannel))
	for ch, v := range byChannel {
		out = append(out, Price{Channel: ch, Price: v})
	}
	slices.SortFunc(out, func(a, b Price) int { return strings.Compare(a.Channel, b.Channel) })
	*p = out
	return nil
}

// MaxPrice is the highest unit price an app may set, in yuan.
const MaxPrice = 1000

// validatePrices checks prices: known channels, providers of that channel (providers lists
// a channel's provider names), each (channel, provider) once, finite prices from 0 to
// MaxPrice.
func validatePrices(field string, prices Prices, providers func(channels.Channel) []string) error {
	seen := make(map[Price]int, len(prices))
	for i, p := range prices {
		at := fmt.Sprintf("%s.prices[%d]", field, i)
		ch := channels.Channel(p.Channel)
		if !ch.Valid() {
			return fault.BadInput(at+".channel", "unknown channel %q", p.Channel)
		}
		if p.Provider != "" {
			var names []string
			if providers != nil {
				names = providers(ch)
			}
			if !slices.Contains(names, p.Provider) {
				return fault.BadInput(at+".provider", "%s has no provider %q; its providers are %v", ch, p.Provider, names)
			}
		}
		if math.IsNaN(p.Price) || math.IsInf(p.Price, 0) || p.Price < 0 || p.Price > MaxPrice {
			return fault.BadInput(at+".price", "%v must be between 0 and %d yuan", p.Price, MaxPrice)
		}
		key := Price{Channel: p.Channel, Provider: p.Provider}
		if j, ok := seen[key]; ok {
			what := "every provider of " + p.Channel
			if p.Provider != "" {
				what = "provider " + p.Provider + " of " + p.Channel
			}
			return fault.BadInput(at, "%s is priced twice, here and in %s.prices[%d]", what, field, j)
		}
		seen[key] = i
	}
	return nil
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

// Validate checks settings, naming the field of the first problem; providers lists the
// provider names of a channel, which a price may name (nil: none may).
func (s *Settings) Validate(field string, providers func(channels.Channel) []string) error {
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
	return validatePrices(field, s.Prices, providers)
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
	err := s.db.QueryRowContext(ctx, s.dl.Rebind("SELECT settings FROM apps WHERE id = ?"), appID).Scan(&raw)
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
	if err := st.Validate("input", s.providerNamesFunc); err != nil {
		return st, err
	}
	b, _ := json.Marshal(st)
	res, err := s.db.ExecContext(ctx, s.dl.Rebind("UPDATE apps SET settings = ? WHERE id = ?"), string(b), appID)
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
