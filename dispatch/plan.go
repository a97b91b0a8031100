package dispatch

import (
	"context"
	"time"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/rule"
)

// PlannedStep is one message a route would send, and when at the latest it would start.
type PlannedStep struct {
	Channel     channels.Channel
	Address     string
	StartsAfter time.Duration
}

// SuppressedChannel is a channel a route would skip, with the reason.
type SuppressedChannel struct {
	Channel channels.Channel
	Reason  string
}

// RoutePlan is the dry run of a rule for one user.
type RoutePlan struct {
	// Route is the index of the matching route, -1 when none matches.
	Route      int
	Strategy   rule.Strategy
	Steps      []PlannedStep
	Suppressed []SuppressedChannel
	Reason     string
}

// PlanRoute shows what a rule would send to one user with these variables; it sends
// nothing. For a fallback chain every channel with an address is a step, starting when the
// ones before it missed their milestone.
func (s *Service) PlanRoute(ctx context.Context, ruleID int64, userID string, vars map[string]any) (*RoutePlan, error) {
	// An anonymous caller learns nothing, not even whether the object exists.
	if _, err := account.Require(ctx); err != nil {
		return nil, err
	}
	rl, err := s.rules.Get(ctx, ruleID, 0)
	if err != nil {
		return nil, err
	}
	if _, err := account.Authorize(ctx, rl.AppID, account.Viewer, "ruleId"); err != nil {
		return nil, fault.NotFound("ruleId", "rule %d does not exist", ruleID)
	}
	users, err := s.audience.Users(ctx, rl.AppID, []string{userID})
	if err != nil {
		return nil, err
	}
	u := users[userID]
	if u == nil {
		return nil, fault.NotFound("userId", "user %q does not exist in app %d", userID, rl.AppID)
	}
	addrs, err := s.audience.Resolve(ctx, rl.AppID, []string{userID})
	if err != nil {
		return nil, err
	}
	p := &RoutePlan{Route: rl.Match(routeEnv(u, vars))}
	if p.Route < 0 {
		p.Reason = "no route of rule " + rl.Name + " matches"
		return p, nil
	}
	rt := rl.Routes[p.Route]
	p.Strategy = rt.Strategy
	outs, err := s.audience.OptOuts(ctx, rl.AppID, []string{userID})
	if err != nil {
		return nil, err
	}
	var after time.Duration
	for _, ch := range rt.Channels {
		a := addrs[userID][ch]
		if len(a) == 0 {
			p.Suppressed = append(p.Suppressed, SuppressedChannel{Channel: ch, Reason: "no address on " + string(ch)})
			continue
		}
		if o, ok := optedOut(outs[userID], ch, ""); ok {
			reason := "opted out of every message on " + string(ch)
			if o.Class != "" {
				reason = "opted out of " + o.Class + " messages on " + string(ch) + " (other classes still go)"
			}
			p.Suppressed = append(p.Suppressed, SuppressedChannel{Channel: ch, Reason: reason})
			if o.Class == "" {
				continue
			}
		}
		p.Steps = append(p.Steps, PlannedStep{Channel: ch, Address: a[0], StartsAfter: after})
		if rt.Strategy == rule.Fallback {
			after += rt.FallbackAfter
		}
	}
	return p, nil
}

// ChannelSplit is one channel of a simulation.
type ChannelSplit struct {
	Channel    channels.Channel
	Users      int64
	Suppressed int64
	// Filtered counts users who opted out of the template's class on the channel.
	Filtered int64
	Cost     float64
}

// Simulation is what a rule would do over an audience.
type Simulation struct {
	Users       int64
	Channels    []ChannelSplit
	Unreachable int64
	NoRoute     int64
	Cost        float64
}

