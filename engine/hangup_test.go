package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
)

// untilCancelled is a network backend whose calls answer only when their
// context ends, and which says so.
type untilCancelled struct{ cancelled chan int }

func (untilCancelled) Instant() bool { return false }
func (b untilCancelled) Invoke(ctx context.Context, _ time.Time, c engine.Call) engine.Reply {
	<-ctx.Done()
	b.cancelled <- c.Request
	return engine.Reply{Code: "RequestCanceled", Message: ctx.Err().Error()}
}

// eventTap hands a running engine's events to a test as they come.
type eventTap struct {
	mu     sync.Mutex
	events []engine.Event
	more   chan struct{}
}

func newTap() *eventTap { return &eventTap{more: make(chan struct{}, 1)} }

func (t *eventTap) Handle(ev engine.Event) {
	t.mu.Lock()
	t.events = append(t.events, ev)
	t.mu.Unlock()
	select {
	case t.more <- struct{}{}:
	default:
	}
}

// await waits for an event of kind for request n (0: any request).
func (tap *eventTap) await(t *testing.T, kind engine.Kind, n int) engine.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		tap.mu.Lock()
		for _, ev := range tap.events {
			if ev.Kind == kind && (n == 0 || ev.Request == n) {
				tap.mu.Unlock()
				return ev
			}
		}
		tap.mu.Unlock()
		select {
		case <-tap.more:
		case <-deadline:
			t.Fatalf("no %v for request %d within 10 s", kind, n)
		}
	}
}

func (tap *eventTap) count(kind engine.Kind) int {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	n := 0
	for _, ev := range tap.events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// openRun runs the built-in gateway scenario for clients on backend, in
// real time, until the test ends.
func openRun(t *testing.T, opts engine.Options) (*engine.Engine, *eventTap) {
	t.Helper()
	s, err := builtin(t).Lookup("gateway")
	if err != nil {
		t.Fatal(err)
	}
	opts.Seed, opts.Speed, opts.Open, opts.Clock = 42, 1, true, realClock{}
	e, err := engine.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	tap := newTap()
	e.Subscribe(tap)
	enginetest.Serve(t, e)
	return e, tap
}

// A client that hangs up while its call is in flight: the call's context
// is cancelled, and the request ends as Cancelled, saying why, without a
// retry or a fallback.
func TestAHangUpCancelsTheCallInFlight(t *testing.T) {
	backend := untilCancelled{cancelled: make(chan int, 1)}
	e, tap := openRun(t, engine.Options{Backend: backend})
	e.Controls().Send(engine.Arrive{Ticket: 7, Tenant: "demo", Group: "claude", InputTokens: 10, MaxTokens: 100})
	attempt := tap.await(t, engine.Attempt, 0)
	e.Controls().Send(engine.Hangup{Ticket: 7})
	select {
	case n := <-backend.cancelled:
		if n != attempt.Request {
			t.Fatalf("request %d's call was cancelled, want %d's", n, attempt.Request)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call in flight was not cancelled within 10 s of the hang-up")
	}
	ev := tap.await(t, engine.Cancelled, attempt.Request)
	if ev.Code != engine.CodeClientClosed || ev.Deployment != "primary" {
		t.Fatalf("the hung-up request ended with %+v; want Cancelled, %s, on primary", ev, engine.CodeClientClosed)
	}
	if n := tap.count(engine.Attempt); n != 1 {
		t.Fatalf("%d attempts after the hang-up; a cancelled call neither retries nor falls back", n)
	}
	// A second hang-up, for a request already over, changes nothing.
	e.Controls().Send(engine.Hangup{Ticket: 7})
	e.Controls().Send(engine.Hangup{Ticket: 99})
	e.Controls().Send(engine.Arrive{Ticket: 8, Tenant: "demo", Group: "claude", InputTokens: 10, MaxTokens: 100})
	second := tap.await(t, engine.Attempt, attempt.Request+1)
	if n := tap.count(engine.Cancelled); n != 1 || tap.count(engine.ControlRefused) != 0 {
		t.Fatalf("after hang-ups for requests already over: %d cancelled, %d refused; want 1 and 0", n, tap.count(engine.ControlRefused))
	}
	e.Controls().Send(engine.Hangup{Ticket: 8})
	tap.await(t, engine.Cancelled, second.Request)
}

// On the simulated backend, whose answer is scheduled, a hang-up ends the
// request at once, and the answer it would have had never comes.
func TestAHangUpEndsARequestWaitingForItsSimulatedAnswer(t *testing.T) {
	f := builtin(t)
	s, _ := f.Lookup("gateway")
	sim := enginetest.NewSimulated(s, f.Models, 42, time.Now())
	e, tap := openRun(t, engine.Options{Backend: sim, Logs: sim, Faults: sim})
	e.Controls().Send(engine.Arrive{Ticket: 1, Tenant: "demo", Group: "claude", InputTokens: 10, MaxTokens: 100})
	attempt := tap.await(t, engine.Attempt, 0)
	e.Controls().Send(engine.Hangup{Ticket: 1})
	ev := tap.await(t, engine.Cancelled, attempt.Request)
	if ev.Code != engine.CodeClientClosed {
		t.Fatalf("ended with %+v, want %s", ev, engine.CodeClientClosed)
	}
	// Its answer was due within seconds; it must not end the request again.
	time.Sleep(50 * time.Millisecond)
	e.Controls().Send(engine.Arrive{Ticket: 2, Tenant: "demo", Group: "claude-fallback", InputTokens: 10, MaxTokens: 10})
	tap.await(t, engine.Attempt, attempt.Request+1)
	if n := tap.count(engine.Succeeded) + tap.count(engine.Failed); n != 0 {
		t.Fatalf("%d requests ended otherwise after the hang-up", n)
	}
}
