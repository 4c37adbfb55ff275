package engine_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/scenarios"
)

// Controls are intents the loop applies in order, each to the state it has
// then, so quick presses of a relative key are never lost.

const primaryA engine.BucketID = "deployment/primary-a"

// rpmChanges are the RPMs the run's RPMChanged events report for id.
func rpmChanges(r enginetest.Run, id engine.BucketID) []float64 {
	var out []float64
	for _, ev := range r.Events.Of(engine.RPMChanged) {
		if ev.Bucket == id {
			out = append(out, float64(ev.RPM))
		}
	}
	return out
}

func TestTenRaisesInOneFrameGiveExactlyTen(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "tuning", engine.Options{Seed: 42, Speed: 10})
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Admitted && ev.Request == 5 {
			for range 10 {
				r.Send(t, engine.AdjustRPM{Bucket: primaryA, Delta: 1})
			}
		}
	}))
	r.Do(t)
	got := rpmChanges(r, primaryA)
	if len(got) != 10 || got[0] != 16 || got[9] != 25 {
		t.Fatalf("RPM changes %v; want 16, 17, … 25", got)
	}
	if l, _ := r.Engine.Controls().Snapshot().Bucket(primaryA); l.RPM != 25 {
		t.Fatalf("primary-a ends at %v RPM, want 25", l.RPM)
	}
	var recorded []float64
	for _, c := range r.Record.RPMChanges() {
		recorded = append(recorded, float64(c.RPM))
	}
	if len(recorded) != 10 || recorded[9] != 25 {
		t.Fatalf("rpm_changes %v; want the same ten", recorded)
	}
}

// The same from another goroutine, as the dashboard sends them, while the
// run goes on in real time.
func TestRaisesFromAnotherGoroutineAreAllApplied(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "tuning", engine.Options{Seed: 42, Speed: 10, Clock: realClock{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Engine.Run(ctx) }()
	shell := r.Engine.Controls()
	for range 10 {
		if err := shell.Send(engine.AdjustRPM{Bucket: primaryA, Delta: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		if err := shell.Send(engine.ScaleRate{Bucket: "tenant/web", Factor: 1.1}); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := shell.Fresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if l, _ := snap.Bucket(primaryA); l.RPM != 25 {
		t.Fatalf("primary-a at %v RPM after ten raises from 15, want 25", l.RPM)
	}
	if l, _ := snap.Bucket("tenant/web"); math.Abs(l.Rate-40*math.Pow(1.1, 5)) > 1e-9 {
		t.Fatalf("web at %v a minute after ×1.1 five times from 40, want %v", l.Rate, 40*math.Pow(1.1, 5))
	}
}

func TestRaisesWhilePausedAreAllApplied(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "tuning", engine.Options{Seed: 42, Speed: 10})
	checked := make(chan string, 1)
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		switch {
		case ev.Kind == engine.Admitted && ev.Request == 3:
			r.Send(t, engine.TogglePause{})
		case ev.Kind == engine.Paused:
			go func() {
				for range 6 {
					r.Send(t, engine.AdjustRPM{Bucket: primaryA, Delta: 1})
				}
				snap, err := r.Engine.Controls().Fresh(context.Background())
				switch l, _ := snap.Bucket(primaryA); {
				case err != nil:
					checked <- err.Error()
				case !snap.Paused || l.RPM != 21:
					checked <- "paused snapshot: paused " + map[bool]string{true: "yes", false: "no"}[snap.Paused] + ", primary-a at " + l.RPM.String() + " RPM; want paused at 21"
				default:
					checked <- ""
				}
				r.Send(t, engine.TogglePause{})
			}()
		}
	}))
	r.Do(t)
	if problem := <-checked; problem != "" {
		t.Fatal(problem)
	}
	if got := rpmChanges(r, primaryA); len(got) != 6 || got[5] != 21 {
		t.Fatalf("RPM changes %v; want six, to 21", got)
	}
}

func TestFiveRateStepsMultiplyByOnePointOneToTheFifth(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "tuning", engine.Options{Seed: 42, Speed: 10})
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Admitted && ev.Request == 2 {
			r.Send(t, engine.SetRate{Bucket: "tenant/web", Rate: 44})
			for range 5 {
				r.Send(t, engine.ScaleRate{Bucket: "tenant/web", Factor: 1.1})
			}
		}
	}))
	r.Do(t)
	changes := r.Events.Of(engine.RateChanged)
	want := 44 * math.Pow(1.1, 5)
	if len(changes) != 6 || math.Abs(changes[5].Rate-want) > 1e-9 {
		t.Fatalf("rate changes %+v; want 44 then five steps to %v", changes, want)
	}
	controls := r.Record.Controls()
	if len(controls) != 6 || controls[5].Kind != "rate_changed" || math.Abs(controls[5].Rate-want) > 1e-9 {
		t.Fatalf("recorded controls %+v", controls)
	}
}

