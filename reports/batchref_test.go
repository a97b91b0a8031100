package reports_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
)

func TestResolveBatch(t *testing.T) {
	t.Parallel()
	b := setupWriter(t)
	now := time.Now().UTC()
	day := now.Format("20060102")
	var ds []reports.Delivery
	var ids []string
	for i := range 5 {
		d := delivery(day, 7, int64(i), channels.SMS, reports.Queued, now)
		d.Address = fmt.Sprintf("+86138000000%02d", i)
		ds = append(ds, d)
		if i >= 1 && i <= 3 {
			ids = append(ids, d.ID)
		}
	}
	other := delivery(day, 7, 9, channels.SMS, reports.Queued, now) // outside the batch, same number as #2
	other.Address = "+8613800000002"
	ds = append(ds, other)
	_, err := b.writer.Record(t.Context(), ds)
	require.NoError(t, err)

	ref := channels.BatchRef(ids)
	got, err := b.writer.ResolveBatch(t.Context(), ref, []string{"8613800000002", "+8613800000003", "8613800000000", "8613899999999"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"8613800000002": ds[2].ID, "+8613800000003": ds[3].ID}, got,
		"numbers inside the batch's bounds, with or without +; #0 is outside them and the last one unknown")

	_, err = b.writer.ResolveBatch(t.Context(), "nonsense", []string{"1"})
	require.True(t, errors.Is(err, reports.ErrBadBatchRef))
	_, err = b.writer.ResolveBatch(t.Context(), ds[3].ID+"~"+ds[1].ID, []string{"1"})
	require.True(t, errors.Is(err, reports.ErrBadBatchRef), "bounds out of order")
}
