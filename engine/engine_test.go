package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/record"
	"spillway/scenarios"
)

var unpaced = math.Inf(1)

func builtin(t testing.TB) *scenarios.File { return load(t, "../scenarios.toml") }

func load(t testing.TB, path string) *scenarios.File {
	t.Helper()
	f, err := scenarios.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func parse(t testing.TB, src string) *scenarios.File {
	t.Helper()
	f, err := scenarios.Parse("test.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// events collects every event of a run.
type events struct {
	mu  sync.Mutex
	all []engine.Event
}

func (c *events) Handle(ev engine.Event) {
	c.mu.Lock()
	c.all = append(c.all, ev)
	c.mu.Unlock()
}

func (c *events) of(k engine.Kind) []engine.Event {
	var out []engine.Event
	for _, ev := range c.all {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

type run struct {
	engine *engine.Engine
	events *events
	rec    *record.Recorder
}

// newRun wires a run of scenario name on the simulated fleet.
func newRun(t testing.TB, f *scenarios.File, name string, opts engine.Options) run {
	t.Helper()
	s, err := f.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)
	if opts.Backend == nil {
		sim := engine.NewSimulated(s, f.Models, opts.Seed, epoch)
		opts.Backend, opts.Logs, opts.Faults = sim, sim, sim
	}
	if opts.Speed == 0 {
		opts.Speed = unpaced
	}
	if opts.Clock == nil {
		opts.Clock = &fakeClock{now: epoch}
	}
	e, err := engine.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := run{engine: e, events: &events{}, rec: record.New(record.Meta{Backend: "simulated"})}
	e.Subscribe(r.events)
	e.Subscribe(r.rec)
	return r
}

func (r run) do(t testing.TB) record.Summary {
	t.Helper()
	if err := r.engine.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r.rec.Summary()
}

// fakeClock advances by exactly what the engine waits for, so a paced run
// takes no wall time and the time it would have taken can be read off.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

// The seed's table: each built-in pattern lands on the split AWS's demos report.

func TestFallbackSplitsThreeAndSeven(t *testing.T) {
	sum := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42}).do(t)
	if sum.Succeeded != 10 || sum.ByDeployment["primary"] != 3 || sum.ByDeployment["fallback"] != 7 || sum.FellBack != 7 {
		t.Fatalf("fallback: succeeded %d, primary %d, fallback %d, fell back %d; want 10, 3, 7, 7",
			sum.Succeeded, sum.ByDeployment["primary"], sum.ByDeployment["fallback"], sum.FellBack)
	}
}

func TestLoadBalancingSplitsThreeThreeFour(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		sum := newRun(t, builtin(t), "load-balancing", engine.Options{Seed: seed}).do(t)
		got := [3]int{sum.ByDeployment["primary-a"], sum.ByDeployment["primary-b"], sum.ByDeployment["fallback"]}
		if sum.Succeeded != 10 || got != [3]int{3, 3, 4} {
			t.Fatalf("seed %d: succeeded %d, split %v; want 10 and [3 3 4]", seed, sum.Succeeded, got)
		}
	}
}

func TestQuotaIsolationCapsOnlyTheNoisyTenant(t *testing.T) {
	sum := newRun(t, builtin(t), "quota-isolation", engine.Options{Seed: 42}).do(t)
	a, b, c := sum.ByTenant["A"], sum.ByTenant["B"], sum.ByTenant["C"]
	if a.Requests != 5 || a.Succeeded != 3 || a.RateLimited != 2 || a.SuccessRate != 60 {
		t.Fatalf("tenant A: %+v; want 5 requests, 3 succeeded, 2 rate limited, 60%%", *a)
	}
	for name, x := range map[string]*record.TenantSummary{"B": b, "C": c} {
		if x.Requests != 5 || x.Succeeded != 5 {
			t.Fatalf("tenant %s: %+v; want 5/5", name, *x)
		}
	}
}

func TestCRISSpreadsOverTheUSRegions(t *testing.T) {
	sum := newRun(t, builtin(t), "cris", engine.Options{Seed: 42}).do(t)
	regions := sum.Regions["default"]
	total := 0
	for r, n := range regions {
		if r != "us-east-1" && r != "us-east-2" && r != "us-west-2" {
			t.Fatalf("landed in %s, outside the us geography", r)
		}
		total += n
	}
	if sum.Succeeded != 10 || total != 10 || len(regions) < 2 {
		t.Fatalf("cris: succeeded %d, regions %v; want 10 over at least two Regions", sum.Succeeded, regions)
	}
}

func TestAccountShardingRoundRobinsOddToAccount1(t *testing.T) {
	r := newRun(t, builtin(t), "account-sharding", engine.Options{Seed: 42})
	sum := r.do(t)
	for _, name := range []string{"account1", "account2"} {
		a := sum.ByAccount[name]
		n := 0
		for _, c := range sum.Regions[name] {
			n += c
		}
		if a == nil || a.Succeeded != 10 || n != 10 {
			t.Fatalf("%s: %+v, regions %v; want 10 succeeded and 10 logged", name, a, sum.Regions[name])
		}
	}
	for _, ev := range r.events.of(engine.Attempt) {
		want := "account1"
		if ev.Request%2 == 0 {
			want = "account2"
		}
		if ev.Account != want {
			t.Fatalf("request %d went to %s, want %s (odd ids → account1)", ev.Request, ev.Account, want)
		}
	}
}

func TestSameSeedSameSummary(t *testing.T) {
	for _, name := range builtin(t).Names() {
		a := newRun(t, builtin(t), name, engine.Options{Seed: 7}).do(t)
		b := newRun(t, builtin(t), name, engine.Options{Seed: 7}).do(t)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: two runs with seed 7 differ:\n%+v\n%+v", name, a, b)
		}
	}
	// And the seed matters: the Region split moves with it.
	differ := false
	first := newRun(t, builtin(t), "cris", engine.Options{Seed: 1}).do(t)
	for seed := uint64(2); seed < 10 && !differ; seed++ {
		other := newRun(t, builtin(t), "cris", engine.Options{Seed: seed}).do(t)
		differ = !reflect.DeepEqual(first.Regions, other.Regions)
	}
	if !differ {
		t.Fatal("cris gave the same Region split for seeds 1–9; the seed does not reach the fleet")
	}
}

func TestPacedRunMatchesUnpacedAndTakesSimulatedOverSpeed(t *testing.T) {
	unpacedSum := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42}).do(t)
	for _, speed := range []float64{1, 20} {
		clock := &fakeClock{now: time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)}
		r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: speed, Clock: clock})
		start := clock.Now()
		sum := r.do(t)
		if !reflect.DeepEqual(sum, unpacedSum) {
			t.Fatalf("speed %v changed the outcome:\n%+v\n%+v", speed, sum, unpacedSum)
		}
		ended := r.events.of(engine.RunEnded)[0].At
		wall := clock.Now().Sub(start)
		want := time.Duration(float64(ended) / speed)
		if diff := wall - want; diff < -time.Millisecond || diff > time.Millisecond {
			t.Fatalf("speed %v: %v simulated took %v on the wall clock, want %v", speed, ended, wall, want)
		}
	}
}

