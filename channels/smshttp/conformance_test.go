package smshttp_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/conformance"
	"github.com/herald-msg/herald/channels/providers"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/smshttp"
)

// The generic provider, configured for the simulator's gateway exactly as sim= wires it,
// passes the suite: the field mapping works end to end.
func TestSMSHTTPConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel: channels.SMS,
		New: func(t testing.TB, simURL string, _ sim.Config) channels.Provider {
			p, err := smshttp.New(providers.SimSMSHTTPConfig(simURL))
			require.NoError(t, err)
			return p
		},
		Address: func(_, behaviour string, i int) string {
			switch behaviour {
			case "fail":
				return fmt.Sprintf("+86136%04d0000", i)
			case "silent":
				return fmt.Sprintf("+86136%04d1111", i)
			case "slow":
				return fmt.Sprintf("+86136%04d2222", i)
			}
			return fmt.Sprintf("+86136%04d5678", i)
		},
		Forge: func(r *http.Request) { r.Header.Set("X-Smsgw-Token", "forged") },
	})
}
