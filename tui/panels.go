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

// fit cuts plain text to width cells, marking the cut with …, and pads it.
func fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	s = ansi.Truncate(s, width, "…")
	return s + strings.Repeat(" ", width-lipgloss.Width(s))
}

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

// header draws the title, the backend, the clock and the counters.
func (m *Model) header(width int) string {
	s, st := m.run.Scenario, m.styles
	title := fit(fmt.Sprintf("Spillway · %s — %s", s.Name, s.Title), width)
	desc := strings.Join(strings.Fields(s.Description), " ")
	badge, rest := m.run.Badge, m.run.Backend
	style := st.Simulated
	if m.run.Live {
		style = st.Live
	}
	clock := fmt.Sprintf(" · speed %s · %s · seed %d", engine.SpeedText(m.snap.Speed), seconds(m.now()), m.run.Seed)
	if m.snap.Paused {
		clock += " · " + st.Paused.Render(" PAUSED ")
	}
	backendW := width - lipgloss.Width(badge) - 3 - lipgloss.Width(clock)
	line3 := style.Render(" "+badge+" ") + " " + fit(rest, max(0, backendW)) + clock
	c := m.state.counts
	counters := fmt.Sprintf("sent %d · in flight %d · succeeded %d · fell back %d · rate-limited %d · failed %d",
		c.Sent, c.InFlight, c.Succeeded, c.FellBack, c.RateLimited, c.Failed)
	if m.state.ended {
		counters += " · done"
		if m.state.interrupted {
			counters += " (interrupted)"
		}
	}
	line2 := st.Dim.Render(fit(desc, width))
	if len(m.state.faults) > 0 {
		// An active fault replaces the description: it is what the
		// audience must not miss.
		var names []string
		for _, f := range m.state.faults {
			names = append(names, fmt.Sprintf("%s (since %s)", f.Fault, seconds(m.state.faultAt[f.ID])))
		}
		line2 = st.Error.Render(fit("FAULTS: "+strings.Join(names, " · "), width))
	}
	return strings.Join([]string{st.Title.Render(title), line2, line3, fit(counters, width)}, "\n")
}

// lanesPanel draws one row per request on a shared time axis, newest at
// the bottom unless the user scrolled back. It owns that scrolling.
type lanesPanel struct {
	follow    bool
	scrollEnd int // last visible lane when not following
}

// key scrolls by a page, or goes back to following the newest lanes.
func (p *lanesPanel) key(msg tea.KeyPressMsg, k KeyMap, total, rows int) {
	switch {
	case key.Matches(msg, k.PageUp):
		p.scroll(-rows, total, rows)
	case key.Matches(msg, k.PageDown):
		p.scroll(rows, total, rows)
	case key.Matches(msg, k.Live):
		p.follow = true
	}
}

// wheel scrolls by three lanes a notch.
func (p *lanesPanel) wheel(msg tea.MouseWheelMsg, total, rows int) {
	switch msg.Button {
	case tea.MouseWheelUp:
		p.scroll(-3, total, rows)
	case tea.MouseWheelDown:
		p.scroll(3, total, rows)
	}
}

func (p *lanesPanel) scroll(by, total, rows int) {
	if p.follow {
		p.scrollEnd = total
	}
	p.scrollEnd = min(total, max(rows, p.scrollEnd+by))
	p.follow = p.scrollEnd >= total && by > 0
}

