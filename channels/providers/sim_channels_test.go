package providers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
)

// providerCallbacks plays Herald's POST /callbacks/{channel}/{provider}: it hands each post
// to the parser of the provider the path names, as server/http.go routes it.
type providerCallbacks struct {
	reg *channels.Registry
	mu  sync.Mutex
	got map[string]channels.Receipt // by Herald's message id
}

func (c *providerCallbacks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, _ := strings.CutPrefix(r.URL.Path, "/callbacks/")
	ch, name, ok := strings.Cut(rest, "/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	rp, ok := c.reg.ReceiptParserOf(channels.Channel(strings.ToUpper(ch)), name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	rs, err := rp.ParseReceipts(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	c.mu.Lock()
	for _, rc := range rs {
		if _, seen := c.got[rc.MessageID]; !seen {
			c.got[rc.MessageID] = rc
		}
	}
	c.mu.Unlock()
	if a, ok := rp.(channels.ReceiptAcker); ok {
		a.AckReceipts(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// TestSimVoiceRCSAndSMSFailover sends through the voice, RCS and second SMS providers that
// sim= registers and gets their receipts back on their own callback paths.
func TestSimVoiceRCSAndSMSFailover(t *testing.T) {
	t.Parallel()
	cbs := &providerCallbacks{got: map[string]channels.Receipt{}}
	cb := httptest.NewServer(cbs)
	t.Cleanup(cb.Close)
	s := sim.New(sim.Config{Callback: cb.URL, ReceiptDelay: 10 * time.Millisecond})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	reg, err := providers.Build("sim="+srv.URL, providers.Options{})
	require.NoError(t, err)
	cbs.reg = reg

	var smsNames []string
	for _, p := range reg.ChannelProviders(channels.SMS) {
		smsNames = append(smsNames, p.Name())
	}
	require.Equal(t, []string{"aliyun", "smsgw"}, smsNames, "the SMS failover order")

	sends := []struct {
		provider channels.Provider
		address  string
	}{
		{reg.ChannelProviders(channels.SMS)[1], "+8613600135678"},
		{reg.ChannelProviders(channels.Voice)[0], "+8613900135678"},
		{reg.ChannelProviders(channels.RCS)[0], "+8613700135678"},
	}
	for _, tt := range sends {
		id := "e2e-" + tt.provider.Name()
		res, err := tt.provider.Send(context.Background(), []channels.Message{{ID: id, Channel: tt.provider.Channel(), Address: tt.address, Body: "hello"}})
		require.NoError(t, err)
		require.Equal(t, channels.Sent, res[0].Status, "%s: %s", tt.provider.Name(), res[0].Reason)
		require.Eventually(t, func() bool {
			cbs.mu.Lock()
			defer cbs.mu.Unlock()
			rc, ok := cbs.got[id]
			return ok && rc.Status == channels.Delivered && rc.Provider == tt.provider.Name()
		}, 10*time.Second, 5*time.Millisecond, "receipt of %s", tt.provider.Name())
	}
}

// The SMS channel's sim= providers are a failover chain, not a weighted pair: every route
// tries aliyun first.
func TestSimSMSFailoverOrder(t *testing.T) {
	t.Parallel()
	reg, err := providers.Build("sim=http://127.0.0.1:8090", providers.Options{})
	require.NoError(t, err)
	for range 4 {
		var names []string
		for _, p := range reg.Route(channels.SMS) {
			names = append(names, p.Name())
		}
		require.Equal(t, []string{"aliyun", "smsgw"}, names)
	}
}
