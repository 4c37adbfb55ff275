package engine

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

// The gateway path on its own: a Go-built scenario (no TOML), a scripted
// backend (no fleet), a fake timeline (no loop, no Run) and explicit times.

var t0 = time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)

// fakeTimeline keeps what the gateway schedules and emits.
type fakeTimeline struct {
	items  []item
	events []Event
}

func (f *fakeTimeline) schedule(it item) { f.items = append(f.items, it) }
func (f *fakeTimeline) emit(at time.Time, ev Event) {
	ev.At = at.Sub(t0)
	f.events = append(f.events, ev)
}
func (f *fakeTimeline) since(at time.Time) time.Duration { return at.Sub(t0) }

func (f *fakeTimeline) kinds() string {
	var out []string
	for _, ev := range f.events {
		out = append(out, ev.Kind.String())
	}
	return strings.Join(out, " ")
}

// scripted answers each call with the next reply for its deployment.
type scripted map[string][]Reply

func (s scripted) Instant() bool { return true }
func (s scripted) Invoke(_ context.Context, _ time.Time, c Call) Reply {
	replies := s[c.Deployment]
	if len(replies) == 0 {
		return Reply{Latency: time.Second}
	}
	s[c.Deployment] = replies[1:]
	return replies[0]
}

// twoGroups is primary (rpm) falling back to spare, for one tenant.
func twoGroups(rpm scenarios.RPM, gw scenarios.Gateway) *scenarios.Scenario {
	return &scenarios.Scenario{
		Name:       "unit",
		Accounts:   []scenarios.Account{{Name: "acct", Region: "us-east-1"}},
		FallbackOn: []scenarios.ErrorClass{scenarios.ClassThrottled},
		Gateway:    gw,
		Deployments: []scenarios.Deployment{
			{Name: "primary", Account: "acct", Model: "m1", RPM: rpm, Limiter: scenarios.FixedWindow},
			{Name: "spare", Account: "acct", Model: "m2", RPM: scenarios.Unlimited, Limiter: scenarios.FixedWindow},
		},
		Groups: []scenarios.Group{
			{Name: "main", Strategy: scenarios.RoundRobin, Deployments: []string{"primary"}, Fallbacks: []string{"backup"}},
			{Name: "backup", Strategy: scenarios.RoundRobin, Deployments: []string{"spare"}},
		},
		Tenants: []scenarios.Tenant{{Name: "app", Group: "main", RPM: scenarios.Unlimited, Limiter: scenarios.FixedWindow,
			Arrival: scenarios.Burst, Requests: 1}},
	}
}

// newTestGateway wires the gateway for s at t0 on backend, with buckets
// full.
func newTestGateway(s *scenarios.Scenario, backend Backend) (*gateway, *tenant, *fakeTimeline) {
	deps := newDeployments(s)
	tr := newTraffic(s, 1, deps.groups(s))
	tl := &fakeTimeline{}
	g := &gateway{scenario: s, rng: rand.New(rand.NewPCG(1, 2)), backend: backend, timeline: tl, deployments: deps.list}
	g.begin()
	for _, d := range deps.list {
		d.fill(t0)
	}
	for _, t := range tr.tenants {
		t.fill(t0)
	}
	return g, tr.tenants[0], tl
}

func TestAnEmptyPrimaryFallsBackWithoutACall(t *testing.T) {
	s := twoGroups(1, scenarios.Gateway{})
	g, app, tl := newTestGateway(s, scripted{})
	g.admit(t0, app) // takes primary's one token
	g.admit(t0.Add(time.Second), app)
	if got := tl.kinds(); got != "admitted attempt admitted skipped fell_back attempt" {
		t.Fatalf("events %q", got)
	}
	if skip := tl.events[3]; skip.Deployment != "primary" || skip.Reason != SkipBudget {
		t.Fatalf("skip %+v", skip)
	}
	if ans := tl.items[1]; ans.kind != answer || ans.req.dep.spec.Name != "spare" || !ans.at.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("second answer scheduled %+v; want spare's at 2s", ans)
	}
}

func TestAThrottleIsRetriedAfterBackoffThenFallsBack(t *testing.T) {
	s := twoGroups(scenarios.Unlimited, scenarios.Gateway{Retries: 1, Backoff: 2 * time.Second, MaxBackoff: time.Minute})
	throttle := Reply{Code: wire.ThrottlingException, Latency: 100 * time.Millisecond}
	g, app, tl := newTestGateway(s, scripted{"primary": {throttle, throttle}})
	g.admit(t0, app)
	first := tl.items[0]
	g.answer(first.at, first.req) // throttled at 0.1s: retry at 2.1s
	retryAt := tl.items[1]
	if retryAt.kind != retry || !retryAt.at.Equal(t0.Add(2100*time.Millisecond)) {
		t.Fatalf("retry scheduled %+v; want at 2.1s", retryAt)
	}
	g.retry(retryAt.at, retryAt.req)
	second := tl.items[2]
	g.answer(second.at, second.req) // throttled again: retries used up, fall back
	if got := tl.kinds(); got != "admitted attempt throttled retry_scheduled attempt throttled fell_back attempt" {
		t.Fatalf("events %q", got)
	}
	final := tl.items[3]
	g.answer(final.at, final.req)
	last := tl.events[len(tl.events)-1]
	if last.Kind != Succeeded || last.Deployment != "spare" || !last.Fallback || last.Latency != 3200*time.Millisecond {
		t.Fatalf("final %+v; want success on spare after 3.2s", last)
	}
}

