package providers

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/channels/webhook"
)

// Account is one vendor account Herald sends through: an entry of the provider_accounts list
// of the configuration file. Several accounts may carry one channel; Priority and Weight
// place each in the channel's route (see channels.Registry.Route), Rate caps its messages
// per second across every worker.
type Account struct {
	Name     string            `yaml:"name" json:"name"`
	Channel  string            `yaml:"channel" json:"channel"`
	Type     string            `yaml:"type" json:"type"`
	Priority int               `yaml:"priority" json:"priority"`
	Weight   int               `yaml:"weight" json:"weight"`
	Rate     float64           `yaml:"rate" json:"rate"`
	Settings map[string]string `yaml:"settings" json:"settings"`
}

// Settings reads the settings block of one account, naming the setting in every error.
// Unknown settings are errors too, so a misspelt key does not pass unnoticed.
type Settings struct {
	path string
	m    map[string]string
	used map[string]bool
	errs []error
}

func newSettings(path string, m map[string]string) *Settings {
	return &Settings{path: path, m: m, used: map[string]bool{}}
}

// String returns the setting key; a required one that is missing or blank is an error.
func (s *Settings) String(key string, required bool) string {
	s.used[key] = true
	v := strings.TrimSpace(s.m[key])
	if v == "" && required {
		s.errs = append(s.errs, fmt.Errorf("%s.settings.%s: required", s.path, key))
	}
	return v
}

// Int returns the setting key as a non-negative integer, or def when it is missing.
func (s *Settings) Int(key string, def int) int {
	v := s.String(key, false)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		s.errs = append(s.errs, fmt.Errorf("%s.settings.%s: %q is not a non-negative integer", s.path, key, v))
		return def
	}
	return n
}

// Duration returns the setting key as a Go duration ("10s"), or def when it is missing.
func (s *Settings) Duration(key string, def time.Duration) time.Duration {
	v := s.String(key, false)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		s.errs = append(s.errs, fmt.Errorf("%s.settings.%s: %q is not a duration such as 10s", s.path, key, v))
		return def
	}
	return d
}

// Bool returns the setting key as a boolean, or def when it is missing.
func (s *Settings) Bool(key string, def bool) bool {
	v := s.String(key, false)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s.settings.%s: %q is not true or false", s.path, key, v))
		return def
	}
	return b
}

