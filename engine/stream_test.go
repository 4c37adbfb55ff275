package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/scenarios"
)

// streamScenario streams from a primary that answers its first token at
// 800 ms and then 100 tokens a second, 200 tokens in all (done at 2.8 s),
// with a fallback group behind it.
func streamScenario(gateway, fault, tenant string) string {
	return fmt.Sprintf(`
[[model]]
id = "anthropic.claude-3-7-sonnet-20250219-v1:0"
ttft = "800ms"
tokens_per_second = 100
output_tokens = 200

[[model]]
id = "anthropic.claude-3-5-sonnet-20241022-v2:0"
ttft = "500ms"
tokens_per_second = 100
output_tokens = 200

[[scenario]]
name = "s"
title = "streams"
stream = true
max_tokens = 1000
  [scenario.gateway]
  %s
  [[scenario.account]]
  name = "a"
  [[scenario.deployment]]
  name = "primary"
  model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
  rpm = "unlimited"
  [[scenario.deployment]]
  name = "fallback"
  model = "anthropic.claude-3-5-sonnet-20241022-v2:0"
  rpm = "unlimited"
  [[scenario.group]]
  name = "primary"
  deployments = ["primary"]
  fallbacks = ["fallback"]
  [[scenario.group]]
  name = "fallback"
  deployments = ["fallback"]
  [[scenario.tenant]]
  name = "app"
  rpm = "unlimited"
  requests = 1
  %s
%s
`, gateway, tenant, fault)
}

const primaryFault = `
  [[scenario.fault]]
  model = "anthropic.claude-3-7-sonnet-20250219-v1:0"
`

func runStream(t *testing.T, src string) enginetest.Run {
	t.Helper()
	r := enginetest.NewRun(t, enginetest.Parse(t, src), "s", engine.Options{Seed: 1})
	r.Do(t)
	return r
}

func only(t *testing.T, r enginetest.Run, k engine.Kind) engine.Event {
	t.Helper()
	evs := r.Events.Of(k)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want 1: %+v", len(evs), k, evs)
	}
	return evs[0]
}

func TestAStreamsFirstTokenThenItsEnd(t *testing.T) {
	r := runStream(t, streamScenario("", "", ""))
	first, done := only(t, r, engine.FirstToken), only(t, r, engine.Succeeded)
	if first.At != 800*time.Millisecond || first.TTFT != 800*time.Millisecond || first.Deployment != "primary" {
		t.Fatalf("first token %+v; want at 800ms", first)
	}
	if done.At != 2800*time.Millisecond || done.TTFT != 800*time.Millisecond || done.Streamed != 200 {
		t.Fatalf("answer %+v; want at 2.8s (800ms + 200 tokens at 100/s), 200 streamed", done)
	}
	q := r.Record.Requests()[0]
	if a := q.Attempts[0]; a.TTFTMS != 800 || a.StreamedTokens != 200 || a.StreamOutcome != "complete" || q.TTFTMS != 800 {
		t.Fatalf("record %+v, attempt %+v", q, a)
	}
}

func TestStreamFaultsAfterTheFirstTokenNeverFallBack(t *testing.T) {
	for _, tc := range []struct {
		name, gateway, fault string
		code                 string
		at                   time.Duration
		streamed             int
	}{
		// The 50th token comes at 800 ms + 49 × 2 s / 199.
		{"cut", "", `kind = "stream-cut"` + "\n  tokens = 50", engine.StreamCut, 1292 * time.Millisecond, 50},
		{"error", "", `kind = "stream-error"` + "\n  rate = 1.0\n  tokens = 20\n  error = \"modelStreamErrorException\"",
			"modelStreamErrorException", 991 * time.Millisecond, 20},
		// A 30 s stall after 100 tokens, timed out 5 s into it.
		{"stall", `stall_timeout = "5s"`, `kind = "stream-stall"` + "\n  tokens = 100\n  stall = \"30s\"",
			engine.StreamStalled, 1795*time.Millisecond + 5*time.Second, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runStream(t, streamScenario(tc.gateway, primaryFault+"  "+tc.fault, ""))
			failed := only(t, r, engine.Failed)
			if failed.Code != tc.code || failed.At.Round(time.Millisecond) != tc.at || failed.Streamed != tc.streamed {
				t.Fatalf("failed %+v; want %s at %v after %d tokens", failed, tc.code, tc.at, tc.streamed)
			}
			if n := len(r.Events.Of(engine.FellBack)); n != 0 {
				t.Fatalf("%d fallbacks after the first token; want none: the client has seen tokens", n)
			}
			if a := r.Record.Requests()[0].Attempts[0]; a.StreamedTokens != tc.streamed || a.StreamOutcome != tc.code {
				t.Fatalf("attempt %+v", a)
			}
		})
	}
}

