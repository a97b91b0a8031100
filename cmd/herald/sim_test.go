package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// A share outside 0..1 is refused before the simulator starts, naming the flag.
func TestSimRefusesBadUndeliveredRate(t *testing.T) {
	for _, v := range []string{"1.5", "-0.1", "NaN"} {
		err := runSim(context.Background(), []string{"--addr", "127.0.0.1:0", "--undelivered-rate", v})
		require.ErrorContains(t, err, "--undelivered-rate", v)
		require.ErrorContains(t, err, "must be between 0 and 1", v)
	}
}
