package tui

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/record"
	"spillway/engine/record/replay"
	"spillway/engine/session"
	"spillway/scenarios"
)

var (
	hourRecordOnce sync.Once
	hourRecordPath string
	hourRecordErr  error
)

// hourRecord is the record of an hour at 600 RPM (36,000 requests, the
// README's sustained load), made once per test binary.
func hourRecord(b *testing.B) string {
	b.Helper()
	hourRecordOnce.Do(func() {
		f, err := scenarios.Load("../engine/testdata/steady-600rpm.toml")
		if err != nil {
			hourRecordErr = err
			return
		}
		s, _ := f.Lookup("hour")
		dir, err := os.MkdirTemp("", "spillway-bench-")
		if err != nil {
			hourRecordErr = err
			return
		}
		run, err := session.Start(context.Background(), session.Config{File: f, Seed: 42, Speed: math.Inf(1), Backend: "sim", TimelineDir: dir}, s, nil)
		if err != nil {
			hourRecordErr = err
			return
		}
		defer run.Close()
		if hourRecordErr = run.Engine.Run(context.Background()); hourRecordErr != nil {
			return
		}
		hourRecordPath = filepath.Join(dir, "hour.json")
		hourRecordErr = run.Recorder.WriteFile(hourRecordPath)
	})
	if hourRecordErr != nil {
		b.Fatal(hourRecordErr)
	}
	return hourRecordPath
}

// Opening a replay of 36,000 requests: reading the record, rebuilding its
// scenario and preparing the player, up to the first frame on screen.
func BenchmarkReplayOpen36k(b *testing.B) {
	path := hourRecord(b)
	for b.Loop() {
		l, err := record.LoadTimeline(path)
		if err != nil {
			b.Fatal(err)
		}
		s, _ := replay.Scenario(l, nil)
		feed := &Feed{}
		p := replay.NewPlayer(l, 20, time.Now)
		m := New(&Run{Feed: feed, Controls: p, Replay: p, Options: Options{Scenario: s}}, Session{})
		m.width, m.height = 160, 48
		m.Refresh()
		_ = m.Screen()
	}
}

// Seeking a replay of 36,000 requests: to the end, back to the middle
// (which rebuilds the screen from the start), forward again, each with the
// frame that shows it.
func BenchmarkReplaySeek36k(b *testing.B) {
	path := hourRecord(b)
	l, err := record.LoadTimeline(path)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := replay.Scenario(l, nil)
	feed := &Feed{}
	p := replay.NewPlayer(l, 20, time.Now)
	p.Send(engine.TogglePause{})
	m := New(&Run{Feed: feed, Controls: p, Replay: p, Options: Options{Scenario: s}}, Session{})
	m.width, m.height = 160, 48
	targets := []time.Duration{p.Length(), p.Length() / 2, p.Length() * 3 / 4, 0}
	for b.Loop() {
		for _, at := range targets {
			p.Seek(at)
			m.Refresh()
			_ = m.Screen()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(targets))/1e6, "ms/seek")
}
