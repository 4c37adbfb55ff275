package engine

import (
	"container/heap"
	"time"
)

// loop is the engine's sense of time and its voice: the schedule of what
// happens next, the pacer that maps it onto the wall clock, and the
// subscribers every event goes to. Only the run's goroutine uses it.
type loop struct {
	clock Clock
	pacer pacer
	start time.Time
	now   time.Time // simulated time of the latest thing handled
	queue schedule
	seq   uint64
	sinks []Sink
	// flushers are the sinks that hold events back (a Relay); the loop
	// flushes them before it waits, so nothing sits held while time passes.
	flushers []interface{ Flush() }
	over     bool // RunEnded has gone out: nothing follows it
	// sample reports every bucket's level at a simulated time; the loop
	// calls it each LevelsEvery of simulated time as its time passes, so a
	// record holds the gauges without any consumer reading the engine.
	sample     func(at time.Time)
	nextSample time.Time
}

// LevelsEvery is how often, in simulated time, the engine reports every
// bucket's level (a Levels event). Only time that passes is sampled: a run
// that ends at 2.5 s has samples at 1 s and 2 s, and one at its end.
const LevelsEvery = time.Second

// timeline is what the parts of the engine need of the loop: to schedule
// work at a simulated time and to report what happened. Tests give the
// parts a fake one and call them with explicit times.
type timeline interface {
	schedule(item)
	emit(at time.Time, ev Event)
	since(at time.Time) time.Duration
}

func (l *loop) begin(start time.Time) {
	l.start, l.now = start, start
	l.nextSample = start.Add(LevelsEvery)
	l.pacer.wallBase, l.pacer.simBase = start, start
}

// schedule adds it to the queue; items at the same time go in the order
// they were scheduled, which keeps runs deterministic.
func (l *loop) schedule(it item) {
	l.seq++
	it.seq = l.seq
	heap.Push(&l.queue, it)
}

// next is the earliest item and how long until it is due on the wall
// clock; ok is false when nothing is scheduled or time stands still.
func (l *loop) next() (it item, wait time.Duration, ok bool) {
	if len(l.queue) == 0 || l.pacer.paused {
		return item{}, 0, false
	}
	wait = l.pacer.wait(l.queue[0].at)
	if wait > 0 {
		return item{}, wait, true
	}
	return heap.Pop(&l.queue).(item), 0, true
}

// at moves the loop's time to that of an item it is about to handle. An
// item may be due a little before a control the loop has just applied at
// the wall clock's time; the loop's time stays at the later of the two, so
// it never goes back.
func (l *loop) at(t time.Time) {
	l.sampleTo(t) // what advance left for the items due before it
	if t.After(l.now) {
		l.now = t
	}
}

// sampleTo reports the levels at each sampling instant up to t, before
// anything at t happens; nothing has happened since the loop's time, so a
// level read at an earlier instant than t is the level then.
func (l *loop) sampleTo(t time.Time) {
	if l.sample == nil {
		return
	}
	for !l.nextSample.After(t) {
		l.sample(l.nextSample)
		l.nextSample = l.nextSample.Add(LevelsEvery)
	}
}

// advance moves the loop's time to the simulated time now, for things that
// happen between scheduled items: a network reply, a control. Time never
// goes back.
func (l *loop) advance() time.Time {
	now := l.simNow()
	l.sampleTo(l.sampleBound(now))
	if now.After(l.now) {
		l.now = now
	}
	return l.now
}

// sampleBound is how far samples may be taken when the loop's time moves
// to t between items: not past the earliest item still due, which a
// paced loop may be a little late for. A sample then falls between the
// same items as in a run at any other speed, and reads no bucket at a time
// after an item that is still to come before it.
func (l *loop) sampleBound(t time.Time) time.Time {
	if len(l.queue) > 0 && l.queue[0].at.Before(t) {
		return l.queue[0].at
	}
	return t
}

// simNow is the simulated time that corresponds to the wall clock now;
// unpaced, it is the latest thing handled.
func (l *loop) simNow() time.Time {
	if l.pacer.unpaced() {
		return l.now
	}
	if now := l.pacer.simNow(); now.After(l.now) {
		return now
	}
	return l.now
}

// rebase anchors the pacer at the simulated time at, then changes it, so
// that simulated time runs on continuously from there.
func (l *loop) rebase(at time.Time, change func(*pacer)) {
	l.pacer.simBase, l.pacer.wallBase = at, l.clock.Now()
	change(&l.pacer)
}

func (l *loop) emit(at time.Time, ev Event) {
	if l.over {
		return
	}
	ev.At = at.Sub(l.start)
	// RunEnded is the last event even if a sink panics while taking it
	// (a relay raises its sinks' panics then): no second one follows.
	l.over = l.over || ev.Kind == RunEnded
	for _, s := range l.sinks {
		s.Handle(ev)
	}
}

// subscribe adds a sink.
func (l *loop) subscribe(s Sink) {
	l.sinks = append(l.sinks, s)
	if f, ok := s.(interface{ Flush() }); ok {
		l.flushers = append(l.flushers, f)
	}
}

// flush hands on what the sinks hold, before the loop waits.
func (l *loop) flush() {
	for _, f := range l.flushers {
		f.Flush()
	}
}

func (l *loop) since(at time.Time) time.Duration { return at.Sub(l.start) }
