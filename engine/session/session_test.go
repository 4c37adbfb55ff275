package session_test

import (
	"context"
	"math"
	"runtime"
	"testing"

	"spillway/engine/session"
	"spillway/scenarios"
)

// BenchmarkSustainedLoad runs ten minutes (6,000 requests) and one hour
// (36,000) of constant load at 600 RPM at speed max through the default
// backend: the AWS SDK against the embedded emulator, with the recorder
// attached. It reports the heap the finished run still holds (the
// recorder's requests and the emulator's invocation logs) per request.
func BenchmarkSustainedLoad(b *testing.B) {
	f, err := scenarios.Load("../testdata/steady-600rpm.toml")
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"ten-minutes", "hour"} {
		s, err := f.Lookup(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				run, err := session.Start(context.Background(), session.Config{File: f, Seed: 42, Speed: math.Inf(1), Backend: "sim"}, s, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := run.Engine.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				sum := run.Recorder.Summary()
				if sum.Requests != s.TotalRequests() || sum.Succeeded != sum.Requests {
					b.Fatalf("%d of %d requests, %d succeeded", sum.Requests, s.TotalRequests(), sum.Succeeded)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))/float64(sum.Requests), "heap-B/request")
				run.Close()
			}
		})
	}
}