func TestAControlThatCannotApplyIsRefusedWithAReason(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Admitted && ev.Request == 1 {
			r.Send(t, engine.AdjustRPM{Bucket: "deployment/primary", Delta: -10}) // 3 → 1
			r.Send(t, engine.AdjustRPM{Bucket: "deployment/primary", Delta: -1})  // already 1
			r.Send(t, engine.AdjustRPM{Bucket: "tenant/app", Delta: 1})           // unlimited
			r.Send(t, engine.StopFault{ID: 9})
		}
	}))
	r.Do(t)
	refused := r.Events.Of(engine.ControlRefused)
	if len(refused) != 3 ||
		!strings.Contains(refused[0].Message, "lowest") || refused[0].Bucket != "deployment/primary" ||
		!strings.Contains(refused[1].Message, "unlimited") ||
		!strings.Contains(refused[2].Message, "fault 9 is not in effect") {
		t.Fatalf("refusals %+v", refused)
	}
	if got := rpmChanges(r, "deployment/primary"); len(got) != 1 || got[0] != 1 {
		t.Fatalf("RPM changes %v; want one, to 1", got)
	}
	var kinds []string
	for _, c := range r.Record.Controls() {
		kinds = append(kinds, c.Kind+": "+c.Message)
	}
	if len(kinds) != 3 || !strings.HasPrefix(kinds[0], "control_refused: ") {
		t.Fatalf("recorded controls %q; want the three refusals", kinds)
	}
}

// Once the run is over a limit change still applies, to the limits a re-run
// keeps; anything else is refused, never dropped.
func TestAfterTheEndEveryControlIsAppliedOrRefused(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "tuning", engine.Options{Seed: 42})
	r.Do(t)
	shell := r.Engine.Controls()
	if err := shell.Send(engine.AdjustRPM{Bucket: primaryA, Delta: 1}); err != nil {
		t.Fatalf("raising a limit after the end: %v", err)
	}
	if l, _ := shell.Snapshot().Bucket(primaryA); l.RPM != 16 {
		t.Fatalf("primary-a after + on an ended run: %v RPM, want 16", l.RPM)
	}
	for _, in := range []engine.Intent{engine.TogglePause{}, engine.StepSpeed{Dir: 1},
		engine.ScaleRate{Bucket: "tenant/web", Factor: 1.1}, engine.StopFault{ID: 1}} {
		if err := shell.Send(in); !errors.Is(err, engine.ErrRunOver) {
			t.Errorf("%T after the end: %v, want ErrRunOver", in, err)
		}
	}
}

func TestControlsSentBeforeTheRunApplyAsItStarts(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	r.Send(t, engine.SetPaused{Paused: true})
	r.Send(t, engine.SetPaused{Paused: false})
	r.Send(t, engine.AdjustRPM{Bucket: "deployment/primary", Delta: 7})
	sum := r.Do(t)
	if sum.ByDeployment["primary"] != 10 {
		t.Fatalf("primary served %d with 10 RPM from the start, want all 10", sum.ByDeployment["primary"])
	}
	paused, resumed := r.Events.Of(engine.Paused), r.Events.Of(engine.Resumed)
	if len(paused) != 1 || len(resumed) != 1 || paused[0].At != 0 {
		t.Fatalf("pause %+v, resume %+v; want both at the start", paused, resumed)
	}
}

func TestEveryEventKindHasAnExportedName(t *testing.T) {
	seen := map[string]engine.Kind{}
	for k := engine.RunStarted; k <= engine.RunEnded; k++ {
		name := k.String()
		if name == "" || strings.HasPrefix(name, "kind(") {
			t.Errorf("kind %d has no name", k)
		}
		if other, dup := seen[name]; dup {
			t.Errorf("kinds %d and %d are both %q", other, k, name)
		}
		seen[name] = k
	}
}