func TestRestartMidStreamFinishesOnTheFallback(t *testing.T) {
	r := runStream(t, streamScenario("restart_mid_stream = true", primaryFault+`  kind = "stream-cut"`+"\n  tokens = 50", ""))
	fell := only(t, r, engine.FellBack)
	done := only(t, r, engine.Succeeded)
	if fell.Streamed != 50 || done.Deployment != "fallback" || !done.Fallback {
		t.Fatalf("fell back %+v, then %+v; want a restart after 50 tokens, served by the fallback", fell, done)
	}
	q := r.Record.Requests()[0]
	if len(q.Attempts) != 2 || q.Attempts[0].StreamedTokens != 50 || q.Attempts[0].StreamOutcome != engine.StreamCut || q.Outcome != "succeeded" {
		t.Fatalf("record %+v; the first attempt's 50 tokens reached the client and stay on record", q)
	}
	// A tenant may restart where the gateway does not.
	r = runStream(t, streamScenario("", primaryFault+`  kind = "stream-cut"`+"\n  tokens = 50", "restart_mid_stream = true"))
	if only(t, r, engine.Succeeded).Deployment != "fallback" {
		t.Fatal("the tenant's restart_mid_stream did not restart")
	}
}

func TestTTFTTimeoutFallsBackBeforeTheFirstToken(t *testing.T) {
	// The primary's first token would come at 800 ms; the gateway waits
	// 500 ms, then falls back, as nothing has reached the client.
	f := enginetest.Parse(t, streamScenario(`ttft_timeout = "500ms"`, "", ""))
	f.Scenarios[0].FallbackOn = []scenarios.ErrorClass{scenarios.ClassThrottled, scenarios.ClassTimeout}
	r := enginetest.NewRun(t, f, "s", engine.Options{Seed: 1})
	r.Do(t)
	if n := len(r.Events.Of(engine.FirstToken)); n != 1 {
		t.Fatalf("%d first tokens; want only the fallback's", n)
	}
	done := only(t, r, engine.Succeeded)
	if done.Deployment != "fallback" || done.At != 500*time.Millisecond+2500*time.Millisecond {
		t.Fatalf("answer %+v; want the fallback's, 500ms waited + 500ms to its first token + 200 tokens at 100/s", done)
	}
	if e := only(t, r, engine.Errored); e.Code != engine.NoFirstToken {
		t.Fatalf("the primary's attempt ended %+v", e)
	}
}

func TestStreamingKeepsTheSeedSplits(t *testing.T) {
	for _, name := range []string{"fallback", "load-balancing", "quota-isolation", "cris", "account-sharding"} {
		plain := enginetest.NewRun(t, builtin(t), name, engine.Options{Seed: 42}).Do(t)
		f := builtin(t)
		s, _ := f.Lookup(name)
		for i := range s.Tenants {
			s.Tenants[i].Stream = true
		}
		streamed := enginetest.NewRun(t, f, name, engine.Options{Seed: 42}).Do(t)
		if plain.Succeeded != streamed.Succeeded || plain.FellBack != streamed.FellBack || plain.RateLimited != streamed.RateLimited ||
			fmt.Sprint(plain.ByDeployment) != fmt.Sprint(streamed.ByDeployment) || fmt.Sprint(plain.Regions) != fmt.Sprint(streamed.Regions) {
			t.Fatalf("%s streamed: %+v; whole answers: %+v", name, streamed, plain)
		}
	}
}

// stream-cut: the first app's cut streams fail with the 40 tokens its
// users saw; the second app restarts them on the fallback and loses none.
func TestStreamCutScenario(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "stream-cut", engine.Options{Seed: 42})
	sum := r.Do(t)
	chat, restart := sum.ByTenant["chat"], sum.ByTenant["chat-restart"]
	if chat.Failed == 0 || restart.Failed != 0 || sum.FellBack != chat.Failed || sum.ByDeployment["haiku"] != sum.FellBack {
		t.Fatalf("chat %+v, chat-restart %+v, fell back %d, %v; want the cuts failed for chat and restarted for chat-restart",
			chat, restart, sum.FellBack, sum.ByDeployment)
	}
	for _, q := range r.Record.Requests() {
		if q.Outcome != "failed" {
			continue
		}
		if a := q.Attempts[len(q.Attempts)-1]; q.Tenant != "chat" || a.StreamOutcome != engine.StreamCut || a.StreamedTokens != 40 || q.StartMS < 30000 || q.StartMS >= 90000 {
			t.Fatalf("failed request %+v; want chat's, cut after 40 tokens during the fault", q)
		}
	}
}

