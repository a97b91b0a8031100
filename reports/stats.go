package reports

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/store"
)

// Dimension is a grouping of statistics.
type Dimension string

// Dimensions of StatsQuery.
const (
	DimDay      Dimension = "DAY"
	DimHour     Dimension = "HOUR"
	DimApp      Dimension = "APP"
	DimChannel  Dimension = "CHANNEL"
	DimTemplate Dimension = "TEMPLATE"
	DimTask     Dimension = "TASK"
	DimStatus   Dimension = "STATUS"
)

// StatsQuery asks for counts over a time range of one app.
type StatsQuery struct {
	AppID      int64
	From, To   time.Time
	Dimensions []Dimension
	Channel    channels.Channel
	TemplateID int64
	TaskID     int64
	Limit      int
}

// Counts are the metrics of a statistics row: each message counts once per milestone it
// reached; a message's current status is one of failed, suppressed and redundant at most.
type Counts struct {
	Sent, Delivered, Displayed, Clicked, Failed, Suppressed, Redundant, Total int64
	// Fallbacks counts messages after which a fallback chain moved to its next channel.
	Fallbacks int64
	Cost      float64
}

func (c *Counts) add(o Counts) {
	c.Sent += o.Sent
	c.Delivered += o.Delivered
	c.Displayed += o.Displayed
	c.Clicked += o.Clicked
	c.Failed += o.Failed
	c.Suppressed += o.Suppressed
	c.Redundant += o.Redundant
	c.Total += o.Total
	c.Fallbacks += o.Fallbacks
	c.Cost += o.Cost
}

// StatsRow is one group of statistics; the fields of dimensions not asked for are empty.
type StatsRow struct {
	Day        string
	Hour       int
	HasHour    bool
	AppID      int64
	Channel    channels.Channel
	TemplateID int64
	TaskID     int64
	Status     channels.Status
	Counts
}

// StatsResult holds the rows and their totals; totals equal the sum of all rows.
type StatsResult struct {
	Rows   []StatsRow
	Totals Counts
}

// Stats answers statistics from the day tables of every statistics shard, queried in
// parallel and merged.
type Stats struct {
	db  *store.DB
	loc *time.Location
}

// NewStats returns the statistics reader; loc names days.
func NewStats(db *store.DB, loc *time.Location) *Stats { return &Stats{db: db, loc: loc} }

// MaxStatsRange is the longest range one statistics query may cover.
const MaxStatsRange = 400 * 24 * time.Hour

