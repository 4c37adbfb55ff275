package record_test

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
	"spillway/engine/enginetest"
	"spillway/engine/record"
	"spillway/scenarios"
)

// Whole runs on the simulated fleet, recorded and exported.

func runFallback(t *testing.T, rec *record.Recorder) {
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
	sim := enginetest.NewSimulated(s, f.Models, 42, time.Now())
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
	rec := record.New(record.Meta{Backend: "simulated"})
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
		Schema      string         `json:"schema"`
		Scenario    string         `json:"scenario"`
		Seed        uint64         `json:"seed"`
		Speed       string         `json:"speed"`
		Interrupted bool           `json:"interrupted"`
		StartedAt   string         `json:"started_at"`
		EndedAt     string         `json:"ended_at"`
		Summary     record.Summary `json:"summary"`
		Requests    []record.Request
		Events      []map[string]any
		RPMChanges  []record.RPMChange `json:"rpm_changes"`
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
		if q.Outcome != record.OutcomeSucceeded || q.Region == "" || q.EndMS <= q.StartMS || last.Outcome != record.OutcomeSucceeded ||
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
	rec := record.New(record.Meta{Backend: "simulated"})
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