// SimulateRule runs the rule over every user of an audience, a thousand at a time, and
// counts the users each channel would get and what it would cost; it sends nothing. With a
// template, SMS is priced at the rendered text's segment count and channels the template
// has no variant for count as suppressed. A message is priced as the provider that takes
// it charges: the providers of the channel's first priority group share its messages by
// weight, so a unit costs the weight-weighted mean of their prices (see unitPrice). Open
// circuits and failovers are not foreseen: the simulation assumes the first group takes
// every message.
func (s *Service) SimulateRule(ctx context.Context, ruleID, audienceID, templateID int64, vars map[string]any) (*Simulation, error) {
	// An anonymous caller learns nothing, not even whether the object exists.
	if _, err := account.Require(ctx); err != nil {
		return nil, err
	}
	rl, err := s.rules.Get(ctx, ruleID, 0)
	if err != nil {
		return nil, err
	}
	if _, err := account.Authorize(ctx, rl.AppID, account.Viewer, "ruleId"); err != nil {
		return nil, fault.NotFound("ruleId", "rule %d does not exist", ruleID)
	}
	aud, err := s.audience.GetAudience(ctx, audienceID)
	if err != nil || aud.AppID != rl.AppID {
		if err != nil && fault.CodeOf(err) != fault.CodeNotFound {
			return nil, err
		}
		return nil, fault.NotFound("audienceId", "audience %d does not exist in app %d", audienceID, rl.AppID)
	}
	var tpl *content.Template
	class := "" // without a template, only opt-outs of every class count
	units := map[channels.Channel]int{}
	if templateID != 0 {
		if tpl, err = s.content.Get(ctx, templateID, 0); err != nil || tpl.AppID != rl.AppID {
			return nil, fault.NotFound("templateId", "template %d does not exist in app %d", templateID, rl.AppID)
		}
		if r, err := tpl.Render(channels.SMS, vars); err == nil {
			units[channels.SMS] = r.Segments
		}
		class = string(tpl.Class)
	}
	prices := s.writer.Prices()
	if s.accounts != nil {
		if st, err := s.accounts.Settings(ctx, rl.AppID); err == nil {
			prices = prices.With(st.Prices)
		}
	}
	price := make(map[channels.Channel]float64, len(channels.All))
	for _, ch := range channels.All {
		price[ch] = unitPrice(prices, s.registry, ch)
	}
	split := map[channels.Channel]*ChannelSplit{}
	sim := &Simulation{}
	err = s.audience.Iterate(ctx, aud, 1000, func(ids []string) error {
		users, err := s.audience.Users(ctx, rl.AppID, ids)
		if err != nil {
			return err
		}
		addrs, err := s.audience.Resolve(ctx, rl.AppID, ids)
		if err != nil {
			return err
		}
		outs, err := s.audience.OptOuts(ctx, rl.AppID, ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			u := users[id]
			if u == nil {
				continue
			}
			sim.Users++
			ri := rl.Match(routeEnv(u, vars))
			if ri < 0 {
				sim.NoRoute++
				continue
			}
			rt := rl.Routes[ri]
			reached := false
			for _, ch := range rt.Channels {
				cs := split[ch]
				if cs == nil {
					cs = &ChannelSplit{Channel: ch}
					split[ch] = cs
				}
				if len(addrs[id][ch]) == 0 || (tpl != nil && !hasVariant(tpl, ch)) {
					cs.Suppressed++
					continue
				}
				if _, out := optedOut(outs[id], ch, class); out {
					cs.Filtered++
					continue
				}
				cs.Users++
				cs.Cost += price[ch] * float64(max(units[ch], 1))
				reached = true
				if rt.Strategy == rule.Fallback {
					break
				}
			}
			if !reached {
				sim.Unreachable++
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, ch := range channels.All {
		if cs := split[ch]; cs != nil {
			sim.Channels = append(sim.Channels, *cs)
			sim.Cost += cs.Cost
		}
	}
	return sim, nil
}

// unitPrice is the expected price of one cost unit on ch. Registry.Route sends a channel's
// messages through the providers of its lowest priority, spread by weight, so the expected
// price is the weight-weighted mean of those providers' prices (each its own, else the
// channel's); providers of a higher priority take messages only on failover and do not
// count. Without a registry, or with no provider for ch, it is the channel's price.
func unitPrice(prices reports.Prices, reg *channels.Registry, ch channels.Channel) float64 {
	if reg == nil {
		return prices.Price(ch, "")
	}
	first, weights, sum := 0, 0, 0.0
	for _, p := range reg.ChannelProviders(ch) {
		at, ok := reg.PlacementOf(ch, p.Name())
		if !ok {
			continue
		}
		switch {
		case weights == 0 || at.Priority < first:
			first, weights, sum = at.Priority, 0, 0
		case at.Priority > first:
			continue
		}
		w := max(at.Weight, 1)
		weights += w
		sum += float64(w) * prices.Price(ch, p.Name())
	}
	if weights == 0 {
		return prices.Price(ch, "")
	}
	return sum / float64(weights)
}

// routeEnv is what a route condition sees: the user's attributes, then the send's
// variables over them, and the attributes again as user.<name>.
func routeEnv(u *audience.User, vars map[string]any) map[string]any {
	env := make(map[string]any, len(vars)+len(u.Attributes)+1)
	for k, v := range u.Attributes {
		env[k] = v
	}
	for k, v := range vars {
		env[k] = v
	}
	env["user"] = u.Attributes
	return env
}

// optedOut returns the opt-out that stops a message of class on ch ("" class: only an
// opt-out of every class counts, unless no class is asked, when any opt-out is returned).
func optedOut(outs []audience.OptOut, ch channels.Channel, class string) (audience.OptOut, bool) {
	for _, o := range outs {
		if o.Channel != "" && o.Channel != ch {
			continue
		}
		if class == "" || o.Class == "" || o.Class == class {
			return o, true
		}
	}
	return audience.OptOut{}, false
}