// View draws the lanes. Only visible lanes are formatted, so its cost does
// not grow with the run.
func (p *lanesPanel) View(s *runState, now time.Duration, st Styles, width, height int) string {
	axis := max(now, time.Second)
	lines := []string{st.Bold.Render(fit(fmt.Sprintf("Requests · time axis 0–%s simulated", seconds(axis)), width))}
	key := legend(st, width)
	if height-1-len(key) < minLaneRows {
		// A small window keeps lanes before the legend; the glyphs also
		// differ by shape, and the README lists them.
		key = nil
	}
	for _, line := range key {
		lines = append(lines, fit(line, width))
	}
	rows := max(1, height-len(lines))
	all := s.lanes
	end := len(all)
	if !p.follow {
		end = min(len(all), max(rows, p.scrollEnd))
	}
	start := max(0, end-rows)
	if start > 0 && rows > 1 {
		// Thousands of lanes: the older ones become one line of totals.
		start = max(0, end-(rows-1))
		lines[0] = st.Bold.Render(fit(fmt.Sprintf("Requests %d–%d of %d · time axis 0–%s simulated", start+1, end, len(all), seconds(axis)), width))
		lines = append(lines, st.Dim.Render(fit(olderSummary(s, start), width)))
	}
	infoW := min(40, max(26, width/3))
	labelW := 12
	barW := max(4, width-labelW-infoW-2)
	for i := start; i < end; i++ {
		l := &all[i]
		label := fit(fmt.Sprintf("#%d %s", l.ID, l.Tenant), labelW)
		lines = append(lines, label+bar(l, st, now, axis, barW)+"  "+fit(laneInfo(l), infoW))
	}
	return blockOfFull(lines, width, height)
}

// minLaneRows is the fewest lane rows the panel gives up its legend for.
const minLaneRows = 3

// olderSummary is one line for the lanes above the visible ones.
func olderSummary(s *runState, start int) string {
	o, inFlight := s.summarise(start)
	line := fmt.Sprintf("▲ %d earlier: %d primary · %d fallback · %d rate-limited · %d failed",
		start, o[Primary], o[Fallback], o[RateLimited], o[Failed]+o[TimedOut])
	if o[Cancelled] > 0 {
		line += fmt.Sprintf(" · %d cancelled", o[Cancelled])
	}
	if inFlight > 0 {
		line += fmt.Sprintf(" · %d in flight", inFlight)
	}
	return line
}

func laneInfo(l *Lane) string {
	if l.Deployment == "" {
		return ""
	}
	info := l.Deployment
	if l.Region != "" {
		info += " " + l.Region
	}
	if l.Done {
		info += " " + seconds(l.Latency)
	}
	return info
}

// bar draws a lane's segments on the time axis. Every segment keeps at
// least one cell of its own, in order: a skip takes no time and a throttle
// very little, and the attempt that follows at the same instant would
// otherwise hide them. A lane may run a cell or two right of its time for
// it; what happened stays visible.
func bar(l *Lane, st Styles, now, axis time.Duration, width int) string {
	cells := make([]int8, width)
	for i := range cells {
		cells[i] = -1
	}
	col := func(d time.Duration) int { return min(width-1, int(float64(d)/float64(axis)*float64(width))) }
	next := 0 // the first cell the next segment may take
	for _, seg := range l.Segments {
		end := seg.End
		if seg.Open {
			end = now
		}
		first := min(width-1, max(next, col(seg.Start)))
		last := max(first, col(end))
		if seg.Kind.isSkip() {
			last = first
		}
		for c := first; c <= last; c++ {
			cells[c] = int8(seg.Kind)
		}
		next = last + 1
	}
	// The reason is the lane's caption, in the free cells after its last
	// segment, or before its first when only there is it whole.
	start, end := 0, width
	before, after := "", ""
	if l.Why != "" {
		first, last := -1, -1
		for c, k := range cells {
			if k >= 0 {
				if first < 0 {
					first = c
				}
				last = c
			}
		}
		need := lipgloss.Width(l.Why)
		rightRoom, leftRoom := width-last-2, first-1
		switch {
		case rightRoom >= need || rightRoom >= leftRoom && rightRoom >= minWhyCells:
			end, after = last+1, " "+fit(l.Why, rightRoom)
		case leftRoom >= minWhyCells:
			text := ansi.Truncate(l.Why, leftRoom, "…")
			start, before = first, strings.Repeat(" ", first-1-lipgloss.Width(text))+text+" "
		}
	}
	var b strings.Builder
	if before != "" {
		b.WriteString(st.dimPaint.on(before))
	}
	for i := start; i < end; {
		j := i
		for j < end && cells[j] == cells[i] {
			j++
		}
		if cells[i] < 0 {
			b.WriteString(strings.Repeat(" ", j-i))
		} else {
			k := SegmentKind(cells[i])
			b.WriteString(st.segmentPaint[k].on(strings.Repeat(glyphs[k], j-i)))
		}
		i = j
	}
	if after != "" {
		b.WriteString(st.dimPaint.on(after))
	}
	return b.String()
}

