package audience

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"

	"github.com/herald-msg/herald/store"
)

// condition is a SQL boolean over the users table aliased u, with its arguments.
type condition struct {
	sql  string
	args []any
}

// ExprError is a syntax or meaning error in an audience expression, with its position.
type ExprError struct {
	Line, Column int
	Reason       string
}

func (e *ExprError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Reason)
}

// compileTags compiles a boolean tag expression such as `vip && !churned` or
// `(a || b) && c` (also `and`, `or`, `not`) to SQL.
func compileTags(src string) (condition, error) {
	p := &tagParser{src: src}
	p.next()
	c, err := p.or()
	if err != nil {
		return condition{}, err
	}
	if p.tok != "" {
		return condition{}, p.errorf("unexpected %q", p.tok)
	}
	return c, nil
}

type tagParser struct {
	src    string
	pos    int // offset after the current token
	start  int // offset of the current token
	tok    string
	isName bool
}

func (p *tagParser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(p.src[:p.start], "\n")
	col := 1 + utf8.RuneCountInString(p.src[strings.LastIndex(p.src[:p.start], "\n")+1:p.start])
	return &ExprError{Line: line, Column: col, Reason: fmt.Sprintf(format, args...)}
}

func isTagRune(r rune) bool {
	return r == '_' || r == '-' || r == '.' || r == ':' || unicode.IsLetter(r) || unicode.IsDigit(r) || r > 0x7f && !unicode.IsSpace(r)
}

func (p *tagParser) next() {
	for p.pos < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if !unicode.IsSpace(r) {
			break
		}
		p.pos += n
	}
	p.start = p.pos
	p.isName = false
	if p.pos >= len(p.src) {
		p.tok = ""
		return
	}
	for _, op := range []string{"&&", "||", "!", "(", ")"} {
		if strings.HasPrefix(p.src[p.pos:], op) {
			p.tok = op
			p.pos += len(op)
			return
		}
	}
	end := p.pos
	for end < len(p.src) {
		r, n := utf8.DecodeRuneInString(p.src[end:])
		if !isTagRune(r) {
			break
		}
		end += n
	}
	if end == p.pos {
		r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
		p.tok = string(r)
		p.pos += utf8.RuneLen(r)
		return
	}
	p.tok = p.src[p.pos:end]
	p.pos = end
	switch strings.ToLower(p.tok) {
	case "and":
		p.tok = "&&"
	case "or":
		p.tok = "||"
	case "not":
		p.tok = "!"
	default:
		p.isName = true
	}
}

func (p *tagParser) or() (condition, error) {
	left, err := p.and()
	if err != nil {
		return left, err
	}
	for p.tok == "||" {
		p.next()
		right, err := p.and()
		if err != nil {
			return right, err
		}
		left = condition{sql: "(" + left.sql + " OR " + right.sql + ")", args: append(left.args, right.args...)}
	}
	return left, nil
}

func (p *tagParser) and() (condition, error) {
	left, err := p.unary()
	if err != nil {
		return left, err
	}
	for p.tok == "&&" {
		p.next()
		right, err := p.unary()
		if err != nil {
			return right, err
		}
		left = condition{sql: "(" + left.sql + " AND " + right.sql + ")", args: append(left.args, right.args...)}
	}
	return left, nil
}

func (p *tagParser) unary() (condition, error) {
	switch {
	case p.tok == "!":
		p.next()
		c, err := p.unary()
		if err != nil {
			return c, err
		}
		return condition{sql: "NOT " + c.sql, args: c.args}, nil
	case p.tok == "(":
		p.next()
		c, err := p.or()
		if err != nil {
			return c, err
		}
		if p.tok != ")" {
			return c, p.errorf("missing )")
		}
		p.next()
		return c, nil
	case p.isName:
		tag := p.tok
		if err := ValidTag(tag); err != nil {
			return condition{}, p.errorf("%s", err)
		}
		p.next()
		return condition{sql: "EXISTS (SELECT 1 FROM user_tags t WHERE t.app_id = u.app_id AND t.user_id = u.id AND t.tag = ?)", args: []any{tag}}, nil
	case p.tok == "":
		return condition{}, p.errorf("expression ends early: a tag, ! or ( is expected")
	default:
		return condition{}, p.errorf("unexpected %q: a tag, ! or ( is expected", p.tok)
	}
}

