package sms_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
)

// A broadcast goes as one SendSms to many numbers; personalised messages of one template as
// SendBatchSms; the reports of both carry the batch reference and find their messages.
func TestSendGroupsRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{ReceiptDelay: 5 * time.Millisecond})
	var msgs []channels.Message
	for i := range 5 { // identical content
		msgs = append(msgs, channels.Message{ID: fmt.Sprintf("20261127-00000001-000000%d-1", i), Address: fmt.Sprintf("+86138%08d", 12345+i), Body: "Sale today"})
	}
	for i := range 3 { // one template, each its own text
		msgs = append(msgs, channels.Message{ID: fmt.Sprintf("20261127-00000001-000001%d-1", i), Address: fmt.Sprintf("+86139%08d", 23456+i), Body: fmt.Sprintf("Hello %d", i)})
	}
	res, err := b.provider.Send(context.Background(), msgs)
	require.NoError(t, err)
	vendorIDs := map[string]int{}
	for i, r := range res {
		require.Equal(t, channels.Sent, r.Status, r.Reason)
		require.Equal(t, msgs[i].ID, r.MessageID)
		vendorIDs[r.VendorID]++
	}
	require.Equal(t, []int{3, 5}, sortedCounts(vendorIDs), "two requests: one SendSms of 5 numbers, one SendBatchSms of 3")

	broadcastRef := channels.BatchRef([]string{msgs[0].ID, msgs[4].ID})
	got := b.sim.Messages(channels.SMS, msgs[2].Address)
	require.Len(t, got, 1)
	require.Equal(t, broadcastRef, got[0].MessageID, "the request's OutId is the batch reference")
	require.Equal(t, "【Herald】Hello 1", b.sim.Messages(channels.SMS, msgs[6].Address)[0].Content, "each number of the batch got its own text")

	require.Eventually(t, func() bool { return len(b.herald.Arrivals()) == len(msgs) }, 5*time.Second, 5*time.Millisecond)
	byAddress := map[string]channels.Receipt{}
	for _, a := range b.herald.Arrivals() {
		byAddress[a.Receipt.Address] = a.Receipt
	}
	rc := byAddress["86138"+fmt.Sprintf("%08d", 12348)]
	require.Empty(t, rc.MessageID, "a report of a request of several numbers has no message id")
	require.Equal(t, broadcastRef, rc.Batch)
	first, last, ok := channels.ParseBatchRef(rc.Batch)
	require.True(t, ok)
	require.Equal(t, msgs[0].ID, first)
	require.Equal(t, msgs[4].ID, last)
}

// One bad number refuses a whole request; the others are sent one by one and only it fails.
func TestSendIsolatesRefusedNumber(t *testing.T) {
	t.Parallel()
	b := setup(t, sim.Config{})
	msgs := []channels.Message{
		{ID: "20261127-00000001-0000000-1", Address: "+8613800001234", Body: "Sale"},
		{ID: "20261127-00000001-0000001-1", Address: "+8613800010000", Body: "Sale"},
		{ID: "20261127-00000001-0000002-1", Address: "+8613800005678", Body: "Sale"},
	}
	res, err := b.provider.Send(context.Background(), msgs)
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status)
	require.Equal(t, channels.Failed, res[1].Status)
	require.False(t, res[1].Retryable)
	require.Equal(t, channels.Sent, res[2].Status)
	require.EqualValues(t, 2, b.sim.Stats().Received[channels.SMS])
	require.Zero(t, b.sim.Stats().Repeated[channels.SMS])
	require.Equal(t, msgs[0].ID, b.sim.Messages(channels.SMS, msgs[0].Address)[0].MessageID, "sent alone, with its own OutId")
}

func sortedCounts(m map[string]int) []int {
	var out []int
	for _, n := range m {
		out = append(out, n)
	}
	if len(out) == 2 && out[0] > out[1] {
		out[0], out[1] = out[1], out[0]
	}
	return out
}
