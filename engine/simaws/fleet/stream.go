package fleet

import (
	"math"
	"time"

	"spillway/scenarios"
)

// StreamPlan is what goes wrong in a streamed answer, decided when the
// call is made so that a seed fixes it: the emulator writes the stream by
// it. The zero plan is a stream that runs to its end.
type StreamPlan struct {
	// CutAfter > 0: the connection closes after this many tokens, with
	// no end to the stream. 0 means no cut.
	CutAfter int
	// StallAfter and Stall: after this many tokens, no token for Stall.
	StallAfter int
	Stall      time.Duration
	// ErrorAfter and Error: an exception event of this kind after this
	// many tokens ends the stream.
	ErrorAfter int
	Error      string
}

// Cut reports whether the stream ends early, by a cut or an exception.
func (p StreamPlan) Cut() (tokens int, ok bool) {
	switch {
	case p.Error != "":
		return p.ErrorAfter, true
	case p.CutAfter > 0:
		return p.CutAfter, true
	}
	return 0, false
}

// planStream applies the streaming faults that match a call placed in
// region to its reply: slower tokens, a stall, then a cut or an exception
// event, which also ends the answer early, with the tokens streamed so far.
// It draws from the fleet's generator only where a fault has a rate, and
// only for streamed calls, so other calls keep their seeds' outcomes.
func (f *Fleet) planStream(faults []*injected, account, region, model string, r *Reply) {
	var p StreamPlan
	for _, j := range faults {
		fault := j.fault
		if !fault.Kind.Streaming() || !fault.Matches(account, region, model) {
			continue
		}
		switch fault.Kind {
		case scenarios.StreamSlow:
			spread := float64(r.Latency - r.FirstToken)
			r.Latency = r.FirstToken + time.Duration(math.Min(spread*fault.Factor, float64(scenarios.MaxLatency)))
		case scenarios.StreamStall:
			switch {
			case fault.Tokens == 0:
				// A stall before the first token is a late first token.
				r.FirstToken += fault.Stall
				r.Latency += fault.Stall
			case fault.Tokens < r.OutputTokens && p.Stall == 0:
				p.StallAfter, p.Stall = fault.Tokens, fault.Stall
				r.Latency += fault.Stall
			}
		case scenarios.StreamCut:
			if fault.Tokens < r.OutputTokens && (fault.Rate >= 1 || f.rng.Float64() < fault.Rate) && p.CutAfter == 0 {
				p.CutAfter = max(fault.Tokens, 1)
			}
		case scenarios.StreamError:
			if fault.Tokens < r.OutputTokens && f.rng.Float64() < fault.Rate && p.Error == "" {
				p.ErrorAfter, p.Error = fault.Tokens, fault.Error
			}
		}
	}
	r.Stream = p
	if n, cut := p.Cut(); cut {
		end := r.TokenAt(n - 1) // when its last token came, the stall counted if it came before
		if p.Stall > 0 && n <= p.StallAfter {
			r.Stream.StallAfter, r.Stream.Stall = 0, 0 // the stream ended before its stall
		}
		r.Latency, r.OutputTokens = end, n
		r.StopReason = ""
	}
}

// TokenAt is when token i (from 0) of the reply's stream comes: the first
// at FirstToken, the rest evenly to the end, later by the stall for those
// after it.
func (r Reply) TokenAt(i int) time.Duration {
	p := r.Stream
	end := r.Latency
	stalled := p.Stall > 0 && i >= p.StallAfter
	if p.Stall > 0 && (stalled || r.Latency > r.FirstToken+p.Stall) {
		end -= p.Stall
	}
	at := r.FirstToken
	if n := r.OutputTokens; n > 1 && i > 0 {
		at += time.Duration(float64(end-r.FirstToken) * float64(i) / float64(n-1))
	}
	if stalled {
		at += p.Stall
	}
	return at
}

// StallAt is when the stream's stall begins: at its last token before
// the pause. Zero without a stall.
func (r Reply) StallAt() time.Duration {
	if r.Stream.Stall == 0 {
		return 0
	}
	return r.TokenAt(max(r.Stream.StallAfter-1, 0))
}

// Broken is how the stream ends early: "StreamCut", an exception event's
// type, or "" when it runs to its end.
func (p StreamPlan) Broken() string {
	switch {
	case p.Error != "":
		return p.Error
	case p.CutAfter > 0:
		return "StreamCut"
	}
	return ""
}
