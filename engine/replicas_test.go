package engine_test

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/record"
	"spillway/engine/shared"
)

// fleetRun runs the built-in replicas scenario at seed 42 as three
// replicas, counting their limits on their own or together.
func fleetRun(t *testing.T, own bool, opts engine.Options) enginetest.Run {
	t.Helper()
	opts.Seed = 42
	opts.Replicas = &engine.Replicas{Count: 3, Own: own, Where: engine.InProcess}
	r := enginetest.NewRun(t, builtin(t), "replicas", opts)
	r.Do(t)
	return r
}

// servedBy is, per replica (from 1) and per minute of the run, how many
// attempts each deployment got.
func servedBy(r enginetest.Run) map[int]map[int]map[string]int {
	replicaOf := map[int]int{}
	out := map[int]map[int]map[string]int{}
	for _, ev := range r.Events.All() {
		switch ev.Kind {
		case engine.Admitted:
			replicaOf[ev.Request] = ev.Replica
		case engine.Attempt:
			rep, minute := replicaOf[ev.Request], int(ev.At/time.Minute)
			if out[rep] == nil {
				out[rep] = map[int]map[string]int{}
			}
			if out[rep][minute] == nil {
				out[rep][minute] = map[string]int{}
			}
			out[rep][minute][ev.Deployment]++
		}
	}
	return out
}

func fleetBucket(t *testing.T, f *record.Fleet, id string) record.FleetBucket {
	t.Helper()
	for _, b := range f.Buckets {
		if b.Bucket == id {
			return b
		}
	}
	t.Fatalf("the fleet summary has no %s: %+v", id, f)
	return record.FleetBucket{}
}

// Three replicas that each count their limits on their own let three
// times each limit through, every replica holding it; sharing them, the
// fleet holds it once. The same seed sends the same requests both ways.
func TestReplicasWithOwnLimitsLetThreeTimesThroughAndSharedOnesHold(t *testing.T) {
	own := fleetRun(t, true, engine.Options{})
	sharedRun := fleetRun(t, false, engine.Options{})
	ownSum, sharedSum := own.Record.Summary(), sharedRun.Record.Summary()
	if ownSum.Requests != sharedSum.Requests || ownSum.Requests != 191 {
		t.Fatalf("requests: own %d, shared %d; want the same 191 from the same seed", ownSum.Requests, sharedSum.Requests)
	}
	if got := ownSum.ByDeployment["primary"]; got != 90 {
		t.Errorf("own limits: primary served %d over three minutes; want 90 (10 RPM × 3 replicas × 3 minutes)", got)
	}
	if got := sharedSum.ByDeployment["primary"]; got != 30 {
		t.Errorf("shared limits: primary served %d over three minutes; want 30 (10 RPM × 3 minutes)", got)
	}
	for _, c := range []struct {
		sum               record.Summary
		limits            string
		primary, batch, x int
	}{{ownSum, "own", 30, 18, 3}, {sharedSum, "shared", 10, 6, 1}} {
		f := c.sum.Fleet
		if f == nil || f.Replicas != 3 || f.Limits != c.limits {
			t.Fatalf("%s: fleet summary %+v", c.limits, f)
		}
		p, b := fleetBucket(t, f, "deployment/primary"), fleetBucket(t, f, "tenant/batch")
		if p.BusiestMinute != c.primary || p.TimesLimit != float64(c.x) || b.BusiestMinute != c.batch || b.TimesLimit != float64(c.x) {
			t.Errorf("%s: primary %+v, batch %+v; want busiest minutes %d and %d, %d× the limit", c.limits, p, b, c.primary, c.batch, c.x)
		}
	}
	// Each replica held the limit on its own: at most 10 primary calls a
	// minute each, and with own limits each used all 10.
	for rep, minutes := range servedBy(own) {
		for minute, by := range minutes {
			if by["primary"] != 10 {
				t.Errorf("own limits: replica %d gave primary %d calls in minute %d; want its own 10", rep, by["primary"], minute)
			}
		}
	}
	// Each tenant's requests went to the replicas in turn.
	perReplica := map[string]map[int]int{}
	for _, ev := range own.Events.Of(engine.Admitted) {
		if perReplica[ev.Tenant] == nil {
			perReplica[ev.Tenant] = map[int]int{}
		}
		perReplica[ev.Tenant][ev.Replica]++
	}
	for tenant, counts := range perReplica {
		lo, hi := math.MaxInt, 0
		for rep := 1; rep <= 3; rep++ {
			lo, hi = min(lo, counts[rep]), max(hi, counts[rep])
		}
		if len(counts) != 3 || hi-lo > 1 {
			t.Errorf("tenant %s's requests by replica: %v; want them spread in turn over replicas 1–3", tenant, counts)
		}
	}
}

