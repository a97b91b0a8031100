package server_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/secret"
	"github.com/herald-msg/herald/server"
)

func TestEncryptedSettingsOpen(t *testing.T) {
	t.Parallel()
	keyText := secret.GenerateKey()
	key, err := secret.ParseKey(keyText)
	require.NoError(t, err)
	hook := key.Seal([]byte("webhook-signing-secret"))
	simURL := key.Seal([]byte("http://127.0.0.1:8090"))
	dsn := key.Seal([]byte("herald:db-password@tcp(127.0.0.1:3306)/"))
	file := writeConfigFile(t, "webhook_secret: "+hook+"\nmysql_dsn: \""+dsn+"\"\nstats_dsns: [\""+dsn+"\"]\n")

	cfg, err := server.LoadConfig(file, []string{"HERALD_SECRET_KEY=" + keyText, "HERALD_PROVIDERS=sim=" + simURL})
	require.NoError(t, err)
	require.Equal(t, "webhook-signing-secret", cfg.WebhookSecret)
	require.Equal(t, "sim=http://127.0.0.1:8090", cfg.Providers)
	require.Equal(t, "herald:db-password@tcp(127.0.0.1:3306)/", cfg.MySQLDSN)
	require.Equal(t, []string{"herald:db-password@tcp(127.0.0.1:3306)/"}, cfg.StatsDSNs)

	// Logging the configuration masks every secret and password.
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", cfg)
	logged := buf.String()
	for _, s := range []string{"webhook-signing-secret", "db-password", keyText} {
		require.NotContains(t, logged, s)
	}
	require.Contains(t, logged, "herald:****@tcp(127.0.0.1:3306)/")
	require.Contains(t, logged, "webhook_secret=****")

	// Errors that quote a decrypted value are scrubbed.
	require.Equal(t, `bad part "****"`, cfg.Redact(`bad part "webhook-signing-secret"`))

	// The settings of provider accounts open too, without changing the Config they were
	// copied from.
	accounts := []providers.Account{{Name: "ali", Channel: "SMS", Type: "aliyun", Settings: map[string]string{
		"access_key_id": "LTAI-plain", "access_key_secret": key.Seal([]byte("account-secret"))}}}
	cfg = server.DefaultConfig()
	cfg.SecretKey = keyText
	cfg.ProviderAccounts = accounts
	require.NoError(t, cfg.Validate())
	require.Equal(t, "account-secret", cfg.ProviderAccounts[0].Settings["access_key_secret"])
	require.Equal(t, "LTAI-plain", cfg.ProviderAccounts[0].Settings["access_key_id"])
	require.True(t, strings.HasPrefix(accounts[0].Settings["access_key_secret"], secret.Prefix), "the original is untouched")

	cfg = server.DefaultConfig()
	cfg.ProviderAccounts = accounts
	err = cfg.Validate()
	require.ErrorContains(t, err, "provider_accounts[0].settings.access_key_secret")
	require.ErrorContains(t, err, "HERALD_SECRET_KEY")
}

func TestEncryptedSettingsRefused(t *testing.T) {
	t.Parallel()
	keyText := secret.GenerateKey()
	key, _ := secret.ParseKey(keyText)
	sealed := key.Seal([]byte("s3cret-value"))
	raw := strings.TrimPrefix(sealed, secret.Prefix)
	tampered := secret.Prefix + strings.ToUpper(raw[:8]) + strings.ToLower(raw[8:16]) + raw[16:]
	if tampered == sealed {
		tampered = secret.Prefix + "A" + raw[1:]
	}
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"no key", []string{"HERALD_WEBHOOK_SECRET=" + sealed}, []string{"HERALD_WEBHOOK_SECRET", "HERALD_SECRET_KEY"}},
		{"wrong key", []string{"HERALD_SECRET_KEY=" + secret.GenerateKey(), "HERALD_WEBHOOK_SECRET=" + sealed}, []string{"HERALD_WEBHOOK_SECRET", "another key or it was altered"}},
		{"tampered", []string{"HERALD_SECRET_KEY=" + keyText, "HERALD_WEBHOOK_SECRET=" + tampered}, []string{"HERALD_WEBHOOK_SECRET"}},
		{"short key", []string{"HERALD_SECRET_KEY=c2hvcnQ=", "HERALD_WEBHOOK_SECRET=plain"}, []string{"HERALD_SECRET_KEY", "is 5 bytes"}},
		{"key not encoded", []string{"HERALD_SECRET_KEY=not a key!"}, []string{"HERALD_SECRET_KEY", "neither base64 nor hex"}},
		{"encrypted key", []string{"HERALD_SECRET_KEY=" + sealed}, []string{"HERALD_SECRET_KEY", "cannot be encrypted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := server.LoadConfig("", tt.env)
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), "s3cret-value")
		})
	}
}

func TestMutationRateSetting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rate string
		want float64
		bad  bool
	}{
		{"50/s", 50, false},
		{"50", 50, false},
		{"600/m", 10, false},
		{"3600/h", 1, false},
		{"off", 0, false},
		{"0", 0, false},
		{"-1/s", 0, true},
		{"fast", 0, true},
		{"5/d", 0, true},
	}
	for _, tt := range tests {
		cfg, err := server.LoadConfig("", []string{"HERALD_MUTATION_RATE=" + tt.rate})
		if tt.bad {
			require.ErrorContains(t, err, "HERALD_MUTATION_RATE", tt.rate)
			continue
		}
		require.NoError(t, err, tt.rate)
		got, err := cfg.MutationLimit()
		require.NoError(t, err)
		require.InDelta(t, tt.want, got, 1e-9, tt.rate)
	}
	_, err := server.LoadConfig("", []string{"HERALD_MUTATION_BURST=0"})
	require.ErrorContains(t, err, "HERALD_MUTATION_BURST")
}
