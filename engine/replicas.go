package engine

import (
	"context"
	"fmt"
	"time"

	"spillway/engine/health"
	"spillway/engine/shared"
	"spillway/scenarios"
)

// Replicas runs the scenario as a fleet of gateway replicas behind a load
// balancer that hands each tenant's requests to them in turn (a turn per
// tenant, so that tenants arriving in a regular interleave are not each
// pinned to one replica). Each replica has its own cooldowns, circuit
// breakers and round-robin turns; its buckets are the fleet's (Own false:
// one set for every replica, as replicas sharing a Redis count) or its
// own (Own true: a fleet of N lets N times each limit through). The
// replicas live in this one engine, on its one simulated clock, so a seed
// fixes the outcome at any speed.
type Replicas struct {
	Count int
	Own   bool
	// Store, when set, makes the store the fleet's shared buckets live
	// in, counting on clock, the run's simulated time (such as a Redis
	// with shared.Redis.WithClock); nil keeps them in this process. Own
	// limits are always kept in this process: nothing else needs them.
	Store func(clock func() time.Time) shared.Store
	// OnFailure is what the fleet does while Store is unreachable, as
	// SharedLimits.OnFailure: each replica counts its own, or refuses.
	OnFailure string
	// Where names the shared buckets' store for people: InProcess, or
	// "Redis at host:port".
	Where string
}

// ScenarioReplicas are the replicas s's file asks for ([scenario.replicas]
// and [scenario.shared] redis_failure), sharing their limits in this
// process.
func ScenarioReplicas(s *scenarios.Scenario) Replicas {
	return Replicas{Count: s.Replicas.Count, Own: s.Replicas.Limits == scenarios.ReplicaLimitsOwn, OnFailure: s.Shared.OnFailure, Where: InProcess}
}

// InProcess is where a run's replicas share their limits without a Redis.
const InProcess = "this process"

// FleetInfo describes a run as replicas, for the record and the screen.
type FleetInfo struct {
	Replicas int
	Limits   string // scenarios.ReplicaLimitsShared or ReplicaLimitsOwn
	Where    string // the shared buckets' store; empty with own limits
}

// fleet is a run's replicas: the one each tenant's next request goes to,
// the one whose request is being handled, and each replica's side of
// every deployment and group. Only one replica's side is in the deployments and
// groups at a time (serve swaps it in), so the path a request takes reads
// its own replica's health without knowing there are others.
type fleet struct {
	count   int
	own     bool
	turns   map[*tenant]int // the replica each tenant's next request goes to
	current int
	// healths: by replica, by deployment (in gateway.deployments order).
	// A health policy is a pointer, so the one in a deployment is the one
	// kept here; skip messages and round-robin turns are values, saved
	// back when another replica's side comes in.
	healths  [][]health.Policy
	skipMsgs [][]string
	next     [][]int // round-robin turns: by replica, by group (in groups order)
	groups   []*group
	// fallback keeps each replica's own buckets: always with own limits,
	// and with shared ones while their store is down and the fleet
	// serves anyway.
	fallback *shared.Local
	// ownKeys are, by replica, each bucket key's own key in fallback,
	// made once rather than at every decision.
	ownKeys []map[string]string
	// now is the simulated time of the decision being asked, which the
	// stores take as their own; start is the run's start.
	now, start time.Time
	info       FleetInfo
}

func newFleet(r *Replicas, s *scenarios.Scenario, deployments []*deployment, groups map[string]*group) *fleet {
	f := &fleet{count: r.Count, own: r.Own, turns: map[*tenant]int{}}
	f.fallback = shared.NewLocal(f.clock)
	for _, g := range s.Groups {
		f.groups = append(f.groups, groups[g.Name])
	}
	for rep := range r.Count {
		hs := make([]health.Policy, len(deployments))
		for i, d := range deployments {
			hs[i] = d.health // replica 0's is the one the deployment was built with
			if rep > 0 {
				hs[i] = healthPolicy(s.Gateway)
			}
		}
		f.healths = append(f.healths, hs)
		f.skipMsgs = append(f.skipMsgs, make([]string, len(deployments)))
		f.next = append(f.next, make([]int, len(f.groups)))
		f.ownKeys = append(f.ownKeys, map[string]string{})
	}
	f.info = FleetInfo{Replicas: r.Count, Limits: scenarios.ReplicaLimitsShared, Where: r.Where}
	if r.Own {
		f.info.Limits, f.info.Where = scenarios.ReplicaLimitsOwn, ""
	}
	return f
}

// clock is the stores' time: the decision's simulated time since the
// run's start, on an epoch of its own, so that a fixed window's minutes
// are the run's minutes and a seed fixes what each lets through.
func (f *fleet) clock() time.Time { return time.Unix(0, 0).Add(f.now.Sub(f.start)) }

// assign is the replica that serves t's next request.
func (f *fleet) assign(t *tenant) int {
	rep := f.turns[t]
	f.turns[t] = (rep + 1) % f.count
	return rep
}

// serve swaps replica rep's side into the deployments and groups.
func (f *fleet) serve(rep int, deployments []*deployment) {
	if f == nil || rep == f.current {
		return
	}
	for i, d := range deployments {
		f.skipMsgs[f.current][i] = d.skipMsg
		d.health, d.skipMsg = f.healths[rep][i], f.skipMsgs[rep][i]
	}
	for i, g := range f.groups {
		f.next[f.current][i] = g.next
		g.next = f.next[rep][i]
	}
	f.current = rep
}

// replicaNumber is the replica serving now, from 1, for events; 0 for a
// single gateway.
func (f *fleet) replicaNumber() int {
	if f == nil {
		return 0
	}
	return f.current + 1
}

// ownKey is where replica rep keeps bucket key in fallback.
func (f *fleet) ownKey(rep int, key string) string {
	own, ok := f.ownKeys[rep][key]
	if !ok {
		own = fmt.Sprintf("replica-%d/%s", rep+1, key)
		f.ownKeys[rep][key] = own
	}
	return own
}

// ownAsks are asks in replica rep's own buckets.
func (f *fleet) ownAsks(rep int, asks []shared.Ask) []shared.Ask {
	out := make([]shared.Ask, len(asks))
	for i, a := range asks {
		a.Key = f.ownKey(rep, a.Key)
		out[i] = a
	}
	return out
}

// healthAt is the state a deployment shows for the fleet at now: the
// first replica's that passes it over (cooling or open), with when that
// ends, else the first replica's.
func (f *fleet) healthAt(i int, now time.Time) (health.State, time.Time) {
	for rep := range f.count {
		if s, u := f.healths[rep][i].At(now); s != health.Healthy {
			return s, u
		}
	}
	return f.healths[0][i].At(now)
}

// ownLevels are every replica's own buckets added up: what the fleet
// has left of asks, each with its limit once per replica.
func (f *fleet) ownLevels(asks []shared.Ask) []float64 {
	total := make([]float64, len(asks))
	for rep := range f.count {
		sync, _ := f.fallback.Sync(context.Background(), "", f.ownAsks(rep, asks))
		for i, lv := range sync.Levels {
			total[i] += lv.Available
		}
	}
	return total
}
