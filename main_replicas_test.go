package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"spillway/engine/enginetest"
)

// fleetExport is what these tests read of a run as replicas' record.
type fleetExport struct {
	Summary struct {
		ByDeployment map[string]int `json:"by_deployment"`
		Fleet        *struct {
			Replicas int    `json:"replicas"`
			Limits   string `json:"limits"`
			Where    string `json:"where"`
			Buckets  []struct {
				Bucket        string  `json:"bucket"`
				Limit         int     `json:"limit"`
				BusiestMinute int     `json:"busiest_minute"`
				TimesLimit    float64 `json:"times_limit"`
			} `json:"buckets"`
		} `json:"fleet"`
	} `json:"summary"`
	Requests []struct {
		ID         int    `json:"id"`
		Outcome    string `json:"outcome"`
		Deployment string `json:"deployment"`
		Replica    int    `json:"replica"`
	} `json:"requests"`
}

func (e fleetExport) busiest(t *testing.T, bucket string) (int, float64) {
	t.Helper()
	if e.Summary.Fleet == nil {
		t.Fatal("the record has no summary.fleet")
	}
	for _, b := range e.Summary.Fleet.Buckets {
		if b.Bucket == bucket {
			return b.BusiestMinute, b.TimesLimit
		}
	}
	t.Fatalf("summary.fleet has no %s", bucket)
	return 0, 0
}

// The built-in replicas scenario, from one seed, both ways: three
// replicas counting their limits on their own let three times the
// primary's 10 RPM and the batch tenant's 6 RPM through, and say so in
// the summary and the record; sharing them, the fleet holds both. The
// records pass the schema, and 'spillway compare' names what differed.
func TestRunAsReplicasShowsTheLeakAgainstTheHeldLimit(t *testing.T) {
	dir := t.TempDir()
	schema := exportSchema(t)
	exports := map[string]fleetExport{}
	outputs := map[string]string{}
	for _, limits := range []string{"own", "shared"} {
		path := filepath.Join(dir, limits+".json")
		status, out, errOut := spillway("run", "replicas", "--speed", "max", "--headless", "--replica-limits", limits, "--json", path)
		if status != 0 {
			t.Fatalf("%s: %d %s", limits, status, errOut)
		}
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(t, schema, limits, doc); err != nil {
			t.Errorf("%s: the record does not match the schema:\n%v", limits, err)
		}
		var e fleetExport
		if err := json.Unmarshal(doc, &e); err != nil {
			t.Fatal(err)
		}
		exports[limits], outputs[limits] = e, out
	}
	own, shared := exports["own"], exports["shared"]
	if n, x := own.busiest(t, "deployment/primary"); n != 30 || x != 3 {
		t.Errorf("own limits: the primary's busiest minute %d (%.1f×); want 30, 3×", n, x)
	}
	if n, x := own.busiest(t, "tenant/batch"); n != 18 || x != 3 {
		t.Errorf("own limits: the batch tenant's busiest minute %d (%.1f×); want 18, 3×", n, x)
	}
	if n, x := shared.busiest(t, "deployment/primary"); n != 10 || x != 1 {
		t.Errorf("shared limits: the primary's busiest minute %d (%.1f×); want 10, 1×", n, x)
	}
	if n, x := shared.busiest(t, "tenant/batch"); n != 6 || x != 1 {
		t.Errorf("shared limits: the batch tenant's busiest minute %d (%.1f×); want 6, 1×", n, x)
	}
	if own.Summary.ByDeployment["primary"] != 3*shared.Summary.ByDeployment["primary"] {
		t.Errorf("the primary served %d with own limits, %d shared; want three times as many", own.Summary.ByDeployment["primary"], shared.Summary.ByDeployment["primary"])
	}
	if f := shared.Summary.Fleet; f.Replicas != 3 || f.Limits != "shared" || f.Where != "this process" {
		t.Errorf("shared: summary.fleet says %d replicas, %q limits in %q", f.Replicas, f.Limits, f.Where)
	}
	for _, q := range own.Requests {
		if q.Replica < 1 || q.Replica > 3 {
			t.Fatalf("request %d: replica %d; want 1–3", q.ID, q.Replica)
		}
	}
	for limits, want := range map[string][]string{
		"own": {"replicas 3, each tenant's requests handed to them in turn, each counting every limit on its own",
			"deployment/primary  | 10 requests  | 30             | 3.0×", "replicas held it on its own"},
		"shared": {"3 replicas, sharing every limit in this process:", "deployment/primary  | 10 requests  | 10             | 1.0×", "The fleet held every limit."},
	} {
		for _, w := range want {
			if !strings.Contains(outputs[limits], w) {
				t.Errorf("%s: the output lacks %q", limits, w)
			}
		}
	}
	status, out, errOut := spillway("compare", filepath.Join(dir, "own.json"), filepath.Join(dir, "shared.json"))
	if status != 0 || !strings.Contains(out, "replicas: A 3, each counting its own limits, B 3, sharing their limits in this process") {
		t.Fatalf("spillway compare: %d %s\n%s", status, errOut, out)
	}
}

