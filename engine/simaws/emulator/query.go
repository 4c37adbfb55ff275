package emulator

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// The Logs Insights subset the emulator understands: enough for the seed's
// Region histogram and for a person poking at the logs with the AWS CLI.
//
//	query   = stage { "|" stage }
//	stage   = "filter" cond
//	        | "stats" "count(*)" [ "as" name ] [ "by" field { "," field } ]
//	        | "sort" field [ "asc" | "desc" ] { "," field [ "asc" | "desc" ] }
//	        | "fields" field { "," field }
//	        | "limit" number
//	cond    = and { "or" and }
//	and     = term { "and" term }
//	term    = "(" cond ")" | operand "like" ( /regex/ | "text" ) | operand cmp operand
//	operand = field | "toMillis(@timestamp)" | number | "text"
//	cmp     = "=" | "!=" | "<" | "<=" | ">" | ">="
//
// Parentheses nest at most maxQueryDepth deep. Anything else is a
// MalformedQueryException that names the part.

// query is a parsed Logs Insights query.
type query struct {
	stages []stage
}

type stage interface{ isStage() }

type filterStage struct{ cond cond }
type statsStage struct {
	as string
	by []string
}
type sortStage struct{ keys []sortKey }
type fieldsStage struct{ fields []string }
type limitStage struct{ n int }

func (filterStage) isStage() {}
func (statsStage) isStage()  {}
func (sortStage) isStage()   {}
func (fieldsStage) isStage() {}
func (limitStage) isStage()  {}

type sortKey struct {
	field string
	desc  bool
}

// cond is a filter condition over one record.
type cond interface {
	eval(rec fieldSource) bool
}

type fieldSource interface {
	field(name string) (string, bool)
}

type andCond []cond
type orCond []cond
type likeCond struct {
	left operand
	re   *regexp.Regexp // nil for a substring match
	text string
	// literals, when set, are what the regex matches: it is only literal
	// text, or an alternation of literals (the shape of the Region
	// query), so a substring test stands in for the regex engine.
	literals []string
}
type cmpCond struct {
	left, right operand
	op          string
	// rightNum is the right side parsed once, when it is a number literal.
	rightNum   float64
	rightIsNum bool
}

// numberSource is a fieldSource that can give a field as a number without
// formatting it as text first.
type numberSource interface {
	number(name string) (float64, bool)
}

// literalAlternatives returns the literal texts a regex matches when it is
// a literal or an alternation of literals, optionally in one group.
func literalAlternatives(src string) ([]string, bool) {
	if strings.HasPrefix(src, "(") && strings.HasSuffix(src, ")") && !strings.HasPrefix(src, "(?") {
		src = src[1 : len(src)-1]
	}
	var out []string
	start := 0
	for i := 0; i <= len(src); i++ {
		switch {
		case i < len(src) && src[i] == '\\':
			i++ // skip the escaped character
		case i < len(src) && (src[i] == '(' || src[i] == ')'):
			return nil, false
		case i == len(src) || src[i] == '|':
			re, err := regexp.Compile(src[start:i])
			if err != nil {
				return nil, false
			}
			lit, complete := re.LiteralPrefix()
			if !complete {
				return nil, false
			}
			out = append(out, lit)
			start = i + 1
		}
	}
	return out, true
}

func (c andCond) eval(r fieldSource) bool {
	for _, x := range c {
		if !x.eval(r) {
			return false
		}
	}
	return true
}

func (c orCond) eval(r fieldSource) bool {
	for _, x := range c {
		if x.eval(r) {
			return true
		}
	}
	return false
}

func (c likeCond) eval(r fieldSource) bool {
	v, ok := c.left.value(r)
	if !ok {
		return false
	}
	switch {
	case c.literals != nil:
		for _, lit := range c.literals {
			if strings.Contains(v, lit) {
				return true
			}
		}
		return false
	case c.re != nil:
		return c.re.MatchString(v)
	}
	return strings.Contains(v, c.text)
}

func (c cmpCond) eval(r fieldSource) bool {
	if ns, ok := r.(numberSource); ok && c.rightIsNum && c.left.toMillis {
		// toMillis(@timestamp) against a number, as the Region query
		// filters every record: compare without formatting and parsing.
		if x, ok := ns.number(timestampMillis); ok {
			return c.compare(compareFloats(x, c.rightNum))
		}
	}
	a, ok1 := c.left.value(r)
	b, ok2 := c.right.value(r)
	if !ok1 || !ok2 {
		return false
	}
	var order int
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 == nil && err2 == nil {
		switch {
		case x < y:
			order = -1
		case x > y:
			order = 1
		}
	} else {
		order = strings.Compare(a, b)
	}
	return c.compare(order)
}

