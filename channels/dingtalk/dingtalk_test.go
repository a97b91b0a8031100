package dingtalk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/dingtalk"
	"github.com/herald-msg/herald/channels/sim"
)

func TestNewNamesTheBadField(t *testing.T) {
	ok := dingtalk.Config{AppKey: "k", AppSecret: "s", AgentID: 1}
	for _, tc := range []struct {
		edit  func(*dingtalk.Config)
		field string
	}{
		{func(c *dingtalk.Config) { c.AppKey = "" }, "AppKey"},
		{func(c *dingtalk.Config) { c.AppSecret = "" }, "AppSecret"},
		{func(c *dingtalk.Config) { c.AgentID = 0 }, "AgentID"},
		{func(c *dingtalk.Config) { c.Endpoint = "oapi.dingtalk.com" }, "Endpoint"},
		{func(c *dingtalk.Config) { c.PollInterval = time.Hour }, "PollInterval"},
		{func(c *dingtalk.Config) { c.TrackTasks = -1 }, "TrackTasks"},
	} {
		cfg := ok
		tc.edit(&cfg)
		_, err := dingtalk.New(cfg)
		require.ErrorContains(t, err, tc.field)
	}
	_, err := dingtalk.New(ok)
	require.NoError(t, err)
}

// counter counts the simulator's requests per path.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.n[r.URL.Path]++
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (c *counter) get(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[path]
}

func simEnv(t *testing.T, adjust func(*sim.Config)) (*sim.Server, string, *counter) {
	t.Helper()
	cfg := sim.Config{Callback: "http://127.0.0.1:1", ReceiptDelay: 10 * time.Millisecond, SlowDelay: time.Hour}
	if adjust != nil {
		adjust(&cfg)
	}
	s := sim.New(cfg)
	c := &counter{n: map[string]int{}}
	srv := httptest.NewServer(c.wrap(s.Handler()))
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return s, srv.URL, c
}

