package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/record"
	"spillway/engine/simaws/fleet"
	"spillway/scenarios"
	"spillway/tui/plain"
)

// builtinFile is the built-in scenario file.
func builtinFile(t *testing.T) *scenarios.File {
	t.Helper()
	data, err := os.ReadFile("../scenarios.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := scenarios.Parse("scenarios.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// recorded runs a built-in scenario on the in-process fleet and returns
// every event and the engine, whose buckets reflect the end of the run.
func recorded(t *testing.T, name string) ([]engine.Event, *engine.Engine, *scenarios.Scenario) {
	t.Helper()
	f := builtinFile(t)
	s, err := f.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	start := enginetest.Epoch
	sim := enginetest.NewSimulated(s, f.Models, 42, start)
	e, err := engine.New(s, engine.Options{Seed: 42, Speed: math.Inf(1), Backend: sim, Logs: sim, Faults: sim, Clock: enginetest.NewClock(start)})
	if err != nil {
		t.Fatal(err)
	}
	var events []engine.Event
	e.Subscribe(engine.SinkFunc(func(ev engine.Event) { events = append(events, ev) }))
	if err := e.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	return events, e, s
}

// fakeControls serves fixed bucket levels and applies limit intents at
// once, as the engine would at its next step.
type fakeControls struct {
	levels []engine.BucketLevel
	set    map[engine.BucketID]scenarios.RPM
}

func (f *fakeControls) Snapshot() engine.Snapshot {
	return engine.Snapshot{Started: true, Speed: 20, Buckets: append([]engine.BucketLevel(nil), f.levels...)}
}

func (f *fakeControls) Fresh(context.Context) (engine.Snapshot, error) { return f.Snapshot(), nil }

func (f *fakeControls) Send(in engine.Intent) error {
	adjust, ok := in.(engine.AdjustRPM)
	if !ok {
		return errors.New("not in this fake")
	}
	for i := range f.levels {
		l := &f.levels[i]
		if l.ID != adjust.Bucket {
			continue
		}
		if l.RPM.IsUnlimited() {
			return fmt.Errorf("%s is unlimited; give it a number in the scenario file to tune it", l.ID)
		}
		rpm := max(1, l.RPM+scenarios.RPM(adjust.Delta))
		if f.set == nil {
			f.set = map[engine.BucketID]scenarios.RPM{}
		}
		f.set[l.ID] = rpm
		l.RPM, l.Capacity, l.Available = rpm, float64(rpm), min(l.Available, float64(rpm))
	}
	return nil
}

// atSpeed20 shows a run recorded at speed max as the 20× run the goldens
// picture.
type atSpeed20 struct{ Controls }

func (c atSpeed20) Snapshot() engine.Snapshot {
	snap := c.Controls.Snapshot()
	snap.Speed = 20
	return snap
}

func dashboard(t *testing.T, events []engine.Event, ctl Controls, s *scenarios.Scenario, w, h int) *Model {
	feed := &Feed{}
	for _, ev := range events {
		feed.Handle(ev)
	}
	m := New(&Run{Feed: feed, Controls: ctl, Options: testOptions(s)}, Session{})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Refresh()
	return m
}

// testOptions describe a run as main would for the embedded emulator,
// with the port fixed so goldens do not change.
func testOptions(s *scenarios.Scenario) Options {
	return Options{Scenario: s, Badge: "SIMULATED",
		Backend:      "embedded emulator at http://127.0.0.1:PORT via aws-sdk-go-v2; no AWS calls, no credentials",
		BackendBrief: "embedded emulator, no AWS calls", Regions: fleet.Regions(s), Seed: 42, Speed: 20}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	enginetest.Golden(t, filepath.Join("testdata", name+".golden"), ansi.Strip(got))
}

func checkSize(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(ansi.Strip(screen), "\n")
	if len(lines) != h {
		t.Fatalf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Fatalf("line %d is %d cells wide, want ≤ %d: %q", i+1, n, w, l)
		}
	}
}

// cutAt is how many of events deliver fraction of what happened: the
// sampled bucket levels do not count, so a screen cut half way shows the
// same requests however often levels are sampled.
func cutAt(events []engine.Event, fraction float64) int {
	happened := 0
	for _, ev := range events {
		if ev.Kind != engine.Levels {
			happened++
		}
	}
	want, seen := int(float64(happened)*fraction), 0
	for i, ev := range events {
		if seen == want {
			return i
		}
		if ev.Kind != engine.Levels {
			seen++
		}
	}
	return len(events)
}

func TestScreens(t *testing.T) {
	for _, sc := range []struct {
		scenario string
		cut      float64 // fraction of the events delivered
	}{
		{"quota-isolation", 0.5},
		{"account-sharding", 1},
	} {
		events, e, s := recorded(t, sc.scenario)
		n := cutAt(events, sc.cut)
		var ctl Controls = atSpeed20{e.Controls()}
		if sc.cut < 1 {
			ctl = &fakeControls{levels: events[0].Info.Buckets}
		}
		for _, size := range screenSizes {
			w, h := size[0], size[1]
			m := dashboard(t, events[:n], ctl, s, w, h)
			name := fmt.Sprintf("%s_%03dx%03d", strings.ReplaceAll(sc.scenario, "-", "_"), w, h)
			screen := m.Screen()
			checkSize(t, screen, w, h)
			golden(t, name, screen)
		}
	}
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+n/100%10)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10)))
}

