package server

import (
	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/graph"
)

// mutationLimit is the per-caller mutation budget of HERALD_MUTATION_RATE and
// HERALD_MUTATION_BURST, kept in Redis; nil when the rate is "off".
func (h *Herald) mutationLimit() *graph.MutationLimit {
	rate, _ := h.cfg.MutationLimit() // validated at start
	if rate == 0 {
		return nil
	}
	return &graph.MutationLimit{Limiter: dispatch.NewRateLimiter(h.Redis, h.cfg.RedisPrefix, h.logger), Rate: rate, Burst: h.cfg.MutationBurst,
		Logger: h.logger.With("component", "graph.ratelimit")}
}
