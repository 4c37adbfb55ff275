package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/record"
	"spillway/engine/record/compare"
	"spillway/engine/session"
	"spillway/scenarios"
)

// recordRun records a built-in scenario the way a pipeline would.
func recordRun(t *testing.T, name, path string) {
	t.Helper()
	if status, _, stderr := spillway("run", name, "--headless", "--speed", "max", "--json", path); status != 0 {
		t.Fatalf("spillway run %s: status %d: %s", name, status, stderr)
	}
}

// recordTuningWithRaisedLimit records the tuning scenario as 'spillway run
// tuning --speed max --json' does, except that deployment/primary-a is
// raised from 15 to 40 RPM once two simulated minutes have passed: what a
// presenter does with + on the dashboard, which has no command-line form.
func recordTuningWithRaisedLimit(t *testing.T, path string) {
	t.Helper()
	f, err := scenarios.Parse(builtinName, builtinScenarios)
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.Lookup("tuning")
	if err != nil {
		t.Fatal(err)
	}
	cfg := session.Config{File: f, Seed: 42, Speed: math.Inf(1), Backend: "sim", TimelineDir: filepath.Dir(path)}
	run, err := session.Start(context.Background(), cfg, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	var raise sync.Once
	run.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.At < 2*time.Minute {
			return
		}
		raise.Do(func() {
			if err := run.Engine.Controls().Send(engine.SetRPM{Bucket: "deployment/primary-a", RPM: 40}); err != nil {
				t.Error(err)
			}
		})
	}))
	if err := run.Engine.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := run.Recorder.WriteFile(path); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, path string) *record.Loaded {
	t.Helper()
	l, err := record.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fellBackRate is the share of successes that fell back, from the record's
// own summary, rounded as the comparison rounds it.
func fellBackRate(s record.Summary) float64 {
	return math.Round(1000*float64(s.FellBack)/float64(s.Succeeded)) / 10
}

// tableRow finds the row of a text table whose label is label, and
// returns its cells after the label.
func tableRow(t *testing.T, out, label string) []string {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), label+"  "); ok {
			return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(rest), -1)
		}
	}
	t.Fatalf("no %q row in:\n%s", label, out)
	return nil
}

