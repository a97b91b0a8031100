package content

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/sms"
	"github.com/herald-msg/herald/fault"
)

// Rendered is a variant with its variables filled in.
type Rendered struct {
	Channel channels.Channel
	Title   string
	Body    string
	// Extra is the variant's extra with its placeholders filled (and, for EMAIL, the
	// plain-text part). Parts without placeholders are shared by every render of the
	// template version: read it, never modify it.
	Extra map[string]any
	// Segments is the number of SMS parts the body is billed as; 0 on other channels.
	Segments int
}

// TooLongError reports a rendered field over its channel's limit; the dispatch worker
// records the message as FAILED with it as the reason.
type TooLongError struct {
	Channel channels.Channel
	Field   string // "title", "body" or "extra.<key>"
	Length  int    // characters
	Max     int
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("%s is %d characters; at most %d", e.Field, e.Length, e.Max)
}

// Render fills the variant of ch with vars. Placeholders are replaced by text only; nothing
// in a template or a variable is ever executed. EMAIL bodies receive HTML-escaped values;
// every other field receives them as they are. A rendered field over its channel's limit
// is a *TooLongError.
//
// The variants are compiled on the first render of a template version, which must not be
// changed afterwards (versions are immutable; the service caches them).
func (t *Template) Render(ch channels.Channel, vars map[string]any) (*Rendered, error) {
	t.compileOnce.Do(t.compile)
	for i := range t.compiled {
		if t.compiled[i].channel == ch {
			return t.compiled[i].render(vars)
		}
	}
	return nil, fault.BadInput("channel", "template %q has no %s variant", t.Name, ch)
}

// compiledVariant is a variant split once into literals and placeholders, so a render does
// no parsing: it looks each variable up once and copies text into one buffer.
type compiledVariant struct {
	channel channels.Channel
	// names holds the variables the variant uses; a placeholder refers to one by its slot,
	// the index in names.
	names       []string
	title, body compiledText
	extra       *node // nil: the variant has no extra
	limits      []limit
	segments    bool
}

// compiledText is a text as literals, each followed by a placeholder's slot (-1: none).
type compiledText struct {
	raw    string // the text itself, returned as is when it has no placeholder
	parts  []part // nil: no placeholder
	lit    int    // bytes of literal text
	escape bool   // HTML-escape the values
}

type part struct {
	lit  string
	slot int
}

// node is a compiled extra value.
type node struct {
	kind  nodeKind
	value any          // constant: shared by every render
	text  compiledText // text
	keys  []string     // object, sorted
	elems []node       // object values (parallel to keys) or array elements
}

type nodeKind uint8

const (
	constant nodeKind = iota
	text
	object
	array
)

func (t *Template) compile() {
	t.compiled = make([]compiledVariant, len(t.Variants))
	for i := range t.Variants {
		t.compiled[i] = compileVariant(&t.Variants[i])
	}
}

func compileVariant(v *Variant) compiledVariant {
	rule := channelRules[v.Channel]
	cv := compiledVariant{channel: v.Channel, limits: rule.limits, segments: v.Channel == channels.SMS}
	cv.title = cv.compileText(v.Title, false)
	cv.body = cv.compileText(v.Body, rule.htmlBody)
	if v.Extra == nil && rule.plainText == "" {
		return cv
	}
	keys := slices.Sorted(maps.Keys(v.Extra))
	n := node{kind: object, keys: keys, elems: make([]node, len(keys))}
	for i, k := range keys {
		n.elems[i] = cv.compileNode(v.Extra[k])
	}
	if k := rule.plainText; k != "" && v.Extra[k] == nil {
		pt := node{kind: text, text: cv.compileParts(plainTextOf(v.Body), false)}
		if pt.text.parts == nil {
			pt = node{kind: constant, value: pt.text.raw}
		}
		i, found := slices.BinarySearch(n.keys, k)
		if found { // extra.text is null: replaced by the derived part
			n.elems[i] = pt
		} else {
			n.keys = slices.Insert(n.keys, i, k)
			n.elems = slices.Insert(n.elems, i, pt)
		}
	}
	n = fold(n)
	cv.extra = &n
	return cv
}

// slot returns the slot of variable name, adding it on first use.
func (cv *compiledVariant) slot(name string) int {
	if i := slices.Index(cv.names, name); i >= 0 {
		return i
	}
	cv.names = append(cv.names, name)
	return len(cv.names) - 1
}

func (cv *compiledVariant) compileText(s string, escape bool) compiledText {
	var segs []segment
	last := 0
	for {
		start, end, name, ok := nextPlaceholder(s, last)
		if !ok {
			break
		}
		segs = append(segs, segment{text: s[last:start]}, segment{name: name, isVar: true})
		last = end
	}
	if len(segs) == 0 {
		return compiledText{raw: s}
	}
	segs = append(segs, segment{text: s[last:]})
	return cv.compileParts(segs, escape)
}

// segment is a piece of a text: literal text, or a placeholder naming a variable.
type segment struct {
	text  string
	name  string
	isVar bool
}

func (cv *compiledVariant) compileParts(segs []segment, escape bool) compiledText {
	c := compiledText{escape: escape}
	var lit strings.Builder
	for _, s := range segs {
		if !s.isVar {
			lit.WriteString(s.text)
			continue
		}
		c.parts = append(c.parts, part{lit: lit.String(), slot: cv.slot(s.name)})
		c.lit += lit.Len()
		lit.Reset()
	}
	if c.parts == nil {
		c.raw = lit.String()
		return c
	}
	if lit.Len() > 0 {
		c.parts = append(c.parts, part{lit: lit.String(), slot: -1})
		c.lit += lit.Len()
	}
	return c
}