// Breaks that come before any token are errors like any other: a model
// with a speed but no time to first token still has its cut streams fail,
// a stall before the first token is a late first token the TTFT timeout
// catches, and an exception event before any token falls back as its
// kind of error does.
func TestBreaksBeforeTheFirstTokenAreOrdinaryErrors(t *testing.T) {
	src := strings.Replace(streamScenario("", primaryFault+`  kind = "stream-cut"`+"\n  tokens = 40", ""), `ttft = "800ms"`+"\n", "", 1)
	r := runStream(t, src)
	if f := only(t, r, engine.Failed); f.Code != engine.StreamCut || f.Streamed != 40 {
		t.Fatalf("a cut stream of a model without ttft: %+v; want it failed after 40 tokens", f)
	}
	f := enginetest.Parse(t, streamScenario(`ttft_timeout = "2s"`, primaryFault+`  kind = "stream-stall"`+"\n  tokens = 0\n  stall = \"30s\"", ""))
	f.Scenarios[0].FallbackOn = []scenarios.ErrorClass{scenarios.ClassTimeout}
	r = enginetest.NewRun(t, f, "s", engine.Options{Seed: 1})
	r.Do(t)
	if done := only(t, r, engine.Succeeded); done.Deployment != "fallback" {
		t.Fatalf("a stall before the first token: %+v; want the TTFT timeout to fall back", done)
	}
	r = runStream(t, streamScenario("", primaryFault+`  kind = "stream-error"`+"\n  rate = 1.0\n  tokens = 0\n  error = \"throttlingException\"", ""))
	if done := only(t, r, engine.Succeeded); done.Deployment != "fallback" || only(t, r, engine.Throttled).Code != "throttlingException" {
		t.Fatalf("a throttlingException before any token: %+v; want a throttle that falls back", done)
	}
}

// streamingBackend is a network backend that streams: it tells the engine
// of its first token after a moment, then answers.
type streamingBackend struct{}

func (streamingBackend) Instant() bool { return false }
func (streamingBackend) Invoke(_ context.Context, _ time.Time, c engine.Call) engine.Reply {
	time.Sleep(2 * time.Millisecond)
	if c.FirstToken != nil {
		c.FirstToken()
	}
	time.Sleep(2 * time.Millisecond)
	return engine.Reply{RequestID: "r", FirstToken: 2 * time.Millisecond, Streamed: 10, OutputTokens: 10}
}

// On the wall clock a network backend tells the engine of a first token as
// it comes, so the phase is marked there too, before the answer.
func TestAWallClockStreamMarksItsFirstToken(t *testing.T) {
	f := enginetest.Parse(t, streamScenario("", "", ""))
	r := enginetest.NewRun(t, f, "s", engine.Options{Seed: 1, Speed: 1, Clock: realClock{}, Backend: streamingBackend{}})
	r.Do(t)
	first, done := only(t, r, engine.FirstToken), only(t, r, engine.Succeeded)
	if first.At > done.At || first.TTFT <= 0 || first.Deployment != "primary" {
		t.Fatalf("first token %+v, answer %+v; want the first token marked before the answer", first, done)
	}
}

// The Region histogram waits for every call that ran, broken streams
// included, since Bedrock logs them: the logs end accounting for all.
func TestTheHistogramCountsBrokenStreamsToo(t *testing.T) {
	r := enginetest.NewRun(t, builtin(t), "stream-cut", engine.Options{Seed: 42})
	sum := r.Do(t)
	logged := 0
	for _, n := range sum.Regions["default"] {
		logged += n
	}
	if broken := sum.Streaming.Broken[engine.StreamCut]; logged != sum.Succeeded+broken || sum.Logs["default"].Unaccounted != 0 {
		t.Fatalf("%d logged, %d succeeded, %d broken, logs %+v; want the histogram to hold them all", logged, sum.Succeeded, broken, sum.Logs)
	}
	if _, ok := sum.ByDeployment["sonnet/tpm"]; ok {
		t.Fatal("a TPM bucket counted as a deployment")
	}
}
