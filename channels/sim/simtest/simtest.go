// Package simtest runs the vendor simulator in-process for tests, next to a fake Herald
// callback endpoint that verifies and parses receipts with the providers' own parsers, as
// Herald's POST /callbacks/{channel} handler does.
package simtest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
)

// Herald is a fake Herald that accepts receipts on /callbacks/{channel}.
type Herald struct {
	// URL is the base URL to hand to the simulator as Callback.
	URL string

	parsers map[channels.Channel]channels.ReceiptParser
	mu      sync.Mutex
	got     []Arrival
	posts   map[channels.Channel]int
	refused int
	failing int
}

// Arrival is a receipt and when the fake Herald accepted it.
type Arrival struct {
	Receipt channels.Receipt // as the provider's parser returned it
	At      time.Time        // when the post was accepted
	// Batch is how many receipts came in the same post.
	Batch int
}

// NewHerald starts a fake Herald whose callbacks use parsers; it stops with the test.
func NewHerald(t testing.TB, parsers map[channels.Channel]channels.ReceiptParser) *Herald {
	t.Helper()
	h := &Herald{parsers: parsers, posts: map[channels.Channel]int{}}
	srv := httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

func (h *Herald) serve(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, "/callbacks/")
	ch := channels.Channel(strings.ToUpper(name))
	parser := h.parsers[ch]
	if !ok || r.Method != http.MethodPost || parser == nil {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	if h.failing > 0 {
		h.failing--
		h.mu.Unlock()
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	h.mu.Unlock()
	receipts, err := parser.ParseReceipts(r)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, channels.ErrUnverified) {
			status = http.StatusUnauthorized
		}
		h.mu.Lock()
		h.refused++
		h.mu.Unlock()
		http.Error(w, err.Error(), status)
		return
	}
	now := time.Now()
	h.mu.Lock()
	h.posts[ch]++
	for _, rc := range receipts {
		h.got = append(h.got, Arrival{Receipt: rc, At: now, Batch: len(receipts)})
	}
	h.mu.Unlock()
	if acker, ok := parser.(channels.ReceiptAcker); ok {
		acker.AckReceipts(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// FailNext makes the next n callback posts answer 503, as a Herald that is down.
func (h *Herald) FailNext(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failing = n
}

// Arrivals returns the receipts accepted so far, in arrival order.
func (h *Herald) Arrivals() []Arrival {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Arrival(nil), h.got...)
}

// Posts returns how many receipt posts of ch were accepted.
func (h *Herald) Posts(ch channels.Channel) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.posts[ch]
}

// Refused returns how many posts failed verification or parsing.
func (h *Herald) Refused() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.refused
}

// WaitFor polls until a receipt for messageID arrived and returns it; it fails the test at
// the deadline.
func (h *Herald) WaitFor(t testing.TB, messageID string, timeout time.Duration) Arrival {
	t.Helper()
	var found Arrival
	require.Eventuallyf(t, func() bool {
		for _, a := range h.Arrivals() {
			if a.Receipt.MessageID == messageID {
				found = a
				return true
			}
		}
		return false
	}, timeout, 2*time.Millisecond, "no receipt for %s within %s", messageID, timeout)
	return found
}

// Has reports whether a receipt for messageID arrived.
func (h *Herald) Has(messageID string) bool {
	for _, a := range h.Arrivals() {
		if a.Receipt.MessageID == messageID {
			return true
		}
	}
	return false
}

// StartSim runs a simulator with cfg behind an httptest server and returns both; they stop
// with the test.
func StartSim(t testing.TB, cfg sim.Config) (*sim.Server, *httptest.Server) {
	t.Helper()
	s := sim.New(cfg)
	if err := s.Start(); err != nil {
		t.Fatalf("starting the simulator: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return s, srv
}
