package reports

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/store"
)

// RollupLevel is one of the rollup tables: its name, whether it keeps the task and whether a
// period is a day (else an hour). The levels are TaskHourly, Hourly and Daily.
type RollupLevel struct {
	Table string
	task  bool
	daily bool
}

// The rollup levels, in the order a transaction updates them.
var (
	// TaskHourly groups by (hour, app, task, template, channel, status).
	TaskHourly = RollupLevel{Table: "rollup_task_hourly", task: true}
	// Hourly groups by (hour, app, template, channel, status).
	Hourly = RollupLevel{Table: "rollup_hourly"}
	// Daily groups by (day, app, template, channel, status).
	Daily = RollupLevel{Table: "rollup_daily", daily: true}

	rollupLevels = []RollupLevel{TaskHourly, Hourly, Daily}
)

// rollupKey is the group of a rollup row. period is the UTC instant at which the local hour
// (or day) of the rows' created_at begins.
type rollupKey struct {
	app      int64
	period   time.Time
	task     int64
	template int64
	channel  string
	status   string
}

// project is the group of the level that a task-hourly group falls in.
func (l RollupLevel) project(k rollupKey, loc *time.Location) rollupKey {
	if !l.task {
		k.task = 0
	}
	if l.daily {
		k.period = dayOf(k.period, loc)
	}
	return k
}

func compareRollupKeys(a, b rollupKey) int {
	return cmp.Or(cmp.Compare(a.app, b.app), a.period.Compare(b.period), cmp.Compare(a.task, b.task), cmp.Compare(a.template, b.template),
		strings.Compare(a.channel, b.channel), strings.Compare(a.status, b.status))
}

// rollupSums are the metrics of a rollup row; cost and savedCost are in ten-thousandths of a
// yuan, the precision of the cost columns, so that sums and differences are exact. saved
// counts the messages that saved their fallback chain an SMS, savedCost what those cost.
type rollupSums struct {
	messages, sent, delivered, displayed, clicked, costUnits, cost, saved, savedCost int64
}

func (s rollupSums) zero() bool { return s == rollupSums{} }

// rowState is what one delivery row contributes to the rollup.
type rowState struct {
	key                                 rollupKey
	sent, delivered, displayed, clicked bool
	costUnits, cost                     int64
	saved                               bool
	savedCost                           int64
	// fallback is whether a fallback chain moved past the message (fallback_at is set); it
	// is no part of the rollup.
	fallback bool
}

// rollupDeltas accumulates the changes a batch makes to the rollup.
type rollupDeltas map[rollupKey]*rollupSums

// add adds (sign 1) or removes (sign -1) a row's contribution.
func (d rollupDeltas) add(s rowState, sign int64) {
	c := d[s.key]
	if c == nil {
		c = &rollupSums{}
		d[s.key] = c
	}
	c.messages += sign
	c.sent += sign * b2i(s.sent)
	c.delivered += sign * b2i(s.delivered)
	c.displayed += sign * b2i(s.displayed)
	c.clicked += sign * b2i(s.clicked)
	c.costUnits += sign * s.costUnits
	c.cost += sign * s.cost
	c.saved += sign * b2i(s.saved)
	c.savedCost += sign * s.savedCost
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// hourOf is the start of the local hour of t in loc, as a UTC instant. Every time zone's
// offset is a whole number of minutes, so the local minutes and seconds are those past the
// start of the local hour.
func hourOf(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	return t.Add(-time.Duration(lt.Minute())*time.Minute - time.Duration(lt.Second())*time.Second - time.Duration(lt.Nanosecond())).UTC()
}

// dayOf is the start of the local day of t in loc, as a UTC instant.
func dayOf(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	return time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc).UTC()
}

// costUnits4 converts a price in yuan to ten-thousandths, rounding half away from zero like
// the DECIMAL(…,4) columns do.
func costUnits4(v float64) int64 { return int64(math.Round(v * 1e4)) }

// parseCost4 reads a DECIMAL value as ten-thousandths, exactly.
func parseCost4(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	for len(frac) < 4 {
		frac += "0"
	}
	if len(frac) > 4 {
		return 0, fmt.Errorf("cost %q has more than 4 decimals", s)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid cost %q: %w", s, err)
	}
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid cost %q: %w", s, err)
	}
	n := w*1e4 + f
	if neg {
		n = -n
	}
	return n, nil
}

