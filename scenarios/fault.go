package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// FaultKind is a failure the simulated fleet can be made to show.
type FaultKind string

// The faults the simulated fleet can inject.
const (
	// RegionOutage: the Region stops serving. Cross-Region profiles route
	// around it; a foundation-model call pinned to it gets
	// ServiceUnavailableException.
	RegionOutage FaultKind = "region-outage"
	// ThrottleStorm: a fraction (rate) of matching calls get
	// ThrottlingException.
	ThrottleStorm FaultKind = "throttle"
	// QuotaCut: the account's service quota drops to quota_rpm per Region
	// and model.
	QuotaCut FaultKind = "quota"
	// SlowDown: latency × factor.
	SlowDown FaultKind = "latency"
	// ErrorInjection: a fraction (rate) of matching calls fail with error.
	ErrorInjection FaultKind = "errors"

	// The streaming faults touch only streamed answers
	// (ConverseStream, InvokeModelWithResponseStream).

	// StreamCut: the connection closes after tokens tokens, in a fraction
	// (rate, default all) of streams.
	StreamCut FaultKind = "stream-cut"
	// StreamStall: after tokens tokens, no token comes for stall.
	StreamStall FaultKind = "stream-stall"
	// StreamSlow: tokens come factor times slower; the first is on time.
	StreamSlow FaultKind = "stream-slow"
	// StreamError: a fraction (rate) of streams get an exception event
	// (error) after tokens tokens, inside the HTTP 200 stream.
	StreamError FaultKind = "stream-error"
)

// FaultKinds lists every kind, in the order menus show them.
var FaultKinds = []FaultKind{RegionOutage, ThrottleStorm, QuotaCut, SlowDown, ErrorInjection,
	StreamCut, StreamStall, StreamSlow, StreamError}

// StreamErrors are the exception events a stream-error fault may send, as
// Bedrock names them inside a stream.
var StreamErrors = []string{"throttlingException", "modelStreamErrorException", "serviceUnavailableException",
	"internalServerException", "validationException"}

// Streaming reports whether the fault touches only streamed answers.
func (k FaultKind) Streaming() bool {
	return k == StreamCut || k == StreamStall || k == StreamSlow || k == StreamError
}

// InjectableErrors are the error codes an errors fault may use.
var InjectableErrors = []string{"InternalServerException", "ModelTimeoutException", "ModelNotReadyException"}

// Fault is a failure in the simulated fleet: what, where, and when. An empty
// Account, Region or Model matches every one.
type Fault struct {
	Kind     FaultKind
	Account  string
	Region   string // for region-outage, the Region that goes dark
	Model    string // a model id or inference-profile id; matched by base model
	Rate     float64
	QuotaRPM RPM
	Factor   float64
	Error    string
	Tokens   int           // streaming faults: after how many tokens
	Stall    time.Duration // stream-stall: how long no token comes
	At       time.Duration // from the start of the run
	Duration time.Duration // 0: until the run ends
}

// String names the fault the way the header and the JSON show it, such as
// "region-outage us-east-2" or "throttle account1 50%".
func (f Fault) String() string {
	parts := []string{string(f.Kind)}
	for _, scope := range []string{f.Region, f.Account, f.Model} {
		if scope != "" {
			parts = append(parts, scope)
		}
	}
	switch f.Kind {
	case ThrottleStorm:
		parts = append(parts, fmt.Sprintf("%g%%", f.Rate*100))
	case ErrorInjection:
		parts = append(parts, fmt.Sprintf("%g%% %s", f.Rate*100, f.Error))
	case QuotaCut:
		parts = append(parts, "→ "+f.QuotaRPM.String()+" RPM")
	case SlowDown:
		parts = append(parts, fmt.Sprintf("×%g", f.Factor))
	case StreamCut:
		parts = append(parts, fmt.Sprintf("after %d tokens", f.Tokens))
		if f.Rate > 0 && f.Rate < 1 {
			parts = append(parts, fmt.Sprintf("%g%%", f.Rate*100))
		}
	case StreamStall:
		parts = append(parts, fmt.Sprintf("%s after %d tokens", FormatDuration(f.Stall), f.Tokens))
	case StreamSlow:
		parts = append(parts, fmt.Sprintf("÷%g tokens/s", f.Factor))
	case StreamError:
		parts = append(parts, fmt.Sprintf("%g%% %s after %d tokens", f.Rate*100, f.Error, f.Tokens))
	}
	return strings.Join(parts, " ")
}

// Matches reports whether a call by account, running in region, to model
// is within the fault's scope.
func (f Fault) Matches(account, region, model string) bool {
	return (f.Account == "" || f.Account == account) &&
		(f.Region == "" || f.Region == region) &&
		(f.Model == "" || BaseModelID(f.Model) == BaseModelID(model))
}

// CheckFault checks a fault given on its own, such as to the emulator's
// fault API, by the rules a scenario file's [[scenario.fault]] is checked
// by: the same kinds, the parameters each needs and no others, an account
// that is one of s's, and the same ranges, with the same messages. others
// are the faults already in effect or scheduled beside it: latency factors
// multiply where faults overlap, so the file's bound on a scenario's
// factors together bounds these with the new one.
//
// The error is Errors, each naming its key ("rate", "quota_rpm") with no
// file or place.
func (s *Scenario) CheckFault(in FaultInput, others []Fault) (Fault, error) {
	c := &checker{loc: locate("")}
	accounts := map[string]bool{}
	for _, a := range s.Accounts {
		accounts[a.Name] = true
	}
	f := c.fault("", in, accounts, known(accountNames(s.Accounts)))
	if c.found() == 0 && f.Kind == SlowDown {
		if i, product := slowdownPast(append(slices.Clone(others), f)); i >= 0 {
			c.fail("factor",
				"latency faults multiply where they overlap: with this one, those in effect or scheduled come to ×%g, over the ×%g limit for all of them together; lower the factor or stop one",
				product, float64(maxSlowdownProduct))
		}
	}
	if c.found() > 0 {
		return Fault{}, c.result()
	}
	return f, nil
}
