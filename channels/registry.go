package channels

import (
	"errors"
	"fmt"
	"sync"
)

// ErrUnverified is returned by a ReceiptParser when a callback request fails verification
// (wrong token, bad signature, stale timestamp); the callback handler answers 401 and keeps
// nothing of the request.
var ErrUnverified = errors.New("receipt failed verification")

// ErrNoProvider reports that no provider carries a channel.
var ErrNoProvider = errors.New("no provider for channel")

// Registry holds the providers Herald sends through, per channel, in registration order.
// The first provider registered for a channel is its primary; later ones are kept for
// failover and weighting. The zero value is an empty registry ready for use.
type Registry struct {
	mu        sync.RWMutex
	all       []Provider
	byChannel map[Channel][]Provider
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register adds p after the providers already registered for its channel. It panics when p
// is nil, carries an unknown channel or repeats the name of a provider of the same channel:
// those are wiring mistakes, caught at start.
func (r *Registry) Register(p Provider) {
	if p == nil {
		panic("channels: Register of a nil provider")
	}
	ch := p.Channel()
	if !ch.Valid() {
		panic(fmt.Sprintf("channels: provider %q carries unknown channel %q", p.Name(), ch))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.byChannel[ch] {
		if q.Name() == p.Name() {
			panic(fmt.Sprintf("channels: provider %q registered twice for %s", p.Name(), ch))
		}
	}
	if r.byChannel == nil {
		r.byChannel = make(map[Channel][]Provider)
	}
	r.byChannel[ch] = append(r.byChannel[ch], p)
	r.all = append(r.all, p)
}

// Provider returns the primary provider of ch.
func (r *Registry) Provider(ch Channel) (Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ps := r.byChannel[ch]
	if len(ps) == 0 {
		return nil, false
	}
	return ps[0], true
}

// ChannelProviders returns every provider of ch in registration order.
func (r *Registry) ChannelProviders(ch Channel) []Provider {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Provider(nil), r.byChannel[ch]...)
}

// Providers returns every registered provider in registration order.
func (r *Registry) Providers() []Provider {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Provider(nil), r.all...)
}

// Channels returns the channels that have at least one provider, in the order of All.
func (r *Registry) Channels() []Channel {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Channel
	for _, ch := range All {
		if len(r.byChannel[ch]) > 0 {
			out = append(out, ch)
		}
	}
	return out
}

// ReceiptParser returns the first provider of ch, in registration order, that parses
// receipts; the callback handler of POST /callbacks/{channel} uses it.
func (r *Registry) ReceiptParser(ch Channel) (ReceiptParser, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, p := range r.byChannel[ch] {
		if rp, ok := p.(ReceiptParser); ok {
			return rp, true
		}
	}
	return nil, false
}

// ReceiptParserOf returns the receipt parser of the provider of ch named name; the callback
// handler of POST /callbacks/{channel}/{provider} uses it.
func (r *Registry) ReceiptParserOf(ch Channel, name string) (ReceiptParser, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, p := range r.byChannel[ch] {
		if p.Name() == name {
			rp, ok := p.(ReceiptParser)
			return rp, ok
		}
	}
	return nil, false
}