// A run as replicas is one simulation on one clock: the same seed gives
// the same summary at any speed, with either way of counting limits.
func TestReplicasRunTheSameAtAnySpeed(t *testing.T) {
	for _, own := range []bool{true, false} {
		unpaced := fleetRun(t, own, engine.Options{}).Record.Summary()
		clock := enginetest.NewClock(time.Date(2026, 12, 2, 9, 59, 37, 0, time.UTC)) // not on a minute
		paced := fleetRun(t, own, engine.Options{Speed: 20, Clock: clock}).Record.Summary()
		if !reflect.DeepEqual(unpaced, paced) {
			t.Fatalf("own %v: speed 20 changed the outcome:\n%+v\n%+v", own, paced, unpaced)
		}
	}
}

// The replicas' shared limits counted in a real Redis, on the run's
// clock, decide exactly as those counted in process.
func TestReplicasSharingARedisRunAsInProcess(t *testing.T) {
	srv := enginetest.StartRedis(t)
	inProcess := fleetRun(t, false, engine.Options{})
	store, err := shared.DialRedis(context.Background(), srv.URL(), "replicas-test", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := enginetest.NewRun(t, builtin(t), "replicas", engine.Options{Seed: 42, Replicas: &engine.Replicas{Count: 3, Where: "Redis",
		Store: func(clock func() time.Time) shared.Store { return store.WithClock(clock) }}})
	r.Do(t)
	a, b := inProcess.Record.Requests(), r.Record.Requests()
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("in Redis the requests went otherwise than in process (%d and %d requests)", len(b), len(a))
	}
	if got := r.Record.Summary().ByDeployment["primary"]; got != 30 {
		t.Fatalf("primary served %d with the limits in Redis; want 30", got)
	}
}

// alwaysThrottled is an instant backend whose primary always throttles.
type alwaysThrottled struct{}

func (alwaysThrottled) Instant() bool { return true }
func (alwaysThrottled) Invoke(_ context.Context, _ time.Time, c engine.Call) engine.Reply {
	if c.Deployment == "primary" {
		return engine.Reply{Latency: 100 * time.Millisecond, Code: "ThrottlingException", Class: "throttled", Message: "Too many requests"}
	}
	return engine.Reply{Latency: time.Second, InputTokens: 10, OutputTokens: 10}
}

// cooldownFleet is the cooldown scenario the gateway's replicas share,
// with traffic of its own: twelve requests a second apart.
var cooldownFleet = strings.Replace(cooldownScenario, `arrival = "gateway"`, "requests = 12\n  stagger = \"1s\"", 1)

// Each replica has its own cooldowns: with own limits every replica pays
// the failures that cool the primary down; sharing them, one replica's
// cooldown holds the primary out of every replica's pick.
func TestEachReplicaCoolsDownOnItsOwnUnlessTheyShare(t *testing.T) {
	f := enginetest.Parse(t, cooldownFleet)
	if len(f.Scenarios[0].Tenants) != 1 || f.Scenarios[0].Tenants[0].Requests != 12 {
		t.Fatal("the cooldown scenario no longer has one gateway tenant to give traffic of its own")
	}
	throttles := map[bool]int{}
	for _, own := range []bool{true, false} {
		r := enginetest.NewRun(t, f, "cool", engine.Options{Seed: 1, Backend: alwaysThrottled{},
			Replicas: &engine.Replicas{Count: 3, Own: own, Where: engine.InProcess}})
		r.Do(t)
		cooled := map[int]bool{}
		for _, ev := range r.Events.Of(engine.HealthChanged) {
			if ev.Health == "cooldown" {
				cooled[ev.Replica] = true
			}
		}
		for _, ev := range r.Events.Of(engine.Throttled) {
			if ev.Deployment == "primary" {
				throttles[own]++
			}
		}
		want := map[int]bool{1: true, 2: true, 3: true}
		if !own {
			want = map[int]bool{1: true}
		}
		if !reflect.DeepEqual(cooled, want) {
			t.Errorf("own %v: replicas that cooled the primary down: %v; want %v", own, cooled, want)
		}
	}
	if throttles[true] != 3*throttles[false] || throttles[false] == 0 {
		t.Fatalf("throttled calls to the primary: %d with own limits, %d shared; want three times as many, one cooldown's worth per replica",
			throttles[true], throttles[false])
	}
}

