package tui

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"spillway/engine"
	"spillway/engine/enginetest"
)

// screenSizes are the sizes every screen golden is drawn at: the smallest
// common terminal, a laptop's and a presenter's full screen.
var screenSizes = [][2]int{{80, 24}, {120, 36}, {160, 48}}

// frozen serves one snapshot, as a run paused at that moment would.
type frozen struct{ snap engine.Snapshot }

func (f frozen) Snapshot() engine.Snapshot { return f.snap }

func (f frozen) Fresh(ctx context.Context) (engine.Snapshot, error) { return f.snap, nil }

func (f frozen) Send(engine.Intent) error { return engine.ErrRunOver }

// recordedUntil runs a built-in scenario and keeps its events up to until,
// with the engine's snapshot of that moment, so a golden shows the run
// mid-way as the dashboard would have: clock, gauges and lanes agreeing.
func recordedUntil(t *testing.T, name string, until time.Duration) ([]engine.Event, Controls) {
	t.Helper()
	f := builtinFile(t)
	s, err := f.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	sim := enginetest.NewSimulated(s, f.Models, 42, enginetest.Epoch)
	e, err := engine.New(s, engine.Options{Seed: 42, Speed: math.Inf(1), Backend: sim, Logs: sim, Faults: sim, Clock: enginetest.NewClock(enginetest.Epoch)})
	if err != nil {
		t.Fatal(err)
	}
	if until == 0 {
		until = math.MaxInt64
	}
	var events []engine.Event
	var snap engine.Snapshot
	cut := false
	e.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if cut {
			return
		}
		// Asking on every event has the loop publish after every step, so
		// the one in hand when the cut comes is of the step before it.
		latest := e.Controls().Snapshot()
		if ev.At > until {
			cut, snap = true, latest
			return
		}
		events = append(events, ev)
	}))
	if err := e.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !cut {
		snap = e.Controls().Snapshot()
	}
	snap.Speed = 20
	return events, frozen{snap}
}

