package dingtalk

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
)

func TestPlanGroupsByContentInCallsOfAtMostMaxUsers(t *testing.T) {
	var msgs []channels.Message
	for i := range 250 {
		msgs = append(msgs, channels.Message{ID: fmt.Sprint("a", i), Address: fmt.Sprint("user", i), Body: "same"})
	}
	msgs = append(msgs,
		channels.Message{ID: "b0", Address: "user0", Body: "other"},
		channels.Message{ID: "dup", Address: "user0", Body: "other"}, // same user, same content
		channels.Message{ID: "empty", Address: " ", Body: "x"},
		channels.Message{ID: "bad", Address: "u", Body: "x", Extra: map[string]any{"msgType": "image"}},
	)
	results := make([]channels.Result, len(msgs))
	calls := plan(msgs, results)
	var sizes []int
	for _, c := range calls {
		sizes = append(sizes, len(c.users))
		seen := map[string]bool{}
		for k, u := range c.users {
			require.False(t, seen[u], "a call names a user once")
			seen[u] = true
			require.Equal(t, u, msgs[c.index[k]].Address)
		}
	}
	require.Equal(t, []int{100, 100, 50, 1, 1}, sizes)
	require.Equal(t, channels.Failed, results[252].Status)
	require.Contains(t, results[252].Reason, "no userid")
	require.Equal(t, channels.Failed, results[253].Status)
	require.Contains(t, results[253].Reason, "extra.msgType")
	require.Empty(t, results[0].Status, "messages in calls get their result from the call")
}

