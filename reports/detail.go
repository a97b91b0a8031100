package reports

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
)

// DeliveryFilter selects delivery detail rows of one app in a time range.
type DeliveryFilter struct {
	AppID    int64
	TaskID   int64
	UserID   string
	Channel  channels.Channel
	Status   channels.Status
	From, To time.Time
}

// DeliveryCursor is the position after which a page starts: rows are ordered by the time
// they were recorded, then by id.
type DeliveryCursor struct {
	At time.Time
	ID string
}

// MaxDetailRange is the longest range one detail query may cover.
const MaxDetailRange = 93 * 24 * time.Hour

// MaxDeliveriesPage is the most deliveries one page may hold.
const MaxDeliveriesPage = 500

// Deliveries pages delivery detail oldest first with a keyset cursor, reading the day
// tables in order (every shard of a day in parallel, or only the task's shard) and stopping
// as soon as the page is full.
func (s *Stats) Deliveries(ctx context.Context, f DeliveryFilter, first int, after *DeliveryCursor) ([]Delivery, bool, error) {
	if _, err := account.Authorize(ctx, f.AppID, account.Viewer, "filter.appId"); err != nil {
		return nil, false, err
	}
	if !f.To.After(f.From) {
		return nil, false, fault.BadInput("filter.to", "must be after filter.from")
	}
	if f.To.Sub(f.From) > MaxDetailRange {
		return nil, false, fault.BadInput("filter.to", "the range may cover at most 93 days; use stats for longer ones")
	}
	if f.Channel != "" && !f.Channel.Valid() {
		return nil, false, fault.BadInput("filter.channel", "unknown channel %q", f.Channel)
	}
	if first < 1 || first > MaxDeliveriesPage {
		return nil, false, fault.BadInput("first", "must be between 1 and %d", MaxDeliveriesPage)
	}
	shards := make([]int, len(s.db.Stats))
	for i := range shards {
		shards[i] = i
	}
	if f.TaskID != 0 {
		shards = []int{s.db.StatsShardIndex(f.TaskID)}
	}
	var out []Delivery
	// A row may sit in the table of the day before the one it was recorded on, so the table
	// after the one that filled the page is read too before the page is cut.
	fullAt := ""
	// The days run from local midnights: a range from 23:30 to 01:30 the next morning
	// covers both days.
	for d := dayOf(f.From, s.loc).In(s.loc).AddDate(0, 0, -1); d.Before(f.To); d = d.AddDate(0, 0, 1) {
		if fullAt != "" {
			if d.Format(store.DayFormat) > fullAt {
				break
			}
		}
		day := d.Format(store.DayFormat)
		var (
			mu   sync.Mutex
			rows []Delivery
		)
		g, gctx := errgroup.WithContext(ctx)
		for _, sh := range shards {
			g.Go(func() error {
				got, err := s.detail(gctx, sh, day, f, first+1, after)
				mu.Lock()
				rows = append(rows, got...)
				mu.Unlock()
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, false, err
		}
		out = append(out, rows...)
		slices.SortFunc(out, func(a, b Delivery) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		if fullAt == "" && len(out) > first {
			fullAt = d.AddDate(0, 0, 1).Format(store.DayFormat)
		}
	}
	more := len(out) > first
	if more {
		out = out[:first]
	}
	return out, more, nil
}

func (s *Stats) detail(ctx context.Context, shard int, day string, f DeliveryFilter, limit int, after *DeliveryCursor) ([]Delivery, error) {
	where := "app_id = ? AND created_at >= ? AND created_at < ?"
	args := []any{f.AppID, f.From.UTC(), f.To.UTC()}
	dl := s.db.Dialect
	if after != nil {
		cond, condArgs := dl.RowsAfter([]string{"created_at", "id"}, []any{after.At.UTC(), after.ID})
		where += " AND " + cond
		args = append(args, condArgs...)
	}
	if f.TaskID != 0 {
		p := TaskIDPrefix(day, f.TaskID)
		where += " AND id > ? AND id < ?"
		args = append(args, p, p+"~")
	}
	if f.UserID != "" {
		where += " AND user_id = ?"
		args = append(args, f.UserID)
	}
	if f.Channel != "" {
		where += " AND channel = ?"
		args = append(args, string(f.Channel))
	}
	if f.Status != "" {
		where += " AND status = ?"
		args = append(args, string(f.Status))
	}
	args = append(args, limit)
	rows, err := s.db.Stats[shard].QueryContext(ctx, detailSQL(dl, day, where), args...)
	if dl.MissingTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error reading deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(deliveryDest(&d)...); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
