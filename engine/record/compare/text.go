package compare

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// minus is the sign of a negative delta: a real minus, which reads better
// than a hyphen beside a column of numbers.
const minus = "−"

// unknown stands for a figure a run cannot have, such as the latency of a
// scope where nothing succeeded.
const unknown = "–"

// kind is how a figure is written.
type kind int

const (
	kindCount   kind = iota // a whole number
	kindPercent             // a percentage; its delta is in percentage points
	kindMillis              // milliseconds
	kindTimes               // a multiple, to the tenth: 3.0×
)

// figure is one row of a table: a label and where its number comes from.
type figure struct {
	label string
	kind  kind
	get   func(*Metrics) float64
	// defined reports whether a run has the figure at all; nil means it
	// always has.
	defined func(*Metrics) bool
	// quiet figures are left out where both runs have 0: a column of
	// zeros for faults that never happened only hides the rest.
	quiet bool
}

func cnt(label string, get func(*Metrics) int) figure {
	return figure{label: label, kind: kindCount, get: func(m *Metrics) float64 { return float64(get(m)) }}
}

func quietCnt(label string, get func(*Metrics) int) figure {
	f := cnt(label, get)
	f.quiet = true
	return f
}

var (
	requests    = cnt("requests", func(m *Metrics) int { return m.Requests })
	succeeded   = cnt("succeeded", func(m *Metrics) int { return m.Succeeded })
	successRate = figure{label: "success %", kind: kindPercent, get: func(m *Metrics) float64 { return m.SuccessRate },
		defined: func(m *Metrics) bool { return m.Requests > 0 }}
	fellBack     = cnt("fell back", func(m *Metrics) int { return m.FellBack })
	fellBackRate = figure{label: "fell back %", kind: kindPercent, get: func(m *Metrics) float64 { return m.FellBackRate },
		defined: (*Metrics).hasLatency}
	// share is of the whole run's successes: a deployment's part of the
	// traffic it carried.
	share = figure{label: "share %", kind: kindPercent, get: func(m *Metrics) float64 { return m.Share }}
	// Whole-run counters show even at zero: "failed 0 0" is what a
	// pipeline wants to read.
	rateLimited      = cnt("rate-limited", func(m *Metrics) int { return m.RateLimited })
	failed           = cnt("failed", func(m *Metrics) int { return m.Failed })
	throttled        = cnt("throttled attempts", func(m *Metrics) int { return m.Throttled })
	quietRateLimited = quietCnt("rate-limited", func(m *Metrics) int { return m.RateLimited })
	quietFailed      = quietCnt("failed", func(m *Metrics) int { return m.Failed })
	quietThrottled   = quietCnt("throttled attempts", func(m *Metrics) int { return m.Throttled })
	cancelled        = quietCnt("cancelled", func(m *Metrics) int { return m.Cancelled })
	skipped          = quietCnt("passed-over attempts", func(m *Metrics) int { return m.Skipped })
	p50              = latency("latency p50", func(m *Metrics) float64 { return m.P50MS })
	p95              = latency("latency p95", func(m *Metrics) float64 { return m.P95MS })
	p99              = latency("latency p99", func(m *Metrics) float64 { return m.P99MS })
	inputTokens      = cnt("input tokens", func(m *Metrics) int { return m.InputTokens })
	outputTokens     = cnt("output tokens", func(m *Metrics) int { return m.OutputTokens })
	streamed         = cnt("streamed", func(m *Metrics) int { return m.Streamed })
	ttft50           = ttft("TTFT p50", func(m *Metrics) float64 { return m.TTFTP50MS })
	ttft95           = ttft("TTFT p95", func(m *Metrics) float64 { return m.TTFTP95MS })
	ttft99           = ttft("TTFT p99", func(m *Metrics) float64 { return m.TTFTP99MS })
)

func latency(label string, get func(*Metrics) float64) figure {
	return figure{label: label, kind: kindMillis, get: get, defined: (*Metrics).hasLatency}
}

