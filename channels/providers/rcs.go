package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/rcs"
)

func init() {
	accountTypes["rcs-maap"] = accountType{channels.RCS, buildMaaP}
}

// buildMaaP builds a 5G message (MaaP chatbot) provider from an account of type rcs-maap
// (docs/channels.md): endpoint, chatbot_id, client_secret and notify_password; optional
// api_version, client_id, token_url, network_fallback and concurrency.
func buildMaaP(name string, s *Settings, opts Options) (channels.Provider, error) {
	cfg := rcs.Config{
		Name:            name,
		Endpoint:        s.String("endpoint", true),
		APIVersion:      s.String("api_version", false),
		ChatbotID:       s.String("chatbot_id", true),
		ClientID:        s.String("client_id", false),
		ClientSecret:    s.String("client_secret", true),
		TokenURL:        s.String("token_url", false),
		NotifyPassword:  s.String("notify_password", true),
		NetworkFallback: s.Bool("network_fallback", false),
		Concurrency:     s.Int("concurrency", 0),
		HTTPClient:      opts.HTTPClient,
		Logger:          opts.Logger,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return rcs.New(cfg)
}
