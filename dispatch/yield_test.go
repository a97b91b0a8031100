package dispatch

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/store/storetest"
)

func TestYielderWaitsForRealtimeWork(t *testing.T) {
	ctx := t.Context()
	var off *Yielder
	require.False(t, off.Wait(ctx), "a nil yielder never waits")
	off.Realtime(ctx)()

	y := NewYielder(nil, "", time.Minute)
	require.False(t, y.Wait(ctx), "nothing realtime in progress: no wait")

	done := y.Realtime(ctx)
	var finished atomic.Bool
	go func() {
		// The realtime work ends only once the bulk step is seen waiting for it.
		assert.Eventually(t, func() bool { return y.waiting.Load() == 1 }, 30*time.Second, time.Millisecond)
		finished.Store(true)
		done()
	}()
	require.True(t, y.Wait(ctx))
	require.True(t, finished.Load(), "the bulk step went on only once the realtime work was done")
	done() // a second call changes nothing
	require.False(t, y.Wait(ctx))

	// Realtime work that goes on holds a step for MaxWait only.
	y.MaxWait = 5 * time.Millisecond
	stuck := y.Realtime(ctx)
	defer stuck()
	waited := make(chan bool)
	go func() { waited <- y.Wait(ctx) }()
	select {
	case ok := <-waited:
		require.True(t, ok)
	case <-time.After(30 * time.Second):
		t.Fatal("Wait did not give up after MaxWait")
	}

	// Turned off, it never waits, even with realtime work in progress.
	y.MaxWait = 0
	require.False(t, y.Wait(ctx))
}

func TestYielderSeesOtherProcessesThroughRedis(t *testing.T) {
	rdb := rateLimitTestRedis(t)
	prefix := storetest.Prefix() + ":"
	t.Cleanup(func() { rdb.Del(context.WithoutCancel(t.Context()), prefix+"realtime:active") })
	ctx := t.Context()
	api := NewYielder(rdb, prefix, time.Minute)
	worker := NewYielder(rdb, prefix, time.Minute)

	require.False(t, worker.busy(ctx))
	done := api.Realtime(ctx)
	require.Eventually(t, func() bool { return worker.busy(ctx) }, 10*time.Second, 5*time.Millisecond,
		"a send in progress in one process makes another's bulk steps wait")
	done()
	require.False(t, api.busy(ctx), "a process's own announcement is not taken for another's work")
	require.Eventually(t, func() bool { return !worker.busy(ctx) }, 10*time.Second, 5*time.Millisecond,
		"the announcement lapses once the sends are done")
}

func TestParseLanes(t *testing.T) {
	l, err := ParseLanes("realtime, receipts")
	require.NoError(t, err)
	require.Equal(t, Lanes{Realtime: true, Receipts: true}, l)
	require.Equal(t, "realtime,receipts", l.String())
	all, err := ParseLanes(AllLanes.String())
	require.NoError(t, err)
	require.Equal(t, AllLanes, all)
	for in, want := range map[string]string{
		"sms":            `"sms" is not a lane`,
		"":               `"" is not a lane`,
		"bulk,bulk":      "lane bulk is named twice",
		"realtime,,bulk": `"" is not a lane`,
	} {
		_, err := ParseLanes(in)
		require.ErrorContains(t, err, want, in)
	}
}
