package compare

import (
	"math"
	"strings"
	"testing"
	"time"

	"spillway/engine/record"
	"spillway/scenarios"
)

func texts(ds []Difference) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Text
	}
	return out
}

func TestAlikeRunsHaveNoDifferences(t *testing.T) {
	run := func() *record.Loaded {
		return &record.Loaded{Scenario: "tuning", Title: "T", Seed: 42, Speed: math.Inf(1), Backend: "simulated",
			Buckets:    []record.BucketSpec{{ID: "deployment/a", Semantic: "token-bucket", Limit: 15}},
			RPMChanges: []record.RPMChange{{AtMS: 60_000, Bucket: "deployment/a", RPM: 30}},
			Faults:     []record.FaultWindow{{ID: 1, Fault: "throttle 0.5", StartMS: 1000, EndMS: 2000}}}
	}
	if ds := Runs(run(), run()).Differences; len(ds) != 0 {
		t.Errorf("two alike runs differ: %q", texts(ds))
	}
}

func TestDifferencesAreWorded(t *testing.T) {
	a := &record.Loaded{Scenario: "tuning", Title: "Tuning", Seed: 42, Speed: math.Inf(1), Backend: "simulated",
		Duration: 3*time.Minute + 10*time.Second, Interrupted: true,
		Buckets: []record.BucketSpec{
			{ID: "deployment/primary-a", Semantic: "token-bucket", Limit: 15},
			{ID: "deployment/primary-b", Semantic: "token-bucket", Limit: 15},
			{ID: "deployment/old", Semantic: "token-bucket", Limit: 5},
			{ID: "tenant/web/tpm", Semantic: "token-bucket", Limit: 9000, Counting: "reserve"},
		},
		RPMChanges: []record.RPMChange{
			{AtMS: 30_000, Bucket: "deployment/primary-b", RPM: 20}, // B made the same change
		},
		Faults: []record.FaultWindow{{ID: 1, Fault: "region-outage us-east-2", StartMS: 60_000, EndMS: 120_000}},
	}
	b := &record.Loaded{Scenario: "tuning", Title: "Tuning", Seed: 7, Speed: 20, Backend: "aws",
		Buckets: []record.BucketSpec{
			{ID: "deployment/primary-a", Semantic: "token-bucket", Limit: 15},
			{ID: "deployment/primary-b", Semantic: "fixed-window", Limit: scenarios.Unlimited},
			{ID: "tenant/web/tpm", Semantic: "token-bucket", Limit: 9000, Counting: "after-success"},
			{ID: "deployment/new", Semantic: "token-bucket", Limit: 8},
		},
		RPMChanges: []record.RPMChange{
			{AtMS: 30_000, Bucket: "deployment/primary-b", RPM: 20},
			{AtMS: 130_000, Bucket: "deployment/primary-a", RPM: 30},
			{AtMS: 200_400, Bucket: "deployment/primary-a", RPM: 10},
			{AtMS: 201_000, Bucket: "deployment/primary-a", RPM: scenarios.Unlimited},
			{AtMS: 3_725_000, Bucket: "deployment/gone", RPM: 3},
			{AtMS: 4000, Bucket: "tenant/web/tpm", RPM: 12000, Unit: "tokens"},
		},
		Controls: []record.Control{{AtMS: 61_000, Kind: "rate_changed", Tenant: "web", Rate: 80}, {AtMS: 1, Kind: "paused"}},
		Faults: []record.FaultWindow{
			{ID: 1, Fault: "region-outage us-east-2", StartMS: 90_000, EndMS: 120_000},
			{ID: 2, Fault: "throttle 0.5", StartMS: 12_345, Live: true},
		},
	}
	got := texts(Runs(a, b).Differences)
	want := []string{
		"seed: A 42, B 7",
		"speed: A max, B 20×",
		"backend: A simulated, B aws",
		"deployment/primary-b starts at 15 RPM in A, unlimited in B",
		"deployment/primary-b limiter: A token-bucket, B fixed-window",
		"deployment/old: A starts at 5 RPM, B has no such limit",
		"tenant/web/tpm counts tokens: A reserve, B after-success",
		"deployment/new: A has no such limit, B starts at 8 RPM",
		"B: deployment/primary-a raised 15 → 30 RPM at 2m10s",
		"B: deployment/primary-a lowered 30 → 10 RPM at 3m20s",
		"B: deployment/primary-a raised 10 → unlimited at 3m21s",
		"B: deployment/gone set to 3 RPM at 1h02m05s",
		"B: tenant/web/tpm raised 9000 → 12000 TPM at 4.0s",
		"B: tenant web's rate set to 80 a minute at 1m01s",
		"A: fault region-outage us-east-2 from 1m00s to 2m00s",
		"B: fault region-outage us-east-2 from 1m30s to 2m00s",
		"B: fault throttle 0.5 from 12.3s to the end (started live)",
		"A was interrupted at 3m10s: its figures cover the run up to then",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("differences:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDifferentScenariosComeFirstAndProminently(t *testing.T) {
	a := &record.Loaded{Scenario: "fallback", Title: "Fallback", Seed: 1}
	b := &record.Loaded{Scenario: "tuning", Title: "Tuning", Seed: 2}
	c := Runs(a, b)
	if !c.DifferentScenarios || len(c.Differences) < 2 || !c.Differences[0].Prominent() ||
		c.Differences[0].Text != "these runs are of different scenarios: fallback vs tuning" {
		t.Fatalf("differences %+v", c.Differences)
	}
	for _, d := range c.Differences[1:] {
		if d.Prominent() {
			t.Errorf("the title is part of the scenario's difference, not another: %+v", d)
		}
	}

	same := Runs(&record.Loaded{Scenario: "s", Title: "Old"}, &record.Loaded{Scenario: "s", Title: "New"})
	if same.DifferentScenarios || len(same.Differences) != 1 || !same.Differences[0].Prominent() ||
		!strings.Contains(same.Differences[0].Text, `scenario s with different titles, "Old" vs "New"`) {
		t.Errorf("a retitled scenario: %+v", same)
	}
}

func TestClock(t *testing.T) {
	for ms, want := range map[float64]string{
		0: "0.0s", 450: "0.5s", 59_940: "59.9s", 59_960: "1m00s", 130_000: "2m10s", 3_725_000: "1h02m05s",
		-1: "0.0s", math.NaN(): "0.0s", math.Inf(1): "2562047h47m16s",
	} {
		if got := clock(ms); got != want {
			t.Errorf("clock(%v) = %q, want %q", ms, got, want)
		}
	}
}
