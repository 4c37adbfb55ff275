package tui

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/record"
	"spillway/engine/simaws/fleet"
	"spillway/scenarios"
)

// simRunner starts real engine runs on the in-process fleet, paced on the
// real clock, the way main's runner does on the emulator.
type simRunner struct {
	t     *testing.T
	file  *scenarios.File
	mu    sync.Mutex
	stops []func()
}

func newSimRunner(t *testing.T) *simRunner {
	r := &simRunner{t: t, file: builtinFile(t)}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, stop := range r.stops {
			stop()
		}
	})
	return r
}

func (r *simRunner) Scenarios() []*scenarios.Scenario { return r.file.Scenarios }

// Records: the flows here run scenarios; replays have their own tests.
func (r *simRunner) Records() []Record { return nil }

func (r *simRunner) Replay(path string) (*Run, error) { return nil, errors.New("no replays here") }

func (r *simRunner) Start(name string, rpm map[engine.BucketID]scenarios.RPM, speed float64) (*Run, error) {
	s, err := r.file.Lookup(name)
	if err != nil {
		return nil, err
	}
	sim := enginetest.NewSimulated(s, r.file.Models, 42, time.Now())
	e, err := engine.New(s, engine.Options{Seed: 42, Speed: speed, Backend: sim, Logs: sim, Faults: sim, RPM: rpm})
	if err != nil {
		return nil, err
	}
	feed, rec := &Feed{}, record.New(record.Meta{Backend: "simulated"})
	e.Subscribe(feed)
	e.Subscribe(rec)
	r.mu.Lock()
	for _, stop := range r.stops { // one run at a time, as in main
		stop()
	}
	ctx, cancel := contextWithCancel(r.t)
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	r.stops = []func(){func() { cancel(); <-done }}
	r.mu.Unlock()
	return &Run{Feed: feed, Controls: e.Controls(), Export: rec.WriteFile,
		Options: Options{Scenario: s, Badge: "SIMULATED", Backend: "in-process fleet", Seed: 42, Speed: speed,
			FaultOptions: fleet.FaultOptions(s)}}, nil
}

// probeMsg asks the program for the screen as a person sees it. It is
// answered from inside Update, on the program's goroutine, so reading the
// screen never races with the program.
type probeMsg chan string

// probed wraps the dashboard so tests can read its screen.
type probed struct{ *Model }

func (p probed) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if ch, ok := msg.(probeMsg); ok {
		ch <- ansi.Strip(p.Screen())
		return p, nil
	}
	_, cmd := p.Model.Update(msg)
	return p, cmd
}

// flow drives a dashboard through a real Bubble Tea program.
type flow struct {
	t  *testing.T
	tm *teatest.TestModel
}

func startFlow(t *testing.T, name string, speed float64, session Session) *flow {
	runner := newSimRunner(t)
	session.Runner = runner
	run, err := runner.Start(name, nil, speed)
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, probed{New(run, session)}, teatest.WithInitialTermSize(160, 48))
	t.Cleanup(func() { tm.Quit(); tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second)) })
	return &flow{t: t, tm: tm}
}

func (f *flow) screen() string {
	ch := make(probeMsg, 1)
	f.tm.Send(ch)
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		f.t.Fatal("the dashboard did not answer within 5 s")
		return ""
	}
}

