package tui

import (
	"fmt"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// comparison is what C opens: first a list of recorded runs to set beside
// the run on screen, then the comparison itself, scrolled with the keys
// that scroll the lanes. It owns its keys while it is open.
type comparison struct {
	keys KeyMap
	// choosing: the list of records is open; chosen is set by enter.
	choosing bool
	cursor   int
	records  []Record
	chosen   string
	// lines are the comparison's text once it came back; nil while the
	// list is open or nothing is shown.
	lines  []string
	title  string
	scroll int
}

func (c *comparison) open() bool { return c.choosing || c.lines != nil }

func (c *comparison) choose(records []Record) {
	c.choosing, c.records, c.cursor, c.chosen, c.lines = true, records, 0, "", nil
}

func (c *comparison) show(title, text string) {
	c.choosing, c.title, c.scroll = false, title, 0
	c.lines = strings.Split(strings.TrimRight(text, "\n"), "\n")
}

func (c *comparison) close() { c.choosing, c.lines = false, nil }

// textRows is how many lines of the comparison a body of height shows,
// under its title and above the line that says where they are.
func textRows(height int) int { return max(1, height-2) }

// Update moves through the list or the text, closes, or chooses a record.
// height is the body's, as View is given it.
func (c *comparison) Update(msg tea.KeyPressMsg, height int) {
	k := c.keys
	rows := textRows(height)
	if key.Matches(msg, k.Close) || msg.String() == "C" {
		c.close()
		return
	}
	if c.choosing {
		if moveCursor(msg, k, &c.cursor, len(c.records)) {
			return
		}
		if key.Matches(msg, k.Choose) && c.cursor < len(c.records) {
			c.chosen, c.choosing = c.records[c.cursor].Path, false
		}
		return
	}
	last := max(0, len(c.lines)-rows)
	switch {
	case key.Matches(msg, k.Up):
		c.scroll--
	case key.Matches(msg, k.Down):
		c.scroll++
	case key.Matches(msg, k.PageUp):
		c.scroll -= max(1, rows-1)
	case key.Matches(msg, k.PageDown), msg.String() == "space":
		c.scroll += max(1, rows-1)
	case key.Matches(msg, k.SeekStart):
		c.scroll = 0
	case key.Matches(msg, k.Live):
		c.scroll = last
	}
	c.scroll = max(0, min(last, c.scroll))
}

// View draws the list of records, or the comparison from its scroll
// position, with a line saying how much more there is.
func (c *comparison) View(st Styles, width, height int) string {
	if c.choosing {
		return c.listView(st, width, height)
	}
	rows := textRows(height)
	lines := []string{st.Bold.Render(fit(c.title, width))}
	end := min(len(c.lines), c.scroll+rows)
	for i, line := range c.lines[c.scroll:end] {
		text := fit(line, width)
		if line != "" && line[0] != ' ' && (i > 0 || c.scroll > 0) {
			text = st.Bold.Render(text) // a section's title
		}
		lines = append(lines, text)
	}
	if len(c.lines) > rows {
		lines = append(lines, st.Dim.Render(fit(fmt.Sprintf("lines %d–%d of %d · ↑↓ PgUp PgDn scroll · esc back",
			c.scroll+1, end, len(c.lines)), width)))
	}
	return block(lines, width, height)
}

func (c *comparison) listView(st Styles, width, height int) string {
	// The parts that say what A and B are go last, when the width is short.
	title := joinFitting(width, " · ", part{text: "Compare with a recorded run", rank: 2},
		part{text: "A the record, B this run as it is now", rank: 1}, part{text: "enter sets it beside this run", rank: 0})
	lines := []string{st.Bold.Render(fit(title, width))}
	if len(c.records) == 0 {
		return block(append(lines, "", fit("No recorded runs here. e exports this run; run again (r) and compare the two.", width)), width, height)
	}
	start, end := listWindow(c.cursor, len(c.records), max(3, height-4))
	for i := start; i < end; i++ {
		r := c.records[i]
		mark := "  "
		if i == c.cursor {
			mark = "▶ "
		}
		line := fit(fmt.Sprintf("%s▷ %s  %s, recorded %s", mark, filepath.Base(r.Path), r.Scenario,
			r.Recorded.Local().Format("2006-01-02 15:04:05")), width)
		if i == c.cursor {
			line = st.Selected.Render(line)
		}
		lines = append(lines, line)
	}
	lines = append(lines, "", st.Dim.Render(fit(c.records[c.cursor].Path, width)))
	return block(lines, width, height)
}