// Query runs a statistics query for a caller that may read the app.
func (s *Stats) Query(ctx context.Context, q StatsQuery) (*StatsResult, error) {
	if _, err := account.Authorize(ctx, q.AppID, account.Viewer, "input.appId"); err != nil {
		return nil, err
	}
	if !q.To.After(q.From) {
		return nil, fault.BadInput("input.to", "must be after input.from")
	}
	if q.To.Sub(q.From) > MaxStatsRange {
		return nil, fault.BadInput("input.to", "the range may cover at most 400 days")
	}
	if q.Channel != "" && !q.Channel.Valid() {
		return nil, fault.BadInput("input.channel", "unknown channel %q", q.Channel)
	}
	seen := map[Dimension]bool{}
	for i, d := range q.Dimensions {
		if _, ok := dimColumn(d, 0); !ok {
			return nil, fault.BadInput(fmt.Sprintf("input.dimensions[%d]", i), "unknown dimension %q", d)
		}
		if seen[d] {
			return nil, fault.BadInput(fmt.Sprintf("input.dimensions[%d]", i), "dimension %s is given twice", d)
		}
		seen[d] = true
	}
	if q.Limit < 0 || q.Limit > 100000 {
		return nil, fault.BadInput("input.limit", "must be between 0 and 100000")
	}
	// A message's row lives in the table of the day its task queued it, and may be recorded
	// after that day ended (a shard sent after midnight), so the day before the range is read
	// too; created_at decides what is in the range and which day a row counts for.
	var days []string
	for d := q.From.In(s.loc).AddDate(0, 0, -1); d.Before(q.To); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(store.DayFormat))
	}
	if last := q.To.Add(-time.Nanosecond).In(s.loc).Format(store.DayFormat); !slices.Contains(days, last) {
		days = append(days, last)
	}
	var (
		mu     sync.Mutex
		merged = map[string]*StatsRow{}
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for shard := range s.db.Stats {
		for _, day := range days {
			g.Go(func() error {
				rows, err := s.queryTable(gctx, shard, day, q)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				for _, r := range rows {
					key := rowKey(r)
					if m, ok := merged[key]; ok {
						m.add(r.Counts)
					} else {
						merged[key] = &r
					}
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res := &StatsResult{Rows: make([]StatsRow, 0, len(merged))}
	for _, r := range merged {
		res.Rows = append(res.Rows, *r)
	}
	slices.SortFunc(res.Rows, func(a, b StatsRow) int { return strings.Compare(rowKey(a), rowKey(b)) })
	if q.Limit > 0 && len(res.Rows) > q.Limit {
		res.Rows = res.Rows[:q.Limit]
	}
	for _, r := range res.Rows {
		res.Totals.add(r.Counts)
	}
	return res, nil
}

func rowKey(r StatsRow) string {
	return fmt.Sprintf("%s|%03d|%020d|%s|%020d|%020d|%s", r.Day, r.Hour, r.AppID, r.Channel, r.TemplateID, r.TaskID, r.Status)
}

// dimColumn is the SQL of a dimension; offset shifts UTC to Herald's time zone.
func dimColumn(d Dimension, offset int) (string, bool) {
	switch d {
	case DimDay:
		return fmt.Sprintf("DATE_FORMAT(created_at + INTERVAL %d SECOND, '%%Y-%%m-%%d')", offset), true
	case DimHour:
		return fmt.Sprintf("HOUR(created_at + INTERVAL %d SECOND)", offset), true
	case DimApp:
		return "app_id", true
	case DimChannel:
		return "channel", true
	case DimTemplate:
		return "template_id", true
	case DimTask:
		return "task_id", true
	case DimStatus:
		return "status", true
	}
	return "", false
}

func (s *Stats) queryTable(ctx context.Context, shard int, day string, q StatsQuery) ([]StatsRow, error) {
	dayStart, err := time.ParseInLocation(store.DayFormat, day, s.loc)
	if err != nil {
		return nil, err
	}
	_, offset := dayStart.Zone()
	var cols, groups []string
	for _, d := range q.Dimensions {
		c, _ := dimColumn(d, offset)
		cols = append(cols, c)
		groups = append(groups, c)
	}
	sel := "SELECT " + strings.Join(append(cols,
		"COUNT(*)", "COUNT(sent_at)", "COUNT(delivered_at)", "COUNT(displayed_at)", "COUNT(clicked_at)",
		"SUM(status = 'FAILED')", "SUM(status = 'SUPPRESSED')", "SUM(status = 'REDUNDANT')", "COALESCE(SUM(cost), 0)"), ", ")
	where := " FROM " + store.DayTable(day) + " WHERE app_id = ? AND created_at >= ? AND created_at < ?"
	args := []any{q.AppID, q.From.UTC(), q.To.UTC()}
	if q.Channel != "" {
		where += " AND channel = ?"
		args = append(args, string(q.Channel))
	}
	if q.TemplateID != 0 {
		where += " AND template_id = ?"
		args = append(args, q.TemplateID)
	}
	if q.TaskID != 0 {
		where += " AND task_id = ?"
		args = append(args, q.TaskID)
	}
	query := sel + where
	if len(groups) > 0 {
		query += " GROUP BY " + strings.Join(groups, ", ")
	}
	rows, err := s.db.Stats[shard].QueryContext(ctx, query, args...)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1146 {
		return nil, nil // no table for that day: nothing was sent
	}
	if err != nil {
		return nil, fmt.Errorf("error querying statistics: %w", err)
	}
	defer rows.Close()
	var out []StatsRow
	for rows.Next() {
		dims := make([]any, len(q.Dimensions))
		raw := make([]string, len(q.Dimensions))
		for i := range dims {
			dims[i] = &raw[i]
		}
		var (
			r         StatsRow
			f, su, re *int64
		)
		f, su, re = new(int64), new(int64), new(int64)
		dest := append(dims, &r.Total, &r.Sent, &r.Delivered, &r.Displayed, &r.Clicked, nullInt{f}, nullInt{su}, nullInt{re}, &r.Cost)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if r.Total == 0 {
			continue
		}
		r.Failed, r.Suppressed, r.Redundant = *f, *su, *re
		for i, d := range q.Dimensions {
			switch d {
			case DimDay:
				r.Day = raw[i]
			case DimHour:
				r.Hour, _ = strconv.Atoi(raw[i])
				r.HasHour = true
			case DimApp:
				r.AppID, _ = strconv.ParseInt(raw[i], 10, 64)
			case DimChannel:
				r.Channel = channels.Channel(raw[i])
			case DimTemplate:
				r.TemplateID, _ = strconv.ParseInt(raw[i], 10, 64)
			case DimTask:
				r.TaskID, _ = strconv.ParseInt(raw[i], 10, 64)
			case DimStatus:
				r.Status = channels.Status(raw[i])
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type nullInt struct{ p *int64 }

func (n nullInt) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*n.p = 0
	case int64:
		*n.p = x
	case []byte:
		i, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return err
		}
		*n.p = int64(i)
	case float64:
		*n.p = int64(x)
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

// TaskCounts counts a task's deliveries from its rows, the ledger, from its first day to
// today.
func (s *Stats) TaskCounts(ctx context.Context, taskID int64, firstDay string, now time.Time) (Counts, error) {
	var total Counts
	start, err := time.ParseInLocation(store.DayFormat, firstDay, s.loc)
	if err != nil {
		return total, err
	}
	db := s.db.StatsShard(taskID)
	end := now.In(s.loc).Format(store.DayFormat)
	for d := start; ; d = d.AddDate(0, 0, 1) {
		day := d.Format(store.DayFormat)
		var (
			c         Counts
			f, su, re = new(int64), new(int64), new(int64)
		)
		prefix := TaskIDPrefix(day, taskID)
		err := db.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(sent_at), COUNT(delivered_at), COUNT(displayed_at), COUNT(clicked_at), SUM(status = 'FAILED'), SUM(status = 'SUPPRESSED'), SUM(status = 'REDUNDANT'), COUNT(fallback_at), COALESCE(SUM(cost), 0) FROM "+store.DayTable(day)+" WHERE id > ? AND id < ?", prefix, prefix+"~").
			Scan(&c.Total, &c.Sent, &c.Delivered, &c.Displayed, &c.Clicked, nullInt{f}, nullInt{su}, nullInt{re}, &c.Fallbacks, &c.Cost)
		var me *mysql.MySQLError
		if err != nil && !(errors.As(err, &me) && me.Number == 1146) {
			return total, fmt.Errorf("error counting task deliveries: %w", err)
		}
		c.Failed, c.Suppressed, c.Redundant = *f, *su, *re
		total.add(c)
		if day >= end || d.Sub(start) > 62*24*time.Hour {
			break
		}
	}
	return total, nil
}
