package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"spillway/engine"
	"spillway/scenarios"
)

// Controls is what the dashboard may ask of a running engine besides its
// events: bucket levels to draw, and retuning a bucket.
type Controls interface {
	Buckets() []engine.BucketLevel
	SetRPM(engine.BucketID, scenarios.RPM) error
}

// Options describe the run the dashboard shows.
type Options struct {
	Scenario *scenarios.Scenario
	Badge    string // SIMULATED, EMULATOR or LIVE: what nobody may miss
	Backend  string // the rest of the backend's header line
	Live     bool   // real AWS: the badge is drawn in the alarm colour
	Seed     uint64
	Speed    float64
	// AccountIDs are the account ids the backend resolved, by account name;
	// the scenario's own ids are used for the rest.
	AccountIDs map[string]string
}

// Minimum usable terminal; below it the dashboard asks for a larger window.
const (
	minWidth  = 60
	minHeight = 16
)

// frameRate is how often the dashboard drains the feed and redraws.
const frameRate = 30

type frameMsg time.Time

func frame() tea.Cmd {
	return tea.Tick(time.Second/frameRate, func(t time.Time) tea.Msg { return frameMsg(t) })
}

// Model is the root of the dashboard. Its panels draw from runState, which
// is built only from engine events, and from bucket levels read through
// Controls.
type Model struct {
	feed     *Feed
	ctl      Controls
	scenario *scenarios.Scenario
	badge    string
	backend  string
	live     bool
	seed     uint64
	speed    float64
	masked   map[string]string

	state     *runState
	levels    []engine.BucketLevel
	selected  int
	follow    bool
	scrollEnd int // last visible lane when not following

	width, height int
	styles        Styles
	keys          KeyMap
	help          help.Model
	showHelp      bool
	notice        string
	Quit          bool // the user asked to quit
}

// New builds the dashboard for a run whose events arrive in feed.
func New(feed *Feed, ctl Controls, o Options) *Model {
	m := &Model{
		feed: feed, ctl: ctl, scenario: o.Scenario, badge: o.Badge, backend: o.Backend, live: o.Live,
		seed: o.Seed, speed: o.Speed, masked: maskedIDs(o.Scenario, o.AccountIDs),
		state: newRunState(), follow: true, width: 80, height: 24,
		styles: NewStyles(true), keys: DefaultKeyMap(), help: help.New(),
	}
	m.levels = ctl.Buckets()
	return m
}

// Init starts the frame clock and asks for the background colour.
func (m *Model) Init() tea.Cmd { return tea.Batch(frame(), tea.RequestBackgroundColor) }

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case frameMsg:
		m.Refresh()
		return m, frame()
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.BackgroundColorMsg:
		m.styles = NewStyles(msg.IsDark())
		m.help.Styles = help.DefaultStyles(msg.IsDark())
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.scroll(-3)
		case tea.MouseWheelDown:
			m.scroll(3)
		}
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// Refresh drains the feed into the dashboard's state and rereads the
// buckets. The frame tick calls it; tests call it directly.
func (m *Model) Refresh() {
	for _, ev := range m.feed.Drain() {
		m.state.apply(ev)
	}
	m.levels = m.ctl.Buckets()
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		m.Quit = true
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.showHelp = !m.showHelp
	case key.Matches(msg, k.Up):
		m.selected = max(0, m.selected-1)
	case key.Matches(msg, k.Down):
		m.selected = min(len(m.levels)-1, m.selected+1)
	case key.Matches(msg, k.RaiseRPM):
		m.retune(1)
	case key.Matches(msg, k.LowerRPM):
		m.retune(-1)
	case key.Matches(msg, k.RaiseRPM10):
		m.retune(10)
	case key.Matches(msg, k.LowerRPM10):
		m.retune(-10)
	case key.Matches(msg, k.PageUp):
		m.scroll(-m.laneRows())
	case key.Matches(msg, k.PageDown):
		m.scroll(m.laneRows())
	case key.Matches(msg, k.Live):
		m.follow = true
	}
	return nil
}