func TestTooSmallAsksForALargerWindow(t *testing.T) {
	events, e, s := recorded(t, "fallback")
	m := dashboard(t, events, e.Controls(), s, 50, 12)
	screen := ansi.Strip(m.Screen())
	if !strings.Contains(screen, "Make the window larger") || !strings.Contains(screen, "50×12") {
		t.Fatalf("small window:\n%s", screen)
	}
}

func TestRetuneGoesThroughControlsAndShowsAtOnce(t *testing.T) {
	events, _, s := recorded(t, "fallback")
	ctl := &fakeControls{levels: events[0].Info.Buckets}
	m := dashboard(t, events[:3], ctl, s, 160, 48)
	// Buckets: tenant/app (unlimited), deployment/primary (3), deployment/fallback (25).
	m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	m.Update(tea.KeyPressMsg{Code: '+', Text: "+"})
	m.Refresh()
	if got := ctl.set["deployment/primary"]; got != 4 {
		t.Fatalf("after + on deployment/primary: SetRPM %v, want 4", ctl.set)
	}
	if b := ansi.Strip(m.bucketsView(80, 5)); !strings.Contains(b, "▶ deployment/primary") || !regexp.MustCompile(`deployment/primary\s+\S+\s+3\.0/4\s+4 fixed`).MatchString(b) {
		t.Fatalf("gauge does not show 4 RPM at once:\n%s", b)
	}
	m.Update(tea.KeyPressMsg{Code: '[', Text: "["})
	if got := ctl.set["deployment/primary"]; got != 1 {
		t.Fatalf("after [ from 4: %v, want the floor of 1", got)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyUp})
	m.Update(tea.KeyPressMsg{Code: '+', Text: "+"})
	if _, set := ctl.set["tenant/app"]; set || !strings.Contains(m.notice, "unlimited") {
		t.Fatalf("retuning an unlimited bucket: %v, notice %q", ctl.set, m.notice)
	}
}

func TestLanesFollowTheNewestAndScrollBack(t *testing.T) {
	events, e, s := recorded(t, "account-sharding") // 20 requests
	m := dashboard(t, events, e.Controls(), s, 80, 24)
	rows := m.laneRows()
	last := func() string {
		l := m.layout()
		lines := strings.Split(ansi.Strip(m.lanesView(l.lanesW, l.lanesH)), "\n")
		return strings.Fields(lines[len(lines)-1])[0]
	}
	if got := last(); got != "#20" {
		t.Fatalf("following: last lane %s, want #20", got)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgUp})
	if got, want := last(), fmt.Sprintf("#%d", 20-rows); got != want {
		t.Fatalf("after PgUp: last lane %s, want %s (%d rows)", got, want, rows)
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyEnd})
	if got := last(); got != "#20" {
		t.Fatalf("after End: last lane %s, want #20", got)
	}
}

