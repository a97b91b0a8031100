package sms

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want int
	}{
		{"empty still costs one", "", 1},
		{"gsm single", strings.Repeat("a", 160), 1},
		{"gsm two parts", strings.Repeat("a", 161), 2},
		{"gsm two full parts", strings.Repeat("a", 306), 2},
		{"gsm three parts", strings.Repeat("a", 307), 3},
		{"gsm extension counts double", strings.Repeat("€", 80), 1},
		{"gsm extension over", strings.Repeat("€", 81), 2},
		{"ucs2 single", strings.Repeat("中", 70), 1},
		{"ucs2 two parts", strings.Repeat("中", 71), 2},
		{"ucs2 two full parts", strings.Repeat("中", 134), 2},
		{"ucs2 three parts", strings.Repeat("中", 135), 3},
		{"one non-gsm char makes ucs2", strings.Repeat("a", 70) + "中", 2},
		{"emoji is two utf-16 units", strings.Repeat("😀", 35), 1},
		{"emoji over", strings.Repeat("😀", 35) + "a", 2},
		{"aliyun sign brackets are ucs2", "【Herald】" + strings.Repeat("a", 62), 1},
		{"aliyun sign over", "【Herald】" + strings.Repeat("a", 63), 2},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Segments(tt.text), tt.name)
	}
	require.Len(t, gsmBasic, 127, "GSM 03.38 basic table without the escape")
}
