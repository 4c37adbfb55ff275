package engine_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/record"
	"spillway/scenarios"
)

var unpaced = enginetest.Unpaced

func builtin(t testing.TB) *scenarios.File { return enginetest.Load(t, "../scenarios.toml") }

// The seed's table: each built-in pattern lands on the split AWS's demos
// report, and each fault scenario on the outcome its description promises.

// tenantWant is what a row pins of one tenant.
type tenantWant struct {
	requests, succeeded, rateLimited int
	successRate                      float64
}

func TestBuiltInScenariosLandOnTheSeedSplits(t *testing.T) {
	// A zero count or rate in a row is not pinned; a map pins every name it
	// lists.
	for _, tc := range []struct {
		scenario string
		seeds    []uint64 // each lands on the outcome

		sent, succeeded, fellBack int                   // over the whole run
		byDeployment              map[string]int        // requests each deployment served
		byTenant                  map[string]tenantWant // each tenant's share
		byAccount                 map[string]int        // requests that succeeded in each account
		logged                    map[string]int        // Region-log records of each account
		check                     func(t *testing.T, sum record.Summary, r enginetest.Run)
	}{{
		scenario: "fallback", seeds: []uint64{42},
		succeeded: 10, fellBack: 7,
		byDeployment: map[string]int{"primary": 3, "fallback": 7},
	}, {
		scenario: "load-balancing", seeds: firstSeeds(20),
		succeeded:    10,
		byDeployment: map[string]int{"primary-a": 3, "primary-b": 3, "fallback": 4},
	}, {
		// quota-isolation caps only the noisy tenant.
		scenario: "quota-isolation", seeds: []uint64{42},
		byTenant: map[string]tenantWant{
			"A": {requests: 5, succeeded: 3, rateLimited: 2, successRate: 60},
			"B": {requests: 5, succeeded: 5},
			"C": {requests: 5, succeeded: 5},
		},
	}, {
		scenario: "cris", seeds: []uint64{42},
		succeeded: 10,
		logged:    map[string]int{"default": 10},
		check:     spreadOverTheUSRegions,
	}, {
		scenario: "account-sharding", seeds: []uint64{42},
		byAccount: map[string]int{"account1": 10, "account2": 10},
		logged:    map[string]int{"account1": 10, "account2": 10},
		check:     oddRequestsGoToAccount1,
	}, {
		scenario: "region-outage", seeds: []uint64{42},
		sent: 90, succeeded: 90,
		check: usEast2ServesNothingWhileDown,
	}, {
		scenario: "quota-exhaustion", seeds: []uint64{42},
		sent: 120, succeeded: 120,
		check: onlyAccount1ThrottlesAfterTheCut,
	}, {
		scenario: "throttle-storm", seeds: []uint64{42},
		sent: 60, succeeded: 60,
		check: thePrimaryCoolsDown,
	}, {
		// noisy-neighbour: A's rate-limited count is its bucket arithmetic, a
		// fixed window of 30 per minute against 120 a minute for two
		// minutes; B and C are untouched.
		scenario: "noisy-neighbour", seeds: []uint64{42},
		byTenant: map[string]tenantWant{
			"A": {requests: 2 * 120, succeeded: 2 * 30, rateLimited: 2 * (120 - 30)},
			"B": {requests: 20, succeeded: 20, successRate: 100},
			"C": {requests: 20, succeeded: 20, successRate: 100},
		},
	}} {
		t.Run(tc.scenario, func(t *testing.T) {
			for _, seed := range tc.seeds {
				r := enginetest.NewRun(t, builtin(t), tc.scenario, engine.Options{Seed: seed})
				sum := r.Do(t)
				if off(sum.Requests, tc.sent) || off(sum.Succeeded, tc.succeeded) || off(sum.FellBack, tc.fellBack) {
					t.Fatalf("seed %d: %d sent, %d succeeded, %d fell back; want %d, %d, %d (0: any)",
						seed, sum.Requests, sum.Succeeded, sum.FellBack, tc.sent, tc.succeeded, tc.fellBack)
				}
				for name, want := range tc.byDeployment {
					if sum.ByDeployment[name] != want {
						t.Fatalf("seed %d: split %v; want %v", seed, sum.ByDeployment, tc.byDeployment)
					}
				}
				for name, want := range tc.byTenant {
					x := sum.ByTenant[name]
					if x == nil {
						t.Fatalf("seed %d: no tenant %s in %v", seed, name, sum.ByTenant)
					}
					got := tenantWant{x.Requests, x.Succeeded, x.RateLimited, x.SuccessRate}
					if off(got.requests, want.requests) || off(got.succeeded, want.succeeded) ||
						off(got.rateLimited, want.rateLimited) || off(got.successRate, want.successRate) {
						t.Fatalf("seed %d: tenant %s: %+v; want %+v (0: any)", seed, name, got, want)
					}
				}
				for name, want := range tc.byAccount {
					got := 0 // an account that served nothing may be missing
					if a := sum.ByAccount[name]; a != nil {
						got = a.Succeeded
					}
					if got != want {
						t.Fatalf("seed %d: %d succeeded in account %s; want %d", seed, got, name, want)
					}
				}
				for name, want := range tc.logged {
					n := 0
					for _, c := range sum.Regions[name] {
						n += c
					}
					if n != want {
						t.Fatalf("seed %d: account %s logged in %v; want %d records", seed, name, sum.Regions[name], want)
					}
				}
				if tc.check != nil {
					tc.check(t, sum, r)
				}
			}
		})
	}
}