// List returns the setting key as a comma-separated list ("4290, 5000"), blanks dropped; nil
// when it is missing.
func (s *Settings) List(key string) []string {
	var out []string
	for _, e := range strings.Split(s.String(key, false), ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Pairs returns the setting key as "K: V; K2: V2" pairs (the first colon of each part
// separates the name from the value, so values may hold colons); nil when it is missing. A
// part without a colon, an empty name or a name given twice is an error.
func (s *Settings) Pairs(key string) map[string]string {
	v := s.String(key, false)
	if v == "" {
		return nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(v, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, val, ok := strings.Cut(part, ":")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if !ok || k == "" {
			s.errs = append(s.errs, fmt.Errorf("%s.settings.%s: %q is not a pair written as Name: value (pairs separated by ;)", s.path, key, strings.TrimSpace(part)))
			continue
		}
		if _, dup := out[k]; dup {
			s.errs = append(s.errs, fmt.Errorf("%s.settings.%s: %q is given twice", s.path, key, k))
			continue
		}
		out[k] = val
	}
	return out
}

// Has reports whether the setting key is given, without reading it.
func (s *Settings) Has(key string) bool { return strings.TrimSpace(s.m[key]) != "" }

// Err reports every missing, malformed or unknown setting.
func (s *Settings) Err() error {
	errs := slices.Clone(s.errs)
	for _, k := range slices.Sorted(maps.Keys(s.m)) {
		if !s.used[k] {
			errs = append(errs, fmt.Errorf("%s.settings.%s: not a setting of this type", s.path, k))
		}
	}
	return errors.Join(errs...)
}

// accountType builds providers of one vendor API from an account's settings.
type accountType struct {
	channel channels.Channel
	build   func(name string, s *Settings, opts Options) (channels.Provider, error)
}

// accountTypes maps the type of an account to what builds it. Each vendor package that
// speaks a vendor API adds its type here.
var accountTypes = map[string]accountType{
	"aliyun-sms": {channels.SMS, buildAliyunSMS},
	"webhook":    {channels.Webhook, buildWebhook},
}

func buildAliyunSMS(name string, s *Settings, opts Options) (channels.Provider, error) {
	cfg := sms.AliyunConfig{
		Name:            name,
		Endpoint:        s.String("endpoint", false),
		AccessKeyID:     s.String("access_key_id", true),
		AccessKeySecret: s.String("access_key_secret", true),
		RegionID:        s.String("region_id", false),
		SignName:        s.String("sign_name", false),
		TemplateCode:    s.String("template_code", false),
		CallbackToken:   s.String("callback_token", true),
		Concurrency:     s.Int("concurrency", 0),
		HTTPClient:      opts.HTTPClient,
		Logger:          opts.Logger,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return sms.NewAliyun(cfg)
}

func buildWebhook(name string, s *Settings, opts Options) (channels.Provider, error) {
	cfg := webhook.Config{
		Name:        name,
		Secret:      s.String("secret", true),
		Timeout:     s.Duration("timeout", 0),
		Concurrency: s.Int("concurrency", 0),
		HTTPClient:  guardedClient(opts, nil),
		Logger:      opts.Logger,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return webhook.New(cfg)
}

// accountName is what a provider name may look like: it appears in callback paths, metrics
// and statistics.
var accountName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// BuildAccounts validates accounts and registers a provider for each in reg, at its
// priority and weight. Errors name the entry and the field, as provider_accounts[1].type.
func BuildAccounts(reg *channels.Registry, accounts []Account, opts Options) error {
	var errs []error
	seen := map[string]bool{}
	for i, a := range accounts {
		path := fmt.Sprintf("provider_accounts[%d]", i)
		at, known := accountTypes[a.Type]
		ch := channels.Channel(strings.ToUpper(strings.TrimSpace(a.Channel)))
		switch {
		case !accountName.MatchString(a.Name):
			errs = append(errs, fmt.Errorf("%s.name: %q must be 1 to 32 lower-case letters, digits, - or _, starting with a letter or digit", path, a.Name))
			continue
		case seen[a.Name]:
			errs = append(errs, fmt.Errorf("%s.name: %q is used by another account", path, a.Name))
			continue
		case !known:
			errs = append(errs, fmt.Errorf("%s.type: %q is not a provider type (want one of %s)", path, a.Type, strings.Join(slices.Sorted(maps.Keys(accountTypes)), ", ")))
			continue
		case a.Channel != "" && ch != at.channel:
			errs = append(errs, fmt.Errorf("%s.channel: type %s carries %s, not %s", path, a.Type, at.channel, a.Channel))
			continue
		case a.Weight < 0:
			errs = append(errs, fmt.Errorf("%s.weight: %d is negative", path, a.Weight))
			continue
		case a.Rate < 0:
			errs = append(errs, fmt.Errorf("%s.rate: %v is negative", path, a.Rate))
			continue
		}
		seen[a.Name] = true
		p, err := at.build(a.Name, newSettings(path, a.Settings), opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", path, a.Name, err))
			continue
		}
		if p.Name() != a.Name {
			errs = append(errs, fmt.Errorf("%s.name: the %s provider ignored its name", path, a.Type))
			continue
		}
		reg.RegisterAt(p, channels.Placement{Priority: a.Priority, Weight: a.Weight})
	}
	return errors.Join(errs...)
}

// Rates returns the message rates of the accounts that set one, by provider name.
func Rates(accounts []Account) map[string]float64 {
	out := map[string]float64{}
	for _, a := range accounts {
		if a.Rate > 0 {
			out[a.Name] = a.Rate
		}
	}
	return out
}
