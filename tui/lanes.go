package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// timeWindows are the spans of simulated time the lanes' axis can show.
// z steps down the list and Z up it, and one step past the end shows the
// whole run.
var timeWindows = []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour,
	2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// leastAutoWindow is the shortest window the axis picks by itself: a
// minute, so bars keep their scale while a run starts.
const leastAutoWindow = 4

// autoWindow is the zoom that picks the window by itself.
const autoWindow = -1

// lanesPanel draws one row per request on a time axis that slides with the
// run, newest at the bottom unless the user scrolled back. It owns the
// scrolling and the axis's zoom.
type lanesPanel struct {
	follow    bool
	scrollEnd int // last visible lane when not following
	// zoom is an index into timeWindows, len(timeWindows) for the whole
	// run, or autoWindow: the shortest window from a minute up that holds
	// the requests in view, so it steps rarely and bars keep their width.
	zoom int
	auto int // the window autoWindow picked last, where z and Z step from
}

// window is the span the axis shows for lanes in view that arrived from
// earliest to latest, or whole when it shows the run from its start.
func (p *lanesPanel) window(earliest, latest time.Duration) (span time.Duration, whole bool) {
	switch {
	case p.zoom == autoWindow:
		p.auto = leastAutoWindow
		for p.auto < len(timeWindows)-1 && timeWindows[p.auto] < latest-earliest {
			p.auto++
		}
		return timeWindows[p.auto], false
	case p.zoom >= len(timeWindows):
		return 0, true
	}
	return timeWindows[p.zoom], false
}

// zoomBy narrows (negative) or widens the window by steps and says what
// it shows now.
func (p *lanesPanel) zoomBy(steps int) string {
	from := p.zoom
	if from == autoWindow {
		// From the window on screen; never shorter than the least it
		// picks, even before the lanes were first drawn.
		from = max(p.auto, leastAutoWindow)
	}
	p.zoom = min(len(timeWindows), max(0, from+steps))
	if p.zoom < len(timeWindows) {
		return "lanes show the last " + durationText(timeWindows[p.zoom]) + "; z narrows, Z widens, End fits the lanes in view"
	}
	return "lanes show the whole run; z narrows, End fits the lanes in view"
}

