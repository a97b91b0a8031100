package providers

import (
	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/voice"
)

func init() {
	accountTypes["aliyun-voice"] = accountType{channels.Voice, buildAliyunVoice}
}

// buildAliyunVoice builds an Alibaba Cloud voice-notification provider from an account of
// type aliyun-voice (docs/channels.md): access_key_id, access_key_secret and
// callback_token; optional endpoint, region_id, called_show_number, tts_code, play_times
// and concurrency.
func buildAliyunVoice(name string, s *Settings, opts Options) (channels.Provider, error) {
	cfg := voice.AliyunConfig{
		Name:             name,
		Endpoint:         s.String("endpoint", false),
		AccessKeyID:      s.String("access_key_id", true),
		AccessKeySecret:  s.String("access_key_secret", true),
		RegionID:         s.String("region_id", false),
		CalledShowNumber: s.String("called_show_number", false),
		TtsCode:          s.String("tts_code", false),
		PlayTimes:        s.Int("play_times", 0),
		CallbackToken:    s.String("callback_token", true),
		Concurrency:      s.Int("concurrency", 0),
		HTTPClient:       opts.HTTPClient,
		Logger:           opts.Logger,
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return voice.NewAliyun(cfg)
}
