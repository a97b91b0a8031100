package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/redis/go-redis/v9"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/content"
	"github.com/herald-msg/herald/reports"
)

var (
	suppressedTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_messages_suppressed_total",
		Help: "Messages suppressed by a per-user filter, by filter.",
	}, []string{"filter"})
	heldTotal = promauto.NewCounter(prometheus.CounterOpts{
		Name: "herald_jobs_held_total",
		Help: "Jobs of MARKETING messages held back for an app's quiet hours (counted at every hop).",
	})
	filterErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "herald_filter_errors_total",
		Help: "Filter checks that could not reach Redis and let the message pass.",
	})
)

type cachedSettings struct {
	settings account.Settings
	until    time.Time
}

// settingsTTL is how long a worker keeps an app's settings before reading them again.
const settingsTTL = 5 * time.Second

// appSettings returns an app's settings, cached for settingsTTL.
func (w *Worker) appSettings(ctx context.Context, appID int64) (account.Settings, error) {
	now := w.nowFunc()
	w.mu.Lock()
	c, ok := w.settings[appID]
	w.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.settings, nil
	}
	if w.accounts == nil {
		return account.DefaultSettings(), nil
	}
	st, err := w.accounts.Settings(ctx, appID)
	if err != nil {
		return st, err
	}
	w.mu.Lock()
	w.settings[appID] = cachedSettings{settings: st, until: now.Add(settingsTTL)}
	w.mu.Unlock()
	return st, nil
}

// holdDelays are the hops of the quiet-hours timer wheel: a held job waits in the longest
// delay queue that does not overshoot the end of the window, then is checked again.
var holdDelays = []time.Duration{time.Hour, 10 * time.Minute, time.Minute, 10 * time.Second}

// holdForQuietHours puts a job of MARKETING messages back on a delay queue while its app's
// quiet hours last. It reports whether the job was held.
func (w *Worker) holdForQuietHours(ctx context.Context, j *job, tpl *content.Template, d broker.Delivery) (bool, error) {
	if tpl.Class != content.Marketing {
		return false, nil
	}
	st, err := w.appSettings(ctx, j.AppID)
	if err != nil {
		return false, err
	}
	until := st.QuietUntil(w.nowFunc())
	if until.IsZero() {
		return false, nil
	}
	wait := until.Sub(w.nowFunc())
	hop := holdDelays[len(holdDelays)-1]
	for _, h := range holdDelays {
		if h <= wait {
			hop = h
			break
		}
	}
	q, err := w.delayQueueInto(ctx, "hold", hop, broker.Realtime)
	if err != nil {
		return false, err
	}
	if err := w.publisher.Publish(ctx, q, broker.Message{Body: d.Body, Priority: d.Priority, MessageID: d.MessageID, ContentType: "application/json"}); err != nil {
		return false, fmt.Errorf("error holding job for quiet hours: %w", err)
	}
	heldTotal.Inc()
	w.logger.InfoContext(ctx, "job held for quiet hours", "task_id", j.TaskID, "until", until.Format(time.RFC3339), "next_check_in", hop.String())
	return true, nil
}