// compileSegment compiles an expression over user attributes, such as
// `age >= 30 && city == "杭州"`, to SQL over the JSON attributes column. Supported: attribute
// names (also user.<name>), string, number, bool and nil literals, == != < <= > >=, && || !
// (and, or, not), in / not in [list], startsWith, endsWith, contains.
func compileSegment(dl store.Dialect, src string) (condition, error) {
	if strings.TrimSpace(src) == "" {
		return condition{}, &ExprError{Line: 1, Column: 1, Reason: "empty expression"}
	}
	tree, err := parser.Parse(src)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return condition{}, &ExprError{Line: max(fe.Line, 1), Column: fe.Column + 1, Reason: fe.Message}
		}
		return condition{}, &ExprError{Line: 1, Column: 1, Reason: strings.SplitN(err.Error(), "\n", 2)[0]}
	}
	s := &segment{src: src, dl: dl}
	return s.boolean(tree.Node)
}

type segment struct {
	src string
	dl  store.Dialect
}

func (s *segment) errorf(n ast.Node, format string, args ...any) error {
	// Locations count runes, not bytes.
	from := n.Location().From
	line, col := 1, 1
	for i, r := range []rune(s.src) {
		if i >= from {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &ExprError{Line: line, Column: col, Reason: fmt.Sprintf(format, args...)}
}

func (s *segment) boolean(n ast.Node) (condition, error) {
	switch x := n.(type) {
	case *ast.BinaryNode:
		switch x.Operator {
		case "&&", "and", "||", "or":
			l, err := s.boolean(x.Left)
			if err != nil {
				return l, err
			}
			r, err := s.boolean(x.Right)
			if err != nil {
				return r, err
			}
			op := " AND "
			if x.Operator == "||" || x.Operator == "or" {
				op = " OR "
			}
			return condition{sql: "(" + l.sql + op + r.sql + ")", args: append(l.args, r.args...)}, nil
		case "==", "!=", "<", "<=", ">", ">=":
			return s.compare(x)
		case "in", "not in":
			return s.in(x)
		case "startsWith", "endsWith", "contains":
			return s.like(x)
		}
		return condition{}, s.errorf(n, "operator %q is not supported in a segment", x.Operator)
	case *ast.UnaryNode:
		if x.Operator == "!" || x.Operator == "not" {
			c, err := s.boolean(x.Node)
			if err != nil {
				return c, err
			}
			return condition{sql: s.dl.NotTrue(c.sql), args: c.args}, nil
		}
	case *ast.IdentifierNode, *ast.MemberNode:
		attr, err := s.attribute(n)
		if err != nil {
			return condition{}, err
		}
		q, args := s.dl.JSONIsTrue("u.attributes", attr)
		return condition{sql: q, args: args}, nil
	case *ast.BoolNode:
		return condition{sql: s.dl.Bool(x.Value)}, nil
	}
	return condition{}, s.errorf(n, "a condition is expected here")
}

// attribute returns the JSON path of an attribute reference.
func (s *segment) attribute(n ast.Node) (string, error) {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return jsonPath(x.Value), nil
	case *ast.MemberNode:
		if id, ok := x.Node.(*ast.IdentifierNode); ok && id.Value == "user" {
			if p, ok := x.Property.(*ast.StringNode); ok {
				return jsonPath(p.Value), nil
			}
		}
	}
	return "", s.errorf(n, "an attribute name is expected here")
}

func jsonPath(name string) string {
	return `$."` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
}

// literal returns the value of a literal node and whether it is a number.
func (s *segment) literal(n ast.Node) (any, bool, error) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, false, nil
	case *ast.IntegerNode:
		return x.Value, true, nil
	case *ast.FloatNode:
		return x.Value, true, nil
	case *ast.BoolNode:
		// MariaDB's JSON_VALUE reads JSON true and false as 1 and 0.
		if x.Value {
			return 1, true, nil
		}
		return 0, true, nil
	case *ast.NilNode:
		return nil, false, nil
	case *ast.UnaryNode:
		if x.Operator == "-" {
			switch v := x.Node.(type) {
			case *ast.IntegerNode:
				return -v.Value, true, nil
			case *ast.FloatNode:
				return -v.Value, true, nil
			}
		}
	}
	return nil, false, s.errorf(n, "a literal (string, number, true, false or nil) is expected here")
}

