package content

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// nextPlaceholder finds the first placeholder of text at or after from: "{{", a run of
// characters that are not braces, "}}". start and end bound the whole placeholder and name is
// what lies between the braces, trimmed. It matches exactly what the regular expression
// \{\{\s*([^{}]*?)\s*\}\} matched in earlier releases, leftmost first, so stored templates
// render as they always did.
func nextPlaceholder(text string, from int) (start, end int, name string, ok bool) {
	for from < len(text) {
		i := strings.Index(text[from:], "{{")
		if i < 0 {
			return 0, 0, "", false
		}
		start = from + i
		inner := start + 2
		if k := strings.IndexAny(text[inner:], "{}"); k >= 0 && strings.HasPrefix(text[inner+k:], "}}") {
			return start, inner + k + 2, strings.TrimSpace(text[inner : inner+k]), true
		}
		from = start + 1
	}
	return 0, 0, "", false
}

// checkPlaceholders checks that every placeholder of text names a declared variable; errors
// give the line and column (in characters) of the placeholder.
func checkPlaceholders(text string, declared map[string]bool) error {
	if n := strings.Count(text, "{{"); n != strings.Count(text, "}}") {
		return fmt.Errorf("unbalanced {{ }} in %q", text)
	}
	for from := 0; ; {
		start, end, name, ok := nextPlaceholder(text, from)
		if !ok {
			return nil
		}
		from = end
		if !varName.MatchString(name) {
			line, col := position(text, start)
			return fmt.Errorf("line %d, column %d: {{%s}} is not a variable name", line, col, name)
		}
		if !declared[name] {
			line, col := position(text, start)
			return fmt.Errorf("line %d, column %d: variable %q is used but not declared", line, col, name)
		}
	}
}

func position(text string, offset int) (line, col int) {
	line = 1 + strings.Count(text[:offset], "\n")
	col = 1 + utf8.RuneCountInString(text[strings.LastIndex(text[:offset], "\n")+1:offset])
	return line, col
}
