package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/x/term"

	"spillway/engine/record"
	"spillway/engine/record/replay"
	"spillway/scenarios"
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
	loaded, err := loadRecord(rest[0])
	if err != nil {
		return err
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

// loadRecord reads a recorded run; a file that cannot be read as one is
// bad input.
func loadRecord(path string) (*record.Loaded, error) {
	l, err := record.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return l, nil
}

// replayLabel is the backend line of a replay: what nobody may mistake for
// a run going on now.
func replayLabel(l *record.Loaded) string {
	return fmt.Sprintf("REPLAY of %s, recorded %s on %s", filepath.Base(l.Path), l.StartedAt.Local().Format("2006-01-02 15:04:05"), recordedOn(l))
}

// recordedOn names the backend a run was recorded on, as its header did.
func recordedOn(l *record.Loaded) string {
	switch l.Backend {
	case "simulated":
		return "the embedded emulator (simulated)"
	case "endpoint":
		return "an emulated endpoint, " + l.Endpoint
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

// replayDashboard is filled in below.
func replayDashboard(l *record.Loaded, s *scenarios.Scenario, notes []string, speed float64, highContrast bool) error {
	return fmt.Errorf("not yet")
}
