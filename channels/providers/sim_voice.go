package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/voice"
)

// simVoiceTtsCode is the TTS template, of content "${content}", that carries voice scripts
// whose variant names no ttsCode.
const simVoiceTtsCode = "TTS_HERALD_TEXT"

// simAliyunVoice talks to the simulator's Dyvmsapi, which shares the POP front of dysmsapi.
func simAliyunVoice(t SimTarget) (channels.Provider, error) {
	return voice.NewAliyun(voice.AliyunConfig{
		Name:            "aliyun-voice",
		Endpoint:        t.URL(),
		AccessKeyID:     SimAccessKeyID,
		AccessKeySecret: SimSecret,
		TtsCode:         simVoiceTtsCode,
		CallbackToken:   SimSecret,
		HTTPClient:      t.Opts.HTTPClient,
		Logger:          t.Opts.Logger,
	})
}