func TestSlowestFallbackRequestTakesSeedLikeTime(t *testing.T) {
	// The seed's run: fallback requests finish 6–23 s after they were sent.
	sum := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42}).do(t)
	if max := sum.ByTenant["app"].Latency.Max; max < 6000 || max > 25000 {
		t.Fatalf("slowest request took %.0f ms, want 6–25 s", max)
	}
}

const twoGroups = `
[[scenario]]
name = "t"
title = "test"
limiter = "fixed-window"
  [[scenario.account]]
  name = "main"
  %QUOTA%
  [[scenario.account]]
  name = "spare"
  [[scenario.deployment]]
  name = "first"
  model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
  account = "main"
  rpm = %RPM%
  [[scenario.deployment]]
  name = "second"
  model = "anthropic.claude-3-5-sonnet-20241022-v2:0"
  account = "spare"
  rpm = "unlimited"
  [[scenario.group]]
  name = "g1"
  deployments = ["first"]
  fallbacks = ["g2"]
  [[scenario.group]]
  name = "g2"
  deployments = ["second"]
  [[scenario.tenant]]
  name = "app"
  rpm = "unlimited"
  requests = 5
`

func twoGroupFile(t *testing.T, rpm, quota string) *scenarios.File {
	src := strings.ReplaceAll(strings.ReplaceAll(twoGroups, "%RPM%", rpm), "%QUOTA%", quota)
	return parse(t, src)
}

func TestFallbackOnGatewayLimitSkipsWithoutCalling(t *testing.T) {
	r := newRun(t, twoGroupFile(t, "2", ""), "t", engine.Options{Seed: 1})
	sum := r.do(t)
	if sum.ByDeployment["first"] != 2 || sum.ByDeployment["second"] != 3 {
		t.Fatalf("split %v, want first 2, second 3", sum.ByDeployment)
	}
	if n := len(r.events.of(engine.Throttled)); n != 0 {
		t.Fatalf("%d throttles; a gateway limit must not reach the provider", n)
	}
	if n := len(r.events.of(engine.Skipped)); n != 3 {
		t.Fatalf("%d skips, want 3 (one per request past the limit)", n)
	}
	for _, a := range r.events.of(engine.Attempt) {
		if a.Deployment == "first" && a.Request > 2 {
			t.Fatalf("request %d called first past its limit", a.Request)
		}
	}
}

func TestFallbackOnProviderThrottle(t *testing.T) {
	// No gateway limit, but the account's service quota admits two calls.
	r := newRun(t, twoGroupFile(t, `"unlimited"`, "quota_rpm = 2"), "t", engine.Options{Seed: 1})
	sum := r.do(t)
	if sum.Succeeded != 5 || sum.ByDeployment["first"] != 2 || sum.ByDeployment["second"] != 3 {
		t.Fatalf("succeeded %d split %v, want 5 with first 2, second 3", sum.Succeeded, sum.ByDeployment)
	}
	throttled := r.events.of(engine.Throttled)
	if len(throttled) != 3 || throttled[0].Code != "ThrottlingException" {
		t.Fatalf("throttles: %+v; want 3 ThrottlingException", throttled)
	}
	// Each throttled request fell back and was answered by the second group.
	for _, th := range throttled {
		q := r.rec.Requests()[th.Request-1]
		if !q.Fallback || q.Deployment != "second" || len(q.Attempts) != 2 || q.Attempts[0].Outcome != record.OutcomeThrottled {
			t.Fatalf("request %d: %+v", th.Request, q)
		}
	}
}

func TestThrottleWithNowhereToGoFails(t *testing.T) {
	f := parse(t, `
[[scenario]]
name = "t"
title = "t"
  [[scenario.account]]
  name = "a"
  quota_rpm = 1
  [[scenario.deployment]]
  name = "only"
  model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = "unlimited"
  [[scenario.tenant]]
  name = "app"
  rpm = "unlimited"
  requests = 3
`)
	sum := newRun(t, f, "t", engine.Options{Seed: 1}).do(t)
	if sum.Succeeded != 1 || sum.Failed != 2 {
		t.Fatalf("succeeded %d failed %d, want 1 and 2", sum.Succeeded, sum.Failed)
	}
}

func TestFatalErrorDoesNotFallBack(t *testing.T) {
	// A us. profile called from an EU source Region is a ValidationException:
	// another group would not fix a bad request, so it fails where it is.
	src := strings.ReplaceAll(strings.ReplaceAll(twoGroups, "%RPM%", `"unlimited"`), "%QUOTA%", `region = "eu-west-1"`)
	src = strings.Replace(src, `model = "anthropic.claude-3-7-sonnet-20250219-v1:0"`, `model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"`, 1)
	r := newRun(t, parse(t, src), "t", engine.Options{Seed: 1})
	sum := r.do(t)
	if sum.Failed != 5 || sum.ByDeployment["second"] != 0 {
		t.Fatalf("failed %d, second served %d; want 5 and 0", sum.Failed, sum.ByDeployment["second"])
	}
	failed := r.events.of(engine.Failed)[0]
	if failed.Code != "ValidationException" || !strings.Contains(failed.Message, "eu-west-1") {
		t.Fatalf("failure %q %q; want a ValidationException naming the source Region", failed.Code, failed.Message)
	}
}

func TestTenantBucketRejectsWithoutFallback(t *testing.T) {
	src := strings.ReplaceAll(strings.ReplaceAll(twoGroups, "%RPM%", `"unlimited"`), "%QUOTA%", "")
	src = strings.Replace(src, "  rpm = \"unlimited\"\n  requests = 5", "  rpm = 2\n  requests = 5", 1)
	r := newRun(t, parse(t, src), "t", engine.Options{Seed: 1})
	sum := r.do(t)
	if sum.RateLimited != 3 || sum.Succeeded != 2 || sum.ByDeployment["second"] != 0 {
		t.Fatalf("rate limited %d, succeeded %d, second %d; want 3, 2, 0", sum.RateLimited, sum.Succeeded, sum.ByDeployment["second"])
	}
	for _, ev := range r.events.of(engine.RateLimited) {
		if ev.Bucket != "tenant/app" {
			t.Fatalf("rate limited by %q, want the tenant bucket", ev.Bucket)
		}
	}
	if n := len(r.events.of(engine.FellBack)); n != 0 {
		t.Fatalf("%d fallbacks; an empty tenant bucket must not fall back", n)
	}
}

func TestEveryGroupEmptyIsRateLimited(t *testing.T) {
	src := strings.ReplaceAll(strings.ReplaceAll(twoGroups, "%RPM%", "1"), "%QUOTA%", "")
	src = strings.Replace(src, `rpm = "unlimited"
  [[scenario.group]]`, `rpm = 1
  [[scenario.group]]`, 1)
	sum := newRun(t, parse(t, src), "t", engine.Options{Seed: 1}).do(t)
	if sum.Succeeded != 2 || sum.RateLimited != 3 {
		t.Fatalf("succeeded %d, rate limited %d; want 2 and 3", sum.Succeeded, sum.RateLimited)
	}
}

