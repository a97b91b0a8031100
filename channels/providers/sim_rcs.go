package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/rcs"
)

// simChatbotID is the chatbot (and OAuth2 client) id the simulator's MaaP platform accepts.
const simChatbotID = "sim-app"

// simMaaP talks to the simulator's 5G message (MaaP chatbot) platform under /rcs.
func simMaaP(t SimTarget) (channels.Provider, error) {
	return rcs.New(rcs.Config{
		Endpoint:       t.URL() + "/rcs",
		ChatbotID:      simChatbotID,
		ClientSecret:   SimSecret,
		NotifyPassword: SimSecret,
		HTTPClient:     t.Opts.HTTPClient,
		Logger:         t.Opts.Logger,
	})
}