func TestFullHelpShowsEveryKeyAt80x24(t *testing.T) {
	events, e, s := recorded(t, "fallback")
	m := dashboard(t, events, e.Controls(), s, 80, 24)
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	screen := m.Screen()
	checkSize(t, screen, 80, 24)
	plain := ansi.Strip(screen)
	for _, col := range m.keys.FullHelp() {
		for _, b := range col {
			if !strings.Contains(plain, b.Help().Desc) {
				t.Errorf("full help lacks %q:\n%s", b.Help().Desc, plain)
			}
		}
	}
}

// The older-lanes summary counts the same whichever way it is computed:
// from the lanes above, or as the run's totals less the lanes below.
func TestOlderLaneSummaryMatchesACount(t *testing.T) {
	events, _, _ := recorded(t, "quota-isolation") // 15 lanes: succeeded and rate-limited
	for _, cut := range []int{len(events) / 2, len(events)} {
		s := newRunState()
		for _, ev := range events[:cut] {
			s.apply(ev)
		}
		for end := 0; end <= len(s.lanes); end++ {
			var want [Cancelled + 1]int
			wantInFlight := 0
			for _, l := range s.lanes[:end] {
				if l.Done {
					want[l.Outcome]++
				} else {
					wantInFlight++
				}
			}
			got, inFlight := s.summarise(end)
			if got != want || inFlight != wantInFlight {
				t.Fatalf("%d events, lanes before %d: %v and %d in flight, want %v and %d", cut, end, got, inFlight, want, wantInFlight)
			}
		}
	}
}

// The header's counters use the export's definitions: at the end of a run
// they equal its summary.
func TestCountersMatchTheExportedSummary(t *testing.T) {
	for _, name := range []string{"fallback", "tuning", "throttle-storm", "noisy-neighbour", "quota-isolation"} {
		events, _, _ := recorded(t, name)
		s, rec := newRunState(), record.New(record.Meta{})
		for _, ev := range events {
			s.apply(ev)
			rec.Handle(ev)
		}
		sum, c := rec.Summary(), s.counts
		if c.Sent != sum.Requests || c.Succeeded != sum.Succeeded || c.FellBack != sum.FellBack ||
			c.RateLimited != sum.RateLimited || c.Failed != sum.Failed || c.InFlight != 0 {
			t.Errorf("%s: on screen %+v; summary: %d requests, %d succeeded, %d fell back, %d rate-limited, %d failed",
				name, c, sum.Requests, sum.Succeeded, sum.FellBack, sum.RateLimited, sum.Failed)
		}
	}
}

// A skip takes no time, yet every one is drawn in its lane, before the
// attempt that followed it at the same instant.
func TestSkipsAreDrawnBeforeTheAttemptThatFollowed(t *testing.T) {
	l := &Lane{Segments: []Segment{
		{Kind: Cooling, Start: 10 * time.Second, End: 10 * time.Second},
		{Kind: Skipped, Start: 10 * time.Second, End: 10 * time.Second},
		{Kind: Fallback, Start: 10 * time.Second, End: 20 * time.Second},
	}}
	got := ansi.Strip(bar(l, NewStyles(true), 20*time.Second, axis{to: 20 * time.Second, cells: 20}))
	if want := "          ⊘·▓▓▓▓▓▓▓▓"; got != want {
		t.Fatalf("lane %q, want %q", got, want)
	}
}