// key scrolls by a page, goes back to following the newest lanes, or
// zooms the time axis.
func (p *lanesPanel) key(msg tea.KeyPressMsg, k KeyMap, total, rows int) string {
	switch {
	case key.Matches(msg, k.PageUp):
		p.scroll(-rows, total, rows)
	case key.Matches(msg, k.PageDown):
		p.scroll(rows, total, rows)
	case key.Matches(msg, k.Live):
		p.follow, p.zoom = true, autoWindow
	case key.Matches(msg, k.ZoomIn):
		return p.zoomBy(-1)
	case key.Matches(msg, k.ZoomOut):
		return p.zoomBy(1)
	}
	return ""
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

// minLaneRows is the fewest lane rows the panel keeps beside its legend;
// a shorter panel gives the legend up for lanes. The glyphs also differ by
// shape, and the README lists them.
const minLaneRows = 8

// lanesPlan is how a lanes panel of some height divides its rows.
type lanesPlan struct {
	legend []string
	rows   int // lane rows, including the line for older lanes when there is one
}

func (p *lanesPanel) plan(s *runState, st Styles, width, height int) lanesPlan {
	pl := lanesPlan{legend: legend(st, &s.seen, width)}
	if height-1-len(pl.legend) < minLaneRows {
		pl.legend = nil
	}
	pl.rows = max(1, height-1-len(pl.legend))
	return pl
}

// View draws the lanes. Only visible lanes are formatted, so its cost does
// not grow with the run.
func (p *lanesPanel) View(s *runState, now time.Duration, st Styles, width, height int) string {
	pl := p.plan(s, st, width, height)
	all := s.lanes
	end := len(all)
	if !p.follow {
		end = min(len(all), max(pl.rows, p.scrollEnd))
	}
	start := max(0, end-pl.rows)
	older := start > 0 && pl.rows > 1
	if older {
		// Thousands of lanes: the older ones become one line of totals.
		start = max(0, end-(pl.rows-1))
	}
	visible := all[start:end]

	// The axis ends now, or where the visible lanes end when scrolled back.
	to := now
	if !p.follow {
		to = 0
		for i := range visible {
			to = max(to, visible[i].last(now))
		}
	}
	earliest := to
	if len(visible) > 0 {
		earliest = visible[0].Arrived
	}
	span, whole := p.window(earliest, to)
	from := time.Duration(0)
	if whole {
		to = max(to, time.Second)
	} else {
		to = max(to, span)
		from = to - span
	}
	ax := axis{from: from, to: to}

	labelW, infoW, infoOf := laneColumns(visible, width, s.tokensMatter)
	ax.cells = max(4, width-labelW-infoW-2)
	lines := make([]string, 0, height)
	caption := []part{{text: fmt.Sprintf("%d of %d", len(all), len(all)), rank: 2}, {text: "whole run", rank: 1}}
	if len(visible) > 0 {
		caption[0].text = fmt.Sprintf("%d–%d of %d", start+1, end, len(all))
	}
	if !whole {
		caption[1].text = "last " + durationText(span)
	}
	title := st.boldPaint.on(fit("Requests", labelW)) + ruler(s, ax, now, st) + "  " + st.boldPaint.on(fit(joinFitting(infoW, " · ", caption...), infoW))
	lines = append(lines, title)
	for _, line := range pl.legend {
		lines = append(lines, fit(line, width))
	}
	if older {
		lines = append(lines, st.dimPaint.on(fit(olderSummary(s, start), width)))
	}
	for i := range visible {
		l := &visible[i]
		label := fit(fmt.Sprintf("#%d %s", l.ID, l.Tenant), labelW)
		lines = append(lines, label+bar(l, st, now, ax)+"  "+fit(infoOf(l), infoW))
	}
	return blockOfFull(lines, width, height)
}

// last is when a lane's latest segment ends, or now if it is in flight.
func (l *Lane) last(now time.Duration) time.Duration {
	if n := len(l.Segments); n > 0 {
		if seg := l.Segments[n-1]; !seg.Open {
			return seg.End
		}
		return now
	}
	return l.Arrived
}

// laneColumns sizes the label and info columns for the visible lanes and
// says what the info column holds: the deployment, its Region and the
// latency when they fit, fewer of them when not, so the bar keeps a third
// of the width and nothing in the column is cut. Where tokens matter to the
// run, the request's tokens come first of all.
func laneColumns(visible []Lane, width int, tokens bool) (labelW, infoW int, info func(*Lane) string) {
	labelW = len("Requests") + 1
	for i := range visible {
		labelW = max(labelW, ansi.StringWidth(fmt.Sprintf("#%d %s", visible[i].ID, visible[i].Tenant))+1)
	}
	labelW = min(labelW, width/4)
	most := width - labelW - 2 - max(12, width/3)
	kinds := []func(*Lane) string{
		func(l *Lane) string { return laneInfo(l, true, true) },
		func(l *Lane) string { return laneInfo(l, false, true) },
		func(l *Lane) string { return laneInfo(l, false, false) },
	}
	if tokens {
		kinds = []func(*Lane) string{
			func(l *Lane) string { return laneInfo(l, true, true) + laneTokens(l) },
			func(l *Lane) string { return laneInfo(l, false, true) + laneTokens(l) },
			func(l *Lane) string { return laneInfo(l, false, false) + laneTokens(l) },
			func(l *Lane) string { return laneInfo(l, false, false) },
		}
	}
	for _, kind := range kinds {
		need := ansi.StringWidth("10000–10000 of 10000") // the caption above the column
		for i := range visible {
			need = max(need, ansi.StringWidth(kind(&visible[i])))
		}
		if need <= most {
			return labelW, need, kind
		}
	}
	return labelW, max(0, most), kinds[len(kinds)-1]
}

// laneInfo is the lane's tail: where it was served and how long it took.
func laneInfo(l *Lane, region, latency bool) string {
	if l.Deployment == "" {
		return "" // refused before any deployment; tokens, if shown, stand alone
	}
	info := l.Deployment
	if region && l.Region != "" {
		info += " " + l.Region
	}
	if latency && l.Done {
		info += " " + seconds(l.Latency)
	}
	return info
}

// laneTokens is the lane's tokens for its tail: input → output once
// answered, input + max_tokens (what a reservation takes) before.
func laneTokens(l *Lane) string {
	switch {
	case l.InputTokens == 0:
		return ""
	case l.OutputTokens > 0:
		return " " + tokenCount(l.InputTokens) + "→" + tokenCount(l.OutputTokens) + " tok"
	}
	// Before an answer, or without one: input + max_tokens, what Bedrock
	// and a gateway counting by reservation hold for the call.
	return " " + tokenCount(l.InputTokens) + "+" + tokenCount(l.MaxTokens) + " tok"
}

// tokenCount writes a count of tokens in at most five cells: 812, 9192,
// 12.5k, 128k, 1.2M.
func tokenCount(n int) string {
	switch {
	case n < 10_000:
		return fmt.Sprint(n)
	case n < 100_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1_000_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	}
	return fmt.Sprintf("%.1fM", float64(n)/1e6)
}

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

// axis maps simulated time onto a row of cells.
type axis struct {
	from, to time.Duration
	cells    int
}

// col is the cell d falls in, -1 before the axis and cells-1 at or past
// its end.
func (a axis) col(d time.Duration) int {
	if d < a.from {
		return -1
	}
	return min(a.cells-1, int(float64(d-a.from)/float64(a.to-a.from)*float64(a.cells)))
}

// clippedGlyph starts a lane some of whose segments lie before the axis.
const clippedGlyph = "◂"

// bar draws a lane's segments on the axis. Every segment keeps at least
// one cell of its own, in order: a skip takes no time and a throttle very
// little, and the attempt that follows at the same instant would otherwise
// hide them. A lane may run a cell or two right of its time for it; what
// happened stays visible.
func bar(l *Lane, st Styles, now time.Duration, ax axis) string {
	width := ax.cells
	cells := make([]int8, width)
	for i := range cells {
		cells[i] = -1
	}
	next := 0 // the first cell the next segment may take
	clipped := false
	for _, seg := range l.Segments {
		end := seg.End
		if seg.Open {
			end = now
		}
		if end < ax.from {
			clipped = true
			continue
		}
		if clipped && next == 0 {
			next = 1 // the first cell says there is more to the left
		}
		first := min(width-1, max(next, ax.col(seg.Start)))
		last := max(first, ax.col(end))
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
	start, stop := 0, width
	before, after := "", ""
	if clipped {
		start, before = 1, clippedGlyph
	}
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
		if first < 0 {
			first, last = start, start-1 // nothing on the axis: the caption has the row
		}
		need := ansi.StringWidth(l.Why)
		rightRoom, leftRoom := width-last-2, first-start-1
		switch {
		case rightRoom >= need || rightRoom >= leftRoom && rightRoom >= minWhyCells:
			stop, after = last+1, " "+fit(l.Why, rightRoom)
		case leftRoom >= minWhyCells:
			text := strings.TrimRight(fit(l.Why, leftRoom), " ")
			start, before = first, before+strings.Repeat(" ", first-start-1-ansi.StringWidth(text))+text+" "
		}
	}
	var b strings.Builder
	if before != "" {
		b.WriteString(st.dimPaint.on(before))
	}
	for i := start; i < stop; {
		j := i
		for j < stop && cells[j] == cells[i] {
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

// ruler is the time axis over the lanes: tick labels, bands where a fault
// was in effect, and a mark where a limit or a rate was changed.
func ruler(s *runState, ax axis, now time.Duration, st Styles) string {
	const (
		blank = iota
		band
		change
	)
	kind := make([]uint8, ax.cells)
	for i := range s.spans {
		began, ended := s.spans[i].from, s.spans[i].until(now)
		if ended < ax.from || began > ax.to {
			continue
		}
		for c := max(0, ax.col(began)); c <= ax.col(ended); c++ {
			kind[c] = band
		}
	}
	for _, at := range s.trends.changes {
		if c := ax.col(at); c >= 0 && at <= ax.to {
			kind[c] = change
		}
	}
	text := []rune(strings.Repeat(" ", ax.cells))
	for c := range text {
		switch kind[c] {
		case band:
			text[c] = '━'
		case change:
			text[c] = '▾'
		}
	}
	// Tick labels, as many as fit with room between them.
	step := tickStep(ax.to-ax.from, ax.cells)
	for t := (ax.from + step - 1) / step * step; t <= ax.to; t += step {
		c := ax.col(t)
		label := []rune(durationText(t))
		if c < 0 || c+len(label) > ax.cells || slices.Contains(kind[c:c+len(label)], change) {
			continue // a label never hides where a limit changed
		}
		copy(text[c:], label)
	}
	// Paint runs of the same kind, so a fault band reads in colour.
	var b strings.Builder
	for i := 0; i < len(text); {
		j := i
		for j < len(text) && kind[j] == kind[i] {
			j++
		}
		piece := string(text[i:j])
		switch kind[i] {
		case band:
			b.WriteString(st.errorPaint.on(piece))
		case change:
			b.WriteString(st.warnPaint.on(piece))
		default:
			b.WriteString(st.dimPaint.on(piece))
		}
		i = j
	}
	return b.String()
}

// tickSteps are the spacings the ruler's labels may take.
var tickSteps = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// tickStep is the smallest spacing that leaves labels at least 8 cells
// apart on cells cells spanning span.
func tickStep(span time.Duration, cells int) time.Duration {
	for _, step := range tickSteps {
		if float64(step)/float64(span)*float64(cells) >= 8 {
			return step
		}
	}
	return tickSteps[len(tickSteps)-1]
}

// durationText writes a whole duration briefly: 45s, 2m, 1m30s, 1h, 1h30m.
func durationText(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	case m > 0 && sec > 0:
		return fmt.Sprintf("%dm%ds", m, sec)
	case m > 0:
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%ds", sec)
}

// legend names the segment kinds this run has drawn so far, on as many
// lines as the width needs.
func legend(st Styles, seen *[Cancelled + 1]bool, width int) []string {
	var lines []string
	var line string
	used := 0
	for k := FirstWait; k <= Cancelled; k++ { // not Waiting: every lane in flight shows it
		if !seen[k] {
			continue
		}
		w := ansi.StringWidth(glyphs[k]+" "+kindNames[k]) + 1
		if used > 0 && used+w > width {
			lines, line, used = append(lines, line), "", 0
		}
		line += st.segmentPaint[k].on(glyphs[k]) + " " + kindNames[k] + " "
		used += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
