package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this binary as the spillway command, so the real
// process can be sent a real Ctrl-C.
func TestMain(m *testing.M) {
	if os.Getenv("SPILLWAY_TEST_AS_COMMAND") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	if upstream := os.Getenv("SPILLWAY_TEST_AS_REVERSE_PROXY"); upstream != "" {
		os.Exit(serveReverseProxy(upstream))
	}
	status := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(status)
}

func spillway(args ...string) (status int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	status = run(args, &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestUsageErrorsExitTwoBeforeDispatching(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "broken.toml")
	os.WriteFile(broken, []byte("[[scenario]]\nname = \"x\"\ntitle = \"t\"\n  [[scenario.deployment]]\n  rpmm = 3\n"), 0o644)
	fifo := filepath.Join(t.TempDir(), "pipe.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	badSyntax := filepath.Join(t.TempDir(), "syntax.toml")
	os.WriteFile(badSyntax, []byte("[[scenario]]\nname = \"x\ntitle = \"t\"\n"), 0o644)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "nope"}, `unknown scenario "nope"; known scenarios: cris, account-sharding, fallback, load-balancing, quota-isolation`},
		{[]string{"run", "fallback", "--speed", "0"}, "--speed must be a number from 0.01 to 100000"},
		{[]string{"run", "fallback", "--speed", "fast"}, "--speed must be a number from 0.01 to 100000"},
		{[]string{"run", "fallback", "--seed", "-1"}, "--seed must be a whole number"},
		{[]string{"run", "fallback", "--json", filepath.Join(t.TempDir(), "missing", "f.json")}, "cannot be written"},
		{[]string{"run", "fallback", "--json", t.TempDir()}, "is a directory"},
		{[]string{"run", "fallback", "--json", "/dev/null"}, "--json /dev/null is a character device, not a regular file, and writing the record would replace it"},
		{[]string{"run", "fallback", "--json", fifo}, "is a named pipe, not a regular file"},
		{[]string{"run", "--scenarios", broken}, broken + ":5:3: scenario.deployment.rpmm: unknown key"},
		{[]string{"validate", badSyntax}, badSyntax + ":2:"},
		{[]string{"run", "--scenarios", filepath.Join(t.TempDir(), "none.toml")}, "cannot read scenario file"},
		{[]string{"run", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"run", "a", "b"}, "run takes one scenario name"},
		{[]string{"run", "--backend", "gcp"}, "--backend must be sim (the embedded emulator) or aws"},
		{[]string{"run", "--endpoint", "http://127.0.0.1:4599"}, "--endpoint goes with --backend aws"},
		{[]string{"run", "--backend", "aws", "--endpoint", "127.0.0.1:4599"}, "--endpoint must be a URL"},
		{[]string{"run", "--backend", "aws", "--speed", "max"}, "--speed max needs simulated time"},
		{[]string{"emulator", "--addr", "0.0.0.0:4599"}, "not loopback"},
		{[]string{"run", "replicas", "--replicas", "0"}, "--replicas must be a whole number from 1 (one gateway) to 64"},
		{[]string{"run", "replicas", "--replicas", "65"}, "--replicas must be a whole number from 1 (one gateway) to 64"},
		{[]string{"run", "replicas", "--replica-limits", "both"}, "--replica-limits must be own"},
		{[]string{"run", "fallback", "--redis", "redis://127.0.0.1:1"}, "--redis shares the limits of a run's replicas: give --replicas N too"},
		{[]string{"run", "replicas", "--redis", "http://127.0.0.1:1", "--replica-limits", "shared"}, "the Redis URL"},
		{[]string{"run", "replicas", "--redis", "redis://127.0.0.1:1"}, "these replicas count their own (limits = \"own\"): add --replica-limits shared"},
		{[]string{"run", "fallback", "--replica-limits", "own"}, "--replica-limits is for a run as replicas"},
	} {
		status, stdout, stderr := spillway(tc.args...)
		if status != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("spillway %v: status %d, stderr %q; want 2 and %q", tc.args, status, stderr, tc.want)
		}
		if stdout != "" {
			t.Errorf("spillway %v printed %q before failing; nothing may be dispatched", tc.args, stdout)
		}
	}
}

