package sms_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/conformance"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/sms"
)

func TestAliyunConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel: channels.SMS,
		New: func(t testing.TB, simURL string, cfg sim.Config) channels.Provider {
			p, err := sms.NewAliyun(sms.AliyunConfig{
				Endpoint: simURL, AccessKeyID: cfg.AccessKeyID, AccessKeySecret: sim.DefaultSecret,
				SignName: "Herald", TemplateCode: "SMS_TEXT", CallbackToken: sim.DefaultSecret,
			})
			require.NoError(t, err)
			return p
		},
		Address: func(_, behaviour string, i int) string {
			switch behaviour {
			case "fail":
				return fmt.Sprintf("+86138%02d000000", i%100)[:14] // ends in 0000
			case "silent":
				return fmt.Sprintf("+86138%04d1111", i)
			case "slow":
				return fmt.Sprintf("+86138%04d2222", i)
			}
			return fmt.Sprintf("+86138%04d5678", i)
		},
		Forge: func(r *http.Request) {
			q := r.URL.Query()
			q.Set("token", "forged")
			r.URL.RawQuery = q.Encode()
		},
	})
}
