package reports_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

func TestDeliveriesPageAcrossShardsAndDays(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	w := reports.NewWriter(db, time.UTC, nil, nil)
	st := reports.NewStats(db, time.UTC)
	d1, d2 := day1.Format(store.DayFormat), day2.Format(store.DayFormat)
	rows := []reports.Delivery{
		{ID: reports.MessageID(d1, 10, 0, channels.SMS), TaskID: 10, CreatedAt: hm(day1, 1, 0)},
		{ID: reports.MessageID(d1, 11, 0, channels.SMS), TaskID: 11, CreatedAt: hm(day1, 2, 0)},
		{ID: reports.MessageID(d1, 11, 1, channels.Email), TaskID: 11, CreatedAt: hm(day2, 0, 5)}, // recorded after midnight
		{ID: reports.MessageID(d2, 12, 0, channels.SMS), TaskID: 12, CreatedAt: hm(day2, 0, 1)},
		{ID: reports.MessageID(d2, 13, 0, channels.SMS), TaskID: 13, CreatedAt: hm(day2, 9, 0)},
		{ID: reports.MessageID(d2, 14, 0, channels.SMS), TaskID: 14, CreatedAt: hm(day2, 10, 0), AppID: 2},
	}
	for i := range rows {
		if rows[i].AppID == 0 {
			rows[i].AppID = 1
		}
		rows[i].UserID, rows[i].Status = "u", reports.Queued
		if rows[i].Channel == "" {
			rows[i].Channel = channels.SMS
		}
	}
	_, err := w.Record(context.Background(), rows)
	require.NoError(t, err)
	ctx := viewerOf(t, 1)
	f := reports.DeliveryFilter{AppID: 1, From: day1, To: day3}

	var got []string
	var after *reports.DeliveryCursor
	for page := 0; page < 5; page++ {
		ds, more, err := st.Deliveries(ctx, f, 2, after)
		require.NoError(t, err)
		for _, d := range ds {
			got = append(got, d.ID)
		}
		if !more {
			break
		}
		last := ds[len(ds)-1]
		after = &reports.DeliveryCursor{At: last.CreatedAt, ID: last.ID}
	}
	require.Equal(t, []string{rows[0].ID, rows[1].ID, rows[3].ID, rows[2].ID, rows[4].ID}, got, "oldest first by the time recorded, app 2 excluded")

	f.TaskID = 11
	ds, _, err := st.Deliveries(ctx, f, 10, nil)
	require.NoError(t, err)
	require.Len(t, ds, 2)

	_, _, err = st.Deliveries(ctx, reports.DeliveryFilter{AppID: 1, From: day2, To: day1}, 10, nil)
	require.Equal(t, fault.CodeBadInput, fault.CodeOf(err))
	_, _, err = st.Deliveries(viewerOf(t, 2), reports.DeliveryFilter{AppID: 1, From: day1, To: day2}, 10, nil)
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err))
}

func TestDeliveriesOfARangeAcrossMidnight(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	w := reports.NewWriter(db, time.UTC, nil, nil)
	st := reports.NewStats(db, time.UTC)
	d1, d2 := day1.Format(store.DayFormat), day2.Format(store.DayFormat)
	rows := []reports.Delivery{
		{ID: reports.MessageID(d1, 10, 0, channels.SMS), CreatedAt: hm(day1, 23, 40)},
		{ID: reports.MessageID(d2, 11, 0, channels.SMS), CreatedAt: hm(day2, 0, 20)},
		{ID: reports.MessageID(d2, 12, 0, channels.SMS), CreatedAt: hm(day2, 2, 0)}, // after the range
	}
	for i := range rows {
		rows[i].AppID, rows[i].TaskID, rows[i].UserID, rows[i].Channel, rows[i].Status = 1, int64(10+i), "u", channels.SMS, reports.Queued
	}
	_, err := w.Record(context.Background(), rows)
	require.NoError(t, err)
	// From late evening to early morning: the end's time of day is before the start's.
	ds, more, err := st.Deliveries(viewerOf(t, 1), reports.DeliveryFilter{AppID: 1, From: hm(day1, 23, 30), To: hm(day2, 1, 30)}, 10, nil)
	require.NoError(t, err)
	require.False(t, more)
	var got []string
	for _, d := range ds {
		got = append(got, d.ID)
	}
	require.Equal(t, []string{rows[0].ID, rows[1].ID}, got, "the second day's table is read")
}
