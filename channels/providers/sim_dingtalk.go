package providers

import (
	"time"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/dingtalk"
)

// simDingTalkAgentID is the agent id work notices are sent as through the simulator.
const simDingTalkAgentID = 1

func simDingTalk(t SimTarget) (channels.Provider, error) {
	return dingtalk.New(dingtalk.Config{
		Endpoint:  t.URL(),
		AppKey:    SimAccessKeyID,
		AppSecret: SimSecret,
		AgentID:   simDingTalkAgentID,
		// The simulator answers at once: poll its results quickly.
		PollInterval:    time.Second,
		MaxPollInterval: 30 * time.Second,
		HTTPClient:      t.Opts.HTTPClient,
		Logger:          t.Opts.Logger,
	})
}