// off reports whether got misses want, where a zero want pins nothing.
func off[N int | float64](got, want N) bool { return want != 0 && got != want }

// firstSeeds is the seeds 0 to n-1.
func firstSeeds(n uint64) []uint64 {
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	return seeds
}

// cris: the requests land only in the us geography, in at least two
// Regions.
func spreadOverTheUSRegions(t *testing.T, sum record.Summary, _ enginetest.Run) {
	regions := sum.Regions["default"]
	for r := range regions {
		if r != "us-east-1" && r != "us-east-2" && r != "us-west-2" {
			t.Fatalf("landed in %s, outside the us geography", r)
		}
	}
	if len(regions) < 2 {
		t.Fatalf("cris: regions %v; want at least two Regions", regions)
	}
}

// account-sharding: round-robin sends odd request ids to account1.
func oddRequestsGoToAccount1(t *testing.T, _ record.Summary, r enginetest.Run) {
	for _, ev := range r.Events.Of(engine.Attempt) {
		want := "account1"
		if ev.Request%2 == 0 {
			want = "account2"
		}
		if ev.Account != want {
			t.Fatalf("request %d went to %s, want %s (odd ids → account1)", ev.Request, ev.Account, want)
		}
	}
}

// region-outage: us-east-2 serves nothing while it is down, from 60 s to
// 120 s, then serves again.
func usEast2ServesNothingWhileDown(t *testing.T, _ record.Summary, r enginetest.Run) {
	during, after := 0, 0
	for _, q := range r.Record.Requests() {
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
	started, ended := r.Events.Of(engine.FaultStarted), r.Events.Of(engine.FaultEnded)
	if len(started) != 1 || started[0].At != time.Minute || len(ended) != 1 || ended[0].At != 2*time.Minute {
		t.Fatalf("fault events: started %+v, ended %+v", started, ended)
	}
	if w := r.Record.Faults(); len(w) != 1 || w[0].Fault != "region-outage us-east-2" || w[0].StartMS != 60000 || w[0].EndMS != 120000 {
		t.Fatalf("recorded faults %+v", w)
	}
}

// quota-exhaustion: account1's cut at 60 s throttles its calls, and each
// throttled request falls back to account2.
func onlyAccount1ThrottlesAfterTheCut(t *testing.T, sum record.Summary, r enginetest.Run) {
	throttled := r.Events.Of(engine.Throttled)
	if len(throttled) == 0 || sum.FellBack != len(throttled) {
		t.Fatalf("%d throttled attempts, %d fell back; want some, each falling back", len(throttled), sum.FellBack)
	}
	for _, ev := range throttled {
		if ev.Account != "account1" || ev.At < time.Minute {
			t.Fatalf("throttled %+v; want only account1, only after the cut at 60s", ev)
		}
	}
}

// throttle-storm: the primary's cooldown shows as skips.
func thePrimaryCoolsDown(t *testing.T, _ record.Summary, r enginetest.Run) {
	cooldowns := healthEvents(r, engine.Cooling)
	skips := 0
	for _, ev := range r.Events.Of(engine.Skipped) {
		if ev.Reason == engine.SkipCooldown {
			skips++
		}
	}
	if len(cooldowns) == 0 || skips == 0 {
		t.Fatalf("%d cooldowns and %d cooldown skips; want both", len(cooldowns), skips)
	}
}

func TestSameSeedSameSummary(t *testing.T) {
	for _, name := range builtin(t).Names() {
		a := enginetest.NewRun(t, builtin(t), name, engine.Options{Seed: 7}).Do(t)
		b := enginetest.NewRun(t, builtin(t), name, engine.Options{Seed: 7}).Do(t)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: two runs with seed 7 differ:\n%+v\n%+v", name, a, b)
		}
	}
	// And the seed matters: the Region split moves with it.
	differ := false
	first := enginetest.NewRun(t, builtin(t), "cris", engine.Options{Seed: 1}).Do(t)
	for seed := uint64(2); seed < 10 && !differ; seed++ {
		other := enginetest.NewRun(t, builtin(t), "cris", engine.Options{Seed: seed}).Do(t)
		differ = !reflect.DeepEqual(first.Regions, other.Regions)
	}
	if !differ {
		t.Fatal("cris gave the same Region split for seeds 1–9; the seed does not reach the fleet")
	}
}

