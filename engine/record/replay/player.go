package replay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"spillway/engine"
	"spillway/engine/record"
	"spillway/scenarios"
)

// Mark is a moment worth jumping to: a fault starting or ending, a limit
// retuned, a pause, a speed or rate change.
type Mark struct {
	At   time.Duration
	What string
}

// ErrRecorded refuses what only a live run can do.
var ErrRecorded = errors.New("this is a replay: it plays the run as recorded; run the scenario to change limits, rates or faults")

// Player plays a recorded run's events on a clock, the way the engine
// emitted them, and answers for the engine's controls: a snapshot of the
// play position with the bucket levels the record sampled, pause and
// speed. It also moves: Seek, and the marks to jump between.
//
// The dashboard calls it from its own goroutine; a mutex keeps a second
// caller safe all the same.
type Player struct {
	mu     sync.Mutex
	now    func() time.Time
	events []engine.Event
	start  []engine.BucketLevel // levels before the first sample
	levels []int                // indices of the Levels events, in time order
	marks  []Mark
	length time.Duration // the last event's time
	ended  bool          // the record has the run's end

	speed  float64
	paused bool
	// The play position is pos at the wall time anchor, moving on at
	// speed while not paused.
	pos    time.Duration
	anchor time.Time
	next   int  // the first event not yet handed out
	rewind bool // the position went back: the screen starts again
}

// NewPlayer prepares l's events to play at speed, on the clock now
// (time.Now outside tests), from the start.
func NewPlayer(l *record.Loaded, speed float64, now func() time.Time) *Player {
	p := &Player{now: now, events: l.Events, speed: speed}
	if math.IsInf(speed, 1) || !(speed > 0) {
		p.speed = 20 // a run recorded unpaced plays at a speed people can follow
	}
	p.anchor = now()
	for i, ev := range l.Events {
		p.length = max(p.length, ev.At)
		switch ev.Kind {
		case engine.RunStarted:
			p.start = ev.Info.Buckets
		case engine.Levels:
			p.levels = append(p.levels, i)
		case engine.RunEnded:
			p.ended = true
		}
		if what := markOf(ev); what != "" {
			p.marks = append(p.marks, Mark{At: ev.At, What: what})
		}
	}
	return p
}

// markOf words an event worth jumping to, or "".
func markOf(ev engine.Event) string {
	switch ev.Kind {
	case engine.FaultStarted:
		return "fault on: " + ev.Fault.Fault.String()
	case engine.FaultEnded:
		return "fault off: " + ev.Fault.Fault.String()
	case engine.RPMChanged:
		return fmt.Sprintf("%s → %s %s", ev.Bucket, ev.RPM, ev.Bucket.PerMinute())
	case engine.RateChanged:
		return fmt.Sprintf("%s → %s a minute", ev.Tenant, engine.RateText(ev.Rate))
	case engine.SpeedChanged:
		return "speed " + engine.SpeedText(ev.Speed)
	case engine.Paused:
		return "paused"
	}
	return ""
}

// Length is the recorded run's length in simulated time.
func (p *Player) Length() time.Duration { return p.length }

// Marks are the moments worth jumping to, in time order.
func (p *Player) Marks() []Mark { return p.marks }

// position is the play position now; the caller holds mu.
func (p *Player) position() time.Duration {
	if p.paused {
		return p.pos
	}
	moved := float64(p.now().Sub(p.anchor)) * p.speed
	if moved >= float64(p.length-p.pos) {
		return p.length
	}
	return p.pos + time.Duration(moved)
}

// Position is the play position in simulated time.
func (p *Player) Position() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.position()
}

// Advance calls apply with every event up to the play position. When the
// position went back since the last call it calls restart first: the
// screen starts from a fresh state, and the events come again from the
// run's start.
func (p *Player) Advance(restart func(), apply func(engine.Event)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rewind {
		p.rewind, p.next = false, 0
		restart()
	}
	at := p.position()
	for p.next < len(p.events) && p.events[p.next].At <= at {
		apply(p.events[p.next])
		p.next++
	}
	if at >= p.length && !p.paused {
		// Played to the end: stop the clock there, so a seek back plays
		// on from where it lands.
		p.pos, p.anchor = p.length, p.now()
	}
}

