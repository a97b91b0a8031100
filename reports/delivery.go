// Package reports records what happened to every message — delivery detail in day tables on
// the statistics shards, per-user history on the history shards — and answers statistics.
package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/store"
)

// Delivery statuses beyond the provider statuses of package channels.
const (
	Queued     channels.Status = "QUEUED"
	Suppressed channels.Status = "SUPPRESSED"
	Redundant  channels.Status = "REDUNDANT"
)

// Delivery is one (task, user, channel) message.
type Delivery struct {
	ID         string
	AppID      int64
	TaskID     int64
	TemplateID int64
	UserID     string
	Channel    channels.Channel
	Address    string
	Provider   string
	VendorID   string
	Status     channels.Status
	Reason     string
	CostUnits  int
	Cost       float64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// SentAt, for a row recorded as SENT (or FAILED after a vendor answer), is when the vendor
	// answered; zero means CreatedAt.
	SentAt time.Time
}

// Update moves a delivery forward: a later status never returns to an earlier one.
type Update struct {
	ID        string
	Status    channels.Status
	Provider  string
	VendorID  string
	Reason    string
	CostUnits int
	Cost      float64
	At        time.Time
}

// MessageID builds the id of a task's message: the day it was queued, the task, the user's
// position in the task and the channel, the numbers in fixed-width base 36 so that ids sort
// by task and position. It is deterministic, so a redelivered shard produces the same ids, and
// it names the day table and shard that hold the message's row.
func MessageID(day string, taskID int64, seq int64, ch channels.Channel) string {
	b := make([]byte, 0, 32)
	b = append(b, day...)
	b = append(b, '-')
	b = appendPadded(b, taskID, taskWidth)
	b = append(b, '-')
	b = appendPadded(b, seq, seqWidth)
	b = append(b, '-')
	b = append(b, channelCode(ch))
	return string(b)
}

// taskWidth and seqWidth hold 36^8 (2.8e12) tasks and 36^7 (78 million) users per task.
const (
	taskWidth = 8
	seqWidth  = 7
)