func TestListAndValidate(t *testing.T) {
	status, out, _ := spillway("list")
	if status != 0 || !strings.Contains(out, "* fallback") || strings.Count(out, "\n") < 5 {
		t.Fatalf("list: %d %q", status, out)
	}
	for _, name := range []string{"cris", "account-sharding", "load-balancing", "quota-isolation"} {
		if !strings.Contains(out, name) {
			t.Fatalf("list lacks %s", name)
		}
	}
	if status, out, _ := spillway("validate"); status != 0 || !strings.Contains(out, "ok, 15 scenarios") {
		t.Fatalf("validate: %d %q", status, out)
	}
	if status, out, _ := spillway("validate", "scenarios.toml"); status != 0 || !strings.Contains(out, "scenarios.toml: ok") {
		t.Fatalf("validate scenarios.toml: %d %q", status, out)
	}
	if status, out, _ := spillway("--version"); status != 0 || !strings.HasPrefix(out, "spillway ") {
		t.Fatalf("--version: %d %q", status, out)
	}
	if status, out, _ := spillway("--help"); status != 0 || !strings.Contains(out, "--speed") {
		t.Fatalf("--help: %d %q", status, out)
	}
}

func TestRunWritesJSONAndPrintsTheSeedTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.json")
	status, out, stderr := spillway("run", "fallback", "--headless", "--speed", "max", "--json", path)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	for _, want := range []string{"SIMULATED", "→ PRIMARY", "→ FALLBACK!", "FALLBACK RESULTS", "Successful:     10",
		"Model Usage Distribution", "Regional Distribution", "Run recorded to " + path} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var doc struct {
		Summary struct {
			Succeeded    int            `json:"succeeded"`
			ByDeployment map[string]int `json:"by_deployment"`
		} `json:"summary"`
	}
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary.Succeeded != 10 || doc.Summary.ByDeployment["primary"] != 3 || doc.Summary.ByDeployment["fallback"] != 7 {
		t.Fatalf("summary %+v", doc.Summary)
	}
}

func TestJSONToStdoutKeepsStdoutPure(t *testing.T) {
	status, out, stderr := spillway("run", "quota-isolation", "--speed", "max", "--json", "-")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not just JSON: %v\n%s", err, out)
	}
	if !strings.Contains(stderr, "QUOTA ISOLATION RESULTS") || !strings.Contains(stderr, "Consumer Quota Isolation") {
		t.Fatalf("human output should move to stderr:\n%s", stderr)
	}
}

func TestSameSeedSameJSONSummary(t *testing.T) {
	summary := func() string {
		status, out, _ := spillway("run", "account-sharding", "--speed", "max", "--seed", "9", "--json", "-")
		if status != 0 {
			t.Fatal("run failed")
		}
		var doc map[string]json.RawMessage
		json.Unmarshal([]byte(out), &doc)
		return string(doc["summary"])
	}
	if a, b := summary(), summary(); a != b {
		t.Fatalf("same seed, different summaries:\n%s\n%s", a, b)
	}
}

