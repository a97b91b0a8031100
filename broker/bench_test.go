package broker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPublish measures confirmed publishing from concurrent publishers
// with several batch sizes and channel pool sizes; ns/op is per message.
func BenchmarkPublish(b *testing.B) {
	for _, channels := range []int{1, 4, 8, 16} {
		for _, batch := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("channels=%d/batch=%d", channels, batch), func(b *testing.B) {
				tb := setup(b, func(c *Config) { c.PublishChannels = channels })
				ctx := context.Background()
				msgs := make([]Message, batch)
				for i := range msgs {
					msgs[i] = Message{Body: make([]byte, 512), MessageID: fmt.Sprint(i)}
				}
				b.SetParallelism(4) // 4×GOMAXPROCS publishers
				start := time.Now()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for {
						// One op is one message; a publisher sends batch ops at once.
						k := 0
						for k < batch && pb.Next() {
							k++
						}
						if k == 0 {
							return
						}
						if err := tb.broker.Publish(ctx, Bulk, msgs[:k]...); err != nil {
							b.Error(err)
							return
						}
						if k < batch {
							return
						}
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkPublishConsume measures a full round trip: 8 publishers sending
// batches of 100 while one consumer with prefetch 256 acks every message.
func BenchmarkPublishConsume(b *testing.B) {
	tb := setup(b)
	ctx := context.Background()
	var consumed atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	total := int64(b.N)
	tb.consume(b, Bulk, 256, func(ctx context.Context, d Delivery) error {
		if consumed.Add(1) >= total {
			once.Do(func() { close(all) })
		}
		return nil
	})
	start := time.Now()
	b.ResetTimer()
	const publishers, batch = 8, 100
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := p * batch; i < b.N; i += publishers * batch {
				n := min(batch, b.N-i)
				msgs := make([]Message, n)
				for j := range msgs {
					msgs[j] = Message{Body: make([]byte, 512), MessageID: fmt.Sprint(i + j)}
				}
				if err := tb.broker.Publish(ctx, Bulk, msgs...); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	<-all
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
