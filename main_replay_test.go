package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"

	"spillway/engine/record"
	"spillway/scenarios"
)

// recorded is one built-in scenario run headless at speed max with its
// record on stdout: what it printed, and the record.
type recorded struct {
	printed string
	export  []byte
}

var (
	builtinRunsOnce sync.Once
	builtinRuns     map[string]recorded
	builtinRunsErr  string
)

// builtinExports runs every built-in scenario once for all the tests that
// read records back.
func builtinExports(t *testing.T) map[string]recorded {
	t.Helper()
	builtinRunsOnce.Do(func() {
		f, err := scenarios.Load("scenarios.toml")
		if err != nil {
			builtinRunsErr = err.Error()
			return
		}
		builtinRuns = map[string]recorded{}
		for _, sc := range f.Scenarios {
			if sc.ServesClients() {
				continue // its traffic comes from clients of spillway gateway
			}
			name := sc.Name
			status, out, errOut := spillway("run", name, "--speed", "max", "--json", "-")
			if status != 0 {
				builtinRunsErr = name + ": " + errOut
				return
			}
			builtinRuns[name] = recorded{printed: errOut, export: []byte(out)}
		}
	})
	if builtinRunsErr != "" {
		t.Fatal(builtinRunsErr)
	}
	return builtinRuns
}

// withoutBackendLine drops the header's backend line, the one line a
// replay prints differently (it says REPLAY), and what follows the summary.
func withoutBackendLine(printed string) string {
	var keep []string
	lines := strings.Split(printed, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "Stopped by ") && i+1 < len(lines) && lines[i+1] == "" {
			i++ // the signal's notice and the blank line after it
			continue
		}
		if strings.HasPrefix(line, "  backend  ") || strings.HasPrefix(line, "Run recorded to") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.TrimRight(strings.Join(keep, "\n"), "\n")
}

// checkReplay replays the record at path headless and requires what the run
// printed, and the summary it recorded, again.
func checkReplay(t *testing.T, name, path, printed string) {
	t.Helper()
	status, out, errOut := spillway("replay", path, "--headless")
	if status != 0 {
		t.Fatalf("%s: replay exited %d: %s", name, status, errOut)
	}
	if !strings.Contains(out, "  backend  REPLAY of "+filepath.Base(path)+", recorded ") {
		t.Errorf("%s: the replay's header does not say it is a replay:\n%s", name, out[:min(len(out), 400)])
	}
	if got, want := withoutBackendLine(out), withoutBackendLine(printed); got != want {
		t.Errorf("%s: the replay printed something else than the run:\n--- run\n%s\n--- replay\n%s", name, want, got)
	}
	// The summary computed again from the events is the recorded one,
	// field for field.
	l, err := record.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	rec := record.New(record.Meta{})
	for _, ev := range l.Events {
		rec.Handle(ev)
	}
	got, _ := json.Marshal(rec.Summary())
	want, _ := json.Marshal(l.Summary)
	if string(got) != string(want) {
		t.Errorf("%s: the summary from the events differs from the recorded one:\n%s\n%s", name, got, want)
	}
	if !reflect.DeepEqual(rec.Requests(), l.Requests) {
		t.Errorf("%s: the requests rebuilt from the events differ from the recorded ones", name)
	}
}

// Replaying any built-in scenario's record headless prints what the run
// printed: every line, and the same summary.
func TestReplayHeadlessReproducesEveryBuiltinRun(t *testing.T) {
	for name, r := range builtinExports(t) {
		path := filepath.Join(t.TempDir(), name+".json")
		if err := os.WriteFile(path, r.export, 0o644); err != nil {
			t.Fatal(err)
		}
		checkReplay(t, name, path, r.printed)
	}
}

// A run stopped by Ctrl-C replays as it printed, INTERRUPTED and all.
func TestReplayHeadlessReproducesAnInterruptedRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stopped.json")
	c := startCommand(t, nil, "run", "tuning", "--speed", "20", "--json", path)
	c.readUntil("→")
	c.signal(syscall.SIGINT)
	if status := c.wait(); status != 0 {
		t.Fatalf("exit status %d: %s", status, c.stderr.String())
	}
	wasStopped(t, path)
	if !strings.Contains(c.out.String(), "(INTERRUPTED)") {
		t.Fatalf("the run was not interrupted:\n%s", c.out.String())
	}
	checkReplay(t, "interrupted tuning", path, c.out.String())
}

// The real binary replays region-outage at speed 20 in a terminal: n goes
// to the fault, the histogram marks us-east-2 DOWN, the trends show the
// outage band, and q exits cleanly.
func TestReplayInATerminal(t *testing.T) {
	requireTmux(t)
	path := filepath.Join(t.TempDir(), "region-outage.json")
	if status, _, errOut := spillway("run", "region-outage", "--speed", "max", "--json", path); status != 0 {
		t.Fatal(errOut)
	}
	term := startTerminalShowingExit(t, 160, 48, "replay", path, "--speed", "20")
	term.waitFor("the replay's header", `REPLAY\s+of region-outage\.json, recorded \d{4}-\d\d-\d\d \d\d:\d\d on simulated`,
		`speed 20× · [\d.]+s of 200\.0s`)
	term.keys("n") // the next fault: the outage at 60 s
	term.waitFor("the outage, seeked to",
		`60\.0s: fault on: region-outage us-east-2`,
		`FAULTS: region-outage us-east-2 \(since 60\.0s\)`,
		`us-east-2 .*DOWN since 1m`,
		`faults, RPM\s+\S*▀`, // the outage's band on the trends' time axis
	)
	term.keys("Home")
	term.waitFor("back at the start", `back to the start`)
	term.keys("q")
	term.waitForExit(0)
}

// A file that cannot be played back gets a clear message and exit 2: cut
// short, not JSON, another tool's JSON, a newer Spillway's, or a record
// without its timeline.
func TestReplayRefusesWhatItCannotPlay(t *testing.T) {
	r := builtinExports(t)["fallback"]
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var doc map[string]any
	if err := json.Unmarshal(r.export, &doc); err != nil {
		t.Fatal(err)
	}
	doc["schema"] = "spillway/run/v2"
	newer, _ := json.Marshal(doc)
	doc["schema"] = "spillway/run/v1"
	delete(doc, "events")
	noEvents, _ := json.Marshal(doc)
	for _, tc := range []struct{ name, path, want string }{
		{"cut short", write("cut.json", r.export[:len(r.export)*2/3]), "is cut short"},
		{"not JSON", write("notes.json", []byte("these are my notes\n")), "is not JSON"},
		{"empty", write("empty.json", nil), "is empty"},
		{"another tool", write("oha.json", []byte(`{"summary": {"successRate": 1}, "latencyPercentiles": {}}`)), "is JSON but not a Spillway run record"},
		{"newer", write("newer.json", newer), "was written by a newer Spillway (schema spillway/run/v2)"},
		{"no events", write("old.json", noEvents), "cannot be played back: this record has no event timeline"},
		{"missing", filepath.Join(dir, "nope.json"), "cannot open it"},
	} {
		status, _, errOut := spillway("replay", tc.path, "--headless")
		if status != 2 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, tc.path) {
			t.Errorf("%s: exit %d, %q; want 2 and %q naming the file", tc.name, status, errOut, tc.want)
		}
	}
}