// seedOutcome checks a run's JSON summary against what the seed's demos
// report for each pattern.
func seedOutcome(t *testing.T, name string, doc []byte) {
	t.Helper()
	var d struct {
		Backend string `json:"backend"`
		Summary struct {
			Succeeded    int                       `json:"succeeded"`
			RateLimited  int                       `json:"rate_limited"`
			ByDeployment map[string]int            `json:"by_deployment"`
			ByTenant     map[string]map[string]any `json:"by_tenant"`
			Regions      map[string]map[string]int `json:"regions"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	s := d.Summary
	ok := true
	switch name {
	case "fallback":
		ok = s.Succeeded == 10 && s.ByDeployment["primary"] == 3 && s.ByDeployment["fallback"] == 7
	case "load-balancing":
		ok = s.Succeeded == 10 && s.ByDeployment["primary-a"] == 3 && s.ByDeployment["primary-b"] == 3 && s.ByDeployment["fallback"] == 4
	case "quota-isolation":
		ok = s.Succeeded == 13 && s.RateLimited == 2
	case "cris":
		ok = s.Succeeded == 10 && len(s.Regions["default"]) >= 2 && total(s.Regions["default"]) == 10
	case "account-sharding":
		ok = s.Succeeded == 20 && s.ByDeployment["shard-1"] == 10 && s.ByDeployment["shard-2"] == 10 &&
			total(s.Regions["account1"]) == 10 && total(s.Regions["account2"]) == 10
	}
	if !ok {
		t.Errorf("%s over %s: summary %+v does not show the seed's outcome", name, d.Backend, s)
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

var seedScenarios = []string{"fallback", "load-balancing", "quota-isolation", "cris", "account-sharding"}

// The default backend goes through the AWS SDK to the embedded emulator,
// in process; --loopback takes the same calls over loopback TCP.
func TestSeedOutcomesThroughTheSDKByDefault(t *testing.T) {
	for _, name := range seedScenarios {
		for _, tc := range []struct {
			flags  []string
			header string
		}{
			{nil, "SIMULATED — embedded emulator in process via aws-sdk-go-v2 (no socket)"},
			{[]string{"--loopback"}, "SIMULATED — embedded emulator at http://127.0.0.1:"},
		} {
			status, out, stderr := spillway(append([]string{"run", name, "--speed", "max", "--json", "-"}, tc.flags...)...)
			if status != 0 {
				t.Fatalf("%s %v: status %d: %s", name, tc.flags, status, stderr)
			}
			if !strings.Contains(stderr, tc.header) {
				t.Errorf("%s %v: the header does not say %q:\n%s", name, tc.flags, tc.header, stderr)
			}
			seedOutcome(t, name, []byte(out))
		}
	}
}

// The failure scenarios make their point in the JSON summary through the
// default backend, headless, at speed max, seed 42.
func TestFailureScenariosThroughTheSDK(t *testing.T) {
	type tenant struct {
		Requests, Succeeded int
		RateLimited         int `json:"rate_limited"`
	}
	var doc struct {
		Summary struct {
			Requests, Succeeded, Failed int
			FellBack                    int               `json:"fell_back"`
			ByTenant                    map[string]tenant `json:"by_tenant"`
		} `json:"summary"`
		Faults   []struct{ Fault string } `json:"faults"`
		Requests []struct {
			Attempts []struct {
				Region, Outcome, Reason string
				StartMS                 float64 `json:"start_ms"`
			} `json:"attempts"`
		} `json:"requests"`
	}
	load := func(name string) {
		t.Helper()
		status, out, stderr := spillway("run", name, "--speed", "max", "--json", "-")
		if status != 0 {
			t.Fatalf("%s: status %d: %s", name, status, stderr)
		}
		doc.Summary.ByTenant = nil
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	load("region-outage")
	if s := doc.Summary; s.Succeeded != s.Requests || s.Failed != 0 || len(doc.Faults) != 1 {
		t.Fatalf("region-outage: %+v, faults %v", s, doc.Faults)
	}
	for _, q := range doc.Requests {
		for _, a := range q.Attempts {
			if a.Region == "us-east-2" && a.StartMS >= 60000 && a.StartMS < 120000 {
				t.Fatalf("region-outage: a call ran in us-east-2 at %v ms, while it was down", a.StartMS)
			}
		}
	}

	load("quota-exhaustion")
	if s := doc.Summary; s.Requests != 120 || s.Succeeded != 120 || s.FellBack == 0 {
		t.Fatalf("quota-exhaustion: %+v; want 120 of 120, some through account2's fallback", s)
	}

	load("noisy-neighbour")
	if a := doc.Summary.ByTenant["A"]; a != (tenant{240, 60, 180}) {
		t.Fatalf("noisy-neighbour A: %+v; want 240 sent, 60 through, 180 rate-limited", a)
	}
	for _, name := range []string{"B", "C"} {
		if b := doc.Summary.ByTenant[name]; b != (tenant{20, 20, 0}) {
			t.Fatalf("noisy-neighbour %s: %+v; want 20 of 20", name, b)
		}
	}

	load("throttle-storm")
	skips := 0
	for _, q := range doc.Requests {
		for _, a := range q.Attempts {
			if a.Outcome == "skipped" && a.Reason == "cooldown" {
				skips++
			}
		}
	}
	if s := doc.Summary; s.Succeeded != s.Requests || skips == 0 {
		t.Fatalf("throttle-storm: %+v with %d cooldown skips; want 100%% and some skips", s, skips)
	}
}

// The acceptance path with two processes: 'spillway emulator' in one, and
// runs with --backend aws --endpoint in this one, using the profiles the
// emulator printed.
func TestSeedOutcomesAgainstAStandaloneEmulator(t *testing.T) {
	cmd := exec.Command(os.Args[0], "emulator", "--addr", "127.0.0.1:0", "--speed", "100")
	cmd.Env = append(os.Environ(), "SPILLWAY_TEST_AS_COMMAND=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}()
	var endpoint string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		line := strings.TrimSpace(lines.Text())
		if rest, ok := strings.CutPrefix(line, "endpoint"); ok && endpoint == "" {
			endpoint = strings.TrimSpace(rest)
		}
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			break
		}
	}
	if endpoint == "" || os.Getenv("AWS_SHARED_CREDENTIALS_FILE") == "" {
		t.Fatal("the emulator did not print its endpoint and profiles")
	}
	go io.Copy(io.Discard, stdout)
	for _, name := range seedScenarios {
		status, out, stderr := spillway("run", name, "--headless", "--backend", "aws", "--endpoint", endpoint,
			"--speed", "100", "--json", "-")
		if status != 0 {
			t.Fatalf("%s: status %d: %s", name, status, stderr)
		}
		if !strings.Contains(stderr, "EMULATED ENDPOINT "+endpoint) {
			t.Errorf("%s: header does not name the endpoint:\n%s", name, stderr)
		}
		seedOutcome(t, name, []byte(out))
	}
}

// terminal is the real spillway binary running in a tmux pane, read the
// way a person reads it.
type terminal struct {
	t      *testing.T
	socket string
}

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
	binaryDir  string
)

// spillwayBinary builds the real binary once per test run.
func spillwayBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		if binaryDir, binaryErr = os.MkdirTemp("", "spillway-test-bin-"); binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "spillway")
		if out, err := exec.Command("go", "build", "-o", binaryPath, ".").CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// startTerminal runs spillway with args in a detached tmux session of the
// given size, on a private tmux server.
func startTerminal(t *testing.T, width, height int, args ...string) *terminal {
	t.Helper()
	requireTmux(t)
	term := startPane(t, width, height, nil, spillwayBinary(t)+" "+strings.Join(args, " "))
	// Keep the pane after spillway exits, to read what it printed last.
	term.tmux("set-option", "-t", "spillway", "remain-on-exit", "on")
	return term
}

// startTerminalShowingExit is startTerminal for a command that prints
// nothing as it exits: the pane's shell prints spillway's exit status
// after it. The test reads that line rather than asking tmux whether the
// pane died, which tmux can be seconds late to notice.
func startTerminalShowingExit(t *testing.T, width, height int, args ...string) *terminal {
	t.Helper()
	requireTmux(t)
	term := startPane(t, width, height, nil, spillwayBinary(t)+" "+strings.Join(args, " ")+`; echo "spillway exited with status $?"`)
	term.tmux("set-option", "-t", "spillway", "remain-on-exit", "on")
	return term
}

// waitForExit waits for the line startTerminalShowingExit's shell prints,
// and fails unless spillway exited with status. The line is looked for in
// the pane's history too: leaving the alternate screen may put the cursor
// on the last row, and the line then scrolls off.
func (term *terminal) waitForExit(status int) {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	exited := regexp.MustCompile(`spillway exited with status (\d+)`)
	for {
		if m := exited.FindStringSubmatch(term.tmux("capture-pane", "-p", "-S", "-", "-t", "spillway")); m != nil {
			if m[1] != fmt.Sprint(status) {
				term.t.Fatalf("spillway exited with status %s, want %d:\n%s", m[1], status, term.screen())
			}
			return
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("spillway did not exit within 20 s:\n%s", term.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed, so the real binary cannot be driven in a terminal; install tmux to run this test")
	}
}

var panes atomic.Int64

// startPane runs command in a new pane on a tmux server of its own, with
// env added to its environment.
func startPane(t *testing.T, width, height int, env []string, command string) *terminal {
	t.Helper()
	term := &terminal{t: t, socket: fmt.Sprintf("spillway-test-%d-%d", os.Getpid(), panes.Add(1))}
	args := []string{"-L", term.socket, "new-session", "-d", "-s", "spillway", "-x", fmt.Sprint(width), "-y", fmt.Sprint(height)}
	for _, kv := range env {
		args = append(args, "-e", kv)
	}
	if out, err := exec.Command("tmux", append(args, command)...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-L", term.socket, "kill-server").Run() })
	return term
}

func (term *terminal) tmux(args ...string) string {
	term.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", term.socket}, args...)...).CombinedOutput()
	if err != nil {
		term.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (term *terminal) screen() string { return term.tmux("capture-pane", "-p", "-t", "spillway") }

func (term *terminal) keys(keys ...string) {
	term.tmux(append([]string{"send-keys", "-t", "spillway"}, keys...)...)
}

// waitFor polls the pane until every pattern matches, or fails after 20 s.
func (term *terminal) waitFor(what string, patterns ...string) string {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := term.screen()
		all := true
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(s) {
				all = false
			}
		}
		if all {
			return s
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("waited 20 s for %s; the pane shows:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDashboardInATerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	term := startTerminal(t, 160, 48, "run", "fallback", "--speed", "20", "--json", path)
	// The run ends within seconds, on its results card: the headless
	// summary's tables, until a key is pressed.
	term.waitFor("the results card", `Results · the headless summary.s tables`, `FALLBACK RESULTS`, `Successful:\s+10`,
		`us-east-\d\s+\d+\s+[\d.]+%`)
	term.keys("Escape")
	term.waitFor("lanes, buckets and the Region histogram filled in",
		`SIMULATED`,
		`#10 app\s+·▓+ primary at 3 RPM → fallback\s+fallback us-[a-z]+-\d [\d.]+s`, // the last lane: primary skipped, served by the fallback, and why
		`deployment/primary\s+\S+\s+0\.0/3\s+3 fixed\S* .*ok 3\s+skip 7`,
		`deployment/fallback\s+\S+\s+[\d.]+/25\s+25 fixed\S* .*ok 7\s+skip 0`,
		`Regions · default …\d{4}`,
		`us-east-\d\s+█+\s+\d+\s+[\d.]+%`,
	)
	term.keys("j", "+") // select deployment/primary, raise it by one
	term.waitFor("the primary at 4 RPM", `▶ deployment/primary\s+\S+\s+[\d.]+/4\s+4 fixed`, `deployment/primary → 4 RPM`)
	term.keys("q")
	term.waitFor("the summary after quitting", `Run recorded to `+regexp.QuoteMeta(path))
	var doc struct {
		Scenario string                  `json:"scenario"`
		Summary  struct{ Succeeded int } `json:"summary"`
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Scenario != "fallback" || doc.Summary.Succeeded != 10 {
		t.Fatalf("JSON after q: %v, %+v", err, doc)
	}
}

// regionCount reads one Region's count off the histogram on screen.
func regionCount(t *testing.T, screen, region string) int {
	t.Helper()
	m := regexp.MustCompile(region + `\s+█*\s+(\d+)\s+[\d.]+%`).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no %s bar in the histogram:\n%s", region, screen)
	}
	n := 0
	fmt.Sscan(m[1], &n)
	return n
}

func TestRegionOutageFromTheFaultMenuInATerminal(t *testing.T) {
	term := startTerminal(t, 160, 48, "run", "tuning", "--speed", "20")
	term.waitFor("traffic in us-east-2", `us-east-2\s+█+\s+[1-9]\d*\s+[\d.]+%`)
	term.keys("f")
	term.waitFor("the fault menu", `Faults · enter starts or stops`, `region-outage us-east-2`)
	term.keys("Down", "Enter", "Escape") // the second entry: us-east-2
	term.waitFor("the outage in the header and the histogram",
		`FAULTS: region-outage us-east-2 \(since [\d.]+s\)`, `us-east-2\s+█*\s+\d+\s+[\d.]+%\s+\d+ DOWN since`)
	// Calls placed before the outage still reach the logs for up to 22.5
	// simulated seconds (about 1 s here); after that us-east-2 stands still
	// while the other Regions keep counting.
	time.Sleep(2 * time.Second)
	before := term.screen()
	time.Sleep(3 * time.Second)
	after := term.screen()
	if b, a := regionCount(t, before, "us-east-2"), regionCount(t, after, "us-east-2"); a != b {
		t.Fatalf("us-east-2 went from %d to %d invocations while down:\n%s", b, a, after)
	}
	if b, a := regionCount(t, before, "us-west-2")+regionCount(t, before, "us-east-1"),
		regionCount(t, after, "us-west-2")+regionCount(t, after, "us-east-1"); a <= b {
		t.Fatalf("the other Regions did not take the traffic: %d then %d:\n%s", b, a, after)
	}
	term.keys("q")
	term.waitFor("the summary after quitting", `TUNING RESULTS \(INTERRUPTED\)`)
}

// readJSON reads the JSON file at path into doc.
func readJSON(t *testing.T, path string, doc any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// headerCount reads one of the header's totals, by its long or short label.
func headerCount(t *testing.T, screen string, labels string) int {
	t.Helper()
	re := `(?m)^sent .*?(?:` + labels + `) (\d+)`
	if labels == "sent" {
		re = `(?m)^sent (\d+)`
	}
	m := regexp.MustCompile(re).FindStringSubmatch(screen)
	if m == nil {
		if labels == "sent" {
			t.Fatalf("no totals line on screen:\n%s", screen)
		}
		return 0 // a total still at zero may be left out on a narrow screen
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Mid-run, at the smallest common size and at a presenter's, the real
// binary shows why a request was refused, the trends with their window,
// live success rates per tenant, and its lanes while the fault menu is
// open; at the end its totals are the export's.
func TestDashboardMidRunInATerminal(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.json")
			term := startTerminal(t, size[0], size[1], "run", "noisy-neighbour", "--speed", "10", "--json", path)
			term.waitFor("the reason on a rate-limited lane", `(?m)^#\d+ A .*A over 30 RPM`)
			if size[0] < 120 {
				term.keys("v") // the live figures take the buckets' place
			}
			term.waitFor("live success rates per tenant", `Live figures`, `tenant/A\s+\d+\.\d%`, `tenant/B\s+\d+\.\d%`, `tenant/C\s+\d+\.\d%`)
			if size[0] < 120 {
				term.keys("v") // then the trends
			}
			term.waitFor("the trends with their window", `Trends · \d+s to \d+s · \d+s a cell`, `(?m)^(.*│)?ok\s+[▁-█]{10}`)
			term.keys("f")
			term.waitFor("lanes beside the fault menu", `Faults · enter starts or stops`, `(?m)^#\d+ [ABC] `, `Requests `)
			term.keys("Escape")
			screen := term.waitFor("the end of the run", `(?m)^sent \d+ .*· done`)
			term.keys("q")
			term.waitFor("the record", `Run recorded to `+regexp.QuoteMeta(path))
			var doc struct {
				Summary struct {
					Requests, Succeeded, Failed int
					RateLimited                 int `json:"rate_limited"`
					FellBack                    int `json:"fell_back"`
				} `json:"summary"`
			}
			readJSON(t, path, &doc)
			sum := doc.Summary
			got := [5]int{headerCount(t, screen, "sent"), headerCount(t, screen, "succeeded|ok"), headerCount(t, screen, "fell back"),
				headerCount(t, screen, "rate-limited|rate-ltd"), headerCount(t, screen, "failed")}
			if want := [5]int{sum.Requests, sum.Succeeded, sum.FellBack, sum.RateLimited, sum.Failed}; got != want || sum.Requests == 0 {
				t.Fatalf("on screen sent/succeeded/fell back/rate-limited/failed %v, the export's summary %v:\n%s", got, want, screen)
			}
		})
	}
}

// spillway models lists the catalog: today's models with their profiles,
// output limit, burndown and where they are served on demand.
func TestModelsListsTheCatalog(t *testing.T) {
	status, out, _ := spillway("models")
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^anthropic\.claude-sonnet-4-6\s+Claude Sonnet 4\.6\s+au\. eu\. global\. jp\. us\.\s+64000\s+5×\s+1\.2s \+ 90/s\s+–\s+eu-west-2$`),
		regexp.MustCompile(`(?m)^anthropic\.claude-opus-4-6-v1\s+Claude Opus 4\.6\s+.*us\.\s+128000\s+5×\s+\S+ \+ \S+\s+\d+\s+no$`),
		regexp.MustCompile(`(?m)^amazon\.nova-micro-v1:0\s+Nova Micro\s+eu\. us\.\s+\d+\s+1×\s+.*\s+any Region$`),
		regexp.MustCompile(`(?m)^anthropic\.claude-sonnet-4-20250514-v1:0\s+.*\s+200000\s+ap-east-2`),
	} {
		if !want.MatchString(out) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}
}

// stream-cut through the SDK's event-stream readers and the embedded
// emulator gives what the engine gives in process: the same cuts, failed
// for one app and restarted on the fallback for the other.
func TestStreamCutThroughTheSDK(t *testing.T) {
	status, out, stderr := spillway("run", "stream-cut", "--speed", "max", "--json", "-")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var doc struct {
		Summary struct {
			Succeeded, Failed int
			FellBack          int                             `json:"fell_back"`
			ByTenant          map[string]struct{ Failed int } `json:"by_tenant"`
		} `json:"summary"`
		Requests []struct {
			Tenant, Outcome string
			TTFT            float64 `json:"ttft_ms"`
			Attempts        []struct {
				StreamOutcome  string `json:"stream_outcome"`
				StreamedTokens int    `json:"streamed_tokens"`
			}
		} `json:"requests"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.Summary
	if s.Failed != 11 || s.FellBack != 11 || s.ByTenant["chat"].Failed != 11 || s.ByTenant["chat-restart"].Failed != 0 {
		t.Fatalf("summary %+v; want 11 cuts failed for chat, 11 restarted for chat-restart (as in process)", s)
	}
	for _, q := range doc.Requests {
		last := q.Attempts[len(q.Attempts)-1]
		if q.TTFT <= 0 || q.Outcome == "failed" && (last.StreamOutcome != "StreamCut" || last.StreamedTokens != 40) {
			t.Fatalf("request %+v", q)
		}
	}
}
