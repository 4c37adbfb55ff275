package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"spillway/scenarios"
)

// faultMenu lists the faults that fit the scenario on screen, each marked
// on or off; enter toggles the highlighted one. It owns its cursor and its
// keys while it is open.
type faultMenu struct {
	open    bool
	cursor  int
	options []scenarios.Fault
	keys    KeyMap
	chosen  *scenarios.Fault // set by enter: the fault to toggle
}

func (f *faultMenu) show(options []scenarios.Fault) {
	f.open, f.options, f.chosen = true, options, nil
	f.cursor = min(f.cursor, max(0, len(options)-1))
}

// Update moves the cursor, closes the menu, or chooses a fault to toggle.
// The menu stays open after a toggle, so several faults can be combined.
func (f *faultMenu) Update(msg tea.KeyPressMsg) {
	if moveCursor(msg, f.keys, &f.cursor, len(f.options)) {
		return
	}
	switch {
	case key.Matches(msg, f.keys.Choose):
		if len(f.options) > 0 {
			f.chosen = &f.options[f.cursor]
		}
	case key.Matches(msg, f.keys.CloseFaults):
		f.open = false
	}
}

// View draws the menu; on says which options are in effect.
func (f *faultMenu) View(on func(scenarios.Fault) bool, st Styles, width, height int) string {
	lines := []string{st.Bold.Render(fit("Faults · enter starts or stops · esc closes · every change is recorded", width))}
	start, end := listWindow(f.cursor, len(f.options), max(3, height-1))
	for i := start; i < end; i++ {
		mark, state := "  ", "[ ]"
		if i == f.cursor {
			mark = "▶ "
		}
		if on(f.options[i]) {
			state = "[on]"
		}
		line := fit(fmt.Sprintf("%s%-4s %s", mark, state, f.options[i]), width)
		if i == f.cursor {
			line = st.Selected.Render(line)
		} else if on(f.options[i]) {
			line = st.Error.Render(line)
		}
		lines = append(lines, line)
	}
	return block(lines, width, height)
}