func TestPacedRunMatchesUnpacedAndTakesSimulatedOverSpeed(t *testing.T) {
	unpacedSum := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42}).Do(t)
	for _, speed := range []float64{1, 20} {
		clock := enginetest.NewClock(time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC))
		r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: speed, Clock: clock})
		start := clock.Now()
		sum := r.Do(t)
		if !reflect.DeepEqual(sum, unpacedSum) {
			t.Fatalf("speed %v changed the outcome:\n%+v\n%+v", speed, sum, unpacedSum)
		}
		ended := r.Events.Of(engine.RunEnded)[0].At
		wall := clock.Now().Sub(start)
		want := time.Duration(float64(ended) / speed)
		if diff := wall - want; diff < -time.Millisecond || diff > time.Millisecond {
			t.Fatalf("speed %v: %v simulated took %v on the wall clock, want %v", speed, ended, wall, want)
		}
	}
}

func TestSlowestFallbackRequestTakesSeedLikeTime(t *testing.T) {
	// The seed's run: fallback requests finish 6–23 s after they were sent.
	sum := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42}).Do(t)
	if max := sum.ByTenant["app"].Latency.Max; max < 6000 || max > 25000 {
		t.Fatalf("slowest request took %.0f ms, want 6–25 s", max)
	}
}

func TestFallbackOnGatewayLimitSkipsWithoutCalling(t *testing.T) {
	f := enginetest.Load(t, "testdata/fallback-on-gateway-limit.toml")
	r := enginetest.NewRun(t, f, "fallback-on-gateway-limit", engine.Options{Seed: 1})
	sum := r.Do(t)
	if sum.ByDeployment["first"] != 2 || sum.ByDeployment["second"] != 3 {
		t.Fatalf("split %v, want first 2, second 3", sum.ByDeployment)
	}
	if n := len(r.Events.Of(engine.Throttled)); n != 0 {
		t.Fatalf("%d throttles; a gateway limit must not reach the provider", n)
	}
	if n := len(r.Events.Of(engine.Skipped)); n != 3 {
		t.Fatalf("%d skips, want 3 (one per request past the limit)", n)
	}
	for _, a := range r.Events.Of(engine.Attempt) {
		if a.Deployment == "first" && a.Request > 2 {
			t.Fatalf("request %d called first past its limit", a.Request)
		}
	}
}

func TestFallbackOnProviderThrottle(t *testing.T) {
	// No gateway limit, but the account's service quota admits two calls.
	f := enginetest.Load(t, "testdata/fallback-on-throttle.toml")
	r := enginetest.NewRun(t, f, "fallback-on-throttle", engine.Options{Seed: 1})
	sum := r.Do(t)
	if sum.Succeeded != 5 || sum.ByDeployment["first"] != 2 || sum.ByDeployment["second"] != 3 {
		t.Fatalf("succeeded %d split %v, want 5 with first 2, second 3", sum.Succeeded, sum.ByDeployment)
	}
	throttled := r.Events.Of(engine.Throttled)
	if len(throttled) != 3 || throttled[0].Code != "ThrottlingException" {
		t.Fatalf("throttles: %+v; want 3 ThrottlingException", throttled)
	}
	// Each throttled request fell back and was answered by the second group.
	for _, th := range throttled {
		q := r.Record.Requests()[th.Request-1]
		if !q.Fallback || q.Deployment != "second" || len(q.Attempts) != 2 || q.Attempts[0].Outcome != record.OutcomeThrottled {
			t.Fatalf("request %d: %+v", th.Request, q)
		}
	}
}

func TestThrottleWithNowhereToGoFails(t *testing.T) {
	f := enginetest.Load(t, "testdata/throttle-with-nowhere-to-go.toml")
	sum := enginetest.NewRun(t, f, "throttle-with-nowhere-to-go", engine.Options{Seed: 1}).Do(t)
	if sum.Succeeded != 1 || sum.Failed != 2 {
		t.Fatalf("succeeded %d failed %d, want 1 and 2", sum.Succeeded, sum.Failed)
	}
}

func TestFatalErrorDoesNotFallBack(t *testing.T) {
	// A us. profile called from an EU source Region is a ValidationException:
	// another group would not fix a bad request, so it fails where it is.
	f := enginetest.Load(t, "testdata/us-profile-from-eu-region.toml")
	r := enginetest.NewRun(t, f, "us-profile-from-eu-region", engine.Options{Seed: 1})
	sum := r.Do(t)
	if sum.Failed != 5 || sum.ByDeployment["second"] != 0 {
		t.Fatalf("failed %d, second served %d; want 5 and 0", sum.Failed, sum.ByDeployment["second"])
	}
	failed := r.Events.Of(engine.Failed)[0]
	if failed.Code != "ValidationException" || !strings.Contains(failed.Message, "eu-west-1") {
		t.Fatalf("failure %q %q; want a ValidationException naming the source Region", failed.Code, failed.Message)
	}
}

func TestTenantBucketRejectsWithoutFallback(t *testing.T) {
	f := enginetest.Load(t, "testdata/tenant-bucket-runs-dry.toml")
	r := enginetest.NewRun(t, f, "tenant-bucket-runs-dry", engine.Options{Seed: 1})
	sum := r.Do(t)
	if sum.RateLimited != 3 || sum.Succeeded != 2 || sum.ByDeployment["second"] != 0 {
		t.Fatalf("rate limited %d, succeeded %d, second %d; want 3, 2, 0", sum.RateLimited, sum.Succeeded, sum.ByDeployment["second"])
	}
	for _, ev := range r.Events.Of(engine.RateLimited) {
		if ev.Bucket != "tenant/app" {
			t.Fatalf("rate limited by %q, want the tenant bucket", ev.Bucket)
		}
	}
	if n := len(r.Events.Of(engine.FellBack)); n != 0 {
		t.Fatalf("%d fallbacks; an empty tenant bucket must not fall back", n)
	}
}

