package fleet

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

// injected is a fault with its window in simulated time. To is zero while
// the fault lasts until someone ends it.
type injected struct {
	id       int
	fault    scenarios.Fault
	from, to time.Time
	quotaSet bool // a quota cut currently applied to the account's buckets
}

func (j *injected) activeAt(at time.Time) bool {
	return !at.Before(j.from) && (j.to.IsZero() || at.Before(j.to))
}

// InjectFault makes the fleet show fault from `from` until `to`; a zero to
// lasts until EndFault. Calls are judged by their own simulated time, so a
// fault scheduled ahead starts exactly when it should, and the same seed
// gives the same outcome.
func (f *Fleet) InjectFault(id int, fault scenarios.Fault, from, to time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &injected{id: id, fault: fault, from: from, to: to})
	f.lastFaultID = max(f.lastFaultID, id)
}

// StartFault is InjectFault with an id the fleet chooses: one above every
// id it has held, so ids only increase and never name two faults.
func (f *Fleet) StartFault(fault scenarios.Fault, from, to time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastFaultID++
	f.faults = append(f.faults, &injected{id: f.lastFaultID, fault: fault, from: from, to: to})
	return f.lastFaultID
}

// FaultWindow is a fault and when it is in effect, in simulated time: from
// From until To, or until it is stopped while To is zero.
type FaultWindow struct {
	ID       int
	Fault    scenarios.Fault
	From, To time.Time
}

func (j *injected) window() FaultWindow {
	return FaultWindow{ID: j.id, Fault: j.fault, From: j.from, To: j.to}
}

// endedBy reports whether the fault's window is over at at.
func (j *injected) endedBy(at time.Time) bool { return !j.to.IsZero() && !at.Before(j.to) }

// Faults lists the faults not over at at, in effect or still to start, in
// the order they were injected.
func (f *Fleet) Faults(at time.Time) []FaultWindow {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []FaultWindow
	for _, j := range f.faults {
		if !j.endedBy(at) {
			out = append(out, j.window())
		}
	}
	return out
}

// StopFault ends fault id at at, as EndFault does, and returns its window
// as it now stands. ok is false when no fault id is in effect or still to
// start at at.
func (f *Fleet) StopFault(id int, at time.Time) (w FaultWindow, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range f.faults {
		if j.id == id && !j.endedBy(at) {
			j.to = at
			w, ok = j.window(), true
		}
	}
	return w, ok
}

// ForgetEndedFaults keeps at most keep of the faults over at at, dropping
// those that ended first, so that a fleet whose faults are started and
// stopped for days holds a bounded number. A fault over is kept at all
// only for calls that arrive late with a simulated time inside its window.
func (f *Fleet) ForgetEndedFaults(at time.Time, keep int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ended []*injected
	for _, j := range f.faults {
		if j.endedBy(at) {
			ended = append(ended, j)
		}
	}
	if len(ended) <= keep {
		return
	}
	slices.SortStableFunc(ended, func(a, b *injected) int { return a.to.Compare(b.to) })
	forget := map[*injected]bool{}
	for _, j := range ended[:len(ended)-keep] {
		forget[j] = true
	}
	f.faults = slices.DeleteFunc(f.faults, func(j *injected) bool { return forget[j] })
	for _, j := range ended[:len(ended)-keep] {
		if j.quotaSet {
			// No later call has lifted this cut yet: lift it as of its end,
			// as active would have.
			j.quotaSet = false
			f.applyQuota(j.to, j.fault.Account)
		}
	}
}

// EndFault ends fault id at at.
func (f *Fleet) EndFault(id int, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range f.faults {
		if j.id == id && (j.to.IsZero() || at.Before(j.to)) {
			j.to = at
		}
	}
}

// active returns the faults in effect at at, in the order they were
// injected. It also applies and lifts quota cuts, which change the
// account's quota buckets rather than single calls.
func (f *Fleet) active(at time.Time) []*injected {
	out := f.activeBuf[:0]
	for _, j := range f.faults {
		on := j.activeAt(at)
		if j.fault.Kind == scenarios.QuotaCut && on != j.quotaSet {
			// Apply the change as of the cut's own boundary, not this
			// call's time, so the refill after a lift starts when it did.
			boundary := j.from
			if !on {
				boundary = j.to
			}
			j.quotaSet = on
			f.applyQuota(boundary, j.fault.Account)
		}
		if on {
			out = append(out, j)
		}
	}
	f.activeBuf = out
	return out
}

// applyQuota sets every quota bucket of account to what it should be at at:
// the lowest active cut, or the scenario's quota.
func (f *Fleet) applyQuota(at time.Time, account string) {
	acct, ok := f.scenario.Account(account)
	if !ok {
		return
	}
	for k, q := range f.quotas {
		if k.account == account {
			q.SetRPMAt(at, f.quotaRPM(acct, k.region))
		}
	}
}

// quotaRPM is an account's quota in region: the scenario's, or the lowest
// quota cut in effect.
func (f *Fleet) quotaRPM(acct scenarios.Account, region string) scenarios.RPM {
	rpm := acct.Quota(region)
	for _, j := range f.faults {
		if j.quotaSet && j.fault.Account == acct.Name {
			rpm = min(rpm, j.fault.QuotaRPM)
		}
	}
	return rpm
}

// down reports whether an outage covers region for this call.
func down(faults []*injected, account, region, model string) bool {
	for _, j := range faults {
		if j.fault.Kind == scenarios.RegionOutage && j.fault.Matches(account, region, model) {
			return true
		}
	}
	return false
}

// callFault decides, for a call placed in region, whether a throttling
// storm or error injection fails it, drawing from the fleet's seeded
// generator.
func (f *Fleet) callFault(faults []*injected, account, region, model string) *APIError {
	for _, j := range faults {
		if !j.fault.Matches(account, region, model) {
			continue
		}
		switch j.fault.Kind {
		case scenarios.ThrottleStorm:
			if f.rng.Float64() < j.fault.Rate {
				return &APIError{Code: wire.ThrottlingException, Message: TooManyRequests}
			}
		case scenarios.ErrorInjection:
			if f.rng.Float64() < j.fault.Rate {
				return &APIError{Code: j.fault.Error, Message: injectedMessages[j.fault.Error]}
			}
		}
	}
	return nil
}

var injectedMessages = map[string]string{
	wire.InternalServerException: "An internal server error occurred. Retry your request.",
	wire.ModelTimeoutException:   "Model has timed out in processing the request. Try your request again.",
	wire.ModelNotReadyException:  "Model is not ready to serve inference requests. Try again later.",
}

// slowdown is the latency factor of the faults that match.
func slowdown(faults []*injected, account, region, model string) float64 {
	factor := 1.0
	for _, j := range faults {
		if j.fault.Kind == scenarios.SlowDown && j.fault.Matches(account, region, model) {
			factor *= j.fault.Factor
		}
	}
	return factor
}

func outageError(region string, regions []string) *APIError {
	if len(regions) > 1 {
		return &APIError{Code: wire.ServiceUnavailableException, Message: fmt.Sprintf(
			"Service unavailable: every Region of the profile is down (%s); simulated Region outage", strings.Join(regions, ", "))}
	}
	return &APIError{Code: wire.ServiceUnavailableException, Message: fmt.Sprintf(
		"Service unavailable in %s: simulated Region outage", region)}
}
