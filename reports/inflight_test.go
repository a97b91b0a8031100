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
	first, err := b.writer.MarkSending(ctx, "aliyun", ids, old)
	require.NoError(t, err)
	require.Len(t, first, 2, "one mark per statistics shard")
	// A later call with some of the ids: the latest call's provider counts.
	_, err = b.writer.MarkSending(ctx, "tencent", ids[2:], recent)
	require.NoError(t, err)

	got, marks, err := b.writer.Interrupted(ctx, ids)
	require.NoError(t, err)
	require.Equal(t, map[string]string{ids[0]: "aliyun", ids[1]: "aliyun", ids[2]: "tencent", ids[3]: "tencent"}, got)
	require.Len(t, marks, 4, "both calls, on both shards")
	// Only marks naming one of the ids are found.
	got, marks, err = b.writer.Interrupted(ctx, ids[:1])
	require.NoError(t, err)
	require.Equal(t, map[string]string{ids[0]: "aliyun"}, got)
	require.Len(t, marks, 1)
	other := reports.MessageID("20261127", 1, 0, channels.Email)
	got, marks, err = b.writer.Interrupted(ctx, []string{other})
	require.NoError(t, err)
	require.Empty(t, got, "an id inside a mark's range but not in it is not in flight")
	require.Empty(t, marks)

	require.NoError(t, b.writer.DropStaleInflight(ctx, old.Add(time.Hour)))
	got, marks, err = b.writer.Interrupted(ctx, ids)
	require.NoError(t, err)
	require.Equal(t, map[string]string{ids[2]: "tencent", ids[3]: "tencent"}, got, "only the marks started before the cutoff are dropped")

	require.NoError(t, b.writer.ClearSending(ctx, marks))
	got, marks, err = b.writer.Interrupted(ctx, ids)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Empty(t, marks)

	_, err = b.writer.MarkSending(ctx, "aliyun", []string{"nonsense"}, old)
	require.ErrorContains(t, err, `invalid message id "nonsense"`)
}
