package account_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
)

func TestDeriveKey(t *testing.T) {
	t.Parallel()
	svc := func(secret string) *account.Service {
		s, err := account.NewService(context.Background(), nil, account.Config{SessionSecret: secret})
		require.NoError(t, err)
		return s
	}
	a := svc("0123456789abcdef0123456789abcdef")
	key := a.DeriveKey("herald tracking key v1")
	require.Len(t, key, 32)
	require.Equal(t, key, svc("0123456789abcdef0123456789abcdef").DeriveKey("herald tracking key v1"), "every process derives the same key")
	require.NotEqual(t, key, a.DeriveKey("another purpose"))
	require.NotEqual(t, key, svc("fedcba9876543210fedcba9876543210").DeriveKey("herald tracking key v1"))
	require.NotContains(t, string(key), "0123456789abcdef", "the key is not the secret")
}
