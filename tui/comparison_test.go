package tui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"spillway/engine"
	"spillway/scenarios"
)

// recordsRunner offers recorded runs to C and nothing else.
type recordsRunner struct{ records []Record }

func (r recordsRunner) Scenarios() []*scenarios.Scenario { return nil }
func (r recordsRunner) Start(string, map[engine.BucketID]scenarios.RPM, float64) (*Run, error) {
	return nil, errors.New("not here")
}
func (r recordsRunner) Records() []Record           { return r.records }
func (r recordsRunner) Replay(string) (*Run, error) { return nil, errors.New("not here") }

// C lists the recorded runs; enter asks the run to compare itself with the
// chosen one, in the background; the comparison then scrolls with ↓ and
// PgDn, says which lines are in view, and esc goes back to the panels.
func TestCComparesTheRunWithAChosenRecord(t *testing.T) {
	events, ctl := recordedUntil(t, "tuning", 150*time.Second)
	s, _ := builtinFile(t).Lookup("tuning")
	m := dashboard(t, events, ctl, s, 80, 24)
	recorded := time.Date(2026, 12, 1, 14, 5, 0, 0, time.Local)
	m.session.Runner = recordsRunner{records: []Record{
		{Path: "/runs/after.json", Scenario: "tuning", Recorded: recorded.Add(time.Hour)},
		{Path: "/runs/before.json", Scenario: "tuning", Recorded: recorded},
	}}
	var asked string
	var text strings.Builder
	for i := range 40 {
		fmt.Fprintf(&text, "  line %d of the comparison\n", i+1)
	}
	m.run.Compare = func(earlier string) (string, error) { asked = earlier; return text.String(), nil }

	press(m, "C")
	screen := ansi.Strip(m.Screen())
	if !strings.Contains(screen, "▶ ▷ after.json  tuning, recorded 2026-12-01 15:05:00") || !strings.Contains(screen, "before.json") {
		t.Fatalf("C should list the recorded runs, newest first:\n%s", screen)
	}
	press(m, "j")
	_, cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("enter should compare in the background")
	}
	m.Update(cmd())
	if asked != "/runs/before.json" {
		t.Fatalf("compared with %q, want the chosen before.json", asked)
	}
	golden(t, "comparison-80x24", m.Screen())
	checkSize(t, m.Screen(), 80, 24)
	screen = ansi.Strip(m.Screen())
	if !strings.Contains(screen, "Comparison · A before.json · B this run at") || !strings.Contains(screen, "line 1 of") ||
		!strings.Contains(screen, "lines 1–") {
		t.Fatalf("the comparison's first lines and where they are:\n%s", screen)
	}
	press(m, "q") // q closes the comparison; it does not quit
	if m.Quit || m.compare.open() {
		t.Fatalf("q in the comparison should only close it: quit %v, open %v", m.Quit, m.compare.open())
	}
	press(m, "C", "j")
	_, cmd = m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	m.Update(cmd())
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgDown})
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgDown})
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgDown})
	screen = ansi.Strip(m.Screen())
	if !strings.Contains(screen, "line 40 of") || strings.Contains(screen, "line 1 of") || !strings.Contains(screen, "of 40 ·") {
		t.Fatalf("PgDn should scroll to the end and no further:\n%s", screen)
	}
	press(m, "esc")
	if m.compare.open() || !strings.Contains(ansi.Strip(m.Screen()), "Requests") {
		t.Fatalf("esc should go back to the panels:\n%s", ansi.Strip(m.Screen()))
	}
}

// Without records C says how to make one; a failed comparison says why.
func TestCSaysWhatIsMissing(t *testing.T) {
	events, ctl := recordedUntil(t, "tuning", 60*time.Second)
	s, _ := builtinFile(t).Lookup("tuning")
	m := dashboard(t, events, ctl, s, 120, 36)
	press(m, "C")
	if !strings.Contains(m.notice, "cannot be compared") {
		t.Fatalf("a run without Compare: notice %q", m.notice)
	}
	m.run.Compare = func(string) (string, error) { return "", errors.New("/runs/x.json is cut short") }
	m.session.Runner = recordsRunner{}
	press(m, "C")
	if screen := ansi.Strip(m.Screen()); !strings.Contains(screen, "No recorded runs here. e exports this run") {
		t.Fatalf("an empty list should say how to get a record:\n%s", screen)
	}
	press(m, "esc")
	m.session.Runner = recordsRunner{records: []Record{{Path: "/runs/x.json", Scenario: "tuning"}}}
	press(m, "C")
	_, cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	m.Update(cmd())
	if m.compare.open() || !strings.Contains(m.notice, "could not compare: /runs/x.json is cut short") {
		t.Fatalf("a failed comparison: open %v, notice %q", m.compare.open(), m.notice)
	}
}
