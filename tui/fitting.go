package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// fit pads plain text to width cells, or shortens it to whole words
// followed by " …", so a cut never splits a number or a name: "primary at
// 3 RPM → fallback" in 20 cells is "primary at 3 RPM …". Only where no
// whole word fits (a first word longer than the width, or a width under 3
// cells) is the text cut inside a word, as the last resort.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w <= width {
		return s + strings.Repeat(" ", width-w)
	}
	cut := cutWords(s, width)
	return cut + strings.Repeat(" ", width-ansi.StringWidth(cut))
}

// cutWords is the longest run of s's leading words that fits width cells
// with " …" after it.
func cutWords(s string, width int) string {
	if width < 3 {
		return ansi.Truncate(s, width, "")
	}
	head := ansi.Truncate(s, width-2, "")
	if rest := s[len(head):]; rest != "" && rest[0] != ' ' {
		// head ends inside a word: go back to the space before it.
		i := strings.LastIndexByte(head, ' ')
		if i < 0 {
			return ansi.Truncate(s, width, "…")
		}
		head = head[:i]
	}
	// A separator left at the end joins nothing.
	head = strings.TrimRight(head, " ·—→,;:(")
	if head == "" {
		return ansi.Truncate(s, width, "…")
	}
	return head + " …"
}

// part is one piece of a line that may be left out when the line is
// short of room; the lower its rank, the sooner it goes.
type part struct {
	text string
	rank int
	glue bool // joined to the part before with a space, not the separator
}

// joinFitting joins parts with sep, leaving out the lowest-ranked ones,
// latest first among equals, until the line fits width. Parts of the
// highest rank stay whatever happens; fit then shortens the line by words.
func joinFitting(width int, sep string, parts ...part) string {
	keep := make([]bool, len(parts))
	top := 0
	for i, p := range parts {
		keep[i] = p.text != ""
		top = max(top, p.rank)
	}
	join := func() string {
		var b strings.Builder
		for i, p := range parts {
			if !keep[i] {
				continue
			}
			switch {
			case b.Len() > 0 && p.glue:
				b.WriteByte(' ')
			case b.Len() > 0:
				b.WriteString(sep)
			}
			b.WriteString(p.text)
		}
		return b.String()
	}
	line := join()
	for rank := 0; rank < top && ansi.StringWidth(line) > width; rank++ {
		for i := len(parts) - 1; i >= 0 && ansi.StringWidth(line) > width; i-- {
			if keep[i] && parts[i].rank == rank {
				keep[i] = false
				line = join()
			}
		}
	}
	return line
}

// table lays out columns of plain cells that may each take a shorter form
// or be left out, so a short width costs labels and whole columns, never
// part of a cell.
type table struct {
	cells, short [][]string // by column, then row
	right        []bool     // right-aligned, as numbers are
	shortened    []bool
	dropped      []bool
}

func newTable(columns, rows int) *table {
	t := &table{cells: make([][]string, columns), short: make([][]string, columns), right: make([]bool, columns),
		shortened: make([]bool, columns), dropped: make([]bool, columns)}
	for c := range t.cells {
		t.cells[c], t.short[c] = make([]string, rows), make([]string, rows)
	}
	return t
}

// set fills a cell; short is its shorter form, or "" for none.
func (t *table) set(column, row int, text, short string) {
	t.cells[column][row], t.short[column][row] = text, short
}

func (t *table) shorten(column int) { t.shortened[column] = true }
func (t *table) drop(column int)    { t.dropped[column] = true }

func (t *table) cell(column, row int) string {
	if t.shortened[column] && t.short[column][row] != "" {
		return t.short[column][row]
	}
	return t.cells[column][row]
}

// columnWidth is the widest cell of a column; 0 when it is left out or
// empty.
func (t *table) columnWidth(column int) int {
	if t.dropped[column] {
		return 0
	}
	w := 0
	for row := range t.cells[column] {
		w = max(w, ansi.StringWidth(t.cell(column, row)))
	}
	return w
}

// width is the table's width with a space between columns.
func (t *table) width() int {
	w := 0
	for c := range t.cells {
		if cw := t.columnWidth(c); cw > 0 {
			w += cw + 1
		}
	}
	return max(0, w-1)
}

// row is a row's cells in columns [from, to), each padded to its column
// and a space apart, without the columns left out or empty.
func (t *table) row(row, from, to int) string {
	var out []string
	for c := from; c < to; c++ {
		cw := t.columnWidth(c)
		if cw == 0 {
			continue
		}
		text := t.cell(c, row)
		pad := strings.Repeat(" ", cw-ansi.StringWidth(text))
		if t.right[c] {
			out = append(out, pad+text)
		} else {
			out = append(out, text+pad)
		}
	}
	return strings.Join(out, " ")
}
