package engine

import (
	"fmt"
	"time"

	"spillway/engine/bucket"
	"spillway/engine/health"
	"spillway/engine/shared"
	"spillway/scenarios"
)

// deployment is a model in an account behind the gateway: its bucket, its
// health with the gateway, and the sentences events say about it, built
// when they change rather than per request.
type deployment struct {
	spec         scenarios.Deployment
	account      scenarios.Account
	id           BucketID
	rpm          scenarios.RPM
	bucket       *bucket.Bucket
	tokens       *tokenLimit // its TPM limit; nil when it has none
	health       health.Policy
	overMsg      string // why the pick passed it over for budget; rebuilt when rpm changes
	throttledMsg string
	skipMsg      string // why the pick passes it over for its health; rebuilt on each transition

	// With shared limits: the store that decides, the store's time of
	// the last take (for its TPM settlement), and the bucket that ran out
	// at the last refusal.
	shared  *sharedGate
	takenAt time.Time
	shortOf BucketID
	// heldElsewhere: the last shared take was refused because another
	// replica holds d out of the pick (cooldown, open circuit).
	heldElsewhere bool
}

// heldKey is where a replica holds d out of every replica's pick.
func (d *deployment) heldKey() string { return "health/" + string(d.id) }

// tunable is a tenant or a deployment: something with a bucket whose limit
// can change during the run.
type tunable interface {
	bucketID() BucketID
	limit() scenarios.RPM
	setRPM(scenarios.RPM)
	limiter() *bucket.Bucket
	fill(start time.Time)
}

func (d *deployment) bucketID() BucketID      { return d.id }
func (d *deployment) limit() scenarios.RPM    { return d.rpm }
func (d *deployment) limiter() *bucket.Bucket { return d.bucket }
func (d *deployment) fill(start time.Time)    { d.bucket = bucket.New(d.spec.Limiter, d.rpm, start) }
func (d *deployment) setRPM(rpm scenarios.RPM) {
	d.rpm = rpm
	d.overMsg = fmt.Sprintf("deployment %s is at its %s RPM (%s)", d.spec.Name, rpm, d.spec.Limiter)
}

// skipReason is why a pick at t must pass over d, or "" when d may be
// picked. It is on the hot path, so it only compares.
func (d *deployment) skipReason(t time.Time) string {
	if !d.health.Skips(t) {
		return ""
	}
	if state, _ := d.health.At(t); state == health.Cooling {
		return SkipCooldown
	}
	return SkipCircuitOpen
}

// weight is the deployment's share in a shuffle: its weight if set, else its
// rpm, else its tpm, as LiteLLM's simple-shuffle does. A deployment with
// neither limit nor weight counts as 1.
func (d *deployment) weight() float64 {
	switch {
	case d.spec.Weight > 0:
		return d.spec.Weight
	case !d.rpm.IsUnlimited():
		return float64(d.rpm)
	case d.tokens != nil:
		return float64(d.tokens.tpm)
	}
	return 1
}

// hasBudget reports whether d's RPM and TPM limits both have room at t for
// a request needing n, without taking anything.
func (d *deployment) hasBudget(t time.Time, n tokens) bool {
	if d.shared != nil && !d.shared.down {
		return true // only the store knows; the take asks it, and a pick that finds no room there picks again
	}
	return d.bucket.HasBudgetAt(t) && (d.tokens == nil || d.tokens.has(t, n))
}

// take admits a request needing n at t if both limits have room, taking a
// request and the request's tokens; otherwise it counts the refusal on the
// limit that ran out.
func (d *deployment) take(t time.Time, n tokens) bool {
	if d.shared != nil {
		if taken, decided := d.takeShared(t, n); decided {
			return taken
		}
	}
	if d.tokens == nil {
		return d.bucket.AllowAt(t)
	}
	if !d.bucket.HasBudgetAt(t) {
		d.bucket.RejectAt(t)
		return false
	}
	if !d.tokens.take(t, n) {
		return false
	}
	return d.bucket.AllowAt(t)
}

// takeShared takes what a request needing n asks of d's limits in the
// shared store. decided is false when the store is down and d's own
// buckets decide instead.
func (d *deployment) takeShared(t time.Time, n tokens) (taken, decided bool) {
	var asks []shared.Ask
	if _, none := d.health.(health.None); !none {
		// First: cooling down, or open, on another replica, it is passed
		// over here too, whatever its budget.
		asks = append(asks, shared.Ask{Key: d.heldKey(), Semantic: shared.Health})
	}
	asks = append(asks, asksOf(d.id, d.spec.Limiter, d.rpm, d.tokens, n)...)
	if len(asks) == 0 {
		return true, true
	}
	ans := d.shared.take(t, asks)
	d.heldElsewhere = false
	switch ans.verdict {
	case sharedTaken:
		d.takenAt, d.shortOf = ans.at, ""
		d.bucket.Tally(true)
		return true, true
	case sharedRefused:
		d.shortOf = refusedBucket(asks, ans.refusal)
		switch {
		case d.shortOf == BucketID(d.heldKey()):
			d.heldElsewhere, d.shortOf = true, d.id
		case d.tokens != nil && d.shortOf == d.tokens.id:
			d.tokens.bucket.Tally(false)
		default:
			d.bucket.Tally(false)
		}
		return false, true
	case sharedUnavailable:
		d.shortOf = d.id
		return false, true
	}
	return false, false
}

