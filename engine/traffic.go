package engine

import (
	"fmt"
	"math/rand/v2"
	"time"

	"spillway/engine/bucket"
	"spillway/scenarios"
)

// traffic is the scenario's tenants and when each sends its requests:
// a burst, a constant rate or a Poisson process, until its duration ends.
type traffic struct {
	tenants    []*tenant
	planned    int // requests expected, for the RunStarted event
	generating int // tenants that will send more
}

type tenant struct {
	spec    scenarios.Tenant
	id      BucketID
	rate    float64    // requests per minute, for constant and Poisson arrivals
	gen     int        // bumped by a rate change, which voids the arrival scheduled under the old rate
	last    time.Time  // when the latest request arrived
	done    bool       // sends no more
	until   time.Time  // constant and Poisson: no arrival at or after this
	gaps    *rand.Rand // Poisson gaps, a stream of its own so routing never shifts them
	rpm     scenarios.RPM
	overMsg string // why a request was refused; rebuilt when rpm changes, not per request
	bucket  *bucket.Bucket
	tokens  *tokenLimit // its TPM limit; nil when it has none
	asks    requestTokens
	chain   []*group
	sent    int
}

func newTraffic(s *scenarios.Scenario, seed uint64, groups map[string]*group) traffic {
	var tr traffic
	for i, t := range s.Tenants {
		tn := &tenant{spec: t, id: BucketID(TenantBucket + t.Name), rate: t.Rate,
			gaps: rand.New(rand.NewPCG(seed, 0xa771+uint64(i))),
			asks: newRequestTokens(s, t, rand.New(rand.NewPCG(seed, 0x70ce5+uint64(i))))}
		tn.tokens = newTokenLimit(tn.id, "tenant "+t.Name, t.TPM, t.Limiter, t.Counting)
		tn.setRPM(t.RPM)
		for _, name := range s.Chain(t.Group) {
			tn.chain = append(tn.chain, groups[name])
		}
		tr.tenants = append(tr.tenants, tn)
		tr.planned += t.Expected()
	}
	return tr
}

func (t *tenant) bucketID() BucketID      { return t.id }
func (t *tenant) limit() scenarios.RPM    { return t.rpm }
func (t *tenant) limiter() *bucket.Bucket { return t.bucket }
func (t *tenant) fill(start time.Time)    { t.bucket = bucket.New(t.spec.Limiter, t.rpm, start) }
func (t *tenant) setRPM(rpm scenarios.RPM) {
	t.rpm = rpm
	t.overMsg = fmt.Sprintf("tenant %s is over its %s RPM (%s)", t.spec.Name, rpm, t.spec.Limiter)
}

// begin schedules every tenant's first request.
func (tr *traffic) begin(tl timeline, start time.Time) {
	for _, t := range tr.tenants {
		if t.spec.Arrival == scenarios.FromClients {
			t.done = true // its requests come from clients, as Arrive
			continue
		}
		t.until = start.Add(t.spec.Duration)
		first := t.first(start)
		if t.spec.Arrival == scenarios.Burst || first.Before(t.until) {
			tr.generating++
			tl.schedule(item{at: first, kind: arrive, tenant: t})
		} else {
			t.done = true
		}
	}
}

// arrive takes in a scheduled arrival and schedules the tenant's next. It
// reports false for an arrival a rate change has voided.
func (tr *traffic) arrive(tl timeline, it item) bool {
	t := it.tenant
	if it.gen != t.gen {
		return false
	}
	t.sent++
	t.last = it.at
	if next, more := t.next(it.at); more {
		tl.schedule(item{at: next, kind: arrive, tenant: t, gen: t.gen})
	} else {
		t.done = true
		tr.generating--
	}
	return true
}

// setRate changes t's arrival rate at at. The next arrival is rescheduled
// at the new rate from the last one, so a rate raised from 1 a minute does
// not wait out the old gap. A rate so low that the next arrival would come
// after the tenant's duration stops it; raised again while its duration
// lasts, it sends again.
func (tr *traffic) setRate(tl timeline, at time.Time, t *tenant, rate float64) {
	t.rate = rate
	tl.emit(at, Event{Kind: RateChanged, Tenant: t.spec.Name, Bucket: t.id, Rate: rate})
	if !at.Before(t.until) {
		return // its time is over
	}
	// Void the scheduled arrival and schedule the next from the last one at
	// the new rate (before the first, the first as the new rate places
	// it), unless that is already past: then now.
	t.gen++
	var next time.Time
	if t.sent == 0 {
		next = t.first(t.until.Add(-t.spec.Duration))
	} else {
		next = t.last.Add(t.gap())
	}
	if next.Before(at) {
		next = at
	}
	switch {
	case next.Before(t.until):
		if t.done {
			t.done = false
			tr.generating++
		}
		tl.schedule(item{at: next, kind: arrive, tenant: t, gen: t.gen})
	case !t.done:
		t.done = true
		tr.generating--
	}
}

// first is when the tenant's first request arrives in a run that started
// at start: at once, or after a Poisson gap.
func (t *tenant) first(start time.Time) time.Time {
	if t.spec.Arrival == scenarios.Poisson {
		return start.Add(t.gap())
	}
	return start
}

// gap is the time to a tenant's next arrival after one at a steady or
// Poisson rate.
func (t *tenant) gap() time.Duration {
	mean := float64(time.Minute) / t.rate
	if t.spec.Arrival == scenarios.Poisson {
		return time.Duration(t.gaps.ExpFloat64() * mean)
	}
	return time.Duration(mean)
}

// next is when the tenant's next request arrives after one at at, if it
// sends another.
func (t *tenant) next(at time.Time) (time.Time, bool) {
	if t.spec.Arrival == scenarios.Burst {
		return at.Add(t.spec.Stagger), t.sent < t.spec.Requests
	}
	next := at.Add(t.gap())
	return next, next.Before(t.until)
}
