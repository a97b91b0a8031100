package reports

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// RedundantCost is the cost of the messages counted in Redundant.
	RedundantCost float64
	// Saved counts messages that reached their fallback chain's milestone before an SMS later
	// in the chain was started; SavedCost is what those SMS would have cost.
	Saved     int64
	SavedCost float64
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
	c.RedundantCost += o.RedundantCost
	c.Saved += o.Saved
	c.SavedCost += o.SavedCost
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

// Stats answers statistics from the hourly rollups of every statistics shard, queried in
// parallel and merged, and delivery detail from the day tables.
type Stats struct {
	db      *store.DB
	loc     *time.Location
	maxDays int
	now     func() time.Time
}

// DefaultStatsMaxDays is the longest range, in days, of a statistics query unless configured
// otherwise (HERALD_STATS_MAX_DAYS).
const DefaultStatsMaxDays = 400

// NewStats returns the statistics reader; loc names days.
func NewStats(db *store.DB, loc *time.Location) *Stats {
	return &Stats{db: db, loc: loc, maxDays: DefaultStatsMaxDays, now: time.Now}
}

// SetMaxDays sets the longest range, in days, one statistics query may cover.
func (s *Stats) SetMaxDays(days int) {
	if days > 0 {
		s.maxDays = days
	}
}

// MaxDays is the longest range, in days, one statistics query may cover.
func (s *Stats) MaxDays() int { return s.maxDays }

// MaxStatsLimit is the most rows one statistics query may ask for.
const MaxStatsLimit = 100000

// validate checks a statistics query and its caller.
func (s *Stats) validate(ctx context.Context, q StatsQuery) error {
	if _, err := account.Authorize(ctx, q.AppID, account.Viewer, "input.appId"); err != nil {
		return err
	}
	if !q.To.After(q.From) {
		return fault.BadInput("input.to", "must be after input.from")
	}
	if q.To.Sub(q.From) > time.Duration(s.maxDays)*24*time.Hour {
		return fault.BadInput("input.to", "the range from input.from may cover at most %d days (HERALD_STATS_MAX_DAYS)", s.maxDays)
	}
	if q.Channel != "" && !q.Channel.Valid() {
		return fault.BadInput("input.channel", "unknown channel %q", q.Channel)
	}
	seen := map[Dimension]bool{}
	for i, d := range q.Dimensions {
		if _, ok := dimColumn(d); !ok {
			return fault.BadInput(fmt.Sprintf("input.dimensions[%d]", i), "unknown dimension %q; the dimensions are DAY, HOUR, APP, CHANNEL, TEMPLATE, TASK and STATUS", d)
		}
		if seen[d] {
			return fault.BadInput(fmt.Sprintf("input.dimensions[%d]", i), "dimension %s is given twice; a combination names each dimension once", d)
		}
		seen[d] = true
	}
	if q.Limit < 0 || q.Limit > MaxStatsLimit {
		return fault.BadInput("input.limit", "must be between 0 and %d", MaxStatsLimit)
	}
	return nil
}

// Query runs a statistics query for a caller that may read the app. The range is answered
// from the coarsest rollup level that keeps the query's dimensions and filters: whole local
// days from the daily rollup (when neither TASK nor HOUR is asked for or filtered on), whole
// local hours from the hourly one (or the task-hourly one for TASK), and the rows of a partial
// hour at either end (a range that does not start or end on the hour) from the day tables (or
// as its hour's rollup less the rows outside the range, when that is fewer rows), so
// the answer is exactly the one the delivery rows give. The rollup of the current hour holds
// every row committed so far, so a range that ends at or after now reads none of the rows after
// its end: it counts the rows recorded up to the moment it is answered.
func (s *Stats) Query(ctx context.Context, q StatsQuery) (*StatsResult, error) {
	if err := s.validate(ctx, q); err != nil {
		return nil, err
	}
	return s.merge(ctx, q, s.plan(q))
}

// statsPart answers a part of a query's range, adding its rows.
type statsPart func(ctx context.Context, add func([]StatsRow)) error