const shuffleFile = `
[[scenario]]
name = "t"
title = "t"
  [[scenario.account]]
  name = "a"
  quota_rpm = "unlimited"
  [[scenario.deployment]]
  name = "heavy"
  model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = "unlimited"
  weight = 3
  [[scenario.deployment]]
  name = "light"
  model = "anthropic.claude-3-5-sonnet-20241022-v2:0"
  rpm = "unlimited"
  weight = 1
  [[scenario.tenant]]
  name = "app"
  rpm = "unlimited"
  requests = 4000
`

func TestShuffleIsWeighted(t *testing.T) {
	sum := newRun(t, parse(t, shuffleFile), "t", engine.Options{Seed: 3}).do(t)
	heavy := sum.ByDeployment["heavy"]
	// Binomial(4000, 0.75): sd ≈ 27; ±5 sd.
	if heavy < 3000-137 || heavy > 3000+137 || heavy+sum.ByDeployment["light"] != 4000 {
		t.Fatalf("weights 3:1 over 4000 requests gave %v, want about 3000:1000", sum.ByDeployment)
	}
}

func TestShuffleWeighsByRPMWithoutWeights(t *testing.T) {
	src := strings.NewReplacer(`rpm = "unlimited"
  weight = 3`, `rpm = 300000`, `rpm = "unlimited"
  weight = 1`, `rpm = 100000`).Replace(shuffleFile)
	sum := newRun(t, parse(t, src), "t", engine.Options{Seed: 3}).do(t)
	if heavy := sum.ByDeployment["heavy"]; heavy < 3000-137 || heavy > 3000+137 {
		t.Fatalf("rpm 300000:100000 gave %v, want about 3000:1000", sum.ByDeployment)
	}
}

func TestSetRPMDuringRunTakesEffectOnNextAdmission(t *testing.T) {
	r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	r.engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Attempt && ev.Request == 3 {
			if err := r.engine.SetRPM("deployment/primary", 5); err != nil {
				t.Error(err)
			}
		}
	}))
	sum := r.do(t)
	if sum.ByDeployment["primary"] != 5 || sum.ByDeployment["fallback"] != 5 {
		t.Fatalf("after raising primary to 5 at request 3: split %v, want 5/5", sum.ByDeployment)
	}
	changes := r.events.of(engine.RPMChanged)
	if len(changes) != 1 || changes[0].Bucket != "deployment/primary" || changes[0].RPM != 5 {
		t.Fatalf("RPMChanged events: %+v", changes)
	}
	var level engine.BucketLevel
	for _, l := range r.engine.Buckets() {
		if l.ID == "deployment/primary" {
			level = l
		}
	}
	if level.RPM != 5 || level.Admitted != 5 {
		t.Fatalf("primary bucket after the run: %+v", level)
	}
}

func TestSetRPMRejectsNonsense(t *testing.T) {
	r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	if err := r.engine.SetRPM("deployment/nope", 3); err == nil || !strings.Contains(err.Error(), "deployment/primary") {
		t.Fatalf("unknown bucket: %v; want an error listing the buckets", err)
	}
	if err := r.engine.SetRPM("deployment/primary", 0); err == nil {
		t.Fatal("rpm 0 accepted")
	}
	// Before the run, it changes the starting limit.
	if err := r.engine.SetRPM("deployment/primary", 10); err != nil {
		t.Fatal(err)
	}
	if sum := r.do(t); sum.ByDeployment["primary"] != 10 {
		t.Fatalf("primary served %d after SetRPM(10) before the run, want 10", sum.ByDeployment["primary"])
	}
}

func TestInterruptCancelsInFlightAndKeepsTheRecord(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1,
		Clock: &fakeClock{now: time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)}})
	r.engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Succeeded {
			cancel() // Ctrl-C right after the first answer
		}
	}))
	if err := r.engine.Run(ctx); err != nil {
		t.Fatal(err)
	}
	sum := r.rec.Summary()
	if !r.rec.Interrupted() {
		t.Fatal("run not marked interrupted")
	}
	if sum.Succeeded != 1 || sum.Cancelled != 9 || sum.Requests != 10 {
		t.Fatalf("after interrupt: %+v; want 1 succeeded, 9 cancelled of 10 sent", sum)
	}
	polls := r.events.of(engine.RegionsPolled)
	if len(polls) == 0 || !polls[len(polls)-1].Regions.Final {
		t.Fatal("no final log poll after the interrupt")
	}
	last := r.events.all[len(r.events.all)-1]
	if last.Kind != engine.RunEnded || !last.Interrupted {
		t.Fatalf("last event %v, want an interrupted run_ended", last.Kind)
	}
}

func TestInterruptBeforeEverythingIsSentDropsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1,
		Clock: &fakeClock{now: time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)}})
	r.engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Attempt && ev.Request == 4 {
			cancel()
		}
	}))
	if err := r.engine.Run(ctx); err != nil {
		t.Fatal(err)
	}
	sum := r.rec.Summary()
	if sum.Requests != 4 || sum.Planned != 10 || sum.Cancelled != 4 {
		t.Fatalf("%+v; want 4 of 10 sent, all 4 cancelled", sum)
	}
}

func TestRunOnlyOnce(t *testing.T) {
	r := newRun(t, builtin(t), "cris", engine.Options{Seed: 1})
	r.do(t)
	if err := r.engine.Run(context.Background()); !errors.Is(err, engine.ErrAlreadyRun) {
		t.Fatalf("second Run: %v, want ErrAlreadyRun", err)
	}
}

func TestNewRejectsBadSpeed(t *testing.T) {
	s, _ := builtin(t).Lookup("cris")
	for _, speed := range []float64{0, -1, math.NaN()} {
		if _, err := engine.New(s, engine.Options{Speed: speed, Backend: blocking{}}); err == nil {
			t.Fatalf("speed %v accepted", speed)
		}
	}
}

// blocking is a network-style backend: it answers from the caller's
// goroutine after a moment, and knows nothing of Regions.
type blocking struct{ code string }

func (blocking) Instant() bool { return false }
func (b blocking) Invoke(ctx context.Context, _ time.Time, c engine.Call) engine.Reply {
	select {
	case <-time.After(time.Millisecond):
	case <-ctx.Done():
	}
	return engine.Reply{RequestID: "r", Code: b.code}
}

func TestBlockingBackendRunsConcurrently(t *testing.T) {
	r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1000, Clock: realClock{}, Backend: blocking{}})
	sum := r.do(t)
	if sum.Succeeded != 10 || sum.ByDeployment["primary"] != 3 || sum.ByDeployment["fallback"] != 7 {
		t.Fatalf("blocking backend: %+v", sum)
	}
	for _, ev := range r.events.of(engine.Succeeded) {
		if ev.Latency <= 0 {
			t.Fatalf("request %d: latency %v, want the measured simulated time", ev.Request, ev.Latency)
		}
	}
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// failingLogs is a LogSource whose queries always fail. It is not instant,
// so the engine reads it from a goroutine, as it does CloudWatch.
type failingLogs struct{}

