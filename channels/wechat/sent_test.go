package wechat

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSentIndexBoundAndAge(t *testing.T) {
	now := time.Unix(1714112445, 0)
	x := newSentIndex(2, time.Hour)
	x.add("1", "m1", now)
	x.add("2", "m2", now)
	x.add("3", "m3", now)
	require.Empty(t, x.lookup("1", now), "the oldest is dropped beyond the bound")
	require.Equal(t, "m2", x.lookup("2", now))
	require.Equal(t, "m2", x.lookup("2", now), "a repeated push finds its message again")
	require.Equal(t, "m3", x.lookup("3", now.Add(59*time.Minute)))
	require.Empty(t, x.lookup("3", now.Add(61*time.Minute)), "entries age out")
	x.add("4", "m4", now.Add(2*time.Hour))
	require.Len(t, x.ids, 1, "aged entries are dropped as new ones come")
}
