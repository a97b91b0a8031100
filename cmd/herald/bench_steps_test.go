package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuantileBoundReadsTheBucketsBetweenSnapshots(t *testing.T) {
	t.Parallel()
	bounds := []float64{0.001, 0.002, 0.004, 0.008}
	before := stepTime{Count: 10, bounds: bounds, counts: []uint64{10, 10, 10, 10}}
	// Between the snapshots: 90 samples ≤ 1 ms, 8 in (2, 4] ms, 2 in (4, 8] ms.
	after := stepTime{Count: 110, bounds: bounds, counts: []uint64{100, 100, 108, 110}}
	require.InDelta(t, 1.0, quantileBound(before, after, 0.50), 1e-9)
	require.InDelta(t, 4.0, quantileBound(before, after, 0.95), 1e-9)
	require.InDelta(t, 8.0, quantileBound(before, after, 0.99), 1e-9)

	// A sample past the last bucket: the bound is unknown.
	after = stepTime{Count: 111, bounds: bounds, counts: []uint64{100, 100, 108, 110}}
	require.InDelta(t, -1.0, quantileBound(before, after, 1.0), 1e-9)
	require.Zero(t, quantileBound(before, before, 0.99), "no samples between the snapshots")
}
