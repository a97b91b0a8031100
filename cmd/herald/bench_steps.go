package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// stepTime is the time the workers spent in one step of sending during the broadcast, from
// the herald_send_step_seconds histogram: its total and how many times it ran.
type stepTime struct {
	Kind    string  `json:"kind"`
	Step    string  `json:"step"`
	Seconds float64 `json:"seconds"`
	Count   uint64  `json:"count"`
	// P95Ms and P99Ms bound the step's 95th and 99th percentiles from above: the upper
	// bound of the histogram bucket that holds them (the buckets double from 0.5 ms).
	P95Ms float64 `json:"p95_le_ms"`
	P99Ms float64 `json:"p99_le_ms"`

	bounds []float64 // the buckets' upper bounds, in seconds
	counts []uint64  // the cumulative count of each bucket
}

// quantileBound is the upper bound, in ms, of the bucket holding quantile q of the counts
// between two snapshots of one histogram; -1 past the last bucket (JSON has no infinity).
func quantileBound(before, after stepTime, q float64) float64 {
	n := after.Count - before.Count
	if n == 0 {
		return 0
	}
	want := uint64(q*float64(n) + 0.999999)
	for i, ub := range after.bounds {
		c := after.counts[i]
		if i < len(before.counts) {
			c -= before.counts[i]
		}
		if c >= want {
			return 1000 * ub
		}
	}
	return -1
}

// stepSnapshot reads herald_send_step_seconds from the process's registry: Herald runs in
// this process, so its workers' histogram is here.
func stepSnapshot() map[[2]string]stepTime {
	out := map[[2]string]stepTime{}
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if mf.GetName() != "herald_send_step_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var kind, step string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "kind":
					kind = l.GetValue()
				case "step":
					step = l.GetValue()
				}
			}
			h := m.GetHistogram()
			st := stepTime{Kind: kind, Step: step, Seconds: h.GetSampleSum(), Count: h.GetSampleCount()}
			for _, b := range h.GetBucket() {
				st.bounds = append(st.bounds, b.GetUpperBound())
				st.counts = append(st.counts, b.GetCumulativeCount())
			}
			out[[2]string{kind, step}] = st
		}
	}
	return out
}

// counterValue reads a counter of the process's registry, 0 when it is not there.
func counterValue(name string) float64 {
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return 0
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			total := 0.0
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
			return total
		}
	}
	return 0
}

// stepsBetween returns the step times spent between two snapshots, the largest first.
func stepsBetween(before, after map[[2]string]stepTime) []stepTime {
	var out []stepTime
	for k, a := range after {
		b := before[k]
		if a.Count > b.Count {
			out = append(out, stepTime{Kind: a.Kind, Step: a.Step, Seconds: a.Seconds - b.Seconds, Count: a.Count - b.Count,
				P95Ms: quantileBound(b, a, 0.95), P99Ms: quantileBound(b, a, 0.99)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind > out[j].Kind
		}
		return out[i].Seconds > out[j].Seconds
	})
	return out
}

// printSteps prints where the workers' time went during the broadcast, per kind of work.
func printSteps(w io.Writer, steps []stepTime, retried float64) {
	if len(steps) == 0 {
		return
	}
	defer fmt.Fprintf(w, "  receipts taken again because their message had no row yet: %.0f\n", retried)
	total := map[string]float64{}
	for _, s := range steps {
		total[s.Kind] += s.Seconds
	}
	fmt.Fprintf(w, "\n  where the workers' time went during the broadcast (summed over concurrent workers)\n")
	fmt.Fprintf(w, "  %-9s %-9s %10s %7s %9s %10s %9s %9s\n", "kind", "step", "seconds", "share", "count", "mean ms", "p95 ≤ ms", "p99 ≤ ms")
	for _, s := range steps {
		fmt.Fprintf(w, "  %-9s %-9s %10.1f %6.1f%% %9d %10.2f %9.1f %9.1f\n", s.Kind, s.Step, s.Seconds, 100*s.Seconds/max(total[s.Kind], 1e-9), s.Count,
			1000*s.Seconds/float64(s.Count), s.P95Ms, s.P99Ms)
	}
}
