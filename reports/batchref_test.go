package reports_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
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

// A send to several channels numbers each user's messages in turn, so a batch of its SMS
// spans the VOICE messages to the same numbers: a receipt of the SMS batch finds the SMS.
func TestResolveBatchKeepsToItsChannel(t *testing.T) {
	t.Parallel()
	b := setupWriter(t)
	now := time.Now().UTC()
	day := now.Format("20060102")
	var ds []reports.Delivery
	var sms []string
	for i := range 3 {
		for _, ch := range []channels.Channel{channels.SMS, channels.Voice} {
			d := delivery(day, 11, int64(i), ch, reports.Queued, now)
			d.Address = fmt.Sprintf("+86137000000%02d", i)
			ds = append(ds, d)
			if ch == channels.SMS {
				sms = append(sms, d.ID)
			}
		}
	}
	_, err := b.writer.Record(t.Context(), ds)
	require.NoError(t, err)

	got, err := b.writer.ResolveBatch(t.Context(), channels.BatchRef(sms), []string{"8613700000000", "8613700000001", "8613700000002"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"8613700000000": sms[0], "8613700000001": sms[1], "8613700000002": sms[2]}, got)
}

// A batch's later callbacks are answered from the addresses read for an earlier one; an
// address the batch did not have then (its row recorded since) makes the writer read again.
func TestResolveBatchKeepsABatchsAddresses(t *testing.T) {
	t.Parallel()
	b := setupWriter(t)
	now := time.Now().UTC()
	day := now.Format("20060102")
	var ds []reports.Delivery
	for i := range 3 {
		d := delivery(day, 8, int64(i), channels.SMS, reports.Queued, now)
		d.Address = fmt.Sprintf("+86139000000%02d", i)
		ds = append(ds, d)
	}
	ref := channels.BatchRef([]string{ds[0].ID, ds[1].ID, ds[2].ID})
	_, err := b.writer.Record(t.Context(), ds[:2]) // #2's row is not recorded yet
	require.NoError(t, err)

	got, err := b.writer.ResolveBatch(t.Context(), ref, []string{"8613900000000", "8613900000002"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"8613900000000": ds[0].ID}, got, "#2 has no row yet")

	// #1's row is taken away behind the writer's back: a callback naming only known addresses
	// is answered from what the first one read.
	res, err := b.db.Stats[b.db.StatsShardIndex(8)].ExecContext(t.Context(), "DELETE FROM "+store.DayTable(day)+" WHERE id = ?", ds[1].ID)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	got, err = b.writer.ResolveBatch(t.Context(), ref, []string{"+8613900000001"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"+8613900000001": ds[1].ID}, got, "answered from the batch's addresses read before")

	_, err = b.writer.Record(t.Context(), ds[2:])
	require.NoError(t, err)
	got, err = b.writer.ResolveBatch(t.Context(), ref, []string{"8613900000002", "8613900000000"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"8613900000002": ds[2].ID, "8613900000000": ds[0].ID}, got,
		"an address missing from what was read makes the writer read the range again")
}
