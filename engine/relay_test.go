package engine_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
)

// A relayed sink sees what a direct one sees, event for event and in order,
// and has seen all of it when Run returns: batches are crossed many times
// over in a run this long.
func TestRelayedSinkSeesEveryEventInOrderBeforeRunReturns(t *testing.T) {
	longest := 0
	for _, name := range []string{"fallback", "load-balancing", "quota-isolation", "throttle-storm", "tuning"} {
		r := enginetest.NewRun(t, builtin(t), name, engine.Options{Seed: 42})
		relayed := &enginetest.Events{}
		r.Engine.Subscribe(engine.NewRelay(relayed))
		r.Do(t)
		direct, got := r.Events.All(), relayed.All()
		longest = max(longest, len(direct))
		if !reflect.DeepEqual(got, direct) {
			t.Fatalf("%s: the relayed sink saw %d events, the direct one %d, and they differ", name, len(got), len(direct))
		}
	}
	if longest < 3*256 {
		t.Fatalf("the longest run had %d events; the test wants runs of several batches", longest)
	}
}

// Flush hands the events held so far over without waiting for RunEnded.
func TestRelayFlushHandsOverWhatItHolds(t *testing.T) {
	got := &enginetest.Events{}
	relay := engine.NewRelay(got)
	for i := 1; i <= 3; i++ {
		relay.Handle(engine.Event{Kind: engine.Admitted, Request: i})
	}
	time.Sleep(10 * time.Millisecond)
	if n := len(got.All()); n != 0 {
		t.Fatalf("%d events reached the sink before a flush; a relay holds a partial batch", n)
	}
	relay.Flush()
	waitFor(t, func() bool { return len(got.All()) == 3 }, "the three events after Flush")
	relay.Handle(engine.Event{Kind: engine.RunEnded})
	if all := got.All(); len(all) != 4 || all[3].Kind != engine.RunEnded {
		t.Fatalf("after RunEnded the sink holds %d events; Handle(RunEnded) returns once the sink has it", len(all))
	}
}

// Before the engine waits for time to pass, what a relay holds goes out: a
// paced run's lines appear as they happen, not in a heap at the end. The
// clock here lets time pass only once the relayed sink has caught up with
// everything emitted so far, and gives up after a while if it never does.
func TestPacedRunFlushesRelaysBeforeWaiting(t *testing.T) {
	relayed, direct := &enginetest.Events{}, &enginetest.Events{}
	clock := &catchUpClock{Clock: enginetest.NewClock(enginetest.Epoch), caughtUp: func() bool {
		return len(relayed.All()) == len(direct.All())
	}}
	s, err := builtin(t).Lookup("fallback")
	if err != nil {
		t.Fatal(err)
	}
	sim := enginetest.NewSimulated(s, builtin(t).Models, 42, enginetest.Epoch)
	e, err := engine.New(s, engine.Options{Seed: 42, Speed: 1, Clock: clock, Backend: sim, Logs: sim, Faults: sim})
	if err != nil {
		t.Fatal(err)
	}
	e.Subscribe(direct)
	e.Subscribe(engine.NewRelay(relayed))
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if clock.waits == 0 {
		t.Fatal("a paced run never waited")
	}
	if clock.behind > 0 {
		t.Fatalf("%d of %d waits began with events still held by the relay", clock.behind, clock.waits)
	}
}

// catchUpClock is a fake clock whose After first waits, briefly, for a
// relayed sink to have caught up.
type catchUpClock struct {
	*enginetest.Clock
	caughtUp      func() bool
	waits, behind int
}

func (c *catchUpClock) After(d time.Duration) <-chan time.Time {
	c.waits++
	deadline := time.Now().Add(2 * time.Second)
	for !c.caughtUp() {
		if time.Now().After(deadline) {
			c.behind++
			break
		}
		time.Sleep(100 * time.Microsecond)
	}
	return c.Clock.After(d)
}

// A relayed sink that panics does not take the process down: Run returns
// the panic as an error, as it does for a direct sink.
func TestRelayedSinkThatPanicsEndsTheRunWithAnError(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "throttle-storm", engine.Options{Seed: 42})
	seen := 0
	r.Engine.Subscribe(engine.NewRelay(engine.SinkFunc(func(ev engine.Event) {
		if seen++; seen == 40 {
			panic("recorder out of disk")
		}
	})))
	err := r.Engine.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "recorder out of disk") {
		t.Fatalf("Run returned %v, want the subscriber's panic as an error", err)
	}
	// The panic surfaces at the relay's next event after it, which may be
	// RunEnded itself: either way the run ends once.
	if ended := r.Events.Of(engine.RunEnded); len(ended) != 1 {
		t.Fatalf("the direct sink saw RunEnded %d times; the run ends once", len(ended))
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