// waitFor polls the screen until it matches, or fails after 10 s.
func (f *flow) waitFor(what string, ok func(screen string) bool) string {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := f.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("waited 10 s for %s; the screen is:\n%s", what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *flow) key(codes ...rune) {
	for _, c := range codes {
		f.tm.Send(tea.KeyPressMsg{Code: c, Text: keyText(c)})
	}
}

func keyText(c rune) string {
	if c < tea.KeyExtended && c >= ' ' {
		return string(c)
	}
	return ""
}

func TestFlowTuneAnRPMAndSeeTheGaugeChange(t *testing.T) {
	f := startFlow(t, "fallback", 1, Session{})
	f.key(tea.KeyDown, '+')
	gauge := regexp.MustCompile(`▶ deployment/primary\s+\S+\s+[\d.]+/4\s+4 fixed`)
	f.waitFor("the primary's gauge at 4 RPM", gauge.MatchString)
	f.key(']')
	f.waitFor("the primary's gauge at 14 RPM", regexp.MustCompile(`deployment/primary\s+\S+\s+[\d.]+/14\s+14 fixed`).MatchString)
}

var elapsedRE = regexp.MustCompile(`speed \S+ · ([\d.]+)s · seed`)

func elapsedOn(screen string) string {
	if m := elapsedRE.FindStringSubmatch(screen); m != nil {
		return m[1]
	}
	return ""
}

func TestFlowPauseAndResume(t *testing.T) {
	f := startFlow(t, "fallback", 1, Session{})
	f.waitFor("the clock to start", func(s string) bool { return elapsedOn(s) != "" && elapsedOn(s) != "0.0" })
	f.key(' ')
	f.waitFor("PAUSED in the header", func(s string) bool { return strings.Contains(s, "PAUSED") })
	// The engine takes the pause on its own goroutine, and a paused
	// dashboard redraws at 4 fps: let both settle, then watch the clock
	// over more than two frames. A clock that still ran would move 0.6 s.
	time.Sleep(300 * time.Millisecond)
	at := elapsedOn(f.screen())
	time.Sleep(600 * time.Millisecond)
	if now := elapsedOn(f.screen()); now != at {
		t.Fatalf("paused at %ss, but the clock shows %ss later", at, now)
	}
	f.key(' ')
	f.waitFor("the clock to move again", func(s string) bool {
		return !strings.Contains(s, "PAUSED") && elapsedOn(s) != at
	})
}

func TestFlowPickAnotherScenario(t *testing.T) {
	f := startFlow(t, "fallback", 20, Session{})
	f.key('s')
	list := f.waitFor("the picker", func(s string) bool { return strings.Contains(s, "Scenarios · enter runs") })
	for _, s := range builtinFile(t).Scenarios {
		if !strings.Contains(list, s.Name) || !strings.Contains(list, s.Title) {
			t.Fatalf("picker lacks %s — %s:\n%s", s.Name, s.Title, list)
		}
	}
	f.key(tea.KeyDown, tea.KeyEnter) // fallback → load-balancing
	f.waitFor("load-balancing on screen", func(s string) bool {
		return strings.HasPrefix(s, "Spillway · load-balancing") && strings.Contains(s, "deployment/primary-b")
	})
}

func TestFlowExportWritesTheRunSoFar(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	f := startFlow(t, "fallback", 1, Session{ExportPath: path})
	f.waitFor("a request", func(s string) bool { return strings.Contains(s, "#1 app") })
	f.key('e')
	f.waitFor("the export notice", func(s string) bool { return strings.Contains(s, "exported") && strings.Contains(s, path) })
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Scenario   string            `json:"scenario"`
		InProgress bool              `json:"in_progress"`
		Requests   []json.RawMessage `json:"requests"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	if doc.Scenario != "fallback" || !doc.InProgress || len(doc.Requests) == 0 {
		t.Fatalf("export: scenario %q, in_progress %v, %d requests", doc.Scenario, doc.InProgress, len(doc.Requests))
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(t.Context())
}

func TestFlowToggleARegionOutageFromTheFaultMenu(t *testing.T) {
	f := startFlow(t, "tuning", 20, Session{})
	f.key('f')
	menu := f.waitFor("the fault menu", func(s string) bool { return strings.Contains(s, "Faults · enter starts or stops") })
	for _, want := range []string{"region-outage us-east-1", "region-outage us-east-2", "region-outage us-west-2",
		"throttle default 50%", "quota default → 2 RPM", "latency ×3", "errors 20% InternalServerException"} {
		if !strings.Contains(menu, want) {
			t.Fatalf("fault menu lacks %q:\n%s", want, menu)
		}
	}
	f.key(tea.KeyDown, tea.KeyEnter) // region-outage us-east-2
	f.waitFor("the outage on in the menu", func(s string) bool { return strings.Contains(s, "[on] region-outage us-east-2") })
	f.key(tea.KeyEscape)
	f.waitFor("the outage in the header", func(s string) bool {
		return regexp.MustCompile(`FAULTS: region-outage us-east-2 \(since [\d.]+s\)`).MatchString(s)
	})
	f.key('f', tea.KeyEnter) // the cursor is still on it: stop it
	f.waitFor("the outage off again", func(s string) bool {
		return strings.Contains(s, "[ ]  region-outage us-east-2") && !strings.Contains(s, "FAULTS:")
	})
}

func TestFlowChangeATenantsRateLive(t *testing.T) {
	f := startFlow(t, "tuning", 1, Session{})
	f.waitFor("web's rate", func(s string) bool { return regexp.MustCompile(`tenant/web\s+40/min`).MatchString(s) })
	f.key('}') // tenant/web is selected first
	f.waitFor("web at 44 a minute", func(s string) bool {
		return strings.Contains(s, "tenant/web → 44 requests a minute") && regexp.MustCompile(`tenant/web\s+44/min`).MatchString(s)
	})
	f.key(tea.KeyDown, tea.KeyDown, '}') // deployment/primary-a has no rate
	f.waitFor("the hint for a deployment", func(s string) bool { return strings.Contains(s, "has no arrival rate to tune") })
}

// The same keys tune a TPM bucket once it is selected, a thousand tokens a
// press and ten thousand with ], and the gauge shows the new limit.
func TestFlowTuneATPMAndSeeTheGaugeChange(t *testing.T) {
	f := startFlow(t, "tpm-fallback", 1, Session{})
	f.key(tea.KeyDown, tea.KeyDown, '+') // tenant/app → deployment/primary → deployment/primary/tpm
	f.waitFor("the primary's TPM at 21000", regexp.MustCompile(`▶ dep(loyment)?/primary/tpm\s.*/21k\s+21000 \(reserve\)`).MatchString)
	f.key(']')
	f.waitFor("the primary's TPM at 31000", regexp.MustCompile(`dep(loyment)?/primary/tpm\s.*/31k\s+31000 \(reserve\)`).MatchString)
}