// TestGoldenScreens draws the screens a presenter shows, at every size:
// fallback at its end, throttle-storm mid-run with its skips, region-outage
// during and after the outage, noisy-neighbour with its live figures, and
// the inspector on a request that fell back.
func TestGoldenScreens(t *testing.T) {
	type screen struct {
		name     string
		scenario string
		until    time.Duration // 0: the whole run
		keys     string        // pressed before the golden is drawn
		check    func(t *testing.T, plain string, w, h int)
	}
	contains := func(wants ...string) func(t *testing.T, plain string, w, h int) {
		return func(t *testing.T, plain string, w, h int) {
			for _, want := range wants {
				if !strings.Contains(plain, want) {
					t.Errorf("%d×%d lacks %q:\n%s", w, h, want, plain)
				}
			}
		}
	}
	for _, sc := range []screen{
		{name: "fallback_end", scenario: "fallback", check: func(t *testing.T, plain string, w, h int) {
			// A short run fits whole: the three primary lanes the demo is
			// about stay in view.
			for i := 1; i <= 10; i++ {
				if !regexp.MustCompile(fmt.Sprintf(`(?m)^#%d app `, i)).MatchString(plain) {
					t.Errorf("%d×%d: lane #%d is not on screen:\n%s", w, h, i, plain)
				}
			}
			contains("1–10 of 10", "primary at 3 RPM → fallback", "done")(t, plain, w, h)
		}},
		{name: "throttle_storm_mid", scenario: "throttle-storm", until: 50 * time.Second,
			check: func(t *testing.T, plain string, w, h int) {
				if !regexp.MustCompile(`(?m)^#\d+ app .*[⊘·○]▓`).MatchString(plain) {
					t.Errorf("%d×%d: no lane shows its skips before the fallback:\n%s", w, h, plain)
				}
				contains("FAULTS: throttle", "cooling down → fallback")(t, plain, w, h)
			}},
		{name: "region_outage_during", scenario: "region-outage", until: 115 * time.Second,
			check: contains("DOWN since 1m", "bars: last 1m", "━")},
		{name: "region_outage_after", scenario: "region-outage", check: contains("bars: whole run", "down 1m–2m")},
		{name: "noisy_neighbour_figures", scenario: "noisy-neighbour", until: 90 * time.Second,
			check: func(t *testing.T, plain string, w, h int) {
				if !regexp.MustCompile(`tenant/A\s+\d+\.\d%`).MatchString(plain) || !regexp.MustCompile(`tenant/B\s+100\.0%`).MatchString(plain) {
					t.Errorf("%d×%d: no live success %% per tenant:\n%s", w, h, plain)
				}
			}},
		{name: "fallback_inspector", scenario: "fallback", keys: "i",
			check: contains("Request #10 · tenant app", "Why: primary at 3 RPM → fallback", "skipped", "succeeded")},
		{name: "tpm_fallback_mid", scenario: "tpm-fallback", until: 100 * time.Second,
			check: func(t *testing.T, plain string, w, h int) {
				// The TPM gauge beside the RPM gauge, named by how it counts;
				// lanes say the primary was out of tokens, and what each took.
				if !regexp.MustCompile(`primary at 20000 (TPM|…)`).MatchString(plain) {
					t.Errorf("%d×%d: no lane says the primary was at its TPM:\n%s", w, h, plain)
				}
				if strings.Contains(plain, "Buckets") && !regexp.MustCompile(`primary/tpm .* 20000 \(reserve\)`).MatchString(plain) {
					t.Errorf("%d×%d: the TPM bucket does not show its limit and how it counts:\n%s", w, h, plain)
				}
				if !regexp.MustCompile(`1500→\d+ tok`).MatchString(plain) {
					t.Errorf("%d×%d: no lane shows its tokens:\n%s", w, h, plain)
				}
			}},
		{name: "stream_cut_mid", scenario: "stream-cut", until: 70 * time.Second,
			check: func(t *testing.T, plain string, w, h int) {
				// The fill changes at the first token, and a cut says how
				// many tokens the client had seen, or restarts.
				if !strings.Contains(plain, "▒") {
					t.Errorf("%d×%d: no lane shows the wait for its first token:\n%s", w, h, plain)
				}
				if !regexp.MustCompile(`stream cut after 40 tokens|stream cut …|stream …`).MatchString(plain) {
					t.Errorf("%d×%d: no lane says its stream was cut:\n%s", w, h, plain)
				}
			}},
		{name: "token_quota_end", scenario: "token-quota", keys: "i",
			check: contains("throttled on tokens", "Tokens: 1000 in · max_tokens")},
	} {
		events, ctl := recordedUntil(t, sc.scenario, sc.until)
		s, err := builtinFile(t).Lookup(sc.scenario)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range screenSizes {
			w, h := size[0], size[1]
			m := dashboard(t, events, ctl, s, w, h)
			m.card = "" // the results card has goldens of its own
			keys := sc.keys
			if sc.name == "noisy_neighbour_figures" && !m.layout().has(panelFigures) {
				keys = "v" // where the figures have no place of their own
			}
			for _, k := range keys {
				m.Update(tea.KeyPressMsg{Code: k, Text: string(k)})
			}
			screen := m.Screen()
			checkSize(t, screen, w, h)
			sc.check(t, ansi.Strip(screen), w, h)
			golden(t, fmt.Sprintf("%s_%03dx%03d", sc.name, w, h), screen)
		}
	}
}

// cutRE finds "…" right after a letter or a digit: a number or a name cut
// short. A cut by fit comes after a whole word and a space, and a masked
// account id starts with it.
var cutRE = regexp.MustCompile(`[\p{L}\p{N}]…`)

// No golden screen cuts a number or an identifier: layouts drop whole
// columns and shorten labels instead.
func TestNoGoldenCutsANumberOrName(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden"))
	if err != nil || len(files) < 20 {
		t.Fatalf("%d goldens (%v); the screens should have been drawn", len(files), err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if loc := cutRE.FindStringIndex(line); loc != nil {
				t.Errorf("%s:%d: cut at %q: %q", file, i+1, line[max(0, loc[0]-20):loc[1]], line)
			}
		}
	}
}

// The scan itself finds the cuts the review found on the screen.
func TestTheCutScanFindsCuts(t *testing.T) {
	for _, cut := range []string{"deployment/pr…", "failed 0…", "to …/spillw…", "admitte…"} {
		if !cutRE.MatchString(cut) {
			t.Errorf("%q is a cut the scan misses", cut)
		}
	}
	for _, whole := range []string{"default …6782", "primary at 3 RPM …"} {
		if cutRE.MatchString(whole) {
			t.Errorf("%q is not a cut", whole)
		}
	}
}
