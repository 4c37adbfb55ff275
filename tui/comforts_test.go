package tui

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"spillway/engine"
	"spillway/scenarios"
)

func press(m *Model, keys ...string) {
	for _, k := range keys {
		switch k {
		case "esc":
			m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
		case "end":
			m.Update(tea.KeyPressMsg{Code: tea.KeyEnd})
		default:
			r := []rune(k)[0]
			m.Update(tea.KeyPressMsg{Code: r, Text: k})
		}
	}
}

// The lanes' axis slides with the run: it spans a minute or more, picked
// to hold the lanes in view; z and Z zoom it by steps, past the longest to
// the whole run, and End fits it to the lanes again. The panel says which.
func TestTheLanesTimeAxisSlidesAndZooms(t *testing.T) {
	events, ctl := recordedUntil(t, "region-outage", 150*time.Second)
	s, _ := builtinFile(t).Lookup("region-outage")
	m := dashboard(t, events, ctl, s, 120, 36)
	title := func() string {
		return strings.SplitN(ansi.Strip(m.lanesView(m.layout().lanesW, m.layout().lanesH)), "\n", 2)[0]
	}
	if got := title(); !strings.HasSuffix(strings.TrimSpace(got), "last 1m") || !strings.Contains(got, "1m30s") || strings.Contains(got, " 0s ") {
		t.Fatalf("at 150 s the axis should show the last minute, from 90 s: %q", got)
	}
	press(m, "z")
	if got := title(); !strings.HasSuffix(strings.TrimSpace(got), "last 30s") || !strings.Contains(m.notice, "last 30s") {
		t.Fatalf("after z: %q, notice %q", got, m.notice)
	}
	press(m, "Z", "Z", "Z", "Z", "Z", "Z", "Z", "Z", "Z", "Z", "Z", "Z")
	if got := title(); !strings.HasSuffix(strings.TrimSpace(got), "whole run") || !strings.Contains(got, " 0s ") {
		t.Fatalf("after Z to the end the axis should run from 0: %q", got)
	}
	// The whole run shows the outage, from 60 s to 120 s, as a band.
	if strings.Count(title(), "━") < 10 {
		t.Fatalf("no fault band on the whole run's axis: %q", title())
	}
	press(m, "end")
	if got := title(); !strings.HasSuffix(strings.TrimSpace(got), "last 1m") && !strings.HasSuffix(strings.TrimSpace(got), "last 2m") {
		t.Fatalf("after End the window should fit the lanes in view again: %q", got)
	}
}

// A bar keeps its width as the run goes on: the same request is drawn as
// wide at 100 s as at 60 s, where an axis from 0 to now would halve it.
func TestABarKeepsItsWidthAsTheRunGoesOn(t *testing.T) {
	s, _ := builtinFile(t).Lookup("region-outage")
	width := func(until time.Duration) int {
		events, ctl := recordedUntil(t, "region-outage", until)
		m := dashboard(t, events, ctl, s, 120, 36)
		m.lanes.follow, m.lanes.scrollEnd = false, 28 // keep #28 in view
		for _, line := range strings.Split(ansi.Strip(m.lanesView(120, 30)), "\n") {
			if strings.HasPrefix(line, "#20 ") {
				return strings.Count(line, "█")
			}
		}
		t.Fatalf("#20 is not in view at %s", until)
		return 0
	}
	if at60, at100 := width(60*time.Second), width(100*time.Second); at60 != at100 || at60 == 0 {
		t.Fatalf("#20 is %d cells at 60 s and %d at 100 s; it should keep its width", at60, at100)
	}
}

// m gives one panel the whole body, the next one on each press, and esc
// gives every panel its place back.
func TestMMaximisesOnePanelAtATime(t *testing.T) {
	events, e, s := recorded(t, "throttle-storm")
	m := dashboard(t, events, atSpeed20{e.Controls()}, s, 80, 24)
	m.card = ""
	press(m, "m")
	plain := ansi.Strip(m.Screen())
	if strings.Contains(plain, "Buckets ·") || strings.Count(plain, "\n#") < 15 || !strings.Contains(m.notice, "lanes maximised") {
		t.Fatalf("m should give the lanes the whole body:\n%s", plain)
	}
	press(m, "m", "m")
	plain = ansi.Strip(m.Screen())
	if !strings.Contains(plain, "Live figures") || strings.Contains(plain, "Requests ") || strings.Contains(plain, "Buckets ·") {
		t.Fatalf("the third m should show the live figures alone:\n%s", plain)
	}
	press(m, "m", "m")
	if plain = ansi.Strip(m.Screen()); !strings.Contains(plain, "Trends ·") || !strings.Contains(plain, "▀") {
		t.Fatalf("the fifth m should show the trends alone, with the storm's band:\n%s", plain)
	}
	checkSize(t, m.Screen(), 80, 24)
	press(m, "esc")
	plain = ansi.Strip(m.Screen())
	if !strings.Contains(plain, "Requests ") || !strings.Contains(plain, "Buckets ·") || !strings.Contains(plain, "Regions ·") {
		t.Fatalf("esc should bring every panel back:\n%s", plain)
	}
}