func TestAFaultFromTheStartIsLoggedBeforeTheAttemptsItAffects(t *testing.T) {
	r := enginetest.NewRun(t, enginetest.Load(t, "testdata/fault-at-start.toml"), "outage-from-the-start", engine.Options{Seed: 42})
	r.Do(t)
	started, attempt := -1, -1
	for i, ev := range r.Events.All() {
		if ev.Kind == engine.FaultStarted && started < 0 {
			started = i
		}
		if ev.Kind == engine.Attempt && attempt < 0 {
			attempt = i
		}
	}
	if started < 0 || attempt < 0 || started > attempt {
		t.Fatalf("FaultStarted is event %d, the first attempt event %d; want the fault first", started, attempt)
	}
	for _, ev := range r.Events.Of(engine.Succeeded) {
		if ev.Region == "us-east-1" {
			t.Fatalf("request %d ran in us-east-1 during its outage", ev.Request)
		}
	}
}

// A rate lowered so far that the tenant's next request would come after
// its duration stops it; raised again while the duration lasts, it sends
// again.
func TestATenantStoppedByALowRateStartsAgainWhenRaised(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "tuning", engine.Options{Seed: 42})
	var loweredAt, raisedAt time.Duration
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind != engine.Admitted || ev.Tenant != "batch" {
			return
		}
		switch {
		case loweredAt == 0 && ev.At > time.Minute:
			loweredAt = ev.At
			r.Send(t, engine.SetRate{Bucket: "tenant/web", Rate: 0.001})
		case raisedAt == 0 && loweredAt > 0 && ev.At > loweredAt+time.Minute:
			raisedAt = ev.At
			r.Send(t, engine.SetRate{Bucket: "tenant/web", Rate: 40})
		}
	}))
	r.Do(t)
	var quiet, after int
	for _, ev := range r.Events.Of(engine.Admitted) {
		switch {
		case ev.Tenant != "web":
		case ev.At > loweredAt && ev.At < raisedAt:
			quiet++
		case ev.At >= raisedAt:
			after++
		}
	}
	if raisedAt == 0 || quiet != 0 || after < 40 {
		t.Fatalf("web sent %d while at 0.001 a minute and %d after going back to 40 at %v; want none, then about 40 a minute", quiet, after, raisedAt)
	}
}

// Controls sent as the run ends are applied or refused, never dropped, and
// a subscriber may send them from RunEnded itself.
func TestControlsAtTheEndAreAppliedOrRefused(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42})
	var atEnd []error
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		switch {
		case ev.Kind == engine.RegionsPolled && ev.Regions.Final:
			// The last event before the end: these are still pending when
			// the loop finishes.
			r.Send(t, engine.TogglePause{})
			r.Send(t, engine.AdjustRPM{Bucket: "deployment/primary", Delta: 1})
		case ev.Kind == engine.RunEnded:
			atEnd = append(atEnd, r.Engine.Controls().Send(engine.AdjustRPM{Bucket: "deployment/primary", Delta: 1}),
				r.Engine.Controls().Send(engine.TogglePause{}))
		}
	}))
	r.Do(t)
	refused := r.Events.Of(engine.ControlRefused)
	if len(refused) != 1 || refused[0].Message != engine.ErrRunOver.Error() {
		t.Fatalf("refusals %+v; want the pause, refused because the run ended", refused)
	}
	if got := rpmChanges(r, "deployment/primary"); len(got) != 1 || got[0] != 4 {
		t.Fatalf("RPM changes %v; want the pending + applied, to 4", got)
	}
	if len(atEnd) != 2 || atEnd[0] != nil || !errors.Is(atEnd[1], engine.ErrRunOver) {
		t.Fatalf("sent from RunEnded: %v; want the limit change taken and the pause refused", atEnd)
	}
	snap := r.Engine.Controls().Snapshot()
	if l, _ := snap.Bucket("deployment/primary"); snap.Paused || l.RPM != 5 {
		t.Fatalf("final state: paused %v, primary at %v RPM; want not paused, 5 RPM", snap.Paused, l.RPM)
	}
}

// Two presses of the fault menu's enter in one frame start the fault and
// stop it again.
func TestAFaultToggledTwiceQuicklyEndsOff(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "cris", engine.Options{Seed: 42})
	outage := scenarios.Fault{Kind: scenarios.RegionOutage, Region: "us-east-1"}
	r.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.Admitted && ev.Request == 2 {
			r.Send(t, engine.ToggleFault{Fault: outage})
			r.Send(t, engine.ToggleFault{Fault: outage})
		}
	}))
	r.Do(t)
	started, ended := r.Events.Of(engine.FaultStarted), r.Events.Of(engine.FaultEnded)
	if len(started) != 1 || len(ended) != 1 || started[0].Fault.ID != ended[0].Fault.ID || started[0].At != ended[0].At {
		t.Fatalf("started %+v, ended %+v; want one fault on and off at once", started, ended)
	}
}
