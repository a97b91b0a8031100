package graph

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/dispatch"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/graph/model"
	"github.com/herald-msg/herald/reports"
	"github.com/herald-msg/herald/rule"
)

func parseID(field, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fault.BadInput(field, "%q is not an id", s)
	}
	return id, nil
}

func idString(id int64) string { return strconv.FormatInt(id, 10) }

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(field string, c *string) (string, error) {
	if c == nil || *c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*c)
	if err != nil {
		return "", fault.BadInput(field, "invalid cursor")
	}
	return string(b), nil
}

func toApp(a *account.App) *model.App {
	return &model.App{ID: idString(a.ID), Name: a.Name, CreatedAt: a.CreatedAt}
}

func toViewer(p *account.Principal) *model.Viewer {
	v := &model.Viewer{Role: model.Role(p.Role), Principal: p}
	if p.Email != "" {
		e := p.Email
		v.Email = &e
	}
	return v
}

func toUser(u *audience.User) *model.User {
	return &model.User{AppID: idString(u.AppID), ID: u.ID, Attributes: model.JSON(u.Attributes), Tags: u.Tags, AppNum: u.AppID}
}

func toTemplate(t *content.Template) *model.Template {
	m := &model.Template{ID: idString(t.ID), AppID: idString(t.AppID), Name: t.Name, Version: t.Version, CreatedAt: t.CreatedAt, Class: model.MessageClass(t.Class),
		Variables: []*model.Variable{}, Variants: []*model.Variant{}}
	for _, v := range t.Variables {
		m.Variables = append(m.Variables, &model.Variable{Name: v.Name, Type: v.Type, Required: v.Required})
	}
	for _, v := range t.Variants {
		mv := &model.Variant{Channel: model.Channel(v.Channel), Body: v.Body, Extra: model.JSON(v.Extra)}
		if v.Title != "" {
			title := v.Title
			mv.Title = &title
		}
		m.Variants = append(m.Variants, mv)
	}
	return m
}

func fromTemplateInput(in model.TemplateInput) (content.Input, error) {
	appID, err := parseID("input.appId", in.AppID)
	if err != nil {
		return content.Input{}, err
	}
	out := content.Input{AppID: appID, Name: in.Name}
	if in.Class != nil {
		out.Class = content.Class(*in.Class)
	}
	for _, v := range in.Variables {
		out.Variables = append(out.Variables, content.Variable{Name: v.Name, Type: v.Type, Required: v.Required != nil && *v.Required})
	}
	for _, v := range in.Variants {
		cv := content.Variant{Channel: channels.Channel(v.Channel), Body: v.Body, Extra: map[string]any(v.Extra)}
		if v.Title != nil {
			cv.Title = *v.Title
		}
		out.Variants = append(out.Variants, cv)
	}
	return out, nil
}

func toRule(r *rule.Rule) *model.Rule {
	m := &model.Rule{ID: idString(r.ID), AppID: idString(r.AppID), Name: r.Name, Version: r.Version, Routes: []*model.Route{}, Variables: []*model.Variable{}}
	for _, v := range r.Variables {
		m.Variables = append(m.Variables, &model.Variable{Name: v.Name, Type: v.Type})
	}
	for _, rt := range r.Routes {
		mr := &model.Route{Strategy: model.Strategy(rt.Strategy), Channels: []model.Channel{}}
		if rt.When != "" {
			w := rt.When
			mr.When = &w
		}
		for _, ch := range rt.Channels {
			mr.Channels = append(mr.Channels, model.Channel(ch))
		}
		if rt.FallbackAfter > 0 {
			d := model.Duration(rt.FallbackAfter)
			mr.FallbackAfter = &d
		}
		if rt.Until != "" {
			u := model.Milestone(rt.Until)
			mr.Until = &u
		}
		m.Routes = append(m.Routes, mr)
	}
	return m
}

func fromRuleInput(in model.RuleInput) (rule.Input, error) {
	appID, err := parseID("input.appId", in.AppID)
	if err != nil {
		return rule.Input{}, err
	}
	out := rule.Input{AppID: appID, Name: in.Name}
	for _, v := range in.Variables {
		out.Variables = append(out.Variables, rule.Variable{Name: v.Name, Type: v.Type})
	}
	for _, r := range in.Routes {
		rt := rule.Route{Strategy: rule.Strategy(r.Strategy)}
		if r.When != nil {
			rt.When = *r.When
		}
		for _, ch := range r.Channels {
			rt.Channels = append(rt.Channels, channels.Channel(ch))
		}
		if r.FallbackAfter != nil {
			rt.FallbackAfter = time.Duration(*r.FallbackAfter)
		}
		if r.Until != nil {
			rt.Until = rule.Milestone(*r.Until)
		}
		out.Routes = append(out.Routes, rt)
	}
	return out, nil
}

