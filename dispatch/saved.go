package dispatch

import (
	"context"
	"slices"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/reports"
)

// recordSavings records the chain messages of its that reached their milestone, ending their
// FALLBACK chain, while an SMS to the user was still to come later in it: the user was
// reached on a cheaper channel instead. Each is charged, in savedCost, what that SMS would
// have cost: the app's SMS price times the template's SMS segments (1 when they cannot be
// told). Recording twice (a redelivered timer or job) counts once.
func (w *Worker) recordSavings(ctx context.Context, j *job, its []item) error {
	var savings []reports.Saving
	for _, it := range its {
		if it.Channel == channels.SMS || !slices.ContainsFunc(it.Next, func(h hop) bool { return h.Channel == channels.SMS && h.Address != "" }) {
			continue
		}
		savings = append(savings, reports.Saving{ID: it.ID})
	}
	if len(savings) == 0 {
		return nil
	}
	prices := w.writer.Prices()
	if st, err := w.appSettings(ctx, j.AppID); err == nil {
		prices = prices.With(st.Prices)
	}
	cost := prices.Cost(channels.SMS, "", w.smsSegments(ctx, j))
	for i := range savings {
		savings[i].Cost = cost
	}
	return w.writer.MarkSaved(ctx, savings)
}

// smsSegments is the number of segments of the SMS the job's template renders, 1 when the
// template has no SMS variant or cannot be rendered.
func (w *Worker) smsSegments(ctx context.Context, j *job) int {
	tpl, err := w.content.Get(ctx, j.TemplateID, j.TemplateVersion)
	if err != nil {
		return 1
	}
	r, err := tpl.Render(channels.SMS, j.Variables)
	if err != nil || r.Segments <= 0 {
		return 1
	}
	return r.Segments
}
