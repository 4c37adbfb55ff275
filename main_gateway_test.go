package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openAIVersion is the official openai npm package the gateway is tested
// with: a client nobody here wrote.
const openAIVersion = "7.59.0"

// openAIClient installs the openai package once, into the user's cache
// (not the repository), and returns the directory that holds it.
func openAIClient(t testing.TB) string {
	t.Helper()
	return npmPackage(t, "openai", openAIVersion, "the official OpenAI client")
}

// npmPackage installs an npm package at a version once, into the user's
// cache (not the repository), and returns the directory whose
// node_modules holds it. Without node and npm, or without the registry,
// the test skips and says what it needed.
func npmPackage(t testing.TB, name, version, what string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed, so %s cannot be run; install nodejs and npm (apt-get install nodejs npm) to run this test", tool, what)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "spillway-test", strings.ReplaceAll(strings.TrimPrefix(name, "@"), "/", "-")+"-"+version)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", name, "package.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private":true,"type":"module"}`), 0o644)
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--silent", name+"@"+version)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm could not install %s@%s (%v): %s; check the npm registry is reachable", name, version, err, out)
	}
	return dir
}

// gatewayProcess runs the real binary's gateway on a free loopback port
// and returns its base URL.
func gatewayProcess(t *testing.T, args ...string) string {
	t.Helper()
	_, url := startGateway(t, args...)
	return url
}

// gatewayProcessWithJSON is gatewayProcess recording to path; the test
// stops it (SIGINT, then Wait) to read the record.
func gatewayProcessWithJSON(t *testing.T, path string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return startGateway(t, append([]string{"--json", path}, args...)...)
}

// startGateway runs the real binary's gateway and returns it and its
// base URL. Unless the test has stopped it, it is stopped with Ctrl-C
// when the test ends, and must exit cleanly.
func startGateway(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(spillwayBinary(t), append([]string{"gateway", "--listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	listening := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`)
	url := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if m := listening.FindStringSubmatch(lines.Text()); m != nil {
				url <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState != nil {
			return // the test stopped it
		}
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the gateway exited with %v after Ctrl-C", err)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("the gateway did not stop within 20 s of Ctrl-C")
		}
	})
	select {
	case u := <-url:
		return cmd, u
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway did not say where it listens within 30 s")
	}
	return nil, ""
}

