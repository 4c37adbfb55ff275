package record_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"spillway/engine/record"
)

// Each load reads the parts it is for, from the writer's layout and from
// the same record reformatted by another tool (which the streaming
// decoder reads), and the two agree: Load everything, LoadTimeline no
// requests, LoadRequests no events and no word about a missing timeline.
func TestEachLoadReadsItsParts(t *testing.T) {
	dir := t.TempDir()
	rec := record.New(record.Meta{Backend: "simulated"})
	if err := rec.KeepTimeline(dir); err != nil {
		t.Fatal(err)
	}
	runFallback(t, rec)
	laidOut := filepath.Join(dir, "run.json")
	if err := rec.WriteFile(laidOut); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	data, _ := os.ReadFile(laidOut)
	var reformatted bytes.Buffer
	if err := json.Compact(&reformatted, data); err != nil {
		t.Fatal(err)
	}
	compact := filepath.Join(dir, "compact.json")
	os.WriteFile(compact, reformatted.Bytes(), 0o644)

	for _, path := range []string{laidOut, compact} {
		all, err := record.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Requests) != 10 || len(all.Events) == 0 || len(all.Partial) != 0 {
			t.Fatalf("%s: Load read %d requests, %d events, notes %q", filepath.Base(path), len(all.Requests), len(all.Events), all.Partial)
		}
		timeline, err := record.LoadTimeline(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(timeline.Requests) != 0 || !reflect.DeepEqual(timeline.Events, all.Events) {
			t.Errorf("%s: LoadTimeline read %d requests and %d events, want none and %d", filepath.Base(path), len(timeline.Requests), len(timeline.Events), len(all.Events))
		}
		requests, err := record.LoadRequests(path)
		if err != nil {
			t.Fatal(err)
		}
		if requests.Events != nil || len(requests.Partial) != 0 || !reflect.DeepEqual(requests.Requests, all.Requests) ||
			!reflect.DeepEqual(requests.Summary, all.Summary) || !reflect.DeepEqual(requests.Buckets, all.Buckets) {
			t.Errorf("%s: LoadRequests read %d events, notes %q, requests equal %v", filepath.Base(path), len(requests.Events),
				requests.Partial, reflect.DeepEqual(requests.Requests, all.Requests))
		}
	}
	// A damaged event is still refused by a load that does not keep events.
	damaged := filepath.Join(dir, "damaged.json")
	os.WriteFile(damaged, bytes.Replace(reformatted.Bytes(), []byte(`"events":[{`), []byte(`"events":[7,{`), 1), 0o644)
	if _, err := record.LoadRequests(damaged); err == nil {
		t.Error("LoadRequests read a record whose timeline holds a number where an event goes")
	}
}
