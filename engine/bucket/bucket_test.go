package bucket

import (
	"math"
	mathrand "math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"

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

func TestReservationsOf9192TokensAgainst100kTPM(t *testing.T) {
	for _, semantic := range []scenarios.Limiter{scenarios.TokenBucket, scenarios.FixedWindow} {
		t.Run(string(semantic), func(t *testing.T) {
			b := NewOf(Tokens, semantic, 100_000, epoch)
			const reserve = 1_000 + 8_192 // input + max_tokens
			admitted := 0
			for range 11 {
				if b.TakeAt(at(0), reserve) {
					admitted++
				}
			}
			if admitted != 10 {
				t.Fatalf("admitted %d reservations of %d at one instant against 100,000; want exactly 10", admitted, reserve)
			}
			if b.TakeAt(at(0), reserve) {
				t.Fatal("the 11th reservation was admitted")
			}
			// The first call answers with 300 output tokens: 8,892 of its
			// reservation come back, and the 11th fits at once.
			b.SettleAt(at(0), at(0), reserve, 1_000+300)
			if !b.TakeAt(at(0), reserve) {
				t.Fatalf("after settling 1,300 of 9,192 the 11th reservation should fit; %.0f left", b.LevelAt(at(0)).Available)
			}
			l := b.LevelAt(at(0))
			if l.Unit != Tokens || l.Admitted != 11 || l.Rejected != 2 || l.Used != 10*reserve+1_300 {
				t.Fatalf("level %+v; want tokens, 11 admitted, 2 rejected, %d used", l, 10*reserve+1_300)
			}
		})
	}
}

func TestSettlementCanTakeMoreThanWasReserved(t *testing.T) {
	// Burndown: 100 reserved, 500 counted at the end. The bucket goes below
	// empty and refuses until it has refilled past the debt.
	b := NewOf(Tokens, scenarios.TokenBucket, 600, epoch) // 10 tokens a second
	if !b.TakeAt(at(0), 600) {
		t.Fatal("a full bucket refused its capacity")
	}
	b.SettleAt(at(0), at(0), 600, 1_200)
	if got := b.LevelAt(at(0)).Available; got != -600 {
		t.Fatalf("after settling 1,200 of 600 reserved: %v left, want -600", got)
	}
	if b.HasAt(at(60*time.Second), 1) {
		t.Fatal("60 s of refill only pays the debt back; nothing should be free yet")
	}
	if w := b.WaitAt(at(60*time.Second), 100); w != 10*time.Second {
		t.Fatalf("wait for 100 tokens: %v, want 10s", w)
	}
	if !b.HasAt(at(70*time.Second), 100) {
		t.Fatal("after 70 s 100 tokens should be free")
	}
}

func TestFixedWindowForgetsAReservationWhenItTurnsOver(t *testing.T) {
	b := NewOf(Tokens, scenarios.FixedWindow, 1_000, epoch)
	b.TakeAt(at(50*time.Second), 800)
	// Settled in the next window: the 700 unused went with the old window,
	// and the new one is not charged for them.
	b.SettleAt(at(70*time.Second), at(50*time.Second), 800, 100)
	if got := b.LevelAt(at(70 * time.Second)).Available; got != 1_000 {
		t.Fatalf("new window after a refund: %v free, want 1000", got)
	}
	// Used beyond the reservation is counted where it is settled.
	b.TakeAt(at(80*time.Second), 200)
	b.SettleAt(at(130*time.Second), at(80*time.Second), 200, 500)
	if got := b.LevelAt(at(130 * time.Second)).Available; got != 700 {
		t.Fatalf("third window after 300 more than reserved: %v free, want 700", got)
	}
	if w := b.WaitAt(at(130*time.Second), 800); w != 50*time.Second {
		t.Fatalf("wait for 800 in a window with 700: %v, want the 50s to its end", w)
	}
	if w := b.WaitAt(at(130*time.Second), 1_001); w != -1 {
		t.Fatalf("wait for more than a window holds: %v, want -1 (never)", w)
	}
}

func TestChargeCountsAfterTheFact(t *testing.T) {
	// A gateway counting after success: the check is on the input, the
	// charge is the whole answer, which may overdraw.
	b := NewOf(Tokens, scenarios.FixedWindow, 1_000, epoch)
	if !b.HasAt(at(0), 900) {
		t.Fatal("an empty window should have room for 900")
	}
	b.ChargeAt(at(0), 1_500)
	if b.HasAt(at(time.Second), 1) {
		t.Fatal("a window charged past its limit should have no room")
	}
	if !b.HasAt(at(time.Minute), 1_000) {
		t.Fatal("the next window should start empty")
	}
}

// TestRequestsAreCountedAsXTimeRateCountsThem drives a token bucket and
// golang.org/x/time/rate's limiter with the same asks at the same times:
// they must agree on every one, so that the seeds' outcomes recorded
// before this package did its own arithmetic still hold.
func TestRequestsAreCountedAsXTimeRateCountsThem(t *testing.T) {
	for _, rpm := range []scenarios.RPM{1, 3, 15, 25, 60, 100, 250, 1000} {
		ours := New(scenarios.TokenBucket, rpm, epoch)
		theirs := rate.NewLimiter(rate.Limit(float64(rpm)/60), int(rpm))
		theirs.SetBurstAt(epoch, int(rpm))
		rng := mathrand.New(mathrand.NewPCG(uint64(rpm), 1))
		now := epoch
		for i := range 20_000 {
			// Steady arrivals land on a refill's exact boundary, where
			// rounding decides; random ones fill in between.
			if k := []float64{float64(rpm), 40, 20, 7, 0}[rng.IntN(5)]; k > 0 {
				now = now.Add(time.Duration(float64(time.Minute) / k))
			} else {
				now = now.Add(time.Duration(rng.ExpFloat64() * float64(time.Minute) / float64(rpm) / 1.3))
			}
			// Not just the same answers: the same tokens, to the last bit,
			// so that no boundary is ever decided differently.
			if got, want := ours.LevelAt(now).Available, theirs.TokensAt(now); got != want {
				t.Fatalf("rpm %v ask %d at %v: %v tokens, x/time/rate %v", rpm, i, now.Sub(epoch), got, want)
			}
			if got, want := ours.HasBudgetAt(now), theirs.TokensAt(now) >= 1; got != want {
				t.Fatalf("rpm %v ask %d at %v: HasBudgetAt %v, x/time/rate %v", rpm, i, now.Sub(epoch), got, want)
			}
			if got, want := ours.AllowAt(now), theirs.AllowN(now, 1); got != want {
				t.Fatalf("rpm %v ask %d at %v: admitted %v, x/time/rate %v", rpm, i, now.Sub(epoch), got, want)
			}
		}
	}
}

// A read at an earlier time than the last change gives nothing away: the
// next take finds what it would have without the read.
func TestReadingAtAnEarlierTimeRefillsNothing(t *testing.T) {
	b := NewOf(Tokens, scenarios.TokenBucket, 6_000, epoch) // 100 a second
	b.TakeAt(at(10*time.Second), 6_000)
	b.HasAt(at(0), 1)
	if got := b.LevelAt(at(10 * time.Second)).Available; got != 0 {
		t.Fatalf("after a read at an earlier time: %v tokens at 10s, want 0", got)
	}
}

// A fixed window never turns back: a read at the next window's time,
// then a take a moment before it (a paced run samples the gauges on the
// wall clock's time, ahead of a request that was due just before), finds
// the window the read turned to, not a fresh copy of the old one.
func TestAFixedWindowNeverTurnsBack(t *testing.T) {
	b := New(scenarios.FixedWindow, 1, epoch)
	if !b.AllowAt(at(59 * time.Second)) {
		t.Fatal("the first request of the window was refused")
	}
	b.LevelAt(at(60 * time.Second)) // the next window, which has room
	b.AllowAt(at(59*time.Second + 900*time.Millisecond))
	if b.AllowAt(at(61 * time.Second)) {
		t.Fatal("a 1 RPM window let two requests through in the minute from 60 s: a read turned it forward, a take turned it back")
	}
}
