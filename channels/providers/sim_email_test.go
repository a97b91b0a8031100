package providers_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
)

func TestSimSMTP(t *testing.T) {
	t.Parallel()
	reg, err := providers.Build("sim-smtp=127.0.0.1:2525", providers.Options{WebhookSecret: "s"})
	require.NoError(t, err)
	p, ok := reg.Provider(channels.Email)
	require.True(t, ok, "sim-smtp= registers an EMAIL provider")
	require.Equal(t, "smtp", p.Name())

	for spec, want := range map[string]string{
		"sim-smtp=":          "missing the simulator's SMTP address",
		"sim-smtp=127.0.0.1": "must be host:port",
	} {
		_, err := providers.Build(spec, providers.Options{WebhookSecret: "s"})
		require.ErrorContains(t, err, want, spec)
		require.ErrorContains(t, err, "HERALD_PROVIDERS", spec)
	}
}

func TestSMTPAccounts(t *testing.T) {
	t.Parallel()
	reg := channels.NewRegistry()
	err := providers.BuildAccounts(reg, []providers.Account{
		{Name: "mail", Channel: "EMAIL", Type: "smtp", Settings: map[string]string{"addr": "smtp.example.com:587",
			"username": "u", "password": "p", "from": "Shop <news@shop.example>", "pool_size": "8", "timeout": "20s"}},
	}, providers.Options{})
	require.NoError(t, err)
	p, ok := reg.Provider(channels.Email)
	require.True(t, ok)
	require.Equal(t, "mail", p.Name())

	for _, c := range []struct {
		settings map[string]string
		want     string
	}{
		{map[string]string{"from": "a@b.example"}, "settings.addr: required"},
		{map[string]string{"addr": "smtp.example.com:587"}, "settings.from: required"},
		{map[string]string{"addr": "smtp.example.com:587", "from": "a@b.example", "tls": "x"}, "settings.tls: not a setting"},
		{map[string]string{"addr": "smtp.example.com:25", "from": "a@b.example", "security": "none"}, `security "none" is only allowed to a loopback address`},
	} {
		err := providers.BuildAccounts(channels.NewRegistry(), []providers.Account{{Name: "mail", Type: "smtp", Settings: c.settings}}, providers.Options{})
		require.ErrorContains(t, err, c.want)
		require.ErrorContains(t, err, "provider_accounts[0]")
	}
}
