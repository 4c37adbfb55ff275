package compare

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	a, b := twoRuns()
	c := Runs(a, b) // B: 50% success, 2 failed, p95 1300.25 ms; A: 33.3% fell back
	for _, tc := range []struct {
		expression string
		failed     bool
		values     string
	}{
		{"success_rate < 99", true, "success_rate = 50"},
		{"p95_ms > 5000", false, "p95_ms = 1300.25"},
		{"delta.fell_back_rate > 5 || failed > 0", true, "delta.fell_back_rate = -33.3, failed = 2"},
		{"a.requests == 4 && b.requests == a.requests && delta.requests == 0", true, "a.requests = 4, b.requests = 4, delta.requests = 0"},
		{"failed > 0 && failed < 10", true, "failed = 2"},
		{"ttft_p95_ms > 0", false, "ttft_p95_ms = 0"},
	} {
		check, err := NewCheck(tc.expression)
		if err != nil {
			t.Errorf("%s: %v", tc.expression, err)
			continue
		}
		v, err := check.Eval(c)
		if err != nil || v.Failed != tc.failed || v.ValuesText() != tc.values {
			t.Errorf("%s: %v (%s), %v; want %v (%s)", tc.expression, v.Failed, v.ValuesText(), err, tc.failed, tc.values)
		}
	}
}

func TestCheckRefusesWhatIsNotACheck(t *testing.T) {
	for _, bad := range []string{"", "  ", "success_rate", "1 + 1", "nope > 1", "a.nope > 1", "c.requests > 1", "success_rate <", "p95_ms > \"x\""} {
		_, err := NewCheck(bad)
		if err == nil || !strings.Contains(err.Error(), "Variables:") || !strings.Contains(err.Error(), "fell_back_rate") {
			t.Errorf("NewCheck(%q): %v; want an error listing the variables", bad, err)
		}
	}
}
