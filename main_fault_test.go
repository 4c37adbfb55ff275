package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"spillway/engine/simaws/emulator"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// The tests in this file make faults the way a person does while a demo
// runs: a real 'spillway emulator' process, then 'spillway fault' or curl
// in another shell, and an AWS SDK client whose calls should feel it.

// standaloneEmulator starts the built binary as 'spillway emulator' on a
// free port, answering at once, and returns its endpoint.
func standaloneEmulator(t *testing.T) string {
	endpoint, _ := standaloneEmulatorWithProfiles(t)
	return endpoint
}

// standaloneEmulatorWithProfiles is standaloneEmulator, and the environment
// its output tells an AWS client to use: the profiles it wrote for every
// account.
func standaloneEmulatorWithProfiles(t *testing.T) (endpoint string, env []string) {
	t.Helper()
	c := startProcess(t, nil, exec.Command(spillwayBinary(t), "emulator", "--addr", "127.0.0.1:0", "--speed", "max"))
	for c.lines.Scan() {
		line := c.lines.Text()
		c.out.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "endpoint"); ok {
			endpoint = strings.TrimSpace(rest)
		}
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
			env = strings.Fields(rest)
		}
		if strings.HasPrefix(line, "Serving until") {
			break
		}
	}
	if !strings.HasPrefix(endpoint, "http://127.0.0.1:") || len(env) != 2 {
		t.Fatalf("no endpoint or profiles in the emulator's output:\n%s\n%s", c.out.String(), c.stderr.String())
	}
	return endpoint, env
}

// spillwayCLI runs the built binary with args and returns its exit status
// and output.
func spillwayCLI(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(spillwayBinary(t), args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// regionsOfConverses makes n Converse calls as the built-in "default"
// account, with a cross-Region profile, and counts where the emulator
// says each ran.
func regionsOfConverses(t *testing.T, endpoint string, n int) map[string]int {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKeyID("default"), emulator.SecretAccessKey, "")}
	client := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.BaseEndpoint, o.Retryer = aws.String(endpoint), aws.NopRetryer{}
	})
	seen := map[string]int{}
	for range n {
		out, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
			ModelId: aws.String("us.anthropic.claude-sonnet-4-20250514-v1:0"),
			Messages: []brtypes.Message{{Role: brtypes.ConversationRoleUser,
				Content: []brtypes.ContentBlock{&brtypes.ContentBlockMemberText{Value: "Why resilience?"}}}},
			InferenceConfig: &brtypes.InferenceConfiguration{MaxTokens: aws.Int32(50)},
		})
		if err != nil {
			t.Fatalf("Converse: %v (so far %v)", err, seen)
		}
		raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
		if !ok || raw.Header.Get(wire.RegionHeader) == "" {
			t.Fatalf("no %s on the reply", wire.RegionHeader)
		}
		seen[raw.Header.Get(wire.RegionHeader)]++
	}
	return seen
}

// callsPerPhase is how many calls each phase makes: enough that calls
// land in us-east-1 (60 of the account's 400 RPM there) when it is up,
// few enough to stay within its quota for the minute.
const callsPerPhase = 40

