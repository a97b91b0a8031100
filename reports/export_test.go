package reports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store"
	"github.com/herald-msg/herald/store/storetest"
)

func TestExportStatsCSV(t *testing.T) {
	t.Parallel()
	b := setupStats(t, time.UTC)
	q := reports.StatsQuery{AppID: 1, From: day1, To: day3, Dimensions: []reports.Dimension{reports.DimDay, reports.DimChannel}}
	var buf bytes.Buffer
	require.NoError(t, b.stats.ExportStats(viewerOf(t, 1), &buf, q))
	lines, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"day", "channel", "total", "sent", "delivered", "displayed", "clicked", "failed", "suppressed", "redundant", "cost",
		"redundant_cost", "saved_by_fallback", "saved_cost"}, lines[0])

	res, err := b.stats.Query(viewerOf(t, 1), q)
	require.NoError(t, err)
	require.Len(t, lines, len(res.Rows)+2)
	for i, r := range res.Rows {
		require.Equal(t, []string{r.Day, string(r.Channel), strconv.FormatInt(r.Total, 10), strconv.FormatInt(r.Sent, 10), strconv.FormatInt(r.Delivered, 10),
			strconv.FormatInt(r.Displayed, 10), strconv.FormatInt(r.Clicked, 10), strconv.FormatInt(r.Failed, 10), strconv.FormatInt(r.Suppressed, 10),
			strconv.FormatInt(r.Redundant, 10), strconv.FormatFloat(r.Cost, 'f', 4, 64), strconv.FormatFloat(r.RedundantCost, 'f', 4, 64),
			strconv.FormatInt(r.Saved, 10), strconv.FormatFloat(r.SavedCost, 'f', 4, 64)}, lines[i+1])
	}
	last := lines[len(lines)-1]
	require.Equal(t, "totals", last[0])
	wantRows, wantTotals := expected(q, time.UTC)
	require.Len(t, res.Rows, len(wantRows))
	require.Equal(t, strconv.FormatInt(wantTotals.Total, 10), last[2])
	require.Equal(t, strconv.FormatFloat(wantTotals.Cost, 'f', 4, 64), last[10])

	// A refused query writes nothing.
	buf.Reset()
	err = b.stats.ExportStats(viewerOf(t, 2), &buf, q)
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err))
	require.Zero(t, buf.Len())
	err = b.stats.ExportStats(viewerOf(t, 1), &buf, reports.StatsQuery{AppID: 1, From: day3, To: day1})
	require.Equal(t, fault.CodeBadInput, fault.CodeOf(err))
	require.Zero(t, buf.Len())
}

func TestExportDeliveriesCSVPagesThroughEveryRow(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	w := reports.NewWriter(db, time.UTC, nil, nil)
	st := reports.NewStats(db, time.UTC)
	var (
		ds   []reports.Delivery
		want []string
	)
	// More rows than a page, on both shards, over two days, with another app's rows between.
	for i := range reports.ExportPageSize*2 + 37 {
		task := int64(1 + i%4)
		app := int64(1)
		if i%10 == 9 {
			app = 2
		}
		at := day1.Add(time.Duration(i) * 83 * time.Second)
		d := reports.Delivery{ID: reports.MessageID(at.Format(store.DayFormat), task, int64(i), channels.SMS), AppID: app, TaskID: task, TemplateID: 5,
			UserID: fmt.Sprintf("u%d", i), Channel: channels.SMS, Address: "+8613900000000", Status: reports.Queued, CreatedAt: at, Cost: 0.045, CostUnits: 1}
		if i == 3 {
			d.UserID = "=HYPERLINK(\"http://evil\")"
		}
		ds = append(ds, d)
		if app == 1 {
			want = append(want, d.ID)
		}
	}
	_, err := w.Record(context.Background(), ds)
	require.NoError(t, err)

	var (
		buf     bytes.Buffer
		flushes int
	)
	f := reports.DeliveryFilter{AppID: 1, From: day1, To: day3}
	require.NoError(t, st.ExportDeliveries(viewerOf(t, 1), &buf, f, func() { flushes++ }))
	lines, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Equal(t, reports.DeliveriesCSVHeader, lines[0])
	var got []string
	for _, l := range lines[1:] {
		got = append(got, l[0])
		require.Equal(t, "+8613900000000", l[5], "a phone number stays as it is")
		require.Equal(t, "0.0450", l[11])
		if l[0] == ds[3].ID {
			require.Equal(t, "'=HYPERLINK(\"http://evil\")", l[3], "a formula is neutralised")
		}
	}
	require.Equal(t, want, got, "every row once, oldest first")
	require.Equal(t, (len(want)+reports.ExportPageSize-1)/reports.ExportPageSize, flushes, "one flush per page")

	buf.Reset()
	err = st.ExportDeliveries(viewerOf(t, 2), &buf, f, nil)
	require.Equal(t, fault.CodeForbidden, fault.CodeOf(err))
	require.Zero(t, buf.Len())
}

func TestStatsAndDeliveriesLimits(t *testing.T) {
	t.Parallel()
	db := storetest.New(t)
	st := reports.NewStats(db, time.UTC)
	ctx := viewerOf(t, 1)
	st.SetMaxDays(31)
	_, err := st.Query(ctx, reports.StatsQuery{AppID: 1, From: day1, To: day1.AddDate(0, 0, 32)})
	fe, ok := fault.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, fault.CodeBadInput, fe.Code)
	require.Equal(t, "input.to", fe.Field)
	require.Contains(t, fe.Message, "31 days")
	_, err = st.Query(ctx, reports.StatsQuery{AppID: 1, From: day1, To: day1.AddDate(0, 0, 31)})
	require.NoError(t, err)

	f := reports.DeliveryFilter{AppID: 1, From: day1, To: day2}
	for _, first := range []int{0, -1, reports.MaxDeliveriesPage + 1} {
		_, _, err := st.Deliveries(ctx, f, first, nil)
		fe, ok := fault.As(err)
		require.True(t, ok, "%v", err)
		require.Equal(t, fault.CodeBadInput, fe.Code)
		require.Equal(t, "first", fe.Field)
	}
	_, _, err = st.Deliveries(ctx, f, reports.MaxDeliveriesPage, nil)
	require.NoError(t, err)
}