// minWhyCells is the least room worth writing a lane's reason in.
const minWhyCells = 8

// legend names every segment kind, on as many lines as the width needs.
func legend(st Styles, width int) []string {
	var lines []string
	var line string
	used := 0
	for k := Primary; k <= Cancelled; k++ {
		w := lipgloss.Width(glyphs[k]+" "+kindNames[k]) + 1
		if used > 0 && used+w > width {
			lines, line, used = append(lines, line), "", 0
		}
		line += st.Segment[k].Render(glyphs[k]) + " " + kindNames[k] + " "
		used += w
	}
	return append(lines, line)
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
	switch {
	case key.Matches(msg, k.RaiseRPM):
		return engine.AdjustRPM{Bucket: b.ID, Delta: 1}, ""
	case key.Matches(msg, k.LowerRPM):
		return engine.AdjustRPM{Bucket: b.ID, Delta: -1}, ""
	case key.Matches(msg, k.RaiseRPM10):
		return engine.AdjustRPM{Bucket: b.ID, Delta: 10}, ""
	case key.Matches(msg, k.LowerRPM10):
		return engine.AdjustRPM{Bucket: b.ID, Delta: -10}, ""
	case key.Matches(msg, k.RaiseRate, k.LowerRate) && b.Rate == 0:
		return nil, fmt.Sprintf("%s has no arrival rate to tune; { and } tune constant or Poisson tenants", b.ID)
	case key.Matches(msg, k.RaiseRate):
		return engine.ScaleRate{Bucket: b.ID, Factor: rateStep}, ""
	case key.Matches(msg, k.LowerRate):
		return engine.ScaleRate{Bucket: b.ID, Factor: 1 / rateStep}, ""
	}
	return nil, ""
}

// rateStep is what } multiplies a tenant's arrival rate by, and { divides
// it by.
const rateStep = 1.1

// View draws the gauges, the selected one highlighted.
func (p *bucketsPanel) View(levels []engine.BucketLevel, now time.Duration, st Styles, width, height int) string {
	lines := []string{st.Bold.Render(fit("Buckets · fill or health · left/capacity · RPM · limiter · ok/refused or skipped", width))}
	const restW = 41 // " 18.0/25      25 fixed-window ok 7 rej 0"
	nameW := min(22, max(14, width-2-1-8-restW))
	gaugeW := max(4, min(20, width-2-nameW-1-restW))
	for i, b := range levels {
		mark := "  "
		if i == p.selected {
			mark = "▶ "
		}
		full := int(math.Round(b.Fill() * float64(gaugeW)))
		gauge := st.GaugeFull.Render(strings.Repeat("█", full)) + st.GaugeEmpty.Render(strings.Repeat("░", gaugeW-full))
		if b.Health != engine.Healthy {
			// Health replaces the gauge: a deployment in cooldown or with
			// an open circuit is not picked, whatever its fill.
			state := b.Health
			if left := b.HealthUntil - now; b.HealthUntil > 0 && left > 0 {
				state += " " + seconds(left) + " left"
			}
			gauge = st.Warn.Render(fit(state, gaugeW))
		}
		capacity, rpm := "∞", "∞"
		if !b.RPM.IsUnlimited() {
			capacity, rpm = fmt.Sprintf("%.1f/%.0f", b.Available, b.Capacity), b.RPM.String()
		}
		label := string(b.ID)
		if b.Rate > 0 { // a tenant's arrival rate, tunable with { and }
			label += " " + engine.RateText(b.Rate) + "/min"
		}
		name := fit(label, nameW)
		if i == p.selected {
			name = st.Selected.Render(name)
		}
		// A tenant's bucket refuses requests; a deployment's is passed over
		// by the pick, which is a skip, not a refusal.
		refusals := "rej"
		if strings.HasPrefix(string(b.ID), engine.DeploymentBucket) {
			refusals = "skip"
		}
		rest := fmt.Sprintf(" %-9s %5s %-12s ok %d %s %d", capacity, rpm, b.Semantic, b.Admitted, refusals, b.Rejected)

		lines = append(lines, mark+name+" "+gauge+fit(rest, max(0, width-2-nameW-1-gaugeW)))
	}
	return block(lines, width, height)
}

