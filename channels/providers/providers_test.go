package providers_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
)

func TestBuild(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		spec          string
		webhookSecret string
		wantErr       []string // substrings of the error
		wantProviders map[channels.Channel]string
	}{
		{name: "empty spec: webhook only", spec: "", webhookSecret: "s",
			wantProviders: map[channels.Channel]string{channels.Webhook: "webhook"}},
		{name: "blank parts are ignored", spec: " , ", webhookSecret: "s",
			wantProviders: map[channels.Channel]string{channels.Webhook: "webhook"}},
		{name: "empty spec needs a webhook secret", spec: "", wantErr: []string{"HERALD_WEBHOOK_SECRET"}},
		{name: "sim", spec: "sim=http://127.0.0.1:8090",
			wantProviders: map[channels.Channel]string{channels.AppPush: "getui", channels.SMS: "aliyun", channels.WeChat: "wechat", channels.DingTalk: "dingtalk", channels.Webhook: "webhook",
				channels.Voice: "aliyun-voice", channels.RCS: "maap"}},
		{name: "sim without scheme", spec: "sim=127.0.0.1:8090",
			wantProviders: map[channels.Channel]string{channels.AppPush: "getui", channels.SMS: "aliyun", channels.WeChat: "wechat", channels.DingTalk: "dingtalk", channels.Webhook: "webhook",
				channels.Voice: "aliyun-voice", channels.RCS: "maap"}},
		{name: "unknown key", spec: "sim=http://x:1,twilio=abc", wantErr: []string{"HERALD_PROVIDERS", "twilio=abc"}},
		{name: "part without =", spec: "sim", wantErr: []string{"HERALD_PROVIDERS", `"sim"`}},
		{name: "sim without URL", spec: "sim=", wantErr: []string{"HERALD_PROVIDERS", "sim="}},
		{name: "sim with other scheme", spec: "sim=ftp://x", wantErr: []string{"HERALD_PROVIDERS", "ftp://x"}},
		{name: "sim twice", spec: "sim=http://a:1,sim=http://b:1", wantErr: []string{"HERALD_PROVIDERS", "twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, err := providers.Build(tt.spec, providers.Options{WebhookSecret: tt.webhookSecret})
			if tt.wantErr != nil {
				require.Error(t, err)
				for _, s := range tt.wantErr {
					require.Contains(t, err.Error(), s)
				}
				return
			}
			require.NoError(t, err)
			got := map[channels.Channel]string{}
			for _, p := range reg.Providers() {
				if _, ok := got[p.Channel()]; !ok {
					got[p.Channel()] = p.Name() // the channel's primary
				}
			}
			require.Equal(t, tt.wantProviders, got)
			_, ok := reg.ReceiptParser(channels.Webhook)
			require.True(t, ok)
		})
	}
}

func TestSimDefaultsMatch(t *testing.T) {
	t.Parallel()
	require.Equal(t, sim.DefaultAccessKeyID, providers.SimAccessKeyID)
	require.Equal(t, sim.DefaultSecret, providers.SimSecret)
}

// TestBuildSimEndToEnd sends through the registry built from sim=<URL> and gets receipts
// back, verified by the same registry's parsers.
func TestBuildSimEndToEnd(t *testing.T) {
	t.Parallel()
	parsers := map[channels.Channel]channels.ReceiptParser{}
	herald := simtest.NewHerald(t, parsers)
	_, srv := simtest.StartSim(t, sim.Config{Callback: herald.URL})
	reg, err := providers.Build("sim="+srv.URL, providers.Options{})
	require.NoError(t, err)
	for _, ch := range []channels.Channel{channels.SMS, channels.Webhook} {
		rp, ok := reg.ReceiptParser(ch)
		require.True(t, ok, ch)
		parsers[ch] = rp
	}

	tests := []struct {
		ch      channels.Channel
		address string
	}{
		{channels.SMS, "+8613800138000"},
		{channels.Webhook, srv.URL + "/webhook/user-1"},
	}
	for _, tt := range tests {
		p, ok := reg.Provider(tt.ch)
		require.True(t, ok)
		id := "e2e-" + string(tt.ch)
		res, err := p.Send(context.Background(), []channels.Message{{ID: id, Channel: tt.ch, Address: tt.address, Body: "hello"}})
		require.NoError(t, err)
		require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
		rc := herald.WaitFor(t, id, 5*time.Second)
		require.Equal(t, channels.Delivered, rc.Receipt.Status)
	}
}