func TestEveryGroupEmptyIsRateLimited(t *testing.T) {
	f := enginetest.Load(t, "testdata/every-group-empty.toml")
	sum := enginetest.NewRun(t, f, "every-group-empty", engine.Options{Seed: 1}).Do(t)
	if sum.Succeeded != 2 || sum.RateLimited != 3 {
		t.Fatalf("succeeded %d, rate limited %d; want 2 and 3", sum.Succeeded, sum.RateLimited)
	}
}

func TestShuffleIsWeighted(t *testing.T) {
	f := enginetest.Load(t, "testdata/shuffle-by-weight.toml")
	sum := enginetest.NewRun(t, f, "shuffle-by-weight", engine.Options{Seed: 3}).Do(t)
	heavy := sum.ByDeployment["heavy"]
	// Binomial(4000, 0.75): sd ≈ 27; ±5 sd.
	if heavy < 3000-137 || heavy > 3000+137 || heavy+sum.ByDeployment["light"] != 4000 {
		t.Fatalf("weights 3:1 over 4000 requests gave %v, want about 3000:1000", sum.ByDeployment)
	}
}

func TestShuffleWeighsByRPMWithoutWeights(t *testing.T) {
	f := enginetest.Load(t, "testdata/shuffle-by-rpm.toml")
	sum := enginetest.NewRun(t, f, "shuffle-by-rpm", engine.Options{Seed: 3}).Do(t)
	if heavy := sum.ByDeployment["heavy"]; heavy < 3000-137 || heavy > 3000+137 {
		t.Fatalf("rpm 300000:100000 gave %v, want about 3000:1000", sum.ByDeployment)
	}
}

func TestSetRPMDuringRunTakesEffectOnNextAdmission(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Attempt && ev.Request == 3 {
			if err := r.Engine.Controls().Send(engine.SetRPM{Bucket: "deployment/primary", RPM: 5}); err != nil {
				t.Error(err)
			}
		}
	}))
	sum := r.Do(t)
	if sum.ByDeployment["primary"] != 5 || sum.ByDeployment["fallback"] != 5 {
		t.Fatalf("after raising primary to 5 at request 3: split %v, want 5/5", sum.ByDeployment)
	}
	changes := r.Events.Of(engine.RPMChanged)
	if len(changes) != 1 || changes[0].Bucket != "deployment/primary" || changes[0].RPM != 5 {
		t.Fatalf("RPMChanged events: %+v", changes)
	}
	var level engine.BucketLevel
	for _, l := range r.Engine.Controls().Snapshot().Buckets {
		if l.ID == "deployment/primary" {
			level = l
		}
	}
	if level.RPM != 5 || level.Admitted != 5 {
		t.Fatalf("primary bucket after the run: %+v", level)
	}
}

func TestSetRPMRejectsNonsense(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	if err := r.Engine.Controls().Send(engine.SetRPM{Bucket: "deployment/nope", RPM: 3}); err == nil || !strings.Contains(err.Error(), "deployment/primary") {
		t.Fatalf("unknown bucket: %v; want an error listing the buckets", err)
	}
	if err := r.Engine.Controls().Send(engine.SetRPM{Bucket: "deployment/primary", RPM: 0}); err == nil {
		t.Fatal("rpm 0 accepted")
	}
	// Before the run, it applies as the run starts.
	if err := r.Engine.Controls().Send(engine.SetRPM{Bucket: "deployment/primary", RPM: 10}); err != nil {
		t.Fatal(err)
	}
	if sum := r.Do(t); sum.ByDeployment["primary"] != 10 {
		t.Fatalf("primary served %d after SetRPM(10) before the run, want 10", sum.ByDeployment["primary"])
	}
}

func TestInterruptCancelsInFlightAndKeepsTheRecord(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1,
		Clock: enginetest.NewClock(time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC))})
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Succeeded {
			cancel() // Ctrl-C right after the first answer
		}
	}))
	if err := r.Engine.Run(ctx); err != nil {
		t.Fatal(err)
	}
	sum := r.Record.Summary()
	if !r.Record.Interrupted() {
		t.Fatal("run not marked interrupted")
	}
	if sum.Succeeded != 1 || sum.Cancelled != 9 || sum.Requests != 10 {
		t.Fatalf("after interrupt: %+v; want 1 succeeded, 9 cancelled of 10 sent", sum)
	}
	polls := r.Events.Of(engine.RegionsPolled)
	if len(polls) == 0 || !polls[len(polls)-1].Regions.Final {
		t.Fatal("no final log poll after the interrupt")
	}
	last := r.Events.All()[len(r.Events.All())-1]
	if last.Kind != engine.RunEnded || !last.Interrupted {
		t.Fatalf("last event %v, want an interrupted run_ended", last.Kind)
	}
}

func TestInterruptBeforeEverythingIsSentDropsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1,
		Clock: enginetest.NewClock(time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC))})
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Attempt && ev.Request == 4 {
			cancel()
		}
	}))
	if err := r.Engine.Run(ctx); err != nil {
		t.Fatal(err)
	}
	sum := r.Record.Summary()
	if sum.Requests != 4 || sum.Planned != 10 || sum.Cancelled != 4 {
		t.Fatalf("%+v; want 4 of 10 sent, all 4 cancelled", sum)
	}
}

func TestRunOnlyOnce(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "cris", engine.Options{Seed: 1})
	r.Do(t)
	if err := r.Engine.Run(context.Background()); !errors.Is(err, engine.ErrAlreadyRun) {
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
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1000, Clock: realClock{}, Backend: blocking{}})
	sum := r.Do(t)
	if sum.Succeeded != 10 || sum.ByDeployment["primary"] != 3 || sum.ByDeployment["fallback"] != 7 {
		t.Fatalf("blocking backend: %+v", sum)
	}
	for _, ev := range r.Events.Of(engine.Succeeded) {
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
	sim := enginetest.NewSimulated(s, f.Models, 1, time.Now())
	r := enginetest.NewRun(t, f, "cris", engine.Options{Seed: 1, Backend: sim, Logs: failingLogs{}})
	sum := r.Do(t)
	if sum.Succeeded != 10 || !strings.Contains(sum.Logs["default"].Error, "does not exist") {
		t.Fatalf("succeeded %d, log status %+v; want 10 and the query error", sum.Succeeded, sum.Logs["default"])
	}
}

func TestLogWaitGivesUpAfterTimeout(t *testing.T) {
	f := builtin(t)
	s, _ := f.Lookup("cris")
	sim := enginetest.NewSimulated(s, f.Models, 1, time.Now())
	r := enginetest.NewRun(t, f, "cris", engine.Options{Seed: 1, Backend: sim, Logs: silentLogs{}})
	sum := r.Do(t)
	st := sum.Logs["default"]
	if !st.TimedOut || st.Unaccounted != 10 {
		t.Fatalf("log status %+v; want timed out with 10 unaccounted", st)
	}
	polls := r.Events.Of(engine.RegionsPolled)
	lastFinish := time.Duration(0)
	for _, ev := range r.Events.All() {
		if ev.Kind.Final() {
			lastFinish = ev.At
		}
	}
	if got := polls[len(polls)-1].At - lastFinish; got < s.Logs.Timeout || got > s.Logs.Timeout+s.Logs.PollEvery {
		t.Fatalf("gave up %v after the last request, want the %v timeout", got, s.Logs.Timeout)
	}
}

func TestHistogramFillsInAsLogsArrive(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "cris", engine.Options{Seed: 42})
	r.Do(t)
	polls := r.Events.Of(engine.RegionsPolled)
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
	f := enginetest.Load(b, "testdata/bulk-100k.toml")
	b.ReportAllocs()
	for b.Loop() {
		s, _ := f.Lookup("bulk")
		sim := enginetest.NewSimulated(s, f.Models, 1, time.Now())
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
	// Default: model access is not something another group fixes.
	f := enginetest.Load(t, "testdata/denied-model-fails-in-place.toml")
	r := enginetest.NewRun(t, f, "denied-model-fails-in-place", engine.Options{Seed: 1})
	if sum := r.Do(t); sum.Failed != 5 || sum.ByDeployment["second"] != 0 {
		t.Fatalf("default fallback_on: %+v; want 5 failed where they were", sum)
	}
	// With access-denied in fallback_on, each request moves on and succeeds.
	f = enginetest.Load(t, "testdata/denied-model-falls-back.toml")
	r = enginetest.NewRun(t, f, "denied-model-falls-back", engine.Options{Seed: 1})
	sum := r.Do(t)
	if sum.Succeeded != 5 || sum.ByDeployment["second"] != 5 {
		t.Fatalf("fallback_on access-denied: %+v; want 5 served by second", sum)
	}
	errored := r.Events.Of(engine.Errored)
	if len(errored) != 5 || errored[0].Code != "AccessDeniedException" || len(r.Events.Of(engine.Throttled)) != 0 {
		t.Fatalf("errored events %+v; want 5 AccessDeniedException and no throttles", errored)
	}
	if q := r.Record.Requests()[0]; len(q.Attempts) != 2 || q.Attempts[0].Outcome != record.OutcomeFailed || q.Attempts[0].Error != "AccessDeniedException" {
		t.Fatalf("request 1 attempts %+v", q.Attempts)
	}
}

