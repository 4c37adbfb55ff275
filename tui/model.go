package tui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"spillway/engine"
	"spillway/scenarios"
)

// Minimum usable terminal; below it the dashboard asks for a larger window.
const (
	minWidth  = 60
	minHeight = 16
)

// frameRate is how often the dashboard drains the feed and redraws while a
// run moves; idleFrameRate is for a paused or finished run, where nothing
// changes between frames but a reply from a network backend may still land.
const (
	frameRate     = 30
	idleFrameRate = 4
)

type frameMsg time.Time

func frame(fps int) tea.Cmd {
	return tea.Tick(time.Second/time.Duration(fps), func(t time.Time) tea.Msg { return frameMsg(t) })
}

// startedMsg carries a run started by r, R or the picker, or why it failed.
type startedMsg struct {
	run  *Run
	what string // what was started, for the notice
	err  error
}

// comparedMsg carries the comparison C asked for, or why it failed.
type comparedMsg struct {
	earlier string
	text    string
	err     error
}

// exportedMsg reports an export written by e.
type exportedMsg struct {
	path       string
	requests   int
	inProgress bool
	err        error
}

// Model is the root of the dashboard. Its panels draw from runState, which
// is built only from engine events, and from what Controls report.
type Model struct {
	run     *Run
	session Session
	masked  map[string]string

	state *runState
	// snap is the engine's latest published state; the dashboard keeps no
	// other copy of pause, speed, clock or bucket levels.
	snap     engine.Snapshot
	starting string // what is being started, while a Start runs
	// card is the results card, shown once when the run ends until a key
	// is pressed; cardShown keeps it from coming back.
	card      string
	cardShown bool
	// inPlace is what v shows in the buckets' place, where the screen has
	// no room for every panel: the buckets, the live figures or the trends.
	inPlace int
	// maximised is the panel m gave the whole body, or noPanel.
	maximised panel
	// inspecting is the id of the request the inspector shows; 0 when it
	// is closed.
	inspecting int
	// typing is the RPM being typed after =, for the bucket typingFor;
	// typingFor is empty when nothing is being typed.
	typing    string
	typingFor engine.BucketID

	lanes   lanesPanel
	buckets bucketsPanel
	picker  picker
	faults  faultMenu
	compare comparison

	width, height int
	styles        Styles
	dark          bool // the terminal's background, as it reported it
	highContrast  bool
	keys          KeyMap
	help          help.Model
	showHelp      bool
	notice        string
	// noticePath is a path the notice must show whole: the footer gives
	// such a notice up to maxNoticeLines lines.
	noticePath string
	Quit       bool // the user asked to quit
}

// New builds the dashboard on a running run.
func New(run *Run, session Session) *Model {
	keys := DefaultKeyMap()
	m := &Model{
		session: session, width: 80, height: 24, maximised: noPanel, dark: true, highContrast: session.HighContrast,
		keys: keys, help: help.New(),
		picker: picker{keys: keys}, faults: faultMenu{keys: keys}, compare: comparison{keys: keys}, lanes: lanesPanel{zoom: autoWindow},
	}
	m.restyle()
	m.show(run)
	return m
}

// restyle builds the styles for the background and the theme.
func (m *Model) restyle() {
	if m.highContrast {
		m.styles = NewHighContrastStyles(m.dark)
	} else {
		m.styles = NewStyles(m.dark)
	}
	// The help's own styles are too dim to read across a room: keys are
	// bold, what they do takes the dashboard's dim, which is made to read.
	m.help.Styles = help.DefaultStyles(m.dark)
	m.help.Styles.ShortKey, m.help.Styles.ShortDesc = m.styles.Bold, m.styles.Dim
	m.help.Styles.FullKey, m.help.Styles.FullDesc = m.styles.Bold, m.styles.Dim
	m.help.Styles.ShortSeparator, m.help.Styles.FullSeparator = m.styles.Dim, m.styles.Dim
	m.help.Styles.Ellipsis = m.styles.Dim
}

