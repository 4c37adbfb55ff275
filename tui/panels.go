package tui

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"spillway/engine"
	"spillway/scenarios"
)

// blockOfFull is block for lines already exactly width cells wide, as fit
// makes them: it pads only the missing lines, so a panel drawn every frame
// is not measured twice.
func blockOfFull(lines []string, width, height int) string {
	for len(lines) < height {
		lines = append(lines, strings.Repeat(" ", width))
	}
	return strings.Join(lines[:height], "\n")
}

// block pads or cuts lines to exactly height lines.
func block(lines []string, width, height int) string {
	for len(lines) < height {
		lines = append(lines, "")
	}
	lines = lines[:height]
	for i, l := range lines {
		if w := lipgloss.Width(l); w < width {
			lines[i] = l + strings.Repeat(" ", width-w)
		}
	}
	return strings.Join(lines, "\n")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// header draws the title, the backend, the clock and the counters. A
// tall window also gets the scenario's description; any fault in effect
// takes its place, or the title's on a short window, since it is what the
// audience must not miss.
func (m *Model) header(width int) string {
	s, st := m.run.Scenario, m.styles
	title := st.Title.Render(fit(fmt.Sprintf("Spillway · %s — %s", s.Name, s.Title), width))
	var faults string
	if len(m.state.faults) > 0 {
		var names []string
		for _, f := range m.state.faults {
			since := time.Duration(0)
			if span := m.state.span(f.ID); span != nil {
				since = span.from
			}
			names = append(names, fmt.Sprintf("%s (since %s)", f.Fault, seconds(since)))
		}
		faults = "FAULTS: " + strings.Join(names, " · ")
	}
	lines := []string{title}
	switch {
	case m.headerHeight() == 4 && faults != "":
		lines = append(lines, st.Error.Render(fit(faults, width)))
	case m.headerHeight() == 4:
		lines = append(lines, st.Dim.Render(fit(strings.Join(strings.Fields(s.Description), " "), width)))
	case faults != "":
		// The window's title names the scenario; the line is the fault's.
		lines[0] = st.Error.Render(fit(faults, width))
	}
	badge := m.run.Badge
	style := st.Simulated
	if m.run.Live {
		style = st.Live
	}
	// The clock comes before the backend's words: the badge says what
	// the backend is, and a narrow window leaves out the seed first.
	paused := ""
	if m.snap.Paused {
		paused = st.Paused.Render(" PAUSED ")
	}
	badgeW := lipgloss.Width(badge) + 2
	shared := ""
	if m.run.SharedBadge != "" {
		switch {
		case m.state.sharedDown:
			shared = " " + st.Error.Render(" "+m.run.SharedBadge+" DOWN ")
		case m.state.replicas > 1:
			shared = " " + st.Simulated.Render(fmt.Sprintf(" %s · %d replicas ", m.run.SharedBadge, m.state.replicas))
		default:
			shared = " " + st.Simulated.Render(" "+m.run.SharedBadge+" ")
		}
		badgeW += lipgloss.Width(shared)
	}
	clock := joinFitting(width-badgeW-1, " · ", part{text: "speed " + engine.SpeedText(m.snap.Speed), rank: 1},
		part{text: m.clockText(), rank: 2}, part{text: fmt.Sprintf("seed %d", m.run.Seed), rank: 0}, part{text: paused, rank: 2})
	backendW := width - badgeW - 1 - 3 - lipgloss.Width(clock)
	rest := m.run.Backend
	if m.run.SharedDetail != "" {
		rest += " · limits shared in " + m.run.SharedDetail
	}
	if ansi.StringWidth(rest) > backendW && m.run.BackendBrief != "" {
		rest = m.run.BackendBrief
	}
	badges := style.Render(" "+badge+" ") + shared
	line := badges + " " + clock
	if backendW >= minBackendCells {
		line = badges + " " + strings.TrimRight(fit(rest, backendW), " ") + " · " + clock
	}
	lines = append(lines, block([]string{line}, width, 1))
	return strings.Join(append(lines, fit(m.counters(width), width)), "\n")
}

// clockText is the simulated time on screen; a replay's says how long
// the recorded run is too.
func (m *Model) clockText() string {
	if p := m.run.Replay; p != nil {
		return seconds(m.now()) + " of " + seconds(p.Length())
	}
	return seconds(m.now())
}

// minBackendCells is the least room worth giving the backend's words.
const minBackendCells = 8

// tallHeader is the least height that gives the header its description
// line; below it, lanes need the room more.
const tallHeader = 30

// headerHeight is 4 lines on a tall window, 3 otherwise.
func (m *Model) headerHeight() int {
	if m.height >= tallHeader {
		return 4
	}
	return 3
}

// counters is the header's totals line: with short labels, and then
// without counters that are still zero, when the width is short. A total
// is never cut.
func (m *Model) counters(width int) string {
	c := m.state.counts
	done := ""
	if m.state.ended {
		done = "done"
		if m.state.interrupted {
			done = "done (interrupted)"
		}
	}
	type counter struct {
		long, short string
		n           int
	}
	all := []counter{{"sent", "sent", c.Sent}, {"in flight", "in fl.", c.InFlight}, {"succeeded", "ok", c.Succeeded},
		{"fell back", "fell back", c.FellBack}, {"rate-limited", "rate-ltd", c.RateLimited}, {"failed", "failed", c.Failed}}
	line := func(short, dropZeros bool) string {
		parts := make([]string, 0, len(all)+1)
		for i, k := range all {
			if dropZeros && k.n == 0 && i > 0 {
				continue
			}
			label := k.long
			if short {
				label = k.short
			}
			parts = append(parts, fmt.Sprintf("%s %d", label, k.n))
		}
		if done != "" {
			parts = append(parts, done)
		}
		return strings.Join(parts, " · ")
	}
	// In flight goes first when it is zero: "done" says as much.
	if c.InFlight == 0 && (m.state.ended || c.Sent == 0) {
		all = slices.Delete(all, 1, 2)
	}
	for _, try := range [][2]bool{{false, false}, {true, false}, {false, true}} {
		if l := line(try[0], try[1]); ansi.StringWidth(l) <= width {
			return l
		}
	}
	return line(true, true)
}

// bucketsPanel draws a gauge for every tenant and deployment bucket. It
// owns which one is selected, and retunes it.
type bucketsPanel struct {
	selected int
}

// key moves the selection, or returns the intent that retunes the selected
// bucket; a key that cannot apply to it gives a notice instead.
func (p *bucketsPanel) key(msg tea.KeyPressMsg, k KeyMap, levels []engine.BucketLevel) (engine.Intent, string) {
	switch {
	case key.Matches(msg, k.Up):
		p.selected = max(0, p.selected-1)
		return nil, ""
	case key.Matches(msg, k.Down):
		p.selected = min(len(levels)-1, p.selected+1)
		return nil, ""
	}
	if p.selected < 0 || p.selected >= len(levels) {
		return nil, ""
	}
	b := levels[p.selected]
	// A TPM limit is thousands of tokens: the same keys step it by a
	// thousand, and ten thousand.
	step := 1
	if b.ID.Tokens() {
		step = tpmStep
	}
	switch {
	case key.Matches(msg, k.RaiseRPM):
		return engine.AdjustRPM{Bucket: b.ID, Delta: step}, ""
	case key.Matches(msg, k.LowerRPM):
		return engine.AdjustRPM{Bucket: b.ID, Delta: -step}, ""
	case key.Matches(msg, k.RaiseRPM10):
		return engine.AdjustRPM{Bucket: b.ID, Delta: 10 * step}, ""
	case key.Matches(msg, k.LowerRPM10):
		return engine.AdjustRPM{Bucket: b.ID, Delta: -10 * step}, ""
	case key.Matches(msg, k.RaiseRate, k.LowerRate) && b.Rate == 0:
		return nil, fmt.Sprintf("%s has no arrival rate to tune; { and } tune constant or Poisson tenants", b.ID)
	case key.Matches(msg, k.RaiseRate):
		return engine.ScaleRate{Bucket: b.ID, Factor: rateStep}, ""
	case key.Matches(msg, k.LowerRate):
		return engine.ScaleRate{Bucket: b.ID, Factor: 1 / rateStep}, ""
	}
	return nil, ""
}

// tokensLeft is a TPM bucket's tokens left of its capacity, in thousands
// where the capacity is: "1.9k/20k". A settlement can leave it below zero.
func tokensLeft(available, capacity float64) string {
	if capacity < 10_000 {
		return fmt.Sprintf("%.0f/%.0f", available, capacity)
	}
	return fmt.Sprintf("%.1fk/%.0fk", available/1e3, capacity/1e3)
}

// limitsHead names the limit column: RPM, or RPM and TPM when a bucket
// counts tokens.
func limitsHead(levels []engine.BucketLevel) string {
	for _, l := range levels {
		if l.ID.Tokens() {
			return "RPM and TPM"
		}
	}
	return "RPM"
}

// tpmStep is what + and - move a TPM limit by.
const tpmStep = 1000

// rateStep is what } multiplies a tenant's arrival rate by, and { divides
// it by.
const rateStep = 1.1

// View draws the gauges, the selected one highlighted: a row per bucket
// of name, fill (or health), budget left of its capacity, RPM, limiter,
// when a fixed window resets, and what it let through and refused or
// skipped. Where the width is short, labels shorten and then whole
// columns go; a number or a name is never cut.
func (p *bucketsPanel) View(levels []engine.BucketLevel, now time.Duration, st Styles, width, height int) string {
	const (
		colName = iota
		colRate
		colLeft
		colRPM
		colLimiter
		colWindow
		colOK
		colRefused
		colCount
	)
	t := newTable(colCount, len(levels))
	health := make([]string, len(levels))
	healthW := 0
	for i, b := range levels {
		name := string(b.ID)
		t.set(colName, i, name, strings.Replace(name, engine.DeploymentBucket, "dep/", 1))
		if b.Rate > 0 { // a tenant's arrival rate, tunable with { and }
			t.set(colRate, i, engine.RateText(b.Rate)+"/min", "")
		}
		capacity, rpm := "∞", "∞"
		switch {
		case b.RPM.IsUnlimited():
		case b.ID.Tokens():
			// How a TPM bucket counts sits with its limit, which never
			// leaves the table: engineers ask which they are looking at.
			capacity, rpm = tokensLeft(b.Available, b.Capacity), b.RPM.String()+" ("+string(b.Counting)+")"
		default:
			capacity, rpm = fmt.Sprintf("%.1f/%.0f", b.Available, b.Capacity), b.RPM.String()
		}
		t.set(colLeft, i, capacity, "")
		t.set(colRPM, i, rpm, "")
		t.set(colLimiter, i, string(b.Semantic), strings.SplitN(string(b.Semantic), "-", 2)[0])
		if b.Semantic == scenarios.FixedWindow && !b.RPM.IsUnlimited() {
			// A full gauge right after a reset is the new window, not a
			// bucket that was never used; say so.
			if ago := fixedWindow - b.WindowResetsIn; ago < justReset && now >= fixedWindow {
				t.set(colWindow, i, "reset "+seconds(ago)+" ago", "new window")
			} else {
				t.set(colWindow, i, "resets in "+seconds(b.WindowResetsIn), "↻ in "+seconds(b.WindowResetsIn))
			}
		}
		t.set(colOK, i, fmt.Sprintf("ok %d", b.Admitted), "")
		// A tenant's bucket refuses requests; a deployment's is passed over
		// by the pick, which is a skip, not a refusal.
		refusals := "rej"
		if strings.HasPrefix(string(b.ID), engine.DeploymentBucket) {
			refusals = "skip"
		}
		t.set(colRefused, i, fmt.Sprintf("%s %d", refusals, b.Rejected), "")
		if b.Health != engine.Healthy {
			// Health replaces the gauge: a deployment in cooldown or with
			// an open circuit is not picked, whatever its fill.
			health[i] = b.Health
			if left := b.HealthUntil - now; b.HealthUntil > 0 && left > 0 {
				health[i] += " " + seconds(left) + " left"
			}
			healthW = max(healthW, ansi.StringWidth(health[i]))
		}
	}
	t.right[colLeft], t.right[colRPM] = true, true
	// The gauge takes what the columns leave, from a few cells up to 20.
	const gaugeLeast, gaugeMost = 6, 20
	gaugeLeast2 := max(gaugeLeast, healthW)
	room := func() int { return width - 2 - t.width() - 1 }
	for _, step := range []func(){
		func() { t.shorten(colLimiter) }, func() { t.shorten(colWindow) }, func() { t.shorten(colName) },
		func() { t.drop(colLimiter) }, func() { t.drop(colRate) }, func() { t.drop(colWindow) },
		func() { t.drop(colLeft) }, func() { gaugeLeast2 = gaugeLeast },
	} {
		if room() >= gaugeLeast2 {
			break
		}
		step()
	}
	gaugeW := min(gaugeMost, max(gaugeLeast, room()))
	title := joinFitting(width, " · ", part{text: "Buckets", rank: 2}, part{text: "fill or health", rank: 1}, part{text: "left/capacity", rank: 0}, part{text: limitsHead(levels), rank: 0},
		part{text: "limiter", rank: 0}, part{text: "ok and refused or skipped", rank: 0})
	lines := []string{st.Bold.Render(fit(title, width))}
	for i, b := range levels {
		mark := "  "
		if i == p.selected {
			mark = "▶ "
		}
		full := int(math.Round(b.Fill() * float64(gaugeW)))
		gauge := st.GaugeFull.Render(strings.Repeat("█", full)) + st.GaugeEmpty.Render(strings.Repeat("░", gaugeW-full))
		if health[i] != "" {
			gauge = st.Warn.Render(fit(health[i], gaugeW))
		}
		name := t.row(i, colName, colRate+1)
		if i == p.selected {
			name = st.Selected.Render(name)
		}
		lines = append(lines, block([]string{mark + name + " " + gauge + " " + t.row(i, colLeft, colCount)}, width, 1))
	}
	return block(lines, width, height)
}

// fixedWindow is a fixed-window bucket's window: a minute, as RPM says.
const fixedWindow = time.Minute

// justReset is how long after a fixed window resets the panel says so: a
// third of the window, so a run that ends soon after still explains its
// full gauge.
const justReset = 20 * time.Second

// regions draws each account's Region histogram from the latest poll: a
// line for the account, with the columns' names at its right, and a line
// for every Region the run's profiles reach, 0 where it had no calls.
func (m *Model) regions(width, height int) string {
	st := m.styles
	// While a fault is on, the bars show the last minute, where an outage
	// shows at once; otherwise the run since its start. Both numbers are
	// always there.
	recentBars := len(m.state.faults) > 0
	scope := part{text: "bars: whole run", rank: 3}
	if recentBars {
		scope = part{text: "bars: last " + durationText(recentWindow), rank: 3}
	}
	regionW := 0
	for _, name := range m.state.accounts {
		for _, region := range m.regionsOf(m.state.polls[name]) {
			regionW = max(regionW, len(region))
		}
	}
	// Each Region's outages: DOWN while one is on, and when it was down
	// after, so an outage that is over still shows.
	marks := map[string]string{}
	markW := 0
	// In the order they started, so the latest outage of a Region is the
	// one it shows, the same on every frame.
	for _, span := range m.state.spans {
		f := span.fault
		if f.Kind != scenarios.RegionOutage {
			continue
		}
		mark := "DOWN since " + durationText(span.from)
		if span.over {
			mark = "down " + durationText(span.from) + "–" + durationText(span.to)
		}
		if !strings.HasPrefix(marks[f.Region], "DOWN") {
			marks[f.Region] = mark
		}
		markW = max(markW, ansi.StringWidth(mark)+1)
	}
	columns := fmt.Sprintf(" %6s %6s %8s%*s", "calls", "share", "last "+durationText(recentWindow), markW, "")
	barW := max(4, width-2-regionW-1-ansi.StringWidth(columns))
	var lines []string
	if len(m.state.accounts) == 0 {
		lines = append(lines, st.Bold.Render(fit("Regions · waiting for the first poll of the invocation logs", width)))
	}
	for i, name := range m.state.accounts {
		p := m.state.polls[name]
		status := ""
		switch {
		case p.Unaccounted > 0 && p.TimedOut:
			status = fmt.Sprintf("gave up: %d never appeared", p.Unaccounted)
		case p.Unaccounted > 0:
			status = fmt.Sprintf("%d not in the logs yet", p.Unaccounted)
		case p.Final:
			status = "complete"
		}
		title := ""
		if i == 0 {
			title = "Regions"
		}
		head := joinFitting(width-ansi.StringWidth(columns)-1, " · ", part{text: title, rank: 4}, part{text: name, rank: 4},
			part{text: m.masked[name], rank: 2, glue: true}, part{text: "polled " + seconds(m.state.pollAt[name]), rank: 1}, part{text: status, rank: 0}, scope)
		lines = append(lines, st.Bold.Render(fit(head, width-ansi.StringWidth(columns)))+st.Dim.Render(columns))
		if p.Error != "" {
			lines = append(lines, st.Error.Render(fit("  "+p.Error, width)))
		}
		total := p.Total()
		recent := m.state.recent(name, recentWindow)
		recentTotal := 0
		for _, n := range recent {
			recentTotal += n
		}
		since := map[string]int{}
		for _, c := range p.Counts {
			since[c.Region] = c.Count
		}
		if len(m.regionsOf(p)) == 0 {
			lines = append(lines, st.Dim.Render(fit("  no calls in the logs yet", width)))
		}
		for _, region := range m.regionsOf(p) {
			share := float64(since[region]) / float64(max(1, total))
			barShare := share
			if recentBars {
				barShare = float64(recent[region]) / float64(max(1, recentTotal))
			}
			n := int(math.Round(barShare * float64(barW)))
			down := strings.Repeat(" ", markW)
			switch mark := marks[region]; {
			case strings.HasPrefix(mark, "DOWN"):
				down = st.Error.Render(fit(" "+mark, markW))
			case mark != "":
				down = st.Warn.Render(fit(" "+mark, markW))
			}
			lines = append(lines, fmt.Sprintf("  %-*s %s%s %6d %5.1f%% %8d", regionW, region,
				st.Bar.Render(strings.Repeat("█", n)), strings.Repeat(" ", barW-n), since[region], share*100, recent[region])+down)
		}
	}
	return block(lines, width, height)
}

// regionsOf is every Region of the run's profiles and any other that p
// counted, in order.
func (m *Model) regionsOf(p *engine.RegionPoll) []string {
	regions := slices.Clone(m.run.Regions)
	for _, c := range p.Counts {
		if !slices.Contains(regions, c.Region) {
			regions = append(regions, c.Region)
		}
	}
	slices.Sort(regions)
	return regions
}

// regionsNeed is the Region histogram's height for the whole run: a line
// per account and one per Region it may reach, known from the start, so
// the panel does not grow as polls arrive and push lanes off the screen.
func (m *Model) regionsNeed() int {
	need := 0
	accounts := max(1, len(m.run.Scenario.Accounts))
	for i := range accounts {
		rows := len(m.run.Regions)
		if i < len(m.state.accounts) {
			p := m.state.polls[m.state.accounts[i]]
			rows = len(m.regionsOf(p))
			if p.Error != "" {
				rows++
			}
		}
		need += 1 + max(1, rows)
	}
	return need
}

// recentWindow is the Region histogram's recent window.
const recentWindow = time.Minute

// maskedIDs are the masked account ids by account name: the backend's
// resolved ids where it has them, the scenario's otherwise.
func maskedIDs(s *scenarios.Scenario, override map[string]string) map[string]string {
	out := map[string]string{}
	for _, a := range s.Accounts {
		out[a.Name] = scenarios.MaskAccountID(a.AccountID)
		if id, ok := override[a.Name]; ok {
			out[a.Name] = scenarios.MaskAccountID(id)
		}
	}
	return out
}
