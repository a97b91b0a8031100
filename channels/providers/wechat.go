package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/wechat"
)

func init() {
	accountTypes["wechat-mp"] = accountType{channels.WeChat, buildWeChat}
}

// buildWeChat builds an official-account provider from an account of type wechat-mp
// (docs/channels.md): app_id, app_secret and token from the account's console; optional
// endpoint, encoding_aes_key, template_id, title_key, body_key, max_skew, concurrency,
// track_messages and track_for.
func buildWeChat(name string, s *Settings, opts Options) (channels.Provider, error) {
	cfg := wechat.Config{
		Name:           name,
		Endpoint:       s.String("endpoint", false),
		AppID:          s.String("app_id", true),
		AppSecret:      s.String("app_secret", true),
		Token:          s.String("token", true),
		EncodingAESKey: s.String("encoding_aes_key", false),
		TemplateID:     s.String("template_id", false),
		TitleKey:       s.String("title_key", false),
		BodyKey:        s.String("body_key", false),
		MaxSkew:        s.Duration("max_skew", 0),
		Concurrency:    s.Int("concurrency", 0),
		TrackMessages:  s.Int("track_messages", 0),
		TrackFor:       s.Duration("track_for", 0),
		HTTPClient:     opts.HTTPClient,
		Logger:         opts.Logger,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return wechat.New(cfg)
}
