// Package providers turns the HERALD_PROVIDERS setting into a registry of channel providers.
//
// The setting is a comma-separated list of key=value parts. Today one key exists:
// sim=<base URL> points every channel Herald has a provider for at a vendor simulator
// (`herald sim`). Without any part, only the webhook provider is registered, keyed by
// HERALD_WEBHOOK_SECRET. New keys (vendor accounts, weights, failover order) are added to
// the builders table.
package providers

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/netguard"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/channels/webhook"
	"github.com/herald-msg/herald/track"
)

// Credentials and names the simulator accepts by default; the sim= setting uses them.
const (
	SimAccessKeyID  = "sim-key"
	SimSecret       = "sim-secret"
	SimSignName     = "Herald"
	SimTemplateCode = "SMS_HERALD_TEXT"
)

// Options carries what Build needs besides the spec.
type Options struct {
	// WebhookSecret keys webhook signatures when no part of the spec sets one
	// (HERALD_WEBHOOK_SECRET).
	WebhookSecret string
	// HTTPClient is shared by the providers; nil lets each use its default.
	HTTPClient *http.Client
	// WebhookAllow lists internal addresses webhooks may reach (HERALD_WEBHOOK_ALLOW);
	// every other loopback, private or link-local address is refused at connect time.
	WebhookAllow []netip.Prefix
	// Logger is handed to the providers; default slog.Default().
	Logger *slog.Logger
	// Tracker signs the open pixel and tracked links of emails; nil sends them untracked.
	Tracker *track.Tracker
	// Accounts are the vendor accounts of the configuration file, registered after the
	// providers of the spec.
	Accounts []Account
}

// builder adds the providers of one spec part to reg.
type builder func(value string, opts Options, reg *channels.Registry) error

// builders maps the keys of HERALD_PROVIDERS to what they register.
var builders = map[string]builder{
	"sim": buildSim,
}

// Build parses spec (the value of HERALD_PROVIDERS) and returns the registry it describes.
func Build(spec string, opts Options) (*channels.Registry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	reg := channels.NewRegistry()
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		build, known := builders[key]
		if !ok || !known {
			return nil, fmt.Errorf("HERALD_PROVIDERS: unknown part %q (want %s)", part, knownKeys())
		}
		if seen[key] {
			return nil, fmt.Errorf("HERALD_PROVIDERS: %q given twice", key)
		}
		seen[key] = true
		if err := build(value, opts, reg); err != nil {
			return nil, fmt.Errorf("HERALD_PROVIDERS: %s: %w", part, err)
		}
	}
	if err := BuildAccounts(reg, opts.Accounts, opts); err != nil {
		return nil, err
	}
	if _, ok := reg.Provider(channels.Webhook); !ok {
		if opts.WebhookSecret == "" {
			return nil, errors.New("HERALD_WEBHOOK_SECRET is required: it signs webhook requests and verifies webhook receipts")
		}
		p, err := webhook.New(webhook.Config{Secret: opts.WebhookSecret, HTTPClient: guardedClient(opts, nil), Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		reg.Register(p)
	}
	return reg, nil
}

// SimTarget is what a provider built for the simulator needs: the simulator's base URL and
// Herald's options.
type SimTarget struct {
	// Base is the simulator's base URL, without a trailing slash.
	Base *url.URL
	Opts Options
}

// URL is the simulator's base URL as a string, without a trailing slash.
func (t SimTarget) URL() string { return strings.TrimSuffix(t.Base.String(), "/") }

// simProvider builds one provider that talks to the simulator.
type simProvider func(t SimTarget) (channels.Provider, error)

// simProviders lists the providers sim= registers, in each channel's failover order. Each
// provider is named after the simulated vendor it talks to, so the simulator posts its
// receipts to /callbacks/{channel}/{name}.
var simProviders = []simProvider{
	simGetui,
	simAliyunSMS,
	simSMSHTTP,
	simWeChat,
	simDingTalk,
	simWebhook,
	simAliyunVoice,
	simMaaP,
}

// buildSim points a provider of every channel at a simulator at base.
func buildSim(base string, opts Options, reg *channels.Registry) error {
	if base == "" {
		return errors.New("missing simulator URL, as in sim=http://127.0.0.1:8090")
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("simulator URL %q is not an http(s) URL", base)
	}
	target := SimTarget{Base: u, Opts: opts}
	placed := map[channels.Channel]int{}
	for _, build := range simProviders {
		p, err := build(target)
		if err != nil {
			return err
		}
		// The second provider of a channel is its failover, not a share of its traffic.
		reg.RegisterAt(p, channels.Placement{Priority: placed[p.Channel()]})
		placed[p.Channel()]++
	}
	return nil
}

func simAliyunSMS(t SimTarget) (channels.Provider, error) {
	return sms.NewAliyun(sms.AliyunConfig{
		Endpoint:        t.URL(),
		AccessKeyID:     SimAccessKeyID,
		AccessKeySecret: SimSecret,
		SignName:        SimSignName,
		TemplateCode:    SimTemplateCode,
		CallbackToken:   SimSecret,
		HTTPClient:      t.Opts.HTTPClient,
		Logger:          t.Opts.Logger,
	})
}

func simWebhook(t SimTarget) (channels.Provider, error) {
	// The simulator's own receiver is allowed, wherever it runs.
	return webhook.New(webhook.Config{Secret: SimSecret, HTTPClient: guardedClient(t.Opts, hostPrefixes(t.Base.Hostname())), Logger: t.Opts.Logger})
}

// guardedClient is the HTTP client of webhook providers: opts.HTTPClient's settings with a
// transport that refuses internal addresses other than the allowed ones.
func guardedClient(opts Options, extra []netip.Prefix) *http.Client {
	c := &http.Client{}
	if opts.HTTPClient != nil {
		cp := *opts.HTTPClient
		c = &cp
	}
	c.Transport = netguard.New(append(append([]netip.Prefix{}, opts.WebhookAllow...), extra...)).Transport()
	return c
}

// hostPrefixes are the addresses of host, as single-address prefixes.
func hostPrefixes(host string) []netip.Prefix {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = append(addrs, a)
	} else if ips, err := net.LookupIP(host); err == nil {
		for _, ip := range ips {
			if a, ok := netip.AddrFromSlice(ip); ok {
				addrs = append(addrs, a.Unmap())
			}
		}
	}
	out := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}

func knownKeys() string {
	var keys []string
	for _, k := range slices.Sorted(maps.Keys(builders)) {
		keys = append(keys, k+"=...")
	}
	return strings.Join(keys, ", ")
}