// show puts run on screen with a fresh state; the selected bucket, the
// lanes' zoom and the panel choices stay, as the user set them.
func (m *Model) show(run *Run) {
	m.run = run
	m.masked = maskedIDs(run.Scenario, run.AccountIDs)
	m.state = newRunState()
	m.lanes = lanesPanel{follow: true, zoom: m.lanes.zoom}
	m.faults.open = false
	m.compare.close()
	m.card, m.cardShown, m.inspecting, m.typingFor = "", false, 0, ""
	m.snap = run.Controls.Snapshot()
	m.buckets.selected = min(m.buckets.selected, len(m.snap.Buckets)-1)
	if len(run.Notes) > 0 {
		m.notice = strings.Join(run.Notes, "; ")
	}
}

// Init starts the frame clock and asks for the background colour.
func (m *Model) Init() tea.Cmd { return tea.Batch(frame(frameRate), tea.RequestBackgroundColor) }

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case frameMsg:
		moved := m.Refresh()
		if !moved && (m.snap.Paused || m.state.ended) {
			return m, frame(idleFrameRate)
		}
		return m, frame(frameRate)
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.restyle()
	case tea.MouseWheelMsg:
		m.lanes.wheel(msg, len(m.state.lanes), m.laneRows())
	case startedMsg:
		m.starting = ""
		if msg.err != nil {
			m.notice = "could not start " + msg.what + ": " + msg.err.Error()
			break
		}
		m.show(msg.run)
		m.notice = "started " + msg.what
	case comparedMsg:
		if msg.err != nil {
			m.notice = "could not compare: " + msg.err.Error()
			break
		}
		b := "this run at " + seconds(m.now())
		if m.run.Replay != nil {
			b = "the whole run played back"
		}
		m.compare.show("Comparison · A "+filepath.Base(msg.earlier)+" · B "+b, msg.text)
		m.notice = "B − A: what changed since " + filepath.Base(msg.earlier)
	case exportedMsg:
		switch {
		case msg.err != nil:
			m.notice = "export failed: " + msg.err.Error() + "; run with --json PATH to choose a writable place"
		case msg.inProgress:
			m.notice = fmt.Sprintf("exported %d requests so far to %s (the run goes on; e again for more)", msg.requests, msg.path)
		default:
			m.notice = fmt.Sprintf("exported %d requests to %s", msg.requests, msg.path)
		}
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// Refresh drains the feed into the dashboard's state and takes the engine's
// latest snapshot. The frame tick calls it; tests call it directly. It
// reports whether anything moved.
func (m *Model) Refresh() bool {
	moved := false
	apply := func(ev engine.Event) {
		moved = true
		m.state.apply(ev)
		if notice := confirmed(ev); notice != "" {
			m.notice = notice
		}
	}
	if p := m.run.Replay; p != nil {
		p.Advance(func() {
			// Played back from an earlier instant: the screen is rebuilt
			// from the run's start, as the engine's events built it.
			m.state, m.card, m.cardShown, m.inspecting = newRunState(), "", false, 0
		}, apply)
	}
	for _, ev := range m.run.Feed.Drain() {
		apply(ev)
	}
	if m.state.ended && !m.cardShown && m.run.Results != nil {
		m.card, m.cardShown = m.run.Results(), true
	}
	before := m.snap.At
	m.snap = m.run.Controls.Snapshot()
	return moved || m.snap.At != before
}

