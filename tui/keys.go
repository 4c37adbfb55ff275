package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the dashboard answers to. It also drives the help, so
// the help can never disagree with the keys.
type KeyMap struct {
	Up, Down, RaiseRPM, LowerRPM, RaiseRPM10, LowerRPM10 key.Binding
	PageUp, PageDown, Live                               key.Binding
	Help, Quit                                           key.Binding
}

// DefaultKeyMap is the dashboard's keymap.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "select bucket")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "select bucket")),
		RaiseRPM:   key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+", "RPM +1")),
		LowerRPM:   key.NewBinding(key.WithKeys("-", "_"), key.WithHelp("-", "RPM −1")),
		RaiseRPM10: key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "RPM +10")),
		LowerRPM10: key.NewBinding(key.WithKeys("["), key.WithHelp("[", "RPM −10")),
		PageUp:     key.NewBinding(key.WithKeys("pgup"), key.WithHelp("PgUp", "older lanes")),
		PageDown:   key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("PgDn", "newer lanes")),
		Live:       key.NewBinding(key.WithKeys("end"), key.WithHelp("End", "follow live")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:       key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the footer line.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.RaiseRPM, k.LowerRPM, k.PageUp, k.Live, k.Help, k.Quit}
}

// FullHelp is what ? shows.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.RaiseRPM, k.LowerRPM, k.RaiseRPM10, k.LowerRPM10},
		{k.PageUp, k.PageDown, k.Live},
		{k.Help, k.Quit},
	}
}
