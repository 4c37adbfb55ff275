package engine_test

import (
	"context"
	"fmt"
	"strings"

	"sync/atomic"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/shared"
	"spillway/scenarios"
)

// quick is a network backend that answers at once.
type quick struct{}

func (quick) Instant() bool { return false }
func (quick) Invoke(context.Context, time.Time, engine.Call) engine.Reply {
	return engine.Reply{Text: "ok", InputTokens: 10, OutputTokens: 5}
}

// flaky is a store that can be made unreachable.
type flaky struct {
	shared.Store
	down atomic.Bool
}

func (f *flaky) Take(ctx context.Context, asks []shared.Ask) (time.Time, *shared.Refusal, error) {
	if f.down.Load() {
		return time.Time{}, nil, fmt.Errorf("%w: switched off by the test", shared.ErrUnavailable)
	}
	return f.Store.Take(ctx, asks)
}

// replicas runs n open runs of the built-in gateway scenario that share
// store, each with its own event tap.
func replicas(t *testing.T, n int, store shared.Store, onFailure string) ([]*engine.Engine, []*eventTap) {
	t.Helper()
	var engines []*engine.Engine
	var taps []*eventTap
	for i := range n {
		e, tap := openRun(t, engine.Options{Backend: quick{}, Shared: &engine.SharedLimits{Store: store, OnFailure: onFailure, Replica: fmt.Sprint("replica-", i)}})
		engines, taps = append(engines, e), append(taps, tap)
	}
	return engines, taps
}