func toTask(t *dispatch.Task) *model.Task {
	m := &model.Task{ID: idString(t.ID), AppID: idString(t.AppID), Name: t.Name, Kind: model.TaskKind(t.Kind), Lane: model.Lane(t.Lane),
		Status: model.TaskStatus(t.Status), NextRunAt: t.NextRunAt, CreatedAt: t.CreatedAt, TaskID: t.ID, TemplateID: t.TemplateID,
		TemplateVersion: t.TemplateVersion, RuleID: t.RuleID, RuleVersion: t.RuleVersion, Day: t.Day, Total: t.Total,
		ShardsTotal: t.ShardsTotal, ShardsDone: t.ShardsDone}
	if t.Cron != "" {
		c := t.Cron
		m.Cron = &c
	}
	return m
}

func toProgress(p *dispatch.Progress) *model.TaskProgress {
	return &model.TaskProgress{Total: p.Total, ShardsTotal: p.ShardsTotal, ShardsDone: p.ShardsDone, Sent: p.Sent, Delivered: p.Delivered,
		Displayed: p.Displayed, Clicked: p.Clicked, Failed: p.Failed, Suppressed: p.Suppressed, Fallbacks: p.Fallbacks, Redundant: p.Redundant,
		Saved: p.Saved}
}

func toStatsRow(r reports.StatsRow) *model.StatsRow {
	m := &model.StatsRow{Sent: r.Sent, Delivered: r.Delivered, Displayed: r.Displayed, Clicked: r.Clicked, Failed: r.Failed,
		Suppressed: r.Suppressed, Redundant: r.Redundant, Cost: r.Cost, RedundantCost: r.RedundantCost, SavedByFallback: r.Saved,
		SavedCost: r.SavedCost}
	if r.Day != "" {
		d := r.Day
		m.Day = &d
	}
	if r.HasHour {
		h := r.Hour
		m.Hour = &h
	}
	if r.AppID != 0 {
		a := idString(r.AppID)
		m.AppID = &a
	}
	if r.Channel != "" {
		c := model.Channel(r.Channel)
		m.Channel = &c
	}
	if r.TemplateID != 0 {
		t := idString(r.TemplateID)
		m.TemplateID = &t
	}
	if r.TaskID != 0 {
		t := idString(r.TaskID)
		m.TaskID = &t
	}
	if r.Status != "" {
		s := model.DeliveryStatus(r.Status)
		m.Status = &s
	}
	return m
}

func toCounts(c reports.Counts) *model.StatsRow {
	return toStatsRow(reports.StatsRow{Counts: c})
}

func toUsers(us []*audience.User) []*model.User {
	out := make([]*model.User, len(us))
	for i, u := range us {
		out[i] = toUser(u)
	}
	return out
}

func toAudience(a *audience.Audience) *model.Audience {
	return &model.Audience{ID: idString(a.ID), Name: a.Name, Kind: model.AudienceKind(a.Kind), Domain: a}
}

func toDelivery(d reports.Delivery) *model.Delivery {
	m := &model.Delivery{ID: d.ID, TaskID: idString(d.TaskID), UserID: d.UserID, Channel: model.Channel(d.Channel), Address: d.Address,
		Status: model.DeliveryStatus(d.Status), Cost: d.Cost, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.Reason != "" {
		r := d.Reason
		m.Reason = &r
	}
	if d.Provider != "" {
		p := d.Provider
		m.Provider = &p
	}
	return m
}

func encodeDeliveryCursor(d reports.Delivery) string {
	return encodeCursor(d.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + d.ID)
}

func decodeDeliveryCursor(after *string) (*reports.DeliveryCursor, error) {
	raw, err := decodeCursor("after", after)
	if err != nil || raw == "" {
		return nil, err
	}
	at, id, ok := strings.Cut(raw, "|")
	t, perr := time.Parse(time.RFC3339Nano, at)
	if !ok || perr != nil {
		return nil, fault.BadInput("after", "invalid cursor")
	}
	return &reports.DeliveryCursor{At: t, ID: id}, nil
}

// toPrices lists every channel's price, each followed by its providers' own prices.
func toPrices(p reports.Prices) []*model.ChannelPrice {
	for _, ch := range channels.All {
		if _, ok := p[reports.PriceKey{Channel: ch}]; !ok {
			p = p.With(account.Prices{{Channel: string(ch)}})
		}
	}
	keys := p.Keys()
	out := make([]*model.ChannelPrice, 0, len(keys))
	for _, k := range keys {
		cp := &model.ChannelPrice{Channel: model.Channel(k.Channel), Price: p[k]}
		if k.Provider != "" {
			name := k.Provider
			cp.Provider = &name
		}
		out = append(out, cp)
	}
	return out
}
