package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"spillway/engine/record"
	"spillway/engine/record/replay"
	"spillway/engine/session"
	"spillway/engine/simaws/fleet"
	"spillway/scenarios"
	"spillway/tui"
	"spillway/tui/plain"
)

// replayCommand plays a recorded run back: on the dashboard, or with
// --headless as the lines and summary the run printed.
func replayCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	headless := fs.Bool("headless", false, "plain output")
	speed := fs.String("speed", "", "simulated seconds per wall second")
	highContrast := fs.Bool("high-contrast", false, "start the dashboard in its high-contrast theme")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(rest) != 1 {
		return usagef("replay takes one recorded run, such as 'spillway replay run.json', got %q", rest)
	}
	loaded, err := record.LoadTimeline(rest[0])
	if err != nil {
		return usageError{err}
	}
	if loaded.Events == nil || len(loaded.Events) == 0 || loaded.Events[0].Info == nil {
		return usagef("%s cannot be played back: %s", rest[0], strings.Join(loaded.Partial, "; "))
	}
	builtin, _ := scenarios.Parse(builtinName, builtinScenarios)
	s, note := replay.Scenario(loaded, builtin)
	notes := loaded.Partial
	if note != "" {
		notes = append(notes, note)
	}
	pace := loaded.Speed
	if *speed != "" {
		if pace, err = parseSpeed(*speed); err != nil {
			return err
		}
	}
	interactive := !*headless && term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())
	if interactive {
		return replayDashboard(loaded, s, notes, pace, *highContrast)
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	replayHeadless(stdout, loaded, s)
	return nil
}

// replayLabel is the backend line of a replay: what nobody may mistake for
// a run going on now.
func replayLabel(l *record.Loaded) string {
	return "REPLAY " + replayedFrom(l)
}

// replayedFrom is what a replay's header says after REPLAY: the file,
// when it was recorded, and on what.
func replayedFrom(l *record.Loaded) string {
	return fmt.Sprintf("of %s, recorded %s on %s", filepath.Base(l.Path), l.StartedAt.Local().Format("2006-01-02 15:04"), recordedOn(l))
}

// recordedOn names the backend a run was recorded on, in the words of its
// badge.
func recordedOn(l *record.Loaded) string {
	switch l.Backend {
	case "simulated":
		return "simulated"
	case "endpoint":
		return "emulated endpoint " + l.Endpoint
	case "aws":
		return "LIVE AWS"
	}
	return l.Backend
}

// replayHeadless prints the recorded run as the headless run printed it:
// its lines, then its summary, computed again from its events.
func replayHeadless(w io.Writer, l *record.Loaded, s *scenarios.Scenario) {
	printer := plain.New(w, s, replayLabel(l))
	rec := record.New(record.Meta{Backend: l.Backend, Endpoint: l.Endpoint})
	for _, ev := range l.Events {
		printer.Handle(ev)
		rec.Handle(ev)
	}
	plain.WriteSummary(w, s, rec.Summary(), rec.Interrupted())
}

// replayDashboard plays the record on the dashboard. Its picker offers
// the built-in scenarios to run and the records beside this one.
func replayDashboard(l *record.Loaded, s *scenarios.Scenario, notes []string, speed float64, highContrast bool) error {
	signals := watchStopSignals(os.Stderr)
	defer signals.Close()
	file, err := scenarios.Parse(builtinName, builtinScenarios)
	if err != nil {
		return err
	}
	runs := &dashboardRuns{ctx: signals.Context(), cfg: session.Config{File: file, Seed: l.Seed, Speed: 1, Backend: "sim",
		TimelineDir: os.TempDir()}, recordsDir: filepath.Dir(l.Path)}
	first := replayRun(l, s, notes, speed)
	model := tui.New(first, tui.Session{Runner: runs, HighContrast: highContrast})
	program := tea.NewProgram(model, tea.WithoutSignalHandler())
	screen := tui.SaveTerminal(os.Stdin, os.Stdout)
	signals.OnStop(program.Quit)
	forget := signals.BeforeForcedExit(func() { screen.Release(program) })
	_, uiErr := program.Run()
	forget()
	signals.OnStop(nil)
	signals.Requested()
	if last := runs.stop(); last != nil {
		last.Close()
	}
	if uiErr != nil && !errors.Is(uiErr, tea.ErrProgramKilled) && !errors.Is(uiErr, context.Canceled) {
		return fmt.Errorf("the dashboard stopped: %w; --headless prints the replay instead", uiErr)
	}
	return nil
}

