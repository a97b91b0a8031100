package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/push"
)

func init() {
	accountTypes["getui"] = accountType{channels.AppPush, buildGetui}
	accountTypes["mqtt"] = accountType{channels.AppPush, buildMQTT}
}

// buildGetui builds a Getui account: app_id, app_key and master_secret from Getui's console;
// optional endpoint, default_title, ttl (a duration, at most 72h) and concurrency.
func buildGetui(name string, s *Settings, opts Options) (channels.Provider, error) {
	cfg := push.GetuiConfig{
		Name:         name,
		Endpoint:     s.String("endpoint", false),
		AppID:        s.String("app_id", true),
		AppKey:       s.String("app_key", true),
		MasterSecret: s.String("master_secret", true),
		DefaultTitle: s.String("default_title", false),
		TTL:          s.Duration("ttl", 0),
		Concurrency:  s.Int("concurrency", 0),
		HTTPClient:   opts.HTTPClient,
		Logger:       opts.Logger,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return push.NewGetui(cfg)
}

// buildMQTT builds an MQTT account: broker (tcp://, ssl://, ws://, wss:// URL); optional
// prefix, client_id, username, password, persistent_session, ack_group, connect_timeout and
// publish_timeout.
func buildMQTT(name string, s *Settings, opts Options) (channels.Provider, error) {
	cfg := push.MQTTConfig{
		Name:              name,
		Broker:            s.String("broker", true),
		Prefix:            s.String("prefix", false),
		ClientID:          s.String("client_id", false),
		Username:          s.String("username", false),
		Password:          s.String("password", false),
		PersistentSession: s.Bool("persistent_session", false),
		AckGroup:          s.String("ack_group", false),
		ConnectTimeout:    s.Duration("connect_timeout", 0),
		PublishTimeout:    s.Duration("publish_timeout", 0),
		Logger:            opts.Logger,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return push.NewMQTT(cfg)
}
