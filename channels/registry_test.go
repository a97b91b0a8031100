package channels_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

type fakeProvider struct {
	name string
	ch   channels.Channel
}

func (f fakeProvider) Name() string              { return f.name }
func (f fakeProvider) Channel() channels.Channel { return f.ch }
func (f fakeProvider) Send(context.Context, []channels.Message) ([]channels.Result, error) {
	return nil, nil
}

type fakeParser struct{ fakeProvider }

func (fakeParser) ParseReceipts(*http.Request) ([]channels.Receipt, error) { return nil, nil }

func TestRegistry(t *testing.T) {
	t.Parallel()
	smsA := fakeProvider{"a", channels.SMS}
	smsB := fakeParser{fakeProvider{"b", channels.SMS}}
	smsC := fakeParser{fakeProvider{"c", channels.SMS}}
	hook := fakeProvider{"hook", channels.Webhook}

	var reg channels.Registry // the zero value is usable
	for _, p := range []channels.Provider{smsA, smsB, hook, smsC} {
		reg.Register(p)
	}

	tests := []struct {
		name       string
		ch         channels.Channel
		wantFirst  channels.Provider
		wantParser channels.ReceiptParser
		wantAll    []channels.Provider
	}{
		{"first registered is primary; first parser wins", channels.SMS, smsA, smsB, []channels.Provider{smsA, smsB, smsC}},
		{"provider without parser", channels.Webhook, hook, nil, []channels.Provider{hook}},
		{"channel without provider", channels.Email, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := reg.Provider(tt.ch)
			require.Equal(t, tt.wantFirst != nil, ok)
			require.Equal(t, tt.wantFirst, p)
			rp, ok := reg.ReceiptParser(tt.ch)
			require.Equal(t, tt.wantParser != nil, ok)
			require.Equal(t, tt.wantParser, rp)
			require.Equal(t, tt.wantAll, reg.ChannelProviders(tt.ch))
		})
	}
	require.Equal(t, []channels.Provider{smsA, smsB, hook, smsC}, reg.Providers())
	require.Equal(t, []channels.Channel{channels.SMS, channels.Webhook}, reg.Channels())
}

func TestRegistryRegisterPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    channels.Provider
	}{
		{"nil provider", nil},
		{"unknown channel", fakeProvider{"x", channels.Channel("FAX")}},
		{"same name twice on a channel", fakeProvider{"a", channels.SMS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := channels.NewRegistry()
			reg.Register(fakeProvider{"a", channels.SMS})
			require.Panics(t, func() { reg.Register(tt.p) })
		})
	}
	reg := channels.NewRegistry()
	reg.Register(fakeProvider{"a", channels.SMS})
	require.NotPanics(t, func() { reg.Register(fakeProvider{"a", channels.Webhook}) }, "names are per channel")
}

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"+8613800138000", "+86138****8000"},
		{"13800138000", "138****8000"},
		{"8613800138000", "86138****8000"},
		{"12345678", "****78"},
		{"12", "**"},
		{"", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, channels.MaskPhone(tt.in), tt.in)
	}
}

func TestRouteOrdersByPriorityAndSpreadsByWeight(t *testing.T) {
	t.Parallel()
	heavy := fakeProvider{"heavy", channels.SMS}
	light := fakeProvider{"light", channels.SMS}
	backup := fakeProvider{"backup", channels.SMS}
	var reg channels.Registry
	reg.RegisterAt(backup, channels.Placement{Priority: 1, Weight: 10})
	reg.RegisterAt(heavy, channels.Placement{Weight: 3})
	reg.RegisterAt(light, channels.Placement{Weight: 1})

	firsts := map[string]int{}
	var sequence []string
	for range 8 {
		route := reg.Route(channels.SMS)
		require.Len(t, route, 3)
		require.Equal(t, "backup", route[2].Name(), "a higher priority comes after every lower one, whatever its weight")
		require.NotEqual(t, route[0].Name(), route[1].Name())
		firsts[route[0].Name()]++
		sequence = append(sequence, route[0].Name())
	}
	require.Equal(t, map[string]int{"heavy": 6, "light": 2}, firsts, "batches split 3:1 by weight")
	// Smooth: the light provider's turns are spread out, not bunched.
	require.Equal(t, []string{"heavy", "heavy", "light", "heavy", "heavy", "heavy", "light", "heavy"}, sequence)

	at, ok := reg.PlacementOf(channels.SMS, "backup")
	require.True(t, ok)
	require.Equal(t, channels.Placement{Priority: 1, Weight: 10}, at)
	require.Nil(t, reg.Route(channels.Email))
	require.Panics(t, func() { reg.RegisterAt(fakeProvider{"neg", channels.SMS}, channels.Placement{Weight: -1}) })
}
