package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"spillway/scenarios"
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
}

func (p *picker) show(items []*scenarios.Scenario, current string) {
	p.open, p.items, p.current, p.selected = true, items, current, ""
	p.cursor = 0
	for i, s := range items {
		if s.Name == current {
			p.cursor = i
		}
	}
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
	if moveCursor(msg, p.keys, &p.cursor, len(p.items)) {
		return
	}
	switch {
	case key.Matches(msg, p.keys.Choose):
		if len(p.items) > 0 {
			p.selected = p.items[p.cursor].Name
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
	start, end := listWindow(p.cursor, len(p.items), max(3, height-7))
	for i := start; i < end; i++ {
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
	if len(p.items) > 0 {
		lines = append(lines, "", st.Dim.Render(fit("• on screen now", width)), "")
		desc := strings.Join(strings.Fields(p.items[p.cursor].Description), " ")
		for _, l := range wrap(desc, width) {
			lines = append(lines, fit(l, width))
		}
	}
	return block(lines, width, height)
}

// wrap breaks text into lines of at most width cells at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) > width:
			lines, line = append(lines, line), w
		default:
			line += " " + w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
