package wechat_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/conformance"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/wechat"
)

func TestWeChatConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel: channels.WeChat,
		New: func(t testing.TB, simURL string, cfg sim.Config) channels.Provider {
			p, err := wechat.New(wechat.Config{
				Endpoint: simURL, AppID: cfg.AppID, AppSecret: sim.DefaultSecret, Token: cfg.CallbackToken,
				TemplateID: "TEXT_TEMPLATE",
			})
			require.NoError(t, err)
			return p
		},
		Address: func(_, behaviour string, i int) string {
			if behaviour == "ok" {
				return fmt.Sprintf("oHerald%04dUser", i)
			}
			return fmt.Sprintf("oHerald%s%04d", behaviour, i)
		},
		Message: func(m channels.Message) channels.Message {
			m.Extra = map[string]any{
				"templateId": "ORDER_SHIPPED",
				"data":       map[string]any{"first": m.Title, "keyword1": map[string]any{"value": m.Body, "color": "#173177"}},
				"url":        "https://example.com/orders",
			}
			return m
		},
		Forge: func(r *http.Request) {
			q := r.URL.Query()
			q.Set("signature", "forged")
			r.URL.RawQuery = q.Encode()
		},
	})
}
