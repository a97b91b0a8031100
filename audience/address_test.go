package audience_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/audience"
	"github.com/herald-msg/herald/channels"
)

func TestNormalizePhone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // empty: refused
	}{
		{"chinese mobile gets +86", "13800138000", "+8613800138000"},
		{"spaces", "138 0013 8000", "+8613800138000"},
		{"dashes and parentheses", "(138)-0013-8000", "+8613800138000"},
		{"already e.164", "+8613800138000", "+8613800138000"},
		{"+86 with spaces", "+86 138 0013 8000", "+8613800138000"},
		{"00 international prefix", "008613800138000", "+8613800138000"},
		{"us number", "+1 (415) 555-2671", "+14155552671"},
		{"uk number", "+44 20 7946 0958", "+442079460958"},
		{"hong kong, eight digits with the code", "+852 2123 4567", "+85221234567"},
		{"shortest e.164", "+1234567", ""},
		{"eight digits", "+12345678", "+12345678"},
		{"fifteen digits", "+123456789012345", "+123456789012345"},
		{"sixteen digits", "+1234567890123456", ""},
		{"country code cannot start with 0", "+0123456789", ""},
		{"too short for china", "1380013800", ""},
		{"too long for china", "138001380001", ""},
		{"china without leading 1", "23800138000", ""},
		{"chinese landline without a code", "02112345678", ""},
		{"letters", "1380013800a", ""},
		{"dots are not separators", "138.0013.8000", ""},
		{"plus alone", "+", ""},
		{"empty", "", ""},
		{"double plus", "++8613800138000", ""},
		{"full-width digits", "１３８００１３８０００", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := audience.NormalizePhone(tt.in)
			if tt.want == "" {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizeAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		channel channels.Channel
		in      string
		want    string // empty: refused
	}{
		{"sms phone", channels.SMS, " 138 0013 8000 ", "+8613800138000"},
		{"voice phone", channels.Voice, "+1 415 555 2671", "+14155552671"},
		{"rcs phone", channels.RCS, "13800138000", "+8613800138000"},
		{"bad sms phone", channels.SMS, "hello", ""},
		{"email domain lower-cased, local part kept", channels.Email, "Li.Lei@Example.COM", "Li.Lei@example.com"},
		{"email trimmed", channels.Email, "  li@example.com\n", "li@example.com"},
		{"email with a display name", channels.Email, "Li Lei <li@example.com>", ""},
		{"email in angle brackets", channels.Email, "<li@example.com>", ""},
		{"not an email", channels.Email, "li.example.com", ""},
		{"two at signs", channels.Email, "li@@example.com", ""},
		{"https webhook", channels.Webhook, "https://hooks.example.com/herald?k=1", "https://hooks.example.com/herald?k=1"},
		{"http webhook with port", channels.Webhook, "http://10.0.0.7:8080/hook", "http://10.0.0.7:8080/hook"},
		{"ftp webhook", channels.Webhook, "ftp://example.com/x", ""},
		{"file webhook", channels.Webhook, "file:///etc/passwd", ""},
		{"javascript webhook", channels.Webhook, "javascript:alert(1)", ""},
		{"webhook without scheme", channels.Webhook, "//example.com/hook", ""},
		{"webhook without host", channels.Webhook, "https:///hook", ""},
		{"webhook with credentials", channels.Webhook, "https://user:pw@example.com/hook", ""},
		{"relative webhook", channels.Webhook, "hook", ""},
		{"push token", channels.AppPush, "0f1e2d3c-token", "0f1e2d3c-token"},
		{"wechat openid", channels.WeChat, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
		{"dingtalk id with a space", channels.DingTalk, "user 1", ""},
		{"push token too long", channels.AppPush, strings.Repeat("t", 257), ""},
		{"unknown channel", "FAX", "+8613800138000", ""},
		{"empty", channels.AppPush, "   ", ""},
		{"longer than 512 bytes", channels.Webhook, "https://example.com/" + strings.Repeat("p", 500), ""},
		{"invalid utf-8", channels.AppPush, "tok\xffen", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := audience.NormalizeAddress(tt.channel, tt.in)
			if tt.want == "" {
				require.Error(t, err, "got %q", got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestValidTag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tag string
		ok  bool
	}{
		{"vip", true},
		{"city:杭州", true},
		{"a.b-c_d:9", true},
		{strings.Repeat("t", 64), true},
		{"", false},
		{strings.Repeat("t", 65), false},
		{strings.Repeat("杭", 22), false}, // 66 bytes
		{"has space", false},
		{"a,b", false},
		{"a/b", false},
		{"(vip)", false},
		{"vip&new", false},
	}
	for _, tt := range tests {
		err := audience.ValidTag(tt.tag)
		if tt.ok {
			require.NoError(t, err, tt.tag)
		} else {
			require.Error(t, err, tt.tag)
		}
	}
}

func TestValidUserID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id string
		ok bool
	}{
		{"u1", true},
		{"用户-42", true},
		{"user id with inner spaces", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{strings.Repeat("x", 129), false},
		{"bad\xff", false},
		{"u1 ", false}, // the database ignores trailing spaces: "u1 " would be user "u1"
		{" u1", false},
	}
	for _, tt := range tests {
		err := audience.ValidUserID(tt.id)
		if tt.ok {
			require.NoError(t, err, "%q", tt.id)
		} else {
			require.Error(t, err, "%q", tt.id)
		}
	}
}