// filter marks QUEUED items SUPPRESSED, with the reason, when the user opted out of the
// template's class on the channel, or, for MARKETING messages, when first is set and the user
// reached the app's frequency cap, or when the same content reached the user on the channel
// within the dedupe window. The Redis-backed checks pass when Redis cannot be reached.
func (w *Worker) filter(ctx context.Context, j *job, tpl *content.Template, items []item, rendered map[string]*content.Rendered, first bool) ([]item, error) {
	var users []string
	seen := map[string]bool{}
	for _, it := range items {
		if it.Status == reports.Queued && !seen[it.UserID] {
			seen[it.UserID] = true
			users = append(users, it.UserID)
		}
	}
	if len(users) == 0 {
		return items, nil
	}
	suppress := func(i int, filter, reason string) {
		items[i].Status, items[i].Reason = reports.Suppressed, reason
		suppressedTotal.WithLabelValues(filter).Inc()
	}
	if w.audience != nil {
		outs, err := w.audience.OptOuts(ctx, j.AppID, users)
		if err != nil {
			return nil, err
		}
		for i, it := range items {
			if it.Status != reports.Queued {
				continue
			}
			for _, o := range outs[it.UserID] {
				if o.Covers(it.Channel, string(tpl.Class)) {
					suppress(i, "opt_out", fmt.Sprintf("opted out of %s messages on %s", tpl.Class, it.Channel))
					break
				}
			}
		}
	}
	if w.redis == nil {
		return items, nil
	}
	st, err := w.appSettings(ctx, j.AppID)
	if err != nil {
		return nil, err
	}
	if first && tpl.Class == content.Marketing && st.FrequencyCap.Max > 0 {
		capped, err := w.frequencyCapped(ctx, j, users, st.FrequencyCap)
		if err != nil {
			filterErrors.Inc()
			w.logger.WarnContext(ctx, "frequency cap not checked: Redis unavailable", "task_id", j.TaskID, "error", err)
		}
		for i, it := range items {
			if it.Status == reports.Queued && capped[it.UserID] {
				suppress(i, "frequency_cap", fmt.Sprintf("frequency cap: at most %d MARKETING messages per %s", st.FrequencyCap.Max, st.FrequencyCap.Window))
			}
		}
	}
	// A TRANSACTIONAL message is never a duplicate: "resend my code" must reach the user (a
	// caller that wants deduplication there passes an idempotency key).
	if st.DedupeWindow > 0 && tpl.Class == content.Marketing {
		dups, err := w.duplicates(ctx, j, items, rendered, st.DedupeWindow)
		if err != nil {
			filterErrors.Inc()
			w.logger.WarnContext(ctx, "duplicate content not checked: Redis unavailable", "task_id", j.TaskID, "error", err)
		}
		for i, it := range items {
			if prev, ok := dups[it.ID]; ok && it.Status == reports.Queued {
				suppress(i, "duplicate", fmt.Sprintf("same content sent on %s within %s (message %s)", it.Channel, st.DedupeWindow, prev))
			}
		}
	}
	return items, nil
}

// frequencyCapped reports the users past the cap. Each user has a sorted set of the tasks
// that reached them, scored by time; a task counts once however often its job is retried,
// and the user is capped when this task is not among the first Max of the window.
func (w *Worker) frequencyCapped(ctx context.Context, j *job, users []string, fc account.FrequencyCap) (map[string]bool, error) {
	now := w.nowFunc()
	member := strconv.FormatInt(j.TaskID, 10)
	pipe := w.redis.Pipeline()
	ranks := make([]*redis.IntCmd, len(users))
	for i, u := range users {
		key := fmt.Sprintf("%sfreq:{%d:%s}", w.redisPrefix, j.AppID, u)
		pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now.Add(-fc.Window).UnixMilli(), 10))
		pipe.ZAddNX(ctx, key, redis.Z{Score: float64(now.UnixMilli()), Member: member})
		ranks[i] = pipe.ZRank(ctx, key, member)
		pipe.PExpire(ctx, key, fc.Window)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := map[string]bool{}
	for i, u := range users {
		if r, err := ranks[i].Result(); err == nil && r >= int64(fc.Max) {
			out[u] = true
		}
	}
	return out, nil
}

// duplicates returns, for items whose rendered content already reached the same user on the
// same channel within window, the id of the earlier message. The first message of a content
// claims its key with SET NX; a retried job finds its own id there and passes.
func (w *Worker) duplicates(ctx context.Context, j *job, items []item, rendered map[string]*content.Rendered, window time.Duration) (map[string]string, error) {
	pipe := w.redis.Pipeline()
	cmds := map[string]*redis.StatusCmd{}
	for _, it := range items {
		r := rendered[it.ID]
		if it.Status != reports.Queued || r == nil {
			continue
		}
		h := sha256.New()
		h.Write([]byte(r.Title))
		h.Write([]byte{0})
		h.Write([]byte(r.Body))
		if r.Extra != nil {
			b, _ := json.Marshal(r.Extra)
			h.Write([]byte{0})
			h.Write(b)
		}
		key := fmt.Sprintf("%sdup:{%d:%s}:%s:%s", w.redisPrefix, j.AppID, it.UserID, it.Channel, hex.EncodeToString(h.Sum(nil)[:12]))
		cmds[it.ID] = pipe.SetArgs(ctx, key, it.ID, redis.SetArgs{Mode: "NX", Get: true, TTL: window})
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := map[string]string{}
	for id, c := range cmds {
		prev, err := c.Result()
		if err == nil && prev != id {
			out[id] = prev
		}
	}
	return out, nil
}