// The fault menu takes the buckets' place: the lanes and the Region
// histogram stay on screen, so the audience watches a fault take effect.
func TestTheFaultMenuLeavesLanesAndRegionsInView(t *testing.T) {
	events, e, s := recorded(t, "region-outage")
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		w, h := size[0], size[1]
		m := dashboard(t, events, atSpeed20{e.Controls()}, s, w, h)
		m.run.FaultOptions = []scenarios.Fault{{Kind: scenarios.RegionOutage, Region: "us-east-1"}, {Kind: scenarios.RegionOutage, Region: "us-east-2"}}
		m.Update(tea.KeyPressMsg{Code: 'f', Text: "f"})
		screen := m.Screen()
		checkSize(t, screen, w, h)
		plain := ansi.Strip(screen)
		for _, want := range []string{"Faults · enter starts or stops", "region-outage us-east-2", "#", "Regions · default", "us-west-2"} {
			if !strings.Contains(plain, want) {
				t.Errorf("%d×%d with the fault menu open lacks %q:\n%s", w, h, want, plain)
			}
		}
		golden(t, fmt.Sprintf("region_outage_faults_%03dx%03d", w, h), screen)
	}
}

// When the run ends, its results card shows the headless summary's tables
// until a key is pressed; the key then does what it always does.
func TestTheResultsCardShowsOnceAtTheEnd(t *testing.T) {
	for _, name := range []string{"fallback", "noisy-neighbour"} {
		theResultsCardShowsOnceAtTheEnd(t, name)
	}
}

func theResultsCardShowsOnceAtTheEnd(t *testing.T, name string) {
	events, e, s := recorded(t, name)
	rec := record.New(record.Meta{})
	for _, ev := range events {
		rec.Handle(ev)
	}
	title := strings.ToUpper(strings.ReplaceAll(name, "-", " ")) + " RESULTS"
	for _, size := range screenSizes {
		w, h := size[0], size[1]
		feed := &Feed{}
		for _, ev := range events {
			feed.Handle(ev)
		}
		m := New(&Run{Feed: feed, Controls: atSpeed20{e.Controls()}, Options: testOptions(s),
			Results: func() string {
				var card strings.Builder
				plain.WriteSummary(&card, s, rec.Summary(), rec.Interrupted())
				return card.String()
			}}, Session{})
		m.Update(tea.WindowSizeMsg{Width: w, Height: h})
		m.Refresh()
		screen := m.Screen()
		checkSize(t, screen, w, h)
		if plainText := ansi.Strip(screen); !strings.Contains(plainText, title) ||
			!strings.Contains(plainText, fmt.Sprintf("Successful:     %d", rec.Summary().Succeeded)) {
			t.Fatalf("%d×%d at the end: no results card:\n%s", w, h, plainText)
		}
		golden(t, fmt.Sprintf("%s_results_%03dx%03d", strings.ReplaceAll(name, "-", "_"), w, h), screen)
		m.Update(tea.KeyPressMsg{Code: 'j', Text: "j"})
		m.Refresh()
		second := "▶ " + string(e.Controls().Snapshot().Buckets[1].ID)
		if plainText := ansi.Strip(m.Screen()); strings.Contains(plainText, title) || !strings.Contains(plainText, second) {
			t.Fatalf("after j: the card should be gone and j should have moved the selection:\n%s", plainText)
		}
	}
}

