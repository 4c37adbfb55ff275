// Package health decides whether a gateway may pick a deployment, from the
// deployment's recent failures: LiteLLM-style cooldown, or a circuit
// breaker. Each policy is a plain value that takes explicit times and
// returns the transitions it makes, so it can be read on one page and
// tested without a gateway, a clock or a lock.
package health

import "time"

// State is a deployment's standing with the gateway, as events and bucket
// levels report it.
type State string

// The states. Healthy is the empty string so that a zero State is healthy.
const (
	Healthy  State = ""
	Cooling  State = "cooldown"  // skipped until Until after allowed_fails failures in a minute
	Open     State = "open"      // circuit open: skipped until Until
	HalfOpen State = "half-open" // circuit half-open: one probe may go; its outcome closes or reopens
)

// Transition is a change of state, for the gateway to announce.
type Transition struct {
	To    State
	Until time.Time // Cooling, Open: when the deployment may be picked again
	// Failures is how many failures caused it: the failures within the
	// cooldown window, or the breaker's streak.
	Failures int
	// For is how long a cooldown or an open circuit lasts.
	For time.Duration
}

// Policy is what the gateway asks of a deployment's health. Methods that
// can change the state return the transition, if one happened.
type Policy interface {
	// Due moves a state whose time is up on, before a pick at at.
	Due(at time.Time) (Transition, bool)
	// Skips reports whether a pick at at must pass the deployment over.
	Skips(at time.Time) bool
	// Picked notes that the deployment was chosen, and reports whether
	// this pick is a half-open circuit's probe.
	Picked() bool
	// Failed counts a provider failure at at.
	Failed(at time.Time) (Transition, bool)
	// Succeeded counts a success at at.
	Succeeded(at time.Time) (Transition, bool)
	// Probing reports whether a half-open circuit's probe is in flight.
	Probing() bool
	// At is the state for readers at now: a cooldown only while it lasts.
	At(now time.Time) (State, time.Time)
}

// None is the policy of a gateway without cooldown or breaker: always
// healthy.
type None struct{}

// Due never changes anything.
func (None) Due(time.Time) (Transition, bool) { return Transition{}, false }

// Skips is always false.
func (None) Skips(time.Time) bool { return false }

// Picked is never a probe.
func (None) Picked() bool { return false }

// Failed changes nothing.
func (None) Failed(time.Time) (Transition, bool) { return Transition{}, false }

// Succeeded changes nothing.
func (None) Succeeded(time.Time) (Transition, bool) { return Transition{}, false }

// Probing is always false.
func (None) Probing() bool { return false }

// At is always healthy.
func (None) At(time.Time) (State, time.Time) { return Healthy, time.Time{} }
