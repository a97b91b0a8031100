package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/dingtalk"
)

func init() {
	accountTypes["dingtalk"] = accountType{channels.DingTalk, buildDingTalk}
}

// buildDingTalk builds a work-notice provider from an account of type dingtalk
// (docs/channels.md): app_key, app_secret and agent_id of the internal app; optional
// endpoint, poll_interval, max_poll_interval, track_tasks, track_for and concurrency.
func buildDingTalk(name string, s *Settings, opts Options) (channels.Provider, error) {
	s.String("agent_id", true) // required; read as a number below
	cfg := dingtalk.Config{
		Name:            name,
		Endpoint:        s.String("endpoint", false),
		AppKey:          s.String("app_key", true),
		AppSecret:       s.String("app_secret", true),
		AgentID:         int64(s.Int("agent_id", 0)),
		PollInterval:    s.Duration("poll_interval", 0),
		MaxPollInterval: s.Duration("max_poll_interval", 0),
		TrackTasks:      s.Int("track_tasks", 0),
		TrackFor:        s.Duration("track_for", 0),
		Concurrency:     s.Int("concurrency", 0),
		HTTPClient:      opts.HTTPClient,
		Logger:          opts.Logger,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return dingtalk.New(cfg)
}
