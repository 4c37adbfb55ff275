package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
)

// panicking is a backend with a bug.
type panicking struct{}

func (panicking) Instant() bool { return true }
func (panicking) Invoke(context.Context, time.Time, engine.Call) engine.Reply {
	panic("index out of range")
}

func TestAPanicInTheRunBecomesAnError(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "fallback", engine.Options{Seed: 42, Backend: panicking{}})
	err := r.Engine.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "index out of range") || !strings.Contains(err.Error(), "bug") {
		t.Fatalf("Run after a panic: %v; want an error that names it", err)
	}
	shell := r.Engine.Controls()
	if snap := shell.Snapshot(); !snap.Over {
		t.Fatal("the snapshot after a failed run is not over")
	}
	// Screens and records stop waiting: the run ended, cut short, saying why.
	ended := r.Events.Of(engine.RunEnded)
	if len(ended) != 1 || !ended[0].Interrupted || !strings.Contains(ended[0].Message, "internal error") {
		t.Fatalf("RunEnded after a panic: %+v", ended)
	}
	// Every control is refused with the reason, limit changes too: the
	// engine's state is not to be trusted.
	for _, in := range []engine.Intent{engine.TogglePause{}, engine.AdjustRPM{Bucket: "deployment/primary", Delta: 1}} {
		if err := shell.Send(in); err == nil || !strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%T after a failed run: %v", in, err)
		}
	}
	if n := len(r.Events.Of(engine.RPMChanged)); n != 0 {
		t.Fatalf("%d RPM changes after a failed run", n)
	}
}
