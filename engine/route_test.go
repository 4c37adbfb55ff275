package engine

import (
	"math/rand/v2"
	"testing"
	"time"

	"spillway/engine/bucket"
	"spillway/engine/health"
	"spillway/scenarios"
)

// BenchmarkRoutingDecision measures one request's routing decision: the
// tenant bucket, picking a deployment in a group and taking its token. The
// budget: ≤ 1 µs and 0 allocations per op.
func BenchmarkRoutingDecision(b *testing.B) {
	epoch := time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)
	for _, tc := range []struct {
		strategy scenarios.Strategy
		limiter  scenarios.Limiter
	}{
		{scenarios.Shuffle, scenarios.TokenBucket},
		{scenarios.Shuffle, scenarios.FixedWindow},
		{scenarios.RoundRobin, scenarios.TokenBucket},
	} {
		b.Run(string(tc.strategy)+"/"+string(tc.limiter), func(b *testing.B) {
			// Limits high enough that every decision admits: the common path.
			tenantBucket := bucket.New(tc.limiter, 6_000_000, epoch)
			var members []*deployment
			for i := range 3 {
				members = append(members, &deployment{rpm: 6_000_000, health: health.None{},
					spec:   scenarios.Deployment{Name: string(rune('a' + i))},
					bucket: bucket.New(tc.limiter, 6_000_000, epoch)})
			}
			g := newGroup("g", tc.strategy, members)
			rng := rand.New(rand.NewPCG(1, 2))
			t := epoch
			b.ReportAllocs()
			for b.Loop() {
				t = t.Add(10 * time.Microsecond)
				if !tenantBucket.AllowAt(t) || g.pick(t, rng, tokens{}) == nil {
					b.Fatal("decision refused")
				}
			}
		})
	}
}

func TestRoundRobinSkipsEmptyDeployments(t *testing.T) {
	epoch := time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)
	var members []*deployment
	for i, rpm := range []scenarios.RPM{1, 100, 100} {
		members = append(members, &deployment{rpm: rpm, spec: scenarios.Deployment{Name: string(rune('a' + i))},
			health: health.None{}, bucket: bucket.New(scenarios.FixedWindow, rpm, epoch)})
	}
	g := newGroup("g", scenarios.RoundRobin, members)
	var got string
	for range 6 {
		got += g.pick(epoch, nil, tokens{}).spec.Name
	}
	// a is full after one request, so its turns pass to the next in line.
	if got != "abcbcb" {
		t.Fatalf("round-robin order %q, want abcbcb", got)
	}
	if len(g.skipped) != 1 || g.skipped[0].spec.Name != "a" {
		t.Fatalf("last pick skipped %v, want [a]", g.skipped)
	}
}