func appendPadded(b []byte, n int64, width int) []byte {
	var buf [16]byte
	s := strconv.AppendInt(buf[:0], n, 36)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func channelCode(ch channels.Channel) byte {
	for i, c := range channels.All {
		if c == ch {
			return byte('0' + i)
		}
	}
	return 'x'
}

// TaskIDPrefix is the prefix of the ids of a task's messages queued on day: a task's rows
// in a day table are one primary-key range.
func TaskIDPrefix(day string, taskID int64) string {
	return string(appendPadded([]byte(day+"-"), taskID, taskWidth)) + "-"
}

// ParseMessageID returns the day and task of a message id.
func ParseMessageID(id string) (day string, taskID int64, ok bool) {
	parts := strings.Split(id, "-")
	if len(parts) != 4 || len(parts[0]) != 8 || len(parts[1]) != taskWidth || len(parts[2]) != seqWidth || len(parts[3]) != 1 {
		return "", 0, false
	}
	for _, r := range parts[0] {
		if r < '0' || r > '9' {
			return "", 0, false
		}
	}
	t, err := strconv.ParseInt(parts[1], 36, 64)
	if err != nil || t <= 0 {
		return "", 0, false
	}
	if _, err := strconv.ParseInt(parts[2], 36, 64); err != nil {
		return "", 0, false
	}
	return parts[0], t, true
}

// Writer writes delivery rows to the day tables of the statistics shards, keeping the
// statistics rollups in step in the same transactions, and history rows to the history
// shards, with multi-row statements.
type Writer struct {
	db     *store.DB
	logger *slog.Logger
	loc    *time.Location
	prices Prices

	batches batchRefCache
}

// NewWriter returns a writer; loc names the day of a day table.
func NewWriter(db *store.DB, loc *time.Location, prices Prices, logger *slog.Logger) *Writer {
	if logger == nil {
		logger = slog.Default()
	}
	if prices == nil {
		prices = DefaultPrices()
	}
	return &Writer{db: db, loc: loc, prices: prices, logger: logger.With("component", "reports.writer")}
}

// Prices returns the unit prices the writer charges.
func (w *Writer) Prices() Prices { return w.prices }

// Location is Herald's time zone, which names days.
func (w *Writer) Location() *time.Location { return w.loc }

// Day returns the day (YYYYMMDD) of t in Herald's time zone.
func (w *Writer) Day(t time.Time) string { return t.In(w.loc).Format(store.DayFormat) }

type tableKey struct {
	shard int
	day   string
}

func (w *Writer) tableOf(id string) (tableKey, bool) {
	day, task, ok := ParseMessageID(id)
	if !ok {
		return tableKey{}, false
	}
	return tableKey{shard: w.db.StatsShardIndex(task), day: day}, true
}

// Record inserts deliveries that are not recorded yet and returns the status of every given
// id as stored afterwards, so a redelivered shard can skip messages already sent. The rows
// it inserts are added to the rollup in the same transaction. A batch is first written as if
// none of its rows existed — the common case, one statement less — and, when some did, rolled
// back and written again after reading which.
func (w *Writer) Record(ctx context.Context, ds []Delivery) (map[string]channels.Status, error) {
	groups := map[tableKey][]Delivery{}
	for _, d := range ds {
		k, ok := w.tableOf(d.ID)
		if !ok {
			return nil, fmt.Errorf("invalid message id %q", d.ID)
		}
		groups[k] = append(groups[k], d)
	}
	out := make(map[string]channels.Status, len(ds))
	for k, part := range groups {
		part = slices.Clone(part)
		slices.SortFunc(part, func(a, b Delivery) int { return strings.Compare(a.ID, b.ID) })
		for start := 0; start < len(part); start += 1000 {
			batch := part[start:min(start+1000, len(part))]
			fresh := true
			err := w.inTx(ctx, k, func(tx *sql.Tx) error {
				err := w.insert(ctx, tx, k, batch, out, fresh)
				if errors.Is(err, errRecordRace) {
					fresh = false
				}
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("error recording deliveries: %w", err)
			}
		}
	}
	return out, nil
}

// insert writes the rows of ds (in id order) that are not in the table yet and adds them to
// the rollups with one statement per level. Unless fresh (none of them is expected to be
// there), the rows already there are read first; if the insert then
// writes fewer rows than were missing, a concurrent writer recorded some of them in between,
// and the transaction starts over so that no row is counted twice.
func (w *Writer) insert(ctx context.Context, tx *sql.Tx, k tableKey, ds []Delivery, out map[string]channels.Status, fresh bool) error {
	const cols = 16
	stored := make(map[string]channels.Status, len(ds))
	if !fresh {
		ids := make([]any, len(ds))
		for i, d := range ds {
			ids[i] = d.ID
		}
		rows, err := tx.QueryContext(ctx, statusesSQL(w.db.Dialect, k.day, len(ds)), ids...)
		if err != nil {
			return err
		}
		if err := scanStatuses(rows, nil, stored); err != nil {
			return err
		}
	}
	args := make([]any, 0, len(ds)*cols)
	deltas := rollupDeltas{}
	missing := 0
	for _, d := range ds {
		if _, ok := stored[d.ID]; ok {
			continue
		}
		missing++
		// The row and its rollup group are computed from the same instant and price, with the
		// precision of the columns.
		at := d.CreatedAt.UTC().Truncate(time.Millisecond)
		updated := at
		if s := d.SentAt.UTC().Truncate(time.Millisecond); s.After(at) {
			updated = s
		}
		cost := costUnits4(d.Cost)
		var sent any
		if reached(d.Status, channels.Sent) {
			sent = updated
		}
		args = append(args, d.ID, d.AppID, d.TaskID, d.TemplateID, d.UserID, string(d.Channel), d.Address, d.Provider, d.VendorID,
			string(d.Status), truncate(d.Reason, 255), d.CostUnits, formatCost4(cost), at, updated, sent)
		deltas.add(rowState{
			key:  rollupKey{app: d.AppID, period: hourOf(at, w.loc), task: d.TaskID, template: d.TemplateID, channel: string(d.Channel), status: string(d.Status)},
			sent: sent != nil, costUnits: int64(d.CostUnits), cost: cost,
		}, 1)
	}
	if missing > 0 {
		// Padded to the prepared statement's row count with copies of the last row, which
		// the IGNORE skips as duplicates: the rows affected stay the missing ones.
		n := w.db.Prepared.Rows(missing)
		for i := missing; i < n; i++ {
			args = append(args, args[len(args)-cols:]...)
		}
		res, err := w.db.Prepared.Exec(ctx, w.db.Stats[k.shard], tx, recordSQL(w.db.Dialect, k.day, n), args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != int64(missing) {
			return errRecordRace
		}
		if err := applyRollup(ctx, tx, w.db.Dialect, deltas, w.loc); err != nil {
			return err
		}
	}
	for _, d := range ds {
		if st, ok := stored[d.ID]; ok {
			out[d.ID] = st
		} else {
			out[d.ID] = d.Status
		}
	}
	return nil
}

var rank = map[channels.Status]int{Queued: 1, channels.Sent: 2, channels.Failed: 3, channels.Delivered: 4, channels.Displayed: 5, channels.Clicked: 6}

// reached reports whether status s implies milestone m was reached.
func reached(s, m channels.Status) bool {
	switch m {
	case channels.Sent:
		return s == channels.Sent || s == channels.Delivered || s == channels.Displayed || s == channels.Clicked
	case channels.Delivered:
		return s == channels.Delivered || s == channels.Displayed || s == channels.Clicked
	case channels.Displayed:
		return s == channels.Displayed || s == channels.Clicked
	case channels.Clicked:
		return s == channels.Clicked
	}
	return false
}

// Apply moves deliveries forward, one statement per day table, and returns how many of the
// ids exist. Unknown ids are ignored.
func (w *Writer) Apply(ctx context.Context, us []Update) (int, error) {
	matched, _, err := w.apply(ctx, us)
	return matched, err
}

// ApplyFound is Apply, returning the ids of the updates that found no row instead: messages
// whose rows are not recorded yet (a receipt can overtake the worker's record of the vendor
// call) or whose day table is gone.
func (w *Writer) ApplyFound(ctx context.Context, us []Update) (missing map[string]bool, err error) {
	_, missing, err = w.apply(ctx, us)
	return missing, err
}

func (w *Writer) apply(ctx context.Context, us []Update) (int, map[string]bool, error) {
	groups := map[tableKey][]Update{}
	for _, u := range us {
		if rank[u.Status] == 0 {
			return 0, nil, fmt.Errorf("status %s cannot be applied", u.Status)
		}
		k, ok := w.tableOf(u.ID)
		if !ok {
			w.logger.WarnContext(ctx, "update for an unknown message id", "message_id", u.ID)
			continue
		}
		groups[k] = append(groups[k], u)
	}
	matched := 0
	missing := map[string]bool{}
	for k, part := range groups {
		for _, round := range rounds(part) {
			n, err := w.applyTable(ctx, k, round, missing)
			if err != nil {
				return matched, missing, err
			}
			matched += n
		}
	}
	return matched, missing, nil
}

// Statuses returns the stored status of each of ids that has a row. A job's ids are one
// primary-key range of a day table (its task, positions and channels), so each table is read
// with one range scan from the smallest id to the largest, keeping the ids asked for.
func (w *Writer) Statuses(ctx context.Context, ids []string) (map[string]channels.Status, error) {
	groups := map[tableKey][]string{}
	for _, id := range ids {
		k, ok := w.tableOf(id)
		if !ok {
			return nil, fmt.Errorf("invalid message id %q", id)
		}
		groups[k] = append(groups[k], id)
	}
	out := make(map[string]channels.Status, len(ids))
	for k, part := range groups {
		want := make(map[string]bool, len(part))
		for _, id := range part {
			want[id] = true
		}
		rows, err := w.db.Prepared.Query(ctx, w.db.Stats[k.shard], nil, statusRangeSQL(w.db.Dialect, k.day), slices.Min(part), slices.Max(part))
		if w.db.Dialect.MissingTable(err) {
			continue // the day's table is not created yet: no rows; recording creates it
		}
		if err != nil {
			return nil, fmt.Errorf("error reading delivery statuses: %w", err)
		}
		if err := scanStatuses(rows, want, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scanStatuses reads (id, status) rows into out, keeping only the ids in want when want is
// not nil, and closes rows.
func scanStatuses(rows *sql.Rows, want map[string]bool, out map[string]channels.Status) error {
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			st channels.Status
		)
		if err := rows.Scan(&id, &st); err != nil {
			return err
		}
		if want == nil || want[id] {
			out[id] = st
		}
	}
	return rows.Err()
}

// rounds splits updates so that no statement carries two updates of one message: a
// multi-table UPDATE changes a row once, with one of its matching updates only, and would
// drop the others (SENT, DELIVERED and CLICKED of one message in one receipt batch). Each
// round keeps the order given.
func rounds(us []Update) [][]Update {
	var out [][]Update
	seen := make(map[string]int, len(us))
	for _, u := range us {
		r := seen[u.ID]
		seen[u.ID] = r + 1
		if r == len(out) {
			out = append(out, nil)
		}
		out[r] = append(out[r], u)
	}
	return out
}

// applyRows is how many updates of one day table Apply commits in one transaction.
const applyRows = 500

func (w *Writer) applyTable(ctx context.Context, k tableKey, us []Update, missing map[string]bool) (int, error) {
	matched := 0
	us = slices.Clone(us)
	slices.SortStableFunc(us, func(a, b Update) int { return strings.Compare(a.ID, b.ID) })
	for start := 0; start < len(us); start += applyRows {
		part := us[start:min(start+applyRows, len(us))]
		var n int
		err := w.inTx(ctx, k, func(tx *sql.Tx) error {
			var err error
			n, err = w.applyBatch(ctx, tx, k, part, missing)
			return err
		})
		if err != nil {
			return matched, fmt.Errorf("error applying delivery updates: %w", err)
		}
		matched += n
	}
	return matched, nil
}

// applyBatch moves a batch of rows forward with one statement and moves them between rollup
// groups with another: the rows are locked and read before the update and read again after
// it, and the rollup loses what each row contributed before and gains what it contributes
// now. It returns how many of the ids exist.
func (w *Writer) applyBatch(ctx context.Context, tx *sql.Tx, k tableKey, us []Update, missing map[string]bool) (int, error) {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	before, err := w.rowStates(ctx, tx, k, ids, true)
	if err != nil {
		return 0, err
	}
	found := us[:0:0]
	for _, u := range us {
		if _, ok := before[u.ID]; ok {
			found = append(found, u)
		} else {
			missing[u.ID] = true
		}
	}
	if len(found) == 0 {
		return 0, nil
	}
	us = found // the update and the second read touch only rows that exist
	ids = ids[:0]
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	args := make([]any, 0, len(us)*8)
	for _, u := range us {
		at := u.At
		if at.IsZero() {
			at = time.Now()
		}
		args = append(args, u.ID, string(u.Status), u.Provider, u.VendorID, truncate(u.Reason, 255), u.CostUnits, formatCost4(costUnits4(u.Cost)), at.UTC())
	}
	// Padded to the prepared statement's row count with updates of no message (the empty id).
	n := w.db.Prepared.Rows(len(us))
	for i := len(us); i < n; i++ {
		args = append(args, "", string(channels.Delivered), "", "", "", 0, "0", time.Unix(0, 0).UTC())
	}
	if _, err := w.db.Prepared.Exec(ctx, w.db.Stats[k.shard], tx, applySQL(w.db.Dialect, k.day, n), args...); err != nil {
		return 0, err
	}
	// The rows are locked since the first read: what the update made of each is known
	// without reading it again.
	deltas := rollupDeltas{}
	for _, u := range us {
		b := before[u.ID]
		if a := applied(b, u); a != b {
			deltas.add(b, -1)
			deltas.add(a, 1)
		}
	}
	if err := applyRollup(ctx, tx, w.db.Dialect, deltas, w.loc); err != nil {
		return 0, err
	}
	return len(before), nil
}

// applied is the state of a row after applySQL applied u to a row in state b: the same
// rules, for the rollup, so that a batch needs no second read of its rows.
func applied(b rowState, u Update) rowState {
	if b.key.status == string(Suppressed) {
		return b // the update leaves suppressed rows alone
	}
	a := b
	r := rank[u.Status]
	a.sent = b.sent || r >= rank[channels.Sent] && u.Status != channels.Failed
	a.delivered = b.delivered || r >= rank[channels.Delivered]
	a.displayed = b.displayed || r >= rank[channels.Displayed]
	a.clicked = b.clicked || r >= rank[channels.Clicked]
	a.costUnits = max(b.costUnits, int64(u.CostUnits))
	a.cost = max(b.cost, costUnits4(u.Cost))
	switch {
	case b.key.status == string(Redundant):
	case b.fallback && r >= rank[channels.Delivered]:
		a.key.status = string(Redundant)
	case r > rank[channels.Status(b.key.status)]:
		a.key.status = string(u.Status)
	}
	return a
}

// MarkFallback records that a fallback chain moves past message id because it has not
// reached milestone (SENT, DELIVERED, DISPLAYED or CLICKED). It reports whether the chain
// moves on: false when the milestone was reached first. Marking is atomic with receipts on
// the same row, so a receipt that arrives after the mark turns the message REDUNDANT.
func (w *Writer) MarkFallback(ctx context.Context, id string, milestone channels.Status, at time.Time) (bool, error) {
	k, ok := w.tableOf(id)
	if !ok {
		return false, fmt.Errorf("invalid message id %q", id)
	}
	col := map[channels.Status]string{channels.Sent: "sent_at", channels.Delivered: "delivered_at", channels.Displayed: "displayed_at", channels.Clicked: "clicked_at"}[milestone]
	if col == "" {
		return false, fmt.Errorf("unknown milestone %q", milestone)
	}
	db := w.db.Stats[k.shard]
	res, err := db.ExecContext(ctx, markFallbackSQL(w.db.Dialect, k.day, col), at.UTC(), id)
	if err != nil {
		return false, fmt.Errorf("error marking fallback: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	// Either the milestone was reached, or this chain moved on before (a redelivered timer).
	var marked sql.NullTime
	err = db.QueryRowContext(ctx, fallbackAtSQL(w.db.Dialect, k.day), id).Scan(&marked)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("message %s has no delivery row", id)
	}
	if err != nil {
		return false, err
	}
	return marked.Valid, nil
}

// Get returns one delivery by message id, or nil.
func (w *Writer) Get(ctx context.Context, id string) (*Delivery, error) {
	k, ok := w.tableOf(id)
	if !ok {
		return nil, nil
	}
	d := &Delivery{}
	err := w.db.Stats[k.shard].QueryRowContext(ctx, getDeliverySQL(w.db.Dialect, k.day), id).Scan(deliveryDest(d)...)
	if errors.Is(err, sql.ErrNoRows) || w.db.Dialect.MissingTable(err) {
		return nil, nil
	}
	return d, err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
