package health

import "time"

// Breaker is a circuit breaker in the style of gobreaker: Failures
// consecutive provider failures open the circuit for OpenFor. When that
// time is up, the next pick finds it half-open and sends one probe: its
// success closes the circuit, its failure opens it again.
type Breaker struct {
	Failures int
	OpenFor  time.Duration

	state   State
	until   time.Time // Open: when it may go half-open
	streak  int       // consecutive failures
	probing bool      // half-open: the probe is in flight
}

// Due goes half-open once an open circuit's time is up. It runs before a
// pick, so a circuit goes half-open when the next request arrives, not at
// the instant its time runs out.
func (b *Breaker) Due(at time.Time) (Transition, bool) {
	if b.state != Open || at.Before(b.until) {
		return Transition{}, false
	}
	b.state, b.until = HalfOpen, time.Time{}
	return Transition{To: HalfOpen}, true
}

// Skips is true while open, and while half-open with the probe out.
func (b *Breaker) Skips(time.Time) bool {
	return b.state == Open || b.state == HalfOpen && b.probing
}

// Picked makes a half-open circuit's pick its probe.
func (b *Breaker) Picked() bool {
	if b.state == HalfOpen && !b.probing {
		b.probing = true
		return true
	}
	return false
}

// Probing reports whether a half-open circuit's probe is in flight.
func (b *Breaker) Probing() bool { return b.probing }

// Failed opens the circuit on the Failures-th failure in a row, or when
// half-open. A failure while open only lengthens the streak.
func (b *Breaker) Failed(at time.Time) (Transition, bool) {
	b.streak++
	if b.state == HalfOpen || b.state == Healthy && b.streak >= b.Failures {
		b.probing = false
		b.state, b.until = Open, at.Add(b.OpenFor)
		return Transition{To: Open, Until: b.until, Failures: b.streak, For: b.OpenFor}, true
	}
	return Transition{}, false
}

// Succeeded ends the streak; while half-open it closes the circuit.
func (b *Breaker) Succeeded(time.Time) (Transition, bool) {
	b.streak = 0
	if b.state != HalfOpen {
		return Transition{}, false
	}
	b.probing = false
	b.state = Healthy
	return Transition{To: Healthy}, true
}

// At is the circuit's state, and when an open one may go half-open.
func (b *Breaker) At(time.Time) (State, time.Time) { return b.state, b.until }
