package plain

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/record"
	"spillway/scenarios"
)

// TestHeadlessOutputGolden compares what a person sees of each built-in
// scenario, header to summary, with a golden file (go test -update rewrites).
func TestHeadlessOutputGolden(t *testing.T) {
	data, err := os.ReadFile("../../scenarios.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := scenarios.Parse("scenarios.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Date(2026, 11, 21, 14, 36, 24, 0, time.Local)
	for _, s := range f.Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			var out bytes.Buffer
			sim := enginetest.NewSimulated(s, f.Models, 42, epoch)
			e, err := engine.New(s, engine.Options{Seed: 42, Speed: math.Inf(1), Clock: enginetest.NewClock(epoch), Backend: sim, Logs: sim, Faults: sim})
			if err != nil {
				t.Fatal(err)
			}
			rec := record.New(record.Meta{})
			e.Subscribe(New(&out, s, "SIMULATED — embedded Bedrock fleet; no AWS calls, no credentials"))
			e.Subscribe(rec)
			if err := e.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			WriteSummary(&out, s, rec.Summary(), rec.Interrupted())
			enginetest.Golden(t, filepath.Join("testdata", s.Name+".golden"), out.String())
		})
	}
}

func TestSpeedLabel(t *testing.T) {
	speed := engine.SpeedText
	if speed(20) != "20×" || speed(0.5) != "0.5×" || speed(math.Inf(1)) != "max" {
		t.Fatal(speed(20), speed(0.5), speed(math.Inf(1)))
	}
}
