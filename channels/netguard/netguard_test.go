package netguard_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels/netguard"
)

func TestAllowed(t *testing.T) {
	t.Parallel()
	allow, err := netguard.ParseAllow("10.1.2.0/24, 192.168.7.7")
	require.NoError(t, err)
	g := netguard.New(allow)
	tests := map[string]bool{
		"8.8.8.8": true, "203.0.113.5": true, "2001:4860::8888": true,
		"127.0.0.1": false, "10.0.0.1": false, "172.16.3.4": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "::1": false,
		"fe80::1": false, "fd00::1": false, "::ffff:127.0.0.1": false, "224.0.0.1": false,
		"10.1.2.9": true, "192.168.7.7": true, "192.168.7.8": false,
	}
	for addr, want := range tests {
		require.Equal(t, want, g.Allowed(netip.MustParseAddr(addr)), addr)
	}
	_, err = netguard.ParseAllow("10.0.0.0/8, intranet")
	require.ErrorContains(t, err, "intranet")
}

func TestTransportRefusesInternalAddressesAtConnectTime(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()

	guarded := &http.Client{Transport: netguard.New(nil).Transport()}
	_, err := guarded.Get(srv.URL)
	require.ErrorIs(t, err, netguard.ErrBlocked, "127.0.0.1 is internal")
	_, err = guarded.Get("http://localhost:" + srv.URL[len("http://127.0.0.1:"):])
	require.True(t, errors.Is(err, netguard.ErrBlocked), "a name is checked after it resolves: %v", err)

	allowed := &http.Client{Transport: netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}).Transport()}
	resp, err := allowed.Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
}