// A Region outage started with 'spillway fault start' keeps another
// client's cross-Region calls out of the Region until 'spillway fault stop'.
func TestFaultCommandMovesCallsOutOfARegion(t *testing.T) {
	endpoint := standaloneEmulator(t)
	if before := regionsOfConverses(t, endpoint, callsPerPhase); before["us-east-1"] == 0 {
		t.Fatalf("before the outage no call ran in us-east-1 (%v), so the test would prove nothing", before)
	}

	status, out, errOut := spillwayCLI(t, "fault", "start", "region-outage", "--region", "us-east-1", "--endpoint", endpoint)
	if status != 0 || out != "started fault 1: region-outage us-east-1, until stopped\n" {
		t.Fatalf("fault start: exit %d\n%s%s", status, out, errOut)
	}
	// Flags before the action work as well.
	status, out, errOut = spillwayCLI(t, "fault", "--endpoint", endpoint, "list")
	if status != 0 || !regexp.MustCompile(`(?m)^ID +FAULT +STARTS +ENDS\n1 +region-outage us-east-1 +\d\d:\d\d:\d\d +when stopped\n$`).MatchString(out) {
		t.Fatalf("fault list: exit %d\n%s%s", status, out, errOut)
	}
	if during := regionsOfConverses(t, endpoint, callsPerPhase); during["us-east-1"] != 0 || len(during) == 0 {
		t.Fatalf("during the outage the calls ran in %v; want none in us-east-1", during)
	}

	status, out, errOut = spillwayCLI(t, "fault", "stop", "1", "--endpoint", endpoint)
	if status != 0 || out != "stopped fault 1\n" {
		t.Fatalf("fault stop: exit %d\n%s%s", status, out, errOut)
	}
	if after := regionsOfConverses(t, endpoint, callsPerPhase); after["us-east-1"] == 0 {
		t.Fatalf("after the outage the calls ran in %v; want some in us-east-1 again", after)
	}
	status, out, _ = spillwayCLI(t, "fault", "list", "--endpoint", endpoint)
	if status != 0 || !strings.HasPrefix(out, "no faults in effect or scheduled at "+endpoint) {
		t.Fatalf("fault list after the stop: exit %d\n%s", status, out)
	}
	// A second stop is a failure that says what to do, not a usage error.
	status, _, errOut = spillwayCLI(t, "fault", "stop", "1", "--endpoint", endpoint)
	if status != 1 || !strings.Contains(errOut, "spillway: fault stop: no fault 1 is in effect or scheduled") ||
		!strings.Contains(errOut, "'spillway fault list'") {
		t.Fatalf("stopping it again: exit %d\n%s", status, errOut)
	}
	// The emulator's checker speaks through the CLI, naming the flag.
	status, _, errOut = spillwayCLI(t, "fault", "start", "throttle", "--rate", "1.5", "--endpoint", endpoint)
	if status != 1 || !strings.Contains(errOut, "refused: --rate: rate is the fraction of calls affected") {
		t.Fatalf("a rate of 1.5: exit %d\n%s", status, errOut)
	}
}

// The same through curl, as any tool can drive the fault API.
func TestFaultAPIWithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("install curl to run this test")
	}
	endpoint := standaloneEmulator(t)
	send := func(args ...string) (string, string) {
		t.Helper()
		out, err := exec.Command(curl, append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...).Output()
		if err != nil {
			t.Fatalf("curl %v: %v", args, err)
		}
		body, code, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return body, code
	}
	body, code := send("-X", "POST", "-H", "Content-Type: application/json",
		"-d", `{"kind":"region-outage","region":"us-east-1"}`, endpoint+emulator.FaultsPath)
	var started emulator.FaultState
	if err := json.Unmarshal([]byte(body), &started); code != "201" || err != nil || started.ID != 1 ||
		started.Description != "region-outage us-east-1" || started.ToNS != 0 {
		t.Fatalf("POST: %s %s", code, body)
	}
	body, code = send(endpoint + emulator.FaultsPath)
	var list struct{ Faults []emulator.FaultState }
	if err := json.Unmarshal([]byte(body), &list); code != "200" || err != nil || len(list.Faults) != 1 ||
		list.Faults[0].Fault() != (scenarios.Fault{Kind: scenarios.RegionOutage, Region: "us-east-1"}) {
		t.Fatalf("GET: %s %s", code, body)
	}
	if during := regionsOfConverses(t, endpoint, callsPerPhase); during["us-east-1"] != 0 {
		t.Fatalf("during the outage the calls ran in %v; want none in us-east-1", during)
	}
	// curl -d alone sends a form: refused, with what to send instead.
	if body, code = send("-d", `{"kind":"throttle","rate":0.5}`, endpoint+emulator.FaultsPath); code != "415" ||
		!strings.Contains(body, "Content-Type: application/json") {
		t.Fatalf("POST as a form: %s %s", code, body)
	}
	if body, code = send("-X", "DELETE", endpoint+emulator.FaultsPath+"/1"); code != "200" {
		t.Fatalf("DELETE: %s %s", code, body)
	}
	if body, code = send("-X", "DELETE", endpoint+emulator.FaultsPath+"/1"); code != "404" || !strings.Contains(body, `"message":"no fault 1`) {
		t.Fatalf("DELETE again: %s %s", code, body)
	}
	if after := regionsOfConverses(t, endpoint, callsPerPhase); after["us-east-1"] == 0 {
		t.Fatalf("after the outage the calls ran in %v; want some in us-east-1 again", after)
	}
}

