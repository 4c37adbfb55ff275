package report

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"spillway/engine"
	"spillway/engine/bucket"
	"spillway/engine/record"
	"spillway/scenarios"
)

// synthetic builds, without running anything, a record the shape of a long
// busy run: n requests spread evenly over span from four tenants to three
// deployments in three Regions (most succeed, some are refused, fail, are
// cancelled or fall back), a Levels event each simulated second for every
// bucket, a Region poll of two accounts every five seconds, two faults and
// a limit change. It is deterministic: the same n and span give the same
// record.
func synthetic(n int, span time.Duration) *record.Loaded {
	rng := rand.New(rand.NewPCG(1, 2))
	tenants := []string{"web", "batch", "mobile", "internal"}
	deployments := []string{"primary-a", "primary-b", "fallback"}
	regions := []string{"us-east-1", "us-east-2", "us-west-2"}
	accounts := []string{"prod-1", "prod-2"}
	l := &record.Loaded{
		Path: "synthetic-36k.json", Schema: record.Schema, Scenario: "synthetic", Title: "A long run, made up for the benchmark",
		Backend: "simulated", Seed: 7, Speed: math.Inf(1), StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: span,
		Faults: []record.FaultWindow{
			{ID: 1, Fault: "region-outage us-east-2", Kind: "region-outage", StartMS: span.Seconds() * 250, EndMS: span.Seconds() * 400},
			{ID: 2, Fault: "throttle primary-a", Kind: "throttle", Live: true, StartMS: span.Seconds() * 600, EndMS: span.Seconds() * 650},
		},
		RPMChanges:   []record.RPMChange{{AtMS: span.Seconds() * 500, Bucket: "deployment/primary-a", RPM: 900}},
		ScenarioFile: &record.ScenarioFile{Name: "synthetic.toml", TOML: "[[scenario]]\nname = \"synthetic\"\n"},
	}
	for _, t := range tenants {
		l.Buckets = append(l.Buckets, record.BucketSpec{ID: engine.BucketID(engine.TenantBucket + t), Semantic: scenarios.Limiter("token-bucket"), Limit: scenarios.Unlimited})
	}
	for _, d := range deployments {
		l.Buckets = append(l.Buckets, record.BucketSpec{ID: engine.BucketID(engine.DeploymentBucket + d), Semantic: scenarios.Limiter("token-bucket"), Limit: 600})
	}
	s := record.Summary{Planned: n, Requests: n, ByDeployment: map[string]int{}, ByTenant: map[string]*record.TenantSummary{},
		ByAccount: map[string]*record.AccountSummary{}, Regions: map[string]map[string]int{}}
	spanMS := float64(span.Milliseconds())
	for i := range n {
		start := math.Round(spanMS * float64(i) / float64(n))
		q := record.Request{ID: i + 1, Tenant: tenants[i%len(tenants)], StartMS: start, Attempts: []record.Attempt{}}
		t := s.ByTenant[q.Tenant]
		if t == nil {
			t = &record.TenantSummary{}
			s.ByTenant[q.Tenant] = t
		}
		t.Requests++
		switch p := rng.Float64(); {
		case p < 0.08:
			q.Outcome, q.EndMS = record.OutcomeRateLimited, start
			s.RateLimited++
			t.RateLimited++
		default:
			q.Deployment = deployments[rng.IntN(2)]
			q.Account, q.Region = accounts[rng.IntN(2)], regions[rng.IntN(3)]
			q.LatencyMS = math.Round(1000 * math.Exp(1+rng.NormFloat64()*0.5))
			q.EndMS = start + q.LatencyMS
			q.Attempts = append(q.Attempts, record.Attempt{Group: "primaries", Deployment: q.Deployment, StartMS: start})
			switch {
			case p < 0.13:
				q.Outcome = record.OutcomeFailed
				s.Failed++
				t.Failed++
			case p < 0.15:
				q.Outcome = record.OutcomeCancelled
				s.Cancelled++
				t.Cancelled++
			default:
				q.Outcome = record.OutcomeSucceeded
				s.Succeeded++
				t.Succeeded++
				if p > 0.9 {
					q.Fallback, q.Deployment = true, "fallback"
					q.Attempts = append(q.Attempts, record.Attempt{Group: "fallback", Deployment: q.Deployment, StartMS: start + q.LatencyMS/3})
					s.FellBack++
				}
				s.ByDeployment[q.Deployment]++
			}
		}
		l.Requests = append(l.Requests, q)
	}
	l.Summary = s

	l.Events = append(l.Events, engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: l.Scenario, Planned: n}})
	counts := map[string]map[string]int{}
	for sec := 1; sec <= int(span.Seconds()); sec++ {
		at := time.Duration(sec) * time.Second
		ev := engine.Event{At: at, Kind: engine.Levels}
		for j, b := range l.Buckets {
			lv := engine.BucketLevel{ID: b.ID, Level: bucket.Level{Available: math.Inf(1), Capacity: math.Inf(1)}}
			if !b.Limit.IsUnlimited() {
				lv.Capacity = float64(b.Limit)
				lv.Available = lv.Capacity * (0.5 + 0.5*math.Sin(float64(sec)/60+float64(j)))
			}
			ev.Levels = append(ev.Levels, lv)
		}
		l.Events = append(l.Events, ev)
		if sec%5 != 0 {
			continue
		}
		for _, acct := range accounts {
			if counts[acct] == nil {
				counts[acct] = map[string]int{}
			}
			p := &engine.RegionPoll{Account: acct}
			for k, r := range regions {
				counts[acct][r] += 10 + k
				p.Counts = append(p.Counts, engine.RegionCount{Region: r, Count: counts[acct][r]})
			}
			l.Events = append(l.Events, engine.Event{At: at, Kind: engine.RegionsPolled, Account: acct, Regions: p})
		}
	}
	l.Events = append(l.Events, engine.Event{At: span, Kind: engine.RunEnded})
	l.Summary.Regions = counts
	for _, acct := range accounts {
		l.Summary.ByAccount[acct] = &record.AccountSummary{Requests: n / 2}
	}
	if len(l.Requests) != n {
		panic(fmt.Sprintf("synthetic: %d requests, want %d", len(l.Requests), n))
	}
	return l
}
