package health

import "time"

// Cooldown is LiteLLM's allowed_fails and cooldown_time: the AllowedFails-th
// provider failure within a minute takes the deployment out of picks for
// For. It comes back on its own when the time is up, with no event, as
// LiteLLM's cooldown cache entry simply expires.
type Cooldown struct {
	AllowedFails int
	For          time.Duration

	fails []time.Time // failures in the last minute
	until time.Time   // zero, or when the current or last cooldown ends
}

// failureWindow is how far back failures count, as in LiteLLM.
const failureWindow = time.Minute

// Due never changes anything: a cooldown ends on its own.
func (c *Cooldown) Due(time.Time) (Transition, bool) { return Transition{}, false }

// Skips is true while a cooldown lasts.
func (c *Cooldown) Skips(at time.Time) bool { return at.Before(c.until) }

// Picked is never a probe: cooldown has none.
func (c *Cooldown) Picked() bool { return false }

// Probing is always false.
func (c *Cooldown) Probing() bool { return false }

// Failed counts a failure and starts a cooldown on the AllowedFails-th one
// within a minute. Failures during a cooldown count towards the next.
func (c *Cooldown) Failed(at time.Time) (Transition, bool) {
	keep := c.fails[:0]
	for _, t := range c.fails {
		if at.Sub(t) < failureWindow {
			keep = append(keep, t)
		}
	}
	c.fails = append(keep, at)
	if len(c.fails) < c.AllowedFails || at.Before(c.until) {
		return Transition{}, false
	}
	c.fails = c.fails[:0]
	c.until = at.Add(c.For)
	return Transition{To: Cooling, Until: c.until, Failures: c.AllowedFails, For: c.For}, true
}

// Succeeded changes nothing: only time ends a cooldown.
func (c *Cooldown) Succeeded(time.Time) (Transition, bool) { return Transition{}, false }

// At is Cooling until the cooldown ends, then Healthy.
func (c *Cooldown) At(now time.Time) (State, time.Time) {
	if now.Before(c.until) {
		return Cooling, c.until
	}
	return Healthy, time.Time{}
}
