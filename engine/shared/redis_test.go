package shared_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spillway/engine/enginetest"
	"spillway/engine/shared"
	"spillway/scenarios"
)

// dial is a store in srv with a deadline of seconds: the tests that use it
// are about what it counts, and a busy machine (the race detector, every
// package at once) can hold 64 new connections past a tenth of a second.
// The tests of the deadline itself use dialDefault.
func dial(t testing.TB, srv *enginetest.RedisServer, scope string) *shared.Redis {
	t.Helper()
	return dialWithin(t, srv, scope, 5*time.Second)
}

func dialDefault(t testing.TB, srv *enginetest.RedisServer, scope string) *shared.Redis {
	t.Helper()
	return dialWithin(t, srv, scope, 0)
}

func dialWithin(t testing.TB, srv *enginetest.RedisServer, scope string, deadline time.Duration) *shared.Redis {
	t.Helper()
	r, err := shared.DialRedis(context.Background(), srv.URL(), scope, deadline)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// 64 requests at once, spread over four replicas, each its own client of
// one Redis, against a limit of 10: exactly 10 are admitted, in both
// limiter semantics, every time.
func TestSixtyFourAtOnceOverFourReplicasAdmitExactlyTheLimit(t *testing.T) {
	srv := enginetest.StartRedis(t)
	for _, sem := range []scenarios.Limiter{scenarios.FixedWindow, scenarios.TokenBucket} {
		for rep := range 25 {
			enginetest.AwayFromAMinuteTurn(t, 3*time.Second)
			scope := fmt.Sprintf("race-%s-%d", sem, rep)
			replicas := make([]*shared.Redis, 4)
			for i := range replicas {
				replicas[i] = dial(t, srv, scope)
			}
			var admitted atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, refused, err := replicas[i%4].Take(context.Background(), []shared.Ask{{Key: "deployment/primary", Semantic: sem, Limit: 10, N: 1}})
					if err != nil {
						t.Error(err)
						return
					}
					if refused == nil {
						admitted.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			if n := admitted.Load(); n != 10 {
				t.Fatalf("%s, repetition %d: %d of 64 admitted against a shared limit of 10", sem, rep, n)
			}
		}
	}
}

// A decision over several buckets takes from all of them or from none: a
// request the deployment turns away is not charged to its tenant.
func TestADecisionTakesFromEveryBucketOrNone(t *testing.T) {
	srv := enginetest.StartRedis(t)
	r := dial(t, srv, "all-or-none")
	enginetest.AwayFromAMinuteTurn(t, 3*time.Second)
	tenant := shared.Ask{Key: "tenant/a", Semantic: scenarios.FixedWindow, Limit: 10, N: 1}
	dep := shared.Ask{Key: "deployment/primary", Semantic: scenarios.FixedWindow, Limit: 2, N: 1}
	for i := range 5 {
		_, refused, err := r.Take(context.Background(), []shared.Ask{tenant, dep})
		if err != nil {
			t.Fatal(err)
		}
		if (refused == nil) != (i < 2) {
			t.Fatalf("take %d: refused %+v", i+1, refused)
		}
		if refused != nil && (refused.Index != 1 || refused.Wait <= 0 || refused.Wait > time.Minute) {
			t.Fatalf("take %d: refused %+v; want the deployment (1), with the wait until the next clock minute", i+1, refused)
		}
	}
	sync, err := r.Sync(context.Background(), "", []shared.Ask{tenant, dep})
	if err != nil {
		t.Fatal(err)
	}
	levels := sync.Levels
	if levels[0].Available != 8 || levels[1].Available != 0 {
		t.Fatalf("levels %+v: the tenant should have been charged only for the 2 the deployment admitted", levels)
	}
}

// On one shared clock the Redis store decides as the local one, which is
// engine/bucket's arithmetic, through a long random sequence of takes,
// settlements and minutes going by, in both semantics.
func TestRedisCountsAsTheLocalStore(t *testing.T) {
	srv := enginetest.StartRedis(t)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	remote := dial(t, srv, "same-arithmetic").WithClock(clock)
	local := shared.NewLocal(clock)
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	refusals := map[int]int{}
	for step := range 3000 {
		sem := scenarios.TokenBucket
		if step%2 == 1 {
			sem = scenarios.FixedWindow
		}
		asks := []shared.Ask{
			{Key: "tenant/" + string(sem), Semantic: sem, Limit: 12, N: 1},
			{Key: "tokens/" + string(sem), Semantic: sem, Limit: 6000, N: float64(1 + rng.IntN(900)), Check: step%5 == 0},
		}
		_, a, errA := remote.Take(ctx, asks)
		_, b, errB := local.Take(ctx, asks)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if (a == nil) != (b == nil) || a != nil && (a.Index != b.Index || absDiff(a.Wait, b.Wait) > time.Millisecond) {
			t.Fatalf("step %d at %s: Redis refused %+v, the local store %+v", step, now.Format(time.TimeOnly), a, b)
		}
		if a != nil {
			refusals[a.Index]++
		}
		if a == nil && rng.IntN(2) == 0 {
			used := float64(rng.IntN(1200))
			at := now
			if err := remote.Settle(ctx, asks[1], asks[1].N, used, at); err != nil {
				t.Fatal(err)
			}
			local.Settle(ctx, asks[1], asks[1].N, used, at)
		}
		sa, _ := remote.Sync(ctx, "", asks)
		sb, _ := local.Sync(ctx, "", asks)
		la, lb := sa.Levels, sb.Levels
		for i := range la {
			if diff := la[i].Available - lb[i].Available; diff > 1e-6 || diff < -1e-6 {
				t.Fatalf("step %d: %s holds %v in Redis, %v locally", step, asks[i].Key, la[i].Available, lb[i].Available)
			}
		}
		now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
	}
	// The sequence must reach both limits for the comparison to mean much.
	if refusals[0] < 50 || refusals[1] < 50 {
		t.Fatalf("refusals by bucket %v: the sequence did not press both limits", refusals)
	}
}

func absDiff(a, b time.Duration) time.Duration {
	if a > b {
		return a - b
	}
	return b - a
}

// Every key the store writes expires on its own once it no longer
// matters: a token bucket once it would be full again, a fixed window
// once its minute is over.
func TestKeysExpireOnTheirOwn(t *testing.T) {
	srv := enginetest.StartRedis(t)
	r := dial(t, srv, "expiry")
	ctx := context.Background()
	for _, sem := range []scenarios.Limiter{scenarios.TokenBucket, scenarios.FixedWindow} {
		if _, _, err := r.Take(ctx, []shared.Ask{{Key: "b-" + string(sem), Semantic: sem, Limit: 60, N: 30}}); err != nil {
			t.Fatal(err)
		}
		ttl, err := strconv.Atoi(strings.TrimPrefix(srv.Do("PTTL", r.Key("b-"+string(sem))), ":"))
		if err != nil || ttl <= 0 || ttl > 61_000 {
			t.Fatalf("%s: PTTL %d (%v); want a key that expires within a minute and a second", sem, ttl, err)
		}
	}
}

// Redis killed: a decision fails at once with ErrUnavailable instead of
// waiting; Redis back on the same address: the next decision works, with
// no reconnecting by hand.
func TestAStoppedRedisFailsFastAndIsUsedAgainWhenBack(t *testing.T) {
	srv := enginetest.StartRedis(t)
	r := dialDefault(t, srv, "restart")
	ask := []shared.Ask{{Key: "tenant/a", Semantic: scenarios.FixedWindow, Limit: 100, N: 1}}
	if _, _, err := r.Take(context.Background(), ask); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	_, _, err := r.Take(context.Background(), ask)
	if !errors.Is(err, shared.ErrUnavailable) {
		t.Fatalf("with Redis stopped, Take returned %v; want ErrUnavailable", err)
	}
	// Generous: the deadline is 100 ms; this only catches a hang.
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("Take waited %v for a stopped Redis", waited)
	}
	srv.Start()
	var lastErr error
	for range 50 {
		if _, _, lastErr = r.Take(context.Background(), ask); lastErr == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("Redis is back, but Take still fails: %v", lastErr)
}

// A Redis busy with a long command (DEBUG SLEEP) does not hold a decision
// past the store's deadline.
func TestASlowRedisDoesNotHoldADecision(t *testing.T) {
	srv := enginetest.StartRedis(t)
	r := dialDefault(t, srv, "slow")
	ask := []shared.Ask{{Key: "tenant/a", Semantic: scenarios.TokenBucket, Limit: 100, N: 1}}
	if _, _, err := r.Take(context.Background(), ask); err != nil {
		t.Fatal(err)
	}
	slept := make(chan struct{})
	go func() { srv.Do("DEBUG", "SLEEP", "3"); close(slept) }()
	time.Sleep(200 * time.Millisecond) // the sleep has begun
	start := time.Now()
	_, _, err := r.Take(context.Background(), ask)
	waited := time.Since(start)
	if !errors.Is(err, shared.ErrUnavailable) {
		t.Fatalf("while Redis sleeps, Take returned %v; want ErrUnavailable", err)
	}
	select {
	case <-slept:
		t.Fatalf("Take returned only after Redis woke (%v); want it back at its deadline", waited)
	default:
	}
	<-slept
}

// A limit set live on one replica holds for every replica from its next
// decision, in Redis as in process: lowered, raised to unlimited; and a
// sync counts the replicas that share the buckets.
func TestALimitSetOnOneReplicaHoldsForAll(t *testing.T) {
	srv := enginetest.StartRedis(t)
	stores := map[string][2]shared.Store{
		"redis":      {dial(t, srv, "live"), dial(t, srv, "live")},
		"in process": func() [2]shared.Store { l := shared.NewLocal(nil); return [2]shared.Store{l, l} }(),
	}
	ctx := context.Background()
	enginetest.AwayFromAMinuteTurn(t, 5*time.Second)
	for name, pair := range stores {
		a, b := pair[0], pair[1]
		ask := []shared.Ask{{Key: "deployment/primary", Semantic: scenarios.FixedWindow, Limit: 10, N: 1}}
		if err := a.SetLimit(ctx, "deployment/primary", 2); err != nil {
			t.Fatal(err)
		}
		taken := 0
		for range 5 {
			if _, refused, err := b.Take(ctx, ask); err != nil {
				t.Fatal(err)
			} else if refused == nil {
				taken++
			}
		}
		if taken != 2 {
			t.Fatalf("%s: replica b took %d under the limit of 2 replica a set; want 2", name, taken)
		}
		sa, _ := a.Sync(ctx, "a", ask)
		sb, _ := b.Sync(ctx, "b", ask)
		if lv := sb.Levels[0]; !lv.Set || lv.Limit != 2 || lv.Available != 0 {
			t.Fatalf("%s: replica b syncs %+v; want the live limit 2, none left", name, lv)
		}
		if sa.Replicas < 1 || sb.Replicas != 2 {
			t.Fatalf("%s: replicas counted %d then %d; want 1 then 2", name, sa.Replicas, sb.Replicas)
		}
		if err := b.SetLimit(ctx, "deployment/primary", math.Inf(1)); err != nil {
			t.Fatal(err)
		}
		if _, refused, err := a.Take(ctx, ask); err != nil || refused != nil {
			t.Fatalf("%s: unlimited, a take was refused: %+v %v", name, refused, err)
		}
	}
}

// A deployment held out of the pick by one replica is refused to every
// replica until the hold runs out, in Redis as in process.
func TestAHoldRefusesEveryReplicaUntilItRunsOut(t *testing.T) {
	srv := enginetest.StartRedis(t)
	local := shared.NewLocal(nil)
	for name, pair := range map[string][2]shared.Store{
		"redis":      {dial(t, srv, "hold"), dial(t, srv, "hold")},
		"in process": {local, local},
	} {
		ctx := context.Background()
		ask := []shared.Ask{{Key: "health/deployment/primary", Semantic: shared.Health},
			{Key: "deployment/primary", Semantic: scenarios.TokenBucket, Limit: 100, N: 1}}
		if err := pair[0].Hold(ctx, "health/deployment/primary", 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		_, refused, err := pair[1].Take(ctx, ask)
		if err != nil || refused == nil || refused.Index != 0 || refused.Wait <= 0 || refused.Wait > 300*time.Millisecond {
			t.Fatalf("%s: a take while held: %+v, %v; want refused at the hold, with what is left of it", name, refused, err)
		}
		time.Sleep(400 * time.Millisecond)
		if _, refused, err := pair[1].Take(ctx, ask); err != nil || refused != nil {
			t.Fatalf("%s: a take after the hold ran out: %+v, %v; want taken", name, refused, err)
		}
	}
}

// On a simulated clock, which does not pass with the wall's, holds end by
// that clock, and a bucket is not lost when the wall's time its content
// needs runs out: a run at any speed counts in Redis as in process.
func TestOnASimulatedClockHoldsAndBucketsFollowThatClock(t *testing.T) {
	srv := enginetest.StartRedis(t)
	var now atomic.Int64 // microseconds
	clock := func() time.Time { return time.UnixMicro(now.Load()) }
	ctx := context.Background()
	for name, store := range map[string]shared.Store{
		"redis":      dial(t, srv, "simulated").WithClock(clock),
		"in process": shared.NewLocal(clock),
	} {
		now.Store(0)
		held := []shared.Ask{{Key: "health/deployment/primary", Semantic: shared.Health}}
		if err := store.Hold(ctx, "health/deployment/primary", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		now.Add((29 * time.Second).Microseconds())
		if _, refused, err := store.Take(ctx, held); err != nil || refused == nil || refused.Wait != time.Second {
			t.Fatalf("%s: 29 s into a 30 s hold: %+v, %v; want refused with 1s left", name, refused, err)
		}
		now.Add((2 * time.Second).Microseconds())
		if _, refused, err := store.Take(ctx, held); err != nil || refused != nil {
			t.Fatalf("%s: 31 s into a 30 s hold: %+v, %v; want taken", name, refused, err)
		}
		window := []shared.Ask{{Key: "deployment/primary", Semantic: scenarios.FixedWindow, Limit: 2, N: 2}}
		now.Store((119*time.Second + 900*time.Millisecond).Microseconds()) // a tenth of a second before its window turns
		if _, refused, err := store.Take(ctx, window); err != nil || refused != nil {
			t.Fatalf("%s: the window's first take: %+v, %v", name, refused, err)
		}
		time.Sleep(1200 * time.Millisecond) // more than the window's second of grace, on the wall
		if _, refused, err := store.Take(ctx, []shared.Ask{{Key: "deployment/primary", Semantic: scenarios.FixedWindow, Limit: 2, N: 1}}); err != nil || refused == nil {
			t.Fatalf("%s: the same simulated minute after a wall second: %+v, %v; want refused, the window full", name, refused, err)
		}
	}
	key := shared.KeyPrefix("simulated") + "bucket:deployment/primary"
	if ttl, _ := strconv.Atoi(strings.TrimPrefix(srv.Do("PTTL", key), ":")); ttl < int((23 * time.Hour).Milliseconds()) {
		t.Fatalf("PTTL of a bucket written on a simulated clock: %d ms; want about a day", ttl)
	}
}
