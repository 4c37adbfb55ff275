package scenarios

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// nesting reports every statement of src that nests deeper than
// MaxNesting or has a key part longer than MaxKeyLength, and the statement
// where the file's keys pass MaxKeyLevels. It runs before the TOML
// decoder, whose time and memory grow with the square of the depth and
// whose stack grows with it: a file of 20,000 nested inline tables took it
// 13.8 GB and a minute, and two million nested arrays crashed it.
func (c *checker) nesting(src string) {
	s := nestScanner{src: src}
	lines := lineCounter{src: src}
	levels := 0     // of statements not reported as too deep
	var over *Error // where levels passed MaxKeyLevels
	for {
		st, ok := s.next()
		if !ok {
			break
		}
		if msg := st.tooBig(); msg != "" {
			c.report(func() *Error { return &Error{File: c.file, Pos: lines.pos(st.at), Key: st.name(), Msg: msg} })
			continue
		}
		if levels += st.levels; levels > MaxKeyLevels && over == nil {
			over = &Error{File: c.file, Pos: lines.pos(st.at), Key: st.name()}
		}
	}
	if over != nil {
		over.Msg = fmt.Sprintf("%d key levels in all (a key 3 levels deep counts 3), over the limit of %d; the file passes it here, so split the file or nest less",
			levels, MaxKeyLevels)
		c.report(func() *Error { return over })
	}
}

// nestScanner walks a TOML document statement by statement in one pass,
// measuring how deep each statement nests. It knows TOML's strings and
// comments, so brackets inside them do not count; anything it does not
// understand it skips, leaving the decoder to report it, but it never
// skips an array or inline table that the decoder would enter.
type nestScanner struct {
	src     string
	i       int         // next byte to read
	table   string      // the key of the latest table header, as written
	depth   int         // how many levels that header has
	levels  int         // the current statement's keys, each counted at each level it spans
	longest int         // the current statement's longest key part, in bytes
	open    []container // the value's open arrays and inline tables, kept for reuse
}

// countKey counts a key of parts parts at level: a.b.c under [t] spans levels
// 2, 3 and 4, since the decoder makes a table of each part but the last.
func (s *nestScanner) countKey(level, parts int) {
	s.levels += parts*level + parts*(parts+1)/2
}

// statement is a table header or a key = value, which may span lines.
type statement struct {
	at      int    // offset of its first byte
	table   string // the table it is in, as written ("" for a header)
	key     string // its key, as written
	depth   int    // the deepest level it reaches
	levels  int    // its keys' levels: see MaxKeyLevels
	longest int    // its longest key part, in bytes
}

// tooBig says how the statement breaks MaxNesting or MaxKeyLength, if it
// does.
func (st statement) tooBig() string {
	switch {
	case st.depth > MaxNesting:
		return fmt.Sprintf("nested %d levels deep; scenario files nest at most %d", st.depth, MaxNesting)
	case st.longest > MaxKeyLength:
		return fmt.Sprintf("a key %d bytes long; keys in scenario files are at most %d bytes", st.longest, MaxKeyLength)
	}
	return ""
}

// name is the statement's full key, dotted and unquoted like the keys of
// other errors, and cut short if it is absurdly long.
func (st statement) name() string {
	key := strings.Join(splitKey(st.key), ".")
	if st.table != "" {
		key = strings.Join(splitKey(st.table), ".") + "." + key
	}
	const most = 64
	if len(key) <= most {
		return key
	}
	cut := most
	for cut > 0 && !utf8.RuneStart(key[cut]) {
		cut--
	}
	return key[:cut] + "…"
}

// next scans the next statement; it reports false at the end of src.
func (s *nestScanner) next() (statement, bool) {
	s.skipBlank()
	if s.i >= len(s.src) {
		return statement{}, false
	}
	st := statement{at: s.i}
	s.levels, s.longest = 0, 0
	if s.src[s.i] == '[' {
		s.header(&st)
	} else {
		s.keyValue(&st)
	}
	s.skipLine()
	st.levels, st.longest = s.levels, s.longest
	return st, true
}

// header scans a table header, [a.b] or [[a.b]]; the keys after it count
// their levels from its own.
func (s *nestScanner) header(st *statement) {
	s.i++
	if s.i < len(s.src) && s.src[s.i] == '[' {
		s.i++
	}
	from := s.i
	st.depth = s.key()
	st.key = strings.Trim(s.src[from:s.i], " \t")
	s.table, s.depth = st.key, st.depth
	s.countKey(0, st.depth)
}

// keyValue scans key = value in the current table.
func (s *nestScanner) keyValue(st *statement) {
	st.table = s.table
	from := s.i
	parts := s.key()
	st.key = strings.Trim(s.src[from:s.i], " \t")
	st.depth = s.depth + parts
	s.countKey(s.depth, parts)
	if s.i < len(s.src) && s.src[s.i] == '=' {
		s.i++
		st.depth = s.value(st.depth)
	}
}

// container is an array or inline table the scan is inside.
type container struct {
	table bool // an inline table, holding key = value; else an array
	level int  // the level of what it holds, before an entry's key parts
}