var flipped = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}

func (s *segment) compare(x *ast.BinaryNode) (condition, error) {
	attrNode, litNode, op := x.Left, x.Right, x.Operator
	if _, err := s.attribute(attrNode); err != nil {
		attrNode, litNode, op = x.Right, x.Left, flipped[x.Operator]
	}
	attr, err := s.attribute(attrNode)
	if err != nil {
		return condition{}, s.errorf(x.Left, "a comparison needs an attribute on one side and a literal on the other")
	}
	val, number, err := s.literal(litNode)
	if err != nil {
		return condition{}, err
	}
	sqlOp := map[string]string{"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[op]
	if val == nil {
		col, args := s.dl.JSONValue("u.attributes", attr, false)
		switch op {
		case "==":
			return condition{sql: "(" + col + " IS NULL)", args: args}, nil
		case "!=":
			return condition{sql: "(" + col + " IS NOT NULL)", args: args}, nil
		}
		return condition{}, s.errorf(x, "nil can only be compared with == or !=")
	}
	col, args := s.dl.JSONValue("u.attributes", attr, number)
	if op == "!=" {
		// A user without the attribute differs from any value.
		return condition{sql: s.dl.Differs(col, "?"), args: append(args, val)}, nil
	}
	return condition{sql: "(" + col + " " + sqlOp + " ?)", args: append(args, val)}, nil
}

func (s *segment) in(x *ast.BinaryNode) (condition, error) {
	attr, err := s.attribute(x.Left)
	if err != nil {
		return condition{}, err
	}
	arr, ok := x.Right.(*ast.ArrayNode)
	if !ok || len(arr.Nodes) == 0 {
		return condition{}, s.errorf(x.Right, "a non-empty list such as [\"a\", \"b\"] is expected here")
	}
	var vals []any
	number := false
	for i, n := range arr.Nodes {
		v, isNum, err := s.literal(n)
		if err != nil {
			return condition{}, err
		}
		if v == nil {
			return condition{}, s.errorf(n, "nil cannot be in a list")
		}
		if i > 0 && isNum != number {
			return condition{}, s.errorf(n, "a list mixes numbers and strings")
		}
		number = isNum
		vals = append(vals, v)
	}
	col, colArgs := s.dl.JSONValue("u.attributes", attr, number)
	list := "(" + strings.TrimSuffix(strings.Repeat("?,", len(arr.Nodes)), ",") + ")"
	if x.Operator == "not in" {
		// A user without the attribute is not in any list.
		args := append(append(append([]any{}, colArgs...), colArgs...), vals...)
		return condition{sql: "(" + col + " IS NULL OR " + col + " NOT IN " + list + ")", args: args}, nil
	}
	return condition{sql: "(" + col + " IN " + list + ")", args: append(append([]any{}, colArgs...), vals...)}, nil
}

func (s *segment) like(x *ast.BinaryNode) (condition, error) {
	attr, err := s.attribute(x.Left)
	if err != nil {
		return condition{}, err
	}
	lit, ok := x.Right.(*ast.StringNode)
	if !ok {
		return condition{}, s.errorf(x.Right, "a string is expected here")
	}
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(lit.Value)
	pattern := map[string]string{"startsWith": esc + "%", "endsWith": "%" + esc, "contains": "%" + esc + "%"}[x.Operator]
	col, args := s.dl.JSONValue("u.attributes", attr, false)
	return condition{sql: "(" + col + " LIKE ?" + s.dl.LikeEscape() + ")", args: append(args, pattern)}, nil
}
