package dispatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/rule"
)

// namedProvider carries a channel under a name; a simulation never sends through it.
type namedProvider struct {
	name string
	ch   channels.Channel
}

func (p namedProvider) Name() string              { return p.name }
func (p namedProvider) Channel() channels.Channel { return p.ch }
func (p namedProvider) Send(context.Context, []channels.Message) ([]channels.Result, error) {
	panic("a simulation sends nothing")
}

// A simulation prices a channel's messages at the providers that would take them: those of
// the lowest priority share them by weight, so a unit costs the weight-weighted mean of
// their prices; a provider of a higher priority takes none and does not count.
func TestSimulateRulePricesByProvider(t *testing.T) {
	t.Parallel()
	const users = 4
	b := setupPlanner(t, users)
	reg := channels.NewRegistry()
	reg.RegisterAt(namedProvider{"sms-backup", channels.SMS}, channels.Placement{Priority: 2, Weight: 10})
	reg.RegisterAt(namedProvider{"sms-heavy", channels.SMS}, channels.Placement{Priority: 1, Weight: 3})
	reg.RegisterAt(namedProvider{"sms-light", channels.SMS}, channels.Placement{Priority: 1, Weight: 1})

	tpl, err := b.svc.content.Create(b.ctx, content.Input{AppID: b.appID, Name: "long", Variants: []content.Variant{{Channel: channels.SMS, Body: strings.Repeat("a", 200)}}})
	require.NoError(t, err)
	r, err := tpl.Render(channels.SMS, nil)
	require.NoError(t, err)
	const units = 2
	require.Equal(t, units, r.Segments, "200 GSM characters take two segments")
	rl, err := b.svc.rules.Create(b.ctx, rule.Input{AppID: b.appID, Name: "r", Routes: []rule.Route{{Strategy: rule.Concurrent, Channels: []channels.Channel{channels.SMS}}}})
	require.NoError(t, err)
	aud, err := b.svc.audience.CreateAudience(b.ctx, audience.AudienceInput{AppID: b.appID, Name: "everyone", Kind: audience.All})
	require.NoError(t, err)

	sms := func(provider string) reports.PriceKey {
		return reports.PriceKey{Channel: channels.SMS, Provider: provider}
	}
	for _, tt := range []struct {
		name   string
		prices reports.Prices
		unit   float64
	}{
		{
			name:   "each provider at its own price",
			prices: reports.Prices{sms(""): 0.045, sms("sms-heavy"): 0.03, sms("sms-light"): 0.07, sms("sms-backup"): 0.9},
			unit:   (3*0.03 + 1*0.07) / 4,
		},
		{
			name:   "a provider without a price at the channel's",
			prices: reports.Prices{sms(""): 0.05, sms("sms-heavy"): 0.03, sms("sms-backup"): 0.9},
			unit:   (3*0.03 + 1*0.05) / 4,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := NewService(Deps{DB: b.svc.db, Audience: b.svc.audience, Content: b.svc.content, Rules: b.svc.rules,
				Stats: b.svc.stats, Writer: reports.NewWriter(b.svc.db, time.UTC, tt.prices, nil), Publisher: b.broker, Registry: reg})
			sim, err := svc.SimulateRule(b.ctx, rl.ID, aud.ID, tpl.ID, nil)
			require.NoError(t, err)
			require.EqualValues(t, users, sim.Users)
			require.Len(t, sim.Channels, 1)
			require.EqualValues(t, users, sim.Channels[0].Users)
			want := users * tt.unit * units
			require.InDelta(t, want, sim.Channels[0].Cost, 1e-9)
			require.InDelta(t, want, sim.Cost, 1e-9)
		})
	}

	// Without a registry, or without a provider for the channel, the channel's price applies.
	prices := reports.Prices{sms(""): 0.05, sms("sms-heavy"): 0.03}
	for name, r := range map[string]*channels.Registry{"no registry": nil, "no provider": channels.NewRegistry()} {
		svc := NewService(Deps{DB: b.svc.db, Audience: b.svc.audience, Content: b.svc.content, Rules: b.svc.rules,
			Stats: b.svc.stats, Writer: reports.NewWriter(b.svc.db, time.UTC, prices, nil), Publisher: b.broker, Registry: r})
		sim, err := svc.SimulateRule(b.ctx, rl.ID, aud.ID, tpl.ID, nil)
		require.NoError(t, err, name)
		require.InDelta(t, users*0.05*units, sim.Cost, 1e-9, name)
	}
}