// retune changes the selected bucket's RPM by delta, through the engine.
func (m *Model) retune(delta int) {
	if m.selected < 0 || m.selected >= len(m.levels) {
		return
	}
	b := m.levels[m.selected]
	if b.RPM.IsUnlimited() {
		m.notice = fmt.Sprintf("%s is unlimited; give it a number in the scenario file to tune it", b.ID)
		return
	}
	rpm := max(1, b.RPM+scenarios.RPM(delta))
	if err := m.ctl.SetRPM(b.ID, rpm); err != nil {
		m.notice = err.Error()
		return
	}
	m.notice = fmt.Sprintf("%s → %s RPM", b.ID, rpm)
	m.levels = m.ctl.Buckets()
}

func (m *Model) scroll(by int) {
	n := len(m.state.lanes)
	if m.follow {
		m.scrollEnd = n
	}
	m.scrollEnd = min(n, max(m.laneRows(), m.scrollEnd+by))
	m.follow = m.scrollEnd >= n && by > 0
}

// layout is where each panel goes for the current size.
type layout struct {
	bodyH, lanesW, lanesH, sideW, bucketsH, regionsH int
	side                                             bool // buckets and regions beside the lanes
}

func (m *Model) layout() layout {
	footerH := 1
	if m.showHelp {
		footerH = 4
	}
	l := layout{bodyH: m.height - 4 - footerH}
	regionsNeed := 2
	for _, name := range m.state.accounts {
		p := m.state.polls[name]
		regionsNeed += 1 + max(1, len(p.Counts))
		if p.Error != "" {
			regionsNeed++
		}
	}
	bucketsNeed := len(m.levels) + 1
	if m.width >= 120 {
		l.side = true
		l.sideW = m.width * 9 / 20
		l.lanesW, l.lanesH = m.width-l.sideW-1, l.bodyH
		l.bucketsH = min(bucketsNeed, l.bodyH/2)
		l.regionsH = l.bodyH - l.bucketsH
		return l
	}
	l.lanesW, l.sideW = m.width, m.width
	l.bucketsH = min(bucketsNeed, l.bodyH/3)
	l.regionsH = min(regionsNeed, l.bodyH/3)
	l.lanesH = l.bodyH - l.bucketsH - l.regionsH
	return l
}

func (m *Model) laneRows() int { return max(1, m.layout().lanesH-1-len(m.legend(m.layout().lanesW))) }

// Screen is the whole dashboard as text, with styles; View wraps it.
func (m *Model) Screen() string {
	if m.width < minWidth || m.height < minHeight {
		msg := fmt.Sprintf("Spillway needs a window of at least %d×%d; this one is %d×%d.\nMake the window larger, or press q to quit.",
			minWidth, minHeight, m.width, m.height)
		return lipgloss.Place(m.width, m.height, lipgloss.Center, lipgloss.Center, msg)
	}
	l := m.layout()
	lanes := m.lanes(l.lanesW, l.lanesH)
	buckets := m.buckets(l.sideW, l.bucketsH)
	regions := m.regions(l.sideW, l.regionsH)
	var body string
	if l.side {
		sep := strings.TrimSuffix(strings.Repeat("│\n", l.bodyH), "\n")
		body = lipgloss.JoinHorizontal(lipgloss.Top, lanes, m.styles.Dim.Render(sep), lipgloss.JoinVertical(lipgloss.Left, buckets, regions))
	} else {
		body = lipgloss.JoinVertical(lipgloss.Left, lanes, buckets, regions)
	}
	return lipgloss.JoinVertical(lipgloss.Left, m.header(m.width), body, m.footer())
}

func (m *Model) footer() string {
	m.help.SetWidth(m.width)
	if m.showHelp {
		return block(strings.Split(m.help.FullHelpView(m.keys.FullHelp()), "\n"), m.width, 4)
	}
	line := m.help.ShortHelpView(m.keys.ShortHelp())
	if m.notice != "" {
		line = m.styles.Warn.Render(fit(m.notice, m.width/2)) + "  " + line
	}
	return block([]string{line}, m.width, 1)
}

// View draws the dashboard in the alternate screen with the mouse on, so
// the wheel scrolls the lanes.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Screen())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "Spillway · " + m.scenario.Name
	return v
}