// confirmed is what to tell the user when the engine reports a control
// applied or refused: the screen says what the engine did, not what a key
// asked for.
func confirmed(ev engine.Event) string {
	switch ev.Kind {
	case engine.RPMChanged:
		return fmt.Sprintf("%s → %s %s", ev.Bucket, ev.RPM, ev.Bucket.PerMinute())
	case engine.RateChanged:
		return fmt.Sprintf("%s → %s requests a minute", ev.Bucket, engine.RateText(ev.Rate))
	case engine.Paused:
		return "paused: nothing is sent and simulated time stands still; space resumes"
	case engine.Resumed:
		return "resumed"
	case engine.SpeedChanged:
		return "speed " + engine.SpeedText(ev.Speed)
	case engine.FaultStarted:
		if ev.Fault.Live {
			return "started " + ev.Fault.Fault.String()
		}
		return "the scenario's fault " + ev.Fault.Fault.String() + " began"
	case engine.FaultEnded:
		notice := "stopped " + ev.Fault.Fault.String()
		if !ev.Fault.Live {
			notice = "the scenario's fault " + ev.Fault.Fault.String() + " ended"
		}
		if ev.Message != "" {
			notice += ": " + ev.Message
		}
		return notice
	case engine.RunEnded:
		return ev.Message
	case engine.ControlRefused:
		return ev.Message
	}
	return ""
}

// send hands an intent to the engine; a refusal becomes the notice. A
// running engine confirms with an event; an ended one applies a limit change
// at once, to the limits r re-runs with, and its snapshot confirms it.
func (m *Model) send(in engine.Intent) {
	err := m.run.Controls.Send(in)
	switch {
	case errors.Is(err, engine.ErrRunOver):
		m.notice = "the run has ended; r runs it again"
	case err != nil:
		m.notice = err.Error()
	default:
		if snap := m.run.Controls.Snapshot(); snap.Over {
			m.snap = snap
			var id engine.BucketID
			switch in := in.(type) {
			case engine.AdjustRPM:
				id = in.Bucket
			case engine.SetRPM:
				id = in.Bucket
			}
			if l, found := snap.Bucket(id); found {
				m.notice = fmt.Sprintf("%s → %s %s for the next run; r re-runs with it", l.ID, l.RPM, l.ID.PerMinute())
			}
		}
	}
}

