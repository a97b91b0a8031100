package server_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/dingtalk"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/wechat"
	"github.com/herald-msg/herald/server/servertest"
)

// WeChat template messages come back as signed event pushes on /callbacks/wechat/wechat;
// DingTalk work notices as results the worker polls. Refused addresses end FAILED with the
// vendor's reason.
func TestWeChatAndDingTalkReceipts(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	app := env.AdminKey(t, "OPERATOR")
	env.UpsertUsers(t, app.Key, app.ID,
		servertest.User{ID: "wx-ok", Identities: []servertest.Identity{{Channel: "WECHAT", Address: "oE2EUser0001"}}},
		servertest.User{ID: "wx-bad", Identities: []servertest.Identity{{Channel: "WECHAT", Address: "oE2Efail0001"}}},
		servertest.User{ID: "dt-ok", Identities: []servertest.Identity{{Channel: "DINGTALK", Address: "e2e-manager"}}},
		servertest.User{ID: "dt-bad", Identities: []servertest.Identity{{Channel: "DINGTALK", Address: "e2e-fail-user"}}},
	)
	tpl := createTemplate(t, env, app, map[string]any{"name": "shipped", "class": "TRANSACTIONAL",
		"variables": []map[string]any{{"name": "order", "type": "string", "required": true}},
		"variants": []map[string]any{
			{"channel": "WECHAT", "body": "Order {{order}} shipped", "extra": map[string]any{
				"templateId": "ORDER_SHIPPED", "data": map[string]any{"first": "Order {{order}}", "keyword1": map[string]any{"value": "shipped", "color": "#173177"}},
				"url": "https://shop.example.com/o/{{order}}"}},
			{"channel": "DINGTALK", "title": "Order {{order}}", "body": "## Order {{order}} shipped", "extra": map[string]any{"msgType": "markdown"}},
		}})
	rule := createRule(t, env, app, "both", map[string]any{"strategy": "CONCURRENT", "channels": []string{"WECHAT", "DINGTALK"}})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule,
		UserIDs: []string{"wx-ok", "wx-bad", "dt-ok", "dt-bad"}, Variables: map[string]any{"order": "42"}})

	rowsOf := func() map[string]servertest.Row {
		out := map[string]servertest.Row{}
		for _, r := range env.TaskRows(t, servertest.TaskID(t, res.Task.ID)) {
			out[r.UserID+"/"+r.Channel] = r
		}
		return out
	}
	env.Eventually(t, func() bool {
		rows := rowsOf()
		return rows["wx-ok/WECHAT"].Status == "DELIVERED" && rows["dt-ok/DINGTALK"].Status == "DELIVERED" &&
			rows["wx-bad/WECHAT"].Status == "FAILED" && rows["dt-bad/DINGTALK"].Status == "FAILED"
	}, "pushed and polled receipts arrive; refused addresses fail")
	rows := rowsOf()
	require.Equal(t, "wechat", rows["wx-ok/WECHAT"].Provider)
	require.Equal(t, "dingtalk", rows["dt-ok/DINGTALK"].Provider)
	require.True(t, strings.HasPrefix(rows["wx-bad/WECHAT"].Reason, strconv.Itoa(wechat.CodeInvalidOpenID)), rows["wx-bad/WECHAT"].Reason)
	require.Equal(t, dingtalk.ReasonInvalidUser, rows["dt-bad/DINGTALK"].Reason)
	require.Equal(t, "ORDER_SHIPPED\nfirst: Order 42\nkeyword1: shipped", env.Sim.Messages(channels.WeChat, "oE2EUser0001")[0].Content)
	require.Equal(t, "Order 42\n## Order 42 shipped", env.Sim.Messages(channels.DingTalk, "e2e-manager")[0].Content)
	require.Empty(t, env.Sim.Messages(channels.DingTalk, "e2e-fail-user"))
}

// WeChat checks the server URL with a signed GET and echostr; a forged check or push is
// refused with 401.
func TestWeChatCallbackURLCheck(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	cb := env.URL + "/callbacks/wechat/wechat"
	signed := func(sig string) url.Values {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		if sig == "" {
			sig = wechat.Signature(sim.DefaultSecret, ts, "271828")
		}
		return url.Values{"timestamp": {ts}, "nonce": {"271828"}, "signature": {sig}}
	}
	q := signed("")
	q.Set("echostr", "6218351442837312471")
	resp, err := http.Get(cb + "?" + q.Encode())
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "6218351442837312471", string(body))

	q = signed("forged")
	q.Set("echostr", "6218351442837312471")
	resp, err = http.Get(cb + "?" + q.Encode())
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.NotContains(t, string(body), "6218351442837312471")

	push := `<xml><FromUserName><![CDATA[oX]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType>` +
		`<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>1</MsgID><Status><![CDATA[success]]></Status></xml>`
	resp, err = http.Post(cb+"?"+signed("forged").Encode(), "text/xml", strings.NewReader(push))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, err = http.Post(cb+"?"+signed("").Encode(), "text/xml", strings.NewReader(push))
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, wechat.AckBody, string(body), "WeChat is answered success")
}

// A WeChat event names only WeChat's msgid: it finds its message in a Herald process that
// did not send it (here, the same Herald restarted while the receipt was on its way).
func TestWeChatReceiptAfterRestart(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, servertest.WithSimConfig(func(c *sim.Config) { c.SlowDelay = 4 * time.Second }))
	app := env.AdminKey(t, "OPERATOR")
	env.UpsertUsers(t, app.Key, app.ID, servertest.User{ID: "wx", Identities: []servertest.Identity{{Channel: "WECHAT", Address: "oE2Eslow0001"}}})
	tpl := createTemplate(t, env, app, map[string]any{"name": "note", "class": "TRANSACTIONAL", "variables": []map[string]any{},
		"variants": []map[string]any{{"channel": "WECHAT", "body": "Hello", "extra": map[string]any{"templateId": "NOTE", "data": map[string]any{"first": "Hello"}}}}})
	rule := createRule(t, env, app, "wx", map[string]any{"strategy": "CONCURRENT", "channels": []string{"WECHAT"}})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: rule, UserIDs: []string{"wx"}})
	id := res.Message(t, "wx", "WECHAT").ID
	taskID := servertest.TaskID(t, res.Task.ID)
	env.Eventually(t, func() bool { return env.TaskRows(t, taskID)[id].Status == "SENT" }, "sent")
	env.Restart(t) // the new process never saw the msgid
	env.Eventually(t, func() bool { return env.TaskRows(t, taskID)[id].Status == "DELIVERED" }, "the late event finds its message")
}
