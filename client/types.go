package client

import "time"

// Channel names a delivery channel: APP_PUSH, SMS, WECHAT, DINGTALK, VOICE, RCS, EMAIL or
// WEBHOOK.
type Channel = string

// Identity is an address of a user on a channel, such as an SMS phone number.
type Identity struct {
	Channel Channel `json:"channel"`
	Address string  `json:"address"`
}

// UserInput is a user to create or update: attributes, tags and identities are added to
// what Herald already holds.
type UserInput struct {
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
	Identities []Identity     `json:"identities,omitempty"`
}

// UpsertResult counts the users upsertUsers created and updated.
type UpsertResult struct {
	Created int `json:"created"`
	Updated int `json:"updated"`
}

// SendInput is a realtime send of a template through a rule to 1 to 1,000 users.
type SendInput struct {
	AppID      string         `json:"appId"`
	TemplateID string         `json:"templateId"`
	RuleID     string         `json:"ruleId"`
	UserIDs    []string       `json:"userIds"`
	Variables  map[string]any `json:"variables,omitempty"`
	// IdempotencyKey makes a retried send within 24 hours return the first result.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// Priority is 0–9; nil leaves Herald's default.
	Priority *int `json:"priority,omitempty"`
}

// SendResult is what send answers: the task, its planned messages and the unknown users.
type SendResult struct {
	Task     Task           `json:"task"`
	Messages []MessageRef   `json:"messages"`
	Rejected []RejectedUser `json:"rejected"`
}

// MessageRef is one message a send planned; Status is QUEUED or SUPPRESSED.
type MessageRef struct {
	ID      string  `json:"id"`
	UserID  string  `json:"userId"`
	Channel Channel `json:"channel"`
	Status  string  `json:"status"`
}

// RejectedUser is a user id a send did not know.
type RejectedUser struct {
	UserID string `json:"userId"`
	Reason string `json:"reason"`
}

// TaskInput creates a bulk or scheduled task: Kind is SINGLE, LIST, TAG, GROUP or
// BROADCAST; StartAt or Cron schedule it, neither starts it now.
type TaskInput struct {
	AppID      string         `json:"appId"`
	Name       string         `json:"name"`
	Kind       string         `json:"kind"`
	TemplateID string         `json:"templateId"`
	RuleID     string         `json:"ruleId"`
	AudienceID string         `json:"audienceId,omitempty"`
	UserIDs    []string       `json:"userIds,omitempty"`
	Variables  map[string]any `json:"variables,omitempty"`
	StartAt    *time.Time     `json:"startAt,omitempty"`
	Cron       string         `json:"cron,omitempty"`
	Priority   *int           `json:"priority,omitempty"`
}

// Task is a send or campaign with its progress.
type Task struct {
	ID     string `json:"id"`
	AppID  string `json:"appId"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Lane   string `json:"lane"`
	Status string `json:"status"`
	// Template and Rule are the versions the task sends with.
	Template  Ref          `json:"template"`
	Rule      Ref          `json:"rule"`
	Cron      *string      `json:"cron"`
	NextRunAt *time.Time   `json:"nextRunAt"`
	Progress  TaskProgress `json:"progress"`
	CreatedAt time.Time    `json:"createdAt"`
}

// Done reports whether the task reached a final status: COMPLETED, CANCELLED or FAILED.
func (t *Task) Done() bool {
	switch t.Status {
	case "COMPLETED", "CANCELLED", "FAILED":
		return true
	}
	return false
}

// Ref names a template or rule at a version.
type Ref struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// TaskProgress counts a task's messages by what happened to them.
type TaskProgress struct {
	Total       int64 `json:"total"`
	ShardsTotal int   `json:"shardsTotal"`
	ShardsDone  int   `json:"shardsDone"`
	Sent        int64 `json:"sent"`
	Delivered   int64 `json:"delivered"`
	Displayed   int64 `json:"displayed"`
	Clicked     int64 `json:"clicked"`
	Failed      int64 `json:"failed"`
	Suppressed  int64 `json:"suppressed"`
	Fallbacks   int64 `json:"fallbacks"`
	Redundant   int64 `json:"redundant"`
}

// StatsInput asks for statistics of an app over [From, To), grouped by Dimensions (DAY,
// HOUR, APP, CHANNEL, TEMPLATE, TASK, STATUS) and optionally filtered.
type StatsInput struct {
	AppID      string    `json:"appId"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Dimensions []string  `json:"dimensions"`
	Channel    Channel   `json:"channel,omitempty"`
	TemplateID string    `json:"templateId,omitempty"`
	TaskID     string    `json:"taskId,omitempty"`
	// Limit bounds the rows; 0 leaves Herald's default.
	Limit int `json:"limit,omitempty"`
}

// StatsResult is the grouped rows and their totals.
type StatsResult struct {
	Rows   []StatsRow `json:"rows"`
	Totals StatsRow   `json:"totals"`
}

// StatsRow is one group of the statistics; the dimension fields not grouped by are nil.
type StatsRow struct {
	Day        *string  `json:"day"`
	Hour       *int     `json:"hour"`
	AppID      *string  `json:"appId"`
	Channel    *Channel `json:"channel"`
	TemplateID *string  `json:"templateId"`
	TaskID     *string  `json:"taskId"`
	Status     *string  `json:"status"`
	Sent       int64    `json:"sent"`
	Delivered  int64    `json:"delivered"`
	Displayed  int64    `json:"displayed"`
	Clicked    int64    `json:"clicked"`
	Failed     int64    `json:"failed"`
	Suppressed int64    `json:"suppressed"`
	Redundant  int64    `json:"redundant"`
	Cost       float64  `json:"cost"`
}
