package main

import (
	"math"
	"path/filepath"
	"regexp"
	"testing"
)

// Keys pressed faster than the screen redraws are all applied: the
// dashboard sends each press as an intent and shows what the engine
// confirmed.
func TestQuickKeyPressesAreNeverLostInATerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	term := startTerminal(t, 160, 48, "run", "tuning", "--speed", "10", "--json", path)
	term.waitFor("the buckets", `deployment/primary-a\s+\S+ [\d.]+/15\s+15 token-bucket`)
	term.keys("j", "j") // tenant/web → tenant/batch → deployment/primary-a
	term.keys("+", "+", "+", "+", "+", "+", "+", "+", "+", "+")
	term.waitFor("primary-a at 25 RPM", `▶ deployment/primary-a\s+\S+ [\d.]+/25\s+25 token-bucket`, `deployment/primary-a → 25 RPM`)
	term.keys("k", "k") // back to tenant/web, 40 a minute
	term.keys("}", "}", "}", "}", "}")
	term.waitFor("web at 40 × 1.1⁵ a minute", `▶ tenant/web .*64\.4/min`, `tenant/web → 64\.4 requests a minute`)
	term.keys("q")
	term.waitFor("the summary after quitting", `Run recorded to `+regexp.QuoteMeta(path))

	var doc struct {
		RPMChanges []struct {
			Bucket string  `json:"bucket"`
			RPM    float64 `json:"rpm"`
		} `json:"rpm_changes"`
		Controls []struct {
			Kind string  `json:"kind"`
			Rate float64 `json:"rate"`
		} `json:"controls"`
	}
	readJSON(t, path, &doc)
	if n := len(doc.RPMChanges); n != 10 || doc.RPMChanges[0].RPM != 16 || doc.RPMChanges[n-1].RPM != 25 ||
		doc.RPMChanges[n-1].Bucket != "deployment/primary-a" {
		t.Fatalf("rpm_changes %+v; want ten steps from 16 to 25 on primary-a", doc.RPMChanges)
	}
	var rates []float64
	for _, c := range doc.Controls {
		if c.Kind == "rate_changed" {
			rates = append(rates, c.Rate)
		}
	}
	if want := 40 * math.Pow(1.1, 5); len(rates) != 5 || math.Abs(rates[4]-want) > 1e-9 {
		t.Fatalf("rate changes %v; want five steps to %v", rates, want)
	}
}