// formatCost4 writes ten-thousandths as a DECIMAL literal.
func formatCost4(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	return fmt.Sprintf("%s%d.%04d", sign, n/1e4, n%1e4)
}

// rollupUpsertSQL is the statement that applies a batch's deltas, grouped as level groups
// them, to level's table: a multi-row upsert that adds them (rollupAddSQL: INSERT … ON
// DUPLICATE KEY UPDATE on MySQL, MERGE on Oracle), rows in key order so that concurrent
// batches lock rollup rows in the same order on MySQL. It returns "" when nothing changes.
func rollupUpsertSQL(dl store.Dialect, level RollupLevel, d rollupDeltas) (string, []any) {
	keys := make([]rollupKey, 0, len(d))
	for k, s := range d {
		if !s.zero() {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", nil
	}
	slices.SortFunc(keys, compareRollupKeys)
	args := make([]any, 0, len(keys)*len(rollupCols))
	for _, k := range keys {
		s := d[k]
		args = append(args, k.app, k.period, k.task, k.template, k.channel, k.status,
			s.messages, s.sent, s.delivered, s.displayed, s.clicked, s.costUnits, formatCost4(s.cost), s.saved, formatCost4(s.savedCost))
	}
	return rollupAddSQL(dl, level.Table, len(keys)), args
}

// byLevel groups task-hourly deltas as level groups them.
func (d rollupDeltas) byLevel(level RollupLevel, loc *time.Location) rollupDeltas {
	if level == TaskHourly {
		return d
	}
	out := make(rollupDeltas, len(d))
	for k, s := range d {
		pk := level.project(k, loc)
		c := out[pk]
		if c == nil {
			c = &rollupSums{}
			out[pk] = c
		}
		c.plus(*s)
	}
	return out
}

func (s *rollupSums) plus(o rollupSums) {
	s.messages += o.messages
	s.sent += o.sent
	s.delivered += o.delivered
	s.displayed += o.displayed
	s.clicked += o.clicked
	s.costUnits += o.costUnits
	s.cost += o.cost
	s.saved += o.saved
	s.savedCost += o.savedCost
}

// applyRollup applies task-hourly deltas to every level, one statement per level, in the
// transaction that changed the rows.
func applyRollup(ctx context.Context, tx *sql.Tx, dl store.Dialect, d rollupDeltas, loc *time.Location) error {
	for _, level := range rollupLevels {
		if q, args := rollupUpsertSQL(dl, level, d.byLevel(level, loc)); q != "" {
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("error updating %s: %w", level.Table, err)
			}
		}
	}
	return nil
}

// errRecordRace makes a batch start over: a concurrent writer recorded some of its rows
// between the batch's read and its insert.
var errRecordRace = errors.New("rows were recorded concurrently")

// inTx runs f in a READ COMMITTED transaction on a day table's shard, creating the table
// (on Oracle: the day's partition) first when it is missing (CREATE TABLE would end the
// transaction, so it runs outside) and starting over when the server picked the transaction
// as a deadlock victim, a lock wait timed out or a concurrent writer got in between.
func (w *Writer) inTx(ctx context.Context, k tableKey, f func(tx *sql.Tx) error) error {
	db, dl := w.db.Stats[k.shard], w.db.Dialect
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		err = runTx(ctx, db, f)
		switch {
		case err == nil:
			return nil
		case dl.MissingTable(err):
			if _, cerr := db.ExecContext(ctx, dl.CreateDay(k.day)); cerr != nil {
				return cerr
			}
		case errors.Is(err, errRecordRace), dl.Retryable(err):
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
			}
		default:
			return err
		}
	}
	return err
}

