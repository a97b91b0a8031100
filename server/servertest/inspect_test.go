package servertest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/store"
)

func TestDaysSpanMidnight(t *testing.T) {
	t.Parallel()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	now := time.Now().In(loc)
	e := &Env{Config: server.Config{TimeZone: "Asia/Shanghai"}, Started: now.Add(-48 * time.Hour)}
	require.Equal(t, []string{
		now.AddDate(0, 0, -2).Format(store.DayFormat),
		now.AddDate(0, 0, -1).Format(store.DayFormat),
		now.Format(store.DayFormat),
	}, e.Days(), "a run that began two days ago wrote to three day tables")

	e.Started = now
	require.Equal(t, []string{now.Format(store.DayFormat)}, e.Days())
}
