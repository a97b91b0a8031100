package providers

import (
	"crypto/tls"
	"errors"
	"net"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/email"
)

// SimFrom is the sender of the emails the sim-smtp= setting sends.
const SimFrom = "Herald <herald@sim.herald.local>"

func init() {
	builders["sim-smtp"] = buildSimSMTP
}

// buildSimSMTP registers an EMAIL provider named "smtp" that submits to the simulator's
// SMTP server at addr (sim-smtp=127.0.0.1:2525) with STARTTLS and AUTH PLAIN.
func buildSimSMTP(addr string, opts Options, reg *channels.Registry) error {
	if addr == "" {
		return errors.New("missing the simulator's SMTP address, as in sim-smtp=127.0.0.1:2525")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return errors.New("the simulator's SMTP address must be host:port, as in sim-smtp=127.0.0.1:2525")
	}
	p, err := email.New(SimEmailConfig(addr, opts))
	if err != nil {
		return err
	}
	reg.Register(p)
	return nil
}

// SimEmailConfig is the configuration of an EMAIL provider that talks to the simulator's
// SMTP server at addr.
func SimEmailConfig(addr string, opts Options) email.Config {
	return email.Config{
		Name:     "smtp",
		Addr:     addr,
		Security: email.StartTLS,
		// The simulator's certificate is self-signed and made when it starts; STARTTLS is
		// still negotiated so the connection path is the one real servers take.
		TLSConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // simulator only
		Username:  SimAccessKeyID,
		Password:  SimSecret,
		From:      SimFrom,
		// The simulator posts the bounces of "bounce" addresses with its secret as token.
		CallbackToken: SimSecret,
		Tracker:       opts.Tracker,
		Logger:        opts.Logger,
	}
}
