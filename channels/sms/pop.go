package sms

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// PercentEncode encodes s as Alibaba Cloud's POP signature requires (RFC 3986): letters,
// digits and "-", "_", ".", "~" stay as they are; every other byte of the UTF-8 form becomes
// %XY with upper-case hex, so a space is %20 (never "+"), "*" is %2A and "~" is kept.
func PercentEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0F])
	}
	return b.String()
}

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// CanonicalQuery returns params sorted by name (then value) and percent-encoded as
// name=value pairs joined by "&", leaving out the Signature parameter.
func CanonicalQuery(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(PercentEncode(k))
			b.WriteByte('=')
			b.WriteString(PercentEncode(v))
		}
	}
	return b.String()
}

// StringToSign returns the string an RPC (signature version 1.0) request signs:
// METHOD&%2F&percentEncode(canonical query).
func StringToSign(method string, params url.Values) string {
	return strings.ToUpper(method) + "&" + PercentEncode("/") + "&" + PercentEncode(CanonicalQuery(params))
}

// SignRPC returns the base64 HMAC-SHA1 of stringToSign keyed by secret + "&", the value of
// the Signature parameter.
func SignRPC(secret, stringToSign string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// V3Algorithm names Alibaba Cloud's header-based signature (version 3), used by the current
// official SDKs.
const V3Algorithm = "ACS3-HMAC-SHA256"

// V3CanonicalRequest returns the canonical request of a version 3 signature. headers maps
// lower-case names of the signed headers to their values; hashedPayload is the hex SHA-256
// of the body.
func V3CanonicalRequest(method, path string, query url.Values, headers map[string]string, hashedPayload string) (canonical, signedHeaders string) {
	if path == "" {
		path = "/"
	}
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var ch strings.Builder
	for _, n := range names {
		ch.WriteString(n)
		ch.WriteByte(':')
		ch.WriteString(strings.TrimSpace(headers[n]))
		ch.WriteByte('\n')
	}
	signedHeaders = strings.Join(names, ";")
	canonical = strings.Join([]string{
		strings.ToUpper(method), path, CanonicalQuery(query), ch.String(), signedHeaders, hashedPayload,
	}, "\n")
	return canonical, signedHeaders
}

// SignV3 returns the hex HMAC-SHA256, keyed by secret, of the version 3 string to sign built
// from canonicalRequest.
func SignV3(secret, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	toSign := V3Algorithm + "\n" + hex.EncodeToString(sum[:])
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(toSign))
	return hex.EncodeToString(m.Sum(nil))
}

// SignRequest adds the common parameters of an Alibaba Cloud RPC call (JSON answers, API
// version, region, access key, a random nonce, the time) and its signature (HMAC-SHA1,
// signature version 1.0) to form, as every Alibaba Cloud RPC API (dysmsapi, dyvmsapi, ...)
// expects them.
func SignRequest(form url.Values, version, regionID, keyID, secret string, now time.Time) error {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("signature nonce: %w", err)
	}
	form.Set("Format", "JSON")
	form.Set("Version", version)
	form.Set("RegionId", regionID)
	form.Set("AccessKeyId", keyID)
	form.Set("SignatureMethod", "HMAC-SHA1")
	form.Set("SignatureVersion", "1.0")
	form.Set("SignatureNonce", fmt.Sprintf("%x", nonce))
	form.Set("Timestamp", now.UTC().Format(TimestampLayout))
	form.Set("Signature", SignRPC(secret, StringToSign(http.MethodPost, form)))
	return nil
}

// IsRetryableCode reports whether an Alibaba Cloud RPC error may pass on a later try: flow
// control, throttling, the vendor's own faults and a nonce collision. Every other code
// (isv.MOBILE_NUMBER_ILLEGAL, template and signature errors, ...) is permanent.
func IsRetryableCode(code string) bool {
	switch {
	case code == CodeBusinessLimitControl,
		strings.HasPrefix(code, "Throttling"),
		strings.HasPrefix(code, "isp."),
		code == "ServiceUnavailable",
		code == "InternalError",
		code == "SignatureNonceUsed":
		return true
	}
	return false
}