// TestCompareTuningRuns is the "done means": the tuning scenario
// as recorded, and with primary-a's limit raised mid-run.
func TestCompareTuningRuns(t *testing.T) {
	dir := t.TempDir()
	plain, raised := filepath.Join(dir, "plain.json"), filepath.Join(dir, "raised.json")
	recordRun(t, "tuning", plain)
	recordTuningWithRaisedLimit(t, raised)
	sa, sb := load(t, plain).Summary, load(t, raised).Summary
	rateA, rateB := fellBackRate(sa), fellBackRate(sb)
	if rateA == rateB {
		t.Fatalf("raising primary-a left the fallback share at %.1f%%; the test needs runs that differ", rateA)
	}

	t.Run("text", func(t *testing.T) {
		status, out, stderr := spillway("compare", plain, raised)
		if status != 0 {
			t.Fatalf("status %d: %s", status, stderr)
		}
		if !regexp.MustCompile(`B: deployment/primary-a raised 15 → 40 RPM at 2m0\ds`).MatchString(out) {
			t.Errorf("the set-up differences do not name the raised limit:\n%s", out)
		}
		if strings.Contains(out, "different scenarios") {
			t.Errorf("two runs of tuning called different scenarios:\n%s", out)
		}
		for _, want := range []string{"A  " + plain, "B  " + raised, "By tenant", "By deployment", "By Region"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		sign := "+"
		if rateB < rateA {
			sign = "−"
		}
		want := []string{fmt.Sprintf("%.1f%%", rateA), fmt.Sprintf("%.1f%%", rateB), fmt.Sprintf("%s%.1f pts", sign, math.Abs(rateB-rateA))}
		if got := tableRow(t, out, "fell back %"); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("fell back %% row: %q, want %q", got, want)
		}
		want = []string{fmt.Sprint(sa.FellBack), fmt.Sprint(sb.FellBack)}
		if got := tableRow(t, out, "fell back"); strings.Join(got[:2], "|") != strings.Join(want, "|") {
			t.Errorf("fell back row: %q, want %q first", got, want)
		}
		for line := range strings.SplitSeq(out, "\n") {
			if n := len([]rune(line)); n > 100 {
				t.Errorf("a line of %d characters, over 100: %q", n, line)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		status, out, stderr := spillway("compare", plain, raised, "--json")
		if status != 0 {
			t.Fatalf("status %d: %s", status, stderr)
		}
		var c compare.Comparison
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatalf("--json is not JSON: %v\n%s", err, out)
		}
		o := c.Overall
		if o.A.FellBack != sa.FellBack || o.B.FellBack != sb.FellBack || o.A.FellBackRate != rateA || o.B.FellBackRate != rateB ||
			o.Delta.FellBackRate != math.Round((rateB-rateA)*10)/10 {
			t.Errorf("overall fell back: %+v / %+v / %+v; the records say %d (%.1f%%) and %d (%.1f%%)",
				o.A, o.B, o.Delta, sa.FellBack, rateA, sb.FellBack, rateB)
		}
		if o.A.Requests != sa.Requests || o.B.Succeeded != sb.Succeeded || o.B.RateLimited != sb.RateLimited {
			t.Errorf("overall counts %+v / %+v differ from the summaries %+v / %+v", o.A, o.B, sa, sb)
		}
		found := false
		for _, d := range c.Differences {
			found = found || d.Kind == compare.KindRPMChange && d.Run == "b" && strings.Contains(d.Text, "deployment/primary-a raised 15 → 40 RPM")
		}
		if !found || c.DifferentScenarios {
			t.Errorf("differences %+v (different scenarios %v): want B's raised limit only", c.Differences, c.DifferentScenarios)
		}
		// The same percentile as the summary each run printed.
		for _, row := range c.Tenants {
			want := sa.ByTenant[row.Name].Latency
			if row.A.P50MS != want.P50 || row.A.P95MS != want.P95 {
				t.Errorf("tenant %s latency p50/p95 %v/%v, the summary says %v/%v", row.Name, row.A.P50MS, row.A.P95MS, want.P50, want.P95)
			}
		}
		var raw map[string]any
		json.Unmarshal([]byte(out), &raw)
		overall := raw["overall"].(map[string]any)["b"].(map[string]any)
		for _, name := range compare.Names() {
			if _, ok := overall[name]; !ok {
				t.Errorf("the JSON lacks %q, a name --fail-if knows", name)
			}
		}
	})

	t.Run("fail-if", func(t *testing.T) {
		status, out, stderr := spillway("compare", plain, raised, "--fail-if", "fell_back_rate > 1000")
		if status != 0 || !strings.Contains(stderr, fmt.Sprintf("check passed: fell_back_rate > 1000 (fell_back_rate = %g)", rateB)) || out == "" {
			t.Errorf("a false check: status %d, stderr %q, want 0, check passed, and the table", status, stderr)
		}
		status, out, stderr = spillway("compare", plain, raised, "--fail-if", "delta.fell_back_rate != 0 && a.requests > 0")
		want := fmt.Sprintf("check failed: delta.fell_back_rate != 0 && a.requests > 0 (delta.fell_back_rate = %g, a.requests = %d)",
			math.Round((rateB-rateA)*10)/10, sa.Requests)
		if status != 1 || !strings.Contains(stderr, want) || !strings.Contains(out, "Whole run") {
			t.Errorf("a true check: status %d, stderr %q; want 1, %q, after the table", status, stderr, want)
		}
		status, out, stderr = spillway("compare", plain, raised, "--json", "--fail-if", "b.rate_limited < a.rate_limited")
		if status != 1 || !strings.Contains(stderr, "check failed: b.rate_limited < a.rate_limited") || !json.Valid([]byte(out)) {
			t.Errorf("a true check with --json: status %d, stderr %q; want 1 and the JSON on stdout", status, stderr)
		}
		for _, bad := range []string{"fell_back_rate >", "p95_ms", "fellback_rate > 5", "c.p95_ms > 1", ""} {
			status, out, stderr := spillway("compare", plain, raised, "--fail-if", bad)
			if status != 2 || !strings.Contains(stderr, "success_rate fell_back") || out != "" {
				t.Errorf("--fail-if %q: status %d, stdout %q, stderr %q; want 2, nothing compared, and the variables", bad, status, out, stderr)
			}
		}
	})
}

func TestCompareDifferentScenarios(t *testing.T) {
	dir := t.TempDir()
	fallback, tuning := filepath.Join(dir, "fallback.json"), filepath.Join(dir, "tuning.json")
	recordRun(t, "fallback", fallback)
	recordRun(t, "tuning", tuning)
	status, out, stderr := spillway("compare", fallback, tuning)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if first, _, _ := strings.Cut(out, "\n"); first != "!! These runs are of different scenarios: fallback vs tuning" {
		t.Errorf("first line %q; the different scenarios must come first:\n%s", first, out)
	}
	if !strings.Contains(out, "deployment/primary-a: A has no such limit, B starts at 15 RPM") {
		t.Errorf("the limits only B has are not listed:\n%s", out)
	}
}

func TestCompareRefusesWhatIsNotARecord(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "notes.txt")
	os.WriteFile(notJSON, []byte("not a record\n"), 0o644)
	otherJSON := filepath.Join(dir, "other.json")
	os.WriteFile(otherJSON, []byte(`{"name": "x"}`), 0o644)
	missing := filepath.Join(dir, "missing.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"compare", missing, notJSON}, missing + ": cannot open it"},
		{[]string{"compare", notJSON, notJSON}, notJSON + ": is not JSON"},
		{[]string{"compare", otherJSON, otherJSON}, otherJSON + ": is JSON but not a Spillway run record"},
		{[]string{"compare", notJSON}, "compare takes two recorded runs"},
		{[]string{"compare", "a", "b", "c"}, "compare takes two recorded runs"},
		{[]string{"compare", "--bogus", "a", "b"}, "flag provided but not defined: -bogus"},
	} {
		status, stdout, stderr := spillway(tc.args...)
		if status != 2 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("spillway %q: status %d, stdout %q, stderr %q; want 2 and %q", tc.args, status, stdout, stderr, tc.want)
		}
	}
}