// Shared in a real Redis, on the run's own clock, the replicas decide as
// they do in process, request by request, and the run's keys are gone
// when it ends. A Redis that is not there stops the run before it starts,
// naming it.
func TestRunAsReplicasSharingARedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	srv := enginetest.StartRedis(t)
	dir := t.TempDir()
	var runs [2]fleetExport
	for i, extra := range [][]string{nil, {"--redis", srv.URL()}} {
		path := filepath.Join(dir, "run.json")
		args := append([]string{"run", "replicas", "--speed", "max", "--headless", "--replica-limits", "shared", "--json", path}, extra...)
		if status, _, errOut := spillway(args...); status != 0 {
			t.Fatalf("%v: %d %s", args, status, errOut)
		}
		readJSON(t, path, &runs[i])
	}
	if !reflect.DeepEqual(runs[0].Requests, runs[1].Requests) || len(runs[0].Requests) != 191 {
		t.Fatalf("in Redis the %d requests went otherwise than the %d in process", len(runs[1].Requests), len(runs[0].Requests))
	}
	if where := runs[1].Summary.Fleet.Where; where != "Redis at "+srv.Addr() {
		t.Errorf("summary.fleet.where: %q", where)
	}
	if keys := srv.Do("DBSIZE"); keys != ":0" {
		t.Errorf("Redis holds %s keys after the run; want its scope forgotten", keys)
	}
	srv.Stop()
	status, _, errOut := spillway("run", "replicas", "--speed", "max", "--headless", "--replica-limits", "shared", "--redis", srv.URL())
	if status == 0 || !strings.Contains(errOut, "the replicas share their limits in Redis") || !strings.Contains(errOut, srv.Addr()) {
		t.Fatalf("with Redis stopped: status %d, stderr %q; want a failure naming Redis at %s", status, errOut, srv.Addr())
	}
}

// On the dashboard: the badge says how the replicas count, the bucket
// panel shows the fleet's capacity, L re-runs the same seed the other way,
// and C compares with the run before.
func TestReplicasOnTheDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the dashboard under tmux")
	}
	term := startTerminal(t, 120, 40, "run", "replicas", "--speed", "200")
	term.waitFor("a fleet with own limits", `OWN LIMITS · 3 replicas`, `(deployment|dep)/primary\s.*/30 `)
	term.waitFor("the leak in the summary", `replicas held it on its own`)
	term.keys("L")
	term.waitFor("the same seed with shared limits", `SHARED LIMITS · 3 replicas`, `(deployment|dep)/primary\s.*/10 `)
	term.waitFor("the held limit in the summary", `The fleet held every limit`)
	term.keys("Escape")
	time.Sleep(300 * time.Millisecond) // Escape then C at once reads as alt+C
	term.keys("C")
	term.waitFor("the run before, to compare with", `previous-replicas-own-limits\.json`)
	term.keys("Enter")
	term.waitFor("the comparison", `replicas: A 3, each counting its own limits, B 3, sharing their limits in this process`)
	term.keys("Escape", "q")
}

// A recorded run as replicas plays back with the badge it had.
func TestAReplayOfReplicasShowsHowTheyCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the dashboard under tmux")
	}
	path := filepath.Join(t.TempDir(), "own.json")
	if status, _, errOut := spillway("run", "replicas", "--speed", "max", "--json", path); status != 0 {
		t.Fatalf("%d %s", status, errOut)
	}
	term := startTerminal(t, 120, 40, "replay", path, "--speed", "50")
	term.waitFor("the replay's badges", `REPLAY\s+OWN LIMITS · 3 replicas`, `(deployment|dep)/primary\s.*/30 `)
	term.keys("q")
}
