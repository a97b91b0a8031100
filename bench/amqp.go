package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// drainWait bounds how long AMQP waits, after publishing stops, for the consumer to catch up.
const drainWait = 30 * time.Second

// AMQP measures persistent messages per second through RabbitMQ: one publisher with
// publisher confirms (batches of 500, two in flight) into a durable queue named cfg.Name,
// and one consumer (prefetch 1,000, multiple acks) reading them back. It counts the
// messages consumed from the first publish to the last ack; the queue is deleted after.
func AMQP(ctx context.Context, cfg BaselineConfig) (Measurement, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Measurement{}, err
	}
	conn, err := amqp.Dial(cfg.AMQPURL)
	if err != nil {
		return Measurement{}, fmt.Errorf("error connecting to RabbitMQ: %w", err)
	}
	defer conn.Close()

	setup, err := conn.Channel()
	if err != nil {
		return Measurement{}, fmt.Errorf("error opening a channel: %w", err)
	}
	if _, err := setup.QueueDeclare(cfg.Name, true, false, false, false, nil); err != nil {
		return Measurement{}, fmt.Errorf("error declaring queue %s: %w", cfg.Name, err)
	}
	defer func() {
		// A fresh channel: a failed operation may have closed the others.
		if ch, err := conn.Channel(); err == nil {
			_, _ = ch.QueueDelete(cfg.Name, false, false, false)
			_ = ch.Close()
		}
	}()
	_ = setup.Close()

	pub, err := conn.Channel()
	if err != nil {
		return Measurement{}, fmt.Errorf("error opening the publishing channel: %w", err)
	}
	defer pub.Close()
	if err := pub.Confirm(false); err != nil {
		return Measurement{}, fmt.Errorf("error enabling publisher confirms: %w", err)
	}
	sub, err := conn.Channel()
	if err != nil {
		return Measurement{}, fmt.Errorf("error opening the consuming channel: %w", err)
	}
	defer sub.Close()
	if err := sub.Qos(1000, 0, false); err != nil {
		return Measurement{}, fmt.Errorf("error setting the prefetch: %w", err)
	}
	deliveries, err := sub.ConsumeWithContext(ctx, cfg.Name, "", false, true, false, false, nil)
	if err != nil {
		return Measurement{}, fmt.Errorf("error consuming queue %s: %w", cfg.Name, err)
	}

	type consumed struct {
		n   int64
		end time.Time
		err error
	}
	published := make(chan int64, 1) // the final count once publishing stops
	done := make(chan consumed, 1)
	go func() {
		var n int64
		want := int64(-1)
		var last time.Time
		drain := time.NewTimer(time.Hour)
		defer drain.Stop()
		for want < 0 || n < want {
			select {
			case d, ok := <-deliveries:
				if !ok {
					done <- consumed{n, last, errors.New("the consumer was cancelled")}
					return
				}
				n++
				last = time.Now()
				if n%100 == 0 {
					if err := d.Ack(true); err != nil {
						done <- consumed{n, last, fmt.Errorf("error acking: %w", err)}
						return
					}
				}
			case want = <-published:
				drain.Reset(drainWait)
			case <-drain.C:
				done <- consumed{n, last, fmt.Errorf("consumed %d of %d messages within %s", n, want, drainWait)}
				return
			}
		}
		done <- consumed{n, last, nil}
	}()

	body := make([]byte, cfg.MessageSize)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	msg := amqp.Publishing{DeliveryMode: amqp.Persistent, ContentType: "application/octet-stream", Body: body}
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var (
		n        int64
		inFlight []*amqp.DeferredConfirmation
		pubErr   error
	)
	wait := func(batch []*amqp.DeferredConfirmation) error {
		for _, dc := range batch {
			ok, err := dc.WaitContext(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("RabbitMQ refused a message (nack)")
			}
		}
		return nil
	}
	for n < cfg.Messages && time.Now().Before(deadline) && pubErr == nil {
		batch := make([]*amqp.DeferredConfirmation, 0, confirmBatch)
		for i := 0; i < confirmBatch && n < cfg.Messages; i++ {
			dc, err := pub.PublishWithDeferredConfirmWithContext(ctx, "", cfg.Name, false, false, msg)
			if err != nil {
				pubErr = fmt.Errorf("error publishing: %w", err)
				break
			}
			batch = append(batch, dc)
			n++
		}
		if pubErr == nil {
			pubErr = wait(inFlight)
		}
		inFlight = batch
	}
	if pubErr == nil {
		pubErr = wait(inFlight)
	}
	if pubErr != nil {
		return Measurement{}, pubErr // closing the connection ends the consumer
	}
	published <- n
	c := <-done
	if c.err != nil {
		return Measurement{}, c.err
	}
	return measured(c.n, c.end.Sub(start)), nil
}