// A pause freezes simulated time: the wall clock moves on, nothing is sent,
// buckets do not refill, and after resuming the run ends exactly as an
// unpaused one would.
func TestPauseFreezesSimulatedTime(t *testing.T) {
	epoch := time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)
	clock := enginetest.NewClock(epoch)
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1, Clock: clock})
	checked := make(chan string, 1)
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		switch {
		case ev.Kind == engine.Attempt && ev.Request == 3:
			r.Send(t, engine.SetPaused{Paused: true})
		case ev.Kind == engine.Paused:
			// The run's goroutine now waits for a resume; check from outside.
			go func() {
				fresh := func() engine.Snapshot {
					snap, err := r.Engine.Controls().Fresh(context.Background())
					if err != nil {
						t.Error(err)
					}
					return snap
				}
				first := fresh()
				before, seen := first.At, len(r.Events.Of(engine.Admitted))
				level := first.Buckets
				clock.Advance(10 * time.Minute)
				var problem string
				later := fresh()
				if after := later.At; after != before {
					problem = fmt.Sprintf("elapsed moved from %v to %v while paused", before, after)
				}
				if now := len(r.Events.Of(engine.Admitted)); now != seen {
					problem = fmt.Sprintf("%d requests admitted while paused", now-seen)
				}
				if a, b := levelOf(level, "deployment/primary"), levelOf(later.Buckets, "deployment/primary"); a.Available != b.Available {
					problem = fmt.Sprintf("primary refilled while paused: %v → %v", a.Available, b.Available)
				}
				checked <- problem
				r.Send(t, engine.SetPaused{Paused: false})
			}()
		}
	}))
	sum := r.Do(t)
	if problem := <-checked; problem != "" {
		t.Fatal(problem)
	}
	if sum.ByDeployment["primary"] != 3 || sum.ByDeployment["fallback"] != 7 {
		t.Fatalf("split after a pause: %v, want the unpaused 3/7", sum.ByDeployment)
	}
	paused, resumed := r.Events.Of(engine.Paused), r.Events.Of(engine.Resumed)
	if len(paused) != 1 || len(resumed) != 1 || paused[0].At != resumed[0].At {
		t.Fatalf("pause events %+v, resume events %+v; want one each at the same simulated time", paused, resumed)
	}
	if c := r.Record.Controls(); len(c) != 2 || c[0].Kind != "paused" || c[1].Kind != "resumed" {
		t.Fatalf("recorded controls %+v", c)
	}
}

// Changing the speed changes how long the run takes on the wall clock, and
// nothing else.
func TestSetSpeedKeepsOutcomesAndShortensTheWait(t *testing.T) {
	epoch := time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)
	base := enginetest.NewClock(epoch)
	baseRun := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1, Clock: base})
	want := baseRun.Do(t)
	wallAtSpeed1 := base.Now().Sub(epoch)

	clock := enginetest.NewClock(epoch)
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1, Clock: clock})
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Attempt && ev.Request == 3 {
			if err := r.Engine.Controls().Send(engine.SetSpeed{Speed: 10}); err != nil {
				t.Error(err)
			}
		}
	}))
	sum := r.Do(t)
	if !reflect.DeepEqual(sum.ByDeployment, want.ByDeployment) {
		t.Fatalf("split with a speed change %v, without %v", sum.ByDeployment, want.ByDeployment)
	}
	ch := r.Events.Of(engine.SpeedChanged)
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
	if err := r.Engine.Controls().Send(engine.SetSpeed{Speed: 0}); err == nil {
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
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	r.Do(t)
	if err := r.Engine.Controls().Send(engine.SetRPM{Bucket: "deployment/primary", RPM: 7}); err != nil {
		t.Fatal(err)
	}
	if l := levelOf(r.Engine.Controls().Snapshot().Buckets, "deployment/primary"); l.RPM != 7 {
		t.Fatalf("primary after retuning an ended run: %+v, want RPM 7", l)
	}
	all := r.Events.All()
	if last := all[len(all)-1]; last.Kind != engine.RunEnded {
		t.Fatalf("an event followed RunEnded: %+v", last)
	} else if got := r.Engine.Controls().Snapshot().At; got != last.At {
		t.Fatalf("Elapsed() = %v after the run, want it stopped at the end, %v", got, last.At)
	}
}