// regions draws each account's Region histogram from the latest poll.
func (m *Model) regions(width, height int) string {
	st := m.styles
	// While a fault is on, the bars show the last minute, where an outage
	// shows at once; otherwise the run since its start. Both numbers are
	// always there.
	recentBars := len(m.state.faults) > 0
	scope := "bars: since start"
	if recentBars {
		scope = fmt.Sprintf("bars: last %.0fs, a fault is on", recentWindow.Seconds())
	}
	lines := []string{st.Bold.Render(fit("Regions · invocation logs · "+scope, width))}
	if len(m.state.accounts) == 0 {
		lines = append(lines, st.Dim.Render(fit("Waiting for logs… no poll yet", width)))
	}
	for _, name := range m.state.accounts {
		p := m.state.polls[name]
		head := fmt.Sprintf("%s %s · polled at %s", name, m.masked[name], seconds(m.state.pollAt[name]))
		switch {
		case p.Unaccounted > 0 && p.TimedOut:
			head += fmt.Sprintf(" · gave up: %d never appeared", p.Unaccounted)
		case p.Unaccounted > 0:
			head += fmt.Sprintf(" · %d not in the logs yet", p.Unaccounted)
		case p.Final:
			head += " · complete"
		}
		lines = append(lines, fit(head, width))
		if p.Error != "" {
			lines = append(lines, st.Error.Render(fit("  "+p.Error, width)))
		}
		total := p.Total()
		if total == 0 && p.Error == "" {
			lines = append(lines, st.Dim.Render(fit("  Waiting for logs…", width)))
			continue
		}
		recent := m.state.recent(name, recentWindow)
		recentTotal := 0
		for _, n := range recent {
			recentTotal += n
		}
		since := map[string]int{}
		for _, c := range p.Counts {
			since[c.Region] = c.Count
		}
		regions := slices.Clone(m.run.Regions)
		for _, c := range p.Counts {
			if !slices.Contains(regions, c.Region) {
				regions = append(regions, c.Region)
			}
		}
		slices.Sort(regions)
		barW := max(4, width-49)
		lines = append(lines, st.Dim.Render(fit(fmt.Sprintf("  %-14s %s %5s %6s %8s", "", strings.Repeat(" ", barW), "calls", "share", fmt.Sprintf("last %.0fs", recentWindow.Seconds())), width)))
		for _, region := range regions {
			share := float64(since[region]) / float64(max(1, total))
			barShare := share
			if recentBars {
				barShare = float64(recent[region]) / float64(max(1, recentTotal))
			}
			n := int(math.Round(barShare * float64(barW)))
			down := "      "
			if m.state.regionDown(region) {
				down = st.Error.Render(" DOWN ")
			}
			lines = append(lines, fmt.Sprintf("  %-14s %s%s %5d %5.1f%% %8d", fit(region, 14),
				st.Bar.Render(strings.Repeat("█", n)), strings.Repeat(" ", barW-n), since[region], share*100, recent[region])+down)
		}
	}
	return block(lines, width, height)
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