func (failingLogs) Instant() bool { return false }

func (failingLogs) RegionCounts(context.Context, engine.LogQuery) ([]engine.RegionCount, error) {
	return nil, errors.New("ResourceNotFoundException: Log group 'x' does not exist")
}

// silentLogs never sees any record.
type silentLogs struct{}

func (silentLogs) Instant() bool { return true }

func (silentLogs) RegionCounts(context.Context, engine.LogQuery) ([]engine.RegionCount, error) {
	return nil, nil
}

func TestLogQueryErrorsEndUpOnTheHistogram(t *testing.T) {
	f := builtin(t)
	s, _ := f.Lookup("cris")
	sim := engine.NewSimulated(s, f.Models, 1, time.Now())
	r := newRun(t, f, "cris", engine.Options{Seed: 1, Backend: sim, Logs: failingLogs{}})
	sum := r.do(t)
	if sum.Succeeded != 10 || !strings.Contains(sum.Logs["default"].Error, "does not exist") {
		t.Fatalf("succeeded %d, log status %+v; want 10 and the query error", sum.Succeeded, sum.Logs["default"])
	}
}

func TestLogWaitGivesUpAfterTimeout(t *testing.T) {
	f := builtin(t)
	s, _ := f.Lookup("cris")
	sim := engine.NewSimulated(s, f.Models, 1, time.Now())
	r := newRun(t, f, "cris", engine.Options{Seed: 1, Backend: sim, Logs: silentLogs{}})
	sum := r.do(t)
	st := sum.Logs["default"]
	if !st.TimedOut || st.Unaccounted != 10 {
		t.Fatalf("log status %+v; want timed out with 10 unaccounted", st)
	}
	polls := r.events.of(engine.RegionsPolled)
	lastFinish := time.Duration(0)
	for _, ev := range r.events.all {
		if ev.Kind.Final() {
			lastFinish = ev.At
		}
	}
	if got := polls[len(polls)-1].At - lastFinish; got < s.Logs.Timeout || got > s.Logs.Timeout+s.Logs.PollEvery {
		t.Fatalf("gave up %v after the last request, want the %v timeout", got, s.Logs.Timeout)
	}
}

func TestHistogramFillsInAsLogsArrive(t *testing.T) {
	r := newRun(t, builtin(t), "cris", engine.Options{Seed: 42})
	r.do(t)
	polls := r.events.of(engine.RegionsPolled)
	if len(polls) < 2 {
		t.Fatalf("%d polls, want several while logs arrive", len(polls))
	}
	prev := -1
	for _, p := range polls {
		if p.Regions.Total() < prev {
			t.Fatalf("histogram shrank from %d to %d", prev, p.Regions.Total())
		}
		prev = p.Regions.Total()
	}
	first, last := polls[0].Regions, polls[len(polls)-1].Regions
	if first.Final || first.Unaccounted == 0 || !last.Final || last.Unaccounted != 0 || last.Total() != 10 {
		t.Fatalf("first poll %+v, last %+v; want a partial histogram first and a complete final one", *first, *last)
	}
}

// BenchmarkRun100k runs 100,000 requests against zero-latency models,
// unpaced, with the recorder attached: the engine's whole cost per request.
func BenchmarkRun100k(b *testing.B) {
	f := load(b, "testdata/bulk-100k.toml")
	b.ReportAllocs()
	for b.Loop() {
		s, _ := f.Lookup("bulk")
		sim := engine.NewSimulated(s, f.Models, 1, time.Now())
		e, err := engine.New(s, engine.Options{Seed: 1, Speed: unpaced, Backend: sim, Logs: sim})
		if err != nil {
			b.Fatal(err)
		}
		rec := record.New(record.Meta{})
		e.Subscribe(rec)
		if err := e.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		if sum := rec.Summary(); sum.Requests != 100_000 {
			b.Fatalf("%d requests", sum.Requests)
		}
	}
}

func TestFallbackOnIsConfigurablePerScenario(t *testing.T) {
	denied := `denied_models = ["anthropic.claude-3-7-sonnet-20250219-v1:0"]`
	// Default: model access is not something another group fixes.
	r := newRun(t, twoGroupFile(t, `"unlimited"`, denied), "t", engine.Options{Seed: 1})
	if sum := r.do(t); sum.Failed != 5 || sum.ByDeployment["second"] != 0 {
		t.Fatalf("default fallback_on: %+v; want 5 failed where they were", sum)
	}
	// With access-denied in fallback_on, each request moves on and succeeds.
	src := strings.ReplaceAll(strings.ReplaceAll(twoGroups, "%RPM%", `"unlimited"`), "%QUOTA%", denied)
	src = strings.Replace(src, "title = \"test\"\n", "title = \"test\"\nfallback_on = [\"throttled\", \"access-denied\"]\n", 1)
	r = newRun(t, parse(t, src), "t", engine.Options{Seed: 1})
	sum := r.do(t)
	if sum.Succeeded != 5 || sum.ByDeployment["second"] != 5 {
		t.Fatalf("fallback_on access-denied: %+v; want 5 served by second", sum)
	}
	errored := r.events.of(engine.Errored)
	if len(errored) != 5 || errored[0].Code != "AccessDeniedException" || len(r.events.of(engine.Throttled)) != 0 {
		t.Fatalf("errored events %+v; want 5 AccessDeniedException and no throttles", errored)
	}
	if q := r.rec.Requests()[0]; len(q.Attempts) != 2 || q.Attempts[0].Outcome != record.OutcomeFailed || q.Attempts[0].Error != "AccessDeniedException" {
		t.Fatalf("request 1 attempts %+v", q.Attempts)
	}
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// A pause freezes simulated time: the wall clock moves on, nothing is sent,
// buckets do not refill, and after resuming the run ends exactly as an
// unpaused one would.
func TestPauseFreezesSimulatedTime(t *testing.T) {
	epoch := time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)
	clock := &fakeClock{now: epoch}
	r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1, Clock: clock})
	checked := make(chan string, 1)
	r.engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		switch {
		case ev.Kind == engine.Attempt && ev.Request == 3:
			r.engine.SetPaused(true)
		case ev.Kind == engine.Paused:
			// The run's goroutine now waits for a resume; check from outside.
			go func() {
				before, seen := r.engine.Elapsed(), len(r.events.of(engine.Admitted))
				level := r.engine.Buckets()
				clock.advance(10 * time.Minute)
				var problem string
				if after := r.engine.Elapsed(); after != before {
					problem = fmt.Sprintf("elapsed moved from %v to %v while paused", before, after)
				}
				if now := len(r.events.of(engine.Admitted)); now != seen {
					problem = fmt.Sprintf("%d requests admitted while paused", now-seen)
				}
				if a, b := levelOf(level, "deployment/primary"), levelOf(r.engine.Buckets(), "deployment/primary"); a.Available != b.Available {
					problem = fmt.Sprintf("primary refilled while paused: %v → %v", a.Available, b.Available)
				}
				checked <- problem
				r.engine.SetPaused(false)
			}()
		}
	}))
	sum := r.do(t)
	if problem := <-checked; problem != "" {
		t.Fatal(problem)
	}
	if sum.ByDeployment["primary"] != 3 || sum.ByDeployment["fallback"] != 7 {
		t.Fatalf("split after a pause: %v, want the unpaused 3/7", sum.ByDeployment)
	}
	paused, resumed := r.events.of(engine.Paused), r.events.of(engine.Resumed)
	if len(paused) != 1 || len(resumed) != 1 || paused[0].At != resumed[0].At {
		t.Fatalf("pause events %+v, resume events %+v; want one each at the same simulated time", paused, resumed)
	}
	if c := r.rec.Controls(); len(c) != 2 || c[0].Kind != "paused" || c[1].Kind != "resumed" {
		t.Fatalf("recorded controls %+v", c)
	}
}

