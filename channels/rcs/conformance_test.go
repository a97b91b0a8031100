package rcs_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/conformance"
	"github.com/herald-msg/herald/channels/rcs"
	"github.com/herald-msg/herald/channels/sim"
)

func newSimMaaP(t testing.TB, simURL string, cfg sim.Config) *rcs.MaaP {
	t.Helper()
	p, err := rcs.New(rcs.Config{
		Endpoint: simURL + "/rcs", ChatbotID: cfg.AppID, ClientSecret: cfg.AccessKeySecret,
		NotifyPassword: cfg.CallbackToken,
	})
	require.NoError(t, err)
	return p
}

func rcsAddress(_, behaviour string, i int) string {
	switch behaviour {
	case "fail":
		return fmt.Sprintf("+86137%04d0000", i)
	case "silent":
		return fmt.Sprintf("+86137%04d1111", i)
	case "slow":
		return fmt.Sprintf("+86137%04d2222", i)
	}
	return fmt.Sprintf("+86137%04d5678", i)
}

func TestMaaPConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel: channels.RCS,
		New:     func(t testing.TB, simURL string, cfg sim.Config) channels.Provider { return newSimMaaP(t, simURL, cfg) },
		Address: rcsAddress,
		Forge:   func(r *http.Request) { r.Header.Set("Authorization", rcs.Authorization(sim.DefaultAppID, "forged")) },
	})
}

func TestMaaPCardConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel: channels.RCS,
		New:     func(t testing.TB, simURL string, cfg sim.Config) channels.Provider { return newSimMaaP(t, simURL, cfg) },
		Address: rcsAddress,
		Message: func(m channels.Message) channels.Message {
			m.Extra = map[string]any{"card": map[string]any{
				"title": "Order shipped", "description": m.Body, "media": "https://cdn.example.com/p.png",
				"suggestions": []any{map[string]any{"text": "Track", "url": "https://shop.example.com/t"}, map[string]any{"text": "Thanks"}},
			}}
			return m
		},
		Forge: func(r *http.Request) { r.Header.Del("Date") },
	})
}