// A paced run on the wall clock, with a screen asking for the state all
// the time (each ask moves the loop's time to the wall's, ahead of items
// still due), ends as the unpaced run does: the gauges are never read
// ahead of a request still to come, which turned a fixed window forward
// and, at the request, back, letting it count twice.
func TestAPacedRunWatchedAllTheTimeEndsAsTheUnpacedOne(t *testing.T) {
	if testing.Short() {
		t.Skip("paces a three-minute run on the wall clock")
	}
	for _, own := range []bool{false, true} {
		unpaced := fleetRun(t, own, engine.Options{}).Record.Summary()
		r := enginetest.NewRun(t, builtin(t), "replicas", engine.Options{Seed: 42, Speed: 100, Clock: realClock{},
			Replicas: &engine.Replicas{Count: 3, Own: own, Where: engine.InProcess}})
		done := make(chan struct{})
		go func() {
			for {
				select {
				case <-done:
					return
				default:
					r.Engine.Controls().Fresh(context.Background())
				}
			}
		}()
		r.Do(t)
		close(done)
		if paced := r.Record.Summary(); !reflect.DeepEqual(paced, unpaced) {
			t.Fatalf("own %v: watched at speed 100 the run went otherwise:\n%+v\n%+v", own, paced.Fleet, unpaced.Fleet)
		}
	}
}

// A TPM limit leaks with the replicas as a request limit does: counted on
// their own, three replicas use about three times the primary's 20,000
// tokens a minute; shared, no more than a token bucket's full bucket and
// a minute's refill, twice the limit.
func TestReplicasCountTokensAgainstTPMLimitsToo(t *testing.T) {
	times := map[bool]float64{}
	for _, own := range []bool{true, false} {
		r := enginetest.NewRun(t, builtin(t), "tpm-fallback", engine.Options{Seed: 42,
			Replicas: &engine.Replicas{Count: 3, Own: own, Where: engine.InProcess}})
		r.Do(t)
		b := fleetBucket(t, r.Record.Summary().Fleet, "deployment/primary/tpm")
		if b.Unit != "tokens" || b.Limit != 20000 {
			t.Fatalf("own %v: the primary's TPM limit in the fleet summary: %+v", own, b)
		}
		times[own] = b.TimesLimit
	}
	if times[true] < 2.5 || times[false] > 2 {
		t.Fatalf("the primary's busiest minute of tokens: %.1f× its TPM with own limits, %.1f× shared; want about 3× and at most 2×", times[true], times[false])
	}
}

// Replicas whose shared store goes down mid-run do what redis_failure
// says, as a gateway's do: open, each counts its own limits meanwhile
// (the fleet then lets more through, and the summary knows why); closed,
// each refuses.
func TestReplicasWhoseStoreGoesDownDoAsRedisFailureSays(t *testing.T) {
	for _, onFailure := range []string{"open", "closed"} {
		var store *flaky
		r := enginetest.NewRun(t, builtin(t), "replicas", engine.Options{Seed: 42, Replicas: &engine.Replicas{Count: 3, OnFailure: onFailure, Where: "Redis",
			Store: func(clock func() time.Time) shared.Store {
				store = &flaky{Store: shared.NewLocal(clock)}
				return store
			}}})
		r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
			if ev.At >= 90*time.Second {
				store.down.Store(true) // from the middle of the second minute on
			}
		}))
		sum := r.Do(t)
		if !sum.Fleet.StoreDown || len(r.Events.Of(engine.SharedLimitsChanged)) == 0 {
			t.Fatalf("%s: the store went down, and the record does not say so", onFailure)
		}
		unavailable := 0
		for _, ev := range r.Events.Of(engine.Failed) {
			if ev.Code == engine.CodeSharedUnavailable {
				unavailable++
			}
		}
		p := fleetBucket(t, sum.Fleet, "deployment/primary")
		switch onFailure {
		case "open":
			// The second minute: the shared 10 before the outage, then each
			// replica's own 10, which had counted nothing.
			if unavailable != 0 || p.BusiestMinute != 40 {
				t.Errorf("open: %d refused for the store, the primary's busiest minute %d; want none refused, and 40 (the shared 10, then each replica's own 10)", unavailable, p.BusiestMinute)
			}
		case "closed":
			if unavailable == 0 || p.BusiestMinute > 10 {
				t.Errorf("closed: %d refused for the store, the primary's busiest minute %d; want refusals, and never more than the shared 10", unavailable, p.BusiestMinute)
			}
		}
	}
}
