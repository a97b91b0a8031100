package webhook_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/conformance"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/webhook"
)

func TestWebhookConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel:    channels.Webhook,
		NoVendorID: true,
		New: func(t testing.TB, _ string, cfg sim.Config) channels.Provider {
			p, err := webhook.New(webhook.Config{Secret: sim.DefaultSecret})
			require.NoError(t, err)
			return p
		},
		Address: func(simURL, behaviour string, i int) string {
			if behaviour == "ok" {
				return fmt.Sprintf("%s/webhook/hook-%d", simURL, i)
			}
			return fmt.Sprintf("%s/webhook/%s-%d", simURL, behaviour, i)
		},
		Forge: func(r *http.Request) { r.Header.Set(webhook.HeaderSignature, "forged") },
	})
}
