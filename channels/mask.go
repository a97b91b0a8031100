package channels

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MaskPhone hides the middle of a phone number for logs: the four characters before the last
// four become asterisks, so +8613800138000 reads +86138****8000 and 13800138000 reads
// 138****8000. Numbers of eight characters or fewer keep only their last two.
func MaskPhone(phone string) string {
	r := []rune(phone)
	n := len(r)
	switch {
	case n == 0:
		return ""
	case n <= 2:
		return "**"
	case n <= 8:
		return "****" + string(r[n-2:])
	}
	return string(r[:n-8]) + "****" + string(r[n-4:])
}

// MaskID hides the middle of an account or device id (openid, user id, push cid) for logs:
// its first and last four characters stay; ids of eight characters or fewer are all
// asterisks.
func MaskID(id string) string {
	r := []rune(id)
	if len(r) <= 8 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:4]) + "****" + string(r[len(r)-4:])
}

// RedactURL drops the query and credentials of the URL an HTTP client error names: vendors
// take access tokens (and, for token requests, secrets) in the query, which must reach
// neither logs nor failure reasons.
func RedactURL(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	u.RawQuery, u.User = "", nil
	return fmt.Errorf("%s %q: %w", ue.Op, u.String(), ue.Err)
}

// TokenEqual compares a callback token with the configured one by their digests, so that
// neither its content nor its length leaks by timing; an empty configured token matches
// nothing.
func TokenEqual(got, want string) bool {
	if want == "" {
		return false
	}
	g := sha256.Sum256([]byte(got))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
