package session_test

import (
	"context"
	"math"
	"testing"

	"spillway/engine"
	"spillway/engine/session"
	"spillway/scenarios"
)

// A run's live faults go through its embedded emulator's fault API on the
// run's simulated time: a fault stopped is over for the emulator too, even
// far ahead of the wall clock, so it no longer counts against the limits
// on faults in effect.
func TestLiveFaultsGoThroughTheEmulatorOnSimulatedTime(t *testing.T) {
	f, err := scenarios.Load("../../scenarios.toml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.Lookup("tuning")
	if err != nil {
		t.Fatal(err)
	}
	run, err := session.Start(context.Background(), session.Config{File: f, Seed: 42, Speed: math.Inf(1), Backend: "sim"}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	slower := scenarios.Fault{Kind: scenarios.SlowDown, Factor: 3}
	var events []engine.Event
	toggles := 0
	run.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		events = append(events, ev)
		// ×3 nine times over would be ×19,683, past the ×10,000 the file
		// allows at once; one at a time, it is ×3.
		if ev.Kind == engine.Admitted && ev.Request%10 == 0 && toggles < 18 {
			toggles++
			if err := run.Engine.Controls().Send(engine.ToggleFault{Fault: slower}); err != nil {
				t.Error(err)
			}
		}
	}))
	if err := run.Engine.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var started, ended int
	for _, ev := range events {
		switch ev.Kind {
		case engine.FaultStarted:
			started++
		case engine.FaultEnded:
			ended++
		case engine.ControlRefused:
			t.Errorf("refused: %s", ev.Message)
		}
	}
	if toggles != 18 || started != 9 || ended != 9 {
		t.Fatalf("%d toggles gave %d starts and %d stops; want 9 of each", toggles, started, ended)
	}
}
