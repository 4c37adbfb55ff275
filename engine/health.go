package engine

import (
	"fmt"
	"time"
)

// Deployment health states, as events and bucket levels report them.
const (
	Healthy  = ""
	Cooling  = "cooldown"  // skipped until Until after allowed_fails failures in a minute
	Open     = "open"      // circuit open: skipped until Until
	HalfOpen = "half-open" // circuit half-open: one probe may go; its outcome closes or reopens
)

// health is a deployment's standing with the gateway: LiteLLM-style
// cooldown, or a circuit breaker, whichever the scenario configures. Its
// fields are written by the run's goroutine under Engine.mu, so Buckets can
// read them from elsewhere.
type health struct {
	state   string
	until   time.Time   // Cooling, Open: when the deployment may be picked again
	fails   []time.Time // cooldown: provider failures in the last minute
	streak  int         // circuit breaker: consecutive failures
	probing bool        // half-open: the probe is in flight
	skipMsg string      // why a pick passes over it, rebuilt on each change
}

// skipReason is why the pick at t must pass over d, or "" when d may be
// picked. It is on the hot path, so it only compares.
func (d *deployment) skipReason(t time.Time) string {
	switch d.health.state {
	case Cooling:
		if t.Before(d.health.until) {
			return SkipCooldown
		}
	case Open:
		return SkipCircuitOpen // moved to half-open by refreshHealth once due
	case HalfOpen:
		if d.health.probing {
			return SkipCircuitOpen
		}
	}
	return ""
}

// refreshHealth moves the group's open circuits whose time is up to
// half-open, before a pick, so that the pick may send the probe.
func (e *Engine) refreshHealth(at time.Time, g *group) {
	for _, d := range g.members {
		if d.health.state == Open && !at.Before(d.health.until) {
			e.setHealth(at, d, HalfOpen, time.Time{}, fmt.Sprintf("deployment %s is half-open: its probe is in flight", d.spec.Name))
		}
	}
}

// setHealth changes d's state and says so.
func (e *Engine) setHealth(at time.Time, d *deployment, state string, until time.Time, skipMsg string) {
	e.mu.Lock()
	d.health.state, d.health.until, d.health.skipMsg = state, until, skipMsg
	e.mu.Unlock()
	ev := Event{Kind: HealthChanged, Deployment: d.spec.Name, Model: d.spec.Model, Account: d.account.Name, Health: state}
	if !until.IsZero() {
		ev.Until = until.Sub(e.start)
	}
	switch state {
	case Healthy:
		ev.Message = d.spec.Name + " is healthy again"
	case HalfOpen:
		ev.Message = d.spec.Name + "'s circuit is half-open: the next request probes it"
	default:
		ev.Message = skipMsg
	}
	e.emit(at, ev)
}

// attempted notes that d was picked; a half-open circuit's pick is its probe.
func (d *deployment) attempted() {
	if d.health.state == HalfOpen {
		d.health.probing = true
	}
}

// failedAt counts a provider failure against d: with cooldown, the
// allowed_fails-th failure within a minute cools d down; with a circuit
// breaker, breaker_failures in a row open it, and a failed probe reopens it.
func (e *Engine) failedAt(at time.Time, d *deployment) {
	gw, h := e.scenario.Gateway, &d.health
	switch {
	case gw.AllowedFails > 0:
		keep := h.fails[:0]
		for _, t := range h.fails {
			if at.Sub(t) < time.Minute {
				keep = append(keep, t)
			}
		}
		h.fails = append(keep, at)
		if len(h.fails) < gw.AllowedFails || (h.state == Cooling && at.Before(h.until)) {
			return
		}
		h.fails = h.fails[:0]
		e.setHealth(at, d, Cooling, at.Add(gw.Cooldown), fmt.Sprintf("%s failed %d times within a minute; skipped for %s", d.spec.Name, gw.AllowedFails, gw.Cooldown))
	case gw.BreakerFailures > 0:
		h.streak++
		if h.state == HalfOpen || (h.state == Healthy && h.streak >= gw.BreakerFailures) {
			h.probing = false
			e.setHealth(at, d, Open, at.Add(gw.BreakerOpenFor), fmt.Sprintf("%s's circuit is open after %d failures in a row; skipped for %s", d.spec.Name, h.streak, gw.BreakerOpenFor))
		}
	}
}

// succeededAt resets the failure streak; a successful probe closes the
// circuit.
func (e *Engine) succeededAt(at time.Time, d *deployment) {
	d.health.streak = 0
	if d.health.state == HalfOpen {
		d.health.probing = false
		e.setHealth(at, d, Healthy, time.Time{}, "")
	}
}

// healthAt is d's state for readers: cooldown and open only while they last.
func (d *deployment) healthAt(now time.Time) (string, time.Time) {
	if d.health.state == Cooling && !now.Before(d.health.until) {
		return Healthy, time.Time{}
	}
	return d.health.state, d.health.until
}
