package bench

import (
	"slices"
	"time"
)

// Percentiles returns the 50th, 95th and 99th percentiles of ds by the nearest-rank method:
// the smallest sample that at least p% of the samples do not exceed. ds is not changed; no
// samples give zeros.
func Percentiles(ds []time.Duration) (p50, p95, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return rank(sorted, 50), rank(sorted, 95), rank(sorted, 99)
}

// rank is the nearest-rank p-th percentile of sorted, in integers so that 95% of 100 is
// exactly the 95th sample.
func rank(sorted []time.Duration, p int) time.Duration {
	n := (p*len(sorted) + 99) / 100 // ceil(p/100 × len)
	return sorted[max(n, 1)-1]
}
