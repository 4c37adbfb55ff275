package fleet

import (
	"testing"
	"time"

	"spillway/scenarios"
)

// streamFleet answers in 1 s to the first token, then 100 tokens a second:
// 300 tokens take 3 s more, spread evenly from the first at 1 s to the
// last at 4 s, 3 s / 299 apart.
func streamFleet() *Fleet {
	m := "us.anthropic.claude-sonnet-4-20250514-v1:0"
	s := &scenarios.Scenario{
		Name:        "t",
		Accounts:    []scenarios.Account{{Name: "a", Region: "us-east-1", AccountID: "111122223333", QuotaRPM: scenarios.Unlimited}},
		Deployments: []scenarios.Deployment{{Name: "d", Model: m, Account: "a"}},
		Models: []scenarios.Model{{ID: m, ModelSpeed: scenarios.ModelSpeed{TTFT: time.Second, TokensPerSecond: 100,
			OutputTokens: scenarios.TokenCount{Median: 300, P95: 300}}}},
		Logs: scenarios.Logs{Group: "BedrockModelInvocation"},
	}
	return New(s, nil, 1, epoch)
}

func streamCall() Call {
	c := call("us.anthropic.claude-sonnet-4-20250514-v1:0")
	c.MaxTokens, c.Stream = 1000, true
	return c
}

func TestAStreamsTimingIsTTFTThenTheModelsSpeed(t *testing.T) {
	r := streamFleet().Invoke(epoch, streamCall())
	if r.FirstToken != time.Second || r.OutputTokens != 300 || r.Latency != time.Second+3*time.Second ||
		r.Stream != (StreamPlan{}) || r.StopReason != "end_turn" {
		t.Fatalf("%+v; want the first token at 1s, 300 tokens, done at 4s, nothing wrong", r)
	}
}

func TestStreamingFaults(t *testing.T) {
	for _, tc := range []struct {
		fault      scenarios.Fault
		first, end time.Duration
		tokens     int
		plan       StreamPlan
		stopReason string
		plainLasts time.Duration // a call that is not streamed, with the fault on
	}{
		{fault: scenarios.Fault{Kind: scenarios.StreamSlow, Factor: 2},
			first: time.Second, end: 7 * time.Second, tokens: 300, stopReason: "end_turn", plainLasts: 4 * time.Second},
		{fault: scenarios.Fault{Kind: scenarios.StreamStall, Tokens: 50, Stall: 20 * time.Second},
			first: time.Second, end: 24 * time.Second, tokens: 300, plan: StreamPlan{StallAfter: 50, Stall: 20 * time.Second},
			stopReason: "end_turn", plainLasts: 4 * time.Second},
		// Cut after 100 tokens: the 100th came at 1 s + 99 × 3 s / 299.
		{fault: scenarios.Fault{Kind: scenarios.StreamCut, Tokens: 100, Rate: 1},
			first: time.Second, end: 1993 * time.Millisecond, tokens: 100, plan: StreamPlan{CutAfter: 100}, plainLasts: 4 * time.Second},
		{fault: scenarios.Fault{Kind: scenarios.StreamError, Tokens: 10, Rate: 1, Error: "modelStreamErrorException"},
			first: time.Second, end: 1090 * time.Millisecond, tokens: 10, plan: StreamPlan{ErrorAfter: 10, Error: "modelStreamErrorException"},
			plainLasts: 4 * time.Second},
	} {
		t.Run(string(tc.fault.Kind), func(t *testing.T) {
			f := streamFleet()
			f.InjectFault(1, tc.fault, epoch, time.Time{})
			r := f.Invoke(epoch, streamCall())
			if r.FirstToken != tc.first || r.Latency != tc.end || r.OutputTokens != tc.tokens || r.Stream != tc.plan || r.StopReason != tc.stopReason {
				t.Fatalf("first %v, end %v, %d tokens, plan %+v, stop %q; want %v, %v, %d, %+v, %q",
					r.FirstToken, r.Latency, r.OutputTokens, r.Stream, r.StopReason, tc.first, tc.end, tc.tokens, tc.plan, tc.stopReason)
			}
			plain := streamCall()
			plain.Stream = false
			if r := f.Invoke(epoch, plain); r.Latency != tc.plainLasts || r.Stream != (StreamPlan{}) {
				t.Fatalf("a whole answer with the fault on: %v, %+v; want untouched", r.Latency, r.Stream)
			}
		})
	}
}

// Tokens come at an even cadence from the first to the last, and a stall
// pushes every token after it back by its length.
func TestTokenCadence(t *testing.T) {
	r := streamFleet().Invoke(epoch, streamCall())
	step := (r.Latency - r.FirstToken) / time.Duration(r.OutputTokens-1)
	for i := 1; i < r.OutputTokens; i++ {
		if gap := r.TokenAt(i) - r.TokenAt(i-1); gap < step-time.Microsecond || gap > step+time.Microsecond {
			t.Fatalf("token %d came %v after the one before; want %v, evenly", i, gap, step)
		}
	}
	if r.TokenAt(0) != r.FirstToken || r.TokenAt(r.OutputTokens-1) != r.Latency {
		t.Fatalf("first at %v, last at %v; want %v and %v", r.TokenAt(0), r.TokenAt(r.OutputTokens-1), r.FirstToken, r.Latency)
	}
	f := streamFleet()
	f.InjectFault(1, scenarios.Fault{Kind: scenarios.StreamStall, Tokens: 50, Stall: 20 * time.Second}, epoch, time.Time{})
	s := f.Invoke(epoch, streamCall())
	if s.TokenAt(49) != r.TokenAt(49) || s.TokenAt(50)-r.TokenAt(50) != 20*time.Second || s.StallAt() != r.TokenAt(49) {
		t.Fatalf("with a stall after 50: token 49 at %v, 50 at %v, stall from %v", s.TokenAt(49), s.TokenAt(50), s.StallAt())
	}
}

// A stream cut before its stall never stalls.
func TestACutBeforeTheStallEndsTheStream(t *testing.T) {
	f := streamFleet()
	f.InjectFault(1, scenarios.Fault{Kind: scenarios.StreamCut, Tokens: 40, Rate: 1}, epoch, time.Time{})
	f.InjectFault(2, scenarios.Fault{Kind: scenarios.StreamStall, Tokens: 100, Stall: 30 * time.Second}, epoch, time.Time{})
	r := f.Invoke(epoch, streamCall())
	if r.Stream.Stall != 0 || r.OutputTokens != 40 || r.Latency > 2*time.Second {
		t.Fatalf("%+v; want a cut after 40 tokens, no stall", r)
	}
}
