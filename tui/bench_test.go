package tui

import (
	"fmt"
	"math"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/session"
	"spillway/scenarios"
)

// steadyFile is a load-balancing gateway under a steady stream of n
// requests, 20 ms apart, with budget to spill over into.
func steadyFile(tb testing.TB, n int) *scenarios.File {
	tb.Helper()
	src := fmt.Sprintf(`
default = "steady"
[[scenario]]
name = "steady"
title = "Steady load over a shuffled pair with overflow"
description = "Benchmark load."
  [[scenario.account]]
  name = "default"
  [[scenario.deployment]]
  name = "primary-a"
  model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = 600
  [[scenario.deployment]]
  name = "primary-b"
  model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
  rpm = 600
  [[scenario.deployment]]
  name = "overflow"
  model = "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
  rpm = 3000
  [[scenario.group]]
  name = "primaries"
  strategy = "shuffle"
  deployments = ["primary-a", "primary-b"]
  fallbacks = ["spill"]
  [[scenario.group]]
  name = "spill"
  deployments = ["overflow"]
  [[scenario.tenant]]
  name = "app"
  rpm = "unlimited"
  requests = %d
  stagger = "20ms"
`, n)
	f, err := scenarios.Parse("steady.toml", []byte(src))
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// BenchmarkView160x48With10kRequests is the cost of one frame of a run
// that has recorded 10,000 requests. Only the visible lanes are formatted,
// so it does not grow with the run. Target: ≤ 2 ms.
func BenchmarkView160x48With10kRequests(b *testing.B) {
	f := steadyFile(b, 10000)
	s := f.Scenarios[0]
	start := time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)
	sim := enginetest.NewSimulated(s, f.Models, 42, start)
	e, err := engine.New(s, engine.Options{Seed: 42, Speed: math.Inf(1), Backend: sim, Logs: sim, Clock: enginetest.NewClock(start)})
	if err != nil {
		b.Fatal(err)
	}
	feed := &Feed{}
	e.Subscribe(feed)
	if err := e.Run(b.Context()); err != nil {
		b.Fatal(err)
	}
	m := New(&Run{Feed: feed, Controls: e.Controls(), Options: Options{Scenario: s, Badge: "SIMULATED", Backend: "in-process", Seed: 42, Speed: 20}}, Session{})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	m.Refresh()
	if n := len(m.state.lanes); n != 10000 {
		b.Fatalf("%d lanes recorded, want 10000", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// timedKey is a key press stamped with when it was sent.
type timedKey struct {
	key  tea.KeyPressMsg
	sent time.Time
}

// latencyProbe wraps the dashboard and measures, for each timed key, the
// time from sending it to the first View drawn after it was handled: the
// moment the screen can show its effect.
type latencyProbe struct {
	*Model
	pending   []time.Time
	latencies []time.Duration
}

func (p *latencyProbe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(timedKey); ok {
		p.pending = append(p.pending, k.sent)
		msg = k.key
	}
	_, cmd := p.Model.Update(msg)
	return p, cmd
}

func (p *latencyProbe) View() tea.View {
	v := p.Model.View()
	now := time.Now()
	for _, sent := range p.pending {
		p.latencies = append(p.latencies, now.Sub(sent))
	}
	p.pending = p.pending[:0]
	return v
}

// BenchmarkKeyLatencyDuring2000RequestRun runs 2,000 requests at speed 20
// through the default backend (the SDK against the embedded emulator) under
// a real Bubble Tea program drawing 160×48, and presses + and - every 25 ms
// of wall time while it runs. It reports the key-to-screen latency; a frame
// is 33 ms.
func BenchmarkKeyLatencyDuring2000RequestRun(b *testing.B) {
	f := steadyFile(b, 2000)
	for b.Loop() {
		cfg := session.Config{File: f, Seed: 42, Speed: 20, Backend: "sim"}
		run, err := session.Start(b.Context(), cfg, f.Scenarios[0], nil)
		if err != nil {
			b.Fatal(err)
		}
		feed := &Feed{}
		run.Engine.Subscribe(feed)
		probe := &latencyProbe{Model: New(&Run{Feed: feed, Controls: run.Engine.Controls(),
			Options: Options{Scenario: run.Scenario, Badge: run.Backend.Badge, Backend: run.Backend.Detail, Seed: 42, Speed: 20}}, Session{})}
		probe.buckets.selected = 1 // deployment/primary-a
		p := tea.NewProgram(probe, tea.WithInput(nil), tea.WithOutput(devNull(b)), tea.WithWindowSize(160, 48), tea.WithoutSignals())
		ended := make(chan error, 1)
		go func() { ended <- run.Engine.Run(b.Context()) }()
		ui := make(chan error, 1)
		go func() { _, err := p.Run(); ui <- err }()
		keys := []tea.KeyPressMsg{{Code: '+', Text: "+"}, {Code: '-', Text: "-"}}
		tick := time.NewTicker(25 * time.Millisecond)
	press:
		for i := 0; ; i++ {
			select {
			case err := <-ended:
				if err != nil {
					b.Fatal(err)
				}
				break press
			case <-tick.C:
				p.Send(timedKey{key: keys[i%2], sent: time.Now()})
			}
		}
		tick.Stop()
		p.Quit()
		if err := <-ui; err != nil {
			b.Fatal(err)
		}
		if sum := run.Recorder.Summary(); sum.Requests != 2000 {
			b.Fatalf("%d requests ran, want 2000", sum.Requests)
		}
		run.Close()
		lat := probe.latencies
		if len(lat) == 0 {
			b.Fatal("no key was answered")
		}
		slices.Sort(lat)
		pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e6 }
		b.ReportMetric(pct(0.5), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
		b.ReportMetric(float64(len(lat)), "keys")
	}
}

// BenchmarkIdlePausedDashboard measures the CPU a paused dashboard uses,
// with its engine and embedded emulator, as a share of one core. Target:
// under 3%.
func BenchmarkIdlePausedDashboard(b *testing.B) {
	f := steadyFile(b, 2000)
	cfg := session.Config{File: f, Seed: 42, Speed: 1, Backend: "sim"}
	run, err := session.Start(b.Context(), cfg, f.Scenarios[0], nil)
	if err != nil {
		b.Fatal(err)
	}
	defer run.Close()
	feed := &Feed{}
	run.Engine.Subscribe(feed)
	m := New(&Run{Feed: feed, Controls: run.Engine.Controls(), Options: Options{Scenario: run.Scenario, Badge: "SIMULATED", Seed: 42, Speed: 1}}, Session{})
	p := tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(devNull(b)), tea.WithWindowSize(160, 48), tea.WithoutSignals())
	go run.Engine.Run(b.Context())
	ui := make(chan error, 1)
	go func() { _, err := p.Run(); ui <- err }()
	time.Sleep(500 * time.Millisecond) // some lanes on screen
	p.Send(tea.KeyPressMsg{Code: ' ', Text: " "})
	time.Sleep(500 * time.Millisecond) // let the pause settle

	before, wallStart := cpuTime(b), time.Now()
	for b.Loop() {
		time.Sleep(time.Second)
	}
	used, wall := cpuTime(b)-before, time.Since(wallStart)
	b.ReportMetric(100*float64(used)/float64(wall), "cpu-%")
	p.Quit()
	<-ui
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func devNull(tb testing.TB) *os.File {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}
