package account

import (
	"crypto/hmac"
	"crypto/sha256"
)

// DeriveKey returns a key for another signer derived from the session secret:
// HMAC-SHA256(session secret, purpose). Every process derives the same key (the secret is
// shared through configuration or the core database), and what that signer signs reveals
// nothing of the session key.
func (s *Service) DeriveKey(purpose string) []byte {
	m := hmac.New(sha256.New, s.sessionSecret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
