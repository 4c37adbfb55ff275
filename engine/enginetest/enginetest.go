// Package enginetest is the kit every test of the engine and its consumers
// shares: the simulated fleet in process as a backend, a fake wall clock, a
// runner that records a run, and golden files. It is for tests only; the
// product reaches the simulated AWS through the emulator and the SDK.
package enginetest

import (
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	// Registers -update, the flag Golden follows, exactly once for every
	// test binary, whether or not it also imports teatest.
	_ "github.com/charmbracelet/x/exp/golden"

	"spillway/engine"
	"spillway/engine/frontdoor"
	"spillway/engine/record"
	"spillway/engine/simaws/fleet"
	"spillway/scenarios"
)

// Epoch is the wall time every fake clock starts at.
var Epoch = time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)

// Simulated is the simulated fleet as the engine's Backend, LogSource and
// FaultInjector, in process: the fastest way to run a scenario in a test.
type Simulated struct {
	Fleet *fleet.Fleet
}

// NewSimulated builds the simulated fleet for s.
func NewSimulated(s *scenarios.Scenario, fileModels []scenarios.Model, seed uint64, epoch time.Time) *Simulated {
	return &Simulated{Fleet: fleet.New(s, fileModels, seed, epoch)}
}

// Instant is true: the fleet knows every answer, its latency and its logs
// at once.
func (s *Simulated) Instant() bool { return true }

// Invoke asks the fleet.
func (s *Simulated) Invoke(_ context.Context, at time.Time, c engine.Call) engine.Reply {
	r := s.Fleet.Invoke(at, fleet.Call{
		Account:      c.Account,
		SourceRegion: c.SourceRegion,
		ModelID:      c.ModelID,
		Operation:    c.Operation,
		Prompt:       scenarios.PromptOfTokens(c.Prompt, c.InputTokens),
		MaxTokens:    c.MaxTokens,
		Stream:       c.Stream,
	})
	reply := engine.Reply{
		RequestID:    r.RequestID,
		Text:         r.Text,
		Region:       r.Region,
		Latency:      r.Latency,
		InputTokens:  r.InputTokens,
		OutputTokens: r.OutputTokens,
	}
	if r.Err != nil {
		reply.Code, reply.Message, reply.RetryAfter = r.Err.Code, r.Err.Message, r.RetryAfter
	}
	if c.Stream && r.Err == nil {
		reply.FirstToken, reply.Streamed, reply.Broken = r.FirstToken, r.OutputTokens, r.Stream.Broken()
		reply.StallAfter, reply.StallAt, reply.Stall = r.Stream.StallAfter, r.StallAt(), r.Stream.Stall
	}
	return reply
}

// RegionCounts queries the fleet's logs as they stand at q.To.
func (s *Simulated) RegionCounts(_ context.Context, q engine.LogQuery) ([]engine.RegionCount, error) {
	from := q.From
	if q.Since.After(from) {
		from = q.Since
	}
	return s.Fleet.RegionCounts(fleet.Query{
		Account: q.Account, LogGroup: q.LogGroup, Models: q.Models, From: from, To: q.To,
	}, q.To)
}

// InjectFault makes the fleet show f in [from, to).
func (s *Simulated) InjectFault(_ context.Context, id int, f scenarios.Fault, from, to time.Time) error {
	s.Fleet.InjectFault(id, f, from, to)
	return nil
}

// EndFault ends fault id at at.
func (s *Simulated) EndFault(_ context.Context, id int, at time.Time) error {
	s.Fleet.EndFault(id, at)
	return nil
}

// Clock is a fake wall clock that advances by exactly what the engine
// waits for, so a paced run takes no wall time and the time it would have
// taken can be read off.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After moves the clock on by d and fires at once.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// Advance moves the clock on by d, as wall time passing outside the
// engine's waits.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Events collects every event of a run.
type Events struct {
	mu  sync.Mutex
	all []engine.Event
}

