package reports

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Callbacks of one batch that come while its range is being read wait for that read.
func TestConcurrentCallbacksOfABatchShareOneRead(t *testing.T) {
	t.Parallel()
	var (
		c       batchRefCache
		reads   atomic.Int32
		release = make(chan struct{})
		wg      sync.WaitGroup
	)
	read := func() (map[string]string, error) {
		reads.Add(1)
		<-release
		return map[string]string{"8613800000000": "m0"}, nil
	}
	results := make([]map[string]string, 8)
	errs := make([]error, len(results))
	wg.Go(func() { results[0], errs[0] = c.shared(t.Context(), "b", read) })
	inProgress := func() *batchRead {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.reading["b"]
	}
	waiting := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		if r := c.reading["b"]; r != nil {
			return r.waiting
		}
		return -1
	}
	require.Eventually(t, func() bool { return inProgress() != nil }, 10*time.Second, time.Millisecond)
	for i := 1; i < len(results); i++ {
		wg.Go(func() { results[i], errs[i] = c.shared(t.Context(), "b", read) })
	}
	require.Eventually(t, func() bool { return waiting() == len(results)-1 }, 10*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	require.EqualValues(t, 1, reads.Load(), "one read for every caller")
	for i, r := range results {
		require.NoError(t, errs[i], "caller %d", i)
		require.Equal(t, map[string]string{"8613800000000": "m0"}, r, "caller %d", i)
	}
	require.Equal(t, map[string]string{"8613800000000": "m0"}, c.get("b"), "the read is cached")
	require.Nil(t, inProgress())
}
