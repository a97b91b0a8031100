package sim

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// accessTokens are the access tokens vendors such as WeChat and DingTalk hand out for an
// account's key and secret, with their expiry.
type accessTokens struct {
	mu     sync.Mutex
	issued map[string]issuedToken // token → account and expiry
	stable map[string]string      // account → its current stable token
}

type issuedToken struct {
	account string
	expires time.Time
}

// tokenCheck is what a presented access token turned out to be.
type tokenCheck int

const (
	tokenOK tokenCheck = iota
	tokenMissing
	tokenInvalid
	tokenExpired
)

// oldTokenGrace is how long a token stays valid after a newer one was issued for its
// account, as WeChat's /cgi-bin/token does.
const oldTokenGrace = 5 * time.Minute

func newAccessTokens() *accessTokens {
	return &accessTokens{issued: map[string]issuedToken{}, stable: map[string]string{}}
}

// issue hands out a new token for account; the account's earlier tokens stay valid for at
// most oldTokenGrace.
func (a *accessTokens) issue(account string, life time.Duration, now time.Time) (string, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.issueLocked(account, life, now), life
}

func (a *accessTokens) issueLocked(account string, life time.Duration, now time.Time) string {
	if len(a.issued) >= 1<<14 {
		for k, t := range a.issued {
			if now.After(t.expires.Add(time.Hour)) {
				delete(a.issued, k)
			}
		}
	}
	for k, t := range a.issued {
		if t.account == account && t.expires.After(now.Add(oldTokenGrace)) {
			t.expires = now.Add(oldTokenGrace)
			a.issued[k] = t
		}
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	a.issued[tok] = issuedToken{account: account, expires: now.Add(life)}
	a.stable[account] = tok
	return tok
}

// stableToken returns the account's current token while it is valid (WeChat's
// stable_token in normal mode), or a new one when there is none or force is set.
func (a *accessTokens) stableToken(account string, life time.Duration, force bool, now time.Time) (string, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if tok, ok := a.stable[account]; ok && !force {
		if t, ok := a.issued[tok]; ok && t.expires.After(now) {
			return tok, t.expires.Sub(now).Truncate(time.Second)
		}
	}
	return a.issueLocked(account, life, now), life
}

// check tells whether tok is a valid token and of which account.
func (a *accessTokens) check(tok string, now time.Time) (string, tokenCheck) {
	if tok == "" {
		return "", tokenMissing
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.issued[tok]
	switch {
	case !ok:
		return "", tokenInvalid
	case !t.expires.After(now):
		return t.account, tokenExpired
	}
	return t.account, tokenOK
}

// revoke makes every token handed out so far invalid.
func (a *accessTokens) revoke() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.issued = map[string]issuedToken{}
	a.stable = map[string]string{}
}

// RevokeTokens invalidates every access token handed out so far (WeChat, DingTalk and the
// other vendors keeping theirs here), as a reset of the account's secret does: the next call
// with one gets the vendor's invalid-token error.
func (s *Server) RevokeTokens() { s.tokens.revoke() }