func newProvider(t *testing.T, base string, edit func(*dingtalk.Config)) *dingtalk.Provider {
	t.Helper()
	cfg := dingtalk.Config{Endpoint: base, AppKey: sim.DefaultAccessKeyID, AppSecret: sim.DefaultSecret, AgentID: 7,
		PollInterval: 10 * time.Millisecond, MaxPollInterval: 50 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	p, err := dingtalk.New(cfg)
	require.NoError(t, err)
	return p
}

func TestBatchOfOneContentGoesOutInCallsOfAHundred(t *testing.T) {
	s, base, c := simEnv(t, nil)
	p := newProvider(t, base, nil)
	var msgs []channels.Message
	for i := range 150 {
		msgs = append(msgs, channels.Message{ID: fmt.Sprint("m", i), Channel: channels.DingTalk, Address: fmt.Sprintf("user%03d", i), Title: "Deploy", Body: "v1.2 is live"})
	}
	msgs = append(msgs, channels.Message{ID: "other", Channel: channels.DingTalk, Address: "user000", Body: "something else"})
	res, err := p.Send(context.Background(), msgs)
	require.NoError(t, err)
	tasks := map[string]int{}
	for i, r := range res {
		require.Equal(t, channels.Sent, r.Status, "message %d: %s", i, r.Reason)
		task, user, ok := strings.Cut(r.VendorID, ":")
		require.True(t, ok, r.VendorID)
		require.Equal(t, msgs[i].Address, user)
		tasks[task]++
		require.True(t, slices.ContainsFunc(s.Messages(channels.DingTalk, msgs[i].Address), func(m sim.Message) bool { return m.VendorID == r.VendorID }),
			"the vendor got message %d under %s", i, r.VendorID)
	}
	require.Len(t, tasks, 3, "150 users of one content in two tasks, the other content in a third")
	require.Equal(t, 3, c.get(dingtalk.PathAsyncSend))
	require.Equal(t, 1, c.get(dingtalk.PathGetToken), "one token for the three concurrent calls")
	require.Equal(t, "Deploy\nv1.2 is live", s.Messages(channels.DingTalk, "user149")[0].Content)
}

func TestInvalidTokenAnswerRefreshesAndRetriesOnce(t *testing.T) {
	s, base, c := simEnv(t, nil)
	p := newProvider(t, base, nil)
	ctx := context.Background()
	msg := func(id string) []channels.Message {
		return []channels.Message{{ID: id, Channel: channels.DingTalk, Address: "user-" + id, Body: "hello " + id}}
	}
	res, err := p.Send(ctx, msg("a"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status)
	s.RevokeTokens()
	res, err = p.Send(ctx, msg("b"))
	require.NoError(t, err)
	require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	require.Equal(t, 2, c.get(dingtalk.PathGetToken))
	require.Equal(t, 3, c.get(dingtalk.PathAsyncSend))
	require.Len(t, s.Messages(channels.DingTalk, "user-b"), 1)
}

func TestTokenLifetimeFromTheVendorIsHonoured(t *testing.T) {
	_, base, c := simEnv(t, func(cfg *sim.Config) { cfg.TokenLifetime = 40 * time.Second })
	var mu sync.Mutex
	now := time.Now()
	p := newProvider(t, base, func(cfg *dingtalk.Config) {
		cfg.NowFunc = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
	})
	send := func(id string) {
		res, err := p.Send(context.Background(), []channels.Message{{ID: id, Channel: channels.DingTalk, Address: "u-" + id, Body: id}})
		require.NoError(t, err)
		require.Equal(t, channels.Sent, res[0].Status, res[0].Reason)
	}
	send("a")
	mu.Lock()
	now = now.Add(29 * time.Second) // before the last quarter of 40 s
	mu.Unlock()
	send("b")
	require.Equal(t, 1, c.get(dingtalk.PathGetToken))
	mu.Lock()
	now = now.Add(2 * time.Second) // 31 s: inside it
	mu.Unlock()
	send("c")
	require.Equal(t, 2, c.get(dingtalk.PathGetToken), "the token is replaced before it expires")
}

func TestBadCredentialsFailPermanently(t *testing.T) {
	_, base, c := simEnv(t, nil)
	p := newProvider(t, base, func(cfg *dingtalk.Config) { cfg.AppSecret = "wrong" })
	res, err := p.Send(context.Background(), []channels.Message{{ID: "x", Channel: channels.DingTalk, Address: "u1", Body: "b"}})
	require.NoError(t, err)
	require.Equal(t, channels.Failed, res[0].Status)
	require.False(t, res[0].Retryable)
	require.Contains(t, res[0].Reason, strconv.Itoa(dingtalk.CodeInvalidAppKey))
	require.Zero(t, c.get(dingtalk.PathAsyncSend))
}

func TestListenerReportsAgainWhenDeliveryFailed(t *testing.T) {
	_, base, _ := simEnv(t, nil)
	p := newProvider(t, base, nil)
	res, err := p.Send(context.Background(), []channels.Message{
		{ID: "ok", Channel: channels.DingTalk, Address: "alice", Body: "hi"},
		{ID: "bad", Channel: channels.DingTalk, Address: "fail-bob", Body: "hi"},
	})
	require.NoError(t, err)

	var mu sync.Mutex
	var got []channels.Receipt
	calls := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- p.ListenReceipts(ctx, func(rs []channels.Receipt) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 1 {
				return errors.New("queue unavailable")
			}
			got = append(got, rs...)
			return nil
		})
	}()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	mu.Lock()
	defer mu.Unlock()
	byID := map[string]channels.Receipt{}
	for _, r := range got {
		byID[r.MessageID] = r
	}
	require.Equal(t, channels.Delivered, byID["ok"].Status)
	require.Equal(t, res[0].VendorID, byID["ok"].VendorID)
	require.Equal(t, channels.Failed, byID["bad"].Status)
	require.Equal(t, dingtalk.ReasonInvalidUser, byID["bad"].Reason)
	require.Equal(t, "dingtalk", byID["bad"].Provider)
	require.Len(t, got, 2, "each receipt once after the failed delivery")
}

func TestUnreachableVendorIsABatchError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	p := newProvider(t, base, nil)
	_, err := p.Send(context.Background(), []channels.Message{{ID: "x", Address: "u", Body: "b"}})
	require.ErrorContains(t, err, "no call reached the vendor")
}

func TestTransportErrorsDoNotCarryTheSecret(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, srv.URL, func(cfg *dingtalk.Config) { cfg.AppSecret = "VERY-SECRET" })
	_, err := p.Send(context.Background(), []channels.Message{{ID: "x", Address: "u", Body: "b"}})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "VERY-SECRET")
	require.Contains(t, err.Error(), dingtalk.PathGetToken)
}
