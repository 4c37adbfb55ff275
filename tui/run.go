package tui

import (
	"context"

	"spillway/engine"
	"spillway/scenarios"
)

// Controls is what the dashboard may ask of a running engine besides its
// events: the snapshot it publishes (bucket levels, the simulated clock,
// pause and speed) and the changes a person makes while watching, sent as
// intents. The engine's control shell, *engine.Shell, implements it.
type Controls interface {
	Snapshot() engine.Snapshot
	// Fresh waits for a snapshot that shows every intent sent before it.
	Fresh(context.Context) (engine.Snapshot, error)
	Send(engine.Intent) error
}

// Options describe the run the dashboard shows.
type Options struct {
	Scenario *scenarios.Scenario
	Badge    string // SIMULATED, EMULATED ENDPOINT or LIVE AWS: what nobody may miss
	Backend  string // the rest of the backend's header line
	// BackendBrief is Backend in a few words, for a header too narrow for
	// it whole.
	BackendBrief string
	Live         bool // real AWS: the badge is drawn in the alarm colour
	Seed         uint64
	Speed        float64
	// AccountIDs are the account ids the backend resolved, by account name;
	// the scenario's own ids are used for the rest.
	AccountIDs map[string]string
	// FaultOptions are the faults the fault menu offers besides the
	// scenario's own; empty when the backend cannot fail on demand.
	FaultOptions []scenarios.Fault
	// Regions are the Regions the scenario's calls can run in, so the
	// histogram shows a Region with no calls as 0 rather than leaving it
	// out. Empty shows only the Regions the logs name.
	Regions []string
}

// Run is one run on screen: its events, its controls, and how to save it.
type Run struct {
	Feed     *Feed
	Controls Controls
	Options
	// Export writes the run as recorded so far to path, as JSON. Nil means
	// this run cannot be exported.
	Export func(path string) error
	// Results is the run's summary as the headless output prints it, for
	// the card shown when the run ends. Nil means no card.
	Results func() string
}

// Runner starts runs for the dashboard's re-run (r, R) and scenario picker
// (s). Start stops the run on screen, if the new one could be prepared, and
// returns the new one already running.
type Runner interface {
	Scenarios() []*scenarios.Scenario
	Start(name string, rpm map[engine.BucketID]scenarios.RPM, speed float64) (*Run, error)
}

// Session is what stays the same across the dashboard's runs.
type Session struct {
	Runner Runner // nil: re-running and switching are unavailable
	// ExportPath is where e writes (--json); empty means a new file named
	// for the scenario and the time in the working directory.
	ExportPath string
	// HighContrast starts the dashboard in its high-contrast theme, for a
	// projector; c switches it.
	HighContrast bool
}
