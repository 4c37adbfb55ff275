package health

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestCooldownStartsOnTheAllowedFailsWithinAMinute(t *testing.T) {
	c := &Cooldown{AllowedFails: 2, For: 15 * time.Second}
	if _, changed := c.Failed(at(0)); changed {
		t.Fatal("the first failure cooled the deployment down")
	}
	// The second failure comes more than a minute after the first, so it
	// is the only one in the window.
	if _, changed := c.Failed(at(61 * time.Second)); changed {
		t.Fatal("two failures a minute apart cooled the deployment down")
	}
	tr, changed := c.Failed(at(70 * time.Second))
	if !changed || tr.To != Cooling || !tr.Until.Equal(at(85*time.Second)) || tr.Failures != 2 {
		t.Fatalf("second failure within a minute: %+v, %v; want cooldown until 85s", tr, changed)
	}
	if !c.Skips(at(84*time.Second)) || c.Skips(at(85*time.Second)) {
		t.Fatal("a cooldown must skip until its end and not after")
	}
	if s, until := c.At(at(80 * time.Second)); s != Cooling || !until.Equal(at(85*time.Second)) {
		t.Fatalf("during the cooldown: %q until %v", s, until)
	}
	if s, _ := c.At(at(85 * time.Second)); s != Healthy {
		t.Fatalf("after the cooldown: %q, want healthy with no event", s)
	}
}

func TestFailuresDuringACooldownCountTowardsTheNext(t *testing.T) {
	c := &Cooldown{AllowedFails: 2, For: 15 * time.Second}
	c.Failed(at(0))
	c.Failed(at(time.Second)) // cooling until 16s
	if _, changed := c.Failed(at(5 * time.Second)); changed {
		t.Fatal("a failure during a cooldown restarted it")
	}
	tr, changed := c.Failed(at(16 * time.Second))
	if !changed || !tr.Until.Equal(at(31*time.Second)) {
		t.Fatalf("the next failure after the cooldown: %+v %v; want a new cooldown until 31s", tr, changed)
	}
}

func TestBreakerOpensHalfOpensOnThePickAndCloses(t *testing.T) {
	b := &Breaker{Failures: 3, OpenFor: 30 * time.Second}
	b.Failed(at(0))
	b.Succeeded(at(time.Second)) // the streak starts again
	b.Failed(at(2 * time.Second))
	b.Failed(at(3 * time.Second))
	tr, changed := b.Failed(at(4 * time.Second))
	if !changed || tr.To != Open || !tr.Until.Equal(at(34*time.Second)) || tr.Failures != 3 {
		t.Fatalf("third failure in a row: %+v %v; want open until 34s", tr, changed)
	}
	if !b.Skips(at(40 * time.Second)) {
		t.Fatal("an open circuit past its time must still skip until a pick moves it on")
	}
	if _, changed := b.Due(at(33 * time.Second)); changed {
		t.Fatal("went half-open before its time")
	}
	// Half-open only when the next request's pick comes, at 50s.
	if tr, changed := b.Due(at(50 * time.Second)); !changed || tr.To != HalfOpen {
		t.Fatalf("due at 50s: %+v %v", tr, changed)
	}
	if b.Skips(at(50 * time.Second)) {
		t.Fatal("half-open must let the probe through")
	}
	b.Picked()
	if !b.Probing() || !b.Skips(at(50*time.Second)) {
		t.Fatal("with the probe out, others must be skipped")
	}
	if tr, changed := b.Succeeded(at(52 * time.Second)); !changed || tr.To != Healthy || b.Probing() {
		t.Fatalf("probe success: %+v %v", tr, changed)
	}
}

func TestAFailedProbeReopensTheCircuit(t *testing.T) {
	b := &Breaker{Failures: 1, OpenFor: 10 * time.Second}
	b.Failed(at(0))
	b.Due(at(10 * time.Second))
	b.Picked()
	tr, changed := b.Failed(at(11 * time.Second))
	if !changed || tr.To != Open || !tr.Until.Equal(at(21*time.Second)) || b.Probing() {
		t.Fatalf("failed probe: %+v %v; want open again until 21s", tr, changed)
	}
	// A late failure from before the circuit opened only lengthens the streak.
	if _, changed := b.Failed(at(12 * time.Second)); changed {
		t.Fatal("a failure while open changed the state")
	}
}

func TestNoneIsAlwaysHealthy(t *testing.T) {
	var p Policy = None{}
	for i := range 5 {
		if _, changed := p.Failed(at(time.Duration(i))); changed || p.Skips(at(0)) {
			t.Fatal("None changed state")
		}
	}
}