// Each lane says in a few words why its request went where it went.
func TestLanesSayWhy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []engine.Event
		want   string
	}{
		{"tenant bucket", []engine.Event{
			{Kind: engine.RateLimited, Request: 1, Tenant: "A", Bucket: "tenant/A", RPM: 3}}, "A over 3 RPM"},
		{"primary at its limit", []engine.Event{
			{Kind: engine.Admitted, Request: 1, Tenant: "app"},
			{Kind: engine.Skipped, Request: 1, Deployment: "primary", Reason: engine.SkipBudget, RPM: 3},
			{Kind: engine.FellBack, Request: 1, Group: "fallback"},
			{Kind: engine.Attempt, Request: 1, Deployment: "fallback"},
			{Kind: engine.Succeeded, Request: 1, Deployment: "fallback", Fallback: true}}, "primary at 3 RPM → fallback"},
		{"a whole group at its limits", []engine.Event{
			{Kind: engine.Admitted, Request: 1, Tenant: "web"},
			{Kind: engine.Skipped, Request: 1, Group: "primaries", Deployment: "primary-a", Reason: engine.SkipBudget, RPM: 15},
			{Kind: engine.Skipped, Request: 1, Group: "primaries", Deployment: "primary-b", Reason: engine.SkipBudget, RPM: 15},
			{Kind: engine.FellBack, Request: 1, Group: "overflow"}}, "primaries all at their limit → overflow"},
		{"throttled twice", []engine.Event{
			{Kind: engine.Admitted, Request: 1, Tenant: "app"},
			{Kind: engine.Attempt, Request: 1, Deployment: "primary"},
			{Kind: engine.Throttled, Request: 1, Deployment: "primary", Code: "ThrottlingException"},
			{Kind: engine.RetryScheduled, Request: 1},
			{Kind: engine.Attempt, Request: 1, Deployment: "primary"},
			{Kind: engine.Throttled, Request: 1, Deployment: "primary", Code: "ThrottlingException"},
			{Kind: engine.FellBack, Request: 1, Group: "fallback"},
			{Kind: engine.Attempt, Request: 1, Deployment: "fallback"},
			{Kind: engine.Succeeded, Request: 1, Deployment: "fallback", Fallback: true}}, "throttled ×2 → fallback"},
		{"a server error", []engine.Event{
			{Kind: engine.Admitted, Request: 1, Tenant: "batch"},
			{Kind: engine.Attempt, Request: 1, Deployment: "primary"},
			{Kind: engine.Failed, Request: 1, Deployment: "primary", Code: "InternalServerException"}}, "InternalServerException"},
		{"every group empty", []engine.Event{
			{Kind: engine.Admitted, Request: 1, Tenant: "app"},
			{Kind: engine.Skipped, Request: 1, Deployment: "primary", Reason: engine.SkipCooldown},
			{Kind: engine.FellBack, Request: 1, Group: "fallback"},
			{Kind: engine.Skipped, Request: 1, Deployment: "fallback", Reason: engine.SkipBudget, RPM: 20},
			{Kind: engine.RateLimited, Request: 1, Tenant: "app"}}, "no budget: fallback at 20 RPM"},
		{"the gateway's timeout", []engine.Event{
			{Kind: engine.Admitted, Request: 1, Tenant: "app"},
			{Kind: engine.Attempt, Request: 1, Deployment: "primary"},
			{Kind: engine.Failed, Request: 1, Deployment: "primary", Code: engine.CodeGatewayTimeout}}, "timed out"},
	} {
		s := newRunState()
		for _, ev := range tc.events {
			s.apply(ev)
		}
		if got := s.lanes[0].Why; got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A cooldown shows the time it has left, not the moment it ends.
func TestACooldownShowsTheTimeLeft(t *testing.T) {
	var p bucketsPanel
	levels := []engine.BucketLevel{{ID: "deployment/primary", Health: engine.Cooling, HealthUntil: 30 * time.Second}}
	levels[0].RPM, levels[0].Capacity, levels[0].Semantic = 3, 3, scenarios.FixedWindow
	view := ansi.Strip(p.View(levels, 20*time.Second, NewStyles(true), 100, 3))
	if !strings.Contains(view, "cooldown 10.0s left") {
		t.Fatalf("buckets:\n%s", view)
	}
}

// The ticker tells the latest decisions in words, with their times.
func TestTheTickerTellsTheDecisions(t *testing.T) {
	events, _, _ := recorded(t, "fallback")
	s := newRunState()
	for _, ev := range events {
		s.apply(ev)
	}
	if len(s.ticker) != 7 || !regexp.MustCompile(`^\s+[\d.]+s #4 primary at 3 RPM → fallback$`).MatchString(s.ticker[0]) {
		t.Fatalf("ticker %q; want the seven fallbacks, the first #4's", s.ticker)
	}
	for i := range tickerLines + 5 {
		s.tick(time.Duration(i)*time.Second, "x")
	}
	if len(s.ticker) != tickerLines {
		t.Fatalf("ticker holds %d lines, want at most %d", len(s.ticker), tickerLines)
	}
}

// i opens the inspector on the newest request that moved on: every
// deployment it tried or passed over, why, and how it ended; ↑ and ↓ go to
// other requests, esc back.
func TestTheInspectorDescribesAFellBackRequest(t *testing.T) {
	events, e, s := recorded(t, "fallback")
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		w, h := size[0], size[1]
		m := dashboard(t, events, atSpeed20{e.Controls()}, s, w, h)
		m.Update(tea.KeyPressMsg{Code: 'i', Text: "i"})
		screen := m.Screen()
		checkSize(t, screen, w, h)
		plain := ansi.Strip(screen)
		for _, want := range []string{"Request #10 · tenant app", "succeeded on fallback", "Why: primary at 3 RPM → fallback",
			"primary     skipped", "fallback    succeeded  us-east-1"} {
			if !strings.Contains(plain, want) {
				t.Errorf("%d×%d inspector lacks %q:\n%s", w, h, want, plain)
			}
		}
		m.Update(tea.KeyPressMsg{Code: tea.KeyUp})
		if plain := ansi.Strip(m.Screen()); !strings.Contains(plain, "Request #9 ·") {
			t.Fatalf("after ↑: not on #9:\n%s", plain)
		}
		m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
		if plain := ansi.Strip(m.Screen()); strings.Contains(plain, "Request #9 ·") || !strings.Contains(plain, "Buckets") {
			t.Fatalf("after esc: the inspector is still open:\n%s", plain)
		}
	}
}

