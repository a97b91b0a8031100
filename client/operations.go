package client

import (
	"context"
	"fmt"
)

// The selections of the typed methods; each reads every field of its result type.
const (
	progressFields = `progress { total shardsTotal shardsDone sent delivered displayed clicked failed suppressed fallbacks redundant }`
	taskFields     = `id appId name kind lane status template { id name version } rule { id name version } cron nextRunAt createdAt ` + progressFields
	statsFields    = `day hour appId channel templateId taskId status sent delivered displayed clicked failed suppressed redundant cost`
)

// The operations of the typed methods, exported so that tests and proxies can recognise
// them.
const (
	// SendMutation is the operation of Send; its variable is $in.
	SendMutation = `mutation Send($in: SendInput!) { send(input: $in) { task { ` + taskFields + ` } messages { id userId channel status } rejected { userId reason } } }`
	// TaskQuery is the operation of Task; its variable is $id.
	TaskQuery = `query Task($id: ID!) { task(id: $id) { ` + taskFields + ` } }`
	// UpsertUsersMutation is the operation of UpsertUsers; its variables are $appId and $users.
	UpsertUsersMutation = `mutation UpsertUsers($appId: ID!, $users: [UserInput!]!) { upsertUsers(appId: $appId, users: $users) { created updated } }`
	// CreateTaskMutation is the operation of CreateTask; its variable is $in.
	CreateTaskMutation = `mutation CreateTask($in: TaskInput!) { createTask(input: $in) { ` + taskFields + ` } }`
	// StatsQuery is the operation of Stats; its variable is $in.
	StatsQuery = `query Stats($in: StatsInput!) { stats(input: $in) { rows { ` + statsFields + ` } totals { ` + statsFields + ` } } }`
)

// Send sends a template through a rule to up to 1,000 users on the realtime lane. Bad
// input is a BAD_INPUT *Error whose Field names the input path; nothing is sent then.
func (c *Client) Send(ctx context.Context, in SendInput) (*SendResult, error) {
	var out struct {
		Send SendResult `json:"send"`
	}
	if err := c.Do(ctx, SendMutation, map[string]any{"in": in}, &out); err != nil {
		return nil, err
	}
	return &out.Send, nil
}

// Task returns a task with its progress. A task that does not exist or that the key cannot
// see is a NOT_FOUND *Error.
func (c *Client) Task(ctx context.Context, id string) (*Task, error) {
	var out struct {
		Task *Task `json:"task"`
	}
	if err := c.Do(ctx, TaskQuery, map[string]any{"id": id}, &out); err != nil {
		return nil, err
	}
	if out.Task == nil {
		return nil, &Error{Code: CodeNotFound, Message: fmt.Sprintf("task %s not found", id)}
	}
	return out.Task, nil
}

// UpsertUsers creates or updates up to 10,000 users of an app.
func (c *Client) UpsertUsers(ctx context.Context, appID string, users []UserInput) (*UpsertResult, error) {
	var out struct {
		UpsertUsers UpsertResult `json:"upsertUsers"`
	}
	if users == nil {
		users = []UserInput{} // the list is required; null would be bad input
	}
	if err := c.Do(ctx, UpsertUsersMutation, map[string]any{"appId": appID, "users": users}, &out); err != nil {
		return nil, err
	}
	return &out.UpsertUsers, nil
}

// CreateTask creates a bulk or scheduled task and returns it as created.
func (c *Client) CreateTask(ctx context.Context, in TaskInput) (*Task, error) {
	var out struct {
		CreateTask Task `json:"createTask"`
	}
	if err := c.Do(ctx, CreateTaskMutation, map[string]any{"in": in}, &out); err != nil {
		return nil, err
	}
	return &out.CreateTask, nil
}

// Stats returns an app's delivery statistics grouped and filtered as in asks.
func (c *Client) Stats(ctx context.Context, in StatsInput) (*StatsResult, error) {
	var out struct {
		Stats StatsResult `json:"stats"`
	}
	if err := c.Do(ctx, StatsQuery, map[string]any{"in": in}, &out); err != nil {
		return nil, err
	}
	return &out.Stats, nil
}
