package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/fault"
	"github.com/herald-msg/herald/secret"
	"github.com/herald-msg/herald/store"
)

// App is a business line of the customer; everything else belongs to exactly one app.
type App struct {
	ID        int64
	Name      string
	CreatedAt time.Time
}

// APIKeySecret is a newly created API key; Secret is shown once and never stored.
type APIKeySecret struct {
	ID     string
	AppID  int64
	Role   Role
	Secret string
}

// Service manages apps, console users, API keys and sessions on the core database.
type Service struct {
	db            *sql.DB
	dl            store.Dialect
	redis         redis.UniversalClient
	redisPrefix   string
	logger        *slog.Logger
	sessionSecret []byte
	sessionTTL    time.Duration
	nowFunc       func() time.Time

	// secretKey encrypts stored secrets (inbox secrets); nil without HERALD_SECRET_KEY.
	secretKey *secret.Key
	// providerNamesFunc lists a channel's provider names for price validation.
	providerNamesFunc func(ch channels.Channel) []string

	mu           sync.Mutex
	keys         map[string]cachedKey
	inboxSecrets map[int64]cachedInboxSecret
}

type cachedKey struct {
	principal Principal
	hash      [32]byte
	until     time.Time
}

// Config configures the account service.
type Config struct {
	// SessionSecret signs session tokens; empty means the one kept in the core database.
	SessionSecret string
	SessionTTL    time.Duration
	Logger        *slog.Logger
	// Redis counts failed sign-ins per email across processes; nil turns the back-off off.
	Redis       redis.UniversalClient
	RedisPrefix string
	// SecretKey encrypts the inbox secrets at rest (HERALD_SECRET_KEY); without it they
	// cannot be created.
	SecretKey *secret.Key
	// ProviderNamesFunc lists the names of a channel's providers, which an app's prices may
	// name; nil means no price may name a provider.
	ProviderNamesFunc func(ch channels.Channel) []string
}