// Changing the speed changes how long the run takes on the wall clock, and
// nothing else.
func TestSetSpeedKeepsOutcomesAndShortensTheWait(t *testing.T) {
	epoch := time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)
	base := &fakeClock{now: epoch}
	baseRun := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1, Clock: base})
	want := baseRun.do(t)
	wallAtSpeed1 := base.Now().Sub(epoch)

	clock := &fakeClock{now: epoch}
	r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1, Clock: clock})
	r.engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Attempt && ev.Request == 3 {
			if err := r.engine.SetSpeed(10); err != nil {
				t.Error(err)
			}
		}
	}))
	sum := r.do(t)
	if !reflect.DeepEqual(sum.ByDeployment, want.ByDeployment) {
		t.Fatalf("split with a speed change %v, without %v", sum.ByDeployment, want.ByDeployment)
	}
	ch := r.events.of(engine.SpeedChanged)
	if len(ch) != 1 || ch[0].Speed != 10 {
		t.Fatalf("speed events %+v", ch)
	}
	// Applied when the engine next woke; the fake clock had already moved
	// to that moment, so the event's time is the wall time too.
	changedAt := ch[0].At
	wall := clock.Now().Sub(epoch)
	expect := changedAt + (wallAtSpeed1-changedAt)/10
	if d := wall - expect; d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("run took %v on the wall clock after going 10× at %v; want %v (speed 1 throughout: %v)", wall, changedAt, expect, wallAtSpeed1)
	}
	if err := r.engine.SetSpeed(0); err == nil {
		t.Fatal("speed 0 accepted")
	}
}

func levelOf(levels []engine.BucketLevel, id engine.BucketID) engine.BucketLevel {
	for _, l := range levels {
		if l.ID == id {
			return l
		}
	}
	return engine.BucketLevel{}
}

// Retuning after the run has ended still changes what the buckets report,
// which is what a re-run keeping tuned RPMs starts from; no event follows
// RunEnded.
func TestSetRPMAfterTheRunChangesTheReportedLimit(t *testing.T) {
	r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	r.do(t)
	if err := r.engine.SetRPM("deployment/primary", 7); err != nil {
		t.Fatal(err)
	}
	if l := levelOf(r.engine.Buckets(), "deployment/primary"); l.RPM != 7 {
		t.Fatalf("primary after retuning an ended run: %+v, want RPM 7", l)
	}
	all := r.events.all
	if last := all[len(all)-1]; last.Kind != engine.RunEnded {
		t.Fatalf("an event followed RunEnded: %+v", last)
	} else if got := r.engine.Elapsed(); got != last.At {
		t.Fatalf("Elapsed() = %v after the run, want it stopped at the end, %v", got, last.At)
	}
}

// steady is one tenant of the given arrival on an unlimited gateway.
func steady(arrival string, rate float64, duration string) string {
	return fmt.Sprintf(`
[[model]]
id = "m"
latency_p50 = "1s"
[[scenario]]
name = "t"
title = "t"
description = "t"
  [[scenario.account]]
  name = "default"
  quota_rpm = 1000000
  [[scenario.deployment]]
  name = "d"
  model = "m"
  rpm = "unlimited"
  [[scenario.tenant]]
  name = "app"
  rpm = "unlimited"
  arrival = %q
  rate = %g
  duration = %q
`, arrival, rate, duration)
}

// arrivalsPerMinute counts admissions in each whole minute of the run.
func arrivalsPerMinute(r run) []int {
	var per []int
	for _, ev := range r.events.of(engine.Admitted) {
		m := int(ev.At / time.Minute)
		for len(per) <= m {
			per = append(per, 0)
		}
		per[m]++
	}
	return per
}

func TestConstantArrivalsGiveTheRateEachMinute(t *testing.T) {
	for _, rate := range []float64{1, 7, 60, 600, 1000} {
		r := newRun(t, parse(t, steady("constant", rate, "10m")), "t", engine.Options{Seed: 42})
		sum := r.do(t)
		per := arrivalsPerMinute(r)
		if len(per) != 10 {
			t.Fatalf("rate %g: arrivals in %d minutes, want 10", rate, len(per))
		}
		for m, n := range per {
			if math.Abs(float64(n)-rate) > 1 {
				t.Fatalf("rate %g/min: minute %d had %d arrivals, want %g ± 1 (all: %v)", rate, m, n, rate, per)
			}
		}
		if want := scenarios.ConstantArrivals(rate, 10*time.Minute); sum.Requests != want || sum.Succeeded != want {
			t.Fatalf("rate %g: %d sent, %d succeeded; want %d", rate, sum.Requests, sum.Succeeded, want)
		}
	}
}

// A Poisson process of rate λ/min over T minutes sends N ~ Poisson(λT):
// for a fixed seed the count must sit within 4 standard deviations of λT,
// and the gaps' mean within 4 standard errors of 60/λ seconds.
func TestPoissonArrivalsHaveTheirMean(t *testing.T) {
	const rate, minutes = 120.0, 30.0
	for _, seed := range []uint64{1, 42, 7777} {
		r := newRun(t, parse(t, steady("poisson", rate, "30m")), "t", engine.Options{Seed: seed})
		sum := r.do(t)
		mean := rate * minutes
		if d := math.Abs(float64(sum.Requests) - mean); d > 4*math.Sqrt(mean) {
			t.Fatalf("seed %d: %d arrivals in %g min at %g/min, want %g ± %.0f", seed, sum.Requests, minutes, rate, mean, 4*math.Sqrt(mean))
		}
		adm := r.events.of(engine.Admitted)
		var gaps []float64
		for i := 1; i < len(adm); i++ {
			gaps = append(gaps, (adm[i].At - adm[i-1].At).Seconds())
		}
		var total float64
		for _, g := range gaps {
			total += g
		}
		gapMean, want := total/float64(len(gaps)), 60/rate
		// Exponential gaps: the standard deviation equals the mean.
		if se := want / math.Sqrt(float64(len(gaps))); math.Abs(gapMean-want) > 4*se {
			t.Fatalf("seed %d: mean gap %.4fs, want %.4fs ± %.4f", seed, gapMean, want, 4*se)
		}
		// Not a constant rate in disguise: gaps vary as exponential ones do.
		var sq float64
		for _, g := range gaps {
			sq += (g - gapMean) * (g - gapMean)
		}
		if sd := math.Sqrt(sq / float64(len(gaps))); sd < 0.8*want || sd > 1.2*want {
			t.Fatalf("seed %d: gap standard deviation %.4fs, want about %.4fs (exponential)", seed, sd, want)
		}
	}
	// The same seed gives the same arrivals.
	a := newRun(t, parse(t, steady("poisson", rate, "30m")), "t", engine.Options{Seed: 42}).do(t)
	b := newRun(t, parse(t, steady("poisson", rate, "30m")), "t", engine.Options{Seed: 42}).do(t)
	if a.Requests != b.Requests {
		t.Fatalf("seed 42 twice: %d then %d arrivals", a.Requests, b.Requests)
	}
}

