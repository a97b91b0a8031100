package reports_test

import (
	"testing"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/store/storetest"
)

// BenchmarkApplyReceipts applies DELIVERED receipts to SENT rows, 2,000 per call as the
// receipt batcher gathers them: a locking read, the update and the rollups per 500.
//
//	go test -run '^$' -bench ApplyReceipts -benchtime 20x ./reports/
func BenchmarkApplyReceipts(b *testing.B) {
	db := storetest.New(b)
	w := reports.NewWriter(db, time.UTC, nil, nil)
	ctx := b.Context()
	at := time.Now().UTC().Truncate(time.Second)
	day := at.Format("20060102")
	const n = 2000
	var seq int64
	applied := 0
	for b.Loop() {
		b.StopTimer()
		ds := make([]reports.Delivery, n)
		us := make([]reports.Update, n)
		for i := range ds {
			id := reports.MessageID(day, 9, seq, channels.SMS)
			seq++
			ds[i] = reports.Delivery{ID: id, AppID: 1, TaskID: 9, TemplateID: 2, UserID: "u", Channel: channels.SMS, Address: "a", Status: channels.Sent,
				CostUnits: 1, Cost: 0.045, CreatedAt: at}
			us[i] = reports.Update{ID: id, Status: channels.Delivered, At: at.Add(time.Second)}
		}
		if _, err := w.Record(ctx, ds); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		m, err := w.Apply(ctx, us)
		if err != nil {
			b.Fatal(err)
		}
		applied += m
	}
	b.ReportMetric(float64(applied)/b.Elapsed().Seconds(), "receipts/s")
}
