package main

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/herald-msg/herald/client"
	"github.com/herald-msg/herald/store"
)

// tally compares what each address got with what it should have got: lost counts the
// messages missing, duplicated the messages beyond the expected ones (an address nobody
// should have reached counts all its messages as duplicated).
func tally(expected, got map[string]int) (lost, duplicated int) {
	for addr, want := range expected {
		if n := got[addr]; n < want {
			lost += want - n
		} else {
			duplicated += n - want
		}
	}
	for addr, n := range got {
		if _, ok := expected[addr]; !ok {
			duplicated += n
		}
	}
	return lost, duplicated
}

// rowCounts is what a task's delivery rows hold.
type rowCounts struct {
	rows, users, sent, delivered int64
	byStatus                     map[string]int64
}

// taskRows counts a task's delivery rows on its statistics shard.
func (t *topology) taskRows(ctx context.Context, taskID string) (rowCounts, error) {
	rc := rowCounts{byStatus: map[string]int64{}}
	id, err := strconv.ParseInt(taskID, 10, 64)
	if err != nil {
		return rc, fmt.Errorf("task id %q: %w", taskID, err)
	}
	var day string
	if err := t.st.Core.QueryRowContext(ctx, "SELECT day FROM tasks WHERE id = ?", id).Scan(&day); err != nil {
		return rc, fmt.Errorf("reading task %d: %w", id, err)
	}
	shard := t.st.Stats[t.st.StatsShardIndex(id)]
	rows, err := shard.QueryContext(ctx, "SELECT status, COUNT(*), COUNT(DISTINCT user_id, channel), COUNT(sent_at), COUNT(delivered_at) FROM "+
		store.DayTable(day)+" WHERE task_id = ? GROUP BY status", id)
	if err != nil {
		return rc, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			st                    string
			n, users, sent, deliv int64
		)
		if err := rows.Scan(&st, &n, &users, &sent, &deliv); err != nil {
			return rc, err
		}
		rc.byStatus[st] = n
		rc.rows += n
		rc.users += users
		rc.sent += sent
		rc.delivered += deliv
	}
	return rc, rows.Err()
}

// inflight counts the in-flight marks: vendor calls whose answer is not recorded.
func (t *topology) inflight(ctx context.Context) (int64, error) {
	var total int64
	for _, s := range t.st.Stats {
		var n int64
		if err := s.QueryRowContext(ctx, "SELECT COUNT(*) FROM inflight_batch").Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// clearInflight removes the marks left on final rows, so the next scenario counts its own.
func (t *topology) clearInflight(ctx context.Context) error {
	for _, s := range t.st.Stats {
		if _, err := s.ExecContext(ctx, "DELETE FROM inflight_batch"); err != nil {
			return err
		}
	}
	return nil
}

// taskStats reads the statistics Herald answers for a task.
func (t *topology) taskStats(ctx context.Context, taskID string, since time.Time) (client.StatsRow, error) {
	res, err := t.hc[0].Stats(ctx, client.StatsInput{AppID: t.appID, From: since.Add(-2 * time.Hour).Truncate(time.Hour),
		To: time.Now().Add(2 * time.Hour).Truncate(time.Hour), Dimensions: []string{"TASK"}, TaskID: taskID})
	if err != nil {
		return client.StatsRow{}, err
	}
	return res.Totals, nil
}

// reconcileCheck runs `herald reconcile --check` for today: it fails when a rollup differs
// from the delivery rows.
func (t *topology) reconcileCheck(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, t.opts.bin, "reconcile", "--config", t.cfgPath, "--check", "--day", time.Now().UTC().Format("20060102"))
	cmd.Env = append(cmd.Environ(), t.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("herald reconcile --check: %w: %s", err, tail(out))
	}
	return nil
}

// checkRecords compares a finished task's rows, progress and statistics with the users it
// had to reach, and returns what is wrong.
func (t *topology) checkRecords(ctx context.Context, task *client.Task, want int64, since time.Time) []string {
	var bad []string
	if task.Status != "COMPLETED" || task.Progress.ShardsDone != task.Progress.ShardsTotal {
		bad = append(bad, fmt.Sprintf("task %s is %s with %d of %d shards done", task.ID, task.Status, task.Progress.ShardsDone, task.Progress.ShardsTotal))
	}
	rc, err := t.taskRows(ctx, task.ID)
	if err != nil {
		return append(bad, "reading rows: "+err.Error())
	}
	if rc.rows != want || rc.users != want {
		bad = append(bad, fmt.Sprintf("%d delivery rows for %d users, want %d", rc.rows, rc.users, want))
	}
	if rc.sent != want {
		bad = append(bad, fmt.Sprintf("%d rows sent, want %d (%s)", rc.sent, want, statusList(rc.byStatus)))
	}
	st, err := t.taskStats(ctx, task.ID, since)
	if err != nil {
		return append(bad, "reading statistics: "+err.Error())
	}
	if st.Sent != rc.sent || st.Delivered != rc.delivered || st.Failed != rc.byStatus["FAILED"] {
		bad = append(bad, fmt.Sprintf("statistics say sent %d delivered %d failed %d, the rows %d, %d, %d", st.Sent, st.Delivered, st.Failed,
			rc.sent, rc.delivered, rc.byStatus["FAILED"]))
	}
	if task.Progress.Sent != rc.sent || task.Progress.Delivered != rc.delivered {
		bad = append(bad, fmt.Sprintf("task progress says sent %d delivered %d, the rows %d, %d", task.Progress.Sent, task.Progress.Delivered, rc.sent, rc.delivered))
	}
	return bad
}

func statusList(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