// plan splits the range of q into the parts each rollup level or the day tables answer.
func (s *Stats) plan(q StatsQuery) []statsPart {
	needsTask, needsHour := q.TaskID != 0, false
	for _, d := range q.Dimensions {
		needsTask = needsTask || d == DimTask
		needsHour = needsHour || d == DimHour
	}
	hourly := Hourly
	if needsTask {
		hourly = TaskHourly
	}
	var parts []statsPart
	now := s.now()
	hours := func(from, to time.Time) {
		if !from.Before(to) {
			return
		}
		hStart, hEnd := ceilHour(from, s.loc), hourOf(to, s.loc)
		if !hStart.Before(hEnd) {
			parts = append(parts, s.partialHour(q, hourly, hourOf(from, s.loc), from, to, now)...)
			return
		}
		parts = append(parts, s.rollupPart(q, hourly, hStart, hEnd))
		if from.Before(hStart) {
			parts = append(parts, s.partialHour(q, hourly, hStart.Add(-time.Hour), from, hStart, now)...)
		}
		if hEnd.Before(to) {
			parts = append(parts, s.partialHour(q, hourly, hEnd, hEnd, to, now)...)
		}
	}
	if !needsTask && !needsHour {
		dStart, dEnd := ceilDay(q.From, s.loc), dayOf(q.To, s.loc)
		if dStart.Before(dEnd) {
			parts = append(parts, s.rollupPart(q, Daily, dStart, dEnd))
			hours(q.From, dStart)
			hours(dEnd, q.To)
			return parts
		}
	}
	hours(q.From, q.To)
	return parts
}

// partialHour answers [from, to), a part of the local hour that begins at hour, with whichever
// reads fewer delivery rows: the rows of [from, to), or the hour's rollup less the rows of the
// hour outside [from, to). Rows are recorded up to now, so the time of a stretch recorded so
// far stands for its rows: a range ending now, late in the hour, reads the few rows recorded
// since its end rather than the hour's, and a range ending at or after now reads none: the
// hour's rollup is exact up to the last commit, and the rows after now are those a commit
// since the query began added to it (or a writer's clock ahead of this one's dated so).
// Rows after the end are read through the day tables' (app_id, created_at) index, in time
// proportional to their number.
func (s *Stats) partialHour(q StatsQuery, level RollupLevel, hour, from, to, now time.Time) []statsPart {
	end := hour.Add(time.Hour)
	recorded := func(a, b time.Time) time.Duration {
		if b.After(now) {
			b = now
		}
		return max(b.Sub(a), 0)
	}
	if recorded(hour, from)+recorded(to, end) >= recorded(from, to) {
		return []statsPart{s.rowsPart(q, from, to)}
	}
	parts := []statsPart{s.rollupPart(q, level, hour, end)}
	if hour.Before(from) {
		parts = append(parts, negated(s.rowsPart(q, hour, from)))
	}
	if to.Before(now) && to.Before(end) {
		parts = append(parts, negated(s.rowsPart(q, to, end)))
	}
	return parts
}

// negated is a part whose counts are taken away from the others'.
func negated(p statsPart) statsPart {
	return func(ctx context.Context, add func([]StatsRow)) error {
		return p(ctx, func(rows []StatsRow) {
			for i := range rows {
				rows[i].Counts = rows[i].Counts.negated()
			}
			add(rows)
		})
	}
}

func (c Counts) negated() Counts {
	return Counts{Sent: -c.Sent, Delivered: -c.Delivered, Displayed: -c.Displayed, Clicked: -c.Clicked, Failed: -c.Failed,
		Suppressed: -c.Suppressed, Redundant: -c.Redundant, Total: -c.Total, Fallbacks: -c.Fallbacks, Cost: -c.Cost,
		RedundantCost: -c.RedundantCost, Saved: -c.Saved, SavedCost: -c.SavedCost}
}

// ceilHour is the start of the first local hour that begins at or after t.
func ceilHour(t time.Time, loc *time.Location) time.Time {
	h := hourOf(t, loc)
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

// ceilDay is the start of the first local day that begins at or after t.
func ceilDay(t time.Time, loc *time.Location) time.Time {
	d := dayOf(t, loc)
	if d.Before(t) {
		lt := d.In(loc)
		d = time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, loc).UTC()
	}
	return d
}

func (s *Stats) rollupPart(q StatsQuery, level RollupLevel, from, to time.Time) statsPart {
	return func(ctx context.Context, add func([]StatsRow)) error {
		return s.fromRollups(ctx, q, level, from, to, add)
	}
}

func (s *Stats) rowsPart(q StatsQuery, from, to time.Time) statsPart {
	return func(ctx context.Context, add func([]StatsRow)) error { return s.fromRows(ctx, q, from, to, add) }
}

// QueryRows answers a statistics query from the delivery rows alone, with one GROUP BY per
// day table and shard: the ledger the rollups summarise. Reconciliation checks and the
// benchmark compare the two.
func (s *Stats) QueryRows(ctx context.Context, q StatsQuery) (*StatsResult, error) {
	if err := s.validate(ctx, q); err != nil {
		return nil, err
	}
	return s.merge(ctx, q, []statsPart{s.rowsPart(q, q.From, q.To)})
}

