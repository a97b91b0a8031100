package voice_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/channels/voice"
)

// herald plays Herald's POST /callbacks/voice/{provider}.
type herald struct {
	mu     sync.Mutex
	parser channels.ReceiptParser
	got    []channels.Receipt
	paths  []string
}

func (h *herald) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.paths = append(h.paths, r.URL.Path)
	p := h.parser
	h.mu.Unlock()
	rs, err := p.ParseReceipts(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, rs...)
	h.mu.Unlock()
	p.(channels.ReceiptAcker).AckReceipts(w)
}

func (h *herald) receipt(id string) (channels.Receipt, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.got {
		if r.MessageID == id {
			return r, true
		}
	}
	return channels.Receipt{}, false
}

// The voice API shares the simulator's POP front with SMS, as dyvmsapi and dysmsapi share
// Alibaba Cloud's: both providers pointed at the same base URL work, and call reports say
// whether the callee answered.
func TestVoiceRoundTrip(t *testing.T) {
	t.Parallel()
	h := &herald{}
	cb := httptest.NewServer(h)
	t.Cleanup(cb.Close)
	s := sim.New(sim.Config{Callback: cb.URL, ReceiptDelay: 10 * time.Millisecond})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })

	v, err := voice.NewAliyun(voice.AliyunConfig{Name: "aliyun-voice", Endpoint: srv.URL, AccessKeyID: sim.DefaultAccessKeyID,
		AccessKeySecret: sim.DefaultSecret, TtsCode: "TTS_1", CallbackToken: sim.DefaultSecret})
	require.NoError(t, err)
	h.mu.Lock()
	h.parser = v
	h.mu.Unlock()
	viaPath, err := voice.NewAliyun(voice.AliyunConfig{Name: "aliyun-voice", Endpoint: srv.URL + "/dyvmsapi/", AccessKeyID: sim.DefaultAccessKeyID,
		AccessKeySecret: sim.DefaultSecret, TtsCode: "TTS_1", CallbackToken: sim.DefaultSecret})
	require.NoError(t, err)
	text, err := sms.NewAliyun(sms.AliyunConfig{Endpoint: srv.URL, AccessKeyID: sim.DefaultAccessKeyID,
		AccessKeySecret: sim.DefaultSecret, SignName: "Herald", TemplateCode: "SMS_1", CallbackToken: sim.DefaultSecret})
	require.NoError(t, err)

	ctx := context.Background()
	res, err := v.Send(ctx, []channels.Message{
		{ID: "answered", Address: "+8613900135678", Body: "您的验证码是 1234"},
		{ID: "unanswered", Address: "+8613900133333", Body: "您的验证码是 5678"},
	})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	require.Equal(t, channels.Sent, res[1].Status, res[1].Reason)
	res2, err := viaPath.Send(ctx, []channels.Message{{ID: "via-path", Address: "13900137777", Body: "hi"}})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res2[0].Status, res2[0].Reason)
	sres, err := text.Send(ctx, []channels.Message{{ID: "sms", Address: "+8613900138888", Body: "hello"}})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, sres[0].Status, "SendSms still works next to SingleCallByTts: %s", sres[0].Reason)

	got := s.Messages(channels.Voice, "13900135678")
	require.Len(t, got, 1)
	require.Equal(t, "您的验证码是 1234", got[0].Content)
	require.Equal(t, res[0].VendorID, got[0].VendorID)
	require.Len(t, s.Messages(channels.SMS, "13900138888"), 1)
	require.Empty(t, s.Messages(channels.SMS, "13900135678"), "a call is not an SMS")

	var answered, unanswered channels.Receipt
	require.Eventually(t, func() bool {
		var ok1, ok2 bool
		answered, ok1 = h.receipt("answered")
		unanswered, ok2 = h.receipt("unanswered")
		return ok1 && ok2
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, channels.Delivered, answered.Status)
	require.Equal(t, res[0].VendorID, answered.VendorID)
	require.Equal(t, channels.Failed, unanswered.Status)
	require.Equal(t, "200003: 用户收到呼叫但未接听", unanswered.Reason)
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Contains(t, h.paths, "/callbacks/voice/aliyun-voice", "reports reach the provider's callback path")
}
