package compare

import (
	"io"
	"math/rand/v2"
	"testing"

	"spillway/engine"
	"spillway/engine/record"
)

// syntheticRun is a run of n requests built in memory, no scenario run:
// three tenants, four deployments over two accounts, one request in five
// falling back, some throttled, rate-limited and failed, latencies
// spread over a few seconds. seed makes the two runs of a benchmark
// differ the way two runs of one scenario do.
func syntheticRun(n int, seed uint64) *record.Loaded {
	rng := rand.New(rand.NewPCG(seed, 1))
	tenants := []string{"web", "batch", "ops"}
	deployments := []string{"primary-a", "primary-b", "secondary", "fallback"}
	l := &record.Loaded{Scenario: "synthetic", Seed: seed, Requests: make([]record.Request, n),
		Summary: record.Summary{Regions: map[string]map[string]int{
			"acct-1": {"us-east-1": n / 3, "us-east-2": n / 4}, "acct-2": {"us-west-2": n / 3}}}}
	for _, d := range deployments {
		l.Buckets = append(l.Buckets, record.BucketSpec{ID: engine.BucketID("deployment/" + d), Limit: 600})
	}
	for i := range l.Requests {
		q := &l.Requests[i]
		q.ID, q.Tenant = i+1, tenants[rng.IntN(len(tenants))]
		dep := deployments[rng.IntN(len(deployments))]
		account := "acct-1"
		if dep == "secondary" || dep == "fallback" {
			account = "acct-2"
		}
		q.Attempts = make([]record.Attempt, 0, 3)
		if rng.IntN(10) == 0 {
			q.Attempts = append(q.Attempts, record.Attempt{Deployment: "primary-a", Account: "acct-1", Outcome: record.OutcomeThrottled})
		}
		if rng.IntN(8) == 0 {
			q.Attempts = append(q.Attempts, record.Attempt{Deployment: "primary-b", Account: "acct-1", Outcome: record.OutcomeSkipped})
		}
		switch r := rng.IntN(100); {
		case r < 3:
			q.Outcome = record.OutcomeRateLimited
			continue
		case r < 5:
			q.Outcome = record.OutcomeFailed
		default:
			q.Outcome = record.OutcomeSucceeded
			q.Fallback = dep == "fallback"
			q.InputTokens, q.OutputTokens = 30+rng.IntN(50), 100+rng.IntN(400)
			if rng.IntN(2) == 0 {
				q.TTFTMS = float64(200 + rng.IntN(800))
			}
		}
		q.Deployment, q.Account, q.Region = dep, account, "us-east-1"
		q.LatencyMS = float64(500 + rng.IntN(9500))
		q.Attempts = append(q.Attempts, record.Attempt{Deployment: dep, Account: account, Outcome: q.Outcome})
	}
	return l
}

// BenchmarkCompare compares two synthetic records of 36,000 requests
// each, a run at 600 requests a minute for an hour, and writes the
// comparison as text: all of 'spillway compare' after reading the files.
func BenchmarkCompare(b *testing.B) {
	a, c := syntheticRun(36_000, 1), syntheticRun(36_000, 2)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteText(io.Discard, Runs(a, c)); err != nil {
			b.Fatal(err)
		}
	}
}