// region-outage: no request fails, and us-east-2 serves nothing while it is
// down, then serves again.
func TestRegionOutageScenario(t *testing.T) {
	r := newRun(t, builtin(t), "region-outage", engine.Options{Seed: 42})
	sum := r.do(t)
	if sum.Requests != 90 || sum.Succeeded != 90 {
		t.Fatalf("%d of %d succeeded, want 90 of 90", sum.Succeeded, sum.Requests)
	}
	during, after := 0, 0
	for _, q := range r.rec.Requests() {
		for _, a := range q.Attempts {
			switch {
			case a.Region == "us-east-2" && a.StartMS >= 60000 && a.StartMS < 120000:
				during++
			case a.Region == "us-east-2" && a.StartMS >= 120000:
				after++
			}
		}
	}
	if during != 0 || after == 0 {
		t.Fatalf("us-east-2 served %d calls during its outage and %d after; want 0 and some", during, after)
	}
	started, ended := r.events.of(engine.FaultStarted), r.events.of(engine.FaultEnded)
	if len(started) != 1 || started[0].At != time.Minute || len(ended) != 1 || ended[0].At != 2*time.Minute {
		t.Fatalf("fault events: started %+v, ended %+v", started, ended)
	}
	if w := r.rec.Faults(); len(w) != 1 || w[0].Fault != "region-outage us-east-2" || w[0].StartMS != 60000 || w[0].EndMS != 120000 {
		t.Fatalf("recorded faults %+v", w)
	}
}

// quota-exhaustion: account1's cut throttles its calls, each falls back to
// account2, and every request succeeds.
func TestQuotaExhaustionScenario(t *testing.T) {
	r := newRun(t, builtin(t), "quota-exhaustion", engine.Options{Seed: 42})
	sum := r.do(t)
	if sum.Requests != 120 || sum.Succeeded != 120 {
		t.Fatalf("%d of %d succeeded, want 120 of 120", sum.Succeeded, sum.Requests)
	}
	throttled := r.events.of(engine.Throttled)
	if len(throttled) == 0 || sum.FellBack != len(throttled) {
		t.Fatalf("%d throttled attempts, %d fell back; want some, each falling back", len(throttled), sum.FellBack)
	}
	for _, ev := range throttled {
		if ev.Account != "account1" || ev.At < time.Minute {
			t.Fatalf("throttled %+v; want only account1, only after the cut at 60s", ev)
		}
	}
}

// A fault toggled live starts and stops where the engine is, and shows in
// the fleet's answers.
func TestLiveFaultToggle(t *testing.T) {
	r := newRun(t, parse(t, steady("constant", 60, "3m")), "t", engine.Options{Seed: 42})
	var id int
	// The toggles come from another goroutine, as the dashboard's do; the
	// run is paused meanwhile so that they land at a known request.
	toggle := func(change func()) {
		r.engine.SetPaused(true)
		go func() {
			change()
			r.engine.SetPaused(false)
		}()
	}
	r.engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind != engine.Admitted {
			return
		}
		switch ev.Request {
		case 60: // one minute in
			toggle(func() {
				var err error
				if id, err = r.engine.StartFault(scenarios.Fault{Kind: scenarios.ErrorInjection, Error: "InternalServerException", Rate: 1}); err != nil {
					t.Error(err)
				}
			})
		case 120:
			toggle(func() { r.engine.StopFault(id) })
		}
	}))
	sum := r.do(t)
	started, ended := r.events.of(engine.FaultStarted), r.events.of(engine.FaultEnded)
	if len(started) != 1 || !started[0].Fault.Live || len(ended) != 1 {
		t.Fatalf("live fault events: %+v / %+v", started, ended)
	}
	if started[0].At != time.Minute-time.Second || ended[0].At != 2*time.Minute-time.Second {
		t.Fatalf("live fault from %v to %v; want from request 60 (59s) to request 120 (1m59s)", started[0].At, ended[0].At)
	}
	// Requests 60–119 are sent while the fault is on.
	if sum.Failed != 60 || sum.Succeeded != 120 {
		t.Fatalf("with InternalServerException at rate 1 for one minute: %d failed, %d succeeded; want 60 and 120", sum.Failed, sum.Succeeded)
	}
	for _, ev := range r.events.of(engine.Failed) {
		if ev.Code != "InternalServerException" || ev.At < started[0].At {
			t.Fatalf("failure %+v outside the fault", ev)
		}
	}
}

// throttle-storm: every request succeeds, and the primary's cooldown shows
// as skips.
func TestThrottleStormScenario(t *testing.T) {
	r := newRun(t, builtin(t), "throttle-storm", engine.Options{Seed: 42})
	sum := r.do(t)
	if sum.Requests != 60 || sum.Succeeded != 60 {
		t.Fatalf("%d of %d succeeded, want 60 of 60", sum.Succeeded, sum.Requests)
	}
	cooldowns := healthEvents(r, engine.Cooling)
	skips := 0
	for _, ev := range r.events.of(engine.Skipped) {
		if ev.Reason == engine.SkipCooldown {
			skips++
		}
	}
	if len(cooldowns) == 0 || skips == 0 {
		t.Fatalf("%d cooldowns and %d cooldown skips; want both", len(cooldowns), skips)
	}
}

// badAndGood is a gateway whose only deployment in group "first", bad
// (model m), falls back to good (model n) in group "second". The caller
// adds scenario keys, the [scenario.gateway] table's lines, the tenant's
// load and the fault that makes bad bad.
func badAndGood(keys, gateway, load, fault string) string {
	return `
[[model]]
id = "m"
latency_p50 = "100ms"
[[model]]
id = "n"
latency_p50 = "100ms"
[[scenario]]
name = "t"
title = "t"
description = "t"
` + keys + `
  [scenario.gateway]
` + gateway + `
  [[scenario.account]]
  name = "default"
  quota_rpm = 100000
  [[scenario.deployment]]
  name = "bad"
  model = "m"
  rpm = "unlimited"
  [[scenario.deployment]]
  name = "good"
  model = "n"
  rpm = "unlimited"
  [[scenario.group]]
  name = "first"
  deployments = ["bad"]
  fallbacks = ["second"]
  [[scenario.group]]
  name = "second"
  deployments = ["good"]
  [[scenario.tenant]]
  name = "app"
  rpm = "unlimited"
` + load + `
  [[scenario.fault]]
  model = "m"
  rate = 1
` + fault + "\n"
}

