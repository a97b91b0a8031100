// Package bench measures what Herald's figures are compared against: the raw speed, on the
// same machine and in the same run, of the services Herald is built on. herald bench runs
// Baselines first and states every scenario figure as a ratio to the relevant baseline.
package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"
)

// Defaults of BaselineConfig.
const (
	DefaultDuration    = 3 * time.Second
	DefaultAMQPURL     = "amqp://guest:guest@127.0.0.1:5672/"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/"
	DefaultMessages    = 2_000_000
	DefaultKeys        = 200_000_000
	DefaultRows        = 5_000_000
	DefaultRequests    = 20_000_000
	DefaultMessageSize = 256
	DefaultHTTPWorkers = 4
)

// Batch sizes of the baselines: the 1,000-key pipelines and 1,000-row INSERTs that Herald's
// hot path uses too.
const (
	PipelineKeys = 1000
	InsertRows   = 1000
	// confirmBatch is how many messages are published before their confirms are awaited;
	// two batches are in flight at a time.
	confirmBatch = 500
	// redisKeys is how many hashes the HGETALL pipelines cycle over.
	redisKeys = 10 * PipelineKeys
)

// BaselineConfig says where the services are and how long and how far each baseline runs.
// Zero fields take their defaults: the HERALD_TEST_AMQP_URL, HERALD_TEST_REDIS_URL and
// HERALD_TEST_MYSQL_DSN variables, then the local servers.
type BaselineConfig struct {
	// AMQPURL is the RabbitMQ to publish to and consume from.
	AMQPURL string
	// RedisURL is the Redis to read hashes from.
	RedisURL string
	// MySQLDSN is the MariaDB/MySQL server (no database) to insert into; the user must be
	// allowed to create and drop a database.
	MySQLDSN string
	// Duration bounds each baseline's measurement (DefaultDuration).
	Duration time.Duration
	// Messages, Keys, Rows and Requests bound each baseline's count; a baseline stops at
	// whichever of its count and Duration comes first. Rows rounds up to whole INSERTs
	// of InsertRows rows.
	Messages, Keys, Rows, Requests int64
	// MessageSize is the body size of the RabbitMQ messages in bytes (DefaultMessageSize).
	MessageSize int
	// HTTPWorkers is how many goroutines send loopback requests (DefaultHTTPWorkers).
	HTTPWorkers int
	// Name names the temporary queue, database and Redis key prefix (Name + ":"); letters,
	// digits and underscores. Default: herald_bench_<random hex>.
	Name string
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// withDefaults fills the zero fields and validates the result.
func (c BaselineConfig) withDefaults() (BaselineConfig, error) {
	c.AMQPURL = cmp.Or(c.AMQPURL, os.Getenv("HERALD_TEST_AMQP_URL"), DefaultAMQPURL)
	c.RedisURL = cmp.Or(c.RedisURL, os.Getenv("HERALD_TEST_REDIS_URL"), DefaultRedisURL)
	c.MySQLDSN = cmp.Or(c.MySQLDSN, os.Getenv("HERALD_TEST_MYSQL_DSN"), DefaultMySQLDSN)
	c.Duration = cmp.Or(c.Duration, DefaultDuration)
	c.Messages = cmp.Or(c.Messages, DefaultMessages)
	c.Keys = cmp.Or(c.Keys, DefaultKeys)
	c.Rows = cmp.Or(c.Rows, DefaultRows)
	c.Requests = cmp.Or(c.Requests, DefaultRequests)
	c.MessageSize = cmp.Or(c.MessageSize, DefaultMessageSize)
	c.HTTPWorkers = cmp.Or(c.HTTPWorkers, DefaultHTTPWorkers)
	if c.Name == "" {
		c.Name = NewName()
	}
	return c, c.validate()
}

func (c BaselineConfig) validate() error {
	switch {
	case c.Duration < 0:
		return fmt.Errorf("bench: Duration must be positive, not %s", c.Duration)
	case c.Messages < 0 || c.Keys < 0 || c.Rows < 0 || c.Requests < 0:
		return errors.New("bench: Messages, Keys, Rows and Requests must not be negative")
	case c.MessageSize < 0:
		return fmt.Errorf("bench: MessageSize must not be negative, not %d", c.MessageSize)
	case c.HTTPWorkers < 0:
		return fmt.Errorf("bench: HTTPWorkers must not be negative, not %d", c.HTTPWorkers)
	case !validName.MatchString(c.Name):
		return fmt.Errorf("bench: Name %q must be lower-case letters, digits and underscores, starting with a letter", c.Name)
	}
	return nil
}

// NewName returns a fresh name for the temporary objects of one run, such as
// herald_bench_3f9a1c2b.
func NewName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "herald_bench_" + hex.EncodeToString(b)
}

// Measurement is one baseline: how many operations completed in how many seconds.
type Measurement struct {
	// Count is the operations completed: messages consumed, keys read, rows inserted or
	// requests answered.
	Count int64 `json:"count"`
	// Seconds is the wall time they took.
	Seconds float64 `json:"seconds"`
	// Rate is Count per second.
	Rate float64 `json:"rate"`
}

// String is such as "123456 in 3.00 s = 41152/s".
func (m Measurement) String() string {
	return fmt.Sprintf("%d in %.2f s = %.0f/s", m.Count, m.Seconds, m.Rate)
}

// measured makes a Measurement of count operations in d.
func measured(count int64, d time.Duration) Measurement {
	m := Measurement{Count: count, Seconds: d.Seconds()}
	if d > 0 {
		m.Rate = float64(count) / d.Seconds()
	}
	return m
}

// BaselineResult is the raw speed of each service underneath Herald.
type BaselineResult struct {
	// AMQP is persistent RabbitMQ messages published (with confirms) and consumed per second.
	AMQP Measurement `json:"amqp_publish_consume"`
	// Redis is keys read per second by pipelined HGETALL, PipelineKeys per pipeline.
	Redis Measurement `json:"redis_hgetall"`
	// MySQL is rows inserted per second by INSERTs of InsertRows rows each.
	MySQL Measurement `json:"mysql_insert"`
	// HTTP is loopback HTTP requests answered per second over keep-alive connections.
	HTTP Measurement `json:"http_loopback"`
}

// Baselines measures each baseline in turn (never at once: they would share the CPU) and
// removes the temporary objects it created, even when a measurement fails.
func Baselines(ctx context.Context, cfg BaselineConfig) (*BaselineResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var res BaselineResult
	steps := []struct {
		name string
		run  func(context.Context, BaselineConfig) (Measurement, error)
		out  *Measurement
	}{
		{"RabbitMQ publish+consume", AMQP, &res.AMQP},
		{"Redis pipelined HGETALL", Redis, &res.Redis},
		{"MariaDB batched INSERT", MySQL, &res.MySQL},
		{"loopback HTTP", HTTP, &res.HTTP},
	}
	for _, s := range steps {
		m, err := s.run(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("error measuring %s: %w", s.name, err)
		}
		*s.out = m
	}
	return &res, nil
}

// cleanupContext is a context for removing temporary objects after ctx may have ended.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}
