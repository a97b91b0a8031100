package reports

import (
	"cmp"
	"slices"
	"strings"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
)

// PriceKey names a unit price: a channel's (Provider empty), or one provider's of a channel.
type PriceKey struct {
	Channel  channels.Channel
	Provider string
}

// Prices are unit prices in yuan per cost unit (an SMS segment, a message), per channel and
// per provider of a channel. A message is charged the price of the provider that took it,
// or its channel's when that provider has none.
type Prices map[PriceKey]float64

// DefaultPrices are typical list prices in China.
func DefaultPrices() Prices {
	return Prices{
		{Channel: channels.AppPush}: 0, {Channel: channels.SMS}: 0.045, {Channel: channels.WeChat}: 0, {Channel: channels.DingTalk}: 0,
		{Channel: channels.Voice}: 0.12, {Channel: channels.RCS}: 0.08, {Channel: channels.Email}: 0.001, {Channel: channels.Webhook}: 0,
	}
}

// With returns p with the channels and providers of overrides priced as they say.
func (p Prices) With(overrides account.Prices) Prices {
	if len(overrides) == 0 {
		return p
	}
	out := make(Prices, len(p)+len(overrides))
	for k, v := range p {
		out[k] = v
	}
	for _, o := range overrides {
		out[PriceKey{Channel: channels.Channel(o.Channel), Provider: o.Provider}] = o.Price
	}
	return out
}

// Price is the unit price on ch through provider: the provider's own, else the channel's.
func (p Prices) Price(ch channels.Channel, provider string) float64 {
	if provider != "" {
		if v, ok := p[PriceKey{Channel: ch, Provider: provider}]; ok {
			return v
		}
	}
	return p[PriceKey{Channel: ch}]
}

// Cost is the price of units on ch sent through provider ("" for the channel's price).
func (p Prices) Cost(ch channels.Channel, provider string, units int) float64 {
	return p.Price(ch, provider) * float64(units)
}

// Keys are the priced channels and providers, channels in the order of channels.All, each
// channel's own price before its providers' (by name).
func (p Prices) Keys() []PriceKey {
	order := make(map[channels.Channel]int, len(channels.All))
	for i, ch := range channels.All {
		order[ch] = i
	}
	keys := make([]PriceKey, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b PriceKey) int {
		return cmp.Or(cmp.Compare(order[a.Channel], order[b.Channel]), strings.Compare(string(a.Channel), string(b.Channel)),
			strings.Compare(a.Provider, b.Provider))
	})
	return keys
}