// Handle keeps ev.
func (c *Events) Handle(ev engine.Event) {
	c.mu.Lock()
	c.all = append(c.all, ev)
	c.mu.Unlock()
}

// All is every event so far.
func (c *Events) All() []engine.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]engine.Event(nil), c.all...)
}

// Of is the events of kind k so far.
func (c *Events) Of(k engine.Kind) []engine.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []engine.Event
	for _, ev := range c.all {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// Run is one engine wired to an event collector and a recorder.
type Run struct {
	Engine *engine.Engine
	Events *Events
	Record *record.Recorder
}

// NewRun wires a run of scenario name from f. Options left zero get the
// in-process fleet at opts.Seed, speed max and a fake clock at Epoch.
func NewRun(t testing.TB, f *scenarios.File, name string, opts engine.Options) Run {
	t.Helper()
	s, err := f.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Backend == nil {
		sim := NewSimulated(s, f.Models, opts.Seed, Epoch)
		opts.Backend, opts.Logs, opts.Faults = sim, sim, sim
	}
	if opts.Speed == 0 {
		opts.Speed = Unpaced
	}
	if opts.Clock == nil {
		opts.Clock = NewClock(Epoch)
	}
	e, err := engine.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := Run{Engine: e, Events: &Events{}, Record: record.New(record.Meta{Backend: "simulated"})}
	e.Subscribe(r.Events)
	e.Subscribe(r.Record)
	return r
}

// Unpaced is speed max.
var Unpaced = math.Inf(1)

// Do runs to the end and returns the summary.
func (r Run) Do(t testing.TB) record.Summary {
	t.Helper()
	if err := r.Engine.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r.Record.Summary()
}

// Send sends a control, failing the test if it is refused at once.
func (r Run) Send(t testing.TB, in engine.Intent) {
	t.Helper()
	if err := r.Engine.Controls().Send(in); err != nil {
		t.Fatal(err)
	}
}

// Load reads a scenario file, failing the test on error.
func Load(t testing.TB, path string) *scenarios.File {
	t.Helper()
	f, err := scenarios.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Parse reads scenario source, failing the test on error.
func Parse(t testing.TB, src string) *scenarios.File {
	t.Helper()
	f, err := scenarios.Parse("test.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Updating reports whether the test binary was run with -update.
func Updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// Golden compares got with the golden file at path, or rewrites the file
// under -update.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	if Updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs (go test -update rewrites it after a deliberate change):\n%s", path, got)
	}
}

// Door runs s as an open run, the way spillway gateway does, on the
// in-process fleet and the real clock at speed 20 (model latencies a
// twentieth of real ones; a fixed window is three seconds, which a burst
// sent at the start sits well inside), and returns its doors. sinks hear
// the run's events too. The run stops when the test ends.
func Door(t testing.TB, f *scenarios.File, s *scenarios.Scenario, sinks ...engine.Sink) *frontdoor.Door {
	t.Helper()
	sim := NewSimulated(s, f.Models, 42, Epoch)
	return DoorWith(t, s, engine.Options{Seed: 42, Speed: 20, Backend: sim, Logs: sim, Faults: sim}, sinks...)
}

// DoorWith is Door on the backend and speed opts give, such as a network
// backend of a test's own.
func DoorWith(t testing.TB, s *scenarios.Scenario, opts engine.Options, sinks ...engine.Sink) *frontdoor.Door {
	t.Helper()
	opts.Open = true
	e, err := engine.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	door, err := frontdoor.New(s, e.Controls())
	if err != nil {
		t.Fatal(err)
	}
	e.Subscribe(door)
	for _, sink := range sinks {
		e.Subscribe(sink)
	}
	Serve(t, e)
	return door
}

// Serve runs e, an open run, on a goroutine of its own until the test
// ends, and fails the test if the run ends on an error.
func Serve(t testing.TB, e *engine.Engine) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("the engine: %v", err)
		}
	})
}