// reject counts a pre-call check's refusal at t on the limit that ran out.
func (d *deployment) reject(t time.Time) {
	if d.tokens != nil && d.bucket.HasBudgetAt(t) {
		d.tokens.bucket.RejectAt(t)
		return
	}
	d.bucket.RejectAt(t)
}

// short is the limit a pick found without room at t: the bucket, its
// limit and why, for the Skipped event.
func (d *deployment) short(t time.Time) (BucketID, scenarios.RPM, string) {
	if d.heldElsewhere {
		return d.id, d.rpm, fmt.Sprintf("deployment %s is cooling down, or its circuit is open, on another replica", d.spec.Name)
	}
	if d.shared != nil && d.shortOf != "" {
		if d.tokens != nil && d.shortOf == d.tokens.id {
			return d.tokens.id, d.tokens.tpm, d.tokens.overMsg
		}
		return d.id, d.rpm, d.overMsg
	}
	if d.tokens != nil && d.bucket.HasBudgetAt(t) {
		return d.tokens.id, d.tokens.tpm, d.tokens.overMsg
	}
	return d.id, d.rpm, d.overMsg
}

// healthPolicy is the scenario's gateway health rule for one deployment.
func healthPolicy(gw scenarios.Gateway) health.Policy {
	switch {
	case gw.AllowedFails > 0:
		return &health.Cooldown{AllowedFails: gw.AllowedFails, For: gw.Cooldown}
	case gw.BreakerFailures > 0:
		return &health.Breaker{Failures: gw.BreakerFailures, OpenFor: gw.BreakerOpenFor}
	}
	return health.None{}
}

// transitioned announces d's health transition tr at at.
func (d *deployment) transitioned(tl timeline, at time.Time, tr health.Transition) {
	ev := Event{Kind: HealthChanged, Deployment: d.spec.Name, Model: d.spec.Model, Account: d.account.Name, Health: string(tr.To)}
	if d.shared != nil {
		ev.Replica = d.shared.fleet.replicaNumber()
	}
	if !tr.Until.IsZero() {
		ev.Until = tl.since(tr.Until)
	}
	switch tr.To {
	case health.Healthy:
		d.skipMsg = ""
		ev.Message = d.spec.Name + " is healthy again"
	case health.HalfOpen:
		d.skipMsg = fmt.Sprintf("deployment %s is half-open: its probe is in flight", d.spec.Name)
		ev.Message = d.spec.Name + "'s circuit is half-open: the next request probes it"
	case health.Cooling:
		d.skipMsg = fmt.Sprintf("%s failed %d times within a minute; skipped for %s", d.spec.Name, tr.Failures, tr.For)
		ev.Message = d.skipMsg
	case health.Open:
		d.skipMsg = fmt.Sprintf("%s's circuit is open after %d failures in a row; skipped for %s", d.spec.Name, tr.Failures, tr.For)
		ev.Message = d.skipMsg
	}
	if d.shared != nil && (tr.To == health.Cooling || tr.To == health.Open) {
		// Every replica passes it over for as long.
		d.shared.hold(at, d.heldKey(), tr.Until.Sub(at))
	}
	tl.emit(at, ev)
}

// deploymentSet is the scenario's deployments and the groups built on
// them.
type deploymentSet struct {
	list   []*deployment
	byName map[string]*deployment
}

func newDeployments(s *scenarios.Scenario) deploymentSet {
	out := deploymentSet{byName: map[string]*deployment{}}
	for _, d := range s.Deployments {
		acct, _ := s.Account(d.Account)
		dep := &deployment{spec: d, account: acct, id: BucketID(DeploymentBucket + d.Name),
			throttledMsg: d.Name + " throttled the call", health: healthPolicy(s.Gateway)}
		dep.tokens = newTokenLimit(dep.id, "deployment "+d.Name, d.TPM, d.Limiter, d.Counting)
		dep.setRPM(d.RPM)
		out.list = append(out.list, dep)
		out.byName[d.Name] = dep
	}
	return out
}

// groups builds the scenario's groups, each with its route strategy.
func (f deploymentSet) groups(s *scenarios.Scenario) map[string]*group {
	groups := map[string]*group{}
	for _, g := range s.Groups {
		members := make([]*deployment, 0, len(g.Deployments))
		for _, name := range g.Deployments {
			members = append(members, f.byName[name])
		}
		groups[g.Name] = newGroup(g.Name, g.Strategy, members)
	}
	return groups
}
