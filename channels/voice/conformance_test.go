package voice_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/conformance"
	"github.com/herald-msg/herald/channels/sim"
	"github.com/herald-msg/herald/channels/voice"
)

func TestAliyunVoiceConformance(t *testing.T) {
	conformance.Run(t, conformance.Target{
		Channel: channels.Voice,
		New: func(t testing.TB, simURL string, cfg sim.Config) channels.Provider {
			p, err := voice.NewAliyun(voice.AliyunConfig{
				Name: "aliyun-voice", Endpoint: simURL, AccessKeyID: cfg.AccessKeyID, AccessKeySecret: sim.DefaultSecret,
				TtsCode: "TTS_10001", CalledShowNumber: "057100000000", CallbackToken: sim.DefaultSecret,
			})
			require.NoError(t, err)
			return p
		},
		Address: func(_, behaviour string, i int) string {
			switch behaviour {
			case "fail":
				return fmt.Sprintf("+86139%04d0000", i)
			case "silent":
				return fmt.Sprintf("+86139%04d1111", i)
			case "slow":
				return fmt.Sprintf("+86139%04d2222", i)
			}
			return fmt.Sprintf("+86139%04d5678", i)
		},
		Forge: func(r *http.Request) {
			q := r.URL.Query()
			q.Set("token", "forged")
			r.URL.RawQuery = q.Encode()
		},
	})
}
