package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/herald-msg/herald/channels/sim"
)

var simHTTP = &http.Client{}

func simCall(ctx context.Context, method, url string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := simHTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, tail(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// simReset clears every simulator's counters.
func (t *topology) simReset(ctx context.Context) error {
	for _, u := range t.simURLs {
		if err := simCall(ctx, http.MethodPost, u+"/sim/reset", nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// simStats sums the simulators' counters of a channel.
type simTotals struct{ received, addresses, repeated, faults, throttled int64 }

func (t *topology) simStats(ctx context.Context) (simTotals, []sim.Stats, error) {
	var tot simTotals
	var all []sim.Stats
	for _, u := range t.simURLs {
		var s sim.Stats
		if err := simCall(ctx, http.MethodGet, u+"/sim/stats", nil, &s); err != nil {
			return tot, nil, err
		}
		all = append(all, s)
		tot.received += s.Received["SMS"]
		tot.addresses += s.Addresses["SMS"]
		tot.repeated += s.Repeated["SMS"]
		tot.faults += s.Faults["SMS"]
		tot.throttled += s.Throttled["SMS"]
	}
	return tot, all, nil
}

// simCounts merges the simulators' per-address SMS counts.
func (t *topology) simCounts(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, u := range t.simURLs {
		var c map[string]int
		if err := simCall(ctx, http.MethodGet, u+"/sim/counts?channel=SMS", nil, &c); err != nil {
			return nil, err
		}
		for k, n := range c {
			out[k] += n
		}
	}
	return out, nil
}

func (t *topology) setFaults(ctx context.Context, i int, f sim.Faults) error {
	return simCall(ctx, http.MethodPost, t.simURLs[i]+"/sim/faults", f, nil)
}
