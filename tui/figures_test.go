package tui

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"spillway/engine/record"
)

// The live percentiles come from a histogram; they stay within 2% of the
// exact ones, at any number of requests.
func TestLivePercentilesAreCloseToExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h latencies
	var all []time.Duration
	for range 20000 {
		d := time.Duration(math.Exp(rng.NormFloat64()*0.8+math.Log(2500)) * float64(time.Millisecond))
		h.add(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		exact := all[int(math.Ceil(q*float64(len(all))))-1]
		got, _ := h.quantile(q)
		if ratio := float64(got) / float64(exact); ratio < 0.98 || ratio > 1.02 {
			t.Errorf("p%.0f: %v, exact %v", q*100, got, exact)
		}
	}
}

// The rate over the last minute counts only the last minute.
func TestTheLastMinuteForgetsOlderSeconds(t *testing.T) {
	var w minuteCount
	for s := range 120 {
		w.add(time.Duration(s) * time.Second)
	}
	if got := w.total(119 * time.Second); got != 60 {
		t.Fatalf("one a second for two minutes: %d in the last minute, want 60", got)
	}
	if got := w.total(200 * time.Second); got != 0 {
		t.Fatalf("long after: %d, want 0", got)
	}
}

// At the end of a run the live figures agree with the summary.
func TestLiveFiguresMatchTheSummary(t *testing.T) {
	events, _, _ := recorded(t, "noisy-neighbour")
	s, rec := newRunState(), record.New(record.Meta{})
	for _, ev := range events {
		s.apply(ev)
		rec.Handle(ev)
	}
	sum := rec.Summary()
	for name, want := range sum.ByTenant {
		fig := s.figs.tenant(name)
		rate, _ := fig.successRate()
		if fig.requests != want.Requests || fig.succeeded != want.Succeeded || fig.refused != want.RateLimited ||
			math.Abs(rate-want.SuccessRate) > 0.05 {
			t.Errorf("tenant %s live: %d requests, %d ok, %d refused, %.1f%%; summary %+v", name, fig.requests, fig.succeeded, fig.refused, rate, want)
		}
	}
}

// Where the screen has no room for both, v shows the live figures in the
// buckets' place, whole columns dropped rather than numbers cut.
func TestVShowsTheLiveFiguresAt80x24(t *testing.T) {
	events, e, s := recorded(t, "tuning")
	m := dashboard(t, events, atSpeed20{e.Controls()}, s, 80, 24)
	m.Update(tea.KeyPressMsg{Code: 'v', Text: "v"})
	screen := m.Screen()
	checkSize(t, screen, 80, 24)
	plain := ansi.Strip(screen)
	if !strings.Contains(plain, "Live figures") || !strings.Contains(plain, "tenant/web") || strings.Contains(plain, "Buckets ·") {
		t.Fatalf("after v at 80×24:\n%s", plain)
	}
	for _, line := range strings.Split(plain, "\n") {
		if strings.HasPrefix(line, "tenant/") && strings.Contains(line, "…") {
			t.Errorf("a figure is cut: %q", line)
		}
	}
	golden(t, "tuning_figures_080x024", screen)
}

// The trends cover the run so far with as many seconds a cell as it takes,
// and mark a fault over the seconds it lasted.
func TestTrendsCoverTheRunAndMarkTheFault(t *testing.T) {
	events, _, _ := recorded(t, "region-outage")
	s := newRunState()
	for _, ev := range events {
		s.apply(ev)
	}
	view := ansi.Strip(trendsView(s, s.now, NewStyles(true), 72, trendsNeed))
	lines := strings.Split(view, "\n")
	if !strings.HasPrefix(lines[0], "Trends · 0s to 201s · 4s a cell") {
		t.Fatalf("window: %q", lines[0])
	}
	marks := []rune(lines[len(lines)-1])
	band := strings.Count(string(marks), "▀")
	// The outage runs from 60 s to 120 s: 15 or 16 cells of 4 s.
	if band < 15 || band > 17 || marks[12+60/4] != '▀' || marks[12+30/4] == '▀' {
		t.Fatalf("fault band %q", string(marks))
	}
	ok := 0
	for i := range trendSeconds {
		ok += s.trends.bins[i].ok
	}
	if ok != 90 {
		t.Fatalf("%d successes in the trend bins, want the run's 90", ok)
	}
}

// On a narrow screen v cycles the buckets' place through the live figures
// and the trends.
func TestVCyclesFiguresAndTrendsAt80x24(t *testing.T) {
	events, e, s := recorded(t, "region-outage")
	m := dashboard(t, events, atSpeed20{e.Controls()}, s, 80, 24)
	for _, want := range []string{"Live figures", "Trends ·", "Buckets ·"} {
		m.Update(tea.KeyPressMsg{Code: 'v', Text: "v"})
		if plain := ansi.Strip(m.Screen()); !strings.Contains(plain, want) {
			t.Fatalf("v should show %q:\n%s", want, plain)
		}
		if want == "Trends ·" {
			golden(t, "region_outage_trends_080x024", m.Screen())
		}
	}
}