// arrivalsPerMinute counts admissions in each whole minute of the run.
func arrivalsPerMinute(r enginetest.Run) []int {
	var per []int
	for _, ev := range r.Events.Of(engine.Admitted) {
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
		f := enginetest.Load(t, "testdata/constant-arrivals.toml")
		f.Scenarios[0].Tenants[0].Rate = rate // in place of the file's 60 a minute
		r := enginetest.NewRun(t, f, "constant-arrivals", engine.Options{Seed: 42})
		sum := r.Do(t)
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
	poisson := func() *scenarios.File { return enginetest.Load(t, "testdata/poisson-arrivals.toml") }
	for _, seed := range []uint64{1, 42, 7777} {
		r := enginetest.NewRun(t, poisson(), "poisson-arrivals", engine.Options{Seed: seed})
		sum := r.Do(t)
		mean := rate * minutes
		if d := math.Abs(float64(sum.Requests) - mean); d > 4*math.Sqrt(mean) {
			t.Fatalf("seed %d: %d arrivals in %g min at %g/min, want %g ± %.0f", seed, sum.Requests, minutes, rate, mean, 4*math.Sqrt(mean))
		}
		adm := r.Events.Of(engine.Admitted)
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
	a := enginetest.NewRun(t, poisson(), "poisson-arrivals", engine.Options{Seed: 42}).Do(t)
	b := enginetest.NewRun(t, poisson(), "poisson-arrivals", engine.Options{Seed: 42}).Do(t)
	if a.Requests != b.Requests {
		t.Fatalf("seed 42 twice: %d then %d arrivals", a.Requests, b.Requests)
	}
}

// A fault toggled live starts and stops where the engine is, and shows in
// the fleet's answers.
func TestLiveFaultToggle(t *testing.T) {
	f := enginetest.Load(t, "testdata/steady-60rpm-3m.toml")
	r := enginetest.NewRun(t, f, "steady-60rpm-3m", engine.Options{Seed: 42})
	var id int
	// The toggles come from another goroutine, as the dashboard's do; the
	// run is paused meanwhile so that they land at a known request.
	toggle := func(change func()) {
		r.Send(t, engine.SetPaused{Paused: true})
		go func() {
			change()
			r.Send(t, engine.SetPaused{Paused: false})
		}()
	}
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind != engine.Admitted {
			return
		}
		switch ev.Request {
		case 60: // one minute in
			toggle(func() {
				r.Send(t, engine.StartFault{Fault: scenarios.Fault{Kind: scenarios.ErrorInjection, Error: "InternalServerException", Rate: 1}})
			})
		case 120:
			id = r.Events.Of(engine.FaultStarted)[0].Fault.ID
			toggle(func() { r.Send(t, engine.StopFault{ID: id}) })
		}
	}))
	sum := r.Do(t)
	started, ended := r.Events.Of(engine.FaultStarted), r.Events.Of(engine.FaultEnded)
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
	for _, ev := range r.Events.Of(engine.Failed) {
		if ev.Code != "InternalServerException" || ev.At < started[0].At {
			t.Fatalf("failure %+v outside the fault", ev)
		}
	}
}

// Cooldown: the second failure within a minute cools the deployment down
// for exactly the cooldown; it is skipped inside that window and tried
// again after it.
func TestCooldownEntryAndExit(t *testing.T) {
	f := enginetest.Load(t, "testdata/cooldown-after-two-fails.toml")
	r := enginetest.NewRun(t, f, "cooldown-after-two-fails", engine.Options{Seed: 42})
	sum := r.Do(t)
	if sum.Succeeded != 60 {
		t.Fatalf("%d of 60 succeeded; every one should fall back to good", sum.Succeeded)
	}
	cooldowns := healthEvents(r, engine.Cooling)
	if len(cooldowns) < 2 {
		t.Fatalf("%d cooldowns in a minute of failures with a 10 s cooldown; want several", len(cooldowns))
	}
	first := cooldowns[0]
	errored := r.Events.Of(engine.Errored)
	if len(errored) < 2 || first.At != errored[1].At || first.Until != first.At+10*time.Second {
		t.Fatalf("first cooldown %+v; want at the second failure (%v) until 10 s later", first, errored[1].At)
	}
	for _, ev := range r.Events.Of(engine.Attempt) {
		if ev.Deployment == "bad" && ev.At >= first.At && ev.At < first.Until {
			t.Fatalf("bad was tried at %v, inside its cooldown %v–%v", ev.At, first.At, first.Until)
		}
	}
	tried := false
	for _, ev := range r.Events.Of(engine.Attempt) {
		if ev.Deployment == "bad" && ev.At >= first.Until && ev.At < first.Until+time.Second {
			tried = true
		}
	}
	if !tried {
		t.Fatalf("bad was not tried again within a second after its cooldown ended at %v", first.Until)
	}
	skips := 0
	for _, ev := range r.Events.Of(engine.Skipped) {
		if ev.Reason == engine.SkipCooldown && ev.Deployment == "bad" {
			skips++
		}
	}
	if skips < 9 {
		t.Fatalf("%d cooldown skips of bad; a 10 s cooldown at 1 request/s should skip about 10 each time", skips)
	}
}

// Retries wait Backoff × 2^n, capped at MaxBackoff, then fall back; each
// retry goes when its RetryScheduled event said.
func TestRetryBackoffTiming(t *testing.T) {
	f := enginetest.Load(t, "testdata/retry-backoff-capped.toml")
	r := enginetest.NewRun(t, f, "retry-backoff-capped", engine.Options{Seed: 42})
	sum := r.Do(t)
	if sum.Succeeded != 1 || sum.FellBack != 1 {
		t.Fatalf("%+v; want the request to succeed on good after the retries", sum)
	}
	retries := r.Events.Of(engine.RetryScheduled)
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} // 1, 2, then 4 capped at 3
	if len(retries) != len(want) {
		t.Fatalf("%d retries, want %d: %+v", len(retries), len(want), retries)
	}
	attempts := r.Events.Of(engine.Attempt)
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
	f := enginetest.Load(t, "testdata/retry-jitter.toml")
	r := enginetest.NewRun(t, f, "retry-jitter", engine.Options{Seed: 9})
	r.Do(t)
	for i, ev := range r.Events.Of(engine.RetryScheduled) {
		nominal := 2 * time.Second << i
		if got := ev.Until - ev.At; got > nominal || got < nominal/2 {
			t.Fatalf("retry %d waits %v, want within [%v, %v]", i+1, got, nominal/2, nominal)
		}
	}
}

