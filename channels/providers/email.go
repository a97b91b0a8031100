package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/email"
)

func init() {
	accountTypes["smtp"] = accountType{channels.Email, buildSMTP}
}

// buildSMTP builds an EMAIL provider from an account of type smtp (docs/channels.md).
func buildSMTP(name string, s *Settings, opts Options) (channels.Provider, error) {
	cfg := email.Config{
		Name:          name,
		Addr:          s.String("addr", true),
		Security:      email.Security(s.String("security", false)),
		Username:      s.String("username", false),
		Password:      s.String("password", false),
		AuthMechanism: s.String("auth_mechanism", false),
		From:          s.String("from", true),
		Domain:        s.String("domain", false),
		PoolSize:      s.Int("pool_size", 0),
		Timeout:       s.Duration("timeout", 0),
		IdleTimeout:   s.Duration("idle_timeout", 0),
		CallbackToken: s.String("callback_token", false),
		Tracker:       opts.Tracker,
		Logger:        opts.Logger,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return email.New(cfg)
}
