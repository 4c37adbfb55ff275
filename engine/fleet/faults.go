package fleet

import (
	"fmt"
	"slices"
	"time"

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
				return &APIError{Code: ThrottlingException, Message: "Too many requests, please wait before trying again."}
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
	InternalServerException: "An internal server error occurred. Retry your request.",
	ModelTimeoutException:   "Model has timed out in processing the request. Try your request again.",
	ModelNotReadyException:  "Model is not ready to serve inference requests. Try again later.",
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
		return &APIError{Code: ServiceUnavailableException, Message: fmt.Sprintf(
			"Service unavailable: every Region of the profile is down (%v); simulated Region outage", slices.Clone(regions))}
	}
	return &APIError{Code: ServiceUnavailableException, Message: fmt.Sprintf(
		"Service unavailable in %s: simulated Region outage", region)}
}
