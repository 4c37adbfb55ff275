package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"runtime"
	"strings"
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
		// Both transports in one process, so their ratio is measured on
		// the same machine in the same minute.
		for _, transport := range []struct {
			name     string
			loopback bool
		}{{"in-process", false}, {"loopback", true}} {
			b.Run(name+"/"+transport.name, func(b *testing.B) {
				sustain(b, session.Config{File: f, Seed: 42, Speed: math.Inf(1), Backend: "sim", Loopback: transport.loopback}, s)
			})
		}
	}
}

// sustain runs s to its end on each loop, and reports the heap it left
// per request.
func sustain(b *testing.B, cfg session.Config, s *scenarios.Scenario) {
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		run, err := session.Start(context.Background(), cfg, s, nil)
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
}

// The SDK reaching the embedded emulator in process and over loopback TCP
// runs the same experiment: every built-in scenario gives the same
// summary and the same requests both ways, and the backend says which
// transport it used.
func TestBothTransportsRunTheSameExperiment(t *testing.T) {
	f, err := scenarios.Load("../../scenarios.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			var runs [2][]byte
			for i, loopback := range []bool{false, true} {
				run, err := session.Start(context.Background(), session.Config{File: f, Seed: 42, Speed: math.Inf(1), Backend: "sim", Loopback: loopback}, s, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := run.Engine.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
				runs[i], _ = json.Marshal(struct {
					Summary  any
					Requests any
				}{run.Recorder.Summary(), run.Recorder.Requests()})
				wantDetail := "in process"
				if loopback {
					wantDetail = "over loopback TCP"
				}
				if !strings.Contains(run.Backend.Detail, wantDetail) {
					t.Errorf("loopback %v: the header says %q", loopback, run.Backend.Detail)
				}
				run.Close()
			}
			if !bytes.Equal(runs[0], runs[1]) {
				t.Fatalf("in process and over loopback differ:\n%s\n%s", runs[0], runs[1])
			}
		})
	}
}