// c switches to the high-contrast theme and back: nothing dim is left in
// it, and the text on screen stays the same.
func TestCSwitchesTheHighContrastTheme(t *testing.T) {
	events, e, s := recorded(t, "fallback")
	m := dashboard(t, events, atSpeed20{e.Controls()}, s, 120, 36)
	m.card = ""
	before := m.Screen()
	press(m, "c")
	after := m.Screen()
	if !strings.Contains(m.notice, "high-contrast theme on") {
		t.Fatalf("notice %q", m.notice)
	}
	if m.styles.Dim.GetForeground() == NewStyles(true).Dim.GetForeground() || !m.styles.Dim.GetBold() {
		t.Fatalf("the high-contrast theme keeps the normal dim style")
	}
	if before == after {
		t.Fatal("c changed nothing on screen")
	}
	stripNotice := func(s string) string { return strings.Join(strings.Split(ansi.Strip(s), "\n")[:35], "\n") }
	if stripNotice(before) != stripNotice(after) {
		t.Fatal("the theme changed the text, not only its colours")
	}
	press(m, "c")
	if m.styles.Dim.GetForeground() != NewStyles(true).Dim.GetForeground() {
		t.Fatal("a second c should bring the normal theme back")
	}
}

// The legend names only the outcomes this run has drawn.
func TestTheLegendNamesOnlyWhatOccurred(t *testing.T) {
	for _, c := range []struct {
		scenario   string
		has, hasNo []string
	}{
		{"fallback", []string{"primary", "fallback", "skipped"}, []string{"throttled", "cooldown", "rate-limited", "failed"}},
		{"throttle-storm", []string{"primary", "fallback", "cooldown", "throttled"}, []string{"rate-limited", "failed"}},
	} {
		events, e, s := recorded(t, c.scenario)
		m := dashboard(t, events, atSpeed20{e.Controls()}, s, 160, 48)
		key := strings.Join(legend(m.styles, &m.state.seen, 200), " ")
		for _, want := range c.has {
			if !strings.Contains(key, want) {
				t.Errorf("%s: the legend lacks %q: %q", c.scenario, want, ansi.Strip(key))
			}
		}
		for _, not := range c.hasNo {
			if strings.Contains(key, not) {
				t.Errorf("%s: the legend names %q, which never happened: %q", c.scenario, not, ansi.Strip(key))
			}
		}
	}
}

// A fixed window says when it resets, and a full gauge right after a reset
// says that is the new window.
func TestAFixedWindowSaysWhenItResets(t *testing.T) {
	s, _ := builtinFile(t).Lookup("noisy-neighbour")
	for _, c := range []struct {
		at   time.Duration
		want *regexp.Regexp
	}{
		{90 * time.Second, regexp.MustCompile(`tenant/A .* 0\.0/30\s+30 fixed-window resets in 30\.0s ok \d+\s+rej \d+`)},
		// The run's last request is at 120 s, right as the window resets.
		{121 * time.Second, regexp.MustCompile(`tenant/A .*████ 30\.0/30\s+30 fixed-window reset 0\.0s ago ok \d+\s+rej 180`)},
	} {
		events, ctl := recordedUntil(t, "noisy-neighbour", c.at)
		m := dashboard(t, events, ctl, s, 120, 36)
		if b := ansi.Strip(m.bucketsView(120, 6)); !c.want.MatchString(b) {
			t.Errorf("at %s: %s not in\n%s", c.at, c.want, b)
		}
	}
}

// An export's path is shown whole, even where it is longer than a line:
// the notice takes the lines it needs.
func TestTheExportPathIsShownWhole(t *testing.T) {
	events, e, s := recorded(t, "fallback")
	dir := filepath.Join(t.TempDir(), "a-directory-with-a-long-name", "and-another-one-below-it")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "spillway-fallback-20261201-120000.json")
	m := dashboard(t, events, atSpeed20{e.Controls()}, s, 80, 24)
	m.card = ""
	m.session.ExportPath = path
	m.run.Export = func(p string) error { return os.WriteFile(p, []byte("{}"), 0o644) }
	cmd := m.key(tea.KeyPressMsg{Code: 'e', Text: "e"})
	m.Update(cmd())
	screen := m.Screen()
	checkSize(t, screen, 80, 24)
	lines := strings.Split(ansi.Strip(screen), "\n")
	var footer strings.Builder
	for _, line := range lines[len(lines)-m.footerHeight():] {
		footer.WriteString(strings.TrimRight(line, " "))
	}
	if len(path) <= 80 || !strings.Contains(footer.String(), "exported 10 requests to "+path) {
		t.Fatalf("the path %q is not whole in the footer:\n%s", path, strings.Join(lines, "\n"))
	}
}