// now is the simulated time the screen shows.
func (m *Model) now() time.Duration { return max(m.state.now, m.snap.At) }

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	if m.card != "" {
		// Any key closes the results card; esc only closes it, and every
		// other key also does what it always does.
		m.card = ""
		if msg.String() == "esc" {
			return nil
		}
	}
	if m.typingFor != "" && msg.String() != "ctrl+c" {
		m.typeRPM(msg)
		return nil
	}
	if key.Matches(msg, k.Quit) && (!m.picker.open && !m.faults.open && !m.compare.open() || msg.String() == "ctrl+c") {
		m.Quit = true
		return tea.Quit
	}
	if m.inspecting != 0 {
		switch {
		case key.Matches(msg, k.Up):
			m.inspecting = max(1, m.inspecting-1)
		case key.Matches(msg, k.Down):
			m.inspecting = min(len(m.state.lanes), m.inspecting+1)
		case msg.String() == "esc" || key.Matches(msg, k.Inspect):
			m.inspecting = 0
		}
		return nil
	}
	if m.faults.open {
		m.faults.Update(msg)
		if f := m.faults.chosen; f != nil {
			m.faults.chosen = nil
			m.toggleFault(*f)
		}
		return nil
	}
	if m.compare.open() {
		m.compare.Update(msg, m.layout().bodyH)
		if path := m.compare.chosen; path != "" {
			m.compare.chosen = ""
			return m.compareWith(path)
		}
		return nil
	}
	if m.picker.open {
		m.picker.Update(msg)
		if name := m.picker.selected; name != "" {
			m.picker.selected = ""
			return m.start(name, false, name)
		}
		if path := m.picker.replaying; path != "" {
			m.picker.replaying = ""
			return m.replay(path)
		}
		return nil
	}
	if m.run.Replay != nil {
		if handled, cmd := m.replayKey(msg); handled {
			return cmd
		}
	}
	switch {
	case key.Matches(msg, k.Help):
		m.showHelp = !m.showHelp
	case key.Matches(msg, k.PageUp, k.PageDown, k.Live, k.ZoomIn, k.ZoomOut):
		if notice := m.lanes.key(msg, k, len(m.state.lanes), m.laneRows()); notice != "" {
			m.notice = notice
		}
	case key.Matches(msg, k.Up, k.Down, k.RaiseRPM, k.LowerRPM, k.RaiseRPM10, k.LowerRPM10, k.RaiseRate, k.LowerRate):
		if in, notice := m.buckets.key(msg, k, m.snap.Buckets); in != nil {
			m.send(in)
		} else if notice != "" {
			m.notice = notice
		}
	case key.Matches(msg, k.Pause):
		m.send(engine.TogglePause{})
	case key.Matches(msg, k.Slower):
		m.send(engine.StepSpeed{Dir: -1})
	case key.Matches(msg, k.Faster):
		m.send(engine.StepSpeed{Dir: 1})
	case key.Matches(msg, k.Rerun):
		return m.start(m.run.Scenario.Name, true, m.run.Scenario.Name+" again, keeping the tuned RPMs")
	case key.Matches(msg, k.Reset):
		return m.start(m.run.Scenario.Name, false, m.run.Scenario.Name+" again with the file's RPMs")
	case key.Matches(msg, k.ReplicaLimits):
		return m.switchReplicaLimits()
	case key.Matches(msg, k.Pick):
		if m.session.Runner == nil {
			m.notice = "switching scenarios is not available here"
			break
		}
		m.picker.show(m.session.Runner.Scenarios(), playable(m.session.Runner.Records()), m.run.Scenario.Name)
	case key.Matches(msg, k.Export):
		return m.export()
	case key.Matches(msg, k.Compare):
		switch {
		case m.run.Compare == nil:
			m.notice = "this run cannot be compared"
		case m.session.Runner == nil:
			m.notice = "no recorded runs to compare with here"
		default:
			m.compare.choose(m.session.Runner.Records())
			m.maximised = noPanel
		}
	case key.Matches(msg, k.TypeRPM):
		if sel := m.buckets.selected; sel >= 0 && sel < len(m.snap.Buckets) {
			m.typingFor, m.typing = m.snap.Buckets[sel].ID, ""
		}
	case key.Matches(msg, k.Inspect):
		if len(m.state.lanes) == 0 {
			m.notice = "no request to inspect yet"
			break
		}
		m.inspecting = m.inspectFrom()
	case key.Matches(msg, k.Figures):
		// v cycles through the buckets and whichever of the figures and
		// the trends have no place of their own at this size.
		own := m.layoutFor(inPlaceBuckets)
		placed := [inPlaceCount]bool{inPlaceFigures: own.has(panelFigures), inPlaceTrends: own.has(panelTrends)}
		if placed[inPlaceFigures] && placed[inPlaceTrends] {
			m.inPlace = inPlaceBuckets
			m.notice = "at this size every panel has a place of its own; v is for smaller windows"
			break
		}
		m.inPlace = (m.inPlace + 1) % inPlaceCount
		for placed[m.inPlace] {
			m.inPlace = (m.inPlace + 1) % inPlaceCount
		}
	case key.Matches(msg, k.Contrast):
		m.highContrast = !m.highContrast
		m.restyle()
		m.notice = "high-contrast theme off"
		if m.highContrast {
			m.notice = "high-contrast theme on; c turns it off"
		}
	case key.Matches(msg, k.Maximise):
		m.maximised++
		if m.maximised == panelCount {
			m.maximised, m.notice = noPanel, "every panel again"
			break
		}
		m.notice = panelNames[m.maximised] + " maximised; m for the next panel, esc for all of them"
	case msg.String() == "esc" && m.maximised != noPanel:
		m.maximised, m.notice = noPanel, "every panel again"
	case key.Matches(msg, k.Faults):
		options := m.faultOptions()
		if len(options) == 0 {
			m.notice = "faults need the simulated backend (--backend sim); against a 'spillway emulator', start them with 'spillway fault start'"
			break
		}
		m.faults.show(options)
		m.maximised = noPanel // the menu opens beside the lanes
	}
	return nil
}

