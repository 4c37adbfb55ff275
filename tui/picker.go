package tui

import (
	"fmt"
	"path/filepath"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"spillway/scenarios"
	"spillway/tui/plain"
)

// picker lists every scenario with its title; enter runs the highlighted
// one. It owns its cursor and its keys while it is open.
type picker struct {
	open     bool
	cursor   int
	items    []*scenarios.Scenario
	current  string // the scenario on screen, marked in the list
	keys     KeyMap
	selected string // set by enter: the scenario to run
	// records are recorded runs to play back, listed after the scenarios;
	// replaying is set by enter on one.
	records   []Record
	replaying string
}

// count is how many lines the cursor moves over.
func (p *picker) count() int { return len(p.items) + len(p.records) }

func (p *picker) show(items []*scenarios.Scenario, records []Record, current string) {
	p.open, p.items, p.records, p.current, p.selected, p.replaying = true, items, records, current, "", ""
	p.cursor = 0
	for i, s := range items {
		if s.Name == current {
			p.cursor = i
		}
	}
}

// playable are the records that can be played back.
func playable(records []Record) []Record {
	var out []Record
	for _, r := range records {
		if !r.CompareOnly {
			out = append(out, r)
		}
	}
	return out
}

// moveCursor moves a list cursor for ↑/↓ and reports whether msg was one
// of them. The picker and the fault menu share it.
func moveCursor(msg tea.KeyPressMsg, k KeyMap, cursor *int, n int) bool {
	switch {
	case key.Matches(msg, k.Up):
		*cursor = max(0, *cursor-1)
	case key.Matches(msg, k.Down):
		*cursor = max(0, min(n-1, *cursor+1))
	default:
		return false
	}
	return true
}

// listWindow is the part of an n-item list to draw in rows, keeping the
// cursor in view.
func listWindow(cursor, n, rows int) (start, end int) {
	start = min(max(0, cursor-rows/2), max(0, n-rows))
	return start, min(n, start+rows)
}

// Update moves the cursor, closes the picker, or chooses a scenario.
func (p *picker) Update(msg tea.KeyPressMsg) {
	if moveCursor(msg, p.keys, &p.cursor, p.count()) {
		return
	}
	switch {
	case key.Matches(msg, p.keys.Choose):
		switch {
		case p.cursor < len(p.items):
			p.selected = p.items[p.cursor].Name
		case p.cursor < p.count():
			p.replaying = p.records[p.cursor-len(p.items)].Path
		}
		p.open = false
	case key.Matches(msg, p.keys.Close):
		p.open = false
	}
}

// View draws the list, then the highlighted scenario's description.
func (p *picker) View(st Styles, width, height int) string {
	lines := []string{st.Bold.Render(fit("Scenarios · enter runs the highlighted one with the file's RPMs; the current run stops (e exports it first)", width))}
	nameW := 0
	for _, s := range p.items {
		nameW = max(nameW, len(s.Name))
	}
	// Keep the cursor in view when the list is taller than the panel,
	// leaving room for the description below it.
	start, end := listWindow(p.cursor, p.count(), max(3, height-7))
	for i := start; i < end; i++ {
		if i >= len(p.items) {
			lines = append(lines, p.recordLine(st, i, nameW, width))
			continue
		}
		s := p.items[i]
		mark := "  "
		if i == p.cursor {
			mark = "▶ "
		}
		now := " "
		if s.Name == p.current {
			now = "•"
		}
		line := fit(fmt.Sprintf("%s%s %-*s  %s", mark, now, nameW, s.Name, s.Title), width)
		if i == p.cursor {
			line = st.Selected.Render(line)
		}
		lines = append(lines, line)
	}
	if p.cursor >= len(p.items) && p.cursor < p.count() {
		r := p.records[p.cursor-len(p.items)]
		lines = append(lines, "", st.Dim.Render(fit("• on screen now · ▷ a recorded run: enter plays it back, with no network", width)), "")
		lines = append(lines, fit(r.Path, width))
	} else if len(p.items) > 0 {
		lines = append(lines, "", st.Dim.Render(fit("• on screen now", width)), "")
		desc := strings.Join(strings.Fields(p.items[p.cursor].Description), " ")
		for _, l := range plain.Wrap(desc, width) {
			lines = append(lines, fit(l, width))
		}
	}
	return block(lines, width, height)
}

// recordLine is the picker's line for the recorded run at list index i.
func (p *picker) recordLine(st Styles, i, nameW, width int) string {
	r := p.records[i-len(p.items)]
	mark := "  "
	if i == p.cursor {
		mark = "▶ "
	}
	line := fit(fmt.Sprintf("%s▷ %-*s  replay of %s, recorded %s", mark, nameW, r.Scenario, filepath.Base(r.Path),
		r.Recorded.Local().Format("2006-01-02 15:04")), width)
	if i == p.cursor {
		line = st.Selected.Render(line)
	}
	return line
}
