package record_test

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"spillway/engine"
)

// syntheticRun sends a recorder the events of n requests the way a long
// run does, without running an engine: arrivals every 100 ms (600 a
// minute), latencies spread around 3 s with a long tail so that requests
// finish out of the order they came in, one in ten throttled and retried
// elsewhere, one in three streamed, a few refused or failed. The same
// seed gives the same events.
func syntheticRun(handle func(engine.Event), n int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	tenants := []string{"web", "batch", "ops"}
	deployments := []struct{ name, model, account, group string }{
		{"primary-a", "anthropic.claude-sonnet-4", "acct-1", "primary"},
		{"primary-b", "anthropic.claude-sonnet-4", "acct-2", "primary"},
		{"fallback", "anthropic.claude-3-5-sonnet", "acct-2", "fallback"},
	}
	regions := []string{"us-east-1", "us-east-2", "us-west-2"}
	handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "synthetic", Seed: seed, Speed: math.Inf(1),
		Start: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), Planned: n,
		Buckets: []engine.BucketLevel{{ID: "deployment/primary-a"}, {ID: "deployment/primary-b"},
			{ID: "deployment/fallback"}}}})
	var later timedEvents
	var seq int
	schedule := func(ev engine.Event) {
		seq++
		heap.Push(&later, timedEvent{ev: ev, seq: seq})
	}
	flushUntil := func(at time.Duration) {
		for len(later) > 0 && later[0].ev.At <= at {
			handle(heap.Pop(&later).(timedEvent).ev)
		}
	}
	for id := 1; id <= n; id++ {
		at := time.Duration(id) * 100 * time.Millisecond
		flushUntil(at)
		tenant := tenants[rng.IntN(len(tenants))]
		input, maxTokens := 200+rng.IntN(800), 512
		ev := engine.Event{At: at, Request: id, Tenant: tenant, InputTokens: input, MaxTokens: maxTokens}
		if rng.IntN(100) < 3 {
			ev.Kind, ev.Bucket, ev.Message = engine.RateLimited, engine.BucketID("tenant/"+tenant), "tenant "+tenant+" is over its limit"
			handle(ev)
			continue
		}
		ev.Kind = engine.Admitted
		handle(ev)
		d := deployments[rng.IntN(2)]
		attempt := func(at time.Duration, number int) engine.Event {
			return engine.Event{At: at, Kind: engine.Attempt, Request: id, Attempt: number, Tenant: tenant, Group: d.group,
				Deployment: d.name, Model: d.model, Account: d.account, InputTokens: input, MaxTokens: maxTokens}
		}
		handle(attempt(at, 1))
		start, number := at, 1
		if rng.IntN(10) == 0 {
			throttledAt := at + time.Duration(50+rng.IntN(400))*time.Millisecond
			schedule(engine.Event{At: throttledAt, Kind: engine.Throttled, Request: id, Attempt: 1, Tenant: tenant, Deployment: d.name,
				Model: d.model, Account: d.account, Code: "ThrottlingException", Message: "Too many requests, please wait before trying again."})
			d, start, number = deployments[2], throttledAt+time.Millisecond, 2
			schedule(engine.Event{At: start, Kind: engine.RetryScheduled, Request: id, Tenant: tenant, Until: start})
			schedule(attempt(start, 2))
		}
		latency := time.Duration(math.Min(3000*math.Exp(0.7*rng.NormFloat64()), 120_000) * float64(time.Millisecond))
		end := start + latency
		final := engine.Event{At: end, Kind: engine.Succeeded, Request: id, Attempt: number, Tenant: tenant, Deployment: d.name,
			Model: d.model, Account: d.account, Region: regions[rng.IntN(len(regions))], Latency: end - at,
			InputTokens: input, OutputTokens: 50 + rng.IntN(450), Fallback: d.group == "fallback"}
		if rng.IntN(3) == 0 {
			final.TTFT = time.Duration(float64(latency) * (0.1 + 0.3*rng.Float64()))
			final.Streamed = final.OutputTokens
		}
		if rng.IntN(50) == 0 {
			final.Kind, final.Code, final.OutputTokens = engine.Failed, "ServiceUnavailableException", 0
			final.Message = fmt.Sprintf("request %d: the service is unavailable", id)
		}
		schedule(final)
	}
	flushUntil(math.MaxInt64)
	handle(engine.Event{At: time.Duration(n+1) * 100 * time.Millisecond * 2, Kind: engine.RunEnded})
}

// timedEvent is an event due later, ordered by time, then by when it was
// made.
type timedEvent struct {
	ev  engine.Event
	seq int
}

type timedEvents []timedEvent

func (h timedEvents) Len() int { return len(h) }
func (h timedEvents) Less(i, j int) bool {
	if h[i].ev.At != h[j].ev.At {
		return h[i].ev.At < h[j].ev.At
	}
	return h[i].seq < h[j].seq
}
func (h timedEvents) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timedEvents) Push(x any)   { *h = append(*h, x.(timedEvent)) }
func (h *timedEvents) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
