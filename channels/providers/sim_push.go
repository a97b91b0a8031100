package providers

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/push"
)

// simGetuiAppID is the Getui app id the simulator accepts.
const simGetuiAppID = "sim-app"

// SimMQTTPrefix is the topic prefix the sim-mqtt= setting and `herald sim --mqtt-broker`
// share by default.
const SimMQTTPrefix = push.DefaultMQTTPrefix

func init() {
	builders["sim-mqtt"] = buildSimMQTT
}

// simGetui is the APP_PUSH provider of sim=: Getui's REST API v2 on the simulator.
func simGetui(t SimTarget) (channels.Provider, error) {
	return push.NewGetui(push.GetuiConfig{
		Endpoint:     t.URL(),
		AppID:        simGetuiAppID,
		AppKey:       SimAccessKeyID,
		MasterSecret: SimSecret,
		DefaultTitle: SimSignName,
		HTTPClient:   t.Opts.HTTPClient,
		Logger:       t.Opts.Logger,
	})
}

// buildSimMQTT registers an APP_PUSH provider named "mqtt" that publishes to the broker the
// simulator's device fleet listens on: sim-mqtt=tcp://127.0.0.1:1883, or
// sim-mqtt=tcp://127.0.0.1:1883/<prefix> for a topic prefix other than "herald". Given after
// sim=, it is the channel's second provider (Getui first); given before, the first.
func buildSimMQTT(value string, opts Options, reg *channels.Registry) error {
	broker, prefix, err := SimMQTTTarget(value)
	if err != nil {
		return err
	}
	p, err := push.NewMQTT(push.MQTTConfig{Broker: broker, Prefix: prefix, Logger: opts.Logger})
	if err != nil {
		return err
	}
	reg.Register(p)
	return nil
}

// SimMQTTTarget splits the value of sim-mqtt= into the broker URL and the topic prefix (the
// URL's path, default SimMQTTPrefix).
func SimMQTTTarget(value string) (broker, prefix string, err error) {
	if value == "" {
		return "", "", errors.New("missing the broker URL, as in sim-mqtt=tcp://127.0.0.1:1883")
	}
	u, err := url.Parse(value)
	if err != nil || u.Host == "" || u.Scheme == "" {
		return "", "", fmt.Errorf("broker %q is not a URL such as tcp://127.0.0.1:1883", value)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix == "" {
		prefix = SimMQTTPrefix
	}
	u.Path, u.RawPath = "", ""
	return u.String(), prefix, nil
}