// coolingFile: bad always answers InternalServerException, one request a
// second for a minute.
var coolingFile = badAndGood(`fallback_on = ["server-error"]`, `  allowed_fails = 2
  cooldown = "10s"`, `  arrival = "constant"
  rate = 60
  duration = "1m"`, `  kind = "errors"
  error = "InternalServerException"`)

// Cooldown: the second failure within a minute cools the deployment down
// for exactly the cooldown; it is skipped inside that window and tried
// again after it.
func TestCooldownEntryAndExit(t *testing.T) {
	r := newRun(t, parse(t, coolingFile), "t", engine.Options{Seed: 42})
	sum := r.do(t)
	if sum.Succeeded != 60 {
		t.Fatalf("%d of 60 succeeded; every one should fall back to good", sum.Succeeded)
	}
	cooldowns := healthEvents(r, engine.Cooling)
	if len(cooldowns) < 2 {
		t.Fatalf("%d cooldowns in a minute of failures with a 10 s cooldown; want several", len(cooldowns))
	}
	first := cooldowns[0]
	errored := r.events.of(engine.Errored)
	if len(errored) < 2 || first.At != errored[1].At || first.Until != first.At+10*time.Second {
		t.Fatalf("first cooldown %+v; want at the second failure (%v) until 10 s later", first, errored[1].At)
	}
	for _, ev := range r.events.of(engine.Attempt) {
		if ev.Deployment == "bad" && ev.At >= first.At && ev.At < first.Until {
			t.Fatalf("bad was tried at %v, inside its cooldown %v–%v", ev.At, first.At, first.Until)
		}
	}
	tried := false
	for _, ev := range r.events.of(engine.Attempt) {
		if ev.Deployment == "bad" && ev.At >= first.Until && ev.At < first.Until+time.Second {
			tried = true
		}
	}
	if !tried {
		t.Fatalf("bad was not tried again within a second after its cooldown ended at %v", first.Until)
	}
	skips := 0
	for _, ev := range r.events.of(engine.Skipped) {
		if ev.Reason == engine.SkipCooldown && ev.Deployment == "bad" {
			skips++
		}
	}
	if skips < 9 {
		t.Fatalf("%d cooldown skips of bad; a 10 s cooldown at 1 request/s should skip about 10 each time", skips)
	}
}

// noisy-neighbour: A's rate-limited count is its bucket arithmetic, a
// fixed window of 30 per minute against 120 a minute for two minutes; B and
// C are untouched.
func TestNoisyNeighbourScenario(t *testing.T) {
	r := newRun(t, builtin(t), "noisy-neighbour", engine.Options{Seed: 42})
	sum := r.do(t)
	const minutes, rateA, rpmA = 2, 120, 30
	a := sum.ByTenant["A"]
	if a.Requests != minutes*rateA || a.Succeeded != minutes*rpmA || a.RateLimited != minutes*(rateA-rpmA) {
		t.Fatalf("A: %+v; want %d sent, %d through, %d rate-limited", a, minutes*rateA, minutes*rpmA, minutes*(rateA-rpmA))
	}
	for _, name := range []string{"B", "C"} {
		if b := sum.ByTenant[name]; b.Requests != 20 || b.Succeeded != 20 || b.SuccessRate != 100 {
			t.Fatalf("%s: %+v; want 20 of 20, 100%%", name, b)
		}
	}
}

// retryFile: one request; bad always throttles.
func retryFile(gateway string) string {
	return badAndGood("", gateway, "  requests = 1", `  kind = "throttle"`)
}

// Retries wait Backoff × 2^n, capped at MaxBackoff, then fall back; each
// retry goes when its RetryScheduled event said.
func TestRetryBackoffTiming(t *testing.T) {
	r := newRun(t, parse(t, retryFile(`  retries = 3
  backoff = "1s"
  max_backoff = "3s"
  jitter = 0`)), "t", engine.Options{Seed: 42})
	sum := r.do(t)
	if sum.Succeeded != 1 || sum.FellBack != 1 {
		t.Fatalf("%+v; want the request to succeed on good after the retries", sum)
	}
	retries := r.events.of(engine.RetryScheduled)
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} // 1, 2, then 4 capped at 3
	if len(retries) != len(want) {
		t.Fatalf("%d retries, want %d: %+v", len(retries), len(want), retries)
	}
	attempts := r.events.of(engine.Attempt)
	for i, ev := range retries {
		if got := ev.Until - ev.At; got != want[i] {
			t.Fatalf("retry %d waits %v, want %v", i+1, got, want[i])
		}
		if next := attempts[i+1]; next.At != ev.Until || next.Deployment != "bad" {
			t.Fatalf("retry %d: next attempt %+v; want bad at %v", i+1, next, ev.Until)
		}
	}
	if last := attempts[len(attempts)-1]; last.Deployment != "good" || len(attempts) != 5 {
		t.Fatalf("attempts %+v; want bad ×4 then good", attempts)
	}
}

// Jitter takes up to its fraction off each wait, drawn from the seed.
func TestRetryJitterStaysInBounds(t *testing.T) {
	r := newRun(t, parse(t, retryFile(`  retries = 5
  backoff = "2s"
  max_backoff = "1m"
  jitter = 0.5`)), "t", engine.Options{Seed: 9})
	r.do(t)
	for i, ev := range r.events.of(engine.RetryScheduled) {
		nominal := 2 * time.Second << i
		if got := ev.Until - ev.At; got > nominal || got < nominal/2 {
			t.Fatalf("retry %d waits %v, want within [%v, %v]", i+1, got, nominal/2, nominal)
		}
	}
}

// A quota throttle carries Retry-After: the retry waits that long rather
// than the shorter backoff, and then succeeds.
func TestRetryAfterIsHonoured(t *testing.T) {
	src := strings.Replace(retryFile(`  retries = 1
  backoff = "1s"
  jitter = 0`), `  quota_rpm = 100000`, `  quota_rpm = 1`, 1)
	src = strings.Replace(src, "  requests = 1\n", "  requests = 2\n", 1)
	src = src[:strings.Index(src, "  [[scenario.fault]]")] // no storm: the quota does the throttling
	r := newRun(t, parse(t, src), "t", engine.Options{Seed: 42})
	sum := r.do(t)
	retries := r.events.of(engine.RetryScheduled)
	if len(retries) == 0 {
		t.Fatalf("no retry; summary %+v", sum)
	}
	ev := retries[0]
	wait := ev.Until - ev.At
	if wait < 10*time.Second || wait%time.Second != 0 || !strings.Contains(ev.Message, "Retry-After") {
		t.Fatalf("retry after a quota throttle waits %v (%q); want the provider's whole-second Retry-After, well over the 1 s backoff", wait, ev.Message)
	}
	if sum.Succeeded != 2 {
		t.Fatalf("%+v; both requests should get through, the second after waiting", sum)
	}
}