// replayRun is a record played back on the dashboard.
func replayRun(l *record.Loaded, s *scenarios.Scenario, notes []string, speed float64) *tui.Run {
	feed := &tui.Feed{}
	player := replay.NewPlayer(l, speed, time.Now)
	regions := fleet.Regions(s)
	var sharedBadge string
	if len(l.Events) > 0 && l.Events[0].Info != nil && l.Events[0].Info.Fleet != nil {
		f := l.Events[0].Info.Fleet
		sharedBadge = session.FleetBadge(f.Limits == scenarios.ReplicaLimitsOwn, f.Where)
	}
	return &tui.Run{
		Feed:     feed,
		Controls: player,
		Replay:   player,
		Compare:  compareWithRecord(l.Path),
		Notes:    notes,
		Options: tui.Options{Scenario: s, Badge: "REPLAY",
			Backend:      replayedFrom(l),
			BackendBrief: "of " + filepath.Base(l.Path), Live: l.Backend == "aws", Seed: l.Seed, Speed: player.Snapshot().Speed, Regions: regions,
			SharedBadge: sharedBadge},
		Results: func() string {
			var card strings.Builder
			plain.WriteSummary(&card, s, l.Summary, l.Interrupted)
			return card.String()
		},
	}
}

// maxListedRecords bounds the picker's list of recorded runs.
const maxListedRecords = 30

// recordsIn are the recorded runs in dir, newest first.
func recordsIn(dir string) []tui.Record {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out []tui.Record
	for _, path := range matches {
		h, err := record.Peek(path)
		if err != nil {
			continue
		}
		out = append(out, tui.Record{Path: path, Scenario: h.Scenario, Title: h.Title, Recorded: h.StartedAt})
	}
	slices.SortFunc(out, func(a, b tui.Record) int { return b.Recorded.Compare(a.Recorded) })
	return out[:min(len(out), maxListedRecords)]
}

// Records are the recorded runs the picker and C offer: those in the
// directory of the record on screen, or the working directory, and those
// beside the run's own --json record.
func (d *dashboardRuns) Records() []tui.Record {
	dir := d.recordsDir
	if dir == "" {
		dir = "."
	}
	records := recordsIn(dir)
	if d.exportDir != "" && absolute(d.exportDir) != absolute(dir) {
		records = append(records, recordsIn(d.exportDir)...)
		slices.SortFunc(records, func(a, b tui.Record) int { return b.Recorded.Compare(a.Recorded) })
	}
	records = records[:min(len(records), maxListedRecords)]
	d.mu.Lock()
	previous := d.previous
	d.mu.Unlock()
	if previous != "" {
		if h, err := record.Peek(previous); err == nil {
			// First: the run before this one is what a re-run is compared with.
			prev := tui.Record{Path: previous, Scenario: h.Scenario, Title: "the run before this one · " + h.Title, Recorded: h.StartedAt,
				CompareOnly: true}
			records = append([]tui.Record{prev}, records...)
		}
	}
	return records
}

func absolute(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// Replay stops the run on screen and plays the record at path.
func (d *dashboardRuns) Replay(path string) (*tui.Run, error) {
	l, err := record.LoadTimeline(path)
	if err != nil {
		return nil, err
	}
	if len(l.Events) == 0 || l.Events[0].Info == nil {
		return nil, fmt.Errorf("%s cannot be played back: %s", path, strings.Join(l.Partial, "; "))
	}
	s, note := replay.Scenario(l, d.cfg.File)
	notes := l.Partial
	if note != "" {
		notes = append(notes, note)
	}
	// The run on screen stops, and stays the one recorded when the
	// dashboard quits.
	d.stop()
	return replayRun(l, s, notes, l.Speed), nil
}
