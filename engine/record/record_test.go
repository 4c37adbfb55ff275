package record

import (
	"encoding/json"
	"path/filepath"
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