// faultOptions are the scenario's own faults, so they can be stopped early,
// then the ones that fit it.
func (m *Model) faultOptions() []scenarios.Fault {
	var out []scenarios.Fault
	seen := map[string]bool{}
	for _, f := range append(append([]scenarios.Fault(nil), m.run.Scenario.Faults...), m.run.FaultOptions...) {
		f.At, f.Duration = 0, 0
		if !seen[f.String()] {
			seen[f.String()] = true
			out = append(out, f)
		}
	}
	return out
}

// toggleFault asks the engine to stop f if it is in effect and to start it
// otherwise; the engine decides, so quick presses alternate.
func (m *Model) toggleFault(f scenarios.Fault) {
	m.notice = "toggling " + f.String() + "…"
	m.send(engine.ToggleFault{Fault: f})
}

// tunedRPMs are the limits of every bucket in snap, for a re-run that keeps
// what was tuned.
func tunedRPMs(snap engine.Snapshot) map[engine.BucketID]scenarios.RPM {
	out := map[engine.BucketID]scenarios.RPM{}
	for _, l := range snap.Buckets {
		out[l.ID] = l.RPM
	}
	return out
}

// freshWait bounds how long a start waits for the engine to show the keys
// pressed before it; an engine that does not answer in time is read as it
// last published.
const freshWait = 2 * time.Second

// start asks the runner for a new run in the background; the current run
// stays on screen until the new one is ready. The new run takes the speed,
// and with keepTuned the limits, from a snapshot that shows every key
// pressed before this one, not from the frame on screen.
func (m *Model) start(name string, keepTuned bool, what string) tea.Cmd {
	runner := m.session.Runner
	if runner == nil {
		m.notice = "re-running is not available here"
		return nil
	}
	if m.starting != "" {
		m.notice = "still starting " + m.starting
		return nil
	}
	m.starting, m.notice = what, "starting "+what+"…"
	controls := m.run.Controls
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), freshWait)
		defer cancel()
		snap, err := controls.Fresh(ctx)
		if err != nil {
			snap = controls.Snapshot()
		}
		var rpm map[engine.BucketID]scenarios.RPM
		if keepTuned {
			rpm = tunedRPMs(snap)
		}
		run, err := runner.Start(name, rpm, snap.Speed)
		return startedMsg{run: run, what: what, err: err}
	}
}

// switchReplicaLimits re-runs a run as replicas from the same seed,
// with the limits counted the other way: each replica's own, or shared.
func (m *Model) switchReplicaLimits() tea.Cmd {
	switcher, ok := m.session.Runner.(LimitsSwitcher)
	var fleet *engine.FleetInfo
	if m.state.info != nil {
		fleet = m.state.info.Fleet
	}
	if !ok || fleet == nil {
		m.notice = "L is for a run as replicas, such as 'spillway run replicas' or --replicas 3"
		return nil
	}
	if m.starting != "" {
		m.notice = "still starting " + m.starting
		return nil
	}
	to, how := scenarios.ReplicaLimitsShared, "sharing their limits"
	if fleet.Limits == scenarios.ReplicaLimitsShared {
		to, how = scenarios.ReplicaLimitsOwn, "each counting its own limits"
	}
	switcher.SwitchReplicaLimits(to)
	return m.start(m.run.Scenario.Name, true, fmt.Sprintf("%s again, %d replicas %s", m.run.Scenario.Name, fleet.Replicas, how))
}

