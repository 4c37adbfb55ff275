package engine

import (
	"context"
	"time"

	"spillway/engine/fleet"
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
	MaxTokens    int
}

// Reply is a backend's answer. Code is empty on success.
type Reply struct {
	RequestID    string
	Region       string        // where it ran, if the backend knows
	Latency      time.Duration // simulated; set by instant backends
	InputTokens  int
	OutputTokens int
	Code         string // AWS error code, such as ThrottlingException; empty on success
	Message      string // the error message as the provider sent it
	// Class is set by backends that know more than the code says, such as a
	// client-side timeout. Empty means Classify(Code).
	Class scenarios.ErrorClass
	// RetryAfter is the provider's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// class is the reply's error class; "" on success.
func (r *Reply) class() scenarios.ErrorClass {
	switch {
	case r.Class != "":
		return r.Class
	case r.Code == "":
		return ""
	}
	return Classify(r.Code)
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

// Classify maps an AWS error code to its class. It is the one table of
// which Bedrock error means what; the SDK backend finds the code with
// errors.As and the simulated one knows it directly.
func Classify(code string) scenarios.ErrorClass {
	switch code {
	case fleet.ThrottlingException, fleet.ServiceUnavailableException, fleet.ModelNotReadyException:
		return scenarios.ClassThrottled
	case fleet.InternalServerException, fleet.ModelTimeoutException, "ModelErrorException", "ModelStreamErrorException":
		return scenarios.ClassServerError
	case fleet.AccessDeniedException, "UnrecognizedClientException", "ExpiredTokenException",
		"InvalidSignatureException", "MissingAuthenticationTokenException", "InvalidClientTokenId":
		return scenarios.ClassAccessDenied
	case fleet.ValidationException:
		return scenarios.ClassValidation
	case fleet.ResourceNotFoundException:
		return scenarios.ClassNotFound
	case "ServiceQuotaExceededException":
		return scenarios.ClassQuota
	}
	return scenarios.ClassOther
}

// Simulated is the embedded Bedrock fleet as a Backend, LogSource and
// FaultInjector, in process.
type Simulated struct {
	Fleet *fleet.Fleet
}

// NewSimulated builds the simulated fleet for s.
func NewSimulated(s *scenarios.Scenario, fileModels []scenarios.Model, seed uint64, epoch time.Time) *Simulated {
	return &Simulated{Fleet: fleet.New(s, fileModels, seed, epoch)}
}

// InjectFault makes the fleet show f in [from, to).
func (s *Simulated) InjectFault(id int, f scenarios.Fault, from, to time.Time) {
	s.Fleet.InjectFault(id, f, from, to)
}

// EndFault ends fault id at at.
func (s *Simulated) EndFault(id int, at time.Time) { s.Fleet.EndFault(id, at) }

// Instant is true: the fleet knows every answer, its latency and its logs at
// once.
func (s *Simulated) Instant() bool { return true }

// Invoke asks the fleet.
func (s *Simulated) Invoke(_ context.Context, at time.Time, c Call) Reply {
	r := s.Fleet.Invoke(at, fleet.Call{
		Account:      c.Account,
		SourceRegion: c.SourceRegion,
		ModelID:      c.ModelID,
		Operation:    c.Operation,
		Prompt:       c.Prompt,
		MaxTokens:    c.MaxTokens,
	})
	reply := Reply{
		RequestID:    r.RequestID,
		Region:       r.Region,
		Latency:      r.Latency,
		InputTokens:  r.InputTokens,
		OutputTokens: r.OutputTokens,
	}
	if r.Err != nil {
		reply.Code, reply.Message, reply.RetryAfter = r.Err.Code, r.Err.Message, r.RetryAfter
	}
	return reply
}

// RegionCounts queries the fleet's logs as they stand at q.To.
func (s *Simulated) RegionCounts(_ context.Context, q LogQuery) ([]RegionCount, error) {
	from := q.From
	if q.Since.After(from) {
		from = q.Since
	}
	return s.Fleet.RegionCounts(fleet.Query{
		Account: q.Account, LogGroup: q.LogGroup, Models: q.Models, From: from, To: q.To,
	}, q.To)
}

// FaultInjector is a backend that can be made to fail: the simulated
// fleet. The engine tells it every fault with its window in simulated
// time; the backend judges each call by the call's own time.
type FaultInjector interface {
	InjectFault(id int, f scenarios.Fault, from, to time.Time)
	EndFault(id int, at time.Time)
}

// FaultOptions are the faults that fit scenario s, for a menu to toggle
// live: an outage of each Region its calls can run in, and for each
// account a throttling storm and a quota cut, then slower answers and
// injected server errors everywhere.
func FaultOptions(s *scenarios.Scenario) []scenarios.Fault {
	var out []scenarios.Fault
	for _, region := range fleet.Regions(s) {
		out = append(out, scenarios.Fault{Kind: scenarios.RegionOutage, Region: region})
	}
	for _, a := range s.Accounts {
		out = append(out,
			scenarios.Fault{Kind: scenarios.ThrottleStorm, Account: a.Name, Rate: 0.5},
			scenarios.Fault{Kind: scenarios.QuotaCut, Account: a.Name, QuotaRPM: 2})
	}
	return append(out,
		scenarios.Fault{Kind: scenarios.SlowDown, Factor: 3},
		scenarios.Fault{Kind: scenarios.ErrorInjection, Error: "InternalServerException", Rate: 0.2})
}
