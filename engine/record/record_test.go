package record

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"spillway/engine"
	"spillway/scenarios"
)

func TestWriteFileFailsCleanlyOnAMissingDirectory(t *testing.T) {
	rec := New(Meta{})
	err := rec.WriteFile(filepath.Join(t.TempDir(), "no", "such", "run.json"))
	if err == nil {
		t.Fatal("wrote into a directory that does not exist")
	}
}

func TestAppendEventEscapes(t *testing.T) {
	ev := engine.Event{At: 1500 * time.Microsecond, Kind: engine.Failed, Request: 3, Tenant: "tab\tquote\"back\\slash",
		Message: "line\nbreak \x01 ctrl and ünïcödé and bad \xff byte", RPM: scenarios.Unlimited}
	b := appendEvent(nil, ev)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	if m["tenant"] != ev.Tenant || m["t_ms"] != 1.5 || m["kind"] != "failed" || m["request"] != 3.0 {
		t.Fatalf("round trip: %v", m)
	}
	if m["message"] != "line\nbreak \x01 ctrl and ünïcödé and bad \ufffd byte" {
		t.Fatalf("message %q", m["message"])
	}
	rpm := appendEvent(nil, engine.Event{Kind: engine.RPMChanged, Bucket: "tenant/A", RPM: scenarios.Unlimited})
	if err := json.Unmarshal(rpm, &m); err != nil || m["rpm"] != "unlimited" {
		t.Fatalf("unlimited rpm: %s", rpm)
	}
}

// Avg and max are exact; p50 and p95 are within the stated error of the
// nearest rank, to the microsecond.
func TestLatencyIsExactWhereItCanBe(t *testing.T) {
	l := &latencyTally{dist: NewDistribution(TimeDecimals)}
	for i := 20; i >= 1; i-- {
		l.add(float64(i*100) + 0.001)
	}
	got := l.latency()
	if got.Max != 2000.001 || got.Avg != 1050.001 {
		t.Fatalf("%+v, want max 2000.001 and avg 1050.001 exactly", got)
	}
	for _, c := range []struct{ got, exact float64 }{{got.P50, 1000.001}, {got.P95, 1900.001}} {
		if !withinStatedError(c.got, c.exact, TimeDecimals) {
			t.Errorf("%+v: %v is not within %v of %v", got, c.got, RelativeAccuracy, c.exact)
		}
	}
	if ((*latencyTally)(nil).latency() != Latency{}) {
		t.Fatal("no latencies should give zeros")
	}
}

// The average is of the exact sum. These four average 1724.9235 ms to the
// microsecond: summed as floats, one order rounds it down and another up.
func TestAverageLatencyDoesNotDependOnOrder(t *testing.T) {
	values := []float64{2838.909, 917.635, 1927.717, 1215.433}
	var averages []float64
	for range 4 {
		l := &latencyTally{dist: NewDistribution(TimeDecimals)}
		for _, v := range values {
			l.add(v)
		}
		averages = append(averages, l.latency().Avg)
		values = append(values[1:], values[0])
		values[0], values[2] = values[2], values[0]
	}
	if slices.Min(averages) != slices.Max(averages) || averages[0] != 1724.924 {
		t.Fatalf("averages %v, want 1724.924 in every order", averages)
	}
}

// A request its tenant's bucket refused was never attempted: its record
// says so with an empty list, not null.
func TestARefusedRequestExportsNoAttempts(t *testing.T) {
	rec := New(Meta{})
	rec.Handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "s", Planned: 1}})
	rec.Handle(engine.Event{Kind: engine.RateLimited, Request: 1, Tenant: "A", Bucket: "tenant/A", Message: "tenant A is over its 3 RPM"})
	rec.Handle(engine.Event{Kind: engine.RunEnded})
	var out strings.Builder
	if err := rec.Encode(&out); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Requests []map[string]json.RawMessage `json:"requests"`
	}
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Requests) != 1 || string(doc.Requests[0]["attempts"]) != "[]" {
		t.Fatalf("requests %s; want one with \"attempts\": []", out.String())
	}
}