func TestCompareHelpListsEveryName(t *testing.T) {
	status, _, stderr := spillway("compare", "--help")
	if status != 0 || !strings.Contains(stderr, "spillway compare A.json B.json") {
		t.Fatalf("compare --help: status %d, %q", status, stderr)
	}
	words := strings.Fields(compareUsage)
	for _, name := range compare.Names() {
		found := false
		for _, w := range words {
			found = found || w == name
		}
		if !found {
			t.Errorf("the usage does not list %s", name)
		}
	}
}

// The real binary in a terminal: a tuning run is recorded first. In the
// dashboard's next run of it, recorded with --json, the presenter raises
// primary-a by key, presses C, chooses the earlier record and reads what
// changed so far, down to the Regions. Once the run is over, spillway
// compare names the change made by key and the fallback share it moved,
// and --fail-if exits 0 or 1 on it.
func TestCompareFromTheDashboardInATerminal(t *testing.T) {
	requireTmux(t)
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.json"), filepath.Join(dir, "after.json")
	recordRun(t, "tuning", before)
	term := startPane(t, 160, 48, nil, "cd "+dir+" && "+spillwayBinary(t)+" run tuning --speed 100 --json after.json")
	term.tmux("set-option", "-t", "spillway", "remain-on-exit", "on")
	term.waitFor("the run", `SIMULATED`, `▶ tenant/web`)
	term.keys("j", "j", "]")
	term.waitFor("primary-a raised", `deployment/primary-a → 25 RPM`)
	term.keys("C")
	term.waitFor("the records to compare with", `Compare with a recorded run`, `▶ ▷ before\.json\s+tuning, recorded`)
	term.keys("Enter")
	term.waitFor("the comparison",
		`Comparison · A before\.json · B this run at [\d.]+s`,
		`B  this run, as recorded so far`,
		`B: deployment/primary-a raised 15 → 25 RPM at `,
		`success %\s+[\d.]+%\s+[\d.]+%\s+[−+]?[\d.]+ pts`,
	)
	term.keys("End")
	term.waitFor("its last lines", `By Region`, `us-east-1\s+logged invocations`, `lines \d+–(\d+) of \d+`)
	term.keys("Escape")
	term.waitFor("the run's end", `Results · the headless summary.s tables`)
	term.keys("q")
	term.waitFor("the record written", `Run recorded to after\.json`)

	status, out, stderr := spillway("compare", before, after)
	if status != 0 || !regexp.MustCompile(`B: deployment/primary-a raised 15 → 25 RPM at (\d+m)?[\d.]+s`).MatchString(out) {
		t.Fatalf("compare after the run: status %d, %s\n%s", status, stderr, out)
	}
	rateA, rateB := fellBackRate(load(t, before).Summary), fellBackRate(load(t, after).Summary)
	if row := tableRow(t, out, "fell back %"); rateB >= rateA || row[0] != fmt.Sprintf("%.1f%%", rateA) || row[1] != fmt.Sprintf("%.1f%%", rateB) {
		t.Fatalf("raising primary-a should lower the fallback share: %.1f%% → %.1f%%, row %q", rateA, rateB, row)
	}
	if status, _, stderr := spillway("compare", before, after, "--fail-if", "fell_back_rate > a.fell_back_rate"); status != 0 {
		t.Errorf("a check that holds: status %d, %s", status, stderr)
	}
	if status, _, stderr := spillway("compare", before, after, "--fail-if", "fell_back_rate < a.fell_back_rate"); status != 1 || !strings.Contains(stderr, "check failed") {
		t.Errorf("a check that fails: status %d, %s", status, stderr)
	}
}

// BenchmarkCompareHours is all of 'spillway compare' on two records of an
// hour at 600 RPM (36,000 requests and about 65 MB each, seeds 42 and 7):
// reading both files, comparing, and writing the tables. The records are
// made once per benchmark binary, which takes a while.
func BenchmarkCompareHours(b *testing.B) {
	dir := b.TempDir()
	paths := []string{filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")}
	for i, seed := range []string{"42", "7"} {
		if status, _, stderr := spillway("run", "hour", "--scenarios", "engine/testdata/steady-600rpm.toml", "--speed", "max",
			"--headless", "--seed", seed, "--json", paths[i]); status != 0 {
			b.Fatalf("recording the hour: %s", stderr)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if status, out, stderr := spillway("compare", paths[0], paths[1]); status != 0 || !strings.Contains(out, "By Region") {
			b.Fatalf("compare: status %d, %s", status, stderr)
		}
	}
}