// A quota throttle carries Retry-After: the retry waits that long rather
// than the shorter backoff, and then succeeds.
func TestRetryAfterIsHonoured(t *testing.T) {
	// No storm: the quota does the throttling.
	f := enginetest.Load(t, "testdata/retry-after-quota-throttle.toml")
	r := enginetest.NewRun(t, f, "retry-after-quota-throttle", engine.Options{Seed: 42})
	sum := r.Do(t)
	retries := r.Events.Of(engine.RetryScheduled)
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
	f := enginetest.Load(t, "testdata/gateway-timeout.toml")
	r := enginetest.NewRun(t, f, "gateway-timeout", engine.Options{Seed: 42})
	sum := r.Do(t)
	if sum.Failed != 1 || sum.Succeeded != 0 {
		t.Fatalf("%+v; want the request failed by the timeout", sum)
	}
	failed := r.Events.Of(engine.Failed)
	if len(failed) != 1 || failed[0].Code != "GatewayTimeout" || failed[0].At != 10*time.Second {
		t.Fatalf("failure %+v; want GatewayTimeout at 10s", failed)
	}
	for _, ev := range r.Events.Of(engine.Attempt) {
		if ev.At > 10*time.Second {
			t.Fatalf("an attempt at %v, after the timeout", ev.At)
		}
	}
}

// healthEvents are the run's HealthChanged events to state.
func healthEvents(r enginetest.Run, state string) []engine.Event {
	var out []engine.Event
	for _, ev := range r.Events.Of(engine.HealthChanged) {
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
	f := enginetest.Load(t, "testdata/circuit-breaker.toml")
	r := enginetest.NewRun(t, f, "circuit-breaker", engine.Options{Seed: 42})
	sum := r.Do(t)
	if sum.Succeeded != 60 {
		t.Fatalf("%d of 60 succeeded; every one should be served, by bad or by good", sum.Succeeded)
	}
	var states []string
	changes := r.Events.Of(engine.HealthChanged)
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
		for _, a := range r.Events.Of(engine.Attempt) {
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
	f := enginetest.Load(t, "testdata/steady-60rpm-4m.toml")
	r := enginetest.NewRun(t, f, "steady-60rpm-4m", engine.Options{Seed: 42})
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Admitted && ev.Request == 60 { // at 59 s
			if err := r.Engine.Controls().Send(engine.SetRate{Bucket: "tenant/app", Rate: 120}); err != nil {
				t.Error(err)
			}
		}
	}))
	r.Do(t)
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
	if ch := r.Events.Of(engine.RateChanged); len(ch) != 1 || ch[0].Rate != 120 || ch[0].Tenant != "app" {
		t.Fatalf("rate events %+v", ch)
	}
	if l := levelOf(r.Engine.Controls().Snapshot().Buckets, "tenant/app"); l.Rate != 120 {
		t.Fatalf("tenant level after the change: %+v", l)
	}
	burst := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	if err := burst.Engine.Controls().Send(engine.SetRate{Bucket: "tenant/app", Rate: 10}); err == nil || !strings.Contains(err.Error(), "burst") {
		t.Fatalf("retuning a burst tenant's rate: %v; want an error that says it sends a burst", err)
	}
}

// The clock readers see stops with the run: the dashboard's elapsed time
// and gauges stand still once it has ended.
func TestElapsedStopsWithTheRun(t *testing.T) {
	clock := enginetest.NewClock(time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC))
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Speed: 1, Clock: clock})
	r.Do(t)
	end := r.Events.Of(engine.RunEnded)[0].At
	clock.Advance(time.Hour)
	if got := r.Engine.Controls().Snapshot().At; got != end {
		t.Fatalf("an hour after the run: Elapsed() = %v, want %v", got, end)
	}
	before := levelOf(r.Engine.Controls().Snapshot().Buckets, "deployment/primary")
	clock.Advance(time.Hour)
	if after := levelOf(r.Engine.Controls().Snapshot().Buckets, "deployment/primary"); after.Available != before.Available {
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
	f := enginetest.Load(t, "testdata/log-poll-every-second.toml")
	s := f.Scenarios[0]
	// What the file check would refuse: logs that never arrive, waited for
	// far beyond MaxLogPolls polls.
	s.Logs.Delay, s.Logs.Timeout = 10000*time.Hour, 10000*time.Hour
	polls := &pollCounter{}
	r := enginetest.NewRun(t, f, "log-poll-every-second", engine.Options{})
	r.Engine.Subscribe(polls)
	r.Do(t)
	if polls.n != scenarios.MaxLogPolls || !polls.last.Final || !polls.last.TimedOut {
		t.Fatalf("%d polls, last %+v; want %d, the last final and timed out", polls.n, polls.last, scenarios.MaxLogPolls)
	}
}
