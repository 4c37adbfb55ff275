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
		tpm      bool // a TPM bucket beside every RPM bucket, counted by reservation
	}{
		{scenarios.Shuffle, scenarios.TokenBucket, false},
		{scenarios.Shuffle, scenarios.FixedWindow, false},
		{scenarios.RoundRobin, scenarios.TokenBucket, false},
		{scenarios.Shuffle, scenarios.TokenBucket, true},
		{scenarios.RoundRobin, scenarios.FixedWindow, true},
	} {
		name := string(tc.strategy) + "/" + string(tc.limiter)
		if tc.tpm {
			name += "/rpm+tpm"
		}
		b.Run(name, func(b *testing.B) {
			// Limits high enough that every decision admits: the common path.
			tokenLimitOf := func(owner string) *tokenLimit {
				if !tc.tpm {
					return nil
				}
				l := newTokenLimit(BucketID(owner), owner, 2_000_000_000, tc.limiter, scenarios.Reserve)
				l.fill(epoch)
				return l
			}
			tenantBucket, tenantTokens := bucket.New(tc.limiter, 6_000_000, epoch), tokenLimitOf("tenant")
			var members []*deployment
			for i := range 3 {
				members = append(members, &deployment{rpm: 6_000_000, health: health.None{},
					spec:   scenarios.Deployment{Name: string(rune('a' + i))},
					bucket: bucket.New(tc.limiter, 6_000_000, epoch), tokens: tokenLimitOf(string(rune('a' + i)))})
			}
			g := newGroup("g", tc.strategy, members)
			rng := rand.New(rand.NewPCG(1, 2))
			need := tokens{input: 1_000, reserve: 1_000 + 1_000}
			t := epoch
			b.ReportAllocs()
			for b.Loop() {
				t = t.Add(10 * time.Microsecond)
				if !tenantBucket.AllowAt(t) || tenantTokens != nil && !tenantTokens.take(t, need) {
					b.Fatal("tenant refused")
				}
				d := g.pick(t, rng, need)
				if d == nil {
					b.Fatal("decision refused")
				}
				if tc.tpm { // the answer settles both reservations: 1,500 used of 2,000
					d.tokens.settle(t, t, need, 1_500)
					tenantTokens.settle(t, t, need, 1_500)
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
