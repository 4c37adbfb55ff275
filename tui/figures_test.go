package tui

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"spillway/engine"
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

// The Region histogram gives the last minute beside the run so far; while
// a fault is on its bars follow the last minute, where an outage shows at
// once, and a Region with no calls shows as 0.
func TestRegionsDuringAndAfterAnOutage(t *testing.T) {
	events, e, s := recorded(t, "region-outage")
	during := 0
	for i, ev := range events {
		if ev.Kind == engine.RegionsPolled && ev.At >= 115*time.Second {
			during = i + 1
			break
		}
	}
	for _, cut := range []struct {
		name   string
		events []engine.Event
	}{{"during", events[:during]}, {"after", events}} {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			w, h := size[0], size[1]
			feed := &Feed{}
			for _, ev := range cut.events {
				feed.Handle(ev)
			}
			opts := testOptions(s)
			opts.Regions = append(opts.Regions, "us-west-1") // a Region the profile reaches that serves no call
			m := New(&Run{Feed: feed, Controls: atSpeed20{e.Controls()}, Options: opts}, Session{})
			m.Update(tea.WindowSizeMsg{Width: w, Height: h})
			m.Refresh()
			m.card = "" // the results card would cover the panels after the run
			view := ansi.Strip(m.regions(72, 12))
			if !regexp.MustCompile(`us-west-1\s+0\s+0\.0%\s+0`).MatchString(view) {
				t.Errorf("%s: us-west-1, which had no calls, is not shown with 0:\n%s", cut.name, view)
			}
			if cut.name == "during" {
				// Calls placed before the outage still reach the logs for a
				// while; the Region that is down has the fewest all the same.
				recent := s2i(regexp.MustCompile(`(us-[a-z]+-\d)\s+█*\s+\d+\s+[\d.]+%\s+(\d+)`).FindAllStringSubmatch(view, -1))
				if !strings.Contains(view, "bars: last 1m") || !strings.Contains(view, "DOWN") ||
					recent["us-east-2"] >= recent["us-east-1"] || recent["us-east-2"] >= recent["us-west-2"] {
					t.Errorf("during the outage: us-east-2 should have the fewest calls in the last minute, and DOWN (%v):\n%s", recent, view)
				}
			} else if !strings.Contains(view, "bars: whole run") {
				t.Errorf("after the outage the bars go back to the whole run:\n%s", view)
			}
			checkSize(t, m.Screen(), w, h) // TestGoldenScreens keeps these screens' goldens
		}
	}
}

// The recent window is the latest counts less those of the newest poll a
// window older.
func TestRecentRegionCounts(t *testing.T) {
	s := newRunState()
	for i := range 10 {
		s.apply(engine.Event{Kind: engine.RegionsPolled, At: time.Duration(i*10) * time.Second, Account: "a",
			Regions: &engine.RegionPoll{Account: "a", Counts: []engine.RegionCount{{Region: "r", Count: i * 5}}}})
	}
	// Latest at 90 s with 45; the newest poll 60 s older is at 30 s, with 15.
	if got := s.recent("a", time.Minute)["r"]; got != 30 {
		t.Fatalf("last minute: %d, want 30", got)
	}
}

// s2i maps the first submatch of each match to the second, as a number.
func s2i(matches [][]string) map[string]int {
	out := map[string]int{}
	for _, m := range matches {
		n := 0
		fmt.Sscan(m[2], &n)
		out[m[1]] = n
	}
	return out
}

// An attempt throttled with nowhere left to go is one throttle of its
// deployment, not a throttle and a failure: token-quota's team A served
// 10 of its 20 calls, 50%.
func TestAThrottleThatEndsARequestCountsOnce(t *testing.T) {
	var f figuresOf
	for id := 1; id <= 2; id++ {
		f.apply(engine.Event{Kind: engine.Admitted, Request: id, Tenant: "A"})
		f.apply(engine.Event{Kind: engine.Attempt, Request: id, Tenant: "A", Deployment: "d"})
	}
	f.apply(engine.Event{Kind: engine.Succeeded, Request: 1, Tenant: "A", Deployment: "d", Latency: time.Second})
	f.apply(engine.Event{Kind: engine.Throttled, Request: 2, Tenant: "A", Deployment: "d", Code: "ThrottlingException"})
	f.apply(engine.Event{Kind: engine.Failed, Request: 2, Tenant: "A", Deployment: "d", Code: "ThrottlingException"})
	d := f.deployment("d")
	if rate, _ := d.successRate(); rate != 50 || d.throttled != 1 || d.failed != 0 {
		t.Fatalf("deployment: %.1f%% ok, %d throttled, %d failed; want 50%%, 1, 0", rate, d.throttled, d.failed)
	}
}
