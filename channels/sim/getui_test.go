package sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/push"
	"github.com/herald-msg/herald/channels/sim"
)

// getuiCall posts body to the simulator's Getui API and decodes the answer.
func getuiCall(t *testing.T, base, path, token string, body any) (int, push.GetuiAnswer) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var ans push.GetuiAnswer
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
	return resp.StatusCode, ans
}

func getuiAuth(key, secret string, at time.Time) push.GetuiAuthRequest {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	return push.GetuiAuthRequest{Sign: push.GetuiAuthSign(key, ts, secret), Timestamp: ts, AppKey: key}
}

func getuiPush(requestID, cid string) push.GetuiPush {
	return push.GetuiPush{RequestID: requestID, Audience: push.GetuiAudience{CID: []string{cid}},
		PushMessage: push.GetuiPushMessage{Notification: &push.GetuiNotification{Title: "t", Body: "b", ClickType: "startapp"}}}
}

func TestGetuiAuthChecks(t *testing.T) {
	s := sim.New(sim.Config{Callback: "http://127.0.0.1:1"})
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	base := srv.URL + "/v2/" + sim.DefaultAppID
	now := time.Now()
	cases := []struct {
		name   string
		path   string
		req    push.GetuiAuthRequest
		status int
		code   int
	}{
		{"genuine", base + "/auth", getuiAuth("sim-key", "sim-secret", now), 200, push.GetuiOK},
		{"wrong secret", base + "/auth", getuiAuth("sim-key", "other", now), 400, push.GetuiParamInvalid},
		{"wrong key", base + "/auth", getuiAuth("other", "sim-secret", now), 400, push.GetuiParamInvalid},
		{"old timestamp", base + "/auth", getuiAuth("sim-key", "sim-secret", now.Add(-time.Hour)), 400, push.GetuiParamInvalid},
		{"other app", srv.URL + "/v2/other/auth", getuiAuth("sim-key", "sim-secret", now), 404, 404},
	}
	for _, c := range cases {
		status, ans := getuiCall(t, c.path, "", "", c.req)
		require.Equal(t, c.status, status, c.name)
		require.Equal(t, c.code, ans.Code, "%s: %s", c.name, ans.Msg)
	}
	status, ans := getuiCall(t, base, "/push/single/cid", "not-a-token", getuiPush("20261127-req-0001", "cid-1"))
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, push.GetuiTokenInvalid, ans.Code)
	require.Zero(t, s.Stats().Received[channels.AppPush])
}

func TestGetuiTokenExpires(t *testing.T) {
	s := sim.New(sim.Config{Callback: "http://127.0.0.1:1", TokenLifetime: 50 * time.Millisecond})
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	base := srv.URL + "/v2/" + sim.DefaultAppID
	_, ans := getuiCall(t, base, "/auth", "", getuiAuth("sim-key", "sim-secret", time.Now()))
	require.Equal(t, push.GetuiOK, ans.Code)
	var data push.GetuiAuthData
	require.NoError(t, json.Unmarshal(ans.Data, &data))
	exp, err := strconv.ParseInt(data.ExpireTime, 10, 64)
	require.NoError(t, err)
	require.InDelta(t, time.Now().Add(50*time.Millisecond).UnixMilli(), exp, 5000)

	n := 0
	require.Eventually(t, func() bool {
		n++
		_, ans := getuiCall(t, base, "/push/single/cid", data.Token, getuiPush(fmt.Sprintf("20261127-exp-%04d", n), "cid-1"))
		return ans.Code == push.GetuiTokenInvalid
	}, 10*time.Second, 10*time.Millisecond, "an expired token is refused with 10001")
}

func TestGetuiBatchChecks(t *testing.T) {
	s := sim.New(sim.Config{Callback: "http://127.0.0.1:1", SlowDelay: time.Hour, ReceiptDelay: time.Hour})
	t.Cleanup(s.Close)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	base := srv.URL + "/v2/" + sim.DefaultAppID
	_, ans := getuiCall(t, base, "/auth", "", getuiAuth("sim-key", "sim-secret", time.Now()))
	var data push.GetuiAuthData
	require.NoError(t, json.Unmarshal(ans.Data, &data))

	dup := push.GetuiBatch{MsgList: []push.GetuiPush{getuiPush("20261127-b-0001", "c1"), getuiPush("20261127-b-0002", "c1")}}
	status, ans := getuiCall(t, base, "/push/single/batch/cid", data.Token, dup)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, push.GetuiParamInvalid, ans.Code)

	bad := getuiPush("short", "c1")
	_, ans = getuiCall(t, base, "/push/single/cid", data.Token, bad)
	require.Equal(t, push.GetuiParamInvalid, ans.Code, "request_id must have 10 to 32 characters")

	async := push.GetuiBatch{IsAsync: true, MsgList: []push.GetuiPush{getuiPush("20261127-b-0003", "c1"), getuiPush("20261127-b-0004", "c2")}}
	status, ans = getuiCall(t, base, "/push/single/batch/cid", data.Token, async)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, push.GetuiOK, ans.Code)
	require.Empty(t, ans.Data, "an asynchronous batch is answered without details")
	require.EqualValues(t, 2, s.Stats().Received[channels.AppPush])
}

func TestMQTTFleetAcks(t *testing.T) {
	broker := "tcp://127.0.0.1:1883"
	prefix := fmt.Sprintf("herald-simtest/%d", time.Now().UnixNano())
	s := sim.New(sim.Config{Callback: "http://127.0.0.1:1", MQTTBroker: broker, MQTTPrefix: prefix,
		ReceiptDelay: time.Millisecond, SlowDelay: time.Hour, DisplayRate: 1, ClickRate: 1})
	require.NoError(t, s.Start())
	t.Cleanup(s.Close)

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("herald-simtest-" + strconv.FormatInt(time.Now().UnixNano(), 36)))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(0) })
	acks := make(chan push.DeviceAck, 10)
	tok = c.Subscribe(push.AckTopic(prefix, "+"), 1, func(_ mqtt.Client, m mqtt.Message) {
		var a push.DeviceAck
		if json.Unmarshal(m.Payload(), &a) == nil {
			acks <- a
		}
	})
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())

	publish := func(device, id string) {
		b, _ := json.Marshal(push.DevicePush{ID: id, Title: "t", Body: "b", SentAt: time.Now()})
		tok := c.Publish(push.PushTopic(prefix, device), 1, false, b)
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())
	}
	publish("dev-ok", "m-ok")
	publish("dev-fail", "m-fail")
	publish("dev-silent", "m-silent")
	want := map[string]bool{"m-ok DELIVERED": true, "m-ok DISPLAYED": true, "m-ok CLICKED": true, "m-fail FAILED": true}
	for len(want) > 0 {
		select {
		case a := <-acks:
			key := a.ID + " " + string(a.Status)
			require.True(t, want[key], "unexpected ack %s", key)
			if a.Status == channels.Failed {
				require.NotEmpty(t, a.Reason)
			}
			delete(want, key)
		case <-time.After(10 * time.Second):
			t.Fatalf("acks missing: %v", want)
		}
	}
	require.Len(t, s.Messages(channels.AppPush, "dev-ok"), 1)
	require.Empty(t, s.Messages(channels.AppPush, "dev-fail"))
	require.Eventually(t, func() bool { return len(s.Messages(channels.AppPush, "dev-silent")) == 1 }, 10*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 1, s.Stats().Rejected[channels.AppPush])
}
