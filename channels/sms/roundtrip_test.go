package sms_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
	"github.com/herald-msg/herald/channels/sms"
)

type bundle struct {
	provider *sms.Aliyun
	herald   *simtest.Herald
	sim      *sim.Server
}

func setup(t *testing.T, cfg sim.Config) *bundle {
	t.Helper()
	// The provider is built after the fake Herald, which needs its parser: resolve the
	// cycle through a parser that forwards to the provider once it exists.
	var provider *sms.Aliyun
	herald := simtest.NewHerald(t, map[channels.Channel]channels.ReceiptParser{channels.SMS: lateParser{&provider}})
	cfg.Callback = herald.URL
	s, srv := simtest.StartSim(t, cfg)
	p, err := sms.NewAliyun(sms.AliyunConfig{
		Endpoint: srv.URL, AccessKeyID: sim.DefaultAccessKeyID, AccessKeySecret: sim.DefaultSecret,
		SignName: "Herald", TemplateCode: "SMS_TEXT", CallbackToken: sim.DefaultSecret,
	})
	require.NoError(t, err)
	provider = p
	return &bundle{provider: p, herald: herald, sim: s}
}

type lateParser struct{ p **sms.Aliyun }

func (l lateParser) ParseReceipts(r *http.Request) ([]channels.Receipt, error) {
	return (*l.p).ParseReceipts(r)
}

func (l lateParser) AckReceipts(w http.ResponseWriter) { (*l.p).AckReceipts(w) }

func TestRoundTripTestAddresses(t *testing.T) {
	t.Parallel()
	const slowDelay = 300 * time.Millisecond
	b := setup(t, sim.Config{ReceiptDelay: 20 * time.Millisecond, SlowDelay: slowDelay})

	msgs := []channels.Message{
		{ID: "silent", Address: "+8613800131111", Body: "never reported"},
		{ID: "slow", Address: "13800132222", Body: "reported late"},
		{ID: "bad", Address: "+8613800130000", Body: "refused"},
		{ID: "ok", Address: "+8613800138000", Body: "hello"},
	}
	sentAt := time.Now()
	res, err := b.provider.Send(context.Background(), msgs)
	require.NoError(t, err)

	byID := map[string]channels.Result{}
	for _, r := range res {
		byID[r.MessageID] = r
	}
	for _, id := range []string{"silent", "slow", "ok"} {
		require.Equal(t, channels.Sent, byID[id].Status, id)
		require.NotEmpty(t, byID[id].VendorID, id)
		require.Equal(t, 1, byID[id].CostUnits, id)
	}
	require.Equal(t, channels.Failed, byID["bad"].Status)
	require.False(t, byID["bad"].Retryable)
	require.Contains(t, byID["bad"].Reason, sms.CodeMobileNumberIllegal)

	okReceipt := b.herald.WaitFor(t, "ok", 5*time.Second)
	require.Equal(t, channels.Delivered, okReceipt.Receipt.Status)
	require.Equal(t, byID["ok"].VendorID, okReceipt.Receipt.VendorID)
	require.Equal(t, "8613800138000", okReceipt.Receipt.Address)
	require.Equal(t, "aliyun", okReceipt.Receipt.Provider)
	// The silent message was accepted before "ok" with the same delay: had it a receipt,
	// it would have come no later.
	require.False(t, b.herald.Has("silent"))

	slowReceipt := b.herald.WaitFor(t, "slow", 5*time.Second)
	require.GreaterOrEqual(t, slowReceipt.At.Sub(sentAt), slowDelay)
	require.False(t, b.herald.Has("bad"))
	require.False(t, b.herald.Has("silent"))
	require.Zero(t, b.herald.Refused())

	st := b.sim.Stats()
	require.Equal(t, int64(3), st.Received[channels.SMS])
	// The four numbers went as one SendBatchSms, refused whole for the bad number; then one
	// request per number, so the bad number was refused twice.
	require.Equal(t, int64(2), st.Rejected[channels.SMS])
	silent := b.sim.Messages(channels.SMS, "13800131111")
	require.Len(t, silent, 1)
	require.Equal(t, "silent", silent[0].Behavior)
	require.Equal(t, "【Herald】never reported", silent[0].Content)
}

func TestRoundTripTransientVendorErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  sim.Config
		code string
	}{
		{"injected fault", sim.Config{FailureRate: 1}, "ServiceUnavailable"},
		{"rate limit", sim.Config{RateLimit: 1}, sms.CodeBusinessLimitControl},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.cfg)
			msgs := []channels.Message{{ID: "a", Address: "13800138000"}, {ID: "b", Address: "13800138001"}, {ID: "c", Address: "13800138002"}}
			res, err := b.provider.Send(context.Background(), msgs)
			require.NoError(t, err)
			var refused int
			for _, r := range res {
				if r.Status == channels.Failed {
					refused++
					require.True(t, r.Retryable, r.Reason)
					require.Contains(t, r.Reason, tt.code)
				}
			}
			require.GreaterOrEqual(t, refused, 2)
		})
	}
}

func TestRoundTripReceiptRetriedWhileHeraldDown(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{ReceiptDelay: 5 * time.Millisecond, RetryBackoff: 5 * time.Millisecond})
	b.herald.FailNext(2)
	_, err := b.provider.Send(context.Background(), []channels.Message{{ID: "m", Address: "13800138000", Body: "x"}})
	require.NoError(t, err)
	b.herald.WaitFor(t, "m", 5*time.Second)
	require.Eventually(t, func() bool { return b.sim.Stats().Receipts[channels.SMS] == 1 }, 5*time.Second, 2*time.Millisecond)
}

func TestRoundTripWrongCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, key, secret, code string
	}{
		{"unknown key", "other-key", sim.DefaultSecret, "InvalidAccessKeyId.NotFound"},
		{"wrong secret", sim.DefaultAccessKeyID, "other-secret", "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, srv := simtest.StartSim(t, sim.Config{})
			p, err := sms.NewAliyun(sms.AliyunConfig{Endpoint: srv.URL, AccessKeyID: tt.key, AccessKeySecret: tt.secret, SignName: "S", TemplateCode: "T"})
			require.NoError(t, err)
			res, err := p.Send(context.Background(), []channels.Message{{ID: "m", Address: "13800138000"}})
			require.NoError(t, err)
			require.Equal(t, channels.Failed, res[0].Status)
			require.False(t, res[0].Retryable)
			require.Contains(t, res[0].Reason, tt.code)
		})
	}
}
