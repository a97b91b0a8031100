package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/rcs"
	"github.com/herald-msg/herald/server/servertest"
)

// RCS first, SMS for those it cannot reach: a terminal without RCS fails at once with the
// platform's "not RCS capable" and Herald's own FALLBACK sends the SMS; RCS receipts come
// back on /callbacks/rcs/maap, voice call reports on /callbacks/voice/aliyun-voice.
func TestRCSFallbackAndVoiceCalls(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t)
	app := env.AdminKey(t, "OPERATOR")
	env.UpsertUsers(t, app.Key, app.ID,
		servertest.User{ID: "rcs", Identities: []servertest.Identity{{Channel: "RCS", Address: "+8613700135678"}, servertest.SMS("+8613700135678")}},
		servertest.User{ID: "no-rcs", Identities: []servertest.Identity{{Channel: "RCS", Address: "+8613700133333"}, servertest.SMS("+8613700133333")}},
		servertest.User{ID: "answers", Identities: []servertest.Identity{{Channel: "VOICE", Address: "+8613900135678"}}},
		servertest.User{ID: "no-answer", Identities: []servertest.Identity{{Channel: "VOICE", Address: "+8613900133333"}}},
	)
	tpl := createTemplate(t, env, app, map[string]any{"name": "parcel", "class": "TRANSACTIONAL",
		"variables": []map[string]any{{"name": "order", "type": "string", "required": true}},
		"variants": []map[string]any{
			{"channel": "RCS", "body": "Order {{order}} shipped", "extra": map[string]any{"card": map[string]any{
				"title": "Order {{order}} shipped", "description": "It is on its way.",
				"suggestions": []any{map[string]any{"text": "Track", "url": "https://shop.example.com/t/{{order}}"}}}}},
			{"channel": "SMS", "body": "Order {{order}} shipped", "extra": map[string]any{"sign": "Herald"}},
			{"channel": "VOICE", "body": "您的订单 {{order}} 已发货"},
		}})
	fallback := createRule(t, env, app, "rcs-then-sms", map[string]any{"strategy": "FALLBACK", "channels": []string{"RCS", "SMS"}, "fallbackAfter": "30s"})
	res := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: fallback,
		UserIDs: []string{"rcs", "no-rcs"}, Variables: map[string]any{"order": "42"}})
	voice := createRule(t, env, app, "call", map[string]any{"strategy": "CONCURRENT", "channels": []string{"VOICE"}})
	calls := env.MustSend(t, app.Key, servertest.SendInput{AppID: app.ID, TemplateID: tpl, RuleID: voice,
		UserIDs: []string{"answers", "no-answer"}, Variables: map[string]any{"order": "43"}})

	rowsOf := func(task string) map[string]servertest.Row {
		out := map[string]servertest.Row{}
		for _, r := range env.TaskRows(t, servertest.TaskID(t, task)) {
			out[r.UserID+"/"+r.Channel] = r
		}
		return out
	}
	env.Eventually(t, func() bool {
		rows := rowsOf(res.Task.ID)
		return rows["rcs/RCS"].Status == "DISPLAYED" && rows["no-rcs/SMS"].Status == "DELIVERED"
	}, "the RCS message is displayed; the terminal without RCS gets the SMS")
	rows := rowsOf(res.Task.ID)
	require.Equal(t, "maap", rows["rcs/RCS"].Provider)
	require.Equal(t, "FAILED", rows["no-rcs/RCS"].Status)
	require.Contains(t, rows["no-rcs/RCS"].Reason, rcs.ReasonNotCapable)
	_, smsToRCSUser := rows["rcs/SMS"]
	require.False(t, smsToRCSUser && rows["rcs/SMS"].Status != "SUPPRESSED", "a user reached by RCS gets no SMS")
	require.Empty(t, env.Sim.Messages(channels.SMS, "+8613700135678"))
	require.Len(t, env.Sim.Messages(channels.SMS, "+8613700133333"), 1)

	env.Eventually(t, func() bool {
		rows := rowsOf(calls.Task.ID)
		return rows["answers/VOICE"].Status == "DELIVERED" && rows["no-answer/VOICE"].Status == "FAILED"
	}, "the answered call is delivered, the unanswered one failed")
	rows = rowsOf(calls.Task.ID)
	require.Equal(t, "aliyun-voice", rows["answers/VOICE"].Provider)
	require.Equal(t, "200003: 用户收到呼叫但未接听", rows["no-answer/VOICE"].Reason)
	require.Equal(t, "您的订单 43 已发货", env.Sim.Messages(channels.Voice, "+8613900135678")[0].Content)
}
