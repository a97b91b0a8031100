package channels

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrUnverified is returned by a ReceiptParser when a callback request fails verification
// (wrong token, bad signature, stale timestamp); the callback handler answers 401 and keeps
// nothing of the request.
var ErrUnverified = errors.New("receipt failed verification")

// ErrNoProvider reports that no provider carries a channel.
var ErrNoProvider = errors.New("no provider for channel")

// Registry holds the providers Herald sends through, per channel. Each provider has a
// priority (lower goes first) and a weight: Route orders a channel's providers by priority
// and, within one priority, spreads the batches over the providers in proportion to their
// weights; the dispatcher sends through the first provider of the route and fails over to
// the next on a provider error, a retryable answer or an open circuit. The zero value is an
// empty registry ready for use.
type Registry struct {
	mu        sync.RWMutex
	all       []Provider
	byChannel map[Channel][]Provider
	slots     map[Channel][]*slot
}

// Placement is where a provider stands in its channel's route.
type Placement struct {
	// Priority orders the providers of a channel: every provider of a lower priority is
	// tried before any of a higher one. Registration order breaks ties between equal
	// priorities with equal weights.
	Priority int
	// Weight is the provider's share of its priority group's batches; 0 means 1.
	Weight int
}

// slot is a provider with its placement and its smooth weighted round-robin state.
type slot struct {
	p       Provider
	at      Placement
	current int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Register adds p after the providers already registered for its channel, at priority 0
// with weight 1. It panics when p is nil, carries an unknown channel or repeats the name of
// a provider of the same channel: those are wiring mistakes, caught at start.
func (r *Registry) Register(p Provider) { r.RegisterAt(p, Placement{}) }

// RegisterAt adds p with the given placement; it panics like Register, and on a negative
// weight.
func (r *Registry) RegisterAt(p Provider, at Placement) {
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
	if at.Weight < 0 {
		panic(fmt.Sprintf("channels: provider %q has negative weight %d", p.Name(), at.Weight))
	}
	at.Weight = max(at.Weight, 1)
	if r.byChannel == nil {
		r.byChannel = make(map[Channel][]Provider)
		r.slots = make(map[Channel][]*slot)
	}
	r.byChannel[ch] = append(r.byChannel[ch], p)
	r.slots[ch] = append(r.slots[ch], &slot{p: p, at: at})
	r.all = append(r.all, p)
}

// Route returns the providers of ch in the order a batch should try them: by priority,
// and within one priority the provider whose turn it is by weight (smooth weighted
// round-robin, as nginx spreads upstream requests) first, the others after it by weight.
// Every call advances the round-robin of the first priority group.
func (r *Registry) Route(ch Channel) []Provider {
	r.mu.Lock()
	defer r.mu.Unlock()
	slots := r.slots[ch]
	if len(slots) == 0 {
		return nil
	}
	ordered := append([]*slot(nil), slots...)
	slices.SortStableFunc(ordered, func(a, b *slot) int { return cmp.Compare(a.at.Priority, b.at.Priority) })
	out := make([]Provider, 0, len(ordered))
	for start := 0; start < len(ordered); {
		end := start + 1
		for end < len(ordered) && ordered[end].at.Priority == ordered[start].at.Priority {
			end++
		}
		group := ordered[start:end]
		if start == 0 && len(group) > 1 {
			pick(group)
		}
		// The group's pick first, then the rest by weight, heaviest first.
		rest := append([]*slot(nil), group...)
		slices.SortStableFunc(rest, func(a, b *slot) int {
			if start == 0 && a.current != b.current {
				return cmp.Compare(b.current, a.current)
			}
			return cmp.Compare(b.at.Weight, a.at.Weight)
		})
		for _, s := range rest {
			out = append(out, s.p)
		}
		if start == 0 && len(group) > 1 {
			// Charge the chosen provider after ordering, as smooth weighted round-robin does.
			total := 0
			for _, s := range group {
				total += s.at.Weight
			}
			rest[0].current -= total
		}
		start = end
	}
	return out
}

// pick adds each slot's weight to its current value; the largest current is the turn.
func pick(group []*slot) {
	for _, s := range group {
		s.current += s.at.Weight
	}
}

// PlacementOf returns the placement of the provider of ch named name.
func (r *Registry) PlacementOf(ch Channel, name string) (Placement, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.slots[ch] {
		if s.p.Name() == name {
			return s.at, true
		}
	}
	return Placement{}, false
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
