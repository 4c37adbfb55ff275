package engine

import (
	"context"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

// Call is one model invocation the engine asks a backend for.
type Call struct {
	Request      int
	Attempt      int
	Deployment   string
	Account      string // account name in the scenario
	SourceRegion string
	ModelID      string
	Operation    string
	Prompt       string
	// InputTokens is the request's input as the gateway counted it; a
	// backend sends a prompt of that many tokens (scenarios.PromptOfTokens).
	InputTokens int
	MaxTokens   int
	// Stream asks for the streaming operation. A network backend then
	// enforces TTFTTimeout and StallTimeout itself, as only it sees the
	// tokens come; 0 means none.
	Stream                    bool
	TTFTTimeout, StallTimeout time.Duration
	// Messages, when set, are a gateway client's conversation, which a
	// backend sends as it is instead of a prompt of InputTokens.
	Messages []Message
	// FirstToken, when set, is what a network backend calls, once, from
	// its own goroutine, when a streamed answer's first token arrives: the
	// engine marks the phase then, on its clock.
	FirstToken func()
	// Text, when set, is what a network backend calls from its own
	// goroutine with each piece of a streamed answer's text as it comes:
	// a gateway client's stream, passed on without the engine in between.
	// It must not block for long.
	Text func(piece string)
}

// Message is one turn of a gateway client's conversation.
type Message struct {
	Role string // "user" or "assistant"; a system prompt is System
	Text string
}

// Reply is a backend's answer. Code is empty on success.
type Reply struct {
	RequestID    string
	Text         string        // the answer's text, for a gateway client
	Region       string        // where it ran, if the backend knows
	Latency      time.Duration // simulated; set by instant backends
	InputTokens  int
	OutputTokens int
	Code         string // AWS error code, such as ThrottlingException; empty on success
	Message      string // the error message as the provider sent it
	// Class is set by backends that know more than the code says, such as a
	// client-side timeout. Empty means wire.Classify(Code).
	Class scenarios.ErrorClass
	// RetryAfter is the provider's Retry-After, when it sent one.
	RetryAfter time.Duration

	// A streamed answer: FirstToken is when its first token came, since
	// the call (0: none came); Streamed the output tokens that came. Broken
	// says how a stream that began ended early: StreamCut (the connection
	// dropped with no end to the stream), StreamStalled (no token for the
	// stall timeout), or the type of the exception event Bedrock sent
	// (modelStreamErrorException, …). On simulated time, StallAt and Stall
	// are a pause in the tokens, for the engine to time a stall out.
	FirstToken     time.Duration
	Streamed       int
	Broken         string
	StallAfter     int // tokens before the pause
	StallAt, Stall time.Duration
}

// How a stream that began can end without its last event.
const (
	StreamCut     = "StreamCut"
	StreamStalled = "StreamStalled"
	// NoFirstToken is the code of an attempt whose first token did not
	// come within the TTFT timeout: nothing reached the client yet.
	NoFirstToken = "NoFirstTokenInTime"
)

// class is the reply's error class; "" on success.
func (r *Reply) class() scenarios.ErrorClass {
	switch {
	case r.Class != "":
		return r.Class
	case r.Code == "":
		return ""
	}
	return wire.Classify(r.Code)
}

// Backend carries calls to Bedrock, real or simulated.
type Backend interface {
	// Invoke performs call at simulated time at.
	Invoke(ctx context.Context, at time.Time, call Call) Reply
	// Instant reports whether Invoke answers without waiting, with the
	// simulated latency in Reply.Latency. The engine then schedules the
	// answer itself, which keeps runs deterministic and lets them go as
	// fast as the CPU allows. A network backend blocks instead, and the
	// engine calls it from its own goroutine.
	Instant() bool
}

// LogSource reads Region histograms from model invocation logs.
type LogSource interface {
	RegionCounts(ctx context.Context, q LogQuery) ([]RegionCount, error)
	// Instant reports whether RegionCounts answers without waiting. A slow
	// source, such as CloudWatch Logs Insights, is polled from its own
	// goroutine so that dispatch never waits for a query.
	Instant() bool
}

// LogQuery asks for the invocations of Models in one account's log group,
// counted by inferenceRegion. The query searches From to To, and counts
// records stamped at or after Since (the run's start), as the seed's
// `toMillis(@timestamp) >= start` filter does, so an earlier run's calls in
// the same account do not count.
type LogQuery struct {
	Account  string
	LogGroup string
	Models   []string
	From, To time.Time
	Since    time.Time
}

// FaultInjector is a backend that can be made to fail on demand: the
// simulated AWS. The engine tells it every fault with its window in
// simulated time (to is zero for a fault that lasts until ended); the
// backend judges each call by the call's own time.
type FaultInjector interface {
	InjectFault(ctx context.Context, id int, f scenarios.Fault, from, to time.Time) error
	EndFault(ctx context.Context, id int, at time.Time) error
}