func compareFloats(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// compare applies the operator to an ordering: -1, 0 or 1.
func (c cmpCond) compare(order int) bool {
	switch c.op {
	case "=":
		return order == 0
	case "!=":
		return order != 0
	case "<":
		return order < 0
	case "<=":
		return order <= 0
	case ">":
		return order > 0
	}
	return order >= 0
}

// operand is a field, a literal or toMillis(@timestamp).
type operand struct {
	field    string
	literal  string
	toMillis bool
}

func (o operand) value(r fieldSource) (string, bool) {
	switch {
	case o.toMillis:
		return r.field(timestampMillis)
	case o.field != "":
		return r.field(o.field)
	}
	return o.literal, true
}

// timestampMillis is the pseudo-field toMillis(@timestamp) reads.
const timestampMillis = "toMillis(@timestamp)"

// MalformedQuery is a query the emulator cannot run, with the part it
// stumbled on.
type MalformedQuery struct{ msg string }

func (e *MalformedQuery) Error() string { return e.msg }

func malformed(format string, args ...any) error {
	return &MalformedQuery{fmt.Sprintf(format, args...)}
}

// token kinds
const (
	tIdent = iota
	tNumber
	tString
	tRegex
	tPunct
	tEOF
)

type token struct {
	kind int
	text string
	pos  int
}

func lex(src string) ([]token, error) {
	var out []token
	i := 0
	for i < len(src) {
		c := rune(src[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '/':
			j := i + 1
			var b strings.Builder
			for ; j < len(src) && src[j] != '/'; j++ {
				if src[j] == '\\' && j+1 < len(src) && src[j+1] == '/' {
					j++ // \/ is a literal slash inside /…/
				}
				b.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, malformed("unterminated regular expression at character %d: add the closing /", i+1)
			}
			out = append(out, token{tRegex, b.String(), i})
			i = j + 1
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && rune(src[j]) != c {
				j++
			}
			if j >= len(src) {
				return nil, malformed("unterminated string at character %d", i+1)
			}
			out = append(out, token{tString, src[i+1 : j], i})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			out = append(out, token{tNumber, src[i:j], i})
			i = j
		case c == '@' || c == '_' || unicode.IsLetter(c):
			j := i
			for j < len(src) && (src[j] == '@' || src[j] == '_' || src[j] == '.' || src[j] == '*' ||
				unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			word := src[i:j]
			// Function calls we know are single tokens: count(*) and toMillis(@timestamp).
			if j < len(src) && src[j] == '(' {
				k := strings.IndexByte(src[j:], ')')
				if k < 0 {
					return nil, malformed("unclosed ( after %s at character %d", clip(word), i+1)
				}
				call := strings.ReplaceAll(src[i:j+k+1], " ", "")
				if call != "count(*)" && call != timestampMillis {
					return nil, malformed("unsupported function %s at character %d; the emulator knows count(*) and toMillis(@timestamp)", clip(call), i+1)
				}
				out = append(out, token{tIdent, call, i})
				i = j + k + 1
				continue
			}
			out = append(out, token{tIdent, word, i})
			i = j
		default:
			for _, p := range []string{"<=", ">=", "!=", "=", "<", ">", "|", ",", "(", ")"} {
				if strings.HasPrefix(src[i:], p) {
					out = append(out, token{tPunct, p, i})
					i += len(p)
					goto next
				}
			}
			return nil, malformed("unexpected %q at character %d", string(c), i+1)
		next:
		}
	}
	return append(out, token{kind: tEOF, pos: len(src)}), nil
}

// maxQueryDepth bounds how deeply parentheses nest. The parser recurses once
// per level, so without a bound a query of a million "(" overflows the
// stack, a fatal error no recover catches. People write two or three.
const maxQueryDepth = 50

type parser struct {
	toks  []token
	i     int
	depth int // parentheses open around the current term
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) keyword(word string) bool {
	if t := p.peek(); t.kind == tIdent && strings.EqualFold(t.text, word) {
		p.i++
		return true
	}
	return false
}

func (p *parser) punct(s string) bool {
	if t := p.peek(); t.kind == tPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func describe(t token) string {
	if t.kind == tEOF {
		return "the end of the query"
	}
	return fmt.Sprintf("%q at character %d", clip(t.text), t.pos+1)
}

// parseQuery parses src or says which part it does not support.
func parseQuery(src string) (*query, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &query{}
	for {
		st, err := p.stage()
		if err != nil {
			return nil, err
		}
		q.stages = append(q.stages, st)
		if p.punct("|") {
			continue
		}
		if t := p.peek(); t.kind != tEOF {
			return nil, malformed("unexpected %s; separate commands with |", describe(t))
		}
		return q, nil
	}
}

func (p *parser) stage() (stage, error) {
	t := p.next()
	if t.kind != tIdent {
		return nil, malformed("expected a command (filter, stats, sort, fields, limit), found %s", describe(t))
	}
	switch strings.ToLower(t.text) {
	case "filter":
		c, err := p.or()
		return filterStage{c}, err
	case "stats":
		if t := p.next(); t.text != "count(*)" {
			return nil, malformed("unsupported stats expression %s; the emulator supports stats count(*) [as name] [by field, …]", describe(t))
		}
		st := statsStage{as: "count(*)"}
		if p.keyword("as") {
			name := p.next()
			if name.kind != tIdent {
				return nil, malformed("expected a name after as, found %s", describe(name))
			}
			st.as = name.text
		}
		if p.keyword("by") {
			fields, err := p.fieldList()
			if err != nil {
				return nil, err
			}
			st.by = fields
		}
		return st, nil
	case "sort":
		var st sortStage
		for {
			f := p.next()
			if f.kind != tIdent {
				return nil, malformed("expected a field to sort by, found %s", describe(f))
			}
			k := sortKey{field: f.text}
			if p.keyword("desc") {
				k.desc = true
			} else {
				p.keyword("asc")
			}
			st.keys = append(st.keys, k)
			if !p.punct(",") {
				return st, nil
			}
		}
	case "fields", "display":
		fields, err := p.fieldList()
		return fieldsStage{fields}, err
	case "limit":
		n := p.next()
		v, err := strconv.Atoi(n.text)
		if n.kind != tNumber || err != nil || v < 1 {
			return nil, malformed("limit needs a whole number, found %s", describe(n))
		}
		return limitStage{v}, nil
	}
	return nil, malformed("unsupported command %s; the emulator supports filter, stats count(*), sort, fields and limit", describe(t))
}

func (p *parser) fieldList() ([]string, error) {
	var out []string
	for {
		f := p.next()
		if f.kind != tIdent || f.text == "count(*)" {
			return nil, malformed("expected a field name, found %s", describe(f))
		}
		out = append(out, f.text)
		if !p.punct(",") {
			return out, nil
		}
	}
}

func (p *parser) or() (cond, error) {
	var terms orCond
	for {
		c, err := p.and()
		if err != nil {
			return nil, err
		}
		terms = append(terms, c)
		if !p.keyword("or") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *parser) and() (cond, error) {
	var terms andCond
	for {
		c, err := p.term()
		if err != nil {
			return nil, err
		}
		terms = append(terms, c)
		if !p.keyword("and") {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *parser) term() (cond, error) {
	if open := p.peek(); p.punct("(") {
		if p.depth++; p.depth > maxQueryDepth {
			return nil, malformed("parentheses nest %d levels deep at character %d; the emulator allows at most %d",
				p.depth, open.pos+1, maxQueryDepth)
		}
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, malformed("expected ) but found %s", describe(p.peek()))
		}
		p.depth--
		return c, nil
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.keyword("like") {
		t := p.next()
		switch t.kind {
		case tRegex:
			re, err := regexp.Compile(t.text)
			if err != nil {
				return nil, malformed("regular expression /%s/ does not compile: %s", clip(t.text), clip(err.Error()))
			}
			lits, _ := literalAlternatives(t.text)
			return likeCond{left: left, re: re, literals: lits}, nil
		case tString:
			return likeCond{left: left, text: t.text}, nil
		}
		return nil, malformed("like needs /regex/ or \"text\", found %s", describe(t))
	}
	op := p.next()
	if op.kind != tPunct || !strings.Contains("= != < <= > >=", op.text) || op.text == "|" || op.text == "," {
		return nil, malformed("unsupported condition at %s; the emulator supports like, =, !=, <, <=, >, >=, and, or and parentheses", describe(op))
	}
	right, err := p.operand()
	if err != nil {
		return nil, err
	}
	c := cmpCond{left: left, right: right, op: op.text}
	if right.field == "" && !right.toMillis {
		if n, err := strconv.ParseFloat(right.literal, 64); err == nil {
			c.rightNum, c.rightIsNum = n, true
		}
	}
	return c, nil
}

func (p *parser) operand() (operand, error) {
	t := p.next()
	switch {
	case t.kind == tIdent && t.text == timestampMillis:
		return operand{toMillis: true}, nil
	case t.kind == tIdent && t.text != "count(*)":
		return operand{field: t.text}, nil
	case t.kind == tNumber || t.kind == tString:
		return operand{literal: t.text}, nil
	}
	return operand{}, malformed("expected a field, a number or a string, found %s", describe(t))
}