// The gateway timeout fails a request that has not been answered in time,
// retries included, and ignores the answer that comes later.
func TestGatewayTimeout(t *testing.T) {
	r := newRun(t, parse(t, retryFile(`  retries = 5
  backoff = "4s"
  jitter = 0
  timeout = "10s"`)), "t", engine.Options{Seed: 42})
	sum := r.do(t)
	if sum.Failed != 1 || sum.Succeeded != 0 {
		t.Fatalf("%+v; want the request failed by the timeout", sum)
	}
	failed := r.events.of(engine.Failed)
	if len(failed) != 1 || failed[0].Code != "GatewayTimeout" || failed[0].At != 10*time.Second {
		t.Fatalf("failure %+v; want GatewayTimeout at 10s", failed)
	}
	for _, ev := range r.events.of(engine.Attempt) {
		if ev.At > 10*time.Second {
			t.Fatalf("an attempt at %v, after the timeout", ev.At)
		}
	}
}

// healthEvents are the run's HealthChanged events to state.
func healthEvents(r run, state string) []engine.Event {
	var out []engine.Event
	for _, ev := range r.events.of(engine.HealthChanged) {
		if ev.Health == state {
			out = append(out, ev)
		}
	}
	return out
}

// The circuit breaker: three failures in a row open it; after open_for it
// is half-open and exactly one request probes it; a failed probe reopens
// it, and once the fault is over a probe succeeds and closes it.
func TestCircuitBreakerTransitions(t *testing.T) {
	src := strings.Replace(coolingFile, `  allowed_fails = 2
  cooldown = "10s"`, `  breaker_failures = 3
  breaker_open_for = "5s"`, 1)
	src = strings.Replace(src, `  error = "InternalServerException"`, `  error = "InternalServerException"
  duration = "20s"`, 1)
	r := newRun(t, parse(t, src), "t", engine.Options{Seed: 42})
	sum := r.do(t)
	if sum.Succeeded != 60 {
		t.Fatalf("%d of 60 succeeded; every one should be served, by bad or by good", sum.Succeeded)
	}
	var states []string
	changes := r.events.of(engine.HealthChanged)
	for _, ev := range changes {
		states = append(states, ev.Health)
	}
	want := []string{engine.Open, engine.HalfOpen, engine.Open, engine.HalfOpen, engine.Open, engine.HalfOpen, engine.Healthy}
	if !reflect.DeepEqual(states, want) {
		t.Fatalf("circuit went %q, want %q", states, want)
	}
	if first := changes[0]; first.Until != first.At+5*time.Second {
		t.Fatalf("opened at %v until %v; want open for 5s", first.At, first.Until)
	}
	// No attempt on bad while open; exactly one (the probe) per half-open.
	for i, ev := range changes {
		next := time.Duration(1 << 62)
		if i+1 < len(changes) {
			next = changes[i+1].At
		}
		n := 0
		for _, a := range r.events.of(engine.Attempt) {
			if a.Deployment == "bad" && a.At >= ev.At && a.At < next {
				n++
			}
		}
		switch ev.Health {
		case engine.Open:
			if n != 0 {
				t.Fatalf("%d attempts on bad while its circuit was open from %v", n, ev.At)
			}
		case engine.HalfOpen:
			if n != 1 {
				t.Fatalf("%d attempts on bad while half-open from %v; want the one probe", n, ev.At)
			}
		}
	}
}

// A tenant's rate changed live applies from its last arrival on.
func TestSetRateDuringRun(t *testing.T) {
	r := newRun(t, parse(t, steady("constant", 60, "4m")), "t", engine.Options{Seed: 42})
	r.engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Admitted && ev.Request == 60 { // at 59 s
			if err := r.engine.SetRate("tenant/app", 120); err != nil {
				t.Error(err)
			}
		}
	}))
	r.do(t)
	per := arrivalsPerMinute(r)
	// The next arrival after the change comes 0.5 s after the one at 59 s,
	// still inside the first minute.
	if len(per) != 4 || per[0] != 61 {
		t.Fatalf("arrivals per minute %v; want 61 in the first", per)
	}
	for m, n := range per[1:] {
		if n < 119 || n > 121 {
			t.Fatalf("minute %d had %d arrivals after the rate went to 120 (all: %v)", m+2, n, per)
		}
	}
	if ch := r.events.of(engine.RateChanged); len(ch) != 1 || ch[0].Rate != 120 || ch[0].Tenant != "app" {
		t.Fatalf("rate events %+v", ch)
	}
	if l := levelOf(r.engine.Buckets(), "tenant/app"); l.Rate != 120 {
		t.Fatalf("tenant level after the change: %+v", l)
	}
	burst := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	if err := burst.engine.SetRate("tenant/app", 10); err == nil || !strings.Contains(err.Error(), "burst") {
		t.Fatalf("retuning a burst tenant's rate: %v; want an error that says it sends a burst", err)
	}
}

// The clock readers see stops with the run: the dashboard's elapsed time
// and gauges stand still once it has ended.
func TestElapsedStopsWithTheRun(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)}
	r := newRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1, Clock: clock})
	r.do(t)
	end := r.events.of(engine.RunEnded)[0].At
	clock.advance(time.Hour)
	if got := r.engine.Elapsed(); got != end {
		t.Fatalf("an hour after the run: Elapsed() = %v, want %v", got, end)
	}
	before := levelOf(r.engine.Buckets(), "deployment/primary")
	clock.advance(time.Hour)
	if after := levelOf(r.engine.Buckets(), "deployment/primary"); after.Available != before.Available {
		t.Fatalf("primary refilled after the run: %v → %v", before.Available, after.Available)
	}
}

// pollCounter counts Region polls and keeps the last.
type pollCounter struct {
	n    int
	last *engine.RegionPoll
}

func (c *pollCounter) Handle(ev engine.Event) {
	if ev.Kind == engine.RegionsPolled {
		c.n++
		c.last = ev.Regions
	}
}

// A run whose logs never settle stops polling at scenarios.MaxLogPolls, even
// where the file's own check was bypassed: each poll is a StartQuery, and
// on real AWS a run must never query without end.
func TestLogPollsStopAtTheCap(t *testing.T) {
	f := parse(t, `
[[scenario]]
name = "x"
title = "t"
  [[scenario.account]]
  name = "a"
  [[scenario.deployment]]
  name = "d"
  model = "anthropic.claude-3-haiku-20240307-v1:0"
  rpm = 10
  [[scenario.tenant]]
  name = "app"
  rpm = 10
  requests = 1
  [scenario.logs]
  poll_every = "1s"
`)
	s := f.Scenarios[0]
	// What the file check would refuse: logs that never arrive, waited for
	// far beyond MaxLogPolls polls.
	s.Logs.Delay, s.Logs.Timeout = 10000*time.Hour, 10000*time.Hour
	polls := &pollCounter{}
	r := newRun(t, f, "x", engine.Options{})
	r.engine.Subscribe(polls)
	r.do(t)
	if polls.n != scenarios.MaxLogPolls || !polls.last.Final || !polls.last.TimedOut {
		t.Fatalf("%d polls, last %+v; want %d, the last final and timed out", polls.n, polls.last, scenarios.MaxLogPolls)
	}
}
