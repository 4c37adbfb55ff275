package tui

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// resultsCard draws the summary the headless output prints, as the run
// ended, with how to go back to the panels. Its tables are laid out again
// for the width: closer columns first, then whole columns left out from
// the right, named under the table, so no figure is cut.
func (m *Model) resultsCard(width, height int) string {
	var content []cardLine
	for _, line := range reflowTables(strings.Split(strings.Trim(m.card, "\n"), "\n"), width) {
		if strings.Trim(line.text, "=") != "" || line.text == "" { // the rules under a title add nothing on screen
			content = append(content, line)
		}
	}
	if len(content) > height-1 {
		// Short of room, blank lines go before any figure does.
		content = slices.DeleteFunc(content, func(line cardLine) bool { return line.text == "" })
	}
	title := joinFitting(width, " · ", part{text: "Results", rank: 2}, part{text: "the headless summary's tables", rank: 0},
		part{text: "any key returns to the panels", rank: 1})
	lines := []string{m.styles.Bold.Render(fit(title, width))}
	for i, line := range content {
		text := fit(line.text, width)
		switch {
		case i == 0 || strings.HasSuffix(line.text, ":"):
			text = m.styles.Bold.Render(text) // the card's title and its sections' names
		case line.head:
			text = m.styles.Dim.Render(text)
		}
		lines = append(lines, text)
	}
	return block(lines, width, height)
}

// tableRule is the line under a summary table's header: dashes and bars.
var tableRule = regexp.MustCompile(`^-+(\|-+)+$`)

// cardLine is a line of the results card; head marks a table's header.
type cardLine struct {
	text string
	head bool
}

// reflowTables lays out every "a | b | c" table in lines to fit width,
// dropping the rule under its header, which the alignment makes plain.
func reflowTables(lines []string, width int) []cardLine {
	var out []cardLine
	for i := 0; i < len(lines); i++ {
		if i+1 >= len(lines) || !strings.Contains(lines[i], " | ") || !tableRule.MatchString(lines[i+1]) {
			out = append(out, cardLine{text: lines[i]})
			continue
		}
		rows := [][]string{cells(lines[i])}
		j := i + 2
		for ; j < len(lines) && strings.Contains(lines[j], " | "); j++ {
			rows = append(rows, cells(lines[j]))
		}
		for k, text := range layoutTable(rows, width) {
			out = append(out, cardLine{text: text, head: k == 0})
		}
		i = j - 1
	}
	return out
}

func cells(line string) []string {
	parts := strings.Split(line, "|")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// layoutTable draws rows, the first of them the header, in width: two
// spaces between columns, or one, and then without the rightmost columns
// until the rest fit, named on a line of their own.
func layoutTable(rows [][]string, width int) []string {
	columns := len(rows[0])
	widths := make([]int, columns)
	for _, r := range rows {
		for c := range min(columns, len(r)) {
			widths[c] = max(widths[c], ansi.StringWidth(r[c]))
		}
	}
	total := func(keep, gap int) int {
		w := 0
		for c := range keep {
			w += widths[c] + gap
		}
		return w - gap
	}
	keep, gap := columns, 2
	if total(keep, gap) > width {
		gap = 1
	}
	for keep > 1 && total(keep, gap) > width {
		keep--
	}
	var out []string
	for _, r := range rows {
		var b strings.Builder
		for c := range keep {
			cell := ""
			if c < len(r) {
				cell = r[c]
			}
			if c > 0 {
				b.WriteString(strings.Repeat(" ", gap))
			}
			b.WriteString(cell + strings.Repeat(" ", widths[c]-ansi.StringWidth(cell)))
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	if keep < columns {
		out = append(out, fmt.Sprintf("(not shown at this width: %s; the export has them)", strings.Join(rows[0][keep:], ", ")))
	}
	return out
}
