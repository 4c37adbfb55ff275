package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// Shell is the engine's control shell, and the only part of it other
// goroutines touch. Controls go in as intents, which the run's loop applies
// in the order they were sent; the state comes out as snapshots the loop
// publishes. Every lock in the engine is here.
type Shell struct {
	engine *Engine

	mu      sync.Mutex
	pending []Intent
	sent    uint64 // intents accepted so far
	taken   uint64 // intents handed to the loop so far
	shown   uint64 // intents applied in the published snapshot
	serial  uint64 // snapshots published so far
	started bool
	ending  bool  // the run is ending: only limit changes are still taken
	over    bool  // the run has ended: intents are applied here, to its final state
	failed  error // the run stopped on an internal error: every intent is refused with it

	work atomic.Bool   // pending intents or a wanted snapshot, for the loop's cheap check
	want atomic.Bool   // someone asked for a fresh snapshot
	wake chan struct{} // wakes a loop that is waiting for its next item

	snap      atomic.Pointer[Snapshot]
	published chan struct{} // closed and replaced at each publication; guarded by mu
}

// MaxPendingIntents bounds the controls waiting for the loop. A person
// cannot press keys faster than a loop applies them; the bound is for a
// caller gone wrong.
const MaxPendingIntents = 4096

// ErrRunOver refuses a control that only makes sense while the run goes on.
var ErrRunOver = errors.New("the run has ended")

func newShell(e *Engine) *Shell {
	s := &Shell{engine: e, wake: make(chan struct{}, 1), published: make(chan struct{})}
	first := e.snapshot()
	s.snap.Store(&first)
	return s
}

// Send asks for a change. An intent that is wrong whatever the run's state
// (an unknown bucket, a speed of 0) is refused here; the rest are applied
// by the loop in the order sent, each reported by its own event or by
// ControlRefused with the reason. Intents sent before the run starts are
// applied as it starts. Once the run has ended, a limit change is applied
// to its final state at once, which is what a re-run keeping tuned limits
// starts from, and anything else is refused with ErrRunOver.
func (s *Shell) Send(in Intent) error {
	if err := in.check(s.engine); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	if (s.over || s.ending) && !in.afterEnd() {
		return ErrRunOver
	}
	if s.over {
		if err := in.apply(s.engine, s.engine.loop.now); err != nil {
			return err
		}
		snap := s.engine.snapshot()
		s.publishLocked(&snap)
		return nil
	}
	if len(s.pending) >= MaxPendingIntents {
		return errors.New("too many controls are waiting for the run; try again in a moment")
	}
	s.pending = append(s.pending, in)
	s.sent++
	s.work.Store(true)
	s.poke()
	return nil
}

// Snapshot is the latest state the loop published, and asks it for a fresh
// one: a screen that reads once per frame shows state one frame old at
// most, and never stops the loop to read it.
func (s *Shell) Snapshot() Snapshot {
	s.ask()
	return *s.snap.Load()
}

// Fresh waits for a snapshot taken after the call that shows every intent
// sent before it, or returns the final one once the run is over, or ctx's
// error. Before the run starts it waits for the run.
func (s *Shell) Fresh(ctx context.Context) (Snapshot, error) {
	s.mu.Lock()
	after, target := s.serial, s.sent
	s.mu.Unlock()
	for {
		s.mu.Lock()
		published, done := s.published, s.over || s.serial > after && s.shown >= target
		s.mu.Unlock()
		if done {
			return *s.snap.Load(), nil
		}
		s.ask()
		select {
		case <-published:
		case <-ctx.Done():
			return Snapshot{}, ctx.Err()
		}
	}
}

func (s *Shell) ask() {
	if !s.want.Swap(true) {
		s.work.Store(true)
		s.poke()
	}
}

func (s *Shell) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// begin marks the run started; false if it already was.
func (s *Shell) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return false
	}
	s.started = true
	return true
}

// hasWork is the loop's cheap check for intents or a wanted snapshot.
func (s *Shell) hasWork() bool { return s.work.Load() }

// take hands the loop the intents sent since the last take, in order, and
// whether a snapshot was asked for.
func (s *Shell) take() ([]Intent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drainLocked(), s.want.Swap(false)
}

// drainLocked hands over the pending intents, in order.
func (s *Shell) drainLocked() []Intent {
	intents := s.pending
	s.pending = nil
	s.taken = s.sent
	s.work.Store(false)
	return intents
}

// publish makes snap the state readers see.
func (s *Shell) publish(snap Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publishLocked(&snap)
}

func (s *Shell) publishLocked(snap *Snapshot) {
	s.serial++
	s.shown = s.taken // the loop publishes only after applying what it took
	s.snap.Store(snap)
	close(s.published)
	s.published = make(chan struct{})
}

// beginEnd marks the run as ending and hands the loop what is pending.
// From now on Send refuses what cannot apply after the end, and keeps limit
// changes for close; the loop emits its last events without the lock, so a
// subscriber may still call Send.
func (s *Shell) beginEnd() []Intent {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ending = true
	return s.drainLocked()
}

// close ends the run: under the lock, finish applies the limit changes
// sent while it was ending (no event follows RunEnded) and returns the
// final state. Intents sent afterwards find the run over.
func (s *Shell) close(finish func(late []Intent) Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	final := finish(s.drainLocked())
	final.Over = true
	s.over = true
	s.publishLocked(&final)
}

// abort ends a run that stopped on an internal error: every intent is
// refused with why from now on, and those still pending are handed back to
// be reported. Readers get the last state published, marked over.
func (s *Shell) abort(why error) []Intent {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = why
	s.over = true
	pending := s.drainLocked()
	final := *s.snap.Load()
	final.Over = true
	s.publishLocked(&final)
	return pending
}
