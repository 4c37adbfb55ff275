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

// A shared limit passed in a minute is explained by what passed it: the
// store's outage, a token bucket's burst, tokens counted as answers came;
// never by a reason that did not happen. Sentences wrap at spaces, so a
// flag stays whole.
func TestTheFleetSummarySaysWhyALimitWasPassed(t *testing.T) {
	s := &scenarios.Scenario{Name: "x"}
	bucket := func(limiter, unit string, times float64) record.FleetBucket {
		return record.FleetBucket{Bucket: "deployment/primary", Unit: unit, Limiter: limiter, Limit: 10, BusiestMinute: int(times * 10), TimesLimit: times}
	}
	for _, c := range []struct {
		name      string
		fleet     record.Fleet
		want, not []string
	}{
		{"own", record.Fleet{Replicas: 3, Limits: "own", Buckets: []record.FleetBucket{bucket("fixed-window", "requests", 3)}},
			[]string{"each of the 3 replicas held it on its own", "--replica-limits shared"}, []string{"unreachable", "token bucket"}},
		{"held", record.Fleet{Replicas: 3, Limits: "shared", Where: "this process", Buckets: []record.FleetBucket{bucket("fixed-window", "requests", 1)}},
			[]string{"3 replicas, sharing every limit in this process:", "The fleet held every limit."}, []string{"let up to"}},
		{"outage", record.Fleet{Replicas: 3, Limits: "shared", Where: "Redis at 127.0.0.1:6379", StoreDown: true,
			Buckets: []record.FleetBucket{bucket("fixed-window", "requests", 2.2)}},
			[]string{"unreachable for a while"}, []string{"token bucket", "tokens count"}},
		{"burst", record.Fleet{Replicas: 3, Limits: "shared", Where: "this process", Buckets: []record.FleetBucket{bucket("token-bucket", "requests", 1.8)}},
			[]string{"a token bucket lets its full"}, []string{"unreachable", "tokens count"}},
		{"tokens", record.Fleet{Replicas: 3, Limits: "shared", Where: "this process", Buckets: []record.FleetBucket{bucket("fixed-window", "tokens", 1.2)}},
			[]string{"tokens count here in the minute"}, []string{"unreachable", "token bucket"}},
	} {
		var out bytes.Buffer
		WriteSummary(&out, s, record.Summary{Fleet: &c.fleet}, false)
		prose := bytes.ReplaceAll(out.Bytes(), []byte("\n"), []byte(" "))
		for _, w := range c.want {
			if !bytes.Contains(prose, []byte(w)) {
				t.Errorf("%s: the summary lacks %q:\n%s", c.name, w, out.String())
			}
		}
		for _, n := range c.not {
			if bytes.Contains(prose, []byte(n)) {
				t.Errorf("%s: the summary says %q, which did not happen:\n%s", c.name, n, out.String())
			}
		}
		for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
			if len([]rune(string(line))) > 80 && !bytes.Contains(line, []byte("|")) {
				t.Errorf("%s: a line of %d characters: %s", c.name, len([]rune(string(line))), line)
			}
		}
	}
}
