package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
	"github.com/herald-msg/herald/channels/webhook"
)

func TestRoundTripTestAddresses(t *testing.T) {
	t.Parallel()
	const slowDelay = 300 * time.Millisecond
	p, err := webhook.New(webhook.Config{Secret: sim.DefaultSecret})
	require.NoError(t, err)
	herald := simtest.NewHerald(t, map[channels.Channel]channels.ReceiptParser{channels.Webhook: p})
	s, srv := simtest.StartSim(t, sim.Config{Callback: herald.URL, ReceiptDelay: 20 * time.Millisecond, SlowDelay: slowDelay})

	msgs := []channels.Message{
		{ID: "silent", Address: srv.URL + "/webhook/user-silent", Body: "never reported"},
		{ID: "slow", Address: srv.URL + "/webhook/user-slow", Body: "reported late"},
		{ID: "fail", Address: srv.URL + "/webhook/user-fail", Body: "refused"},
		{ID: "ok", Address: srv.URL + "/webhook/user-1", Title: "Hi", Body: "hello"},
	}
	sentAt := time.Now()
	res, err := p.Send(context.Background(), msgs)
	require.NoError(t, err)
	want := map[string]channels.Status{"silent": channels.Sent, "slow": channels.Sent, "fail": channels.Failed, "ok": channels.Sent}
	for _, r := range res {
		require.Equal(t, want[r.MessageID], r.Status, r.MessageID)
		require.False(t, r.Retryable, r.MessageID)
	}

	ok := herald.WaitFor(t, "ok", 5*time.Second)
	require.Equal(t, channels.Delivered, ok.Receipt.Status)
	require.Equal(t, "webhook", ok.Receipt.Provider)
	require.False(t, herald.Has("silent"), "accepted before ok with the same delay, yet no receipt")

	slow := herald.WaitFor(t, "slow", 5*time.Second)
	require.GreaterOrEqual(t, slow.At.Sub(sentAt), slowDelay)
	require.False(t, herald.Has("fail"))
	require.False(t, herald.Has("silent"))
	require.Zero(t, herald.Refused())

	got := s.Messages(channels.Webhook, srv.URL+"/webhook/user-1")
	require.Len(t, got, 1)
	require.Equal(t, "Hi\nhello", got[0].Content)
	require.Equal(t, "ok", got[0].MessageID)
}

func TestRoundTripWrongSecretIsRefused(t *testing.T) {
	t.Parallel()
	s, srv := simtest.StartSim(t, sim.Config{})
	p, err := webhook.New(webhook.Config{Secret: "not-the-sim-secret"})
	require.NoError(t, err)
	res, err := p.Send(context.Background(), []channels.Message{{ID: "m", Address: srv.URL + "/webhook/x"}})
	require.NoError(t, err)
	require.Equal(t, channels.Failed, res[0].Status)
	require.Equal(t, "HTTP 401", res[0].Reason)
	require.Zero(t, s.Stats().Received[channels.Webhook])
}

func TestRoundTripSimReceiptsFailVerificationWithOtherSecret(t *testing.T) {
	t.Parallel()
	sender, err := webhook.New(webhook.Config{Secret: sim.DefaultSecret})
	require.NoError(t, err)
	parser, err := webhook.New(webhook.Config{Secret: "herald-knows-another-secret"})
	require.NoError(t, err)
	herald := simtest.NewHerald(t, map[channels.Channel]channels.ReceiptParser{channels.Webhook: parser})
	_, srv := simtest.StartSim(t, sim.Config{Callback: herald.URL, ReceiptDelay: 5 * time.Millisecond, RetryBackoff: time.Millisecond, ReceiptAttempts: 2})
	_, err = sender.Send(context.Background(), []channels.Message{{ID: "m", Address: srv.URL + "/webhook/x"}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return herald.Refused() == 2 }, 5*time.Second, 2*time.Millisecond)
	require.False(t, herald.Has("m"))
}
