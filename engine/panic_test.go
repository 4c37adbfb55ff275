package engine_test

import (
	"context"
	"errors"
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
	if err := shell.Send(engine.TogglePause{}); !errors.Is(err, engine.ErrRunOver) {
		t.Fatalf("a control after a failed run: %v", err)
	}
}
