package broker

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Default settings applied by New to zero-valued Config fields.
const (
	// DefaultURL is a RabbitMQ on localhost with the stock guest account.
	DefaultURL = "amqp://guest:guest@127.0.0.1:5672/"
	// DefaultPrefix names Herald's exchanges and queues herald.*.
	DefaultPrefix = "herald."
	// DefaultName is the connection name shown by RabbitMQ.
	DefaultName = "herald"
	// DefaultPublishChannels is the publishing channel pool size; measured
	// throughput does not grow past a handful on one connection.
	DefaultPublishChannels = 4
	// DefaultMaxAttempts is how often a failing delivery is handled before it is dead-lettered.
	DefaultMaxAttempts = 5
	// DefaultRetryBackoff is the wait before the first retry.
	DefaultRetryBackoff = 200 * time.Millisecond
	// DefaultRetryBackoffMax caps the wait between retries.
	DefaultRetryBackoffMax = 5 * time.Second
	// DefaultReconnectBackoff is the wait after the first failed connection attempt.
	DefaultReconnectBackoff = 100 * time.Millisecond
	// DefaultReconnectBackoffMax caps the wait between connection attempts.
	DefaultReconnectBackoffMax = 5 * time.Second
	// DefaultDialTimeout bounds one TCP connection attempt.
	DefaultDialTimeout = 5 * time.Second
	// DefaultHeartbeat is the AMQP heartbeat interval.
	DefaultHeartbeat = 10 * time.Second
	// DefaultDrainTimeout bounds a consumer's drain on shutdown.
	DefaultDrainTimeout = 30 * time.Second
	// DefaultPrefetch is the prefetch of queues Config.Prefetch does not name.
	DefaultPrefetch = 16
)

// defaultPrefetch is the per-lane prefetch when neither Consume nor Config
// names one: realtime messages are small and latency bound, bulk messages are
// shards of about a thousand users each, receipts are tiny.
var defaultPrefetch = map[Queue]int{
	Realtime: 32,
	Bulk:     4,
	Receipts: 64,
}

// Config configures a Broker; zero fields take the defaults above.
type Config struct {
	// URL is the AMQP URI of the RabbitMQ server or cluster entry point.
	URL string
	// Prefix is prepended to every exchange and queue name ("herald.").
	Prefix string
	// Name is the connection_name shown by rabbitmqctl and the management UI.
	Name string
	// Logger receives connection, retry and dead-letter events.
	Logger *slog.Logger
	// Prefetch is the per-queue prefetch used when Consume is given 0.
	Prefetch map[Queue]int
	// PublishChannels bounds the pool of confirm-mode channels used by Publish.
	PublishChannels int
	// MaxAttempts is how many times a delivery is handled before a
	// transient error dead-letters it.
	MaxAttempts int
	// RetryBackoff is the wait before a failed delivery is retried; it doubles
	// with every attempt up to RetryBackoffMax.
	RetryBackoff time.Duration
	// RetryBackoffMax caps RetryBackoff.
	RetryBackoffMax time.Duration
	// ReconnectBackoff is the first wait between connection attempts; it
	// doubles with every failed attempt up to ReconnectBackoffMax.
	ReconnectBackoff time.Duration
	// ReconnectBackoffMax caps ReconnectBackoff.
	ReconnectBackoffMax time.Duration
	// DialTimeout bounds one TCP connection attempt.
	DialTimeout time.Duration
	// Heartbeat is the AMQP heartbeat interval that detects a silent peer.
	Heartbeat time.Duration
	// DrainTimeout bounds how long a cancelled consumer waits for in-flight
	// handlers, and how long Run waits for consumers before closing.
	DrainTimeout time.Duration
}

func (c Config) withDefaults() Config {
	c.URL = cmp.Or(c.URL, DefaultURL)
	c.Prefix = cmp.Or(c.Prefix, DefaultPrefix)
	c.Name = cmp.Or(c.Name, DefaultName)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	prefetch := maps.Clone(defaultPrefetch)
	maps.Copy(prefetch, c.Prefetch)
	c.Prefetch = prefetch
	c.PublishChannels = cmp.Or(c.PublishChannels, DefaultPublishChannels)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.RetryBackoff = cmp.Or(c.RetryBackoff, DefaultRetryBackoff)
	c.RetryBackoffMax = cmp.Or(c.RetryBackoffMax, DefaultRetryBackoffMax)
	c.ReconnectBackoff = cmp.Or(c.ReconnectBackoff, DefaultReconnectBackoff)
	c.ReconnectBackoffMax = cmp.Or(c.ReconnectBackoffMax, DefaultReconnectBackoffMax)
	c.DialTimeout = cmp.Or(c.DialTimeout, DefaultDialTimeout)
	c.Heartbeat = cmp.Or(c.Heartbeat, DefaultHeartbeat)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, DefaultDrainTimeout)
	return c
}

func (c Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("broker.%s %s", key, fmt.Sprintf(format, args...)))
	}
	if _, err := amqp.ParseURI(c.URL); err != nil {
		// The parse error may quote the URI; report only the reason.
		bad("url", "is not a valid AMQP URI (amqp://user:password@host:port/vhost)")
	}
	if len(c.Prefix) > 200 {
		bad("prefix", "must be at most 200 bytes so queue names stay under 255, got %d", len(c.Prefix))
	}
	for q, n := range c.Prefetch {
		if n < 1 || n > 65535 {
			bad(fmt.Sprintf("prefetch[%s]", q), "must be between 1 and 65535, got %d", n)
		}
	}
	positive := []struct {
		key string
		val int64
	}{
		{"publish_channels", int64(c.PublishChannels)},
		{"max_attempts", int64(c.MaxAttempts)},
		{"retry_backoff", int64(c.RetryBackoff)},
		{"retry_backoff_max", int64(c.RetryBackoffMax)},
		{"reconnect_backoff", int64(c.ReconnectBackoff)},
		{"reconnect_backoff_max", int64(c.ReconnectBackoffMax)},
		{"dial_timeout", int64(c.DialTimeout)},
		{"heartbeat", int64(c.Heartbeat)},
		{"drain_timeout", int64(c.DrainTimeout)},
	}
	for _, p := range positive {
		if p.val <= 0 {
			bad(p.key, "must be positive, got %d", p.val)
		}
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		bad("retry_backoff_max", "must not be below retry_backoff (%s), got %s", c.RetryBackoff, c.RetryBackoffMax)
	}
	if c.ReconnectBackoffMax < c.ReconnectBackoff {
		bad("reconnect_backoff_max", "must not be below reconnect_backoff (%s), got %s", c.ReconnectBackoff, c.ReconnectBackoffMax)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid broker config: %w", err)
	}
	return nil
}

// maskURL returns the URI with its password replaced, safe for logs.
func maskURL(raw string) string {
	uri, err := amqp.ParseURI(raw)
	if err != nil {
		return "(invalid AMQP URI)"
	}
	if uri.Password != "" {
		uri.Password = "xxxxx"
	}
	return uri.String()
}
