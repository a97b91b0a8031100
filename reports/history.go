package reports

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/store"
)

// HistoryEntry is one message in a user's history (inbox).
type HistoryEntry struct {
	AppID     int64
	UserID    string
	MessageID string
	TaskID    int64
	Channel   channels.Channel
	Address   string
	Title     string
	Body      string
	Status    channels.Status
	CreatedAt time.Time
}

// HistoryStore keeps each user's messages, newest first. It plays the role HBase plays in
// the reference design, with the same row key: (app, user, reversed time, message id).
type HistoryStore interface {
	Append(ctx context.Context, es []HistoryEntry) error
	List(ctx context.Context, appID int64, userID string, q HistoryQuery) ([]HistoryEntry, error)
}

// HistoryQuery pages a user's history.
type HistoryQuery struct {
	First   int
	Channel channels.Channel
	// After is the cursor of the last entry of the previous page.
	After string
}

// SQLHistory is the HistoryStore on user-sharded MySQL databases.
type SQLHistory struct {
	db *store.DB
}

// NewSQLHistory returns the history store on the history shards of db.
func NewSQLHistory(db *store.DB) *SQLHistory { return &SQLHistory{db: db} }

func rtime(t time.Time) int64 { return math.MaxInt64 - t.UnixMicro() }

// Append writes entries with one multi-row statement per shard.
func (h *SQLHistory) Append(ctx context.Context, es []HistoryEntry) error {
	groups := map[int][]HistoryEntry{}
	for _, e := range es {
		i := store.HistoryShardIndex(e.AppID, e.UserID, len(h.db.History))
		groups[i] = append(groups[i], e)
	}
	for i, part := range groups {
		for start := 0; start < len(part); start += 1000 {
			batch := part[start:min(start+1000, len(part))]
			args := make([]any, 0, len(batch)*11)
			for _, e := range batch {
				// created_at keeps milliseconds; rtime must be computed from the same instant,
				// or a cursor made from a listed entry skips or repeats entries of its millisecond.
				at := e.CreatedAt.UTC().Truncate(time.Millisecond)
				args = append(args, e.AppID, e.UserID, rtime(at), e.MessageID, e.TaskID, string(e.Channel), e.Address,
					truncate(e.Title, 255), e.Body, string(e.Status), at)
			}
			// Padded like a delivery insert: copies of the last row, skipped as duplicates.
			n := h.db.Prepared.Rows(len(batch))
			for k := len(batch); k < n; k++ {
				args = append(args, args[len(args)-len(historyCols):]...)
			}
			if _, err := h.db.Prepared.Exec(ctx, h.db.History[i], nil, historyInsertSQL(h.db.Dialect, n), args...); err != nil {
				return fmt.Errorf("error writing history: %w", err)
			}
		}
	}
	return nil
}

// List returns a page of a user's history, newest first.
func (h *SQLHistory) List(ctx context.Context, appID int64, userID string, q HistoryQuery) ([]HistoryEntry, error) {
	first := q.First
	if first <= 0 || first > MaxHistoryPage+1 { // one more than a page: the look-ahead of hasNextPage
		first = 20
	}
	dl := h.db.Dialect
	where := "app_id = ? AND user_id = ?"
	args := []any{appID, userID}
	if q.After != "" {
		rt, id, ok := strings.Cut(q.After, "/")
		var r int64
		if _, err := fmt.Sscan(rt, &r); !ok || err != nil {
			return nil, fmt.Errorf("invalid cursor")
		}
		after, afterArgs := dl.RowsAfter([]string{"rtime", "message_id"}, []any{r, id})
		where += " AND " + after
		args = append(args, afterArgs...)
	}
	if q.Channel != "" {
		where += " AND channel = ?"
		args = append(args, string(q.Channel))
	}
	args = append(args, first)
	rows, err := h.db.HistoryShard(appID, userID).QueryContext(ctx, historyListSQL(dl, where), args...)
	if err != nil {
		return nil, fmt.Errorf("error reading history: %w", err)
	}
	defer rows.Close()
	var out []HistoryEntry
	for rows.Next() {
		e := HistoryEntry{AppID: appID, UserID: userID}
		if err := rows.Scan(&e.MessageID, &e.TaskID, &e.Channel, store.Text(&e.Address), store.Text(&e.Title), store.Text(&e.Body), &e.Status, &e.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// HistoryCursor is the cursor of an entry.
func HistoryCursor(e HistoryEntry) string {
	return fmt.Sprintf("%d/%s", rtime(e.CreatedAt), e.MessageID)
}
