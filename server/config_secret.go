package server

import (
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/secret"
)

// secretSettings are the settings whose whole value is a secret; masked wherever a Config is
// logged.
var secretSettings = map[string]bool{"HERALD_PROVIDERS": true, "HERALD_WEBHOOK_SECRET": true, "HERALD_ADMIN_PASSWORD": true,
	"HERALD_SESSION_SECRET": true, "HERALD_TRACKING_KEY": true, "HERALD_SECRET_KEY": true}

// urlSettings carry a password inside a URL or DSN; logged with the password masked.
var urlSettings = map[string]bool{"HERALD_MYSQL_DSN": true, "HERALD_REDIS_URL": true, "HERALD_AMQP_URL": true}

// Key is the key of HERALD_SECRET_KEY, or nil when none is set.
func (c *Config) Key() (*secret.Key, error) {
	if c.SecretKey == "" {
		return nil, nil
	}
	return secret.ParseKey(c.SecretKey)
}

// openSealed replaces every "enc:v1:" value of the settings (environment and file alike,
// including parts of HERALD_PROVIDERS, the shard DSNs and the settings of provider
// accounts) by its plaintext, naming the setting whose value does not open. Slices and maps
// are copied before they change, so a Config this one was copied from keeps its values.
func (c *Config) openSealed() error {
	if secret.IsSealed(c.SecretKey) {
		return fmt.Errorf("HERALD_SECRET_KEY: the key itself cannot be encrypted")
	}
	key, kerr := c.Key()
	open := func(name, s string) (string, error) {
		if kerr != nil {
			return "", fmt.Errorf("%s: an encrypted value needs a valid HERALD_SECRET_KEY: %w", name, kerr)
		}
		plain, parts, err := secret.ExpandParts(key, s)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		c.revealed = append(c.revealed, parts...)
		return plain, nil
	}
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		if !t.Field(i).IsExported() {
			continue
		}
		out, changed, err := openValue(settingName(t.Field(i)), v.Field(i), open)
		if err != nil {
			return err
		}
		if changed {
			v.Field(i).Set(out)
		}
	}
	return nil
}

// openValue returns v with its sealed strings opened, and whether anything changed; it
// walks strings, slices, maps of strings and structs.
func openValue(name string, v reflect.Value, open func(name, s string) (string, error)) (reflect.Value, bool, error) {
	switch v.Kind() {
	case reflect.String:
		if !secret.IsSealed(v.String()) {
			return v, false, nil
		}
		plain, err := open(name, v.String())
		if err != nil {
			return v, false, err
		}
		return reflect.ValueOf(plain).Convert(v.Type()), true, nil
	case reflect.Slice:
		var out reflect.Value
		for i := range v.Len() {
			e, changed, err := openValue(fmt.Sprintf("%s[%d]", name, i), v.Index(i), open)
			if err != nil {
				return v, false, err
			}
			if changed {
				if !out.IsValid() {
					out = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
					reflect.Copy(out, v)
				}
				out.Index(i).Set(e)
			}
		}
		return orValue(out, v)
	case reflect.Map:
		var out reflect.Value
		iter := v.MapRange()
		for iter.Next() {
			e, changed, err := openValue(fmt.Sprintf("%s.%v", name, iter.Key()), iter.Value(), open)
			if err != nil {
				return v, false, err
			}
			if changed {
				if !out.IsValid() {
					out = reflect.MakeMapWithSize(v.Type(), v.Len())
					for _, k := range v.MapKeys() {
						out.SetMapIndex(k, v.MapIndex(k))
					}
				}
				out.SetMapIndex(iter.Key(), e)
			}
		}
		return orValue(out, v)
	case reflect.Struct:
		var out reflect.Value
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			field := f.Tag.Get("yaml")
			if field == "" {
				field = f.Name
			}
			e, changed, err := openValue(name+"."+field, v.Field(i), open)
			if err != nil {
				return v, false, err
			}
			if changed {
				if !out.IsValid() {
					out = reflect.New(v.Type()).Elem()
					out.Set(v)
				}
				out.Field(i).Set(e)
			}
		}
		return orValue(out, v)
	}
	return v, false, nil
}

func orValue(out, v reflect.Value) (reflect.Value, bool, error) {
	if out.IsValid() {
		return out, true, nil
	}
	return v, false, nil
}

// settingName is the environment variable of a field, or its file key.
func settingName(f reflect.StructField) string {
	if k := f.Tag.Get("env"); k != "" {
		return k
	}
	return f.Tag.Get("yaml")
}

// Redact replaces every decrypted secret in s by "****", for errors that quote settings.
func (c *Config) Redact(s string) string {
	for _, p := range c.revealed {
		if len(p) >= 4 {
			s = strings.ReplaceAll(s, p, "****")
		}
	}
	return s
}

// LogValue writes the configuration with its secrets masked: secret settings as "****",
// passwords inside URLs and DSNs as "****".
func (c Config) LogValue() slog.Value {
	v := reflect.ValueOf(c)
	t := v.Type()
	var attrs []slog.Attr
	for i := range t.NumField() {
		if !t.Field(i).IsExported() {
			continue
		}
		name := settingName(t.Field(i))
		key := t.Field(i).Tag.Get("yaml")
		if key == "" {
			key = strings.ToLower(strings.TrimPrefix(name, "HERALD_"))
		}
		switch x := v.Field(i).Interface().(type) {
		case string:
			switch {
			case secretSettings[name]:
				x = secret.Mask(x)
			case urlSettings[name]:
				x = maskURL(x)
			}
			attrs = append(attrs, slog.String(key, x))
		case []string:
			masked := make([]string, len(x))
			for k, s := range x {
				masked[k] = maskURL(s)
			}
			attrs = append(attrs, slog.Any(key, masked))
		case []providers.Account: // names and types only: settings hold credentials
			names := make([]string, len(x))
			for k, acc := range x {
				names[k] = acc.Name + " (" + acc.Type + ")"
			}
			attrs = append(attrs, slog.Any(key, names))
		case bool:
			attrs = append(attrs, slog.Bool(key, x))
		case int:
			attrs = append(attrs, slog.Int(key, x))
		case time.Duration:
			attrs = append(attrs, slog.String(key, x.String()))
		}
	}
	return slog.GroupValue(attrs...)
}

// maskURL hides the password of a URL (scheme://user:pass@host) or of a MySQL DSN
// (user:pass@tcp(host)/).
func maskURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil && u.Host != "" {
		if _, set := u.User.Password(); set {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return strings.Replace(u.String(), ":xxxxx@", ":****@", 1)
		}
		return s
	}
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	cred := s[:at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return cred[:i] + ":****" + s[at:]
	}
	return s
}

// MutationLimit is HERALD_MUTATION_RATE in mutations per second; 0 means unlimited ("off").
func (c *Config) MutationLimit() (float64, error) {
	raw := strings.TrimSpace(strings.ToLower(c.MutationRate))
	if raw == "off" || raw == "0" {
		return 0, nil
	}
	num, unit, hasUnit := strings.Cut(raw, "/")
	per := time.Second
	if hasUnit {
		switch unit {
		case "s":
		case "m":
			per = time.Minute
		case "h":
			per = time.Hour
		default:
			return 0, fmt.Errorf("%q: the unit after / must be s, m or h, as in 50/s", c.MutationRate)
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || !(n > 0) || n > 1e6 {
		return 0, fmt.Errorf("%q must be a positive number of mutations per second, minute or hour, such as 50/s, or off", c.MutationRate)
	}
	return n / per.Seconds(), nil
}
