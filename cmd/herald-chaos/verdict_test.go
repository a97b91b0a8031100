package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTally(t *testing.T) {
	t.Parallel()
	expected := map[string]int{"a": 1, "b": 1, "c": 2, "d": 1}
	tests := []struct {
		name      string
		got       map[string]int
		lost, dup int
	}{
		{"exactly once", map[string]int{"a": 1, "b": 1, "c": 2, "d": 1}, 0, 0},
		{"one missing", map[string]int{"a": 1, "c": 2, "d": 1}, 1, 0},
		{"one twice", map[string]int{"a": 2, "b": 1, "c": 2, "d": 1}, 0, 1},
		{"short of two", map[string]int{"a": 1, "b": 1, "d": 1}, 2, 0},
		{"a stranger", map[string]int{"a": 1, "b": 1, "c": 2, "d": 1, "x": 3}, 0, 3},
		{"lost and duplicated", map[string]int{"a": 3, "c": 1, "d": 1}, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lost, dup := tally(expected, tt.got)
			require.Equal(t, tt.lost, lost, "lost")
			require.Equal(t, tt.dup, dup, "duplicated")
		})
	}
}

// The configuration file the processes get is one Herald accepts, with the second SMS
// account after the first, the pacing and the statistics servers.
func TestWriteConfig(t *testing.T) {
	t.Parallel()
	top := &topology{dir: t.TempDir(), prefix: "hchaos_test", simURLs: []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}}
	lay := layout{coreDSN: "root@tcp(127.0.0.1:3306)/", redisURL: "redis://127.0.0.1:6379/0", amqpURL: "amqp://guest:guest@127.0.0.1:5672/",
		statsDSNs: []string{"root@tcp(127.0.0.1:3306)/", "root@tcp(127.0.0.1:3307)/"}, spare: true, rate: 500}
	require.NoError(t, top.writeConfig(lay))
	top.env = []string{"HERALD_DB_PREFIX=hchaos_test"}
	cfg, err := top.loadConfig()
	require.NoError(t, err)
	require.Equal(t, lay.statsDSNs, cfg.StatsDSNs)
	require.Equal(t, "sim=http://127.0.0.1:1", cfg.Providers)
	require.Len(t, cfg.ProviderAccounts, 1)
	require.Equal(t, "spare", cfg.ProviderAccounts[0].Name)
	require.Equal(t, 1, cfg.ProviderAccounts[0].Priority)
	require.Equal(t, "http://127.0.0.1:2", cfg.ProviderAccounts[0].Settings["endpoint"])
	rates, err := cfg.Rates()
	require.NoError(t, err)
	require.Equal(t, 500.0, rates["aliyun"])
	require.Equal(t, 500.0, rates["spare"])
	info, err := os.Stat(top.cfgPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the file holds vendor secrets")
}
