package providers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/push"
	"github.com/herald-msg/herald/channels/sim"
)

// TestSimAppPush sends through the two APP_PUSH providers of sim= and sim-mqtt=: Getui's
// receipts come back on /callbacks/app_push/getui, the devices' acks over MQTT.
func TestSimAppPush(t *testing.T) {
	t.Parallel()
	prefix := fmt.Sprintf("herald-providers-test/%d", time.Now().UnixNano())
	broker := "tcp://127.0.0.1:1883"
	cbs := &providerCallbacks{got: map[string]channels.Receipt{}}
	cb := httptest.NewServer(cbs)
	t.Cleanup(cb.Close)
	s := sim.New(sim.Config{Callback: cb.URL, ReceiptDelay: 10 * time.Millisecond, MQTTBroker: broker, MQTTPrefix: prefix})
	require.NoError(t, s.Start())
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	reg, err := providers.Build("sim="+srv.URL+",sim-mqtt="+broker+"/"+prefix, providers.Options{})
	require.NoError(t, err)
	cbs.reg = reg

	ps := reg.ChannelProviders(channels.AppPush)
	require.Len(t, ps, 2)
	require.Equal(t, []string{"getui", "mqtt"}, []string{ps[0].Name(), ps[1].Name()}, "the APP_PUSH failover order")
	mq := ps[1].(*push.MQTT)
	t.Cleanup(mq.Close)

	var mu sync.Mutex
	acks := map[string]channels.Receipt{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = mq.ListenReceipts(ctx, func(rs []channels.Receipt) error {
			mu.Lock()
			defer mu.Unlock()
			for _, rc := range rs {
				acks[rc.MessageID] = rc
			}
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })

	m := func(id, addr string) []channels.Message {
		return []channels.Message{{ID: id, Channel: channels.AppPush, Address: addr, Body: "Your parcel is on its way."}}
	}
	res, err := ps[0].Send(context.Background(), m("20261127-0000000p-0000001-0", "cid-user-1"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	res, err = ps[1].Send(context.Background(), m("20261127-0000000p-0000002-0", "device-user-1"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)

	require.Eventually(t, func() bool {
		cbs.mu.Lock()
		defer cbs.mu.Unlock()
		for _, rc := range cbs.got {
			if rc.Provider == "getui" && rc.Status == channels.Delivered {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "Getui's receipt reached its callback path")
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return acks["20261127-0000000p-0000002-0"].Status == channels.Delivered
	}, 10*time.Second, 10*time.Millisecond, "the device's ack came over MQTT")
}

func TestSimMQTTSpec(t *testing.T) {
	broker, prefix, err := providers.SimMQTTTarget("tcp://127.0.0.1:1883")
	require.NoError(t, err)
	require.Equal(t, "tcp://127.0.0.1:1883", broker)
	require.Equal(t, "herald", prefix)
	broker, prefix, err = providers.SimMQTTTarget("tcp://127.0.0.1:1883/acme/prod")
	require.NoError(t, err)
	require.Equal(t, "tcp://127.0.0.1:1883", broker)
	require.Equal(t, "acme/prod", prefix)
	for _, bad := range []string{"sim-mqtt=", "sim-mqtt=127.0.0.1:1883", "sim-mqtt=http://127.0.0.1:1883", "sim-mqtt=tcp://127.0.0.1:1883/a/+"} {
		_, err := providers.Build(bad, providers.Options{WebhookSecret: "s"})
		require.ErrorContains(t, err, "sim-mqtt", bad)
	}
}

func TestPushAccounts(t *testing.T) {
	reg := channels.NewRegistry()
	err := providers.BuildAccounts(reg, []providers.Account{
		{Name: "getui-main", Channel: "APP_PUSH", Type: "getui", Settings: map[string]string{"app_id": "a", "app_key": "k", "master_secret": "s", "ttl": "1h"}},
		{Name: "devices", Channel: "APP_PUSH", Type: "mqtt", Settings: map[string]string{"broker": "tcp://127.0.0.1:1883", "prefix": "acme"}},
	}, providers.Options{})
	require.NoError(t, err)
	require.Len(t, reg.ChannelProviders(channels.AppPush), 2)

	err = providers.BuildAccounts(channels.NewRegistry(), []providers.Account{
		{Name: "getui-main", Channel: "APP_PUSH", Type: "getui", Settings: map[string]string{"app_id": "a", "app_key": "k"}},
	}, providers.Options{})
	require.ErrorContains(t, err, "settings.master_secret")
	err = providers.BuildAccounts(channels.NewRegistry(), []providers.Account{
		{Name: "devices", Channel: "APP_PUSH", Type: "mqtt", Settings: map[string]string{"broker": "tcp://127.0.0.1:1883", "prefix": "a/#"}},
	}, providers.Options{})
	require.ErrorContains(t, err, "Prefix")
}