func ttft(label string, get func(*Metrics) float64) figure {
	return figure{label: label, kind: kindMillis, get: get, defined: (*Metrics).hasTTFT}
}

// The figures each table shows. A breakdown shows fewer than the whole
// run, so that several tenants or deployments still fit on a screen.
var (
	overallFigures    = []figure{requests, succeeded, successRate, fellBack, fellBackRate, rateLimited, failed, cancelled, throttled, skipped, p50, p95, p99}
	tokenFigures      = []figure{inputTokens, outputTokens}
	ttftFigures       = []figure{streamed, ttft50, ttft95, ttft99}
	tenantFigures     = []figure{requests, successRate, fellBackRate, quietRateLimited, quietFailed, quietThrottled, p50, p95}
	deploymentFigures = []figure{
		cnt("served", func(m *Metrics) int { return m.Succeeded }), share,
		quietCnt("served as fallback", func(m *Metrics) int { return m.FellBack }),
		quietThrottled, skipped, quietFailed, p50, p95,
	}
	accountFigures = []figure{requests, successRate, share, quietThrottled, quietFailed, p95}
)

// WriteText writes the comparison for a terminal, within 100 columns for
// any ordinary names: what differs first, then a table per breakdown with
// the columns A, B and Δ.
func WriteText(w io.Writer, c *Comparison) error {
	p := &printer{w: w}
	// What changes the meaning of every figure below comes first, where
	// nobody can scroll past it.
	prominent := false
	for _, d := range c.Differences {
		if d.Prominent() {
			p.line("!! %s", sentence(d.Text))
			prominent = true
		}
	}
	if c.DifferentScenarios {
		p.line("!! Their figures measure different experiments: read the deltas with that in mind.")
	}
	if prominent {
		p.line("")
	}
	p.line("Comparing two runs; Δ is B − A, pts are percentage points.")
	for _, r := range []struct {
		name string
		run  Run
	}{{"A", c.A}, {"B", c.B}} {
		p.line("  %s  %s", r.name, r.run.Path)
		p.line("     %s", describe(r.run))
	}
	p.line("")
	var config []string
	for _, d := range c.Differences {
		if !d.Prominent() {
			config = append(config, d.Text)
		}
	}
	if len(config) == 0 {
		p.line("Set-up: alike (scenario, seed, speed, backend, limits; no live changes or faults).")
	} else {
		p.line("Set up differently:")
		for _, t := range config {
			p.line("  • %s", t)
		}
	}

	figures := overallFigures
	if c.Overall.A.hasTokens() || c.Overall.B.hasTokens() {
		figures = append(figures[:len(figures):len(figures)], tokenFigures...)
	}
	if c.Overall.A.hasTTFT() || c.Overall.B.hasTTFT() {
		figures = append(figures[:len(figures):len(figures)], ttftFigures...)
	}
	p.line("")
	p.table("Whole run", []Row{c.Overall}, figures, false)
	if len(c.Limits) > 0 {
		// Runs as replicas: what the fleet let through each limit is
		// what the comparison is about, so it comes first.
		p.line("")
		p.limits(c.Limits)
	}
	for _, b := range []struct {
		title   string
		rows    []Row
		figures []figure
	}{
		{"By tenant", c.Tenants, tenantFigures},
		{"By deployment", c.Deployments, deploymentFigures},
		{"By account", c.Accounts, accountFigures},
	} {
		// One tenant, deployment or account is the whole run again.
		if len(b.rows) > 1 {
			p.line("")
			p.table(b.title, b.rows, b.figures, true)
		}
	}
	if len(c.Regions) > 0 {
		p.line("")
		p.regions(c.Regions)
	}

	if len(c.Notes) > 0 {
		p.line("")
		p.line("Notes:")
		for _, n := range c.Notes {
			p.line("  • %s", n)
		}
	}
	return p.flush()
}

// sentence starts s with a capital letter.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}

