package dispatch

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/herald-msg/herald/channels"
)

// The receipts queue carries receiptBatch as JSON, readable where an operator looks at a
// queue or a dead letter. A broadcast puts every one of its messages through it once, and
// encoding/json's reflection was an eighth of Herald's CPU during one. encodeReceiptBatch
// and decodeReceiptBatch write and read the documents of this package's own shape directly:
// the same JSON, the same keys, encoding/json's time format. Anything else — a string that
// would need an escape, a time encoding/json cannot write, a document written by hand or by
// another version, with other keys, key cases, nulls or white space — goes to encoding/json,
// whose answer theirs must equal (FuzzReceiptBatchJSON).

// encodeReceiptBatch is json.Marshal(b).
func encodeReceiptBatch(b receiptBatch) ([]byte, error) {
	out := make([]byte, 0, 32+len(b.Receipts)*224)
	out = append(out, `{"receipts":[`...)
	for i, r := range b.Receipts {
		if i > 0 {
			out = append(out, ',')
		}
		var ok bool
		if out, ok = appendReceipt(out, r); !ok {
			return json.Marshal(b)
		}
	}
	out = append(out, ']')
	if b.Tries != 0 {
		out = append(out, `,"tries":`...)
		out = strconv.AppendInt(out, int64(b.Tries), 10)
	}
	return append(out, '}'), nil
}

// appendReceipt appends r as a JSON object; false when a value needs what only encoding/json
// writes.
func appendReceipt(out []byte, r channels.Receipt) ([]byte, bool) {
	fields := [...]struct{ key, val string }{
		{`{"Channel":"`, string(r.Channel)}, {`","Provider":"`, r.Provider}, {`","MessageID":"`, r.MessageID},
		{`","Batch":"`, r.Batch}, {`","VendorID":"`, r.VendorID}, {`","Address":"`, r.Address},
		{`","Status":"`, string(r.Status)}, {`","Reason":"`, r.Reason},
	}
	for _, f := range fields {
		if !plainJSON(f.val) {
			return out, false
		}
		out = append(out, f.key...)
		out = append(out, f.val...)
	}
	// encoding/json writes a time with MarshalJSON: RFC 3339 with nanoseconds, years 0–9999.
	if y := r.At.Year(); y < 0 || y > 9999 {
		return out, false
	}
	out = append(out, `","At":"`...)
	out = r.At.AppendFormat(out, time.RFC3339Nano)
	return append(out, `"}`...), true
}

// plainJSON reports whether s is valid UTF-8 that JSON and encoding/json write as it is: no
// quote, backslash, control character, or the characters encoding/json escapes for HTML.
func plainJSON(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if ascii {
		return true
	}
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\u2028' || r == '\u2029' { // escaped by encoding/json
			return false
		}
	}
	return true
}

// decodeReceiptBatch is json.Unmarshal(body, &b).
func decodeReceiptBatch(body []byte) (receiptBatch, error) {
	if b, ok := fastReceiptBatch(body); ok {
		return b, nil
	}
	var b receiptBatch
	err := json.Unmarshal(body, &b)
	return b, err
}

// fastReceiptBatch reads a document as encodeReceiptBatch writes it: no white space, the
// keys of receiptBatch and channels.Receipt as they are spelled, strings without escapes,
// tries a small non-negative integer. It gives up on anything else.
func fastReceiptBatch(body []byte) (receiptBatch, bool) {
	s := receiptScanner{b: body, src: string(body)}
	var b receiptBatch
	if !s.lit(`{"receipts":[`) {
		return b, false
	}
	if !s.lit("]") {
		for {
			r, ok := s.receipt()
			if !ok {
				return b, false
			}
			b.Receipts = append(b.Receipts, r)
			if s.lit("]") {
				break
			}
			if !s.lit(",") {
				return b, false
			}
		}
	} else {
		b.Receipts = []channels.Receipt{}
	}
	if s.lit(`,"tries":`) {
		n, ok := s.smallInt()
		if !ok {
			return b, false
		}
		b.Tries = n
	}
	if !s.lit("}") || s.i != len(s.b) {
		return b, false
	}
	return b, true
}

// receiptScanner reads the subset of JSON fastReceiptBatch accepts; the strings it returns
// are slices of src, one copy of the body for all of them.
type receiptScanner struct {
	b   []byte
	src string
	i   int
}

// lit consumes the literal text t when it comes next.
func (s *receiptScanner) lit(t string) bool {
	if len(s.src)-s.i >= len(t) && s.src[s.i:s.i+len(t)] == t {
		s.i += len(t)
		return true
	}
	return false
}

// str reads a string without escapes, control characters or invalid UTF-8, its quotes
// included in raw.
func (s *receiptScanner) str() (v, raw string, ok bool) {
	if !s.lit(`"`) {
		return "", "", false
	}
	start := s.i
	ascii := true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v = s.src[start:s.i]
			s.i++
			if !ascii && !utf8.ValidString(v) {
				return "", "", false
			}
			return v, s.src[start-1 : s.i], true
		case c == '\\' || c < 0x20:
			return "", "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", "", false
}

// smallInt reads a non-negative integer of at most six digits without a leading zero.
func (s *receiptScanner) smallInt() (int, bool) {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	digits := s.src[start:s.i]
	if digits == "" || len(digits) > 6 || len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// receipt reads one receipt object whose keys are channels.Receipt's field names.
func (s *receiptScanner) receipt() (channels.Receipt, bool) {
	var r channels.Receipt
	if !s.lit("{") {
		return r, false
	}
	if s.lit("}") {
		return r, true
	}
	for {
		key, _, ok := s.str()
		if !ok || !s.lit(":") {
			return r, false
		}
		v, raw, ok := s.str()
		if !ok {
			return r, false
		}
		switch key {
		case "Channel":
			r.Channel = channels.Channel(v)
		case "Provider":
			r.Provider = v
		case "MessageID":
			r.MessageID = v
		case "Batch":
			r.Batch = v
		case "VendorID":
			r.VendorID = v
		case "Address":
			r.Address = v
		case "Status":
			r.Status = channels.Status(v)
		case "Reason":
			r.Reason = v
		case "At":
			// The same method encoding/json calls, so the same times and the same refusals.
			if err := r.At.UnmarshalJSON([]byte(raw)); err != nil {
				return r, false
			}
		default:
			return r, false // encoding/json matches keys without regard to case, or skips them
		}
		if s.lit("}") {
			return r, true
		}
		if !s.lit(",") {
			return r, false
		}
	}
}
