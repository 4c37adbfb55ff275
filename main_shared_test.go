package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"spillway/engine/enginetest"
)

// chatAnswer is what the shared-limits tests read of an answer.
type chatAnswer struct {
	status     int
	deployment string
}

// chatAll sends count chat completions at once, spread over the gateways
// in turn, and returns their answers.
func chatAll(t *testing.T, gateways []string, key, model string, maxTokens, count int) []chatAnswer {
	t.Helper()
	out := make([]chatAnswer, count)
	var wg sync.WaitGroup
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"model":%q,"max_tokens":%d,"messages":[{"role":"user","content":"hello"}]}`, model, maxTokens)
			req, _ := http.NewRequest("POST", gateways[i%len(gateways)]+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			out[i] = chatAnswer{resp.StatusCode, resp.Header.Get("X-Spillway-Deployment")}
		}()
	}
	wg.Wait()
	return out
}

func tally(answers []chatAnswer) map[string]int {
	by := map[string]int{}
	for _, a := range answers {
		if a.status == 200 {
			by[a.deployment]++
		} else {
			by[fmt.Sprint(a.status)]++
		}
	}
	return by
}

// sharedScenario is the built-in gateway's patterns with models that
// answer in 50 ms, for gateways that share limits, and so count them, in
// real time: "claude" has a 3 RPM primary, "tokens" a primary limited to
// 2,500 tokens a minute, reserved when it is picked (two requests of
// max_tokens 1,000 fit), and both fall back to an unlimited deployment.
// team-a may send 3 requests a minute.
const sharedScenario = `default = "shared"

[[model]]
id = "anthropic.claude-3-7-sonnet-20250219-v1:0"
latency_p50 = "50ms"

[[model]]
id = "anthropic.claude-3-5-sonnet-20241022-v2:0"
latency_p50 = "50ms"

[[scenario]]
name = "shared"
title = "Limits shared by a gateway's replicas"
limiter = "fixed-window"

  [[scenario.account]]
  name = "default"

  [[scenario.deployment]]
  name = "primary"
  model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = 3

  [[scenario.deployment]]
  name = "frugal"
  model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = "unlimited"
  tpm = 2500
  tpm_counting = "reserve"

  [[scenario.deployment]]
  name = "fallback"
  model = "us.anthropic.claude-3-5-sonnet-20241022-v2:0"
  rpm = "unlimited"

  [[scenario.group]]
  name = "claude"
  deployments = ["primary"]
  fallbacks = ["claude-fallback"]

  [[scenario.group]]
  name = "tokens"
  deployments = ["frugal"]
  fallbacks = ["claude-fallback"]

  [[scenario.group]]
  name = "claude-fallback"
  deployments = ["fallback"]

  [[scenario.deployment]]
  name = "ten-1"
  model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = 10

  [[scenario.deployment]]
  name = "ten-2"
  model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = 10

  [[scenario.deployment]]
  name = "ten-3"
  model = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = 10

  [[scenario.group]]
  name = "ten-1"
  deployments = ["ten-1"]
  fallbacks = ["claude-fallback"]

  [[scenario.group]]
  name = "ten-2"
  deployments = ["ten-2"]
  fallbacks = ["claude-fallback"]

  [[scenario.group]]
  name = "ten-3"
  deployments = ["ten-3"]
  fallbacks = ["claude-fallback"]

  [[scenario.tenant]]
  name = "demo"
  rpm = "unlimited"
  arrival = "gateway"
  api_keys = ["sk-demo"]

  [[scenario.tenant]]
  name = "team-a"
  rpm = 3
  arrival = "gateway"
  api_keys = ["sk-team-a"]