// NewService returns the account service, loading or creating the session secret.
func NewService(ctx context.Context, db *store.DB, cfg Config) (*Service, error) {
	s := &Service{redis: cfg.Redis, redisPrefix: cfg.RedisPrefix, logger: cfg.Logger, sessionTTL: cfg.SessionTTL, nowFunc: time.Now, keys: map[string]cachedKey{},
		secretKey: cfg.SecretKey, inboxSecrets: map[int64]cachedInboxSecret{}, providerNamesFunc: cfg.ProviderNamesFunc}
	if db != nil {
		s.db, s.dl = db.Core, db.Dialect
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.sessionTTL == 0 {
		s.sessionTTL = 12 * time.Hour
	}
	secret := cfg.SessionSecret
	if secret == "" {
		var err error
		if secret, err = s.storedSecret(ctx); err != nil {
			return nil, err
		}
	}
	s.sessionSecret = []byte(secret)
	return s, nil
}

func (s *Service) storedSecret(ctx context.Context) (string, error) {
	if _, err := s.db.ExecContext(ctx, sessionSecretSQL(s.dl), "session_secret", randomToken(32)); err != nil {
		return "", fmt.Errorf("error storing the session secret: %w", err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = 'session_secret'").Scan(&v); err != nil {
		return "", fmt.Errorf("error reading the session secret: %w", err)
	}
	return v, nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// EnsureAdmin creates an ADMIN for every app with this email and password when no console
// user exists yet. It reports whether it created one.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM console_users").Scan(&n); err != nil {
		return false, fmt.Errorf("error counting console users: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := mail.ParseAddress(email); err != nil {
		return false, fault.BadInput("email", "%q is not an email address", email)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return false, err
	}
	_, err = s.db.ExecContext(ctx, s.dl.Rebind("INSERT INTO console_users (email, password_hash, role, all_apps, created_at) VALUES (?, ?, 'ADMIN', 1, ?)"),
		strings.ToLower(email), string(hash), s.nowFunc().UTC())
	if s.dl.Duplicate(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("error creating the administrator: %w", err)
	}
	return true, nil
}

// dummyHash keeps a failed login for an unknown email as slow as one for a known email.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("herald-timing-equaliser"), bcrypt.DefaultCost)

// Login checks a console user's password and returns the caller and a session token.
func (s *Service) Login(ctx context.Context, email, password string) (*Principal, string, time.Time, error) {
	var (
		id      int64
		hash    string
		role    string
		allApps bool
	)
	if err := s.checkBackoff(ctx, email); err != nil {
		return nil, "", time.Time{}, err
	}
	err := s.db.QueryRowContext(ctx, s.dl.Rebind("SELECT id, password_hash, role, all_apps FROM console_users WHERE email = ?"), strings.ToLower(email)).
		Scan(&id, &hash, &role, &allApps)
	if errors.Is(err, sql.ErrNoRows) {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		s.failedLogin(ctx, email)
		return nil, "", time.Time{}, fault.Unauthenticated("wrong email or password")
	}
	if err != nil {
		return nil, "", time.Time{}, fmt.Errorf("error reading console user: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		s.failedLogin(ctx, email)
		return nil, "", time.Time{}, fault.Unauthenticated("wrong email or password")
	}
	if s.redis != nil {
		s.redis.Del(ctx, s.loginKey(email))
	}
	p, err := s.consoleUser(ctx, id)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	exp := s.nowFunc().Add(s.sessionTTL)
	return p, s.signSession(id, exp), exp, nil
}

// Sign-in back-off: after MaxFailedLogins failures for one email within LoginBackoff, further
// attempts are refused until the window passes.
const (
	MaxFailedLogins = 10
	LoginBackoff    = 15 * time.Minute
)

func (s *Service) loginKey(email string) string {
	return s.redisPrefix + "login:{" + HashForLog(strings.ToLower(email)) + "}"
}

func (s *Service) checkBackoff(ctx context.Context, email string) error {
	if s.redis == nil {
		return nil
	}
	n, err := s.redis.Get(ctx, s.loginKey(email)).Int()
	if err != nil || n < MaxFailedLogins {
		return nil // no failures, or Redis unreachable: the password check still applies
	}
	ttl, _ := s.redis.PTTL(ctx, s.loginKey(email)).Result()
	return fault.RateLimited("too many failed sign-ins for this account; try again in %s", ttl.Round(time.Minute))
}

func (s *Service) failedLogin(ctx context.Context, email string) {
	if s.redis == nil {
		return
	}
	key := s.loginKey(email)
	pipe := s.redis.TxPipeline()
	pipe.Incr(ctx, key)
	pipe.ExpireNX(ctx, key, LoginBackoff)
	if _, err := pipe.Exec(ctx); err != nil {
		s.logger.WarnContext(ctx, "error counting a failed sign-in", "error", err)
	}
}

// SessionCookie is the name of the console session cookie.
const SessionCookie = "herald_session"

// signSession makes "v1.<user>.<expiry>.<mac>": verifiable by any process that knows the
// secret, with no shared session store.
func (s *Service) signSession(userID int64, exp time.Time) string {
	payload := fmt.Sprintf("v1.%d.%d", userID, exp.Unix())
	return payload + "." + s.mac(payload)
}

func (s *Service) mac(payload string) string {
	m := hmac.New(sha256.New, s.sessionSecret)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Session returns the console user of a session token.
func (s *Service) Session(ctx context.Context, token string) (*Principal, error) {
	p, _, err := s.session(ctx, token)
	return p, err
}

// SessionRenewal returns the console user of a session token and, once less than half of
// the session's lifetime is left, a fresh token for another full lifetime and its expiry
// ("" when the token is kept), so a console in use stays signed in while an abandoned one
// expires.
func (s *Service) SessionRenewal(ctx context.Context, token string) (p *Principal, renewed string, exp time.Time, err error) {
	p, until, err := s.session(ctx, token)
	if err != nil {
		return nil, "", time.Time{}, err
	}
	now := s.nowFunc()
	if time.Unix(until, 0).Sub(now) >= s.sessionTTL/2 {
		return p, "", time.Time{}, nil
	}
	exp = now.Add(s.sessionTTL)
	return p, s.signSession(p.UserID, exp), exp, nil
}

// session verifies a session token and returns its user and expiry (Unix seconds).
func (s *Service) session(ctx context.Context, token string) (*Principal, int64, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != "v1" {
		return nil, 0, fault.Unauthenticated("invalid session; sign in again")
	}
	payload := strings.Join(parts[:3], ".")
	if !hmac.Equal([]byte(s.mac(payload)), []byte(parts[3])) {
		return nil, 0, fault.Unauthenticated("invalid session; sign in again")
	}
	id, err1 := strconv.ParseInt(parts[1], 10, 64)
	exp, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, 0, fault.Unauthenticated("invalid session; sign in again")
	}
	if s.nowFunc().Unix() > exp {
		return nil, 0, fault.Unauthenticated("session expired; sign in again")
	}
	p, err := s.consoleUser(ctx, id)
	return p, exp, err
}

func (s *Service) consoleUser(ctx context.Context, id int64) (*Principal, error) {
	p := &Principal{UserID: id}
	var role string
	err := s.db.QueryRowContext(ctx, s.dl.Rebind("SELECT email, role, all_apps FROM console_users WHERE id = ?"), id).Scan(&p.Email, &role, &p.AllApps)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.Unauthenticated("console user no longer exists")
	}
	if err != nil {
		return nil, fmt.Errorf("error reading console user: %w", err)
	}
	p.Role = Role(role)
	if !p.AllApps {
		rows, err := s.db.QueryContext(ctx, s.dl.Rebind("SELECT app_id FROM console_user_apps WHERE user_id = ?"), id)
		if err != nil {
			return nil, fmt.Errorf("error reading console user apps: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var a int64
			if err := rows.Scan(&a); err != nil {
				return nil, err
			}
			p.AppIDs = append(p.AppIDs, a)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// apiKeyPrefix starts every API key secret, so leaked keys are easy to recognise.
const apiKeyPrefix = "hk_"

// CreateAPIKey creates a key for app with role; only an ADMIN of the app may.
func (s *Service) CreateAPIKey(ctx context.Context, appID int64, role Role) (*APIKeySecret, error) {
	p, err := Authorize(ctx, appID, Admin, "appId")
	if err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, fault.BadInput("role", "unknown role %q", role)
	}
	if _, err := s.App(ctx, appID); err != nil {
		return nil, err
	}
	idBytes := make([]byte, 6)
	_, _ = rand.Read(idBytes)
	id := hex.EncodeToString(idBytes)
	secret := apiKeyPrefix + id + "_" + randomToken(24)
	hash := sha256.Sum256([]byte(secret))
	if _, err := s.db.ExecContext(ctx, s.dl.Rebind("INSERT INTO api_keys (id, app_id, role, secret_hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)"),
		id, appID, string(role), hash[:], p.Name(), s.nowFunc().UTC()); err != nil {
		return nil, fmt.Errorf("error storing API key: %w", err)
	}
	s.Audit(ctx, "createApiKey", appID, "key:"+id, map[string]any{"role": role})
	return &APIKeySecret{ID: id, AppID: appID, Role: role, Secret: secret}, nil
}

// APIKey returns the caller of an API key secret. Valid keys are cached for a short while so
// a busy backend does not cost a database read per request.
func (s *Service) APIKey(ctx context.Context, secret string) (*Principal, error) {
	bad := fault.Unauthenticated("invalid API key")
	rest, ok := strings.CutPrefix(secret, apiKeyPrefix)
	if !ok || len(secret) > 200 || !utf8.ValidString(secret) {
		return nil, bad
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || id == "" {
		return nil, bad
	}
	hash := sha256.Sum256([]byte(secret))
	now := s.nowFunc()
	s.mu.Lock()
	c, hit := s.keys[id]
	s.mu.Unlock()
	if hit && now.Before(c.until) {
		if subtle.ConstantTimeCompare(c.hash[:], hash[:]) == 1 {
			p := c.principal
			return &p, nil
		}
		return nil, bad
	}
	var (
		appID   int64
		role    string
		stored  []byte
		revoked sql.NullTime
	)
	err := s.db.QueryRowContext(ctx, s.dl.Rebind("SELECT app_id, role, secret_hash, revoked_at FROM api_keys WHERE id = ?"), id).Scan(&appID, &role, &stored, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, bad
	}
	if err != nil {
		return nil, fmt.Errorf("error reading API key: %w", err)
	}
	if revoked.Valid || subtle.ConstantTimeCompare(stored, hash[:]) != 1 {
		return nil, bad
	}
	p := Principal{KeyID: id, Role: Role(role), AppIDs: []int64{appID}}
	s.mu.Lock()
	s.keys[id] = cachedKey{principal: p, hash: hash, until: now.Add(30 * time.Second)}
	s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, s.dl.Rebind("UPDATE api_keys SET last_used_at = ? WHERE id = ?"), now.UTC(), id); err != nil {
		s.logger.WarnContext(ctx, "error recording API key use", "key_id", id, "error", err)
	}
	return &p, nil
}

// CreateApp creates an app; only a console ADMIN for every app may.
func (s *Service) CreateApp(ctx context.Context, name string) (*App, error) {
	p, err := Require(ctx)
	if err != nil {
		return nil, err
	}
	if p.KeyID != "" || p.Role != Admin || !p.AllApps {
		return nil, fault.Forbidden("", "only an administrator of every app may create apps")
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return nil, fault.BadInput("name", "must be 1 to 100 characters")
	}
	now := s.nowFunc().UTC().Truncate(time.Millisecond)
	id, err := s.dl.InsertID(ctx, s.db, createAppSQL, name, now)
	if s.dl.Duplicate(err) {
		return nil, fault.Conflict("name", "an app named %q exists already", name)
	}
	if err != nil {
		return nil, fmt.Errorf("error creating app: %w", err)
	}
	s.Audit(ctx, "createApp", id, name, nil)
	return &App{ID: id, Name: name, CreatedAt: now}, nil
}

// App returns one app, NOT_FOUND when it does not exist.
func (s *Service) App(ctx context.Context, id int64) (*App, error) {
	a := &App{}
	err := s.db.QueryRowContext(ctx, s.dl.Rebind("SELECT id, name, created_at FROM apps WHERE id = ?"), id).Scan(&a.ID, &a.Name, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fault.NotFound("appId", "app %d does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("error reading app: %w", err)
	}
	return a, nil
}

// Apps lists the apps the caller may use.
func (s *Service) Apps(ctx context.Context) ([]*App, error) {
	p, err := Require(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT id, name, created_at FROM apps ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("error listing apps: %w", err)
	}
	defer rows.Close()
	var out []*App
	for rows.Next() {
		a := &App{}
		if err := rows.Scan(&a.ID, &a.Name, &a.CreatedAt); err != nil {
			return nil, err
		}
		if p.CanUse(a.ID, Viewer) {
			out = append(out, a)
		}
	}
	return out, rows.Err()
}

// Audit records a mutation in the audit log; a failure to record is logged, not returned,
// so that it never undoes work that already happened.
func (s *Service) Audit(ctx context.Context, action string, appID int64, target string, detail map[string]any) {
	p := FromContext(ctx)
	actor, remote := "system", ""
	if p != nil {
		actor, remote = p.Name(), p.RemoteAddr
	}
	var app sql.NullInt64
	if appID != 0 {
		app = sql.NullInt64{Int64: appID, Valid: true}
	}
	var d []byte
	if detail != nil {
		d, _ = json.Marshal(detail)
	}
	if _, err := s.db.ExecContext(context.WithoutCancel(ctx), s.dl.Rebind("INSERT INTO audit_log (at, actor, action, app_id, target, remote_addr, detail) VALUES (?, ?, ?, ?, ?, ?, ?)"),
		s.nowFunc().UTC(), actor, action, app, target, remote, nullBytes(d)); err != nil {
		s.logger.ErrorContext(ctx, "error writing audit log", "action", action, "error", err)
	}
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// HashForLog returns a short, stable digest of a secret for log lines.
func HashForLog(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:4])
}
