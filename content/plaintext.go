package content

import (
	"html"
	"strings"
)

// plainTextOf derives the plain-text part of an EMAIL from its HTML body, as a template:
// tags are dropped (with the content of script, style, head and title), block elements
// break the line, whitespace collapses to one space or one line break, entities are decoded.
// Placeholders outside tags stay placeholders, filled with the raw values at render time, so
// a value reads in the plain text exactly as it was given; placeholders inside a tag go
// with the tag.
func plainTextOf(body string) []segment {
	var s stripper
	last := 0
	for {
		start, end, name, ok := nextPlaceholder(body, last)
		if !ok {
			break
		}
		s.literal(body[last:start])
		if s.state == inText {
			s.flush()
			s.out = append(s.out, segment{name: name, isVar: true})
		}
		last = end
	}
	s.literal(body[last:])
	s.flush()
	// Trim the whole text: the first and last literal.
	for i := range s.out {
		if s.out[i].isVar {
			break
		}
		s.out[i].text = strings.TrimLeft(s.out[i].text, " \n")
		if s.out[i].text != "" {
			break
		}
	}
	for i := len(s.out) - 1; i >= 0; i-- {
		if s.out[i].isVar {
			break
		}
		s.out[i].text = strings.TrimRight(s.out[i].text, " \n")
		if s.out[i].text != "" {
			break
		}
	}
	return s.out
}

type stripState uint8

const (
	inText stripState = iota
	inTag
	inComment
	inSkipped // the content of script, style, head or title
)

// stripper turns HTML into text, one literal at a time, keeping its state across the
// placeholders between literals.
type stripper struct {
	out   []segment
	cur   strings.Builder
	state stripState
	// In a tag: its name so far, whether it closes, whether the name is complete, and the
	// quote of an attribute value being read (0: none).
	name    strings.Builder
	closing bool
	named   bool
	quote   byte
	// skipTo is the closing tag that ends a skipped element ("</script").
	skipTo string
}

// lineBreaks are the elements that start and end a line of text; cells are spaced.
var lineBreaks = map[string]byte{
	"address": '\n', "article": '\n', "aside": '\n', "blockquote": '\n', "br": '\n', "dd": '\n',
	"div": '\n', "dl": '\n', "dt": '\n', "fieldset": '\n', "figcaption": '\n', "figure": '\n',
	"footer": '\n', "form": '\n', "h1": '\n', "h2": '\n', "h3": '\n', "h4": '\n', "h5": '\n',
	"h6": '\n', "header": '\n', "hr": '\n', "li": '\n', "main": '\n', "nav": '\n', "ol": '\n',
	"p": '\n', "pre": '\n', "section": '\n', "table": '\n', "tr": '\n', "ul": '\n',
	"td": ' ', "th": ' ',
}

// skipped are the elements whose content is not text.
var skipped = map[string]bool{"script": true, "style": true, "head": true, "title": true}

func (s *stripper) literal(t string) {
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch s.state {
		case inText:
			switch {
			case c == '<' && strings.HasPrefix(t[i:], "<!--"):
				s.state = inComment
				i += 3
			case c == '<' && i+1 < len(t) && isTagStart(t[i+1]):
				s.state, s.closing, s.named, s.quote = inTag, false, false, 0
				s.name.Reset()
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
				s.cur.WriteByte(' ')
			default:
				s.cur.WriteByte(c)
			}
		case inTag:
			switch {
			case s.quote != 0:
				if c == s.quote {
					s.quote = 0
				}
			case c == '"' || c == '\'':
				s.quote = c
			case c == '>':
				s.endTag()
			case !s.named && c == '/' && s.name.Len() == 0:
				s.closing = true
			case !s.named && (isLetter(c) || c >= '0' && c <= '9'):
				s.name.WriteByte(c | 0x20) // ASCII lower case; digits are unchanged
			default:
				s.named = true
			}
		case inComment:
			j := strings.Index(t[i:], "-->")
			if j < 0 {
				return
			}
			s.state = inText
			i += j + 2
		case inSkipped:
			j := indexFold(t[i:], s.skipTo)
			if j < 0 {
				return
			}
			s.state = inText
			i += j - 1 // the closing tag is read as a tag
		}
	}
}

func (s *stripper) endTag() {
	s.state = inText
	name := s.name.String()
	if c, ok := lineBreaks[name]; ok {
		s.cur.WriteByte(c)
	}
	if !s.closing && skipped[name] {
		s.state, s.skipTo = inSkipped, "</"+name
	}
}

// flush ends the literal being built: whitespace runs collapse to a line break when they
// hold one and to a space otherwise, and entities are decoded.
func (s *stripper) flush() {
	if s.cur.Len() == 0 {
		return
	}
	raw := s.cur.String()
	s.cur.Reset()
	var b strings.Builder
	for i := 0; i < len(raw); {
		if raw[i] != ' ' && raw[i] != '\n' {
			b.WriteByte(raw[i])
			i++
			continue
		}
		brk := false
		for ; i < len(raw) && (raw[i] == ' ' || raw[i] == '\n'); i++ {
			brk = brk || raw[i] == '\n'
		}
		if brk {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	s.out = append(s.out, segment{text: html.UnescapeString(b.String())})
}

// indexFold is strings.Index ignoring case, for a sub that starts with '<'; unlike
// strings.ToLower it keeps the offsets of s.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i] == '<' && strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

func isTagStart(c byte) bool { return isLetter(c) || c == '/' || c == '!' || c == '?' }

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