func runTx(ctx context.Context, db *sql.DB, f func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// rowStates reads what the rows of ids of table k contribute to the rollup, keyed by id, in
// tx; lock makes it a locking read, so that the rows do not change before tx ends.
func (w *Writer) rowStates(ctx context.Context, tx *sql.Tx, k tableKey, ids []string, lock bool) (map[string]rowState, error) {
	if len(ids) == 0 {
		return map[string]rowState{}, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	args = w.db.Prepared.In(args)
	loc := w.loc
	rows, err := w.db.Prepared.Query(ctx, w.db.Stats[k.shard], tx, rowStatesSQL(w.db.Dialect, k.day, len(args), lock), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]rowState, len(ids))
	for rows.Next() {
		var (
			id              string
			s               rowState
			at              time.Time
			cost, savedCost string
		)
		if err := rows.Scan(&id, &s.key.app, &s.key.task, &s.key.template, &s.key.channel, &s.key.status, &at,
			&s.sent, &s.delivered, &s.displayed, &s.clicked, &s.costUnits, &cost, &s.saved, &savedCost, &s.fallback); err != nil {
			return nil, err
		}
		if s.cost, err = parseCost4(cost); err != nil {
			return nil, err
		}
		if s.savedCost, err = parseCost4(savedCost); err != nil {
			return nil, err
		}
		s.key.period = hourOf(at, loc)
		out[id] = s
	}
	return out, rows.Err()
}

// ReconcileReport says how a day's rollup compared with its delivery rows.
type ReconcileReport struct {
	Day string
	// Groups is the number of rollup groups of the day, from the rows or stored.
	Groups int
	// Differing is the number of groups whose stored sums differed from the rows'.
	Differing int
	// Messages is the number of delivery rows of the day.
	Messages int64
	// Fixed is true when the stored rollup was replaced by the one computed from the rows.
	Fixed bool
	// MissingPrevious is true when the day before's table was missing on a shard (never
	// created, or dropped past retention): rows of the day recorded in it are not counted.
	MissingPrevious bool
}

// Reconcile recomputes, on every statistics shard, the rollup of the local day (YYYYMMDD)
// from its delivery rows — those whose created_at falls on the day, in the day's table and
// the day before's — and compares it with the stored one at every level. With fix, it
// replaces the stored rows of the day's periods of each level that differs. Rows are read with a shared lock in the transaction that
// replaces the rollup, so a concurrent writer waits instead of being lost. It refuses a day
// whose table is gone (past retention): the rollup is then the only record left.
func (w *Writer) Reconcile(ctx context.Context, day string, fix bool) (ReconcileReport, error) {
	rep := ReconcileReport{Day: day}
	start, err := time.ParseInLocation(store.DayFormat, day, w.loc)
	if err != nil {
		return rep, fmt.Errorf("day %q is not YYYYMMDD: %w", day, err)
	}
	end := start.AddDate(0, 0, 1)
	prev := start.AddDate(0, 0, -1).Format(store.DayFormat)
	dl := w.db.Dialect
	tables := make([][]string, len(w.db.Stats))
	for shard, db := range w.db.Stats {
		have, err := storedDays(ctx, db, dl)
		if err != nil {
			return rep, fmt.Errorf("error listing day tables on statistics shard %d: %w", shard, err)
		}
		for _, d := range []string{prev, day} {
			switch {
			case have[d]:
				tables[shard] = append(tables[shard], d)
			case d == day:
				return rep, fmt.Errorf("table %s is missing on statistics shard %d: the day cannot be recomputed from its rows", store.DayTable(d), shard)
			default:
				rep.MissingPrevious = true
			}
		}
	}
	for shard := range w.db.Stats {
		err := runTx(ctx, w.db.Stats[shard], func(tx *sql.Tx) error {
			rows := rollupDeltas{}
			for _, d := range tables[shard] {
				if err := rollupFromRows(ctx, tx, dl, d, start, end, w.loc, rows); err != nil {
					return err
				}
			}
			for _, s := range rows {
				rep.Messages += s.messages
			}
			for _, level := range rollupLevels {
				want := rows.byLevel(level, w.loc)
				have, err := storedRollup(ctx, tx, dl, level, start, end)
				if err != nil {
					return err
				}
				differing := 0
				for k, s := range want {
					if s.zero() {
						continue
					}
					rep.Groups++
					if h, ok := have[k]; !ok || *h != *s {
						differing++
					}
				}
				for k := range have {
					if s, ok := want[k]; !ok || s.zero() {
						rep.Groups++
						differing++
					}
				}
				rep.Differing += differing
				if !fix || differing == 0 {
					continue
				}
				if _, err := tx.ExecContext(ctx, deleteRollupSQL(dl, level.Table), start.UTC(), end.UTC()); err != nil {
					return err
				}
				keys := make([]rollupKey, 0, len(want))
				for k := range want {
					keys = append(keys, k)
				}
				slices.SortFunc(keys, compareRollupKeys)
				for i := 0; i < len(keys); i += 1000 {
					part := rollupDeltas{}
					for _, k := range keys[i:min(i+1000, len(keys))] {
						part[k] = want[k]
					}
					if q, args := rollupUpsertSQL(dl, level, part); q != "" {
						if _, err := tx.ExecContext(ctx, q, args...); err != nil {
							return err
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("error reconciling %s on statistics shard %d: %w", day, shard, err)
		}
	}
	rep.Fixed = fix && rep.Differing > 0
	return rep, nil
}

// Delivery rows are summed by their quarter hour (UTC) of created_at, counted from
// bucketEpoch (rowsBucket, the dialect's QuarterHours). Every time zone's offset is a whole
// number of quarter hours, so the rows of a quarter hour share their local hour and day;
// rawBucketTime converts it back. The expression does not depend on the session's time zone.
var bucketEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func rawBucketTime(q int64) time.Time { return bucketEpoch.Add(time.Duration(q) * 15 * time.Minute) }

// rollupFromRows adds the rollup of a day table's rows created in [from, to) to out.
func rollupFromRows(ctx context.Context, tx *sql.Tx, dl store.Dialect, day string, from, to time.Time, loc *time.Location, out rollupDeltas) error {
	lock, query := rollupFromRowsSQL(dl, day)
	if lock != "" {
		if _, err := tx.ExecContext(ctx, lock); err != nil {
			return err
		}
	}
	rows, err := tx.QueryContext(ctx, query, from.UTC(), to.UTC())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			q               int64
			k               rollupKey
			s               rollupSums
			cost, savedCost string
		)
		if err := rows.Scan(&q, &k.app, &k.task, &k.template, &k.channel, &k.status, &s.messages, &s.sent, &s.delivered, &s.displayed, &s.clicked, &s.costUnits, &cost,
			&s.saved, &savedCost); err != nil {
			return err
		}
		if s.cost, err = parseCost4(cost); err != nil {
			return err
		}
		if s.savedCost, err = parseCost4(savedCost); err != nil {
			return err
		}
		k.period = hourOf(rawBucketTime(q), loc)
		c := out[k]
		if c == nil {
			c = &rollupSums{}
			out[k] = c
		}
		c.plus(s)
	}
	return rows.Err()
}

// storedRollup reads the rows of a rollup level whose period starts in [from, to), locking
// them; empty groups are left out.
func storedRollup(ctx context.Context, tx *sql.Tx, dl store.Dialect, level RollupLevel, from, to time.Time) (rollupDeltas, error) {
	rows, err := tx.QueryContext(ctx, storedRollupSQL(dl, level.Table), from.UTC(), to.UTC())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := rollupDeltas{}
	for rows.Next() {
		var (
			k               rollupKey
			s               rollupSums
			cost, savedCost string
		)
		if err := rows.Scan(&k.app, &k.period, &k.task, &k.template, &k.channel, &k.status, &s.messages, &s.sent, &s.delivered, &s.displayed, &s.clicked, &s.costUnits, &cost,
			&s.saved, &savedCost); err != nil {
			return nil, err
		}
		if s.cost, err = parseCost4(cost); err != nil {
			return nil, err
		}
		if s.savedCost, err = parseCost4(savedCost); err != nil {
			return nil, err
		}
		k.period = k.period.UTC()
		if s.zero() {
			continue
		}
		out[k] = &s
	}
	return out, rows.Err()
}

// storedDays are the days that have detail on a statistics shard (day tables on MySQL,
// materialised partitions on Oracle).
func storedDays(ctx context.Context, db *sql.DB, dl store.Dialect) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, dl.ListDays())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name, bound string
		if err := rows.Scan(&name, &bound); err != nil {
			return nil, err
		}
		if d, ok := dl.DayOf(name, bound); ok {
			out[d] = true
		}
	}
	return out, rows.Err()
}
