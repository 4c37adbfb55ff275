package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the dashboard answers to. It also drives the help, so
// the help can never disagree with the keys.
type KeyMap struct {
	Up, Down, RaiseRPM, LowerRPM, RaiseRPM10, LowerRPM10 key.Binding
	TypeRPM                                              key.Binding
	RaiseRate, LowerRate                                 key.Binding
	PageUp, PageDown, Live, ZoomIn, ZoomOut, Maximise    key.Binding
	Pause, Slower, Faster                                key.Binding
	Rerun, Reset, Pick, Export, Faults, Figures, Inspect key.Binding
	Compare, ReplicaLimits                               key.Binding
	Choose, Close, CloseFaults                           key.Binding // in the picker and the fault menu
	Help, Quit, Contrast                                 key.Binding
	// A replay's: move through the recorded run.
	SeekBack, SeekForward, SeekStart, NextMark, PreviousMark key.Binding
}

// DefaultKeyMap is the dashboard's keymap.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "select bucket")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "select bucket")),
		RaiseRPM:   key.NewBinding(key.WithKeys("+"), key.WithHelp("+", "RPM +1")),
		TypeRPM:    key.NewBinding(key.WithKeys("="), key.WithHelp("=", "type an RPM")),
		LowerRPM:   key.NewBinding(key.WithKeys("-", "_"), key.WithHelp("-", "RPM −1")),
		RaiseRPM10: key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "RPM +10")),
		LowerRPM10: key.NewBinding(key.WithKeys("["), key.WithHelp("[", "RPM −10")),
		RaiseRate:  key.NewBinding(key.WithKeys("}"), key.WithHelp("}", "tenant rate +10%")),
		LowerRate:  key.NewBinding(key.WithKeys("{"), key.WithHelp("{", "tenant rate −10%")),
		PageUp:     key.NewBinding(key.WithKeys("pgup"), key.WithHelp("PgUp", "older lanes")),
		PageDown:   key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("PgDn", "newer lanes")),
		Live:       key.NewBinding(key.WithKeys("end"), key.WithHelp("End", "follow live")),
		ZoomIn:     key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "shorter time axis")),
		ZoomOut:    key.NewBinding(key.WithKeys("Z"), key.WithHelp("Z", "longer time axis")),
		Maximise:   key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "maximise a panel")),
		Pause:      key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "pause")),
		Slower:     key.NewBinding(key.WithKeys("<", ","), key.WithHelp("<", "slower")),
		Faster:     key.NewBinding(key.WithKeys(">", "."), key.WithHelp(">", "faster")),
		Rerun:      key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "re-run, keep RPMs")),
		Reset:      key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "re-run, file RPMs")),
		Pick:       key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "scenarios")),
		Export:     key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "export JSON")),
		Compare:    key.NewBinding(key.WithKeys("C"), key.WithHelp("C", "compare with a record")),
		// A run as replicas: the same seed again, counting limits the
		// other way, so the leak and the held limit are shown in turn.
		ReplicaLimits: key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "replica limits")),
		Faults:        key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "faults")),
		Figures:       key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "figures, trends, gauges")),
		Inspect:       key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "inspect a request")),
		Choose:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run it")),
		Close:         key.NewBinding(key.WithKeys("esc", "s", "q"), key.WithHelp("esc", "back")),
		CloseFaults:   key.NewBinding(key.WithKeys("esc", "f", "q"), key.WithHelp("esc", "back")),
		Help:          key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Contrast:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "high contrast")),
		Quit:          key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),

		SeekBack:     key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←", "back 10s")),
		SeekForward:  key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→", "forward 10s")),
		SeekStart:    key.NewBinding(key.WithKeys("home", "0"), key.WithHelp("Home", "start")),
		NextMark:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "next fault/change")),
		PreviousMark: key.NewBinding(key.WithKeys("N", "p"), key.WithHelp("N", "previous fault/change")),
	}
}

// ShortHelp is the footer line. Keys share entries, and the speed keys
// wait in ?'s full list, so that the line fits in 80 columns.
func (k KeyMap) ShortHelp() []key.Binding {
	join := func(label, desc string, bs ...key.Binding) key.Binding {
		var keys []string
		for _, b := range bs {
			keys = append(keys, b.Keys()...)
		}
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(label, desc))
	}
	return []key.Binding{
		join("↑↓ +-", "RPM", k.Up, k.Down, k.RaiseRPM, k.LowerRPM), k.Pause,
		k.Pick, k.Faults, join("e", "export", k.Export), k.Help, k.Quit,
	}
}

// replayHelp is the footer of a replay.
func (k KeyMap) replayHelp() []key.Binding {
	seek := key.NewBinding(key.WithKeys("left", "right"), key.WithHelp("←→", "seek"))
	ends := key.NewBinding(key.WithKeys("home", "end"), key.WithHelp("Home/End", "start/end"))
	return []key.Binding{k.Pause, seek, k.NextMark, ends, k.Slower, k.Faster, k.Help, k.Quit}
}

// replayFullHelp is what ? shows in a replay.
func (k KeyMap) replayFullHelp() [][]key.Binding {
	end := key.NewBinding(key.WithKeys("end"), key.WithHelp("End", "end of the run"))
	return [][]key.Binding{
		{k.Pause, k.Slower, k.Faster, k.SeekBack, k.SeekForward, k.SeekStart, end, k.NextMark, k.PreviousMark},
		{k.PageUp, k.PageDown, k.ZoomIn, k.ZoomOut, k.Figures, k.Maximise, k.Inspect},
		{k.Pick, k.Compare, k.Contrast, k.Help, k.Quit},
	}
}

// FullHelp is what ? shows.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.RaiseRPM, k.LowerRPM, k.RaiseRPM10, k.LowerRPM10, k.TypeRPM, k.RaiseRate, k.LowerRate, k.ReplicaLimits},
		{k.Pause, k.Slower, k.Faster, k.PageUp, k.PageDown, k.Live, k.ZoomIn, k.ZoomOut, k.Figures, k.Maximise},
		{k.Rerun, k.Reset, k.Pick, k.Faults, k.Inspect, k.Export, k.Compare, k.Contrast, k.Help, k.Quit},
	}
}

// pickerHelp is the footer while the scenario picker is open.
func (k KeyMap) pickerHelp() []key.Binding {
	move := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "choose"))
	return []key.Binding{move, k.Choose, k.Close}
}

// comparisonHelp is the footer while C's list or comparison is open.
func (k KeyMap) comparisonHelp(choosing bool) []key.Binding {
	back := key.NewBinding(key.WithKeys("esc", "C"), key.WithHelp("esc", "back"))
	if choosing {
		move := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "choose"))
		compare := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "compare"))
		return []key.Binding{move, compare, back}
	}
	scroll := key.NewBinding(key.WithKeys("up", "down", "pgup", "pgdown"), key.WithHelp("↑↓ PgUp PgDn", "scroll"))
	return []key.Binding{scroll, back}
}

// faultHelp is the footer while the fault menu is open.
func (k KeyMap) faultHelp() []key.Binding {
	move := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "choose"))
	toggle := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "start/stop"))
	return []key.Binding{move, toggle, k.CloseFaults}
}

// inspectorHelp is the footer while a request is inspected.
func (k KeyMap) inspectorHelp() []key.Binding {
	move := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "another request"))
	back := key.NewBinding(key.WithKeys("esc", "i"), key.WithHelp("esc", "back"))
	return []key.Binding{move, back, k.Quit}
}
