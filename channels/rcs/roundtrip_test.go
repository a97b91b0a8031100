package rcs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/rcs"
	"github.com/herald-msg/herald/channels/sim"
)

// herald plays Herald's POST /callbacks/rcs/{provider}.
type herald struct {
	mu      sync.Mutex
	parsers map[string]channels.ReceiptParser
	got     []channels.Receipt
}

func (h *herald) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	p := h.parsers[r.URL.Path]
	h.mu.Unlock()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	rs, err := p.ParseReceipts(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	h.mu.Lock()
	h.got = append(h.got, rs...)
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (h *herald) statuses(id string) []channels.Receipt {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []channels.Receipt
	for _, r := range h.got {
		if r.MessageID == id {
			out = append(out, r)
		}
	}
	return out
}

func TestMaaPRoundTrip(t *testing.T) {
	t.Parallel()
	h := &herald{parsers: map[string]channels.ReceiptParser{}}
	cb := httptest.NewServer(h)
	t.Cleanup(cb.Close)
	s := sim.New(sim.Config{Callback: cb.URL, ReceiptDelay: 10 * time.Millisecond})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	p := newSimMaaP(t, srv.URL, s.Config())
	h.mu.Lock()
	h.parsers["/callbacks/rcs/maap"] = p
	h.mu.Unlock()

	ctx := context.Background()
	res, err := p.Send(ctx, []channels.Message{
		{ID: "card", Address: "13700135678", Body: "fallback text", Extra: map[string]any{"card": map[string]any{"title": "Shipped", "description": "On its way"}}},
		{ID: "no-rcs", Address: "+8613700133333", Body: "hello"},
	})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	require.Equal(t, channels.Failed, res[1].Status)
	require.False(t, res[1].Retryable)
	require.Contains(t, res[1].Reason, rcs.ReasonNotCapable, "Herald's FALLBACK channel takes over")
	require.Empty(t, s.Messages(channels.RCS, "+8613700133333"), "nothing was sent to the terminal without RCS")
	got := s.Messages(channels.RCS, "tel:+8613700135678")
	require.Len(t, got, 1)
	require.Equal(t, "Shipped\nOn its way", got[0].Content)

	require.Eventually(t, func() bool { return len(h.statuses("card")) == 2 }, 10*time.Second, 5*time.Millisecond)
	rs := h.statuses("card")
	require.ElementsMatch(t, []channels.Status{channels.Delivered, channels.Displayed}, []channels.Status{rs[0].Status, rs[1].Status})

	// The platform revokes every token (a secret rotation): the provider fetches a new one
	// on the 401 and the message still goes.
	s.RevokeTokens()
	res, err = p.Send(ctx, []channels.Message{{ID: "after-revoke", Address: "13700134444", Body: "again"}})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)

	// With the network's fallback allowed, the platform turns it into an SMS itself.
	fb, err := rcs.New(rcs.Config{Name: "maap-fallback", Endpoint: srv.URL + "/rcs", ChatbotID: sim.DefaultAppID,
		ClientSecret: sim.DefaultSecret, NotifyPassword: sim.DefaultSecret, NetworkFallback: true})
	require.NoError(t, err)
	res, err = fb.Send(ctx, []channels.Message{{ID: "net-fallback", Address: "+8613700143333", Body: "hello"}})
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)

	wrong, err := rcs.New(rcs.Config{Endpoint: srv.URL + "/rcs", ChatbotID: sim.DefaultAppID, ClientSecret: "wrong"})
	require.NoError(t, err)
	res, err = wrong.Send(ctx, []channels.Message{{ID: "bad-secret", Address: "13700135679", Body: "x"}})
	require.NoError(t, err)
	require.Equal(t, channels.Failed, res[0].Status)
	require.Contains(t, res[0].Reason, "invalid_client")
	require.Empty(t, s.Messages(channels.RCS, "13700135679"))
}