// merge runs the parts of a query, each of which may query several shards in parallel, and
// merges their rows by group.
func (s *Stats) merge(ctx context.Context, q StatsQuery, parts []statsPart) (*StatsResult, error) {
	var (
		mu     sync.Mutex
		merged = map[string]*StatsRow{}
	)
	add := func(rows []StatsRow) {
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
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, part := range parts {
		g.Go(func() error { return part(gctx, add) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res := &StatsResult{Rows: make([]StatsRow, 0, len(merged))}
	for _, r := range merged {
		if r.Total == 0 {
			continue // every message of the group moved to another status group, or was taken away
		}
		// Costs are kept to 4 decimals; sums and differences stay so.
		r.Cost, r.RedundantCost, r.SavedCost = round4(r.Cost), round4(r.RedundantCost), round4(r.SavedCost)
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

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

func rowKey(r StatsRow) string {
	return fmt.Sprintf("%s|%03d|%020d|%s|%020d|%020d|%s", r.Day, r.Hour, r.AppID, r.Channel, r.TemplateID, r.TaskID, r.Status)
}

// dimColumn is the column of a dimension other than DAY and HOUR, which come from the time
// of the rows' hour (rollups) or quarter hour (delivery rows), converted to Herald's zone.
func dimColumn(d Dimension) (string, bool) {
	switch d {
	case DimDay, DimHour:
		return "", true
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

// shardsOf are the statistics shards that may hold rows of q.
func (s *Stats) shardsOf(q StatsQuery) []int {
	if q.TaskID != 0 {
		return []int{s.db.StatsShardIndex(q.TaskID)}
	}
	out := make([]int, len(s.db.Stats))
	for i := range out {
		out[i] = i
	}
	return out
}

// groupBy returns the grouping columns of q, with timeCol first when q has a time dimension.
func groupBy(q StatsQuery, timeCol string) (cols []string, timed bool) {
	for _, d := range q.Dimensions {
		if d == DimDay || d == DimHour {
			timed = true
		}
	}
	if timed {
		cols = append(cols, timeCol)
	}
	for _, d := range q.Dimensions {
		if c, _ := dimColumn(d); c != "" {
			cols = append(cols, c)
		}
	}
	return cols, timed
}

// filters returns the WHERE conditions of q's optional filters and their arguments.
func filters(q StatsQuery) (string, []any) {
	var (
		where string
		args  []any
	)
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
	return where, args
}

// fromRollups answers q for the periods that start in [from, to) from a rollup level of
// every shard in parallel.
func (s *Stats) fromRollups(ctx context.Context, q StatsQuery, level RollupLevel, from, to time.Time, add func([]StatsRow)) error {
	query, args := rollupStatsSQL(s.db.Dialect, level, q, from, to)
	g, gctx := errgroup.WithContext(ctx)
	for _, shard := range s.shardsOf(q) {
		g.Go(func() error {
			rows, err := s.scan(gctx, shard, q, query, args, func(v string) (time.Time, error) {
				return time.Parse(time.RFC3339Nano, v)
			})
			if err != nil {
				return fmt.Errorf("error querying statistics: %w", err)
			}
			add(rows)
			return nil
		})
	}
	return g.Wait()
}

// fromRows answers q for rows created in [from, to) from the day tables that may hold them:
// a message's row lives in the table of the day its task queued it and may be recorded after
// that day ended (a shard sent after midnight), so the day before is read too. created_at
// decides what is in the range and which hour and day a row counts for.
func (s *Stats) fromRows(ctx context.Context, q StatsQuery, from, to time.Time, add func([]StatsRow)) error {
	var days []string
	for d := from.In(s.loc).AddDate(0, 0, -1); d.Before(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(store.DayFormat))
	}
	if last := to.Add(-time.Nanosecond).In(s.loc).Format(store.DayFormat); !slices.Contains(days, last) {
		days = append(days, last)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, shard := range s.shardsOf(q) {
		for _, day := range days {
			g.Go(func() error {
				query, args := rowsStatsSQL(s.db.Dialect, q, day, from, to)
				rows, err := s.scan(gctx, shard, q, query, args, func(v string) (time.Time, error) {
					n, err := strconv.ParseInt(v, 10, 64)
					return rawBucketTime(n), err
				})
				if s.db.Dialect.MissingTable(err) {
					return nil // no table for that day: nothing was sent
				}
				if err != nil {
					return fmt.Errorf("error querying statistics: %w", err)
				}
				add(rows)
				return nil
			})
		}
	}
	return g.Wait()
}

// scan runs a statistics statement on a shard and converts its rows; parseTime reads the
// time column that comes first when q has a time dimension.
func (s *Stats) scan(ctx context.Context, shard int, q StatsQuery, query string, args []any, parseTime func(string) (time.Time, error)) ([]StatsRow, error) {
	cols, timed := groupBy(q, "")
	rows, err := s.db.Stats[shard].QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StatsRow
	for rows.Next() {
		raw := make([]sql.NullString, len(cols))
		dest := make([]any, 0, len(cols)+9)
		for i := range raw {
			dest = append(dest, &raw[i])
		}
		var (
			r         StatsRow
			f, su, re = new(int64), new(int64), new(int64)
			total     = new(int64)
			cost      sql.NullFloat64
			redCost   sql.NullFloat64
			savedCost sql.NullFloat64
		)
		dest = append(dest, nullInt{total}, nullInt{&r.Sent}, nullInt{&r.Delivered}, nullInt{&r.Displayed}, nullInt{&r.Clicked}, nullInt{f}, nullInt{su}, nullInt{re}, &cost,
			&redCost, nullInt{&r.Saved}, &savedCost)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if *total == 0 {
			continue
		}
		r.Total, r.Failed, r.Suppressed, r.Redundant, r.Cost = *total, *f, *su, *re, cost.Float64
		r.RedundantCost, r.SavedCost = redCost.Float64, savedCost.Float64
		i := 0
		if timed {
			t, err := parseTime(raw[0].String)
			if err != nil {
				return nil, fmt.Errorf("unexpected time %q: %w", raw[0].String, err)
			}
			lt := hourOf(t, s.loc).In(s.loc)
			for _, d := range q.Dimensions {
				switch d {
				case DimDay:
					r.Day = lt.Format(time.DateOnly)
				case DimHour:
					r.Hour, r.HasHour = lt.Hour(), true
				}
			}
			i = 1
		}
		for _, d := range q.Dimensions {
			if d == DimDay || d == DimHour {
				continue
			}
			v := raw[i].String
			i++
			switch d {
			case DimApp:
				r.AppID, _ = strconv.ParseInt(v, 10, 64)
			case DimChannel:
				r.Channel = channels.Channel(v)
			case DimTemplate:
				r.TemplateID, _ = strconv.ParseInt(v, 10, 64)
			case DimTask:
				r.TaskID, _ = strconv.ParseInt(v, 10, 64)
			case DimStatus:
				r.Status = channels.Status(v)
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
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			*n.p = i
			return nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return err
		}
		*n.p = int64(f)
	case float64:
		*n.p = int64(x)
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

// TaskCounts counts a task's deliveries from its groups of the task-hourly rollup, which
// every write of its rows keeps in step in the same transaction: a few rows per hour of the
// task whatever its size, where counting the rows read all of them. Fallbacks are not in the
// rollup: with fallbacks set they are counted from the rows of the task's days, from firstDay
// to now (a range of each day table's primary key); without, they are left 0 — the caller
// knows the task's rule has no fallback route.
func (s *Stats) TaskCounts(ctx context.Context, taskID int64, firstDay string, now time.Time, fallbacks bool) (Counts, error) {
	var c Counts
	db := s.db.StatsShard(taskID)
	f, su, re := new(int64), new(int64), new(int64)
	err := db.QueryRowContext(ctx, taskRollupCountsSQL(s.db.Dialect), taskID).
		Scan(nullInt{&c.Total}, nullInt{&c.Sent}, nullInt{&c.Delivered}, nullInt{&c.Displayed}, nullInt{&c.Clicked}, nullInt{f}, nullInt{su}, nullInt{re},
			&c.Cost, nullInt{&c.Saved}, &c.SavedCost, &c.RedundantCost)
	if err != nil {
		return c, fmt.Errorf("error counting task deliveries: %w", err)
	}
	c.Failed, c.Suppressed, c.Redundant = *f, *su, *re
	if !fallbacks {
		return c, nil
	}
	start, err := time.ParseInLocation(store.DayFormat, firstDay, s.loc)
	if err != nil {
		return c, err
	}
	end := now.In(s.loc).Format(store.DayFormat)
	for d := start; ; d = d.AddDate(0, 0, 1) {
		day := d.Format(store.DayFormat)
		var n int64
		prefix := TaskIDPrefix(day, taskID)
		err := db.QueryRowContext(ctx, taskFallbacksSQL(s.db.Dialect, day), prefix, prefix+"~").Scan(&n)
		if err != nil && !s.db.Dialect.MissingTable(err) {
			return c, fmt.Errorf("error counting task fallbacks: %w", err)
		}
		c.Fallbacks += n
		if day >= end || d.Sub(start) > 62*24*time.Hour {
			break
		}
	}
	return c, nil
}