// Where the figures have a place of their own but the trends have none, v
// shows the trends in the buckets' place, never a panel twice; on a window
// where both have places it gives the buckets back.
func TestVNeverShowsAPanelTwice(t *testing.T) {
	events, e, s := recorded(t, "fallback")
	m := dashboard(t, events, atSpeed20{e.Controls()}, s, 160, 30)
	m.card = ""
	if l := m.layout(); !l.has(panelFigures) || l.has(panelTrends) {
		t.Fatalf("at 160×30 the figures should have a place and the trends none: %+v", l)
	}
	press(m, "v")
	plain := ansi.Strip(m.Screen())
	if strings.Count(plain, "Live figures") != 1 || !strings.Contains(plain, "Trends ·") {
		t.Fatalf("v at 160×30 should show the trends once, beside the figures:\n%s", plain)
	}
	checkSize(t, m.Screen(), 160, 30)
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	press(m, "v")
	plain = ansi.Strip(m.Screen())
	if !strings.Contains(plain, "Buckets ·") || strings.Count(plain, "Trends ·") != 1 || !strings.Contains(m.notice, "every panel has a place") {
		t.Fatalf("v where every panel has a place should bring the buckets back:\n%s", plain)
	}
}

// A Region that went down twice shows its latest outage, the same on
// every frame.
func TestARegionShowsItsLatestOutage(t *testing.T) {
	events, e, s := recorded(t, "region-outage")
	outage := scenarios.Fault{Kind: scenarios.RegionOutage, Region: "us-east-2"}
	end := events[len(events)-1].At
	var extra []engine.Event
	for id, span := range [][2]time.Duration{{150 * time.Second, 160 * time.Second}, {170 * time.Second, 180 * time.Second}} {
		info := &engine.FaultInfo{ID: 100 + id, Fault: outage}
		extra = append(extra, engine.Event{Kind: engine.FaultStarted, At: span[0], Fault: info}, engine.Event{Kind: engine.FaultEnded, At: span[1], Fault: info})
	}
	all := append(append([]engine.Event(nil), events[:len(events)-1]...), extra...)
	all = append(all, events[len(events)-1])
	if end < 180*time.Second {
		t.Fatalf("the run ends at %s, before the outages added", end)
	}
	m := dashboard(t, all, atSpeed20{e.Controls()}, s, 80, 24)
	first := ansi.Strip(m.regions(80, 5))
	if !strings.Contains(first, "down 2m50s–3m") {
		t.Fatalf("us-east-2 should show its latest outage:\n%s", first)
	}
	for range 20 {
		if again := ansi.Strip(m.regions(80, 5)); again != first {
			t.Fatalf("the histogram changed between frames:\n%s\nthen\n%s", first, again)
		}
	}
}

// The header never runs past the window, even at the smallest size with
// the longest badge and a pause.
func TestTheHeaderFitsTheSmallestWindow(t *testing.T) {
	events, e, s := recorded(t, "region-outage")
	m := dashboard(t, events, atSpeed20{e.Controls()}, s, 60, 16)
	m.card = ""
	m.run.Badge, m.snap.Paused = "EMULATED ENDPOINT", true
	header := m.header(60)
	checkSize(t, header, 60, 3)
	if plain := ansi.Strip(header); !strings.Contains(plain, "200.0s") || !strings.Contains(plain, "PAUSED") {
		t.Fatalf("the clock and PAUSED must stay:\n%s", plain)
	}
}

// Typing an RPM shows its prompt even while an export's path is on show.
func TestThePromptComesBeforeALongNotice(t *testing.T) {
	events, e, s := recorded(t, "fallback")
	m := dashboard(t, events, atSpeed20{e.Controls()}, s, 80, 24)
	m.card = ""
	m.noticePath = "/a/very/long/path/that/does/not/fit/in/two/thirds/of/a/line/spillway-fallback.json"
	m.notice = "exported 10 requests to " + m.noticePath
	if m.footerHeight() < 2 {
		t.Fatal("the long notice should take two lines")
	}
	press(m, "=", "7")
	if footer := ansi.Strip(m.footer()); !strings.Contains(footer, "RPM for tenant/app: 7") || m.footerHeight() != 1 {
		t.Fatalf("the prompt is hidden: %q", footer)
	}
}

// Z steps up from the window the axis picks by itself, a minute at least,
// even before the lanes were first drawn.
func TestZoomStepsFromTheAutomaticWindow(t *testing.T) {
	m := New(&Run{Feed: &Feed{}, Controls: &fakeControls{}, Options: testOptions(builtinScenario(t, "fallback"))}, Session{})
	press(m, "Z")
	if !strings.Contains(m.notice, "last 2m") {
		t.Fatalf("Z before any frame: %q, want the last 2m", m.notice)
	}
}

func builtinScenario(t *testing.T, name string) *scenarios.Scenario {
	t.Helper()
	s, err := builtinFile(t).Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
