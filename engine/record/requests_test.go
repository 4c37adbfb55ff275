package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"spillway/engine"
)

// exported is the "requests" array of rec's export, each as its bytes.
func exported(t *testing.T, rec *Recorder) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := rec.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Requests []json.RawMessage }
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, buf.String())
	}
	out := make([]string, len(doc.Requests))
	for i, q := range doc.Requests {
		out[i] = string(q)
	}
	return out
}

func idsAndOutcomes(t *testing.T, rec *Recorder) string {
	t.Helper()
	var parts []string
	for _, line := range exported(t, rec) {
		var q Request
		json.Unmarshal([]byte(line), &q)
		parts = append(parts, fmt.Sprintf("%d:%s", q.ID, q.Outcome))
	}
	return strings.Join(parts, " ")
}

func spooling(t *testing.T) *Recorder {
	t.Helper()
	rec := New(Meta{})
	if err := rec.SpoolRequests(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	return rec
}

// A finished request leaves memory at once, for the spool; an export, at
// any time, still lists every request in id order, those in flight as
// they are.
func TestOnlyRequestsInFlightStayInMemory(t *testing.T) {
	rec := spooling(t)
	rec.Handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "s", Planned: 4}})
	for id := 1; id <= 4; id++ {
		rec.Handle(engine.Event{At: time.Duration(id) * time.Second, Kind: engine.Admitted, Request: id, Tenant: "app"})
		rec.Handle(engine.Event{At: time.Duration(id) * time.Second, Kind: engine.Attempt, Request: id, Tenant: "app", Deployment: "d"})
	}
	finish := func(id int, kind engine.Kind) {
		rec.Handle(engine.Event{At: 9 * time.Second, Kind: kind, Request: id, Tenant: "app", Deployment: "d", Account: "a",
			Latency: time.Duration(9-id) * time.Second})
	}
	inFlight := func(want int) {
		t.Helper()
		if got := len(rec.requests.open); got != want {
			t.Fatalf("%d requests in memory, want the %d in flight", got, want)
		}
	}
	inFlight(4)
	finish(3, engine.Succeeded)
	finish(1, engine.Failed)
	inFlight(2)
	if got, want := idsAndOutcomes(t, rec), "1:failed 2:pending 3:succeeded 4:pending"; got != want {
		t.Fatalf("mid-run export lists %q, want %q", got, want)
	}
	finish(4, engine.Cancelled)
	finish(2, engine.Succeeded)
	inFlight(0)
	if got, want := idsAndOutcomes(t, rec), "1:failed 2:succeeded 3:succeeded 4:cancelled"; got != want {
		t.Fatalf("export lists %q, want %q", got, want)
	}
	if s := rec.Summary(); s.Requests != 4 || s.Succeeded != 2 || s.ByTenant["app"].Latency.Max != 7000 {
		t.Fatalf("summary %+v", s)
	}
}

// A finished request's record is closed: a stray event about it, which a
// hand-edited record could hold, changes nothing, spooled or not.
func TestEventsAfterTheFinalOutcomeAreIgnored(t *testing.T) {
	for name, rec := range map[string]*Recorder{"in memory": New(Meta{}), "spooled": spooling(t)} {
		rec.Handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "s", Planned: 1}})
		rec.Handle(engine.Event{At: time.Second, Kind: engine.Attempt, Request: 1, Tenant: "app", Deployment: "d"})
		rec.Handle(engine.Event{At: 2 * time.Second, Kind: engine.Succeeded, Request: 1, Tenant: "app", Deployment: "d", Account: "a", Latency: time.Second})
		before := rec.Requests()
		rec.Handle(engine.Event{At: 3 * time.Second, Kind: engine.Attempt, Request: 1, Tenant: "other", Deployment: "e"})
		rec.Handle(engine.Event{At: 3 * time.Second, Kind: engine.Failed, Request: 1, Tenant: "other", Deployment: "e"})
		rec.Handle(engine.Event{At: 3 * time.Second, Kind: engine.Admitted, Request: 0, Tenant: "nobody"})
		if after := rec.Requests(); !reflect.DeepEqual(before, after) || len(after) != 1 {
			t.Errorf("%s: %+v became %+v", name, before, after)
		}
		if s := rec.Summary(); s.Requests != 1 || s.Succeeded != 1 || s.Failed != 0 || len(s.ByTenant) != 1 {
			t.Errorf("%s: summary %+v", name, s)
		}
	}
}

