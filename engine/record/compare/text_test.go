package compare

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"spillway/engine/record"
)

func textOf(t *testing.T, c *Comparison) string {
	t.Helper()
	var b strings.Builder
	if err := WriteText(&b, c); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// row is the cells after label on the first line that has it, split on
// runs of spaces.
func row(t *testing.T, text, label string) []string {
	t.Helper()
	for line := range strings.SplitSeq(text, "\n") {
		if _, rest, ok := strings.Cut(line, "  "+label+"  "); ok {
			return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(rest), -1)
		}
	}
	return nil
}

func twoRuns() (a, b *record.Loaded) {
	a = &record.Loaded{Path: "a.json", Scenario: "s", Requests: []record.Request{
		req("web", record.OutcomeSucceeded, "primary", 100, "succeeded@primary"),
		req("web", record.OutcomeSucceeded, "primary", 300, "throttled@primary", "succeeded@primary"),
		viaFallback(req("web", record.OutcomeSucceeded, "fallback", 900, "skipped@primary", "succeeded@fallback")),
		req("batch", record.OutcomeRateLimited, "", 0),
	}}
	b = &record.Loaded{Path: "b.json", Scenario: "s", Requests: []record.Request{
		req("web", record.OutcomeSucceeded, "primary", 120, "succeeded@primary"),
		req("web", record.OutcomeSucceeded, "primary", 1300.25, "succeeded@primary"),
		req("web", record.OutcomeFailed, "primary", 50),
		req("batch", record.OutcomeFailed, "primary", 0),
	}}
	return a, b
}

func TestTextShowsSignedDeltasWithUnits(t *testing.T) {
	a, b := twoRuns()
	text := textOf(t, Runs(a, b))
	for label, want := range map[string]string{
		"requests":    "4|4|0",
		"success %":   "75.0%|50.0%|−25.0 pts",
		"fell back":   "1|0|−1",
		"fell back %": "33.3%|0.0%|−33.3 pts",
		"failed":      "0|2|+2",
		"latency p50": "300.4 ms|120 ms|−180.4 ms", // the sketch's 300 ms, within 0.5 %
		"latency p95": "900 ms|1300 ms|+400.3 ms",
	} {
		if got := strings.Join(row(t, text, label), "|"); got != want {
			t.Errorf("%s: %q, want %q\n%s", label, got, want, text)
		}
	}
	// batch succeeded in neither run: it has no latency to compare.
	if !strings.Contains(text, "  batch") {
		t.Fatalf("no batch rows:\n%s", text)
	}
	batch := text[strings.Index(text, "  batch"):]
	if got := strings.Join(row(t, batch, "latency p50"), "|"); got != "–|–|–" {
		t.Errorf("batch's latency: %q, want dashes\n%s", got, text)
	}
	for _, absent := range []string{"cancelled", "input tokens", "TTFT", "By account\n", "By Region", "!!"} {
		if strings.Contains(text, absent) {
			t.Errorf("the text has %q, which neither run has:\n%s", absent, text)
		}
	}
	for _, present := range []string{"A  a.json", "B  b.json", "Set-up: alike", "By tenant", "By deployment", "fallback (only in A)"} {
		if !strings.Contains(text, present) {
			t.Errorf("the text lacks %q:\n%s", present, text)
		}
	}
}

func TestTextLinesUpEveryTable(t *testing.T) {
	a, b := twoRuns()
	a.Summary.Regions = map[string]map[string]int{"acct": {"us-east-1": 3}}
	text := textOf(t, Runs(a, b))
	var widths []int
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasSuffix(line, "Δ") {
			widths = append(widths, utf8.RuneCountInString(line))
		}
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("a line of %d characters: %q", n, line)
		}
	}
	if len(widths) != 5 {
		t.Fatalf("%d table headers, want whole run, tenant, deployment, account, Region:\n%s", len(widths), text)
	}
	for _, w := range widths {
		if w != widths[0] {
			t.Errorf("the Δ columns do not line up (%v):\n%s", widths, text)
		}
	}
}

func TestTextShowsTokensAndTTFTWhereARunHasThem(t *testing.T) {
	a, b := twoRuns()
	b.Requests[0].InputTokens, b.Requests[0].OutputTokens, b.Requests[0].TTFTMS = 30, 100, 450
	text := textOf(t, Runs(a, b))
	for label, want := range map[string]string{
		"input tokens":  "0|30|+30",
		"output tokens": "0|100|+100",
		"streamed":      "0|1|+1",
		"TTFT p95":      "–|450 ms|–",
	} {
		if got := strings.Join(row(t, text, label), "|"); got != want {
			t.Errorf("%s: %q, want %q\n%s", label, got, want, text)
		}
	}
}

func TestTextPutsDifferentScenariosFirst(t *testing.T) {
	a, b := twoRuns()
	b.Scenario = "other"
	text := textOf(t, Runs(a, b))
	if !strings.HasPrefix(text, "!! These runs are of different scenarios: s vs other\n!! Their figures measure different experiments") {
		t.Errorf("the text does not open with the different scenarios:\n%s", text)
	}
}

func TestChangeSignsWhatIsShown(t *testing.T) {
	for _, tc := range []struct {
		k    kind
		d    float64
		want string
	}{
		{kindCount, 3, "+3"}, {kindCount, -1, "−1"}, {kindCount, 0, "0"},
		{kindPercent, 1.25, "+1.3 pts"}, {kindPercent, -0.04, "0.0 pts"}, {kindPercent, -1.2, "−1.2 pts"},
		{kindMillis, 120, "+120 ms"}, {kindMillis, -0.04, "0 ms"}, {kindMillis, 12345.6, "+12346 ms"}, {kindMillis, 0.25, "+0.3 ms"},
	} {
		if got := change(tc.k, tc.d, true); got != tc.want {
			t.Errorf("change(%v, %v) = %q, want %q", tc.k, tc.d, got, tc.want)
		}
	}
}