func TestBuildMsg(t *testing.T) {
	for _, tc := range []struct {
		m    channels.Message
		want Msg
		err  string
	}{
		{m: channels.Message{Title: "Build", Body: "passed"}, want: Msg{MsgType: "text", Text: &Text{Content: "Build\npassed"}}},
		{m: channels.Message{Body: "passed"}, want: Msg{MsgType: "text", Text: &Text{Content: "passed"}}},
		{m: channels.Message{Title: "T", Body: "## ok", Extra: map[string]any{"msgType": "markdown"}}, want: Msg{MsgType: "markdown", Markdown: &Markdown{Title: "T", Text: "## ok"}}},
		{m: channels.Message{Title: "T", Body: "b", Extra: map[string]any{"msgType": "link", "url": "https://ci/1", "picUrl": "https://ci/p.png"}},
			want: Msg{MsgType: "link", Link: &Link{MessageURL: "https://ci/1", PicURL: "https://ci/p.png", Title: "T", Text: "b"}}},
		{m: channels.Message{Title: "T", Body: "b", Extra: map[string]any{"msgType": "action_card", "url": "https://ci/1", "singleTitle": "Open"}},
			want: Msg{MsgType: "action_card", ActionCard: &ActionCard{Title: "T", Markdown: "b", SingleTitle: "Open", SingleURL: "https://ci/1"}}},
		{m: channels.Message{Body: "b", Extra: map[string]any{"msgType": "markdown"}}, err: "title"},
		{m: channels.Message{Title: "T", Body: "b", Extra: map[string]any{"msgType": "link"}}, err: "extra.url"},
		{m: channels.Message{Body: "b", Extra: map[string]any{"msgType": "oa"}}, err: "extra.msgType"},
	} {
		got, err := BuildMsg(tc.m)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func TestAnswerCodeAndClassification(t *testing.T) {
	require.Equal(t, 60011, (&Answer{ErrCode: 88, SubCode: "60011"}).Code(), "88 is decided by its sub_code")
	require.Equal(t, 88, (&Answer{ErrCode: 88, SubCode: "isv.x"}).Code())
	require.Equal(t, "60011: 没有调用该接口的权限", (&Answer{ErrCode: 88, SubCode: "60011", SubMsg: "没有调用该接口的权限", ErrMsg: "ding talk error"}).Reason())
	for code, retry := range map[int]bool{
		CodeBusy: true, CodeFlowAllCorps: true, CodeFlowPerMinute: true, CodeFlowPerSecond: true, CodeFlowAPI: true, CodeFlowISV: true,
		CodeInvalidToken: true, CodeTokenExpired: true,
		CodeInvalidParam: false, CodeInvalidAgentID: false, CodeInvalidAppKey: false, CodeNoPermission: false, CodeIPNotAllowed: false, 88: false,
	} {
		require.Equal(t, retry, IsRetryable(code), "errcode %d", code)
	}
}

func TestReceiptsOf(t *testing.T) {
	at := time.Unix(1714112445, 0)
	ids := map[string]string{"u1": "m1", "u2": "m2", "u3": "m3", "u4": "m4", "u5": "m5", "u6": "m6"}
	state := map[string]userState{"u1": pending, "u2": pending, "u3": delivered, "u4": pending, "u5": pending, "u6": pending}
	res := &SendResult{
		UnreadUserIDList:    []string{"u1", "stranger"},
		ReadUserIDList:      []string{"u2", "u3"},
		InvalidUserIDList:   []string{"u4"},
		ForbiddenUserIDList: []string{"u5"},
		ForbiddenList:       []Forbidden{{Code: "143105", Count: 1, UserID: "u5"}},
		FailedUserIDList:    []string{"u6"},
	}
	rs, next := receiptsOf("dt", 77, ids, state, res, at)
	type got struct {
		vendorID, messageID string
		status              channels.Status
		reason              string
	}
	var gs []got
	for _, r := range rs {
		require.Equal(t, channels.DingTalk, r.Channel)
		require.Equal(t, "dt", r.Provider)
		require.Equal(t, at, r.At)
		gs = append(gs, got{r.VendorID, r.MessageID, r.Status, r.Reason})
	}
	require.ElementsMatch(t, []got{
		{"77:u1", "m1", channels.Delivered, ""},
		{"77:u2", "m2", channels.Delivered, ""},
		{"77:u2", "m2", channels.Displayed, ""},
		{"77:u3", "m3", channels.Displayed, ""},
		{"77:u4", "m4", channels.Failed, ReasonInvalidUser},
		{"77:u5", "m5", channels.Failed, ReasonForbidden + ": 143105"},
		{"77:u6", "m6", channels.Failed, ReasonFailed},
	}, gs, "a user the task does not know is ignored")
	require.Equal(t, map[string]userState{"u1": delivered, "u2": displayed, "u3": displayed, "u4": failed, "u5": failed, "u6": failed}, next)

	for u, s := range next {
		state[u] = s
	}
	again, _ := receiptsOf("dt", 77, ids, state, res, at)
	require.Empty(t, again, "the same result reports nothing twice")
}

func TestTrackerBoundAndAge(t *testing.T) {
	tr := newTracker(2)
	now := time.Unix(1714112445, 0)
	for i := range 3 {
		tr.add(int64(i), map[string]string{"u": "m"}, now.Add(time.Duration(i)*time.Second), time.Second)
	}
	require.Equal(t, 2, tr.len(), "the oldest task is dropped beyond the bound")
	due := tr.due(now.Add(2*time.Second), time.Hour)
	require.Len(t, due, 1)
	require.EqualValues(t, 1, due[0].id)
	require.Empty(t, tr.due(now.Add(3*time.Hour), time.Hour))
	require.Zero(t, tr.len(), "tasks older than TrackFor are dropped")

	tr.add(9, map[string]string{"u": "m"}, now, time.Second)
	task := tr.due(now.Add(time.Second), time.Hour)[0]
	tr.settle(task, nil, false, now.Add(time.Second), time.Second, 3*time.Second)
	require.Equal(t, now.Add(3*time.Second), task.next, "no change: the pause doubles")
	tr.settle(task, nil, false, now.Add(3*time.Second), time.Second, 3*time.Second)
	require.Equal(t, now.Add(6*time.Second), task.next, "capped at the maximum")
	tr.settle(task, map[string]userState{"u": failed}, true, now.Add(6*time.Second), time.Second, 3*time.Second)
	require.Zero(t, tr.len(), "a task whose users are all final is dropped")
}