// A record longer than the reader's buffer comes back whole, read in
// turn or out of it.
func TestLongRecordsComeBackWhole(t *testing.T) {
	rec, kept := spooling(t), New(Meta{})
	for _, r := range []*Recorder{rec, kept} {
		r.Handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "s", Planned: 3}})
		for id := 1; id <= 3; id++ {
			for range 600 {
				r.Handle(engine.Event{Kind: engine.Skipped, Request: id, Tenant: "app", Deployment: "d", Message: strings.Repeat("x", 100)})
			}
		}
		// 3 finishes first and waits while 1 and 2 are read.
		for _, id := range []int{3, 1, 2} {
			r.Handle(engine.Event{At: time.Second, Kind: engine.Failed, Request: id, Tenant: "app", Code: "X"})
		}
	}
	got, want := exported(t, rec), exported(t, kept)
	if len(got[2]) < 64<<10 || !reflect.DeepEqual(got, want) {
		t.Fatalf("spooled records (%d bytes for the last) differ from those kept in memory", len(got[2]))
	}
	if !reflect.DeepEqual(rec.Requests(), kept.Requests()) {
		t.Fatal("Requests read back differ from those kept in memory")
	}
}

// Records a run finished before the spool was set up go to it too.
func TestSpoolingLateTakesWhatWasKept(t *testing.T) {
	rec, kept := New(Meta{}), New(Meta{})
	for _, r := range []*Recorder{rec, kept} {
		r.Handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "s", Planned: 3}})
		r.Handle(engine.Event{Kind: engine.Admitted, Request: 3, Tenant: "app"})
		r.Handle(engine.Event{Kind: engine.RateLimited, Request: 2, Tenant: "app"})
	}
	if err := rec.SpoolRequests(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if err := rec.SpoolRequests(t.TempDir()); err == nil {
		t.Fatal("spooled twice")
	}
	for _, r := range []*Recorder{rec, kept} {
		r.Handle(engine.Event{Kind: engine.RateLimited, Request: 1, Tenant: "app"})
	}
	if got, want := exported(t, rec), exported(t, kept); !reflect.DeepEqual(got, want) || len(got) != 3 {
		t.Fatalf("exports\n%v\n%v", got, want)
	}
	if _, ok := rec.requests.done.(*memoryStore); ok || len(rec.requests.open) != 1 {
		t.Fatalf("records still kept in memory: %d in flight", len(rec.requests.open))
	}
}

// A spool that cannot be written or read fails the export, which says
// why, rather than writing a record with requests missing.
func TestABrokenSpoolFailsTheExport(t *testing.T) {
	rec := spooling(t)
	rec.Handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "s", Planned: 1}})
	rec.Handle(engine.Event{Kind: engine.RateLimited, Request: 1, Tenant: "app"})
	rec.requests.done.(*spooledStore).spool.f.Close() // as a disk gone bad would
	if err := rec.Encode(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "request records:") || !errors.Is(err, os.ErrClosed) {
		t.Fatalf("export of a broken spool: %v", err)
	}

	rec = spooling(t)
	rec.Handle(engine.Event{Kind: engine.RunStarted, Info: &engine.RunInfo{Scenario: "s", Planned: 1}})
	rec.Close()
	if err := rec.Encode(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "the recorder was closed") {
		t.Fatalf("export after Close: %v", err)
	}
	if s := rec.Summary(); s.Planned != 1 {
		t.Fatalf("the summary after Close: %+v", s)
	}
}

func TestSpooledIDIsTheRecordsOwn(t *testing.T) {
	line, _ := json.Marshal(&Request{ID: 123456, Tenant: "x"})
	if id, ok := spooledID(line); id != 123456 || !ok {
		t.Fatalf("spooledID(%s) = %d, %v", line, id, ok)
	}
	for _, bad := range []string{``, `{"id":}`, `{"id":12`, `{"tenant":"x","id":1,}`, `{"id":x1,}`} {
		if _, ok := spooledID([]byte(bad)); ok {
			t.Errorf("spooledID(%s) succeeded", bad)
		}
	}
}
