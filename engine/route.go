package engine

import (
	"math/rand/v2"
	"time"

	"spillway/scenarios"
)

// strategy chooses among a group's deployments. Like a gateway's pre-call
// check, it passes over deployments whose health says skip (left in
// g.unhealthy) and those at their limit (left in g.skipped) before
// choosing; it takes the chosen one's token, or returns nil when none has
// budget for a request needing n. It runs once per request on the hot path,
// so it allocates nothing.
type strategy func(g *group, t time.Time, rng *rand.Rand, n tokens) *deployment

// strategies are the route strategies a group may name.
var strategies = map[scenarios.Strategy]strategy{
	scenarios.RoundRobin: roundRobin,
	scenarios.Shuffle:    weightedShuffle,
}

// group is a set of interchangeable deployments and how to pick among them.
type group struct {
	name      string
	choose    strategy
	members   []*deployment
	next      int           // round-robin: where the next request starts looking
	skipped   []*deployment // scratch: deployments the last pick passed over for budget
	unhealthy []*deployment // scratch: deployments the last pick passed over for their health
	eligible  []*deployment // scratch: deployments a shuffle may pick, each checked once

	exhaustedMsg string
}

func newGroup(name string, s scenarios.Strategy, members []*deployment) *group {
	return &group{name: name, choose: strategies[s], members: members,
		skipped: make([]*deployment, 0, len(members)), unhealthy: make([]*deployment, 0, len(members)),
		eligible:     make([]*deployment, 0, len(members)),
		exhaustedMsg: "no deployment in group " + name + " has budget"}
}

// pick chooses a deployment with budget at t for a request needing n, by
// the group's strategy.
func (g *group) pick(t time.Time, rng *rand.Rand, n tokens) *deployment {
	return g.choose(g, t, rng, n)
}

// roundRobin takes the members in turn, starting after the last one
// picked, and moves on past any without budget.
func roundRobin(g *group, t time.Time, _ *rand.Rand, need tokens) *deployment {
	g.skipped, g.unhealthy = g.skipped[:0], g.unhealthy[:0]
	n := len(g.members)
	for k := 0; k < n; k++ {
		i := (g.next + k) % n
		d := g.members[i]
		if d.skipReason(t) != "" {
			g.unhealthy = append(g.unhealthy, d)
			continue
		}
		if d.take(t, need) {
			g.next = (i + 1) % n
			return d
		}
		g.skipped = append(g.skipped, d)
	}
	g.next = (g.next + 1) % n
	return nil
}

// weightedShuffle is LiteLLM's simple-shuffle: a random pick among the
// members with budget, each weighted by its weight, else its rpm, else its
// tpm.
func weightedShuffle(g *group, t time.Time, rng *rand.Rand, n tokens) *deployment {
	g.skipped, g.unhealthy, g.eligible = g.skipped[:0], g.unhealthy[:0], g.eligible[:0]
	var total float64
	for _, d := range g.members {
		if d.skipReason(t) != "" {
			g.unhealthy = append(g.unhealthy, d)
			continue
		}
		if d.hasBudget(t, n) {
			total += d.weight()
			g.eligible = append(g.eligible, d)
		} else {
			d.reject(t)
			g.skipped = append(g.skipped, d)
		}
	}
	for total > 0 && len(g.eligible) > 0 {
		x := rng.Float64() * total
		at := 0
		for i, d := range g.eligible {
			at = i
			if x < d.weight() {
				break
			}
			x -= d.weight()
		}
		chosen := g.eligible[at]
		if chosen.take(t, n) {
			return chosen
		}
		// Only with shared limits: another replica took the room this
		// one's pick counted on. The pick goes on among the rest.
		g.skipped = append(g.skipped, chosen)
		total -= chosen.weight()
		g.eligible = append(g.eligible[:at], g.eligible[at+1:]...)
	}
	return nil
}
