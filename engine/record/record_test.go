package record

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"spillway/engine"
	"spillway/scenarios"
)

func runFallback(t *testing.T, rec *Recorder) {
	t.Helper()
	data, err := os.ReadFile("../../scenarios.toml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := scenarios.Parse("scenarios.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := f.Lookup("fallback")
	sim := engine.NewSimulated(s, f.Models, 42, time.Now())
	e, err := engine.New(s, engine.Options{Seed: 42, Speed: math.Inf(1), Backend: sim, Logs: sim})
	if err != nil {
		t.Fatal(err)
	}
	e.Subscribe(rec)
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestExportIsCompleteAndAtomic(t *testing.T) {
	dir := t.TempDir()
	rec := New(Meta{Backend: "simulated"})
	if err := rec.KeepTimeline(dir); err != nil {
		t.Fatal(err)
	}
	runFallback(t, rec)
	path := filepath.Join(dir, "run.json")
	if err := rec.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "run.json" {
		t.Fatalf("directory holds %v, want only run.json (no temp or spool files left)", entries)
	}

	data, _ := os.ReadFile(path)
	var doc struct {
		Schema      string  `json:"schema"`
		Scenario    string  `json:"scenario"`
		Seed        uint64  `json:"seed"`
		Speed       string  `json:"speed"`
		Interrupted bool    `json:"interrupted"`
		StartedAt   string  `json:"started_at"`
		EndedAt     string  `json:"ended_at"`
		Summary     Summary `json:"summary"`
		Requests    []Request
		Events      []map[string]any
		RPMChanges  []RPMChange `json:"rpm_changes"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("export is not valid JSON: %v", err)
	}
	if doc.Schema != "spillway/run/v1" || doc.Scenario != "fallback" || doc.Seed != 42 || doc.Speed != "max" ||
		doc.Interrupted || doc.StartedAt == "" || doc.EndedAt <= doc.StartedAt {
		t.Fatalf("header: %+v", doc)
	}
	s := doc.Summary
	if s.Requests != 10 || s.Succeeded != 10 || s.ByDeployment["primary"] != 3 || s.ByDeployment["fallback"] != 7 ||
		s.ByTenant["app"].Requests != 10 || s.ByAccount["default"].Succeeded != 10 || len(s.Regions["default"]) == 0 {
		t.Fatalf("summary: %+v", s)
	}
	if len(doc.Requests) != 10 {
		t.Fatalf("%d requests, want 10", len(doc.Requests))
	}
	for _, q := range doc.Requests {
		last := q.Attempts[len(q.Attempts)-1]
		if q.Outcome != OutcomeSucceeded || q.Region == "" || q.EndMS <= q.StartMS || last.Outcome != OutcomeSucceeded ||
			last.Deployment != q.Deployment || q.Fallback != (q.Deployment == "fallback") {
			t.Fatalf("request %+v", q)
		}
	}
	kinds := map[string]int{}
	for _, ev := range doc.Events {
		kinds[ev["kind"].(string)]++
	}
	if kinds["run_started"] != 1 || kinds["run_ended"] != 1 || kinds["succeeded"] != 10 || kinds["skipped"] != 7 || kinds["regions"] == 0 {
		t.Fatalf("event kinds %v", kinds)
	}
	if doc.RPMChanges == nil {
		t.Fatal("rpm_changes missing; it must be an empty list, not absent")
	}
}

func TestEncodeWithoutTimelineOmitsEvents(t *testing.T) {
	rec := New(Meta{Backend: "simulated"})
	runFallback(t, rec)
	var buf bytes.Buffer
	if err := rec.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, buf.String())
	}
	if _, ok := doc["events"]; ok {
		t.Fatal("events present without KeepTimeline")
	}
	if _, ok := doc["requests"]; !ok {
		t.Fatal("requests missing")
	}
}

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