// send spreads count requests over the replicas, in turn, all at once,
// and waits for every one to end; it returns the final events.
func send(t *testing.T, engines []*engine.Engine, taps []*eventTap, tenant, group string, count int) []engine.Event {
	t.Helper()
	for i := range count {
		engines[i%len(engines)].Controls().Send(engine.Arrive{Ticket: uint64(1000 + i), Tenant: tenant, Group: group, InputTokens: 10, MaxTokens: 100})
	}
	var finals []engine.Event
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		finals = finals[:0]
		for _, tap := range taps {
			tap.mu.Lock()
			for _, ev := range tap.events {
				if ev.Kind.Final() {
					finals = append(finals, ev)
				}
			}
			tap.mu.Unlock()
		}
		if len(finals) >= count {
			return finals
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d of %d requests ended within 10 s", len(finals), count)
	return nil
}

func served(finals []engine.Event) map[string]int {
	by := map[string]int{}
	for _, ev := range finals {
		switch ev.Kind {
		case engine.Succeeded:
			by[ev.Deployment]++
		default:
			by[ev.Kind.String()]++
		}
	}
	return by
}

// Two replicas sharing their buckets enforce the 3 RPM primary once: of
// ten requests spread over both, 3 in all get the primary and the other
// 7 fall back. The tenant's 3 RPM holds the same way.
func TestReplicasSharingTheirBucketsEnforceEachLimitOnce(t *testing.T) {
	enginetest.AwayFromAMinuteTurn(t, 5*time.Second)
	store := shared.NewLocal(nil)
	engines, taps := replicas(t, 2, store, scenarios.SharedFailOpen)
	if got := served(send(t, engines, taps, "demo", "claude", 10)); got["primary"] != 3 || got["fallback"] != 7 {
		t.Fatalf("two replicas sharing a 3 RPM primary served %v; want 3 by primary and 7 by fallback", got)
	}
	engines, taps = replicas(t, 2, shared.NewLocal(nil), scenarios.SharedFailOpen)
	got := served(send(t, engines, taps, "team-a", "balanced", 10))
	if got["rate_limited"] != 7 || got["primary-a"]+got["primary-b"]+got["overflow"] != 3 {
		t.Fatalf("two replicas sharing team-a's 3 RPM: %v; want 3 served and 7 rate-limited", got)
	}
}

// The same two replicas, each with its own limits (their store down,
// redis_failure = "open"): each lets the primary take 3, 6 in all, the
// leak shared limits stop; the record says why. When the store answers
// again, the limits are shared once more.
func TestAStoreThatIsDownLeavesEachReplicaItsOwnLimitsAndComesBack(t *testing.T) {
	store := &flaky{Store: shared.NewLocal(nil)}
	store.down.Store(true)
	engines, taps := replicas(t, 2, store, scenarios.SharedFailOpen)
	if got := served(send(t, engines, taps, "demo", "claude", 10)); got["primary"] != 6 {
		t.Fatalf("with the store down, two replicas served %v; want 3 each by primary, 6 in all", got)
	}
	for i, tap := range taps {
		if ev := tap.await(t, engine.SharedLimitsChanged, 0); ev.Code != engine.CodeSharedDown {
			t.Fatalf("replica %d said %+v; want the store down", i, ev)
		}
	}
	store.down.Store(false)
	time.Sleep(1100 * time.Millisecond) // the next probe is a second after the failure
	engines[0].Controls().Send(engine.Arrive{Ticket: 1, Tenant: "demo", Group: "claude-fallback", InputTokens: 10, MaxTokens: 10})
	deadline := time.Now().Add(10 * time.Second)
	for taps[0].count(engine.SharedLimitsChanged) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the store answers again, but the replica did not say so within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// redis_failure = "closed": while the store is down, every request is
// refused as SharedLimitsUnavailable, and none is served on guesswork.
func TestAClosedGatewayRefusesWhileTheStoreIsDown(t *testing.T) {
	store := &flaky{Store: shared.NewLocal(nil)}
	store.down.Store(true)
	engines, taps := replicas(t, 1, store, scenarios.SharedFailClosed)
	for _, ev := range send(t, engines, taps, "demo", "claude", 4) {
		if ev.Kind != engine.Failed || ev.Code != engine.CodeSharedUnavailable {
			t.Fatalf("a closed gateway with its store down ended a request with %v %s; want failed, %s", ev.Kind, ev.Code, engine.CodeSharedUnavailable)
		}
	}
}

// A limit retuned on one replica holds for all of them within a second or
// two: the others take it on as a recorded RPMChanged that says where it
// came from, and the Levels they record count both replicas.
func TestALimitRetunedOnOneReplicaHoldsForAll(t *testing.T) {
	enginetest.AwayFromAMinuteTurn(t, 15*time.Second)
	engines, taps := replicas(t, 2, shared.NewLocal(nil), scenarios.SharedFailOpen)
	engines[0].Controls().Send(engine.SetRPM{Bucket: "deployment/primary", RPM: 1})
	ev := taps[1].await(t, engine.RPMChanged, 0)
	if ev.Bucket != "deployment/primary" || ev.RPM != 1 || ev.Message != "set on another replica" {
		t.Fatalf("the other replica recorded %+v; want deployment/primary at 1, set on another replica", ev)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		taps[1].mu.Lock()
		for _, ev := range taps[1].events {
			if ev.Kind == engine.Levels {
				n = max(n, ev.Replicas)
			}
		}
		taps[1].mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Levels events counted at most %d replicas; want 2", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := served(send(t, engines, taps, "demo", "claude", 6)); got["primary"] != 1 || got["fallback"] != 5 {
		t.Fatalf("after the primary was retuned to 1 on one replica, both served %v; want 1 by primary", got)
	}
}

// throttledPrimary throttles every call to the deployment named primary.
type throttledPrimary struct{}

func (throttledPrimary) Instant() bool { return false }
func (throttledPrimary) Invoke(_ context.Context, _ time.Time, c engine.Call) engine.Reply {
	if c.Deployment == "primary" {
		return engine.Reply{Code: "ThrottlingException", Message: "Too many requests"}
	}
	return engine.Reply{Text: "ok", InputTokens: 10, OutputTokens: 5}
}

const cooldownScenario = `[[scenario]]
name = "cool"
title = "A cooldown the replicas share"
fallback_on = ["throttled"]

  [[scenario.account]]
  name = "default"

  [[scenario.deployment]]
  name = "primary"
  model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = "unlimited"

  [[scenario.deployment]]
  name = "fallback"
  model = "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
  rpm = "unlimited"

  [[scenario.group]]
  name = "claude"
  deployments = ["primary"]
  fallbacks = ["claude-fallback"]

  [[scenario.group]]
  name = "claude-fallback"
  deployments = ["fallback"]

  [[scenario.tenant]]
  name = "demo"
  rpm = "unlimited"
  arrival = "gateway"

  [scenario.gateway]
  allowed_fails = 1
  cooldown = "30s"
`

// A deployment one replica puts in cooldown is passed over by every
// replica: the other, which saw no failure of it, skips it for cooldown
// and goes straight to the fallback.
func TestACooldownOnOneReplicaHoldsForAll(t *testing.T) {
	f, err := scenarios.Parse("cool.toml", []byte(cooldownScenario))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenarios[0]
	store := shared.NewLocal(nil)
	var engines []*engine.Engine
	var taps []*eventTap
	for i := range 2 {
		e, err := engine.New(s, engine.Options{Seed: 42, Speed: 1, Open: true, Clock: realClock{}, Backend: throttledPrimary{},
			Shared: &engine.SharedLimits{Store: store, OnFailure: scenarios.SharedFailOpen, Replica: fmt.Sprint("replica-", i)}})
		if err != nil {
			t.Fatal(err)
		}
		tap := newTap()
		e.Subscribe(tap)
		enginetest.Serve(t, e)
		engines, taps = append(engines, e), append(taps, tap)
	}
	// Replica 0: the primary throttles, cools down; the request falls back.
	send(t, engines[:1], taps[:1], "demo", "claude", 1)
	if ev := taps[0].await(t, engine.HealthChanged, 0); ev.Health != engine.Cooling {
		t.Fatalf("replica 0: %+v; want the primary cooling", ev)
	}
	// Replica 1 has seen nothing fail.
	finals := send(t, engines[1:], taps[1:], "demo", "claude", 1)
	if finals[0].Kind != engine.Succeeded || finals[0].Deployment != "fallback" {
		t.Fatalf("replica 1 ended its request with %+v; want served by the fallback", finals[0])
	}
	skip := taps[1].await(t, engine.Skipped, 0)
	if skip.Deployment != "primary" || skip.Reason != engine.SkipCooldown {
		t.Fatalf("replica 1 skipped %+v; want the primary, for cooldown on another replica", skip)
	}
	if n := taps[1].count(engine.Attempt); n != 1 {
		t.Fatalf("replica 1 made %d attempts; want 1, on the fallback, none on the cooling primary", n)
	}
}

// A gateway whose limits are shared keeps to real time: a speed change is
// refused, saying why.
func TestSharedLimitsKeepTheSpeedAtOne(t *testing.T) {
	engines, _ := replicas(t, 1, shared.NewLocal(nil), scenarios.SharedFailOpen)
	for _, in := range []engine.Intent{engine.StepSpeed{Dir: 1}, engine.SetSpeed{Speed: 20}} {
		if err := engines[0].Controls().Send(in); err == nil || !strings.Contains(err.Error(), "real time") {
			t.Fatalf("%T with shared limits: %v; want it refused for real time", in, err)
		}
	}
}

// A gateway's shared fixed windows are Redis's clock minutes, so the
// "resets in" it shows counts to the wall clock's next minute, not to the
// end of a minute from the gateway's start.
func TestASharedWindowResetsAtTheClockMinute(t *testing.T) {
	for s := time.Now().Second(); s < 5 || s > 50; s = time.Now().Second() {
		time.Sleep(200 * time.Millisecond) // far from a minute's turn, so the two answers differ
	}
	e, _ := openRun(t, engine.Options{Backend: quick{}, Shared: &engine.SharedLimits{Store: shared.NewLocal(nil), Replica: "one"}})
	snap, err := e.Controls().Fresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	want := now.Truncate(time.Minute).Add(time.Minute).Sub(now)
	for _, b := range snap.Buckets {
		if b.ID == "deployment/primary" {
			if diff := b.WindowResetsIn - want; diff < -time.Second || diff > time.Second {
				t.Fatalf("deployment/primary resets in %v; want %v, at the clock's next minute", b.WindowResetsIn, want)
			}
			return
		}
	}
	t.Fatal("no deployment/primary in the snapshot")
}
