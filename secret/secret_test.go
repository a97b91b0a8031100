package secret_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/secret"
)

func newKey(t *testing.T) *secret.Key {
	t.Helper()
	k, err := secret.ParseKey(secret.GenerateKey())
	require.NoError(t, err)
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	for _, plain := range []string{"", "sim-secret", "LTAI5t…密钥", strings.Repeat("x", 10000)} {
		sealed := k.Seal([]byte(plain))
		require.True(t, strings.HasPrefix(sealed, secret.Prefix), sealed)
		if plain != "" {
			require.NotContains(t, sealed, plain)
		}
		got, err := k.Open(sealed)
		require.NoError(t, err)
		require.Equal(t, plain, string(got))
	}
	// A fresh nonce each time: the same value never seals the same twice.
	require.NotEqual(t, k.Seal([]byte("same")), k.Seal([]byte("same")))
}

func TestParseKeyForms(t *testing.T) {
	t.Parallel()
	raw := make([]byte, secret.KeySize)
	_, _ = rand.Read(raw)
	sealed := func(s string) string {
		k, err := secret.ParseKey(s)
		require.NoError(t, err, s)
		return k.Seal([]byte("v"))
	}
	ref, err := secret.NewKey(raw)
	require.NoError(t, err)
	for _, form := range []string{base64.StdEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(raw), hex.EncodeToString(raw), " " + hex.EncodeToString(raw) + "\n"} {
		got, err := ref.Open(sealed(form))
		require.NoError(t, err, "form %q", form)
		require.Equal(t, "v", string(got))
	}

	tests := []struct{ name, key, want string }{
		{"empty", "", "empty"},
		{"short", base64.StdEncoding.EncodeToString(raw[:16]), "is 16 bytes"},
		{"long hex", hex.EncodeToString(append(raw, 1)), "it must be 32 random bytes"},
		{"not encoded", "this is not a key at all!", "neither base64 nor hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secret.ParseKey(tt.key)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestOpenRefusesWrongKeyAndTampering(t *testing.T) {
	t.Parallel()
	k, other := newKey(t), newKey(t)
	sealed := k.Seal([]byte("provider-secret"))

	_, err := other.Open(sealed)
	require.ErrorIs(t, err, secret.ErrOpen, "another key")

	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, secret.Prefix))
	require.NoError(t, err)
	for i := range raw { // every single flipped bit is caught: nonce, ciphertext or tag
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		_, err := k.Open(secret.Prefix + base64.StdEncoding.EncodeToString(b))
		require.ErrorIs(t, err, secret.ErrOpen, "byte %d flipped", i)
	}

	for name, bad := range map[string]string{
		"no prefix":   strings.TrimPrefix(sealed, secret.Prefix),
		"not base64":  secret.Prefix + "!!!",
		"too short":   secret.Prefix + base64.StdEncoding.EncodeToString([]byte("short")),
		"other class": "enc:v2:" + strings.TrimPrefix(sealed, secret.Prefix),
	} {
		_, err := k.Open(bad)
		require.Error(t, err, name)
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	k := newKey(t)
	a, b := k.Seal([]byte("key-id")), k.Seal([]byte("s3cret"))

	got, err := secret.Expand(k, "aliyun="+a+":"+b+"@https://dysmsapi.aliyuncs.com,sim=http://127.0.0.1:8090")
	require.NoError(t, err)
	require.Equal(t, "aliyun=key-id:s3cret@https://dysmsapi.aliyuncs.com,sim=http://127.0.0.1:8090", got)

	got, err = secret.Expand(nil, "plain value")
	require.NoError(t, err)
	require.Equal(t, "plain value", got)

	_, err = secret.Expand(nil, a)
	require.ErrorIs(t, err, secret.ErrNoKey)

	_, err = secret.Expand(newKey(t), "x="+a)
	require.ErrorIs(t, err, secret.ErrOpen)

	_, err = secret.Expand(k, "x=enc:v1:")
	require.ErrorContains(t, err, "malformed")
}

func TestMask(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", secret.Mask(""))
	require.Equal(t, "****", secret.Mask("sim-secret"))
	require.NotContains(t, secret.Mask("abcdefghijkl"), "abc")
}