// replay stops the run on screen and plays the record at path instead.
func (m *Model) replay(path string) tea.Cmd {
	if m.starting != "" {
		m.notice = "still starting " + m.starting
		return nil
	}
	what := "the replay of " + filepath.Base(path)
	m.starting, m.notice = what, "opening "+what+"…"
	runner := m.session.Runner
	return func() tea.Msg {
		run, err := runner.Replay(path)
		return startedMsg{run: run, what: what, err: err}
	}
}

// replaySeek is how far ← and → move a replay.
const replaySeek = 10 * time.Second

// replayKey handles the keys of a replay: moving through it, and refusing
// what would change the run. handled is false for the keys that work as
// in a run (pause, speed, panels, lanes, help, quit).
func (m *Model) replayKey(msg tea.KeyPressMsg) (handled bool, cmd tea.Cmd) {
	p, k := m.run.Replay, m.keys
	seek := func(at time.Duration, what string) {
		p.Seek(at)
		m.lanes.follow = true
		m.Refresh()
		m.notice = what
	}
	switch {
	case key.Matches(msg, k.SeekBack):
		seek(p.Position()-replaySeek, "back 10s, to "+seconds(p.Position()-min(p.Position(), replaySeek)))
	case key.Matches(msg, k.SeekForward):
		seek(p.Position()+replaySeek, "forward 10s, to "+seconds(min(p.Length(), p.Position()+replaySeek)))
	case key.Matches(msg, k.SeekStart):
		seek(0, "back to the start")
	case key.Matches(msg, k.Live):
		seek(p.Length(), "at the end of the recorded run")
	case key.Matches(msg, k.NextMark):
		at, what, ok := p.NextMark()
		if !ok {
			m.notice = "no fault or control change after " + seconds(p.Position())
			break
		}
		seek(at, seconds(at)+": "+what)
	case key.Matches(msg, k.PreviousMark):
		at, what, ok := p.PreviousMark()
		if !ok {
			m.notice = "no fault or control change before " + seconds(p.Position())
			break
		}
		seek(at, seconds(at)+": "+what)
	case key.Matches(msg, k.RaiseRPM, k.LowerRPM, k.RaiseRPM10, k.LowerRPM10, k.RaiseRate, k.LowerRate, k.TypeRPM, k.Faults, k.Rerun, k.Reset, k.ReplicaLimits):
		m.notice = "a replay plays the run as recorded; run the scenario to change limits, rates or faults"
	case key.Matches(msg, k.Export):
		m.notice = "this run is already recorded, in " + m.run.Backend
	default:
		return false, nil
	}
	return true, nil
}

// compareWith sets the record at path beside the run on screen, in the
// background: reading a long record takes a moment.
func (m *Model) compareWith(path string) tea.Cmd {
	compare := m.run.Compare
	m.notice = "comparing with " + filepath.Base(path) + "…"
	return func() tea.Msg {
		text, err := compare(path)
		return comparedMsg{earlier: path, text: text, err: err}
	}
}

// export writes the run so far in the background.
func (m *Model) export() tea.Cmd {
	write := m.run.Export
	if write == nil {
		m.notice = "this run cannot be exported"
		return nil
	}
	path := m.session.ExportPath
	if path == "" {
		path = defaultExportPath(m.run.Scenario.Name, time.Now())
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	requests, inProgress := len(m.state.lanes), !m.state.ended
	m.notice, m.noticePath = "exporting to "+path, path
	return func() tea.Msg {
		return exportedMsg{path: path, requests: requests, inProgress: inProgress, err: write(path)}
	}
}

// defaultExportPath names an export for the scenario and the time, in the
// working directory, so repeated exports never overwrite each other.
func defaultExportPath(scenario string, now time.Time) string {
	name := fmt.Sprintf("spillway-%s-%s.json", scenario, now.Format("20060102-150405"))
	if _, err := os.Stat(name); err == nil {
		name = fmt.Sprintf("spillway-%s-%s.json", scenario, now.Format("20060102-150405.000"))
	}
	return name
}

// Screen is the whole dashboard as text, with styles; View wraps it.
func (m *Model) Screen() string {
	if m.width < minWidth || m.height < minHeight {
		msg := fmt.Sprintf("Spillway needs a window of at least %d×%d; this one is %d×%d.\nMake the window larger, or press q to quit.",
			minWidth, minHeight, m.width, m.height)
		return lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, msg)
	}
	l := m.layout()
	var body string
	switch {
	case m.picker.open:
		body = m.picker.View(m.styles, m.width, l.bodyH)
	case m.compare.open():
		body = m.compare.View(m.styles, m.width, l.bodyH)
	case m.card != "":
		body = m.resultsCard(m.width, l.bodyH)
	case m.inspecting != 0:
		body = inspectorView(&m.state.lanes[m.inspecting-1], m.now(), m.styles, m.width, l.bodyH)
	default:
		body = m.body(l)
	}
	return m.header(m.width) + "\n" + body + "\n" + m.footer()
}

