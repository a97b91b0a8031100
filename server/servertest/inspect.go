package servertest

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/broker"
	"github.com/herald-msg/herald/store"
)

// Row is a delivery row of a day table, read straight from SQL.
type Row struct {
	ID          string
	TaskID      int64
	UserID      string
	Channel     string
	Address     string
	Provider    string
	Status      string
	Reason      string
	Cost        float64
	SentAt      sql.NullTime
	DeliveredAt sql.NullTime
}

// Today is the day (YYYYMMDD) of now in Herald's time zone: the name of today's table.
func (e *Env) Today() string {
	return time.Now().In(e.location()).Format(store.DayFormat)
}

func (e *Env) location() *time.Location {
	loc, err := e.Config.Location()
	if err != nil {
		return time.Local
	}
	return loc
}

// Days are the days (YYYYMMDD) in Herald's time zone from e.Started to now, oldest first: a
// test that runs across midnight writes to two day tables.
func (e *Env) Days() []string {
	loc := e.location()
	start, now := e.Started.In(loc), time.Now().In(loc)
	day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, loc)
	var out []string
	for !day.After(now) {
		out = append(out, day.Format(store.DayFormat))
		day = day.AddDate(0, 0, 1)
	}
	return out
}

// AllRows returns every delivery row written since e.Started: DayRows of each of Days.
func (e *Env) AllRows(t testing.TB) map[string]Row {
	t.Helper()
	out := map[string]Row{}
	for _, day := range e.Days() {
		for id, r := range e.DayRows(t, day) {
			out[id] = r
		}
	}
	return out
}

// TaskID parses a task id of the API.
func TaskID(t testing.TB, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	require.NoError(t, err, "task id %q", id)
	return n
}

// Rows returns the delivery rows of task in delivery_<day> on statistics shard, by id; a
// missing table has no rows.
func (e *Env) Rows(t testing.TB, shard int, day string, taskID int64) map[string]Row {
	t.Helper()
	return e.query(t, shard, day, " WHERE task_id = ?", taskID)
}

// DayRows returns every delivery row of delivery_<day> on every statistics shard, by id.
func (e *Env) DayRows(t testing.TB, day string) map[string]Row {
	t.Helper()
	out := map[string]Row{}
	for shard := range e.DB.Stats {
		for id, r := range e.query(t, shard, day, "") {
			out[id] = r
		}
	}
	return out
}

func (e *Env) query(t testing.TB, shard int, day, where string, args ...any) map[string]Row {
	t.Helper()
	require.NotNil(t, e.DB, "Herald is not ready")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := e.DB.Stats[shard].QueryContext(ctx, "SELECT id, task_id, user_id, channel, address, provider, status, reason, cost, sent_at, delivered_at FROM "+
		store.DayTable(day)+where, args...)
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1146 {
		return map[string]Row{}
	}
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]Row{}
	for rows.Next() {
		var r Row
		require.NoError(t, rows.Scan(&r.ID, &r.TaskID, &r.UserID, &r.Channel, &r.Address, &r.Provider, &r.Status, &r.Reason, &r.Cost, &r.SentAt, &r.DeliveredAt))
		out[r.ID] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// TaskRows returns the rows of a task in today's table on the task's statistics shard.
func (e *Env) TaskRows(t testing.TB, taskID int64) map[string]Row {
	t.Helper()
	return e.Rows(t, e.DB.StatsShardIndex(taskID), e.Today(), taskID)
}

// CountTasks returns how many tasks the core database holds.
func (e *Env) CountTasks(t testing.TB) int {
	t.Helper()
	var n int
	require.NoError(t, e.DB.Core.QueryRow("SELECT COUNT(*) FROM tasks").Scan(&n))
	return n
}

// TaskStatuses returns the status of every task in the core database, by id.
func (e *Env) TaskStatuses(t testing.TB) map[int64]string {
	t.Helper()
	rows, err := e.DB.Core.Query("SELECT id, status FROM tasks")
	require.NoError(t, err)
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var (
			id int64
			st string
		)
		require.NoError(t, rows.Scan(&id, &st))
		out[id] = st
	}
	require.NoError(t, rows.Err())
	return out
}

// QueueDepth returns how many messages wait (ready, not yet delivered to a consumer) in
// queue q of this test.
func (e *Env) QueueDepth(t testing.TB, q broker.Queue) int {
	t.Helper()
	conn, err := amqp.Dial(AMQPURL())
	require.NoError(t, err, "RabbitMQ at %s (HERALD_TEST_AMQP_URL)", AMQPURL())
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	defer ch.Close()
	st, err := ch.QueueDeclarePassive(e.Config.AMQPPrefix+string(q), true, false, false, false, nil)
	require.NoError(t, err, "queue %s%s", e.Config.AMQPPrefix, q)
	return st.Messages
}