// Usage mistakes exit 2 before anything is sent; an emulator that is not
// there exits 1 with the question to ask.
func TestFaultCommandMistakes(t *testing.T) {
	cases := []struct {
		args   []string
		status int
		msg    string
	}{
		{[]string{"fault"}, 2, "fault needs start, stop or list"},
		{[]string{"fault", "restart"}, 2, `fault "restart": use start, stop or list`},
		{[]string{"fault", "start"}, 2, "fault start needs a KIND: one of region-outage, throttle, quota, latency, errors"},
		{[]string{"fault", "start", "throttle", "--rate", "half"}, 2, `--rate must be a number such as 0.5, got "half"`},
		{[]string{"fault", "start", "latency", "--factor", "NaN"}, 2, `--factor must be a number such as 3, got "NaN"`},
		{[]string{"fault", "start", "latency", "--factor", "2", "--for", "soon"}, 2, "--for must be a duration above 0 such as 30s"},
		{[]string{"fault", "start", "latency", "--factor", "2", "--for", "-5s"}, 2, "--for must be a duration above 0 such as 30s"},
		{[]string{"fault", "start", "quota", "--account", "account1", "--quota-rpm", "0"}, 2, `--quota-rpm must be a whole number ≥ 1 or unlimited, got "0"`},
		{[]string{"fault", "stop"}, 2, "fault stop takes one fault ID"},
		{[]string{"fault", "stop", "0"}, 2, `"0" is not a fault ID`},
		{[]string{"fault", "list", "--rate", "0.5", "--region", "us-east-1"}, 2, "--rate, --region go with 'fault start'"},
		{[]string{"fault", "list", "--endpoint", "127.0.0.1:4599"}, 2, "--endpoint must be a URL such as http://127.0.0.1:4599"},
		{[]string{"fault", "list", "--endpoint", "http://127.0.0.1:1"}, 1,
			"fault list: nothing answered at http://127.0.0.1:1 (dial tcp 127.0.0.1:1: connect: connection refused); is 'spillway emulator' running at http://127.0.0.1:1?"},
	}
	for _, c := range cases {
		status, _, stderr := spillway(c.args...)
		if status != c.status || !strings.Contains(stderr, c.msg) || !strings.HasPrefix(stderr, "spillway: fault") {
			t.Errorf("spillway %s: exit %d, %q; want %d with %q", strings.Join(c.args, " "), status, stderr, c.status, c.msg)
		}
	}
	for _, help := range [][]string{{"fault", "--help"}, {"fault", "help"}} {
		if status, stdout, _ := spillway(help...); status != 0 || !strings.Contains(stdout, "spillway fault start KIND") {
			t.Errorf("spillway %s: exit %d\n%s", strings.Join(help, " "), status, stdout)
		}
	}
	if status, stdout, _ := spillway("--help"); status != 0 || !strings.Contains(stdout, "spillway fault stop ID") {
		t.Errorf("the usage does not show spillway fault:\n%s", stdout)
	}
}

// A fault listed on a simulated time far from today shows its date.
func TestFaultListShowsDatesAwayFromToday(t *testing.T) {
	now := time.Date(2026, 11, 21, 14, 0, 0, 0, time.Local)
	var out strings.Builder
	printFaults(&out, "http://x", []emulator.FaultState{
		{ID: 3, Description: "latency ×3", FromNS: now.UnixNano()},
		{ID: 12, Description: "throttle 50%", FromNS: now.Add(48 * time.Hour).UnixNano(), ToNS: now.Add(49 * time.Hour).UnixNano()},
	}, now)
	want := "ID  FAULT         STARTS               ENDS\n" +
		"3   latency ×3    14:00:00             when stopped\n" +
		"12  throttle 50%  2026-11-23 14:00:00  2026-11-23 15:00:00\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}
