package dispatch

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

func sampleReceipts(n int) receiptBatch {
	at := time.Date(2026, 11, 28, 4, 5, 6, 789_000_000, time.UTC)
	b := receiptBatch{}
	for i := range n {
		b.Receipts = append(b.Receipts, channels.Receipt{Channel: channels.SMS, Provider: "aliyun", Batch: "20261128-17-000042",
			VendorID: "biz-99", Address: fmt.Sprintf("+86138%08d", i), Status: channels.Delivered, Reason: "DELIVRD", At: at.Add(time.Duration(i) * time.Millisecond)})
	}
	return b
}

// The direct encoding is encoding/json's, byte for byte, for the documents of a broadcast.
func TestEncodeReceiptBatchIsEncodingJSON(t *testing.T) {
	for _, b := range []receiptBatch{sampleReceipts(3), {Receipts: []channels.Receipt{}}, {Receipts: sampleReceipts(1).Receipts, Tries: 4},
		{Receipts: []channels.Receipt{{Channel: channels.AppPush, MessageID: "20261128-0000000a-0000001-3", Status: channels.Clicked, Reason: "点击", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CST", 8*3600))}}}} {
		got, err := encodeReceiptBatch(b)
		require.NoError(t, err)
		want, err := json.Marshal(b)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		back, err := decodeReceiptBatch(got)
		require.NoError(t, err)
		_, fast := fastReceiptBatch(got)
		require.True(t, fast, "read without encoding/json: %s", got)
		var ref receiptBatch
		require.NoError(t, json.Unmarshal(got, &ref))
		require.Equal(t, ref, back)
	}
}

// A value the direct writer cannot write as it is goes through encoding/json; a document of
// another shape is read by encoding/json; a broken one is refused as encoding/json refuses it.
func TestReceiptBatchJSONFallsBack(t *testing.T) {
	b := sampleReceipts(2)
	b.Receipts[1].Reason = "say \"no\" <now>\n"
	b.Receipts[0].At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := encodeReceiptBatch(b)
	require.Error(t, err, "encoding/json refuses a year past 9999, and so does the writer")
	b.Receipts[0].At = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	body, err := encodeReceiptBatch(b)
	require.NoError(t, err)
	want, _ := json.Marshal(b)
	require.Equal(t, string(want), string(body))
	got, err := decodeReceiptBatch(body)
	require.NoError(t, err)
	require.Equal(t, b.Receipts[1].Reason, got.Receipts[1].Reason)

	// Written by hand: white space, another key case, a null, an unknown key.
	got, err = decodeReceiptBatch([]byte(` { "receipts" : [ {"messageid":"m-1","Status":"DELIVERED","At":null,"Extra":1} ], "tries": 2 } `))
	require.NoError(t, err)
	require.Equal(t, "m-1", got.Receipts[0].MessageID)
	require.Equal(t, 2, got.Tries)

	for _, bad := range []string{``, `{`, `{"receipts":[{"At":"yesterday"}]}`, `{"receipts":[{"Status":"DELIVERED"}]`, `[]`} {
		_, err := decodeReceiptBatch([]byte(bad))
		require.Error(t, err, bad)
	}
}

// Whatever the direct reader accepts, encoding/json reads the same; whatever the direct
// writer writes, encoding/json reads back to the batch written.
func FuzzReceiptBatchJSON(f *testing.F) {
	body, _ := encodeReceiptBatch(sampleReceipts(2))
	f.Add(body, "aliyun", "1380000\u2028", int64(1764302706), int64(5))
	f.Add([]byte(`{"receipts":[{"Channel":"SMS","At":"2026-11-28T04:05:06.7+08:00"}],"tries":07}`), "<b>", "ok", int64(-62135596800), int64(0))
	f.Add([]byte(`{"receipts":[],"tries":1}`), "\xff", "", int64(253402300800), int64(999999999))
	f.Fuzz(func(t *testing.T, doc []byte, provider, address string, sec, nsec int64) {
		if fast, ok := fastReceiptBatch(doc); ok {
			var ref receiptBatch
			require.NoError(t, json.Unmarshal(doc, &ref), "%q", doc)
			if !reflect.DeepEqual(ref, fast) {
				t.Fatalf("%q: encoding/json %+v, direct %+v", doc, ref, fast)
			}
		}
		in := receiptBatch{Receipts: []channels.Receipt{{Channel: channels.SMS, Provider: provider, Address: address,
			Status: channels.Failed, Reason: provider + address, At: time.Unix(sec, nsec%1e9)}}, Tries: int(nsec % 7)}
		got, err := encodeReceiptBatch(in)
		want, wantErr := json.Marshal(in)
		if wantErr != nil {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		var back receiptBatch
		require.NoError(t, json.Unmarshal(got, &back), "%q", got)
		var ref receiptBatch
		require.NoError(t, json.Unmarshal(want, &ref))
		require.Equal(t, ref, back)
		direct, err := decodeReceiptBatch(got)
		require.NoError(t, err)
		require.Equal(t, ref, direct)
	})
}

// go test -run '^$' -bench ReceiptBatch ./dispatch/: 100 receipts, as a callback queues them.
func BenchmarkReceiptBatchJSON(b *testing.B) {
	batch := sampleReceipts(100)
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			out, _ := json.Marshal(batch)
			var back receiptBatch
			_ = json.Unmarshal(out, &back)
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			out, _ := encodeReceiptBatch(batch)
			_, _ = decodeReceiptBatch(out)
		}
	})
}
