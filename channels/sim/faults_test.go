package sim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sim/simtest"
)

func postFaults(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url+"/sim/faults", "application/json", bytes.NewBufferString(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// Faults switched at run time: a failing vendor, then a throttling one, then a healthy one.
func TestFaultsAtRunTime(t *testing.T) {
	t.Parallel()
	s, srv := simtest.StartSim(t, sim.Config{})
	send := func(i int) int {
		return postWebhook(t, srv.URL+"/webhook/a", sim.DefaultSecret, "m"+strconv.Itoa(i), "x"+strconv.Itoa(i))
	}
	require.Equal(t, http.StatusAccepted, send(0))

	code, _ := postFaults(t, srv.URL, `{"failure_rate": 1}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, http.StatusServiceUnavailable, send(1))

	code, body := postFaults(t, srv.URL, `{"throttle_rate": 1}`)
	require.Equal(t, http.StatusOK, code)
	var f sim.Faults
	require.NoError(t, json.Unmarshal([]byte(body), &f))
	require.Equal(t, sim.Faults{ThrottleRate: 1}, f, "the answer is the faults now in force")
	require.Equal(t, http.StatusTooManyRequests, send(2))

	code, _ = postFaults(t, srv.URL, `{}`)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, http.StatusAccepted, send(3))

	st := s.Stats()
	require.EqualValues(t, 1, st.Faults[channels.Webhook])
	require.EqualValues(t, 1, st.Throttled[channels.Webhook])
	require.EqualValues(t, 2, st.Received[channels.Webhook])
}

func TestFaultsRefuseBadInput(t *testing.T) {
	t.Parallel()
	s, srv := simtest.StartSim(t, sim.Config{FailureRate: 0.5})
	for _, tt := range []struct{ body, field string }{
		{`{"failure_rate": 2}`, "failure_rate"},
		{`{"throttle_rate": -0.1}`, "throttle_rate"},
		{`{"failure": 1}`, "failure"},
		{`not json`, "body"},
	} {
		code, body := postFaults(t, srv.URL, tt.body)
		require.Equal(t, http.StatusBadRequest, code, tt.body)
		require.Contains(t, body, tt.field, tt.body)
	}
	require.Equal(t, sim.Faults{FailureRate: 0.5}, s.Faults(), "a refused change changes nothing")
}

// /sim/counts lists each address with the messages it accepted.
func TestCounts(t *testing.T) {
	t.Parallel()
	s, srv := simtest.StartSim(t, sim.Config{})
	for i, path := range []string{"/webhook/a", "/webhook/a", "/webhook/b"} {
		require.Equal(t, http.StatusAccepted, postWebhook(t, srv.URL+path, sim.DefaultSecret, "m"+strconv.Itoa(i), "x"))
	}
	require.Equal(t, map[string]int{"/webhook/a": 2, "/webhook/b": 1}, s.Counts(channels.Webhook))
	var got map[string]int
	getJSON(t, srv.URL+"/sim/counts?channel=webhook", &got)
	require.Equal(t, map[string]int{"/webhook/a": 2, "/webhook/b": 1}, got)
	resp, err := http.Get(srv.URL + "/sim/counts?channel=PIGEON")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