// A gateway session stopped with Ctrl-C is recorded as a run: it matches
// the export schema, holds every request with who served it, and plays
// back and compares like any other run.
func TestGatewaySessionIsARecordedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the gateway")
	}
	path := filepath.Join(t.TempDir(), "session.json")
	cmd := exec.Command(spillwayBinary(t), "gateway", "--listen", "127.0.0.1:0", "--speed", "20", "--json", path)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	url := ""
	for url == "" && lines.Scan() {
		if m := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(lines.Text()); m != nil {
			url = m[1]
		}
	}
	go func() {
		for lines.Scan() {
		}
	}()
	for i := range 5 {
		req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(`{"model":"claude","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer sk-demo")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("request %d: %v %v", i, resp, err)
		}
		resp.Body.Close()
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the gateway exited with %v after Ctrl-C", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, exportSchema(t), "gateway", data); err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Requests []struct {
			Outcome, Deployment string
		}
	}
	json.Unmarshal(data, &rec)
	served := map[string]int{}
	for _, q := range rec.Requests {
		served[q.Outcome+" "+q.Deployment]++
	}
	if len(rec.Requests) != 5 || served["succeeded primary"] != 3 || served["succeeded fallback"] != 2 {
		t.Fatalf("the record holds %d requests: %v", len(rec.Requests), served)
	}
	if status, out, errOut := spillway("replay", path, "--headless"); status != 0 || !strings.Contains(out+errOut, "PRIMARY") {
		t.Fatalf("replay: %d\n%s%s", status, out, errOut)
	}
	if status, out, errOut := spillway("compare", path, path); status != 0 || !strings.Contains(out, "primary") {
		t.Fatalf("compare: %d\n%s%s", status, out, errOut)
	}
}

// The seed's three gateway patterns, sent by the official openai npm
// client through the real binary's gateway on the embedded emulator.
func TestOpenAIClientThroughTheGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the gateway and node")
	}
	dir := openAIClient(t)
	url := gatewayProcess(t, "--speed", "20")
	script := `
import OpenAI from "openai";
const [base, pattern] = process.argv.slice(2);
const client = (key) => new OpenAI({ apiKey: key, baseURL: base + "/v1", maxRetries: 0 });
const ask = async (key, model) => {
  try {
    const { data, response } = await client(key).chat.completions
      .create({ model, messages: [{ role: "user", content: "Why do LLM applications need resilience?" }] })
      .withResponse();
    return { key, status: response.status, deployment: response.headers.get("x-spillway-deployment"),
             text: data.choices[0].message.content, tokens: data.usage.total_tokens };
  } catch (e) {
    return { key, status: e.status, retryAfter: e.headers?.get?.("retry-after") ?? null, code: e.code ?? null };
  }
};
let results;
if (pattern === "fallback") results = await Promise.all(Array.from({ length: 10 }, () => ask("sk-demo", "claude")));
if (pattern === "balance") results = await Promise.all(Array.from({ length: 10 }, () => ask("sk-demo", "balanced")));
if (pattern === "isolation") results = await Promise.all(["sk-team-a", "sk-team-b", "sk-team-c"].flatMap((k) => Array.from({ length: 5 }, () => ask(k, "claude"))));
if (pattern === "stream") {
  const stream = await client("sk-demo").chat.completions.create({ model: "claude", stream: true,
    messages: [{ role: "user", content: "hello" }] });
  let text = "", chunks = 0, finish = null, firstText = 0, lastText = 0;
  for await (const chunk of stream) {
    chunks++;
    const piece = chunk.choices[0]?.delta?.content ?? "";
    if (piece) { lastText = performance.now(); firstText ||= lastText; }
    text += piece; finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  results = [{ status: 200, chunks, text, finish, spreadMs: Math.round(lastText - firstText) }];
}
console.log(JSON.stringify(results));
`
	path := filepath.Join(dir, "patterns.mjs")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	type result struct {
		Key, Deployment, Text, Code, Finish string
		Status, Tokens, Chunks, SpreadMs    int
		RetryAfter                          *string
	}
	// Each pattern gets a gateway of its own, so that its buckets start full.
	send := func(url, pattern string) []result {
		out, err := exec.Command("node", path, url, pattern).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: node: %v\n%s", pattern, err, out)
		}
		var rs []result
		if err := json.Unmarshal(out, &rs); err != nil {
			t.Fatalf("%s: %v\n%s", pattern, err, out)
		}
		return rs
	}
	count := func(rs []result) map[string]int {
		by := map[string]int{}
		for _, r := range rs {
			if r.Status != 200 || r.Text == "" || r.Tokens == 0 {
				t.Errorf("not a full 200 answer: %+v", r)
			}
			by[r.Deployment]++
		}
		return by
	}
	if got := count(send(url, "fallback")); got["primary"] != 3 || got["fallback"] != 7 {
		t.Errorf("fallback: served %v, want 3 by primary and 7 by fallback", got)
	}
	if got := count(send(gatewayProcess(t, "--speed", "20"), "balance")); got["primary-a"] != 3 || got["primary-b"] != 3 || got["overflow"] != 4 {
		t.Errorf("load balancing: served %v, want 3/3/4", got)
	}
	served, limited := map[string]int{}, map[string]int{}
	for _, r := range send(gatewayProcess(t, "--speed", "20"), "isolation") {
		switch {
		case r.Status == 200:
			served[r.Key]++
		case r.Status == 429 && r.RetryAfter != nil && r.Code == "rate_limit_exceeded":
			limited[r.Key]++
		default:
			t.Errorf("isolation: %+v", r)
		}
	}
	if served["sk-team-a"] != 3 || limited["sk-team-a"] != 2 || served["sk-team-b"] != 5 || served["sk-team-c"] != 5 {
		t.Errorf("isolation: served %v, limited %v; want team-a 3 and 2 (429 with Retry-After), team-b and team-c 5 of 5", served, limited)
	}
	// The stream at speed 2, so that its tokens come at a tenth of their
	// pace at 20: some hundreds of milliseconds apart from first to last.
	s := send(gatewayProcess(t, "--speed", "2"), "stream")[0]
	if s.Chunks < 3 || s.Text == "" || s.Finish != "stop" {
		t.Errorf("stream: %+v", s)
	}
	// The emulator streams its tokens at the model's speed, and the
	// gateway passes each on as it comes: the text cannot all arrive at
	// once, as it would if it waited for the end.
	t.Logf("stream: %d chunks, the text over %d ms", s.Chunks, s.SpreadMs)
	if s.SpreadMs < 50 {
		t.Errorf("stream: the text came within %d ms, all at once; want it as the tokens come", s.SpreadMs)
	}
}

// The AWS CLI, whose botocore is boto3's, uses the gateway as its
// endpoint: the seed's fallback through the Bedrock door, the tenant from
// the access key id it signs with.
func TestAWSCLIThroughTheGatewaysBedrockDoor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the gateway and the AWS CLI")
	}
	aws := awsCLI(t)
	// Each CLI call starts Python, a second or more: at speed 2 the
	// primary's minute is 30 s of wall time, which four calls sit inside.
	url := gatewayProcess(t, "--speed", "2")
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=sk-demo", "AWS_SECRET_ACCESS_KEY=not-checked", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1")
	var texts []string
	for range 4 {
		cmd := exec.Command(aws, "bedrock-runtime", "converse", "--endpoint-url", url, "--model-id", "claude",
			"--messages", `[{"role":"user","content":[{"text":"Why resilience?"}]}]`, "--output", "json")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws bedrock-runtime converse: %v\n%s", err, out)
		}
		var answer struct {
			Output struct {
				Message struct {
					Content []struct{ Text string }
				}
			}
			Usage struct{ TotalTokens int }
		}
		if err := json.Unmarshal(out, &answer); err != nil || len(answer.Output.Message.Content) == 0 || answer.Usage.TotalTokens == 0 {
			t.Fatalf("not a Converse answer: %s", out)
		}
		texts = append(texts, answer.Output.Message.Content[0].Text)
	}
	// The primary (3.7 Sonnet) takes three a minute; the fourth comes from
	// the fallback (3.5 Sonnet), whose simulated answer names it.
	if !strings.Contains(texts[0], "claude-3-7") || !strings.Contains(texts[3], "claude-3-5") {
		t.Fatalf("answers: %q", texts)
	}
}

// The dashboard in gateway mode, in a real terminal: an outside client's
// requests show as lanes, and + on a deployment changes what the next
// request gets. At speed 2 the primary's minute is 30 s of wall time,
// which the whole exchange sits inside.
func TestGatewayDashboardInATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the real binary under tmux")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	term := startTerminal(t, 160, 48, "gateway", "--listen", addr, "--speed", "2")
	term.waitFor("the gateway's dashboard", `Gateway on http://`+regexp.QuoteMeta(addr), `deployment/primary\s`)
	url := "http://" + addr
	ask := func() string {
		req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(`{"model":"claude","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer sk-demo")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.Header.Get("X-Spillway-Deployment")
	}
	var served []string
	for range 4 {
		served = append(served, ask())
	}
	if strings.Join(served, " ") != "primary primary primary fallback" {
		t.Fatalf("served by %v; want the 3 RPM primary three times, then the fallback", served)
	}
	term.waitFor("the client's requests as lanes", `#1 demo .*primary`, `#4 demo .*fallback`, `sent 4 · in flight 0 · succeeded 4 · fell back 1`)
	// tenant/demo is selected first; the primary is four rows down.
	term.keys("j", "j", "j", "j")
	term.waitFor("the primary selected", `▶ deployment/primary\s`)
	term.keys("+")
	term.waitFor("the primary raised", `deployment/primary .* 4 fixed`)
	if got := ask(); got != "primary" {
		t.Fatalf("after + on the primary, the next request was served by %q", got)
	}
	term.waitFor("its lane", `#5 demo .*primary`)
	term.keys("q")
}

// Each way to ask the gateway for something it cannot do is refused before
// it listens, with what to do instead.
func TestGatewayFlagsAreChecked(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--speed", "max"}, "--speed max has no meaning for a gateway"},
		{[]string{"--backend", "aws", "--speed", "20"}, "--speed must be 1"},
		{[]string{"--endpoint", "http://127.0.0.1:4599"}, "--endpoint goes with --backend aws"},
		{[]string{"--backend", "bedrock"}, "--backend must be sim"},
		{[]string{"gateway", "fallback"}, "gateway takes one scenario name"},
		{[]string{"fallback"}, "sends its own traffic"},
		{[]string{"--listen", "4000"}, "--listen must be host:port"},
		{[]string{"--redis", "127.0.0.1:6379"}, "give one such as redis://"},
		{[]string{"--redis", "redis://127.0.0.1:6379/0", "--speed", "20"}, "--speed must be 1"},
		{[]string{"--redis", "redis://127.0.0.1:6379/0", "--redis-failure", "maybe"}, "--redis-failure must be open"},
		{[]string{"--redis", "redis://127.0.0.1:6379/0", "--redis-deadline", "0s"}, "--redis-deadline must be above 0"},
	} {
		status, _, stderr := spillway(append([]string{"gateway"}, c.args...)...)
		if status != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("spillway gateway %s: status %d, stderr %q; want 2 and %q", strings.Join(c.args, " "), status, stderr, c.want)
		}
	}
}
