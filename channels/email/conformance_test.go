package email_test

import (
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/conformance"
	"github.com/herald-msg/herald/channels/email"
	"github.com/herald-msg/herald/channels/sim"
)

// TestSMTPConformance runs the suite against the simulator's SMTP server. SMTP has no
// delivery receipts (a 250 is the last word of the server; opens and clicks come from
// Herald's tracking endpoints, tested end to end in server/), hence NoReceipts.
func TestSMTPConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel:    channels.Email,
		NoReceipts: true,
		SimConfig:  func(c *sim.Config) { c.SMTPAddr = "127.0.0.1:0" },
		New: func(t testing.TB, _ string, cfg sim.Config) channels.Provider {
			p, err := email.New(email.Config{
				Addr:      cfg.SMTPAddr,
				TLSConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the simulator's certificate is self-signed
				Username:  cfg.AccessKeyID, Password: cfg.AccessKeySecret,
				From: "Herald <herald@sim.herald.local>",
			})
			require.NoError(t, err)
			t.Cleanup(p.Close)
			return p
		},
		Address: func(_, behaviour string, i int) string {
			if behaviour == "ok" {
				return fmt.Sprintf("user%d@example.com", i)
			}
			return fmt.Sprintf("%s%d@example.com", behaviour, i)
		},
		Message: func(m channels.Message) channels.Message {
			m.Extra = map[string]any{"text": m.Body}
			m.Body = "<p>" + m.Body + "</p>"
			return m
		},
	})
}