// besides puts two blocks side by side with sep between them, line by
// line. Every panel is already padded to its width (see block), so unlike
// lipgloss.JoinHorizontal this measures nothing: it is most of a frame's
// cost saved.
func besides(left, sep, right string) string {
	ls, rs := strings.Split(left, "\n"), strings.Split(right, "\n")
	var b strings.Builder
	b.Grow(len(left) + len(right) + len(ls)*(len(sep)+1))
	for i := range max(len(ls), len(rs)) {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(ls) {
			b.WriteString(ls[i])
		}
		b.WriteString(sep)
		if i < len(rs) {
			b.WriteString(rs[i])
		}
	}
	return b.String()
}

func (m *Model) lanesView(width, height int) string {
	return m.lanes.View(m.state, m.now(), m.styles, width, height)
}

// typeRPM takes one key of an RPM typed after =: digits build it, enter
// sets it, backspace takes a digit back, esc gives up.
func (m *Model) typeRPM(msg tea.KeyPressMsg) {
	switch s := msg.String(); {
	case s == "esc":
		m.typingFor, m.notice = "", "no change"
	case s == "backspace":
		m.typing = m.typing[:max(0, len(m.typing)-1)]
	case s == "enter":
		id := m.typingFor
		m.typingFor = ""
		rpm, err := strconv.Atoi(m.typing)
		if err != nil || rpm < 1 {
			limit := "a TPM"
			if !id.Tokens() {
				limit = "an RPM"
			}
			m.notice = fmt.Sprintf("%q is not %s; type a whole number from 1", m.typing, limit)
			return
		}
		m.send(engine.SetRPM{Bucket: id, RPM: scenarios.RPM(rpm)})
	case len(s) == 1 && s[0] >= '0' && s[0] <= '9' && len(m.typing) < 9:
		m.typing += s
	}
}

// inspectFrom is the request the inspector opens on: the newest that moved
// on from its first choice (fell back, was refused or failed), so the
// interesting one is a key away, else the newest.
func (m *Model) inspectFrom() int {
	for i := len(m.state.lanes) - 1; i >= 0; i-- {
		if m.state.lanes[i].Why != "" {
			return i + 1
		}
	}
	return len(m.state.lanes)
}

// tickerView draws the latest decisions in words, newest at the bottom, for
// a presenter to read out.
func (m *Model) tickerView(width, height int) string {
	lines := []string{m.styles.Bold.Render(fit("Latest decisions", width))}
	recent := m.state.ticker[max(0, len(m.state.ticker)-(height-1)):]
	for _, line := range recent {
		lines = append(lines, fit(line, width))
	}
	return block(lines, width, height)
}

func (m *Model) trendsView(width, height int) string {
	return trendsView(m.state, m.now(), m.styles, width, height)
}

func (m *Model) figuresView(width, height int) string {
	return figuresView(&m.state.figs, m.snap.Buckets, m.now(), m.styles, width, height)
}