`

// sharedGateway runs a gateway of sharedScenario with its limits in the
// Redis at url. Its decisions wait up to two seconds for Redis: these
// tests count what is shared, and a busy machine can hold a call past
// the default tenth of a second, which would leave the gateway counting
// alone.
func sharedGateway(t *testing.T, url string, args ...string) string {
	t.Helper()
	return gatewayProcess(t, append([]string{"--scenarios", sharedScenarioFile(t), "--redis", url, "--redis-deadline", "2s"}, args...)...)
}

func sharedScenarioFile(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "shared.toml")
	if err := os.WriteFile(file, []byte(sharedScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// Two spillway gateway processes sharing one real Redis enforce each
// limit once across both: a 3 RPM deployment serves 3 of 10 requests
// spread over them (not 6), a tenant's 3 RPM lets 3 through, and a 2,500
// TPM deployment takes the two requests that fit.
func TestTwoGatewaysShareTheirLimitsThroughRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and two gateways")
	}
	srv := enginetest.StartRedis(t)
	both := []string{sharedGateway(t, srv.URL()), sharedGateway(t, srv.URL())}
	enginetest.AwayFromAMinuteTurn(t, 20*time.Second)
	if got := tally(chatAll(t, both, "sk-demo", "claude", 50, 10)); got["primary"] != 3 || got["fallback"] != 7 {
		t.Errorf("a 3 RPM primary shared by two gateways served %v; want 3 by primary and 7 by fallback", got)
	}
	if got := tally(chatAll(t, both, "sk-team-a", "claude-fallback", 50, 10)); got["429"] != 7 || got["fallback"] != 3 {
		t.Errorf("team-a's 3 RPM shared by two gateways: %v; want 3 served and 7 answered 429", got)
	}
	if got := tally(chatAll(t, both, "sk-demo", "tokens", 1000, 10)); got["frugal"] != 2 || got["fallback"] != 8 {
		t.Errorf("a 2,500 TPM deployment shared by two gateways served %v; want the 2 requests of 1,000 tokens that fit, and 8 by fallback", got)
	}
}

// Redis killed under a gateway that serves open: requests are still
// served, with this replica's own limits, and the record says when the
// limits stopped being shared and when they were shared again, after
// Redis came back. A gateway that serves closed answers 503 meanwhile.
func TestAGatewayOutlivesItsRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and gateways")
	}
	srv := enginetest.StartRedis(t)
	path := filepath.Join(t.TempDir(), "gateway.json")
	cmd, url := gatewayProcessWithJSON(t, path, "--scenarios", sharedScenarioFile(t), "--redis", srv.URL(), "--redis-deadline", "2s")
	closed := sharedGateway(t, srv.URL(), "--redis-failure", "closed")
	// team-a's 3 RPM is counted in Redis: two of it taken, one by each.
	if got := tally(chatAll(t, []string{url, closed}, "sk-team-a", "claude-fallback", 20, 2)); got["fallback"] != 2 {
		t.Fatalf("with Redis up: %v", got)
	}
	srv.Stop()
	if got := tally(chatAll(t, []string{url}, "sk-team-a", "claude-fallback", 20, 3)); got["fallback"] != 3 {
		t.Errorf("open, with Redis down: %v; want all 3 served with the gateway's own 3 RPM", got)
	}
	if got := tally(chatAll(t, []string{closed}, "sk-team-a", "claude-fallback", 20, 3)); got["503"] != 3 {
		t.Errorf("closed, with Redis down: %v; want 503 for all 3", got)
	}
	srv.Start()                         // empty: a restarted Redis has forgotten the counts
	time.Sleep(1200 * time.Millisecond) // a gateway asks a Redis that failed again after a second
	for _, g := range []string{url, closed} {
		if got := tally(chatAll(t, []string{g}, "sk-team-a", "claude-fallback", 20, 1)); got["fallback"] != 1 {
			t.Errorf("%s, with Redis back: %v; want served", g, got)
		}
	}

	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the gateway exited with %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Events []struct {
			Kind, Error, Message string
		} `json:"events"`
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, ev := range run.Events {
		if ev.Kind == "shared_limits" {
			changes = append(changes, ev.Error)
		}
	}
	if strings.Join(changes, ",") != "SharedLimitsDown,SharedLimitsUp" {
		t.Fatalf("the record's shared_limits events: %v; want down, then up", changes)
	}
	if err := validate(t, exportSchema(t), "gateway", data); err != nil {
		t.Fatal(err)
	}
}

// A Redis busy with a long command (DEBUG SLEEP 5) holds no request past
// the store's deadline: an open gateway serves with its own limits.
func TestASlowRedisDoesNotHoldTheGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and a gateway")
	}
	srv := enginetest.StartRedis(t)
	// The default deadline: the test is that a decision does not wait on.
	url := gatewayProcess(t, "--scenarios", sharedScenarioFile(t), "--redis", srv.URL())
	slept := make(chan struct{})
	go func() { srv.Do("DEBUG", "SLEEP", "5"); close(slept) }()
	time.Sleep(200 * time.Millisecond)
	// team-a's 3 RPM and the primary's 3 RPM are both counted in Redis.
	got := tally(chatAll(t, []string{url}, "sk-team-a", "claude", 20, 3))
	select {
	case <-slept:
		t.Fatalf("the requests were answered only after Redis woke: %v", got)
	default:
	}
	if got["primary"] != 3 {
		t.Fatalf("while Redis sleeps: %v; want all 3 served by the primary, with the gateway's own limits", got)
	}
	<-slept
}

// Two gateway dashboards under tmux sharing one Redis: each shows the
// REDIS badge with both replicas and the fleet's fill; + on one replica's
// primary raises it on the other's screen too, and the requests the other
// serves meet the new limit.
func TestTwoDashboardsShareTheirLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("drives two real gateways under tmux")
	}
	srv := enginetest.StartRedis(t)
	file := sharedScenarioFile(t)
	var terms []*terminal
	var urls []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		term := startTerminal(t, 160, 48, "gateway", "--listen", addr, "--scenarios", file, "--redis", srv.URL(), "--redis-deadline", "2s")
		term.waitFor("the gateway's dashboard", `REDIS`, `(deployment|dep)/primary\s`)
		terms, urls = append(terms, term), append(urls, "http://"+addr)
	}
	for _, term := range terms {
		term.waitFor("both replicas counted", `REDIS · 2 replicas`)
	}
	enginetest.AwayFromAMinuteTurn(t, 40*time.Second)
	if got := tally(chatAll(t, urls, "sk-demo", "claude", 20, 4)); got["primary"] != 3 || got["fallback"] != 1 {
		t.Fatalf("four requests over both: %v; want 3 by the shared 3 RPM primary", got)
	}
	// The fleet's fill, on both screens: the primary has nothing left.
	for _, term := range terms {
		term.waitFor("the shared primary empty", `(deployment|dep)/primary .* 0\.0/3 `)
	}
	// tenant/demo is selected first, then team-a; the primary is two rows down.
	terms[0].keys("j", "j")
	terms[0].waitFor("the primary selected", `▶ (deployment|dep)/primary\s`)
	terms[0].keys("+")
	terms[1].waitFor("the primary raised on the other replica", `(deployment|dep)/primary .* 1\.0/4 `, `primary → 4 RPM`)
	if got := tally(chatAll(t, urls[1:], "sk-demo", "claude", 20, 2)); got["primary"] != 1 || got["fallback"] != 1 {
		t.Fatalf("after + on the first replica, the second served %v; want 1 more by the primary", got)
	}
	for _, term := range terms {
		term.keys("q")
	}
}

// A gateway whose Redis is down when it starts says so once, as the
// record's event, before any request, and serves.
func TestARedisDownAtTheStartIsSaidOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gateway")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "redis://" + ln.Addr().String() + "/0"
	ln.Close() // nothing listens there now
	cmd := exec.Command(spillwayBinary(t), "gateway", "--listen", "127.0.0.1:0", "--scenarios", sharedScenarioFile(t), "--redis", nobody)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	said := 0
	deadline := time.After(3 * time.Second)
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break wait
			}
			if strings.Contains(line, "SHARED LIMITS:") {
				said++
				if !strings.Contains(line, "serving with this replica's own limits") {
					t.Errorf("the line says %q; want what the gateway does meanwhile", line)
				}
			}
		case <-deadline:
			break wait
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	go func() {
		for range lines {
		}
	}()
	cmd.Wait()
	if said != 1 {
		t.Fatalf("a Redis down at the start was said %d times in 3 s; want once", said)
	}
}

// 64 requests at once over four gateway processes, against a deployment
// limited to 10 a minute: exactly 10 are served by it and 54 fall back,
// three times over (each round a deployment of its own, its bucket full).
func TestSixtyFourRequestsOverFourGatewaysAdmitExactlyTen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and four gateways")
	}
	srv := enginetest.StartRedis(t)
	var four []string
	for range 4 {
		four = append(four, sharedGateway(t, srv.URL()))
	}
	enginetest.AwayFromAMinuteTurn(t, 20*time.Second)
	for _, group := range []string{"ten-1", "ten-2", "ten-3"} {
		if got := tally(chatAll(t, four, "sk-demo", group, 20, 64)); got[group] != 10 || got["fallback"] != 54 {
			t.Errorf("%s: 64 at once over four gateways: %v; want 10 by %s and 54 by fallback", group, got, group)
		}
	}
}
