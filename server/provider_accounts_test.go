package server_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
	"github.com/herald-msg/herald/secret"
	"github.com/herald-msg/herald/server"
)

// Two SMS accounts of the YAML file with encrypted secrets (a whole value and a part of
// one): the registry routes them by priority (not by their order in the file), the secrets
// open with HERALD_SECRET_KEY and authenticate the vendor calls, and logging the
// configuration shows them nowhere.
func TestProviderAccountsFromYAML(t *testing.T) {
	t.Parallel()
	vendor, srv := simtest.StartSim(t, sim.Config{})
	keyText := secret.GenerateKey()
	key, err := secret.ParseKey(keyText)
	require.NoError(t, err)
	sealed := key.Seal([]byte(sim.DefaultSecret))
	file := writeConfigFile(t, fmt.Sprintf(`
provider_accounts:
  - name: backup
    channel: SMS
    type: sms-http
    priority: 2
    settings:
      url: %[1]s/smsgw/v1/messages
      headers: "Authorization: Bearer %[3]s; X-Tenant: 42"
      body_template: '{"to": "{{phone}}", "text": "{{text}}", "sign": "{{sign}}", "ref": "{{id}}"}'
      sign: Herald
      response_vendor_id_path: data.id
      response_code_path: code
      response_success_value: "0"
      response_retryable_codes: "4290, 5000"
  - name: primary
    channel: SMS
    type: aliyun-sms
    priority: 1
    rate: 200
    settings:
      endpoint: %[1]s
      access_key_id: %[2]s
      access_key_secret: %[3]s
      sign_name: Herald
      template_code: SMS_HERALD_TEXT
      callback_token: %[3]s
`, srv.URL, sim.DefaultAccessKeyID, sealed))

	cfg, err := server.LoadConfig(file, []string{"HERALD_SECRET_KEY=" + keyText})
	require.NoError(t, err)
	require.Len(t, cfg.ProviderAccounts, 2)
	require.Equal(t, sim.DefaultSecret, cfg.ProviderAccounts[1].Settings["access_key_secret"], "the secret is decrypted")
	require.Equal(t, "Authorization: Bearer "+sim.DefaultSecret+"; X-Tenant: 42", cfg.ProviderAccounts[0].Settings["headers"], "and a secret inside a setting")

	reg, err := providers.Build("", providers.Options{WebhookSecret: "hook-secret", Accounts: cfg.ProviderAccounts})
	require.NoError(t, err)
	var route []string
	for _, p := range reg.Route(channels.SMS) {
		route = append(route, p.Name())
	}
	require.Equal(t, []string{"primary", "backup"}, route, "lower priority first")
	at, ok := reg.PlacementOf(channels.SMS, "backup")
	require.True(t, ok)
	require.Equal(t, 2, at.Priority)
	require.Equal(t, map[string]float64{"primary": 200}, providers.Rates(cfg.ProviderAccounts))

	// The vendor accepts the calls the decrypted secret signs.
	primary := reg.Route(channels.SMS)[0]
	res, err := primary.Send(context.Background(), []channels.Message{{ID: "m1", Channel: channels.SMS, Address: "+8613900001111", Body: "code 1234"}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NotEqual(t, channels.Failed, res[0].Status, res[0].Reason)
	require.Len(t, vendor.Messages(channels.SMS, "+8613900001111"), 1)
	backup := reg.Route(channels.SMS)[1]
	res, err = backup.Send(context.Background(), []channels.Message{{ID: "m2", Channel: channels.SMS, Address: "+8613900002222", Body: "code 5678"}})
	require.NoError(t, err)
	require.NotEqual(t, channels.Failed, res[0].Status, res[0].Reason)
	require.Len(t, vendor.Messages(channels.SMS, "+8613900002222"), 1)

	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", cfg)
	logged := buf.String()
	require.Contains(t, logged, "primary (aliyun-sms)")
	require.NotContains(t, logged, sim.DefaultSecret)
	require.NotContains(t, logged, sealed)
	require.NotContains(t, logged, keyText)
}
