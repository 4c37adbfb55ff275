package engine

import (
	"math"
	"time"
)

// Clock is the wall clock the engine paces itself against. Tests inject a
// fake one so that a paced run needs no sleeping.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// pacer maps simulated time onto wall time at a speed: at speed X, X
// simulated seconds pass per wall second. At +Inf nothing waits. Paused,
// simulated time stands still at simBase. Changing the speed or pausing
// rebases it: simBase becomes the simulated time of that moment and
// wallBase the wall time.
type pacer struct {
	clock    Clock
	speed    float64
	wallBase time.Time
	simBase  time.Time
	paused   bool
}

func (p *pacer) unpaced() bool { return math.IsInf(p.speed, 1) }

// wait is how long to wait on the wall clock until simulated time sim.
func (p *pacer) wait(sim time.Time) time.Duration {
	if p.unpaced() {
		return 0
	}
	due := p.wallBase.Add(time.Duration(float64(sim.Sub(p.simBase)) / p.speed))
	return due.Sub(p.clock.Now())
}

// simNow is the simulated time that corresponds to the wall clock now.
func (p *pacer) simNow() time.Time {
	if p.unpaced() || p.paused {
		return p.simBase
	}
	return p.simBase.Add(time.Duration(float64(p.clock.Now().Sub(p.wallBase)) * p.speed))
}
