package reports_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
)

func TestInflightMarksAreReplacedDroppedWhenStaleAndCleared(t *testing.T) {
	t.Parallel()
	b := setupWriter(t)
	ctx := t.Context()
	old := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	recent := old.Add(2 * time.Hour)
	// Tasks 1 to 4 spread the ids over both statistics shards.
	ids := make([]string, 4)
	for i := range ids {
		ids[i] = reports.MessageID("20261127", int64(i+1), 0, channels.SMS)
	}
	require.NotEqual(t, b.db.StatsShardIndex(1), b.db.StatsShardIndex(2), "the ids live on both shards")
	require.NoError(t, b.writer.MarkSending(ctx, "aliyun", ids, old))
	// Marking again replaces the provider and the time.
	require.NoError(t, b.writer.MarkSending(ctx, "tencent", ids[2:], recent))

	got, err := b.writer.Interrupted(ctx, ids)
	require.NoError(t, err)
	require.Equal(t, map[string]string{ids[0]: "aliyun", ids[1]: "aliyun", ids[2]: "tencent", ids[3]: "tencent"}, got)

	require.NoError(t, b.writer.DropStaleInflight(ctx, old.Add(time.Hour)))
	got, err = b.writer.Interrupted(ctx, ids)
	require.NoError(t, err)
	require.Equal(t, map[string]string{ids[2]: "tencent", ids[3]: "tencent"}, got, "only the marks started before the cutoff are dropped")

	require.NoError(t, b.writer.ClearSending(ctx, ids[2:3]))
	got, err = b.writer.Interrupted(ctx, ids)
	require.NoError(t, err)
	require.Equal(t, map[string]string{ids[3]: "tencent"}, got)

	require.ErrorContains(t, b.writer.MarkSending(ctx, "aliyun", []string{"nonsense"}, old), `invalid message id "nonsense"`)
}
