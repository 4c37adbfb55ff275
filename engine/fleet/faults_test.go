package fleet

import (
	"testing"
	"time"

	"spillway/scenarios"
)

const foundation = "anthropic.claude-3-7-sonnet-20250219-v1:0"

// A Region outage: a cross-Region profile lands only in the Regions still
// up; a call pinned to the Region gets ServiceUnavailableException; when
// the outage ends the Region serves again.
func TestRegionOutageRoutesProfilesAroundIt(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	f.InjectFault(1, scenarios.Fault{Kind: scenarios.RegionOutage, Region: "us-east-2"}, epoch.Add(time.Minute), epoch.Add(2*time.Minute))
	seen := map[string]int{}
	for i := range 300 {
		r := f.Invoke(epoch.Add(time.Minute+time.Duration(i)*100*time.Millisecond), call(profile))
		if r.Err != nil {
			t.Fatalf("call %d during the outage failed: %v", i, r.Err)
		}
		seen[r.Region]++
	}
	if seen["us-east-2"] != 0 || seen["us-east-1"] == 0 || seen["us-west-2"] == 0 {
		t.Fatalf("during the outage the profile landed in %v; want none in us-east-2", seen)
	}
	pinned := Call{Account: "a", SourceRegion: "us-east-2", ModelID: foundation, Operation: "Converse", MaxTokens: 10}
	if r := f.Invoke(epoch.Add(90*time.Second), pinned); r.Err == nil || r.Err.Code != ServiceUnavailableException || r.Err.Status() != 503 {
		t.Fatalf("foundation model in us-east-2 during the outage: %+v, want ServiceUnavailableException (503)", r.Err)
	}
	if r := f.Invoke(epoch.Add(2*time.Minute), pinned); r.Err != nil {
		t.Fatalf("after the outage: %v", r.Err)
	}
	if r := f.Invoke(epoch.Add(59*time.Second), pinned); r.Err != nil {
		t.Fatalf("before the outage: %v", r.Err)
	}
}

// A throttling storm fails its fraction of the calls in scope, and only
// those.
func TestThrottleStormFailsItsShare(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 42, epoch)
	f.InjectFault(1, scenarios.Fault{Kind: scenarios.ThrottleStorm, Model: foundation, Rate: 0.5}, epoch, time.Time{})
	throttled := 0
	const n = 2000
	for i := range n {
		at := epoch.Add(time.Duration(i) * time.Second)
		if r := f.Invoke(at, call(foundation)); r.Err != nil {
			if r.Err.Code != ThrottlingException || r.Err.Status() != 429 {
				t.Fatalf("storm error %v", r.Err)
			}
			throttled++
		}
		if r := f.Invoke(at, call(profile)); r.Err != nil {
			t.Fatalf("a model outside the storm's scope failed: %v", r.Err)
		}
	}
	// Binomial(2000, 0.5): sd ≈ 22.
	if throttled < n/2-90 || throttled > n/2+90 {
		t.Fatalf("%d of %d throttled at rate 0.5", throttled, n)
	}
	f.EndFault(1, epoch.Add(n*time.Second))
	if r := f.Invoke(epoch.Add(n*time.Second), call(foundation)); r.Err != nil {
		t.Fatalf("after the storm: %v", r.Err)
	}
}

// A quota cut lowers the account's service quota while it lasts: the
// bucket that allowed 100 a minute allows 3, then 100 again.
func TestQuotaCutThrottlesToTheCutAndLifts(t *testing.T) {
	f := New(scenario(100, nil), nil, 1, epoch)
	f.InjectFault(1, scenarios.Fault{Kind: scenarios.QuotaCut, Account: "a", QuotaRPM: 3}, epoch.Add(time.Minute), epoch.Add(2*time.Minute))
	ok := func(from time.Duration, n int) int {
		served := 0
		for i := range n {
			if r := f.Invoke(epoch.Add(from+time.Duration(i)*time.Millisecond), call(foundation)); r.Err == nil {
				served++
			}
		}
		return served
	}
	if got := ok(0, 50); got != 50 {
		t.Fatalf("before the cut: %d of 50 served, want 50", got)
	}
	if got := ok(time.Minute+time.Second, 50); got > 3 {
		t.Fatalf("during the cut: %d of 50 served, want at most 3", got)
	}
	// After the cut the quota is 100 again and refills at 100 a minute.
	if got := ok(3*time.Minute, 50); got != 50 {
		t.Fatalf("a minute after the cut lifted: %d of 50 served, want 50", got)
	}
}

// Latency degradation multiplies each call's latency, and draws nothing
// random, so the same seed gives exactly factor × the latency.
func TestLatencyDegradationMultiplies(t *testing.T) {
	plain := New(scenario(scenarios.Unlimited, nil), nil, 7, epoch)
	slow := New(scenario(scenarios.Unlimited, nil), nil, 7, epoch)
	slow.InjectFault(1, scenarios.Fault{Kind: scenarios.SlowDown, Factor: 3}, epoch, time.Time{})
	for i := range 20 {
		at := epoch.Add(time.Duration(i) * time.Second)
		a, b := plain.Invoke(at, call(profile)), slow.Invoke(at, call(profile))
		if want := time.Duration(float64(a.Latency) * 3).Round(time.Millisecond); b.Latency != want {
			t.Fatalf("call %d: %v with the fault, %v without; want ×3 = %v", i, b.Latency, a.Latency, want)
		}
	}
}

// Slowdowns that multiply past what a duration can hold, such as live
// faults stacked on a file's, give a long latency, never a negative one.
func TestStackedSlowdownsStayPositive(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 7, epoch)
	for id := 1; id <= 3; id++ {
		f.InjectFault(id, scenarios.Fault{Kind: scenarios.SlowDown, Factor: 1e300}, epoch, time.Time{})
	}
	if r := f.Invoke(epoch, call(profile)); r.Err != nil || r.Latency != scenarios.MaxSpan {
		t.Fatalf("latency %v (%v); want it clamped to %v", r.Latency, r.Err, scenarios.MaxSpan)
	}
}

// Error injection answers the chosen error at its rate.
func TestErrorInjection(t *testing.T) {
	for _, code := range scenarios.InjectableErrors {
		f := New(scenario(scenarios.Unlimited, nil), nil, 3, epoch)
		f.InjectFault(1, scenarios.Fault{Kind: scenarios.ErrorInjection, Error: code, Rate: 1}, epoch, time.Time{})
		r := f.Invoke(epoch, call(profile))
		if r.Err == nil || r.Err.Code != code || r.Err.Status() == 0 || r.Err.Message == "" {
			t.Fatalf("%s at rate 1: %+v", code, r.Err)
		}
	}
}
