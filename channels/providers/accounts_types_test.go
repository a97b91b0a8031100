package providers_test

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
)

// Every account type builds its provider under the account's name from a valid settings
// block, and names a missing required setting and an unknown one.
func TestAccountTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ      string
		channel  channels.Channel
		settings map[string]string
		required string
	}{
		{"wechat-mp", channels.WeChat, map[string]string{"app_id": "wx123", "app_secret": "s3", "token": "tok",
			"template_id": "TPL", "max_skew": "2m", "concurrency": "4"}, "app_secret"},
		{"dingtalk", channels.DingTalk, map[string]string{"app_key": "ding-key", "app_secret": "s3", "agent_id": "2001",
			"poll_interval": "10s"}, "agent_id"},
		{"aliyun-voice", channels.Voice, map[string]string{"access_key_id": "LTAI", "access_key_secret": "s3",
			"callback_token": "cb", "tts_code": "TTS_1", "play_times": "3"}, "callback_token"},
		{"rcs-maap", channels.RCS, map[string]string{"endpoint": "https://maap.example.com/chatbot", "chatbot_id": "bot1",
			"client_secret": "s3", "notify_password": "np", "network_fallback": "true"}, "notify_password"},
		{"sms-http", channels.SMS, map[string]string{"url": "https://gw.example.com/send", "headers": "Authorization: Bearer t0k; X-Tenant: 7",
			"body_template": `{"to": "{{phone}}", "text": "{{text}}"}`, "response_vendor_id_path": "data.id",
			"response_code_path": "code", "response_success_value": "0", "response_retryable_codes": "4290, 5000",
			"receipt_status_path": "status", "receipt_vendor_id_path": "msg_id", "receipt_status_map": "DELIVRD: delivered; UNDELIV: FAILED",
			"receipt_token_header": "X-Token", "receipt_token": "rt"}, "response_vendor_id_path"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			reg := channels.NewRegistry()
			require.NoError(t, providers.BuildAccounts(reg, []providers.Account{{Name: "acct-1", Channel: string(tt.channel), Type: tt.typ, Settings: tt.settings}}, providers.Options{}))
			p, ok := reg.Provider(tt.channel)
			require.True(t, ok)
			require.Equal(t, "acct-1", p.Name())
			require.Equal(t, tt.channel, p.Channel())

			missing := maps.Clone(tt.settings)
			delete(missing, tt.required)
			err := providers.BuildAccounts(channels.NewRegistry(), []providers.Account{{Name: "acct-1", Type: tt.typ, Settings: missing}}, providers.Options{})
			require.ErrorContains(t, err, "provider_accounts[0].settings."+tt.required+": required")

			unknown := maps.Clone(tt.settings)
			unknown["app_secert"] = "typo"
			err = providers.BuildAccounts(channels.NewRegistry(), []providers.Account{{Name: "acct-1", Type: tt.typ, Settings: unknown}}, providers.Options{})
			require.ErrorContains(t, err, "provider_accounts[0].settings.app_secert: not a setting of this type")

			err = providers.BuildAccounts(channels.NewRegistry(), []providers.Account{{Name: "acct-1", Type: tt.typ, Channel: "WEBHOOK", Settings: tt.settings}}, providers.Options{})
			require.ErrorContains(t, err, "provider_accounts[0].channel: type "+tt.typ+" carries "+string(tt.channel))
		})
	}
}

// The flat settings of sms-http are checked where they are written, and the checks of the
// gateway's configuration name the setting, not the Go field.
func TestSMSHTTPAccountSettings(t *testing.T) {
	t.Parallel()
	base := map[string]string{"url": "https://gw.example.com/send", "body_template": `{"to": "{{phone}}", "text": "{{text}}"}`,
		"response_vendor_id_path": "data.id"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		settings map[string]string
		want     string
	}{
		{"header without colon", with("headers", "Authorization Bearer x"), `settings.headers: "Authorization Bearer x" is not a pair`},
		{"header twice", with("headers", "X-A: 1; X-A: 2"), `settings.headers: "X-A" is given twice`},
		{"code path without success value", with("response_code_path", "code"), "settings.response_success_value: required with response_code_path"},
		{"retryable and permanent", with("response_code_path", "code", "response_success_value", "0", "response_retryable_codes", "1,2", "response_permanent_codes", "2"),
			`settings.response_retryable_codes: "2" is listed as permanent too`},
		{"receipt without token", with("receipt_status_path", "status", "receipt_vendor_id_path", "id", "receipt_status_map", "OK: DELIVERED", "receipt_token_header", "X-T"),
			"settings.receipt_token: required"},
		{"receipt status map value", with("receipt_status_path", "status", "receipt_vendor_id_path", "id", "receipt_status_map", "OK: SENT", "receipt_token_header", "X-T", "receipt_token", "t"),
			"settings.receipt_status_map:"},
		{"body not JSON", with("body_template", `{"to": {{phone}}, "text": "{{text}}"`), "settings.body_template: not valid JSON"},
		{"bad url", with("url", "ftp://gw.example.com"), "settings.url:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := channels.NewRegistry()
			err := providers.BuildAccounts(reg, []providers.Account{{Name: "gw", Type: "sms-http", Settings: tt.settings}}, providers.Options{})
			require.ErrorContains(t, err, "provider_accounts[0]")
			require.ErrorContains(t, err, tt.want)
			require.Empty(t, reg.Providers(), "nothing is registered")
		})
	}
}