func TestTheGatewayTimeoutFailsARequestStillWaiting(t *testing.T) {
	s := twoGroups(scenarios.Unlimited, scenarios.Gateway{Timeout: 5 * time.Second})
	g, app, tl := newTestGateway(s, scripted{"primary": {{Latency: 9 * time.Second}}})
	g.admit(t0, app)
	var deadlineAt item
	for _, it := range tl.items {
		if it.kind == deadline {
			deadlineAt = it
		}
	}
	g.timeout(deadlineAt.at, deadlineAt.req)
	g.answer(t0.Add(9*time.Second), deadlineAt.req) // too late: ignored
	last := tl.events[len(tl.events)-1]
	if last.Kind != Failed || last.Code != CodeGatewayTimeout || last.At != 5*time.Second || !g.idle() {
		t.Fatalf("after the deadline: %+v (idle %v)", last, g.idle())
	}
}

func TestACircuitOpensAndTheNextPickAfterItsTimeProbes(t *testing.T) {
	s := twoGroups(scenarios.Unlimited, scenarios.Gateway{BreakerFailures: 1, BreakerOpenFor: 10 * time.Second})
	s.FallbackOn = append(s.FallbackOn, scenarios.ClassServerError)
	boom := Reply{Code: wire.InternalServerException, Latency: time.Second}
	g, app, tl := newTestGateway(s, scripted{"primary": {boom}})
	g.admit(t0, app)
	g.answer(tl.items[0].at, tl.items[0].req) // fails at 1s: open until 11s, fall back to spare
	primary := g.deployments[0]
	if state, until := primary.health.At(t0.Add(5 * time.Second)); state != "open" || !until.Equal(t0.Add(11*time.Second)) {
		t.Fatalf("after the failure: %q until %v", state, until)
	}
	g.admit(t0.Add(5*time.Second), app) // still open: skipped
	if ev := tl.events[len(tl.events)-3]; ev.Kind != Skipped || ev.Reason != SkipCircuitOpen {
		t.Fatalf("during the open time: %+v", ev)
	}
	tl.events = nil
	g.admit(t0.Add(30*time.Second), app) // long after: half-open at this pick, and this request is the probe
	if got := tl.kinds(); got != "health_changed admitted attempt" && got != "admitted health_changed attempt" {
		t.Fatalf("events %q; want the half-open change and the probe", got)
	}
	if state, _ := primary.health.At(t0.Add(30 * time.Second)); state != "half-open" || !primary.health.Probing() {
		t.Fatalf("at the probe: %q, probing %v", state, primary.health.Probing())
	}
}

// Only the probe's own timeout reopens a half-open circuit: a request sent
// before the circuit opened that times out meanwhile is not the probe.
func TestAnOlderRequestTimingOutIsNotTheProbe(t *testing.T) {
	s := twoGroups(scenarios.Unlimited, scenarios.Gateway{BreakerFailures: 1, BreakerOpenFor: 10 * time.Second, Timeout: 30 * time.Second})
	s.Tenants[0].Group = "backup" // the chain is spare alone
	s.Groups[1].Deployments = []string{"primary"}
	boom := Reply{Code: wire.InternalServerException, Latency: time.Second}
	g, app, tl := newTestGateway(s, scripted{"primary": {{Latency: 100 * time.Second}, boom, {Latency: 50 * time.Second}}})
	g.admit(t0, app) // A: answers at 100 s, times out at 30 s
	g.admit(t0, app) // B: fails at 1 s, opening the circuit until 11 s
	var a, b item
	for _, it := range tl.items {
		switch {
		case it.kind == answer && it.req.id == 1:
			a = it
		case it.kind == answer && it.req.id == 2:
			b = it
		}
	}
	g.answer(b.at, b.req)
	g.admit(t0.Add(20*time.Second), app) // C: half-open, and the probe
	primary := g.deployments[0]
	if state, _ := primary.health.At(t0.Add(20 * time.Second)); state != "half-open" || !primary.health.Probing() {
		t.Fatalf("at C: %q, probing %v", state, primary.health.Probing())
	}
	g.timeout(t0.Add(30*time.Second), a.req)
	if state, _ := primary.health.At(t0.Add(30 * time.Second)); state != "half-open" {
		t.Fatalf("after A timed out: %q; want still half-open, waiting for C's probe", state)
	}
}
