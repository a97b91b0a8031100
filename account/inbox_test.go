package account_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herald-msg/herald/account"
)

// TestInboxTokenShellExample runs the shell example of docs/api.md, so a backend that signs
// tokens the documented way gets exactly the token Herald verifies.
func TestInboxTokenShellExample(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "api.md"))
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(doc), "In a shell, with `openssl`:")
	require.True(t, ok, "docs/api.md has no shell example of an inbox token")
	_, rest, ok = strings.Cut(rest, "```sh\n")
	require.True(t, ok)
	script, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)

	for _, user := range []string{"alice", "user@example.com/张三", "a.b_c-d~e+f"} {
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "APP_ID=42", "USER_ID="+user, "INBOX_SECRET=is_doc-Example_secret")
		out, err := cmd.Output()
		require.NoError(t, err)
		token := strings.TrimSpace(string(out))
		parts := strings.Split(token, ".")
		require.Len(t, parts, 5, token)
		exp, err := strconv.ParseInt(parts[3], 10, 64)
		require.NoError(t, err)
		require.InDelta(t, time.Now().Add(15*time.Minute).Unix(), exp, 60)
		require.Equal(t, account.SignInboxToken("is_doc-Example_secret", 42, user, time.Unix(exp, 0)), token, "user %q", user)
	}
}
