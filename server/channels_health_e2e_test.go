package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/server"
	"github.com/herald-msg/herald/server/servertest"
)

// channelHealth is one entry of the channels query.
type channelHealth struct {
	Channel, Provider, Circuit              string
	CircuitAt                               *time.Time
	Priority, Weight, WindowSeconds         int
	Calls, FailedCalls, Messages, Failures  int
	SuccessRate, LatencyP50Ms, LatencyP95Ms *float64
}

const channelsHealthQuery = `query($app: ID!) { channels(appId: $app) { channel provider circuit circuitAt priority weight
	windowSeconds calls failedCalls messages failures successRate latencyP50Ms latencyP95Ms } }`

// The workers record every vendor call in Redis: an API process that sends nothing itself
// (and whose breakers never saw a call) reports the SMS provider's calls, success rate,
// latency and circuit, with its place in the route.
func TestChannelsShowProviderHealth(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	app := env.AdminKey(t, "OPERATOR")
	const n = 6
	var ids []string
	for i := range n {
		id := fmt.Sprintf("u%d", i)
		env.UpsertUsers(t, app.Key, app.ID, servertest.User{ID: id, Identities: []servertest.Identity{servertest.SMS(fmt.Sprintf("+86139%04d5555", i))}})
		ids = append(ids, id)
	}
	tpl := createTemplate(t, env, app, otpTemplate("otp", "TRANSACTIONAL"))
	rule := createRule(t, env, app, "sms", map[string]any{"strategy": "CONCURRENT", "channels": []string{"SMS"}})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule, UserIDs: ids, Variables: map[string]any{"code": "4242"}})
	taskID := servertest.TaskID(t, res.Task.ID)
	env.Eventually(t, func() bool {
		sent := 0
		for _, r := range env.TaskRows(t, taskID) {
			if r.Status == "SENT" || r.Status == "DELIVERED" {
				sent++
			}
		}
		return sent == n
	}, "every SMS is handed to the vendor")

	// A second process, API only, on the same Redis.
	cfg := env.Config
	cfg.HTTPAddr = "127.0.0.1:0"
	api, err := server.New(cfg, server.Mode{API: true}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-api.Ready:
	case err := <-done:
		require.FailNow(t, "the API process stopped", "%v", err)
	case <-time.After(time.Minute):
		require.FailNow(t, "the API process was not ready in time")
	}
	apiURL := "http://" + api.Addr.Load().(string)

	byProvider := map[string]channelHealth{}
	for _, c := range queryChannels(t, apiURL, app.Key.APIKey, app.ID) {
		byProvider[c.Provider] = c
	}
	ali, ok := byProvider["aliyun"]
	require.True(t, ok, "the SMS provider is listed: %v", byProvider)
	require.Equal(t, "SMS", ali.Channel)
	require.Equal(t, 0, ali.Priority)
	require.Equal(t, 1, ali.Weight)
	require.Equal(t, 300, ali.WindowSeconds)
	require.Positive(t, ali.Calls)
	require.Equal(t, n, ali.Messages)
	require.Zero(t, ali.Failures)
	require.NotNil(t, ali.SuccessRate)
	require.InDelta(t, 1.0, *ali.SuccessRate, 1e-9)
	require.NotNil(t, ali.LatencyP50Ms)
	require.NotNil(t, ali.LatencyP95Ms)
	require.GreaterOrEqual(t, *ali.LatencyP95Ms, *ali.LatencyP50Ms)
	require.Equal(t, "CLOSED", ali.Circuit)
	require.NotNil(t, ali.CircuitAt, "the circuit state a worker reported")

	spare, ok := byProvider["smsgw"]
	require.True(t, ok)
	require.Equal(t, 1, spare.Priority, "the failover of the SMS channel")
	require.Zero(t, spare.Calls)
	require.Nil(t, spare.SuccessRate)
	require.Nil(t, spare.LatencyP50Ms)
	require.Nil(t, spare.CircuitAt, "no report: the API process's own breaker")
}

// queryChannels runs the channels query on the Herald at base.
func queryChannels(t *testing.T, base, key, appID string) []channelHealth {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": channelsHealthQuery, "variables": map[string]any{"app": appID}})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out struct {
		Data struct {
			Channels []channelHealth `json:"channels"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	require.Empty(t, out.Errors, "%s", raw)
	return out.Data.Channels
}
