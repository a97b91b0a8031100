// Package track is Herald's engagement tracking: the signed tokens of the email open pixel,
// of rewritten links and of app SDK events, the HTML rewriting that puts them into a
// message, and the HTTP handlers of /t/o, /t/c and /t/e that turn them into DISPLAYED and
// CLICKED receipts.
//
// A click token carries the link's target and its HMAC covers it: Herald redirects only to
// a URL it signed itself when it rendered the message, so no request can make it redirect
// anywhere else (no open redirect), and the redirect needs no lookup of the stored content.
package track

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/herald-msg/herald/channels"
)

// Kind says what a token is for.
type Kind byte

// Token kinds.
const (
	// Open is the email open pixel, GET /t/o/{token}.gif: DISPLAYED.
	Open Kind = 'o'
	// Click is a rewritten link, GET /t/c/{token}: CLICKED, then a redirect to its URL.
	Click Kind = 'c'
	// Event authenticates display and click events an app SDK posts to /t/e.
	Event Kind = 'e'
)

// Limits of a token's fields.
const (
	// MinKeyLen is the shortest key NewTracker accepts, in bytes.
	MinKeyLen = 32
	// MaxTokenLen bounds an encoded token; longer input is refused unread.
	MaxTokenLen = 4096
	maxIDLen    = 128
	maxURLLen   = 2048
	tokenV1     = 1
	macLen      = sha256.Size
)

// ErrInvalid is returned for a token that is malformed or whose signature does not verify.
var ErrInvalid = errors.New("invalid tracking token")

// Token is what a tracking token says.
type Token struct {
	Kind      Kind
	Channel   channels.Channel
	MessageID string
	// Link is the index of the link among the tracked links of the message (Click only).
	Link int
	// URL is the link's target (Click only): the only place a click redirects to.
	URL string
}

var enc = base64.RawURLEncoding.Strict()

// sign encodes t and appends its HMAC: version, kind, channel, message id, link index and
// URL (length-prefixed), then HMAC-SHA256 of all of it under key.
func sign(key []byte, t Token) (string, error) {
	if err := t.check(); err != nil {
		return "", err
	}
	b := make([]byte, 0, 8+len(t.Channel)+len(t.MessageID)+len(t.URL)+macLen)
	b = append(b, tokenV1, byte(t.Kind))
	b = appendString(b, string(t.Channel))
	b = appendString(b, t.MessageID)
	b = binary.AppendUvarint(b, uint64(t.Link))
	b = appendString(b, t.URL)
	b = append(b, mac(key, b)...)
	return enc.EncodeToString(b), nil
}

// parse decodes s and verifies its HMAC under key before it trusts any field.
func parse(key []byte, s string) (Token, error) {
	if len(s) == 0 || len(s) > MaxTokenLen {
		return Token{}, ErrInvalid
	}
	b, err := enc.DecodeString(s)
	if err != nil || len(b) < 2+macLen {
		return Token{}, ErrInvalid
	}
	// The decoder skips CR and LF; a token is accepted only in the one form Herald signs.
	if enc.EncodedLen(len(b)) != len(s) {
		return Token{}, ErrInvalid
	}
	payload, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(mac(key, payload), sum) {
		return Token{}, ErrInvalid
	}
	if payload[0] != tokenV1 {
		return Token{}, ErrInvalid
	}
	t := Token{Kind: Kind(payload[1])}
	rest := payload[2:]
	var ch string
	var link uint64
	var ok bool
	if ch, rest, ok = readString(rest); !ok {
		return Token{}, ErrInvalid
	}
	t.Channel = channels.Channel(ch)
	if t.MessageID, rest, ok = readString(rest); !ok {
		return Token{}, ErrInvalid
	}
	link, n := binary.Uvarint(rest)
	if n <= 0 || link > 1<<20 {
		return Token{}, ErrInvalid
	}
	t.Link = int(link)
	if t.URL, rest, ok = readString(rest[n:]); !ok || len(rest) != 0 {
		return Token{}, ErrInvalid
	}
	if t.check() != nil {
		return Token{}, ErrInvalid
	}
	return t, nil
}

// check validates the fields of a token before it is signed, and again after it is parsed.
func (t Token) check() error {
	switch t.Kind {
	case Open, Click, Event:
	default:
		return fmt.Errorf("track: unknown token kind %q", t.Kind)
	}
	if !t.Channel.Valid() {
		return fmt.Errorf("track: unknown channel %q", t.Channel)
	}
	if t.MessageID == "" || len(t.MessageID) > maxIDLen || strings.ContainsAny(t.MessageID, "\r\n") {
		return fmt.Errorf("track: message id must be 1 to %d bytes on one line", maxIDLen)
	}
	if t.Kind != Click {
		if t.Link != 0 || t.URL != "" {
			return errors.New("track: only click tokens carry a link")
		}
		return nil
	}
	if t.Link < 0 || t.Link > 1<<20 {
		return fmt.Errorf("track: link index %d out of range", t.Link)
	}
	if !Trackable(t.URL) || len(t.URL) > maxURLLen {
		return fmt.Errorf("track: link target must be an absolute http(s) URL of at most %d bytes", maxURLLen)
	}
	return nil
}

// Trackable reports whether a link target is rewritten for click tracking: an absolute
// http or https URL with a host. mailto:, tel:, anchors and relative links are left alone.
func Trackable(target string) bool {
	if strings.ContainsAny(target, "\r\n\t ") {
		return false
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return scheme == "http" || scheme == "https"
}

func mac(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("herald-track-v1\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	end := k + int(n)
	return string(b[k:end]), b[end:], true
}
