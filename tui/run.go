package tui

import (
	"context"
	"time"

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
	// SharedBadge, for a gateway whose replicas share their limits, says
	// where (REDIS), beside the backend's badge; SharedDetail names the
	// server, for the header's words.
	SharedBadge, SharedDetail string
	Seed                      uint64
	Speed                     float64
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
	// Compare sets the recorded run at earlier (A) beside this run as
	// recorded so far (B) and returns the comparison as text. Nil means
	// this run cannot be compared.
	Compare func(earlier string) (string, error)
	// Replay is set when the run is a record played back: the dashboard
	// moves through it, and refuses the keys that would change a run.
	Replay Playback
	// Notes are what the dashboard says when the run comes on screen,
	// such as what a partial record lacks.
	Notes []string
}

// Playback is a recorded run being played: it hands the dashboard the
// events the play position passes, and Controls answers for the
// playback's clock, pause and speed.
type Playback interface {
	// Advance calls apply with each event up to the play position. When
	// the position went back it calls restart first, and the events start
	// again from the run's start. A seek across an hour's record hands
	// over a hundred thousand events at once, so they are not queued.
	Advance(restart func(), apply func(engine.Event))
	Seek(at time.Duration)
	Position() time.Duration
	Length() time.Duration
	// NextMark and PreviousMark are the fault, limit or control change
	// after or before the position.
	NextMark() (at time.Duration, what string, ok bool)
	PreviousMark() (at time.Duration, what string, ok bool)
}

// Runner starts runs for the dashboard's re-run (r, R) and scenario picker
// (s). Start stops the run on screen, if the new one could be prepared, and
// returns the new one already running.
type Runner interface {
	Scenarios() []*scenarios.Scenario
	Start(name string, rpm map[engine.BucketID]scenarios.RPM, speed float64) (*Run, error)
	// Records are the recorded runs the picker offers to play back, and
	// Replay plays one.
	Records() []Record
	Replay(path string) (*Run, error)
}

// LimitsSwitcher is a Runner whose runs may be fleets of replicas: L
// makes its next runs count their limits as limits says
// (scenarios.ReplicaLimitsOwn or ReplicaLimitsShared).
type LimitsSwitcher interface {
	SwitchReplicaLimits(limits string)
}

// Record is a recorded run the picker lists.
type Record struct {
	Path, Scenario, Title string
	Recorded              time.Time
	// CompareOnly: a record without its event timeline, such as the run
	// before the one on screen, which C compares but the picker cannot
	// play back.
	CompareOnly bool
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
