package scenarios

import (
	"strconv"
	"strings"
)

// Pos is a place in a scenario file, 1-based.
type Pos struct {
	Line, Col int
}

// locator maps every key of a TOML document to where it was written.
//
// The TOML decoder knows positions too, but it keys them without array
// indexes, so the third [[scenario.deployment]] and the first share one
// entry. Errors must point at the offending table, so we scan the text
// ourselves. Paths look like "scenario[2].deployment[0].rpm".
type locator struct {
	pos   map[string]Pos
	order []string // indexed paths in the order they appear
}

func locate(src string) *locator {
	l := &locator{pos: map[string]Pos{}}
	arrays := map[string]int{} // resolved array path → index of its latest element
	current := ""
	var closing string // delimiter that ends a multi-line string, if inside one
	depth := 0         // bracket depth of a value that spans lines

	for n, line := range strings.Split(src, "\n") {
		lineNo := n + 1
		if closing != "" {
			if strings.Contains(line, closing) {
				closing = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketBalance(line)
			continue
		}
		trimmed := strings.TrimSpace(stripComment(line))
		if trimmed == "" {
			continue
		}
		col := strings.Index(line, trimmed) + 1
		switch {
		case strings.HasPrefix(trimmed, "[["):
			segs := splitKey(strings.TrimSuffix(strings.TrimPrefix(trimmed, "[["), "]]"))
			parent := resolve(arrays, segs[:len(segs)-1])
			base := join(parent, segs[len(segs)-1])
			idx := 0
			if i, ok := arrays[base]; ok {
				idx = i + 1
			}
			arrays[base] = idx
			current = base + "[" + strconv.Itoa(idx) + "]"
			l.add(current, Pos{lineNo, col})
		case strings.HasPrefix(trimmed, "["):
			segs := splitKey(strings.TrimSuffix(strings.TrimPrefix(trimmed, "["), "]"))
			current = resolve(arrays, segs)
			l.add(current, Pos{lineNo, col})
		default:
			eq := indexOutsideQuotes(trimmed, '=')
			if eq < 0 {
				continue
			}
			key := strings.TrimSpace(trimmed[:eq])
			l.add(join(current, strings.Join(splitKey(key), ".")), Pos{lineNo, col})
			value := strings.TrimSpace(trimmed[eq+1:])
			for _, q := range []string{`"""`, `'''`} {
				if strings.HasPrefix(value, q) && !strings.Contains(value[3:], q) {
					closing = q
				}
			}
			if closing == "" {
				depth = bracketBalance(value)
			}
		}
	}
	return l
}

func (l *locator) add(path string, p Pos) {
	if _, seen := l.pos[path]; !seen {
		l.order = append(l.order, path)
	}
	l.pos[path] = p
}

// find returns where path (or, failing that, its nearest written parent) is.
func (l *locator) find(path string) (Pos, bool) {
	for path != "" {
		if p, ok := l.pos[path]; ok {
			return p, true
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			break
		}
		path = path[:cut]
	}
	return Pos{}, false
}

// withoutIndexes turns "scenario[2].deployment[0].rpm" into "scenario.deployment.rpm",
// the form the TOML decoder reports undecoded keys in.
func withoutIndexes(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func resolve(arrays map[string]int, segs []string) string {
	path := ""
	for _, s := range segs {
		path = join(path, s)
		if i, ok := arrays[path]; ok {
			path += "[" + strconv.Itoa(i) + "]"
		}
	}
	return path
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// splitKey splits a dotted TOML key, honouring quoted parts.
func splitKey(key string) []string {
	var segs []string
	var b strings.Builder
	var quote rune
	for _, r := range strings.TrimSpace(key) {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			b.WriteRune(r)
		case r == '"' || r == '\'':
			quote = r
		case r == '.':
			segs = append(segs, strings.TrimSpace(b.String()))
			b.Reset()
		case r != ' ' && r != '\t':
			b.WriteRune(r)
		}
	}
	return append(segs, strings.TrimSpace(b.String()))
}

func stripComment(line string) string {
	if i := indexOutsideQuotes(line, '#'); i >= 0 {
		return line[:i]
	}
	return line
}

// outsideQuotes calls visit with each byte of s that is not inside a TOML
// string, until visit returns false.
func outsideQuotes(s string, visit func(i int, c byte) bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\' && quote == '"':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		default:
			if !visit(i, c) {
				return
			}
		}
	}
}

func indexOutsideQuotes(s string, target byte) int {
	at := -1
	outsideQuotes(s, func(i int, c byte) bool {
		if c == target {
			at = i
			return false
		}
		return true
	})
	return at
}

// bracketBalance counts how many arrays or inline tables a fragment leaves open.
func bracketBalance(s string) int {
	n := 0
	outsideQuotes(stripComment(s), func(_ int, c byte) bool {
		switch c {
		case '[', '{':
			n++
		case ']', '}':
			n--
		}
		return true
	})
	return n
}