func (cv *compiledVariant) compileNode(v any) node {
	switch x := v.(type) {
	case string:
		c := cv.compileText(x, false)
		if c.parts == nil {
			return node{kind: constant, value: x}
		}
		return node{kind: text, text: c}
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		n := node{kind: object, keys: keys, elems: make([]node, len(keys))}
		for i, k := range keys {
			n.elems[i] = cv.compileNode(x[k])
		}
		return fold(n)
	case []any:
		n := node{kind: array, elems: make([]node, len(x))}
		for i, e := range x {
			n.elems[i] = cv.compileNode(e)
		}
		return fold(n)
	}
	return node{kind: constant, value: v}
}

// fold turns an object or array without placeholders into a constant, built once.
func fold(n node) node {
	for _, e := range n.elems {
		if e.kind != constant {
			return n
		}
	}
	if n.kind == array {
		out := make([]any, len(n.elems))
		for i, e := range n.elems {
			out[i] = e.value
		}
		return node{kind: constant, value: out}
	}
	out := make(map[string]any, len(n.keys))
	for i, k := range n.keys {
		out[k] = n.elems[i].value
	}
	return node{kind: constant, value: out}
}

func (cv *compiledVariant) render(vars map[string]any) (*Rendered, error) {
	var local [8]any
	vals := local[:0]
	for _, name := range cv.names {
		vals = append(vals, vars[name])
	}
	size := cv.title.size(vals) + cv.body.size(vals)
	if cv.extra != nil {
		size += cv.extra.size(vals)
	}
	var b strings.Builder
	b.Grow(size)
	r := &Rendered{Channel: cv.channel, Title: cv.title.render(&b, vals), Body: cv.body.render(&b, vals)}
	if cv.extra != nil {
		r.Extra = cv.extra.render(&b, vals).(map[string]any)
	}
	for _, l := range cv.limits {
		var s string
		switch l.field {
		case "title":
			s = r.Title
		case "body":
			s = r.Body
		default:
			s, _ = r.Extra[strings.TrimPrefix(l.field, "extra.")].(string)
		}
		if len(s) <= l.max { // a character is at least one byte
			continue
		}
		if n := utf8.RuneCountInString(s); n > l.max {
			return nil, &TooLongError{Channel: cv.channel, Field: l.field, Length: n, Max: l.max}
		}
	}
	if cv.segments {
		r.Segments = sms.Segments(r.Body)
	}
	return r, nil
}

// size is the number of bytes c renders to with vals, exactly for string values.
func (c *compiledText) size(vals []any) int {
	n := c.lit
	for _, p := range c.parts {
		if p.slot >= 0 {
			n += valueSize(vals[p.slot], c.escape)
		}
	}
	return n
}

// render writes c to b and returns what it wrote. The strings share b's buffer, which is
// only ever appended to.
func (c *compiledText) render(b *strings.Builder, vals []any) string {
	if c.parts == nil {
		return c.raw
	}
	start := b.Len()
	for _, p := range c.parts {
		b.WriteString(p.lit)
		if p.slot >= 0 {
			writeValue(b, vals[p.slot], c.escape)
		}
	}
	return b.String()[start:]
}

func (n *node) size(vals []any) int {
	switch n.kind {
	case text:
		return n.text.size(vals)
	case object, array:
		s := 0
		for i := range n.elems {
			s += n.elems[i].size(vals)
		}
		return s
	}
	return 0
}

func (n *node) render(b *strings.Builder, vals []any) any {
	switch n.kind {
	case text:
		return n.text.render(b, vals)
	case object:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			out[k] = n.elems[i].render(b, vals)
		}
		return out
	case array:
		out := make([]any, len(n.elems))
		for i := range n.elems {
			out[i] = n.elems[i].render(b, vals)
		}
		return out
	}
	return n.value
}

// valueSize is the number of bytes writeValue writes for v: exact for strings, a guess for
// the rest.
func valueSize(v any, escape bool) int {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		if escape {
			return escapedLen(x)
		}
		return len(x)
	}
	return 24
}

// writeValue writes a variable's value as text: strings as they are, numbers without
// exponent and with at most six decimals, anything else as fmt prints it.
func writeValue(b *strings.Builder, v any, escape bool) {
	var tmp [32]byte
	switch x := v.(type) {
	case nil:
	case string:
		writeText(b, x, escape)
	case float64:
		s := strconv.AppendFloat(tmp[:0], x, 'f', 6, 64)
		if i := len(s); i > 0 && s[i-1] == '0' { // no trailing zeros, nor a lone point
			for i > 0 && s[i-1] == '0' {
				i--
			}
			if i > 0 && s[i-1] == '.' {
				i--
			}
			s = s[:i]
		}
		b.Write(s)
	case int:
		b.Write(strconv.AppendInt(tmp[:0], int64(x), 10))
	case int64:
		b.Write(strconv.AppendInt(tmp[:0], x, 10))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		writeText(b, string(x), escape)
	default:
		writeText(b, fmt.Sprint(x), escape)
	}
}

func writeText(b *strings.Builder, s string, escape bool) {
	if !escape {
		b.WriteString(s)
		return
	}
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '&':
			esc = "&amp;"
		case '\'':
			esc = "&#39;"
		case '"':
			esc = "&#34;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// escapedLen is the length of s HTML-escaped as writeText escapes it (as html.EscapeString).
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<', '>':
			n += 3
		case '&', '\'', '"':
			n += 4
		}
	}
	return n
}
