package providers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
)

// receiptBox plays Herald's POST /callbacks/{channel} and /callbacks/{channel}/{provider}
// with the providers' own parsers, and collects the receipts of the providers that listen
// for theirs (DingTalk's send-result query, the MQTT device acks).
type receiptBox struct {
	reg     *channels.Registry
	mu      sync.Mutex
	got     []channels.Receipt // in arrival order
	refused []string
}

func (b *receiptBox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, _ := strings.CutPrefix(r.URL.Path, "/callbacks/")
	ch, name, _ := strings.Cut(rest, "/")
	channel := channels.Channel(strings.ToUpper(ch))
	rp, ok := b.reg.ReceiptParser(channel)
	if name != "" {
		rp, ok = b.reg.ReceiptParserOf(channel, name)
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	rs, err := rp.ParseReceipts(r)
	if err != nil {
		b.mu.Lock()
		b.refused = append(b.refused, r.URL.Path+": "+err.Error())
		b.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	b.add(rs)
	if a, ok := rp.(channels.ReceiptAcker); ok {
		a.AckReceipts(w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (b *receiptBox) add(rs []channels.Receipt) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, rs...)
	return nil
}

// final returns the first DELIVERED or FAILED receipt of the message Herald knows as id and
// the vendor as vendorID (Getui's receipts name only the vendor's task id).
func (b *receiptBox) final(id, vendorID string) (channels.Receipt, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, rc := range b.got {
		if rc.MessageID != id && (rc.MessageID != "" || rc.VendorID != vendorID) {
			continue
		}
		if rc.Status == channels.Delivered || rc.Status == channels.Failed {
			return rc, true
		}
	}
	return channels.Receipt{}, false
}

// TestSimUndeliveredRate sends one message through every provider the simulator serves:
// with UndeliveredRate 1 each provider's own receipt handling turns the vendor's failure
// report into a FAILED receipt carrying the vendor's reason, with 0 into DELIVERED, and
// /sim/stats counts the undelivered ones per channel.
func TestSimUndeliveredRate(t *testing.T) {
	t.Parallel()
	sends := []struct {
		provider string
		channel  channels.Channel
		address  string
		reason   string // part of the FAILED receipt's reason at rate 1
	}{
		{"aliyun", channels.SMS, "+8613800135671", "MK:0012"},
		{"smsgw", channels.SMS, "+8613600135672", "MK:0012"},
		{"aliyun-voice", channels.Voice, "+8613900135673", "200010"},
		{"maap", channels.RCS, "tel:+8613700135674", "DeliveryImpossible"},
		{"getui", channels.AppPush, "cid-user-undeliv", "20003"},
		{"mqtt", channels.AppPush, "device-user-undeliv", "DEVICE_UNREACHABLE"},
		{"wechat", channels.WeChat, "oUndelivOpenID0000000000001", "user block"},
		{"dingtalk", channels.DingTalk, "user-undeliv", "failed"},
		{"smtp", channels.Email, "someone@example.com", "5.2.2"},
		{"webhook", channels.Webhook, "/webhook/orders", "recipient unreachable"},
	}
	for _, rate := range []float64{1, 0} {
		t.Run(fmt.Sprintf("rate=%v", rate), func(t *testing.T) {
			t.Parallel()
			box := &receiptBox{}
			cb := httptest.NewServer(box)
			t.Cleanup(cb.Close)
			prefix := fmt.Sprintf("herald-undelivered-test/%d", time.Now().UnixNano())
			broker := "tcp://127.0.0.1:1883"
			s := sim.New(sim.Config{Callback: cb.URL, ReceiptDelay: 10 * time.Millisecond, UndeliveredRate: rate,
				SMTPAddr: "127.0.0.1:0", MQTTBroker: broker, MQTTPrefix: prefix})
			require.NoError(t, s.Start())
			srv := httptest.NewServer(s.Handler())
			t.Cleanup(func() { srv.Close(); s.Close() })
			reg, err := providers.Build("sim="+srv.URL+",sim-smtp="+s.Config().SMTPAddr+",sim-mqtt="+broker+"/"+prefix, providers.Options{})
			require.NoError(t, err)
			box.reg = reg

			ctx, cancel := context.WithCancel(context.Background())
			var listeners sync.WaitGroup
			for _, p := range reg.Providers() {
				if l, ok := p.(channels.ReceiptListener); ok {
					listeners.Add(1)
					go func() {
						defer listeners.Done()
						_ = l.ListenReceipts(ctx, box.add)
					}()
				}
			}
			t.Cleanup(func() {
				cancel()
				listeners.Wait()
				for _, p := range reg.Providers() {
					if c, ok := p.(interface{ Close() }); ok {
						c.Close()
					}
				}
			})

			ids, vendorIDs := map[string]string{}, map[string]string{}
			for i, tt := range sends {
				var p channels.Provider
				for _, c := range reg.ChannelProviders(tt.channel) {
					if c.Name() == tt.provider {
						p = c
					}
				}
				require.NotNil(t, p, "sim registers %s on %s", tt.provider, tt.channel)
				addr := tt.address
				if tt.channel == channels.Webhook {
					addr = srv.URL + addr
				}
				id := fmt.Sprintf("20261127-0000000u-%07d-0", i+1)
				ids[tt.provider] = id
				res, err := p.Send(context.Background(), []channels.Message{{ID: id, Channel: tt.channel, Address: addr,
					Title: "Parcel", Body: "Your parcel is on its way."}})
				require.NoError(t, err, tt.provider)
				require.Equal(t, channels.Sent, res[0].Status, "%s: %s", tt.provider, res[0].Reason)
				vendorIDs[tt.provider] = res[0].VendorID
			}
			for _, tt := range sends {
				if rate == 0 && tt.channel == channels.Email {
					// SMTP has no delivery receipt: a delivered email is one that does not
					// bounce, and the bounce is chosen when the message is accepted (the
					// Undelivered counter below is 0 for EMAIL).
					continue
				}
				var rc channels.Receipt
				require.Eventually(t, func() bool {
					var ok bool
					rc, ok = box.final(ids[tt.provider], vendorIDs[tt.provider])
					return ok
				}, 15*time.Second, 10*time.Millisecond, "final receipt of %s (refused posts: %v)", tt.provider, box.refused)
				require.Equal(t, tt.provider, rc.Provider)
				if rate == 1 {
					require.Equal(t, channels.Failed, rc.Status, "%s: %+v", tt.provider, rc)
					require.Contains(t, rc.Reason, tt.reason, tt.provider)
				} else {
					require.Equal(t, channels.Delivered, rc.Status, "%s: %+v", tt.provider, rc)
					require.Empty(t, rc.Reason, tt.provider)
				}
			}

			emailBehavior := "undelivered"
			if rate == 0 {
				_, bounced := box.final(ids["smtp"], vendorIDs["smtp"])
				require.False(t, bounced, "no bounce of the email at rate 0")
				emailBehavior = "deliver"
			}
			require.Equal(t, emailBehavior, s.Messages(channels.Email, "someone@example.com")[0].Behavior)
			want := map[channels.Channel]int64{}
			if rate == 1 {
				for _, tt := range sends {
					want[tt.channel]++
				}
			}
			require.Equal(t, want, nonZero(s.Stats().Undelivered))
		})
	}
}

func nonZero(m map[channels.Channel]int64) map[channels.Channel]int64 {
	out := map[channels.Channel]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
