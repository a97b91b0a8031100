package sim

import (
	"crypto/rand"
	"fmt"
	"hash/maphash"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-msg/herald/channels"
)

// behavior is what a test address makes the simulated vendor do.
type behavior int

const (
	deliver behavior = iota // accepted, DELIVERED after ReceiptDelay
	reject                  // refused with the vendor's permanent error
	silent                  // accepted, never a receipt
	slow                    // accepted, DELIVERED after SlowDelay
)

func (b behavior) String() string {
	switch b {
	case reject:
		return "reject"
	case silent:
		return "silent"
	case slow:
		return "slow"
	}
	return "deliver"
}

// phoneBehavior applies the test-number rules to the digits of a phone number.
func phoneBehavior(phone string) behavior {
	d := phoneDigits(phone)
	switch {
	case strings.HasSuffix(d, "0000"):
		return reject
	case strings.HasSuffix(d, "1111"):
		return silent
	case strings.HasSuffix(d, "2222"):
		return slow
	}
	return deliver
}

// addressBehavior applies the test-address rules to any address other than a phone number.
func addressBehavior(addr string) behavior {
	a := strings.ToLower(addr)
	switch {
	case strings.Contains(a, "fail"):
		return reject
	case strings.Contains(a, "silent"):
		return silent
	case strings.Contains(a, "slow"):
		return slow
	}
	return deliver
}

// phoneDigits keeps the digits of a number, dropping a leading + or 00.
func phoneDigits(phone string) string {
	p := strings.TrimSpace(phone)
	p = strings.TrimPrefix(p, "+")
	var b strings.Builder
	for _, r := range p {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return strings.TrimPrefix(b.String(), "00")
}

// validPhone accepts what Aliyun accepts: an optional +, then 7 to 15 digits.
func validPhone(phone string) bool {
	p := strings.TrimPrefix(strings.TrimSpace(phone), "+")
	if len(p) < 7 || len(p) > 15 {
		return false
	}
	for _, r := range p {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// addressKey is how an address is matched: an SMS, voice or RCS number by its national
// digits (a mainland number with or without +86 or tel:), a URL by its path and query,
// anything else as is.
func addressKey(ch channels.Channel, addr string) string {
	switch ch {
	case channels.SMS, channels.Voice, channels.RCS:
		d := phoneDigits(addr)
		if len(d) == 13 && strings.HasPrefix(d, "861") {
			d = d[2:]
		}
		return d
	case channels.Webhook:
		if u, err := url.Parse(strings.TrimSpace(addr)); err == nil && u.Path != "" {
			if u.RawQuery != "" {
				return u.Path + "?" + u.RawQuery
			}
			return u.Path
		}
	}
	return strings.TrimSpace(addr)
}

// store keeps the counters and the recent messages per address.
type store struct {
	keep int
	seed maphash.Seed

	mu        sync.Mutex
	received  map[channels.Channel]int64
	repeated  map[channels.Channel]int64
	counters  [numCounters]map[channels.Channel]int64
	addresses map[channels.Channel]map[string][]Message
	seen      map[uint64]struct{}
}

// counter names the event counters of Stats besides received and repeated.
type counter int

const (
	rejected counter = iota
	throttled
	faults
	receiptsPosted
	receiptsDropped
	undeliveredCount
	numCounters
)

func newStore(keep int) *store {
	s := &store{keep: keep, seed: maphash.MakeSeed()}
	s.reset()
	return s
}

func (s *store) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = map[channels.Channel]int64{}
	s.repeated = map[channels.Channel]int64{}
	for i := range s.counters {
		s.counters[i] = map[channels.Channel]int64{}
	}
	s.addresses = map[channels.Channel]map[string][]Message{}
	s.seen = map[uint64]struct{}{}
}

// record counts an accepted message and remembers it under its address key.
func (s *store) record(m Message) {
	key := addressKey(m.Channel, m.Address)
	var h maphash.Hash
	h.SetSeed(s.seed)
	h.WriteString(string(m.Channel))
	h.WriteByte(0)
	h.WriteString(key)
	h.WriteByte(0)
	h.WriteString(m.Content)
	pair := h.Sum64()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.received[m.Channel]++
	if _, ok := s.seen[pair]; ok {
		s.repeated[m.Channel]++
	} else {
		s.seen[pair] = struct{}{}
	}
	byAddr := s.addresses[m.Channel]
	if byAddr == nil {
		byAddr = map[string][]Message{}
		s.addresses[m.Channel] = byAddr
	}
	list := append(byAddr[key], m)
	if len(list) > s.keep {
		list = append(list[:0:0], list[len(list)-s.keep:]...)
	}
	byAddr[key] = list
}

// add counts n events of kind c on ch.
func (s *store) add(c counter, ch channels.Channel, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counters[c][ch] += n
}

func (s *store) messages(ch channels.Channel, key string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.addresses[ch][key]
	out := make([]Message, len(list))
	for i, m := range list {
		out[len(list)-1-i] = m
	}
	return out
}

func (s *store) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		Received:        clone(s.received),
		Addresses:       map[channels.Channel]int64{},
		Repeated:        clone(s.repeated),
		Rejected:        clone(s.counters[rejected]),
		Throttled:       clone(s.counters[throttled]),
		Faults:          clone(s.counters[faults]),
		Receipts:        clone(s.counters[receiptsPosted]),
		ReceiptsDropped: clone(s.counters[receiptsDropped]),
		Undelivered:     clone(s.counters[undeliveredCount]),
	}
	for ch, byAddr := range s.addresses {
		st.Addresses[ch] = int64(len(byAddr))
	}
	return st
}

func clone(m map[channels.Channel]int64) map[channels.Channel]int64 {
	out := make(map[channels.Channel]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// idSource makes request ids and vendor message ids.
type idSource struct{ n atomic.Uint64 }

// requestID returns an upper-case UUID-shaped id, as Aliyun's RequestId.
func (*idSource) requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// bizID returns an id shaped like Aliyun's BizId ("<digits>^0").
func (i *idSource) bizID() string {
	return fmt.Sprintf("%d%06d^0", time.Now().Unix(), i.n.Add(1)%1_000_000)
}

// vendorID returns a webhook delivery id.
func (i *idSource) vendorID(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().Unix(), i.n.Add(1))
}

// nonceCache remembers signature nonces for the 15 minutes a timestamp stays valid.
type nonceCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

const nonceTTL = 15 * time.Minute

func newNonceCache() *nonceCache { return &nonceCache{seen: map[string]time.Time{}} }

// use records nonce and reports whether it was fresh.
func (c *nonceCache) use(nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.seen[nonce]; ok && now.Sub(t) < nonceTTL {
		return false
	}
	if len(c.seen) >= 1<<16 {
		for k, t := range c.seen {
			if now.Sub(t) >= nonceTTL {
				delete(c.seen, k)
			}
		}
	}
	c.seen[nonce] = now
	return true
}

// bucket is a token bucket refilled at rate tokens per second, holding at most one second's
// worth; a nil bucket never limits.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newBucket(rate int) *bucket {
	if rate <= 0 {
		return nil
	}
	return &bucket{rate: float64(rate), tokens: float64(rate), last: time.Now()}
}

// take removes n tokens if there are that many.
func (b *bucket) take(n int) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.tokens = min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}
