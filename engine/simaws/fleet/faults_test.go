package fleet

import (
	"slices"
	"testing"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

const foundation = "anthropic.claude-3-7-sonnet-20250219-v1:0"

// A Region outage: a cross-Region profile lands only in the Regions still
// up; a call pinned to the Region gets wire.ServiceUnavailableException; when
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
	if r := f.Invoke(epoch.Add(90*time.Second), pinned); r.Err == nil || r.Err.Code != wire.ServiceUnavailableException || r.Err.Status() != 503 {
		t.Fatalf("foundation model in us-east-2 during the outage: %+v, want wire.ServiceUnavailableException (503)", r.Err)
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
			if r.Err.Code != wire.ThrottlingException || r.Err.Status() != 429 {
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

// StartFault chooses ids above every id the fleet holds; Faults lists
// those not over, and StopFault ends one and says whether there was one.
func TestStartedFaultsAreListedAndStopped(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	f.InjectFault(4, scenarios.Fault{Kind: scenarios.SlowDown, Factor: 2}, epoch, epoch.Add(time.Minute))
	outage := scenarios.Fault{Kind: scenarios.RegionOutage, Region: "us-east-2"}
	a := f.StartFault(outage, epoch.Add(time.Minute), time.Time{})
	b := f.StartFault(outage, epoch.Add(time.Hour), epoch.Add(2*time.Hour))
	if a != 5 || b != 6 {
		t.Fatalf("ids %d, %d after an injected 4; want 5, 6", a, b)
	}
	ids := func(at time.Time) []int {
		var out []int
		for _, w := range f.Faults(at) {
			out = append(out, w.ID)
		}
		return out
	}
	if got := ids(epoch); !slices.Equal(got, []int{4, 5, 6}) {
		t.Fatalf("at the start: %v", got)
	}
	if got := ids(epoch.Add(time.Minute)); !slices.Equal(got, []int{5, 6}) {
		t.Fatalf("once the slowdown is over: %v", got)
	}
	w, ok := f.StopFault(a, epoch.Add(90*time.Second))
	if !ok || w.ID != a || !w.To.Equal(epoch.Add(90*time.Second)) || w.Fault != outage {
		t.Fatalf("StopFault = %+v, %v", w, ok)
	}
	if _, ok := f.StopFault(a, epoch.Add(100*time.Second)); ok {
		t.Fatal("a fault already over was stopped again")
	}
	if _, ok := f.StopFault(99, epoch); ok {
		t.Fatal("an unknown id was stopped")
	}
	if got := ids(epoch.Add(90 * time.Second)); !slices.Equal(got, []int{6}) {
		t.Fatalf("after the stop: %v", got)
	}
	// The outage still covers calls that arrive late with a time inside it.
	pinned := Call{Account: "a", SourceRegion: "us-east-2", ModelID: foundation, Operation: "Converse", MaxTokens: 10}
	if r := f.Invoke(epoch.Add(80*time.Second), pinned); r.Err == nil {
		t.Fatal("a call inside the stopped outage's window was served")
	}
}

// Forgetting ended faults bounds what the fleet holds, and lifts a quota
// cut that no call has lifted yet.
func TestForgetEndedFaultsKeepsTheNewestAndLiftsQuotaCuts(t *testing.T) {
	f := New(scenario(100, nil), nil, 1, epoch)
	cut := f.StartFault(scenarios.Fault{Kind: scenarios.QuotaCut, Account: "a", QuotaRPM: 3}, epoch.Add(time.Minute), time.Time{})
	for i := range 50 {
		f.Invoke(epoch.Add(time.Minute+time.Duration(i)*time.Millisecond), call(foundation)) // the cut applies
	}
	f.StopFault(cut, epoch.Add(2*time.Minute))
	for i := range 10 {
		id := f.StartFault(scenarios.Fault{Kind: scenarios.SlowDown, Factor: 2}, epoch, time.Time{})
		f.StopFault(id, epoch.Add(time.Duration(i)*time.Second))
	}
	open := f.StartFault(scenarios.Fault{Kind: scenarios.SlowDown, Factor: 2}, epoch, time.Time{})
	f.ForgetEndedFaults(epoch.Add(2*time.Minute), 3)
	f.mu.Lock()
	var held []int
	for _, j := range f.faults {
		held = append(held, j.id)
	}
	f.mu.Unlock()
	if want := []int{cut, cut + 9, cut + 10, open}; !slices.Equal(held, want) {
		t.Fatalf("held %v; want the three that ended last and the open one, %v", held, want)
	}
	f.ForgetEndedFaults(epoch.Add(2*time.Minute), 0)
	served := 0
	for i := range 50 {
		if r := f.Invoke(epoch.Add(3*time.Minute+time.Duration(i)*time.Millisecond), call(foundation)); r.Err == nil {
			served++
		}
	}
	if served != 50 {
		t.Fatalf("after the forgotten cut: %d of 50 served; the quota stayed cut", served)
	}
}