func (m *Model) bucketsView(width, height int) string {
	return m.buckets.View(m.snap.Buckets, m.snap.At, m.styles, width, height)
}

// footerHeight is one line of short help, or the tallest column of the
// full help while ? shows it.
func (m *Model) footerHeight() int {
	if lines := m.wholeNotice(); lines != nil {
		return len(lines)
	}
	if !m.showHelp || m.picker.open || m.faults.open || m.compare.open() {
		return 1
	}
	rows := 1
	for _, col := range m.fullHelp() {
		rows = max(rows, len(col))
	}
	return rows
}

// wholeNotice is the notice broken into lines when it holds a path that
// must show whole and one line is too short for it; nil otherwise.
func (m *Model) wholeNotice() []string {
	if m.typingFor != "" || m.showHelp || m.picker.open || m.faults.open || m.compare.open() || m.inspecting != 0 {
		return nil // the footer those need comes first
	}
	if m.noticePath == "" || !strings.Contains(m.notice, m.noticePath) || ansi.StringWidth(m.notice) <= m.width*2/3 {
		return nil
	}
	lines := strings.Split(ansi.Wrap(m.notice, m.width, "/"), "\n")
	return lines[:min(len(lines), maxNoticeLines)]
}

// fullHelp is what ? lists: a replay's keys, or a run's.
func (m *Model) fullHelp() [][]key.Binding {
	if m.run.Replay != nil {
		return m.keys.replayFullHelp()
	}
	return m.keys.FullHelp()
}

// maxNoticeLines bounds how much of the screen a notice may take.
const maxNoticeLines = 3

func (m *Model) footer() string {
	if lines := m.wholeNotice(); lines != nil {
		for i, line := range lines {
			lines[i] = m.styles.Warn.Render(line)
		}
		return block(lines, m.width, len(lines))
	}
	if m.showHelp && !m.picker.open && !m.faults.open && !m.compare.open() {
		m.help.SetWidth(m.width)
		return block(strings.Split(m.help.FullHelpView(m.fullHelp()), "\n"), m.width, m.footerHeight())
	}
	bindings := m.keys.ShortHelp()
	if m.run.Replay != nil {
		bindings = m.keys.replayHelp()
	}
	switch {
	case m.inspecting != 0:
		bindings = m.keys.inspectorHelp()
	case m.picker.open:
		bindings = m.keys.pickerHelp()
	case m.faults.open:
		bindings = m.keys.faultHelp()
	case m.compare.open():
		bindings = m.keys.comparisonHelp(m.compare.choosing)
	}
	if m.typingFor != "" {
		prompt := fmt.Sprintf("%s for %s: %s▏ enter sets it · esc gives up", m.typingFor.PerMinute(), m.typingFor, m.typing)
		return block([]string{m.styles.Warn.Render(fit(prompt, m.width))}, m.width, 1)
	}
	// The notice comes first and may take two thirds of the line: it is
	// what just happened, such as where an export went.
	noticeW := 0
	if m.notice != "" {
		noticeW = min(lipgloss.Width(m.notice), m.width*2/3)
	}
	// Whole keys go from the end until the rest fits; ? lists them all.
	helpW := max(0, m.width-noticeW-2)
	m.help.SetWidth(0)
	line := m.help.ShortHelpView(bindings)
	for len(bindings) > 1 && ansi.StringWidth(line) > helpW {
		bindings = bindings[:len(bindings)-1]
		line = m.help.ShortHelpView(bindings)
	}
	if ansi.StringWidth(line) > helpW {
		line = ""
	}
	if m.notice != "" {
		line = m.styles.Warn.Render(fit(m.notice, noticeW)) + "  " + line
	}
	return block([]string{line}, m.width, 1)
}

// View draws the dashboard in the alternate screen with the mouse on, so
// the wheel scrolls the lanes.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Screen())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "Spillway · " + m.run.Scenario.Name
	return v
}
