package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/wechat"
)

// simWeChatAppID is the official-account appid the simulator accepts by default.
const simWeChatAppID = "sim-app"

// simWeChatTemplate is the template that carries messages whose variant names none.
const simWeChatTemplate = "HERALD_TEXT"

func simWeChat(t SimTarget) (channels.Provider, error) {
	return wechat.New(wechat.Config{
		Endpoint:   t.URL(),
		AppID:      simWeChatAppID,
		AppSecret:  SimSecret,
		Token:      SimSecret,
		TemplateID: simWeChatTemplate,
		HTTPClient: t.Opts.HTTPClient,
		Logger:     t.Opts.Logger,
	})
}