// describe is a run's line in the header, under its path.
func describe(r Run) string {
	parts := []string{r.Scenario, fmt.Sprintf("seed %d", r.Seed), "speed " + r.Speed.String(), r.Backend}
	if !r.StartedAt.IsZero() {
		parts = append(parts, "started "+r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	parts = append(parts, "lasted "+clock(r.DurationMS))
	var kept []string
	for _, s := range parts {
		if s != "" {
			kept = append(kept, s)
		}
	}
	return strings.Join(kept, " · ")
}

// printer gathers the output, then writes it at once, so that every
// table's A, B and Δ columns line up with the others'.
type printer struct {
	w      io.Writer
	blocks []block
}

// block is a line of text, or a table.
type block struct {
	text string
	grid *grid
}

func (p *printer) line(format string, args ...any) {
	p.blocks = append(p.blocks, block{text: fmt.Sprintf(format, args...)})
}

// table adds one breakdown. named tables have a column for the scope's
// name, given on its first row only.
func (p *printer) table(title string, rows []Row, figures []figure, named bool) {
	header, left := []string{title, "A", "B", "Δ"}, 1
	if named {
		header, left = []string{title, "", "A", "B", "Δ"}, 2
	}
	t := &grid{left: left}
	t.add(header...)
	for _, r := range rows {
		name := r.Name
		switch {
		case !r.InA:
			name += " (only in B)"
		case !r.InB:
			name += " (only in A)"
		}
		for _, f := range figures {
			a, b := f.get(&r.A), f.get(&r.B)
			if f.quiet && a == 0 && b == 0 {
				continue
			}
			hasA := r.InA && (f.defined == nil || f.defined(&r.A))
			hasB := r.InB && (f.defined == nil || f.defined(&r.B))
			// A count's change is known even from a run without the
			// scope: from 0.
			cells := []string{"  " + f.label, value(f.kind, a, hasA), value(f.kind, b, hasB),
				change(f.kind, f.get(&r.Delta), hasA && hasB || f.kind == kindCount)}
			if named {
				cells = append([]string{"  " + name}, cells...)
				name = ""
			}
			t.add(cells...)
		}
	}
	p.blocks = append(p.blocks, block{grid: t})
}

// regions adds the Region table. A run that logged nothing has no
// shares, rather than shares of 0%.
func (p *printer) regions(rows []RegionRow) {
	loggedA, loggedB := false, false
	for _, r := range rows {
		loggedA = loggedA || r.A.Invocations > 0
		loggedB = loggedB || r.B.Invocations > 0
	}
	t := &grid{left: 2}
	t.add("By Region", "", "A", "B", "Δ")
	for _, r := range rows {
		t.add("  "+r.Region, "  logged invocations", value(kindCount, float64(r.A.Invocations), true),
			value(kindCount, float64(r.B.Invocations), true), change(kindCount, float64(r.Delta.Invocations), true))
		t.add("", "  share %", value(kindPercent, r.A.Share, loggedA), value(kindPercent, r.B.Share, loggedB),
			change(kindPercent, r.Delta.Share, loggedA && loggedB))
	}
	p.blocks = append(p.blocks, block{grid: t})
}

// limits adds the table of what runs as replicas let through each limit
// in their busiest minute; a run that was one gateway has no figures.
func (p *printer) limits(rows []LimitRow) {
	t := &grid{left: 2}
	t.add("Busiest minute, runs as replicas", "", "A", "B", "Δ")
	for _, r := range rows {
		a, b := r.A != nil, r.B != nil
		var fa, fb FleetFigures
		if a {
			fa = *r.A
		}
		if b {
			fb = *r.B
		}
		t.add("  "+r.Bucket, "  "+r.Unit, value(kindCount, float64(fa.BusiestMinute), a), value(kindCount, float64(fb.BusiestMinute), b),
			change(kindCount, float64(fb.BusiestMinute-fa.BusiestMinute), a && b))
		t.add("", "  × limit", value(kindTimes, fa.TimesLimit, a), value(kindTimes, fb.TimesLimit, b),
			change(kindTimes, fb.TimesLimit-fa.TimesLimit, a && b))
	}
	p.blocks = append(p.blocks, block{grid: t})
}

// flush lays the tables out on common columns and writes everything.
func (p *printer) flush() error {
	words := 0
	var figures []int
	for _, b := range p.blocks {
		if b.grid != nil {
			words = max(words, b.grid.wordsWidth())
			figures = b.grid.figureWidths(figures)
		}
	}
	var out strings.Builder
	for _, b := range p.blocks {
		if b.grid == nil {
			out.WriteString(b.text + "\n")
			continue
		}
		b.grid.write(&out, words, figures)
	}
	_, err := io.WriteString(p.w, out.String())
	return err
}

// value is one run's figure as a cell.
func value(k kind, v float64, has bool) string {
	if !has {
		return unknown
	}
	switch k {
	case kindPercent:
		return cell(k, v) + "%"
	case kindMillis:
		return cell(k, v) + " ms"
	case kindTimes:
		return cell(k, v) + "×"
	}
	return cell(k, v)
}

// change is a delta as a cell, signed, with its unit.
func change(k kind, d float64, has bool) string {
	if !has {
		return unknown
	}
	text := cell(k, math.Abs(d))
	switch k {
	case kindPercent:
		text += " pts"
	case kindMillis:
		text += " ms"
	case kindTimes:
		text += "×"
	}
	// The sign goes by what is shown, so that a delta too small to show
	// is not "+0.0".
	switch shown := rounded(k, d); {
	case shown < 0:
		return minus + text
	case shown > 0:
		return "+" + text
	}
	return text
}

// cell writes v as its kind is shown.
func cell(k kind, v float64) string {
	v = rounded(k, v)
	if k == kindPercent || k == kindTimes {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// rounded is v as it is shown: percentages to the tenth, milliseconds to
// the tenth below a second and whole above it (where tenths are noise),
// counts whole.
func rounded(k kind, v float64) float64 {
	switch {
	case k == kindPercent, k == kindTimes, k == kindMillis && math.Abs(v) < 1000:
		return math.Round(v*10) / 10
	}
	return math.Round(v)
}

// grid is a table: on each row, the first left cells are words, aligned
// left, and the rest are figures, aligned right. Widths are in
// characters, not bytes, for Δ, − and names that are not ASCII.
type grid struct {
	left int
	rows [][]string
}

func (g *grid) add(cells ...string) { g.rows = append(g.rows, cells) }

// gap separates the columns of figures.
const gap = "   "

// wordWidths are the widths of the word columns, within this table.
func (g *grid) wordWidths() []int {
	width := make([]int, g.left)
	for _, row := range g.rows {
		for i := range g.left {
			width[i] = max(width[i], utf8.RuneCountInString(row[i]))
		}
	}
	return width
}

// wordsWidth is how wide the words of a row are, all together.
func (g *grid) wordsWidth() int {
	total := 0
	for _, w := range g.wordWidths() {
		total += w
	}
	return total
}

// figureWidths widens widths to fit this table's figures.
func (g *grid) figureWidths(widths []int) []int {
	for _, row := range g.rows {
		for i, c := range row[g.left:] {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	return widths
}

// write writes the table with its words padded to words characters and
// its figures to the given widths, shared with the other tables.
func (g *grid) write(b *strings.Builder, words int, figures []int) {
	own := g.wordWidths()
	for _, row := range g.rows {
		var line strings.Builder
		for i, c := range row[:g.left] {
			line.WriteString(c)
			if i < g.left-1 {
				line.WriteString(strings.Repeat(" ", own[i]-utf8.RuneCountInString(c)))
			}
		}
		line.WriteString(strings.Repeat(" ", max(0, words-utf8.RuneCountInString(line.String()))))
		for i, c := range row[g.left:] {
			line.WriteString(gap + strings.Repeat(" ", figures[i]-utf8.RuneCountInString(c)) + c)
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}
