package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/secret"
)

func TestEncryptCommand(t *testing.T) {
	t.Parallel()
	var keyOut bytes.Buffer
	require.NoError(t, runEncrypt([]string{"--generate-key"}, func(string) string { return "" }, nil, &keyOut))
	keyText := strings.TrimSpace(keyOut.String())
	key, err := secret.ParseKey(keyText)
	require.NoError(t, err)
	env := func(k string) string {
		if k == "HERALD_SECRET_KEY" {
			return keyText
		}
		return ""
	}

	var out bytes.Buffer
	require.NoError(t, runEncrypt(nil, env, strings.NewReader("LTAI-secret-value\n"), &out))
	sealed := strings.TrimSpace(out.String())
	require.True(t, strings.HasPrefix(sealed, secret.Prefix), sealed)
	plain, err := key.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "LTAI-secret-value", string(plain))

	err = runEncrypt(nil, func(string) string { return "" }, strings.NewReader("v"), &out)
	require.ErrorContains(t, err, "HERALD_SECRET_KEY is not set")
	err = runEncrypt(nil, func(string) string { return "short" }, strings.NewReader("v"), &out)
	require.ErrorContains(t, err, "HERALD_SECRET_KEY")
	err = runEncrypt(nil, env, strings.NewReader(""), &out)
	require.ErrorContains(t, err, "nothing to encrypt")
	err = runEncrypt(nil, env, strings.NewReader(sealed), &out)
	require.ErrorContains(t, err, "encrypted already")
}
