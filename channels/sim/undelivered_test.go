package sim_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/channels/webhook"
)

// With UndeliveredRate 1 an ordinary number's report says undelivered with the carrier
// code, while the test numbers keep their fixed behaviour (slow: DELIVERED later; silent:
// no report) and are not counted.
func TestUndeliveredKeepsTestAddresses(t *testing.T) {
	t.Parallel()
	p, err := sms.NewAliyun(sms.AliyunConfig{AccessKeyID: "k", AccessKeySecret: "s", CallbackToken: sim.DefaultSecret})
	require.NoError(t, err)
	herald := simtest.NewHerald(t, map[channels.Channel]channels.ReceiptParser{channels.SMS: p})
	s, srv := simtest.StartSim(t, sim.Config{Callback: herald.URL, ReceiptDelay: 10 * time.Millisecond,
		SlowDelay: 30 * time.Millisecond, UndeliveredRate: 1})

	for _, phone := range []string{"13800138001", "13800132222", "13800131111"} {
		params := sendSmsParams(phone)
		params["OutId"] = "m-" + phone
		status, ans := call(t, srv.URL, http.MethodPost, sign(http.MethodPost, rpcParams("SendSms", params), sim.DefaultSecret))
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "OK", ans.Code, "an undelivered message is accepted first")
	}
	failed := herald.WaitFor(t, "m-13800138001", 5*time.Second).Receipt
	require.Equal(t, channels.Failed, failed.Status)
	require.Equal(t, "MK:0012: 用户停机、关机或暂停服务", failed.Reason)
	slow := herald.WaitFor(t, "m-13800132222", 5*time.Second).Receipt
	require.Equal(t, channels.Delivered, slow.Status, "the slow test number is still delivered")
	require.False(t, herald.Has("m-13800131111"), "the silent test number still gets no report")

	behaviors := map[string]string{}
	for _, phone := range []string{"13800138001", "13800132222", "13800131111"} {
		behaviors[phone] = s.Messages(channels.SMS, phone)[0].Behavior
	}
	require.Equal(t, map[string]string{"13800138001": "undelivered", "13800132222": "slow", "13800131111": "silent"}, behaviors,
		"/sim/messages tells the picked message")
	st := s.Stats()
	require.Equal(t, map[channels.Channel]int64{channels.SMS: 1}, st.Undelivered)
	require.EqualValues(t, 3, st.Received[channels.SMS], "undelivered messages were received")
}

// The undelivered rate is switched at run time with POST /sim/faults and counted in
// /sim/stats; a rate outside 0..1 is refused, naming the field, and changes nothing.
func TestUndeliveredRateAtRunTime(t *testing.T) {
	t.Parallel()
	p, err := webhook.New(webhook.Config{Secret: sim.DefaultSecret})
	require.NoError(t, err)
	herald := simtest.NewHerald(t, map[channels.Channel]channels.ReceiptParser{channels.Webhook: p})
	_, srv := simtest.StartSim(t, sim.Config{Callback: herald.URL, ReceiptDelay: time.Millisecond})

	require.Equal(t, http.StatusAccepted, postWebhook(t, srv.URL+"/webhook/a", sim.DefaultSecret, "w1", "x"))
	require.Equal(t, channels.Delivered, herald.WaitFor(t, "w1", 5*time.Second).Receipt.Status)

	code, body := postFaults(t, srv.URL, `{"undelivered_rate": 1}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, http.StatusAccepted, postWebhook(t, srv.URL+"/webhook/a", sim.DefaultSecret, "w2", "y"))
	rc := herald.WaitFor(t, "w2", 5*time.Second).Receipt
	require.Equal(t, channels.Failed, rc.Status)
	require.Contains(t, rc.Reason, "recipient unreachable")

	for _, bad := range []string{`{"undelivered_rate": 1.5}`, `{"undelivered_rate": -1}`} {
		code, body = postFaults(t, srv.URL, bad)
		require.Equal(t, http.StatusBadRequest, code, bad)
		require.Contains(t, body, "undelivered_rate", bad)
	}
	var f sim.Faults
	getJSON(t, srv.URL+"/sim/faults", &f)
	require.Equal(t, sim.Faults{UndeliveredRate: 1}, f, "a refused change changes nothing")

	var st map[string]map[string]int64
	getJSON(t, srv.URL+"/sim/stats", &st)
	require.Equal(t, map[string]int64{"WEBHOOK": 1}, st["undelivered"])
}

// The choice is a function of the vendor id: the same id always gets the same fate, and
// over many ids the share picked follows the rate.
func TestUndeliveredChoice(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{0, 0.05, 0.3, 0.9, 1} {
		picked := 0
		const n = 20000
		for i := range n {
			key := fmt.Sprintf("%d%06d^0/+86138%08d", 1795781721, i, i)
			got := sim.PickUndelivered(key, rate)
			require.Equal(t, got, sim.PickUndelivered(key, rate), "deterministic per key")
			if got {
				picked++
			}
		}
		share := float64(picked) / n
		require.InDelta(t, rate, share, 0.02, "rate %v picked %v", rate, share)
	}
	require.False(t, sim.PickUndelivered("x", 0))
	require.True(t, sim.PickUndelivered("x", 1))
}
