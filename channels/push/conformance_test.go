package push_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/conformance"
	"github.com/herald-msg/herald/channels/push"
	"github.com/herald-msg/herald/channels/sim"
)

// testBroker is the Mosquitto the MQTT tests use: HERALD_TEST_MQTT_URL or the local one.
func testBroker() string {
	if u := os.Getenv("HERALD_TEST_MQTT_URL"); u != "" {
		return u
	}
	return "tcp://127.0.0.1:1883"
}

// testPrefix is a topic prefix no other test shares.
func testPrefix(t testing.TB) string {
	return fmt.Sprintf("herald-test/%d", time.Now().UnixNano())
}

var signField = regexp.MustCompile(`"sign":"[^"]*"`)

func TestGetuiConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel: channels.AppPush,
		New: func(t testing.TB, simURL string, cfg sim.Config) channels.Provider {
			p, err := push.NewGetui(push.GetuiConfig{Endpoint: simURL, AppID: cfg.AppID, AppKey: cfg.AccessKeyID, MasterSecret: cfg.AccessKeySecret})
			require.NoError(t, err)
			return p
		},
		Address: func(_, behaviour string, i int) string {
			return fmt.Sprintf("cid-%s-%04d-5f3d8a7c9e1b", behaviour, i)
		},
		Forge: func(r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			body = signField.ReplaceAll(body, []byte(`"sign":"00000000000000000000000000000000"`))
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		},
	})
}

func TestMQTTConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel:          channels.AppPush,
		NoVendorID:       true, // the broker answers a PUBACK, not an id; acks carry Herald's id
		RefusedByReceipt: true, // a device refuses with a FAILED ack
		SelfRunTransport: true, // Mosquitto neither injects errors nor throttles: see TestMQTTBroker*
		SimConfig: func(c *sim.Config) {
			c.MQTTBroker = testBroker()
			c.MQTTPrefix = testPrefix(t)
		},
		New: func(t testing.TB, _ string, cfg sim.Config) channels.Provider {
			p, err := push.NewMQTT(push.MQTTConfig{Broker: cfg.MQTTBroker, Prefix: cfg.MQTTPrefix})
			require.NoError(t, err)
			t.Cleanup(p.Close)
			return p
		},
		Address: func(_, behaviour string, i int) string {
			return fmt.Sprintf("device-%s-%d", behaviour, i)
		},
	})
}
