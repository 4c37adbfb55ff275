package engine

import (
	"math/rand/v2"
	"time"

	"spillway/scenarios"
)

// group is a set of interchangeable deployments and how to pick among them.
type group struct {
	name      string
	strategy  scenarios.Strategy
	members   []*deployment
	next      int           // round-robin: where the next request starts looking
	skipped   []*deployment // scratch: deployments the last pick passed over for budget
	unhealthy []*deployment // scratch: deployments the last pick passed over for their health

	exhaustedMsg string
}

// pick chooses a deployment with budget at t and takes its token, or returns
// nil when none has any. Like a gateway's pre-call check, deployments in
// cooldown or with an open circuit (left in g.unhealthy) and at their
// limit (left in g.skipped) are
// dropped before choosing.
// It allocates nothing: it runs once per request on the hot path.
func (g *group) pick(t time.Time, rng *rand.Rand) *deployment {
	g.skipped, g.unhealthy = g.skipped[:0], g.unhealthy[:0]
	if g.strategy == scenarios.RoundRobin {
		n := len(g.members)
		for k := 0; k < n; k++ {
			i := (g.next + k) % n
			d := g.members[i]
			if d.skipReason(t) != "" {
				g.unhealthy = append(g.unhealthy, d)
				continue
			}
			if d.bucket.AllowAt(t) {
				g.next = (i + 1) % n
				return d
			}
			g.skipped = append(g.skipped, d)
		}
		g.next = (g.next + 1) % n
		return nil
	}

	var total float64
	for _, d := range g.members {
		if d.skipReason(t) != "" {
			g.unhealthy = append(g.unhealthy, d)
			continue
		}
		if d.bucket.HasBudgetAt(t) {
			total += d.weight()
		} else {
			d.bucket.RejectAt(t)
			g.skipped = append(g.skipped, d)
		}
	}
	if total == 0 {
		return nil
	}
	x := rng.Float64() * total
	var chosen *deployment
	for _, d := range g.members {
		if d.skipReason(t) != "" || !d.bucket.HasBudgetAt(t) {
			continue
		}
		chosen = d
		if x < d.weight() {
			break
		}
		x -= d.weight()
	}
	chosen.bucket.AllowAt(t)
	return chosen
}

// weight is the deployment's share in a shuffle: its weight if set, else its
// rpm, as LiteLLM's simple-shuffle does. An unlimited deployment without a
// weight counts as 1.
func (d *deployment) weight() float64 {
	switch {
	case d.spec.Weight > 0:
		return d.spec.Weight
	case d.rpm.IsUnlimited():
		return 1
	}
	return float64(d.rpm)
}
