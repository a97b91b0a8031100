// Package secret seals configuration values and stored secrets with AES-256-GCM under a key
// from configuration (HERALD_SECRET_KEY), so that provider credentials and inbox secrets are
// encrypted at rest. A sealed value reads "enc:v1:<base64 of nonce, ciphertext and tag>".
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Prefix starts every sealed value.
const Prefix = "enc:v1:"

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// ErrNoKey reports a sealed value met without a key to open it.
var ErrNoKey = errors.New("a value is encrypted (enc:v1:) but HERALD_SECRET_KEY is not set")

// ErrOpen reports a sealed value that does not open under the key: another key sealed it,
// or it was changed.
var ErrOpen = errors.New("the encrypted value does not decrypt with HERALD_SECRET_KEY: it was encrypted with another key or it was altered")

// Key seals and opens values.
type Key struct {
	aead cipher.AEAD
}

// ParseKey reads a key written as 32 bytes in standard or URL-safe base64 (padded or not)
// or in hex (64 digits).
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("the key is empty; generate one with `herald encrypt --generate-key`")
	}
	var raw []byte
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			raw = b
		}
	}
	if raw == nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				raw = b
				break
			}
		}
	}
	if raw == nil {
		return nil, errors.New("the key is neither base64 nor hex; it must be 32 random bytes written as base64 (44 characters) or hex (64 digits)")
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("the key is %d bytes; it must be %d random bytes written as base64 (44 characters) or hex (64 digits)", len(raw), KeySize)
	}
	return NewKey(raw)
}

// NewKey returns the key of 32 raw bytes.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("the key is %d bytes; it must be %d", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Key{aead: aead}, nil
}

// GenerateKey returns a fresh random key written as base64, the form HERALD_SECRET_KEY takes.
func GenerateKey() string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Seal encrypts plaintext into its "enc:v1:" form, with a fresh random nonce each time.
func (k *Key) Seal(plaintext []byte) string {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	_, _ = rand.Read(nonce)
	out := k.aead.Seal(nonce, nonce, plaintext, []byte(Prefix))
	return Prefix + base64.StdEncoding.EncodeToString(out)
}

// Open decrypts a value of the "enc:v1:" form; a malformed, altered or foreign value is an
// error that says which.
func (k *Key) Open(sealed string) ([]byte, error) {
	body, ok := strings.CutPrefix(strings.TrimSpace(sealed), Prefix)
	if !ok {
		return nil, fmt.Errorf("an encrypted value must start with %s", Prefix)
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("the encrypted value is not valid base64 after %s", Prefix)
	}
	if len(raw) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, fmt.Errorf("the encrypted value is too short (%d bytes) to be one", len(raw))
	}
	n := k.aead.NonceSize()
	plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(Prefix))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// IsSealed reports whether s is (or holds) a value of the "enc:v1:" form.
func IsSealed(s string) bool { return strings.Contains(s, Prefix) }

// sealedToken is a sealed value inside a longer setting, such as a part of HERALD_PROVIDERS.
var sealedToken = regexp.MustCompile(`enc:v1:[A-Za-z0-9+/]+=*`)

// Expand replaces every "enc:v1:" value inside s by its plaintext. A string without one is
// returned as it is, whether or not k is nil.
func Expand(k *Key, s string) (string, error) {
	out, _, err := ExpandParts(k, s)
	return out, err
}

// ExpandParts is Expand that also returns the plaintexts it put in, so that a caller can
// scrub them from messages that quote the setting.
func ExpandParts(k *Key, s string) (string, []string, error) {
	if !IsSealed(s) {
		return s, nil, nil
	}
	if k == nil {
		return "", nil, ErrNoKey
	}
	var (
		first error
		parts []string
	)
	out := sealedToken.ReplaceAllStringFunc(s, func(tok string) string {
		plain, err := k.Open(tok)
		if err != nil && first == nil {
			first = err
		}
		parts = append(parts, string(plain))
		return string(plain)
	})
	if first != nil {
		return "", nil, first
	}
	if IsSealed(out) {
		return "", nil, fmt.Errorf("an encrypted value is malformed: %s must be followed by base64", Prefix)
	}
	return out, parts, nil
}

// Mask hides a secret for logs and answers: "****" when it is set, "" when it is not.
func Mask(s string) string {
	if s == "" {
		return ""
	}
	return "****"
}
