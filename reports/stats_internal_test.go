package reports

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/store"
)

// SetStatsClock makes s take the current time from now.
func SetStatsClock(s *Stats, now func() time.Time) { s.now = now }

// The bounds of a statistics read of the delivery rows are whole milliseconds, as created_at
// is, rounded up: the rows selected stay those created in [from, to).
func TestRowsStatsBoundsAreMilliseconds(t *testing.T) {
	at := time.Date(2026, 11, 27, 14, 24, 23, 0, time.FixedZone("+05:30", 5*3600+30*60))
	tests := []struct{ bound, want time.Time }{
		{at.Add(123456789 * time.Nanosecond), at.Add(124 * time.Millisecond)},
		{at.Add(123 * time.Millisecond), at.Add(123 * time.Millisecond)},
		{at.Add(time.Nanosecond), at.Add(time.Millisecond)},
		{at, at},
	}
	for _, tt := range tests {
		q := StatsQuery{AppID: 1, Channel: "SMS"}
		_, args := rowsStatsSQL(store.MySQL{}, q, "20261127", tt.bound, tt.bound.Add(time.Hour))
		require.Equal(t, []any{int64(1), tt.want.UTC(), tt.want.Add(time.Hour).UTC(), "SMS"}, args, "%s", tt.bound)
	}
}
