package tui

import (
	"image/color"
	"strings"

	"charm.land/lipgloss/v2"
)

// Styles is every colour and emphasis the dashboard uses, in one place.
// Colours come in light and dark pairs; NO_COLOR is honoured by Bubble Tea's
// renderer, and every lane segment also has its own glyph, so the screen
// reads the same without colour.
type Styles struct {
	Title, Dim, Bold, Selected, Error, Warn lipgloss.Style
	Simulated, Live, Paused                 lipgloss.Style
	Segment                                 [Cancelled + 1]lipgloss.Style
	GaugeFull, GaugeEmpty, Bar              lipgloss.Style

	// Lanes are drawn for every visible request every frame, so their
	// styles are applied as ready-made escape sequences instead of
	// through Render, which measures every grapheme it is given.
	segmentPaint                               [Cancelled + 1]paint
	dimPaint, boldPaint, errorPaint, warnPaint paint
}

// paint is a style as the escape sequences around its text.
type paint struct{ open, close string }

func paintOf(s lipgloss.Style) paint {
	const marker = "X"
	r := s.Render(marker)
	i := strings.Index(r, marker)
	return paint{r[:i], r[i+len(marker):]}
}

// on applies the paint to plain text of one line.
func (p paint) on(text string) string { return p.open + text + p.close }

// glyphs draw each segment kind, so the kinds differ even without colour.
var glyphs = [Cancelled + 1]string{
	Waiting:     "┄",
	FirstWait:   "▒",
	Primary:     "█",
	Fallback:    "▓",
	Skipped:     "·",
	Cooling:     "⊘",
	CircuitOpen: "○",
	Throttled:   "░",
	RateLimited: "×",
	RetryWait:   "~",
	Failed:      "!",
	TimedOut:    "⊗",
	Cancelled:   "-",
}

var kindNames = [Cancelled + 1]string{
	Waiting:     "in flight",
	FirstWait:   "before first token",
	Primary:     "primary",
	Fallback:    "fallback",
	Skipped:     "skipped",
	Cooling:     "cooldown",
	CircuitOpen: "circuit open",
	Throttled:   "throttled",
	RateLimited: "rate-limited",
	RetryWait:   "retry wait",
	Failed:      "failed",
	TimedOut:    "timed out",
	Cancelled:   "cancelled",
}

// NewStyles builds the styles for a dark or a light background.
func NewStyles(dark bool) Styles {
	ld := lipgloss.LightDark(dark)
	c := func(light, darkHex string) color.Color { return ld(lipgloss.Color(light), lipgloss.Color(darkHex)) }
	fg := func(col color.Color) lipgloss.Style { return lipgloss.NewStyle().Foreground(col) }
	return newStyles(c, fg)
}

// NewHighContrastStyles builds the styles for a projector or a washed-out
// screen: full-strength colours, nothing dim, everything bold, and the
// empty part of a gauge as plain as its text.
func NewHighContrastStyles(dark bool) Styles {
	ld := lipgloss.LightDark(dark)
	strong := map[string][2]string{ // the normal theme's colour → light, dark
		"#5a5a5a": {"#000000", "#ffffff"}, "#6b6b6b": {"#000000", "#ffffff"}, "#a0a0a0": {"#404040", "#c0c0c0"},
		"#1a7f37": {"#006000", "#00ff5f"}, "#0969da": {"#0000d0", "#00d7ff"}, "#8a5a00": {"#805000", "#ffff00"},
		"#bc4c00": {"#b04000", "#ff8700"}, "#8250df": {"#7000c0", "#ff5fff"}, "#b00020": {"#c00000", "#ff3030"},
	}
	c := func(light, _ string) color.Color {
		pair, ok := strong[light]
		if !ok {
			pair = [2]string{light, light}
		}
		return ld(lipgloss.Color(pair[0]), lipgloss.Color(pair[1]))
	}
	fg := func(col color.Color) lipgloss.Style { return lipgloss.NewStyle().Foreground(col).Bold(true) }
	return newStyles(c, fg)
}

func newStyles(c func(light, dark string) color.Color, fg func(color.Color) lipgloss.Style) Styles {
	s := Styles{
		Title:     lipgloss.NewStyle().Bold(true),
		Dim:       fg(c("#5a5a5a", "#a8a8a8")),
		Bold:      lipgloss.NewStyle().Bold(true),
		Selected:  lipgloss.NewStyle().Bold(true).Reverse(true),
		Error:     fg(c("#b00020", "#ff6b6b")).Bold(true),
		Warn:      fg(c("#8a5a00", "#ffb454")),
		Simulated: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#000000")).Background(c("#f0c000", "#f0c000")),
		Live:      lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#ffffff")).Background(c("#c00000", "#d03030")),
		Paused:    lipgloss.NewStyle().Bold(true).Reverse(true),
		GaugeFull: fg(c("#1a7f37", "#3fb950")),
		// The empty part of a gauge must read on a projector: a bucket at
		// 0.0/3 is not a blank.
		GaugeEmpty: fg(c("#a0a0a0", "#6a6a6a")),
		Bar:        fg(c("#0969da", "#58a6ff")),
	}
	s.Segment = [Cancelled + 1]lipgloss.Style{
		Waiting:     fg(c("#6b6b6b", "#8a8a8a")),
		FirstWait:   fg(c("#1a7f37", "#3fb950")),
		Primary:     fg(c("#1a7f37", "#3fb950")),
		Fallback:    fg(c("#0969da", "#58a6ff")),
		Skipped:     fg(c("#8a5a00", "#d29922")),
		Cooling:     fg(c("#8a5a00", "#d29922")),
		CircuitOpen: fg(c("#8a5a00", "#d29922")),
		Throttled:   fg(c("#bc4c00", "#f0883e")),
		RateLimited: fg(c("#8250df", "#bc8cff")),
		RetryWait:   fg(c("#6b6b6b", "#8a8a8a")),
		Failed:      fg(c("#b00020", "#ff6b6b")),
		TimedOut:    fg(c("#b00020", "#ff6b6b")),
		Cancelled:   fg(c("#6b6b6b", "#8a8a8a")),
	}
	for k, style := range s.Segment {
		s.segmentPaint[k] = paintOf(style)
	}
	s.dimPaint, s.boldPaint, s.errorPaint, s.warnPaint = paintOf(s.Dim), paintOf(s.Bold), paintOf(s.Error), paintOf(s.Warn)
	return s
}