// At the smallest size the dashboard accepts, the lanes still show the
// newest request, and never a range that ends before it starts.
func TestTheSmallestWindowShowsTheNewestLane(t *testing.T) {
	events, e, s := recorded(t, "fallback")
	m := dashboard(t, events, atSpeed20{e.Controls()}, s, minWidth, minHeight)
	screen := m.Screen()
	checkSize(t, screen, minWidth, minHeight)
	plain := ansi.Strip(screen)
	if m := regexp.MustCompile(`Requests (\d+)–(\d+) of 10`).FindStringSubmatch(plain); m != nil && m[1] > m[2] && len(m[1]) == len(m[2]) {
		t.Fatalf("lane range %s–%s:\n%s", m[1], m[2], plain)
	}
	if !strings.Contains(plain, "#10 app") {
		t.Fatalf("the newest lane is not on screen at %d×%d:\n%s", minWidth, minHeight, plain)
	}
}

// = then a number sets the selected bucket's RPM to it; esc gives up, and
// what is not a number is refused with a notice.
func TestTypingAnRPM(t *testing.T) {
	events, e, s := recorded(t, "fallback")
	m := dashboard(t, events, e.Controls(), s, 160, 48)
	m.card = ""
	press := func(keys ...string) {
		for _, k := range keys {
			code := []rune(k)[0]
			switch k {
			case "enter":
				code = tea.KeyEnter
			case "esc":
				code = tea.KeyEscape
			case "down":
				code = tea.KeyDown
			}
			m.Update(tea.KeyPressMsg{Code: code, Text: map[bool]string{true: k, false: ""}[len([]rune(k)) == 1]})
		}
	}
	press("down", "=", "2", "5")
	if footer := ansi.Strip(m.footer()); !strings.Contains(footer, "RPM for deployment/primary: 25") {
		t.Fatalf("while typing, the footer reads %q", footer)
	}
	press("enter")
	if l, _ := m.run.Controls.Snapshot().Bucket("deployment/primary"); l.RPM != 25 || !strings.Contains(m.notice, "deployment/primary → 25 RPM") {
		t.Fatalf("after = 25 enter: RPM %v, notice %q", l.RPM, m.notice)
	}
	press("=", "7", "esc")
	if l, _ := m.run.Controls.Snapshot().Bucket("deployment/primary"); l.RPM != 25 {
		t.Fatalf("esc changed the RPM to %v", l.RPM)
	}
	press("=", "0", "enter")
	if l, _ := m.run.Controls.Snapshot().Bucket("deployment/primary"); l.RPM != 25 || !strings.Contains(m.notice, `"0" is not an RPM`) {
		t.Fatalf("= 0: RPM %v, notice %q", l.RPM, m.notice)
	}
}
