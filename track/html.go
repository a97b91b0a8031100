package track

import (
	"html"
	"strings"

	xhtml "golang.org/x/net/html"

	"github.com/herald-msg/herald/channels"
)

// Rewritten is an HTML body with its links tracked.
type Rewritten struct {
	HTML string
	// Links are the targets of the tracked links, in the order of their index.
	Links []string
}

// RewriteHTML makes the links and the open pixel of a rendered HTML body go through Herald:
// the href of every <a> whose target is an absolute http(s) URL becomes a click URL whose
// token carries the link's index and target, and a 1×1 open pixel is added before </body>
// (or at the end). Everything else — mailto:, tel:, anchors, relative links, comments,
// scripts and the markup itself — is copied byte for byte.
func (t *Tracker) RewriteHTML(ch channels.Channel, messageID, body string) (Rewritten, error) {
	var out strings.Builder
	out.Grow(len(body) + 512)
	var links []string
	pixelDone := false
	pixel := func() error {
		u, err := t.OpenURL(ch, messageID)
		if err != nil {
			return err
		}
		out.WriteString(`<img src="` + u + `" width="1" height="1" alt="" style="border:0;width:1px;height:1px">`)
		pixelDone = true
		return nil
	}
	z := xhtml.NewTokenizer(strings.NewReader(body))
	for {
		tt := z.Next()
		raw := string(z.Raw())
		if tt == xhtml.ErrorToken {
			out.WriteString(raw) // the tokenizer stops only at the end of its input
			break
		}
		switch tt {
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			if name, _ := z.TagName(); string(name) == "a" {
				rewritten, target, ok, err := t.rewriteAnchor(raw, ch, messageID, len(links))
				if err != nil {
					return Rewritten{}, err
				}
				if ok {
					links = append(links, target)
					raw = rewritten
				}
			}
		case xhtml.EndTagToken:
			if name, _ := z.TagName(); string(name) == "body" && !pixelDone {
				if err := pixel(); err != nil {
					return Rewritten{}, err
				}
			}
		}
		out.WriteString(raw)
	}
	if !pixelDone {
		if err := pixel(); err != nil {
			return Rewritten{}, err
		}
	}
	return Rewritten{HTML: out.String(), Links: links}, nil
}

// rewriteAnchor replaces the href of one raw <a ...> tag by the click URL of link index i
// when its target is trackable.
func (t *Tracker) rewriteAnchor(tag string, ch channels.Channel, messageID string, i int) (string, string, bool, error) {
	start, end, ok := hrefSpan(tag)
	if !ok {
		return tag, "", false, nil
	}
	value := tag[start:end]
	value = strings.Trim(value, `"'`)
	target := strings.TrimSpace(html.UnescapeString(value))
	if !Trackable(target) || len(target) > maxURLLen {
		return tag, "", false, nil
	}
	u, err := t.ClickURL(ch, messageID, i, target)
	if err != nil {
		return "", "", false, err
	}
	return tag[:start] + `"` + u + `"` + tag[end:], target, true, nil
}

// hrefSpan finds the value of the href attribute in a raw start tag, quotes included, as
// HTML parses attributes: names end at whitespace, '/', '=' or '>'; values are quoted with
// " or ', or run to whitespace or '>'.
func hrefSpan(tag string) (start, end int, ok bool) {
	i := 1 // past '<'
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '/' && tag[i] != '>' {
		i++ // the tag name
	}
	for i < len(tag) {
		for i < len(tag) && (isSpace(tag[i]) || tag[i] == '/') {
			i++
		}
		if i >= len(tag) || tag[i] == '>' {
			return 0, 0, false
		}
		nameStart := i
		i++ // an attribute name may start with '='
		for i < len(tag) && !isSpace(tag[i]) && tag[i] != '/' && tag[i] != '=' && tag[i] != '>' {
			i++
		}
		name := strings.ToLower(tag[nameStart:i])
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '=' {
			continue // an attribute without a value
		}
		i++
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		vs := i
		if i < len(tag) && (tag[i] == '"' || tag[i] == '\'') {
			q := tag[i]
			j := strings.IndexByte(tag[i+1:], q)
			if j < 0 {
				return 0, 0, false
			}
			i += j + 2
		} else {
			for i < len(tag) && !isSpace(tag[i]) && tag[i] != '>' {
				i++
			}
		}
		if name == "href" {
			return vs, i, i > vs
		}
	}
	return 0, 0, false
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}
