package account

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-msg/herald/fault"
)

// End-user inbox tokens let an end-user app read its own user's message history without an
// API key. The customer's backend signs them with the app's inbox secret:
//
//	payload = "v1." + appId + "." + base64url(userId) + "." + expiry (unix seconds)
//	token   = payload + "." + base64url(HMAC-SHA256(inbox secret, payload))
//
// base64url is RFC 4648 §5 without padding; the secret is used as the bytes of its text.
const (
	inboxTokenVersion = "v1"
	// MaxInboxTokenLifetime is the furthest in the future a token may expire: a token is
	// short-lived, so a leaked one is worth little.
	MaxInboxTokenLifetime = 24 * time.Hour
	// inboxSecretPrefix starts every inbox secret, so leaked ones are easy to recognise.
	inboxSecretPrefix = "is_"
	// inboxSecretTTL is how long a process trusts an inbox secret it read; a rotation
	// reaches every process within it.
	inboxSecretTTL = 30 * time.Second
)

// InboxReader is the end user an inbox token names.
type InboxReader struct {
	AppID  int64
	UserID string
	// Expires is when the token stops being accepted.
	Expires time.Time
}

type cachedInboxSecret struct {
	secret []byte
	until  time.Time
}

func inboxSecretName(appID int64) string { return fmt.Sprintf("inbox_secret:%d", appID) }

// RotateInboxSecret creates a new inbox secret for app, replacing the old one (tokens signed
// with it stop working), and returns it: it is shown this once and stored encrypted under
// HERALD_SECRET_KEY. Only an ADMIN of the app may.
func (s *Service) RotateInboxSecret(ctx context.Context, appID int64) (string, error) {
	if _, err := Authorize(ctx, appID, Admin, "appId"); err != nil {
		return "", err
	}
	if _, err := s.App(ctx, appID); err != nil {
		return "", err
	}
	if s.secretKey == nil {
		return "", fault.Unavailable("inbox secrets are stored encrypted: set HERALD_SECRET_KEY (herald encrypt --generate-key makes one) and restart Herald")
	}
	plain := inboxSecretPrefix + randomToken(32)
	if _, err := s.db.ExecContext(ctx, inboxSecretSQL(s.dl),
		inboxSecretName(appID), s.secretKey.Seal([]byte(plain))); err != nil {
		return "", fmt.Errorf("error storing the inbox secret: %w", err)
	}
	s.mu.Lock()
	delete(s.inboxSecrets, appID)
	s.mu.Unlock()
	s.Audit(ctx, "rotateInboxSecret", appID, "", nil)
	return plain, nil
}

// inboxSecret returns app's inbox secret, nil when it has none.
func (s *Service) inboxSecret(ctx context.Context, appID int64) ([]byte, error) {
	now := s.nowFunc()
	s.mu.Lock()
	c, ok := s.inboxSecrets[appID]
	s.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.secret, nil
	}
	var sealed string
	err := s.db.QueryRowContext(ctx, s.dl.Rebind("SELECT value FROM settings WHERE name = ?"), inboxSecretName(appID)).Scan(&sealed)
	var secret []byte
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("error reading the inbox secret: %w", err)
	case s.secretKey == nil:
		return nil, fmt.Errorf("error reading the inbox secret of app %d: HERALD_SECRET_KEY is not set", appID)
	default:
		if secret, err = s.secretKey.Open(sealed); err != nil {
			return nil, fmt.Errorf("error opening the inbox secret of app %d: %w", appID, err)
		}
	}
	if secret != nil { // only apps with a secret are cached, so made-up app ids cannot fill memory
		s.mu.Lock()
		s.inboxSecrets[appID] = cachedInboxSecret{secret: secret, until: now.Add(inboxSecretTTL)}
		s.mu.Unlock()
	}
	return secret, nil
}

// SignInboxToken signs an inbox token for userID of app with secret, valid until exp. It
// is what a customer's backend does (see docs/api.md for the same in a few lines of any
// language).
func SignInboxToken(secret string, appID int64, userID string, exp time.Time) string {
	payload := inboxTokenVersion + "." + strconv.FormatInt(appID, 10) + "." + base64.RawURLEncoding.EncodeToString([]byte(userID)) + "." + strconv.FormatInt(exp.Unix(), 10)
	return payload + "." + inboxMAC([]byte(secret), payload)
}

func inboxMAC(secret []byte, payload string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// InboxToken verifies an end-user inbox token and returns the user it names. Every refusal
// is UNAUTHENTICATED; only a correctly signed token learns that it expired.
func (s *Service) InboxToken(ctx context.Context, token string) (*InboxReader, error) {
	bad := fault.Unauthenticated("invalid inbox token")
	if len(token) > 1024 || !utf8.ValidString(token) {
		return nil, bad
	}
	parts := strings.Split(token, ".")
	if len(parts) != 5 || parts[0] != inboxTokenVersion {
		return nil, bad
	}
	appID, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || appID <= 0 || strconv.FormatInt(appID, 10) != parts[1] {
		return nil, bad
	}
	user, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(user) == 0 || !utf8.Valid(user) {
		return nil, bad
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || strconv.FormatInt(exp, 10) != parts[3] {
		return nil, bad
	}
	secret, err := s.inboxSecret(ctx, appID)
	if err != nil {
		return nil, err
	}
	if secret == nil {
		// No secret (or no such app): compute a MAC anyway so the answer takes as long.
		_ = inboxMAC([]byte("herald-timing-equaliser"), token)
		return nil, bad
	}
	if !hmac.Equal([]byte(inboxMAC(secret, strings.Join(parts[:4], "."))), []byte(parts[4])) {
		return nil, bad
	}
	now := s.nowFunc()
	expires := time.Unix(exp, 0)
	if !now.Before(expires) {
		return nil, fault.Unauthenticated("inbox token expired; ask the app's backend for a new one")
	}
	if expires.Sub(now) > MaxInboxTokenLifetime {
		return nil, fault.Unauthenticated("inbox token lives longer than %s; sign shorter-lived tokens", MaxInboxTokenLifetime)
	}
	return &InboxReader{AppID: appID, UserID: string(user), Expires: expires}, nil
}
