package model

import (
	"time"

	"github.com/herald-msg/herald/account"
	"github.com/herald-msg/herald/audience"
)

// Task is a task as the API shows it; the template, rule and progress fields are resolved
// from the ids it carries.
type Task struct {
	ID        string     `json:"id"`
	AppID     string     `json:"appId"`
	Name      string     `json:"name"`
	Kind      TaskKind   `json:"kind"`
	Lane      Lane       `json:"lane"`
	Status    TaskStatus `json:"status"`
	Cron      *string    `json:"cron,omitempty"`
	NextRunAt *time.Time `json:"nextRunAt,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`

	TaskID          int64  `json:"-"`
	TemplateID      int64  `json:"-"`
	TemplateVersion int    `json:"-"`
	RuleID          int64  `json:"-"`
	RuleVersion     int    `json:"-"`
	Day             string `json:"-"`
	Total           int64  `json:"-"`
	ShardsTotal     int    `json:"-"`
	ShardsDone      int    `json:"-"`
}

// User is a user as the API shows it; identities and history are resolved on demand.
type User struct {
	AppID      string   `json:"appId"`
	ID         string   `json:"id"`
	Attributes JSON     `json:"attributes,omitempty"`
	Tags       []string `json:"tags"`

	AppNum int64 `json:"-"`
}

// Viewer is the caller; its apps are resolved on demand.
type Viewer struct {
	Email *string `json:"email,omitempty"`
	Role  Role    `json:"role"`

	// Principal is the caller the viewer describes; after login it is not yet in the
	// request's context, so the apps resolver reads it from here.
	Principal *account.Principal `json:"-"`
}

// Audience is an audience as the API shows it; size and sample are computed on demand.
type Audience struct {
	ID   string       `json:"id"`
	Name string       `json:"name"`
	Kind AudienceKind `json:"kind"`

	Domain *audience.Audience `json:"-"`
}

// Identity is one channel address; its users are resolved on demand.
type Identity struct {
	Channel Channel `json:"channel"`
	Address string  `json:"address"`

	AppNum int64 `json:"-"`
}