// Seek moves the play position to at, within the run.
func (p *Player) Seek(at time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at = min(max(at, 0), p.length)
	if at < p.position() || p.next > 0 && at < p.events[p.next-1].At {
		p.rewind = true
	}
	p.pos, p.anchor = at, p.now()
}

// NextMark is the first mark after the play position, and whether there is
// one; PreviousMark the last one before it, a second's grace allowed so
// that pressing it again goes further back.
func (p *Player) NextMark() (time.Duration, string, bool) {
	at := p.Position()
	i := sort.Search(len(p.marks), func(i int) bool { return p.marks[i].At > at })
	if i == len(p.marks) {
		return 0, "", false
	}
	return p.marks[i].At, p.marks[i].What, true
}

// PreviousMark: see NextMark.
func (p *Player) PreviousMark() (time.Duration, string, bool) {
	at := p.Position() - time.Second
	i := sort.Search(len(p.marks), func(i int) bool { return p.marks[i].At >= at })
	if i == 0 {
		return 0, "", false
	}
	return p.marks[i-1].At, p.marks[i-1].What, true
}

// Snapshot is the recorded run at the play position, as the engine would
// have published it: the clock, pause and speed of the playback, and
// every bucket's level from the samples around it.
func (p *Player) Snapshot() engine.Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.position()
	return engine.Snapshot{At: at, Started: true, Over: p.ended && at >= p.length, Paused: p.paused,
		Speed: p.speed, Buckets: p.levelsAt(at)}
}

// Fresh is Snapshot: a player applies every control at once.
func (p *Player) Fresh(context.Context) (engine.Snapshot, error) { return p.Snapshot(), nil }

// Send applies a pause or a speed step to the playback; anything that
// would change the run is refused.
func (p *Player) Send(in engine.Intent) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch in := in.(type) {
	case engine.TogglePause:
		p.pos, p.anchor = p.position(), p.now()
		p.paused = !p.paused
		return nil
	case engine.StepSpeed:
		next, err := stepSpeed(p.speed, in.Dir)
		if err != nil {
			return err
		}
		p.pos, p.anchor = p.position(), p.now()
		p.speed = next
		return nil
	case engine.SetSpeed:
		p.pos, p.anchor = p.position(), p.now()
		p.speed = in.Speed
		return nil
	}
	return ErrRecorded
}

// stepSpeed is the next of the engine's speed steps in dir; a replay has
// no "max", since it plays a clock.
func stepSpeed(speed float64, dir int) (float64, error) {
	steps := engine.SpeedSteps[:len(engine.SpeedSteps)-1]
	i := sort.SearchFloat64s(steps, speed)
	switch {
	case dir < 0 && i == 0:
		return 0, fmt.Errorf("%s is the slowest speed", engine.SpeedText(speed))
	case dir < 0:
		return steps[i-1], nil
	case i < len(steps) && steps[i] == speed:
		i++
	}
	if i >= len(steps) {
		return 0, fmt.Errorf("%s is the fastest speed for a replay", engine.SpeedText(speed))
	}
	return steps[i], nil
}

// levelsAt is every bucket's level at at: the sample before it, with a
// token bucket's fill drawn on a straight line to the sample after, so
// the gauges move between samples as they did live. The caller holds mu.
func (p *Player) levelsAt(at time.Duration) []engine.BucketLevel {
	i := sort.Search(len(p.levels), func(i int) bool { return p.events[p.levels[i]].At > at })
	before := p.start
	from := time.Duration(0)
	if i > 0 {
		ev := p.events[p.levels[i-1]]
		before, from = ev.Levels, ev.At
	}
	out := append([]engine.BucketLevel(nil), before...)
	if i == len(p.levels) {
		return out
	}
	after := p.events[p.levels[i]]
	span := after.At - from
	if span <= 0 {
		return out
	}
	f := float64(at-from) / float64(span)
	for j := range out {
		if j >= len(after.Levels) || after.Levels[j].ID != out[j].ID || out[j].Semantic != scenarios.TokenBucket ||
			math.IsInf(out[j].Available, 1) || after.Levels[j].RPM != out[j].RPM {
			continue
		}
		out[j].Available += (after.Levels[j].Available - out[j].Available) * f
	}
	return out
}
