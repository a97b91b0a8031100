package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/herald-msg/herald/channels"
)

// Faults are the vendor errors the simulator injects, changed at run time with
// POST /sim/faults (the body is the JSON of Faults; GET /sim/faults reads them). They start
// from Config.FailureRate and Config.UndeliveredRate.
type Faults struct {
	// FailureRate, from 0 to 1, is the share of requests answered with a transient vendor
	// error (HTTP 5xx).
	FailureRate float64 `json:"failure_rate"`
	// ThrottleRate, from 0 to 1, is the share of requests answered with the vendor's
	// flow-control error (HTTP 429, or the vendor's own throttling code), on top of
	// Config.RateLimit.
	ThrottleRate float64 `json:"throttle_rate"`
	// UndeliveredRate, from 0 to 1, is the share of accepted messages to ordinary addresses
	// whose final receipt says they could not be delivered (see Config.UndeliveredRate).
	UndeliveredRate float64 `json:"undelivered_rate"`
}

// Validate reports a rate outside 0..1, naming the field.
func (f Faults) Validate() error {
	for _, r := range []struct {
		name string
		v    float64
	}{{"failure_rate", f.FailureRate}, {"throttle_rate", f.ThrottleRate}, {"undelivered_rate", f.UndeliveredRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("%s %v must be between 0 and 1", r.name, r.v)
		}
	}
	return nil
}

// faultSwitch holds the injected fault rates as float64 bits, read on every vendor request.
type faultSwitch struct {
	failure, throttle, undelivered atomic.Uint64
}

func (f *faultSwitch) load() Faults {
	return Faults{FailureRate: math.Float64frombits(f.failure.Load()), ThrottleRate: math.Float64frombits(f.throttle.Load()),
		UndeliveredRate: math.Float64frombits(f.undelivered.Load())}
}

func (f *faultSwitch) store(v Faults) {
	f.failure.Store(math.Float64bits(v.FailureRate))
	f.throttle.Store(math.Float64bits(v.ThrottleRate))
	f.undelivered.Store(math.Float64bits(v.UndeliveredRate))
}

// SetFaults changes the injected faults; a rate outside 0..1 is refused and changes nothing.
func (s *Server) SetFaults(f Faults) error {
	if err := f.Validate(); err != nil {
		return err
	}
	s.inject.store(f)
	s.logger.Info("injected faults changed", "failure_rate", f.FailureRate, "throttle_rate", f.ThrottleRate,
		"undelivered_rate", f.UndeliveredRate)
	return nil
}

// Faults returns the injected faults in force.
func (s *Server) Faults() Faults { return s.inject.load() }

// throttle reports whether this request gets an injected flow-control error.
func (s *Server) throttle() bool {
	r := s.inject.load().ThrottleRate
	return r > 0 && rand.Float64() < r
}

func (s *Server) handleFaults(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
			return
		}
		if err := s.SetFaults(f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, s.Faults())
}

// Counts returns, for every address of ch that accepted messages, how many it accepted (up
// to KeepPerAddress), keyed as /sim/messages matches addresses.
func (s *Server) Counts(ch channels.Channel) map[string]int {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	out := make(map[string]int, len(s.store.addresses[ch]))
	for key, list := range s.store.addresses[ch] {
		out[key] = len(list)
	}
	return out
}

func (s *Server) handleCounts(w http.ResponseWriter, r *http.Request) {
	ch := channels.Channel(strings.ToUpper(r.URL.Query().Get("channel")))
	if !ch.Valid() {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "channel: unknown channel " + string(ch)})
		return
	}
	writeJSON(w, http.StatusOK, s.Counts(ch))
}
