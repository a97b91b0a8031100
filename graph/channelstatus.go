package graph

import (
	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/graph/model"
)

// channelStatus converts a provider's status; rates are the messages-per-second caps.
func channelStatus(ps dispatch.ProviderStatus, rates map[string]float64) *model.ChannelStatus {
	h := ps.Health
	st := &model.ChannelStatus{Channel: model.Channel(ps.Channel), Provider: ps.Provider, Healthy: ps.Circuit == dispatch.CircuitClosed,
		Circuit: ps.Circuit, Priority: ps.Placement.Priority, Weight: ps.Placement.Weight, WindowSeconds: int(dispatch.HealthWindow.Seconds()),
		Calls: int(h.Calls), FailedCalls: int(h.FailedCalls), Messages: int(h.Messages), Failures: int(h.Failures)}
	if rate, ok := rates[ps.Provider]; ok && rate > 0 {
		st.RatePerSecond = &rate
	}
	if !ps.CircuitAt.IsZero() {
		at := ps.CircuitAt
		st.CircuitAt = &at
	}
	if rate, ok := h.SuccessRate(); ok {
		st.SuccessRate = &rate
	}
	if d, ok := h.LatencyQuantile(0.5); ok {
		ms := float64(d.Microseconds()) / 1000
		st.LatencyP50Ms = &ms
	}
	if d, ok := h.LatencyQuantile(0.95); ok {
		ms := float64(d.Microseconds()) / 1000
		st.LatencyP95Ms = &ms
	}
	return st
}
