package tui

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// trendSeconds is how far back the trends reach: a ring of one bin per
// simulated second, so a run of days costs the same as one of an hour.
const trendSeconds = 3600

// trendBin is what finished in one simulated second.
type trendBin struct {
	second                                   int64 // which second the bin holds
	ok, fellBack, refused, throttled, failed int
	latency                                  coarseLatencies
}

// coarseLatencies is a small latency histogram, bins 15% wide from 1 ms:
// enough for a trend line, small enough to keep one per second for an
// hour.
type coarseLatencies struct {
	bins [64]uint16
	n    int
}

const coarseGrowth = 1.15

func (h *coarseLatencies) add(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	i := 0
	if ms > 1 {
		i = min(len(h.bins)-1, int(math.Log(ms)/math.Log(coarseGrowth))+1)
	}
	if h.bins[i] < math.MaxUint16 {
		h.bins[i]++
		h.n++
	}
}

// merge adds o's latencies to h.
func (h *coarseLatencies) merge(o *coarseLatencies) {
	for i, c := range o.bins {
		h.bins[i] = uint16(min(math.MaxUint16, int(h.bins[i])+int(c)))
	}
	h.n += o.n
}

func (h *coarseLatencies) quantile(q float64) (time.Duration, bool) {
	if h.n == 0 {
		return 0, false
	}
	rank, seen := max(1, int(math.Ceil(q*float64(h.n)))), 0
	for i, c := range h.bins {
		seen += int(c)
		if seen >= rank {
			return time.Duration(math.Pow(coarseGrowth, float64(i)-0.5) * float64(time.Millisecond)), true
		}
	}
	return 0, false
}

// trends are the run's outcomes and latencies per simulated second, with
// the moments a fault or a limit changed, for the trend panel.
type trends struct {
	bins    [trendSeconds]trendBin
	changes []time.Duration // limit and rate changes
}

func (t *trends) bin(at time.Duration) *trendBin {
	s := int64(at / time.Second)
	b := &t.bins[s%trendSeconds]
	if b.second != s {
		*b = trendBin{second: s}
	}
	return b
}

// window sums the bins of [from, to) seconds; bins the ring has dropped or
// not reached count as empty.
func (t *trends) window(from, to int64) trendBin {
	var sum trendBin
	for s := max(0, from); s < to; s++ {
		b := &t.bins[s%trendSeconds]
		if b.second != s {
			continue
		}
		sum.ok += b.ok
		sum.fellBack += b.fellBack
		sum.refused += b.refused
		sum.throttled += b.throttled
		sum.failed += b.failed
		sum.latency.merge(&b.latency)
	}
	return sum
}

var sparks = []rune("▁▂▃▄▅▆▇█")

// spark draws values as a line of block heights scaled to the largest; a
// cell with no value (negative) is blank.
func spark(values []float64) string {
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range values {
		switch {
		case v < 0:
			b.WriteByte(' ')
		case top == 0:
			b.WriteRune(sparks[0])
		default:
			b.WriteRune(sparks[min(len(sparks)-1, int(v/top*float64(len(sparks)-1)+0.5))])
		}
	}
	return b.String()
}

// trendsView draws one row per series over the run so far, or its last
// hour, as many seconds a cell as that needs, with the window stated and
// faults and changes marked on the same axis.
func trendsView(s *runState, now time.Duration, st Styles, width, height int) string {
	const labelW, valueW = 11, 8
	cells := max(10, width-labelW-valueW-2)
	end := int64(now/time.Second) + 1
	span := min(end, trendSeconds)
	per := max(1, (span+int64(cells)-1)/int64(cells)) // seconds a cell
	cells = int((span + per - 1) / per)
	start := end - int64(cells)*per
	lines := []string{st.Bold.Render(fit(fmt.Sprintf("Trends · %ds to %ds · %ds a cell · counts per cell, then the latest", max(0, start), end, per), width))}
	bins := make([]trendBin, cells)
	for i := range bins {
		from := start + int64(i)*per
		bins[i] = s.trends.window(from, from+per)
	}
	// Each row's chart takes its outcome's colour, as in the lanes.
	var paints []paint
	series := func(label string, colour paint, value func(b *trendBin) (float64, bool), format func(float64) string) {
		paints = append(paints, colour)
		values := make([]float64, cells)
		latest := "–"
		for i := range bins {
			v, ok := value(&bins[i])
			if !ok {
				values[i] = -1
				continue
			}
			values[i], latest = v, format(v)
		}
		lines = append(lines, fmt.Sprintf("%-*s %s %*s", labelW, label, spark(values), valueW, latest))
	}
	count := func(f func(b *trendBin) int) func(b *trendBin) (float64, bool) {
		return func(b *trendBin) (float64, bool) { return float64(f(b)), true }
	}
	whole := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	series("ok", st.segmentPaint[Primary], count(func(b *trendBin) int { return b.ok }), whole)
	series("fell back", st.segmentPaint[Fallback], count(func(b *trendBin) int { return b.fellBack }), whole)
	series("refused", st.segmentPaint[RateLimited], count(func(b *trendBin) int { return b.refused }), whole)
	series("throttled", st.segmentPaint[Throttled], count(func(b *trendBin) int { return b.throttled }), whole)
	series("failed", st.segmentPaint[Failed], count(func(b *trendBin) int { return b.failed }), whole)
	series("success %", st.segmentPaint[Primary], func(b *trendBin) (float64, bool) {
		done := b.ok + b.fellBack + b.refused + b.failed
		return 100 * float64(b.ok+b.fellBack) / float64(max(1, done)), done > 0
	}, func(v float64) string { return fmt.Sprintf("%.0f%%", v) })
	for _, q := range []float64{0.5, 0.95} {
		series(fmt.Sprintf("p%.0f", q*100), st.boldPaint, func(b *trendBin) (float64, bool) {
			d, ok := b.latency.quantile(q)
			return d.Seconds(), ok
		}, func(v float64) string { return fmt.Sprintf("%.1fs", v) })
	}
	// Faults as bands, limit and rate changes as ticks, on the same axis.
	marks := []rune(strings.Repeat(" ", cells))
	cell := func(at time.Duration) int { return int((int64(at/time.Second) - start) / per) }
	for i := range s.spans {
		from, to := s.spans[i].from, s.spans[i].until(now)
		for c := max(0, cell(from)); c < cells && c <= cell(to); c++ {
			marks[c] = '▀'
		}
	}
	for _, at := range s.trends.changes {
		if c := cell(at); c >= 0 && c < cells {
			marks[c] = '│'
		}
	}
	lines = append(lines, fmt.Sprintf("%-*s %s", labelW, "faults, RPM", string(marks)))
	paints = append(paints, st.errorPaint)
	for i := 1; i < len(lines); i++ {
		runes := []rune(padCells(lines[i], width))
		from, to := min(len(runes), labelW+1), min(len(runes), labelW+1+cells)
		lines[i] = string(runes[:from]) + paints[i-1].on(string(runes[from:to])) + string(runes[to:])
	}
	return blockOfFull(lines, width, height)
}

// padCells pads or cuts a line whose every rune takes one cell, as the
// trend rows' do, without measuring graphemes as fit must.
func padCells(line string, width int) string {
	runes := []rune(line)
	if len(runes) > width {
		return string(runes[:width])
	}
	return line + strings.Repeat(" ", width-len(runes))
}