// value scans the value of a key at level, through every array and inline
// table it opens, and returns the deepest level inside it. Containers past
// MaxNesting+1 are only counted, one level each, so that the scan's memory
// stays small however deep the value goes.
func (s *nestScanner) value(level int) int {
	deepest := level
	open := s.open[:0]
	defer func() { s.open = open }()
	beyond := 0 // containers opened past those in open
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == '\n' && len(open) == 0:
			return deepest
		case c == '#':
			s.skipComment()
			continue
		case c == '"' || c == '\'':
			s.skipString()
			continue
		case (c == '[' || c == '{') && (beyond > 0 || len(open) > MaxNesting):
			beyond++
			level++
			deepest = max(deepest, level)
		case c == '[':
			level++
			deepest = max(deepest, level)
			open = append(open, container{level: level})
		case c == '{':
			open = append(open, container{table: true, level: level})
			s.i++
			level = s.entry(open[len(open)-1])
			deepest = max(deepest, level)
			continue
		case (c == ']' || c == '}') && beyond > 0:
			beyond--
			level--
		case c == ']' || c == '}':
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		case c == ',' && len(open) > 0 && beyond == 0:
			top := open[len(open)-1]
			level = top.level
			if top.table {
				s.i++
				level = s.entry(top)
				deepest = max(deepest, level)
				continue
			}
		}
		s.i++
	}
	return deepest
}

// entry reads the key of an inline table's entry and its '=', and returns
// the level of the entry's value. Anything else, such as the '}' of an
// empty table, is left for value.
func (s *nestScanner) entry(table container) int {
	s.skipBlank()
	parts := s.key()
	if s.i >= len(s.src) || s.src[s.i] != '=' {
		return table.level
	}
	s.i++
	s.countKey(table.level, parts)
	return table.level + parts
}

// key reads a dotted key and returns how many parts it has. It notes the
// longest part, quotes included and spaces around it not.
func (s *nestScanner) key() int {
	parts := 1
	from, to := -1, -1 // the current part
	note := func() {
		if from >= 0 {
			s.longest = max(s.longest, to-from)
		}
		from = -1
	}
	for s.i < len(s.src) {
		switch c := s.src[s.i]; {
		case c == ' ' || c == '\t':
			s.i++
			continue
		case c == '.':
			note()
			parts++
			s.i++
			continue
		case c == '"' || c == '\'':
			if from < 0 {
				from = s.i
			}
			s.skipString()
		case isBareKeyByte(c):
			if from < 0 {
				from = s.i
			}
			s.i++
		default:
			note()
			return parts
		}
		to = s.i
	}
	note()
	return parts
}

// isBareKeyByte reports whether c may be part of an unquoted key. Bytes of
// non-ASCII characters count too, to stay on the lenient side.
func isBareKeyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c >= 0x80
}

// skipString skips a string of any of TOML's four kinds. A single-line
// string also ends at a newline, where the decoder will report it.
func (s *nestScanner) skipString() {
	q := s.src[s.i]
	escapes := q == '"'
	delim := strings.Repeat(string(q), 3)
	if strings.HasPrefix(s.src[s.i:], delim) {
		s.i += 3
		for s.i < len(s.src) {
			switch {
			case escapes && s.src[s.i] == '\\':
				s.i = min(s.i+2, len(s.src))
			case strings.HasPrefix(s.src[s.i:], delim):
				// Up to two more quotes belong to the string: """a"""""
				s.i += 3
				for n := 0; n < 2 && s.i < len(s.src) && s.src[s.i] == q; n++ {
					s.i++
				}
				return
			default:
				s.i++
			}
		}
		return
	}
	s.i++
	for s.i < len(s.src) {
		switch c := s.src[s.i]; {
		case c == '\n':
			return
		case escapes && c == '\\' && s.i+1 < len(s.src) && s.src[s.i+1] != '\n':
			s.i += 2
		case c == q:
			s.i++
			return
		default:
			s.i++
		}
	}
}

// skipBlank skips whitespace, newlines and comments.
func (s *nestScanner) skipBlank() {
	for s.i < len(s.src) {
		switch s.src[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		case '#':
			s.skipComment()
		default:
			return
		}
	}
}

// skipComment skips to the end of the line, leaving the newline.
func (s *nestScanner) skipComment() {
	if n := strings.IndexByte(s.src[s.i:], '\n'); n >= 0 {
		s.i += n
	} else {
		s.i = len(s.src)
	}
}

// skipLine skips the rest of a statement's line: a comment, or something
// the decoder will report.
func (s *nestScanner) skipLine() { s.skipComment() }

// lineCounter turns offsets into line and column numbers, counting lines
// only once however many errors there are, as long as offsets ascend.
type lineCounter struct {
	src       string
	at        int // offset counted up to
	line      int // lines before at, less one
	lineStart int // offset of the line holding at
}

func (l *lineCounter) pos(offset int) Pos {
	for ; l.at < offset; l.at++ {
		if l.src[l.at] == '\n' {
			l.line++
			l.lineStart = l.at + 1
		}
	}
	return Pos{Line: l.line + 1, Col: offset - l.lineStart + 1}
}
