package track

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"github.com/herald-msg/herald/channels"
)

// Tracker signs and verifies tracking tokens and builds Herald's tracking URLs.
type Tracker struct {
	key  []byte
	base string
}

// NewTracker returns a tracker signing with key (HERALD_TRACKING_KEY, or a key derived from
// the session secret) whose URLs start with publicURL (HERALD_PUBLIC_URL).
func NewTracker(key []byte, publicURL string) (*Tracker, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("track: key is %d bytes; at least %d are needed", len(key), MinKeyLen)
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("track: public URL %q is not an http(s) URL", publicURL)
	}
	return &Tracker{key: append([]byte(nil), key...), base: strings.TrimSuffix(publicURL, "/")}, nil
}

// Sign returns the encoded token for t.
func (t *Tracker) Sign(tok Token) (string, error) { return sign(t.key, tok) }

// Parse verifies and decodes a token; any failure is ErrInvalid.
func (t *Tracker) Parse(s string) (Token, error) { return parse(t.key, s) }

// OpenURL is the address of the open pixel of a message.
func (t *Tracker) OpenURL(ch channels.Channel, messageID string) (string, error) {
	tok, err := t.Sign(Token{Kind: Open, Channel: ch, MessageID: messageID})
	if err != nil {
		return "", err
	}
	return t.base + "/t/o/" + tok + ".gif", nil
}

// ClickURL is the tracked address of the link-th link of a message, redirecting to target.
func (t *Tracker) ClickURL(ch channels.Channel, messageID string, link int, target string) (string, error) {
	tok, err := t.Sign(Token{Kind: Click, Channel: ch, MessageID: messageID, Link: link, URL: target})
	if err != nil {
		return "", err
	}
	return t.base + "/t/c/" + tok, nil
}

// EventToken is the token an app SDK posts with the display and click events of a message;
// providers put it in the message's payload.
func (t *Tracker) EventToken(ch channels.Channel, messageID string) (string, error) {
	return t.Sign(Token{Kind: Event, Channel: ch, MessageID: messageID})
}

// EventSignature is the signature of the other form of an SDK event, {message_id,
// signature}: base64url(HMAC-SHA256(key, "herald-event-v1" NUL message id)).
func (t *Tracker) EventSignature(messageID string) string {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("herald-event-v1\x00"))
	m.Write([]byte(messageID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verifyEventSignature reports, in constant time, whether sig is EventSignature(messageID).
func (t *Tracker) verifyEventSignature(messageID, sig string) bool {
	return hmac.Equal([]byte(t.EventSignature(messageID)), []byte(sig))
}
