package dingtalk_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/conformance"
	"github.com/herald-msg/herald/channels/dingtalk"
	"github.com/herald-msg/herald/channels/sim"
)

func TestDingTalkConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel: channels.DingTalk,
		// DingTalk takes every user id of a task and lists the invalid ones in the task's
		// send result, which the provider polls.
		RefusedByReceipt: true,
		New: func(t testing.TB, simURL string, cfg sim.Config) channels.Provider {
			p, err := dingtalk.New(dingtalk.Config{
				Endpoint: simURL, AppKey: cfg.AccessKeyID, AppSecret: sim.DefaultSecret, AgentID: 2001,
				PollInterval: 20 * time.Millisecond, MaxPollInterval: 200 * time.Millisecond,
			})
			require.NoError(t, err)
			return p
		},
		Address: func(_, behaviour string, i int) string {
			if behaviour == "ok" {
				return fmt.Sprintf("manager%04d", i)
			}
			return fmt.Sprintf("%s%04d", behaviour, i)
		},
	})
}
