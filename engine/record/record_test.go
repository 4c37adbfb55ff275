package record

import (
	"encoding/json"
	"path/filepath"
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

func TestLatencyPercentilesNearestRank(t *testing.T) {
	var ms []float64
	for i := 1; i <= 20; i++ {
		ms = append(ms, float64(i*100))
	}
	l := latencyOf(ms)
	if l.P50 != 1000 || l.P95 != 1900 || l.Max != 2000 || l.Avg != 1050 {
		t.Fatalf("%+v, want p50 1000, p95 1900, max 2000, avg 1050", l)
	}
	if (latencyOf(nil) != Latency{}) {
		t.Fatal("no latencies should give zeros")
	}
}
