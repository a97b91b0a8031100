package sms

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// parseReports decodes a body of Aliyun delivery reports (a JSON array of Report objects).
// Most of a broadcast's callbacks are such arrays of flat objects with Report's own keys,
// plain strings and booleans: fastReports reads those directly, several times faster than
// encoding/json's reflection, and gives up on anything else — another key or key case, an
// escape, a null, a number, a control character, invalid UTF-8, bytes after the array — which
// encoding/json then decodes or refuses. Whatever fastReports accepts, encoding/json decodes to
// the same reports (FuzzFastReportsAgreeWithEncodingJSON).
func parseReports(body []byte) ([]Report, error) {
	if rs, ok := fastReports(body); ok {
		return rs, nil
	}
	var rs []Report
	if err := json.Unmarshal(body, &rs); err != nil {
		return nil, err
	}
	return rs, nil
}

// reportScanner reads the subset of JSON that fastReports accepts. The strings it returns
// are slices of src, one copy of the body for all of them.
type reportScanner struct {
	b   []byte
	src string
	i   int
}

func (s *reportScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c, consuming it if so.
func (s *reportScanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string without escapes, control characters or invalid UTF-8.
func (s *reportScanner) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	start := s.i
	ascii := true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.src[start:s.i]
			s.i++
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// boolean reads true or false.
func (s *reportScanner) boolean() (v, ok bool) {
	s.space()
	rest := s.b[s.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		s.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		s.i += 5
		return false, true
	}
	return false, false
}

// field points to the string field of r that key names, nil for success or an unknown key.
func (r *Report) field(key string) *string {
	switch key {
	case "phone_number":
		return &r.PhoneNumber
	case "send_time":
		return &r.SendTime
	case "report_time":
		return &r.ReportTime
	case "err_code":
		return &r.ErrCode
	case "err_msg":
		return &r.ErrMsg
	case "sms_size":
		return &r.SmsSize
	case "biz_id":
		return &r.BizID
	case "out_id":
		return &r.OutID
	}
	return nil
}

// fastReports decodes body when it is an array of flat report objects (see parseReports);
// ok is false when it leaves body to encoding/json.
func fastReports(body []byte) (reports []Report, ok bool) {
	s := &reportScanner{b: body}
	if !s.next('[') {
		return nil, false
	}
	s.src = string(body)
	reports = make([]Report, 0, bytes.Count(body, []byte{'{'}))
	if s.next(']') {
		s.space()
		return reports, s.i == len(s.b)
	}
	for {
		var r Report
		if !s.next('{') {
			return nil, false
		}
		if !s.next('}') {
			for {
				key, ok := s.str()
				if !ok || !s.next(':') {
					return nil, false
				}
				if key == "success" {
					if r.Success, ok = s.boolean(); !ok {
						return nil, false
					}
				} else if f := r.field(key); f != nil {
					if *f, ok = s.str(); !ok {
						return nil, false
					}
				} else {
					return nil, false
				}
				if s.next('}') {
					break
				}
				if !s.next(',') {
					return nil, false
				}
			}
		}
		reports = append(reports, r)
		if s.next(']') {
			s.space()
			return reports, s.i == len(s.b)
		}
		if !s.next(',') {
			return nil, false
		}
	}
}
