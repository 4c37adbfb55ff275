package bucket

import (
	"math"
	"testing"
	"time"

	"spillway/scenarios"
)

var epoch = time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return epoch.Add(d) }

// admit asks n times at t and returns how many were let in.
func admit(b *Bucket, t time.Time, n int) int {
	ok := 0
	for range n {
		if b.AllowAt(t) {
			ok++
		}
	}
	return ok
}

func TestTokenBucketStartsFullAndRefillsRPMOver60(t *testing.T) {
	b := New(scenarios.TokenBucket, 3, epoch)
	if got := admit(b, at(0), 10); got != 3 {
		t.Fatalf("burst at start: admitted %d, want 3 (capacity = rpm)", got)
	}
	// 3 RPM refills one token every 20 s.
	if got := admit(b, at(19*time.Second), 5); got != 0 {
		t.Fatalf("after 19s: admitted %d, want 0", got)
	}
	if got := admit(b, at(20*time.Second), 5); got != 1 {
		t.Fatalf("after 20s: admitted %d, want 1", got)
	}
	// Idle for ten minutes: capped at capacity, not 30 tokens.
	if got := admit(b, at(10*time.Minute), 10); got != 3 {
		t.Fatalf("after idling: admitted %d, want 3 (capped at capacity)", got)
	}
	l := b.LevelAt(at(10 * time.Minute))
	if l.Admitted != 7 || l.Rejected != 23 {
		t.Fatalf("counters: admitted %d rejected %d, want 7 and 23", l.Admitted, l.Rejected)
	}
}

func TestFixedWindowCountsPerMinuteFromEpoch(t *testing.T) {
	b := New(scenarios.FixedWindow, 3, epoch)
	if got := admit(b, at(0), 5); got != 3 {
		t.Fatalf("first window: admitted %d, want 3", got)
	}
	// No refill inside the window, however long we wait.
	if got := admit(b, at(59*time.Second+999*time.Millisecond), 5); got != 0 {
		t.Fatalf("end of first window: admitted %d, want 0", got)
	}
	// The window boundary resets the count in full.
	if got := admit(b, at(time.Minute), 5); got != 3 {
		t.Fatalf("second window: admitted %d, want 3", got)
	}
	if got := b.LevelAt(at(time.Minute + 15*time.Second)).WindowResetsIn; got != 45*time.Second {
		t.Fatalf("WindowResetsIn = %v, want 45s", got)
	}
}

func TestFixedWindowAllowsBurstAcrossBoundary(t *testing.T) {
	// The classic fixed-window artefact: 2×rpm within a second straddling a
	// boundary. Engineers tuning limits need to see it, so it must happen.
	b := New(scenarios.FixedWindow, 3, epoch)
	got := admit(b, at(59500*time.Millisecond), 5) + admit(b, at(60500*time.Millisecond), 5)
	if got != 6 {
		t.Fatalf("across the boundary: admitted %d, want 6", got)
	}
	tb := New(scenarios.TokenBucket, 3, epoch)
	got = admit(tb, at(59500*time.Millisecond), 5) + admit(tb, at(60500*time.Millisecond), 5)
	if got != 3 {
		t.Fatalf("token bucket across the same second: admitted %d, want 3", got)
	}
}

func TestSetRPMTokenBucket(t *testing.T) {
	b := New(scenarios.TokenBucket, 3, epoch)
	admit(b, at(0), 3) // empty
	b.SetRPMAt(at(0), 60)
	// Raising keeps the (empty) tokens and refills at the new rate: 1/s.
	if got := admit(b, at(10*time.Second), 20); got != 10 {
		t.Fatalf("10s after raising to 60 RPM: admitted %d, want 10", got)
	}
	// Lowering caps what is there at the new capacity.
	full := New(scenarios.TokenBucket, 10, epoch)
	full.SetRPMAt(at(time.Second), 2)
	if got := admit(full, at(time.Second), 10); got != 2 {
		t.Fatalf("after lowering a full bucket to 2: admitted %d, want 2", got)
	}
	if full.RPM() != 2 {
		t.Fatalf("RPM() = %v, want 2", full.RPM())
	}
}

func TestSetRPMFixedWindowKeepsTheWindowCount(t *testing.T) {
	b := New(scenarios.FixedWindow, 3, epoch)
	admit(b, at(0), 3)
	b.SetRPMAt(at(10*time.Second), 5)
	if got := admit(b, at(10*time.Second), 5); got != 2 {
		t.Fatalf("raised 3→5 after 3 admitted: admitted %d more, want 2", got)
	}
	b.SetRPMAt(at(20*time.Second), 2)
	if got := admit(b, at(30*time.Second), 5); got != 0 {
		t.Fatalf("lowered below the count: admitted %d, want 0 until the window resets", got)
	}
	if got := admit(b, at(time.Minute), 5); got != 2 {
		t.Fatalf("next window at 2 RPM: admitted %d, want 2", got)
	}
}

func TestUnlimited(t *testing.T) {
	for _, sem := range []scenarios.Limiter{scenarios.TokenBucket, scenarios.FixedWindow} {
		b := New(sem, scenarios.Unlimited, epoch)
		if got := admit(b, at(0), 10000); got != 10000 {
			t.Fatalf("%s unlimited: admitted %d of 10000", sem, got)
		}
		l := b.LevelAt(at(0))
		if l.Fill() != 1 || !math.IsInf(l.Available, 1) {
			t.Fatalf("%s unlimited level: fill %v available %v", sem, l.Fill(), l.Available)
		}
		// Limiting an unlimited bucket starts it full at the new capacity.
		b.SetRPMAt(at(time.Second), 4)
		if got := admit(b, at(time.Second), 10); got != 4 {
			t.Fatalf("%s limited to 4: admitted %d, want 4", sem, got)
		}
	}
}

func TestHasBudgetDoesNotTake(t *testing.T) {
	b := New(scenarios.TokenBucket, 1, epoch)
	for range 5 {
		if !b.HasBudgetAt(at(0)) {
			t.Fatal("HasBudgetAt took the only token")
		}
	}
	b.RejectAt(at(0))
	if l := b.LevelAt(at(0)); l.Available != 1 || l.Rejected != 1 {
		t.Fatalf("after RejectAt: available %v rejected %d, want 1 and 1", l.Available, l.Rejected)
	}
}

func TestLevelFill(t *testing.T) {
	b := New(scenarios.FixedWindow, 4, epoch)
	admit(b, at(0), 1)
	if got := b.LevelAt(at(0)).Fill(); got != 0.75 {
		t.Fatalf("fill after 1 of 4 = %v, want 0.75", got)
	}
	b2 := New(scenarios.TokenBucket, 4, epoch)
	admit(b2, at(0), 4)
	if got := b2.LevelAt(at(30 * time.Second)).Fill(); got != 0.5 {
		t.Fatalf("token bucket 30s after emptying at 4 RPM: fill %v, want 0.5", got)
	}
}

func BenchmarkAllowAt(b *testing.B) {
	for _, sem := range []scenarios.Limiter{scenarios.TokenBucket, scenarios.FixedWindow} {
		b.Run(string(sem), func(b *testing.B) {
			bk := New(sem, 600, epoch)
			t := epoch
			b.ReportAllocs()
			for b.Loop() {
				t = t.Add(100 * time.Millisecond)
				bk.AllowAt(t)
			}
		})
	}
}
