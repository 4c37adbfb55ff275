package engine

import (
	"fmt"
	"time"

	"spillway/engine/bucket"
	"spillway/engine/health"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// Kind says what an Event reports.
type Kind uint8

// Health states, as events and bucket levels report them (package health
// decides them).
const (
	Healthy  = string(health.Healthy)
	Cooling  = string(health.Cooling)
	Open     = string(health.Open)
	HalfOpen = string(health.HalfOpen)
)

// The kinds of event, in the order a request meets them.
const (
	RunStarted          Kind = iota // Info describes the run
	Admitted                        // the tenant's bucket let the request in
	RateLimited                     // refused for budget: the tenant's bucket was empty, or no deployment in any group had budget
	Attempt                         // a deployment was picked and its token taken
	Skipped                         // a deployment's bucket was empty, so the pick passed over it
	Throttled                       // the provider throttled an attempt
	Errored                         // an attempt failed with an error the scenario falls back on (fallback_on)
	FellBack                        // the request moved on to the next group
	Succeeded                       // final: answered
	Failed                          // final: an error with nowhere left to go
	Cancelled                       // final: the run was interrupted while the request was in flight
	RPMChanged                      // a bucket was retuned during the run
	Paused                          // dispatch stopped and simulated time stands still
	Resumed                         // dispatch goes on after a pause
	SpeedChanged                    // simulated time runs at a new speed from here
	RateChanged                     // a tenant's arrival rate was changed during the run
	ControlRefused                  // a control could not be applied; Message says why
	HealthChanged                   // a deployment's health changed: cooldown, circuit open, half-open or healthy again
	RetryScheduled                  // a failed attempt will be retried in its group at Until
	FaultStarted                    // the backend starts showing a fault
	FaultEnded                      // a fault is over
	RegionsPolled                   // a Region histogram was read from the invocation logs
	FirstToken                      // a streamed attempt's first token came: before it the request may retry or fall back, after it not
	Levels                          // every bucket's fill, sampled each simulated second as time passes, for a record to play back
	SharedLimitsChanged             // the store of the limits shared by a gateway's replicas went down (Code SharedLimitsDown) or came back (SharedLimitsUp)
	RunEnded                        // nothing more will happen
)

var kindNames = [...]string{
	RunStarted:          "run_started",
	Admitted:            "admitted",
	RateLimited:         "rate_limited",
	Attempt:             "attempt",
	Skipped:             "skipped",
	Throttled:           "throttled",
	Errored:             "errored",
	FellBack:            "fell_back",
	Succeeded:           "succeeded",
	Failed:              "failed",
	Cancelled:           "cancelled",
	RPMChanged:          "rpm_changed",
	Paused:              "paused",
	Resumed:             "resumed",
	SpeedChanged:        "speed_changed",
	RateChanged:         "rate_changed",
	ControlRefused:      "control_refused",
	HealthChanged:       "health_changed",
	RetryScheduled:      "retry_scheduled",
	FaultStarted:        "fault_started",
	FaultEnded:          "fault_ended",
	RegionsPolled:       "regions",
	FirstToken:          "first_token",
	Levels:              "levels",
	SharedLimitsChanged: "shared_limits",
	RunEnded:            "run_ended",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Final reports whether k ends a request.
func (k Kind) Final() bool {
	return k == RateLimited || k == Succeeded || k == Failed || k == Cancelled
}

// Event is one thing that happened in a run. Fields that do not apply to
// the kind are zero.
type Event struct {
	At   time.Duration // simulated time since the run started
	Kind Kind

	Request int // 1-based, in arrival order; 0 for run-level events
	// Ticket is a gateway client's request's, given with Arrive, on the
	// request's first event (Admitted, or RateLimited): the door that
	// waits for the answer knows the request by it from then on.
	Ticket     uint64
	Attempt    int // 1-based attempt number within the request
	Tenant     string
	Group      string
	Deployment string
	Model      string
	Account    string
	Region     string // where the call ran, when the backend knows it

	// Tokens: Admitted and Attempt carry the request's input (as counted)
	// and max_tokens; an attempt's answer (Succeeded, Throttled, Errored,
	// Failed) carries the input and output tokens the provider reported.
	InputTokens, OutputTokens, MaxTokens int
	// Streaming: TTFT is an attempt's time to first token (FirstToken,
	// and the answer's events); Streamed the output tokens that reached
	// the client, also from a stream that broke.
	TTFT     time.Duration
	Streamed int

	Latency  time.Duration // final events: simulated time since the request arrived
	Fallback bool          // Succeeded: served by a group after the first
	Text     string        // Succeeded: the answer's text, for a gateway client
	// RetryAfter is, on RateLimited at a tenant's RPM bucket, how long
	// until it has room: what a gateway client is told to wait.
	RetryAfter time.Duration
	Code       string // error code, such as ThrottlingException
	Message    string // error message as the provider sent it, or an explanation

	Bucket BucketID // RateLimited (tenant bucket), Skipped and RPMChanged
	// Reason says why a deployment was Skipped: SkipBudget (its bucket was
	// empty), SkipCooldown or SkipCircuitOpen.
	Reason string
	// Until is when a cooldown or an open circuit ends (HealthChanged,
	// Skipped) or when a retry goes (RetryScheduled).
	Until  time.Duration
	Health string        // HealthChanged: the new state (Healthy is "healthy" in JSON)
	RPM    scenarios.RPM // RPMChanged: the new limit; Skipped for budget, and RateLimited at a tenant's bucket: the limit it was at
	Speed  float64       // SpeedChanged: simulated seconds per wall second; +Inf when unpaced
	Rate   float64       // RateChanged: the tenant's new arrival rate, per minute

	Fault   *FaultInfo  // FaultStarted, FaultEnded
	Info    *RunInfo    // RunStarted
	Regions *RegionPoll // RegionsPolled
	// Levels are every bucket's fill (Levels), in the order of the
	// snapshot's Buckets.
	Levels []BucketLevel
	// Replicas, on Levels with shared limits, is how many replicas share
	// them, as the store last counted.
	Replicas int
	// Replica, in a run as replicas (Options.Replicas), is the one that
	// served the request (Admitted and its final event) or whose health
	// changed (HealthChanged), from 1; 0 for a single gateway.
	Replica int
	// Interrupted is set on RunEnded when the run was stopped early.
	Interrupted bool
}

// FaultInfo is a fault as events report it.
type FaultInfo struct {
	ID    int
	Fault scenarios.Fault
	Live  bool // toggled during the run, not declared in the scenario
}

// RunInfo describes a run as it starts.
type RunInfo struct {
	Scenario string
	Title    string
	Seed     uint64
	Speed    float64 // simulated seconds per wall second; +Inf when unpaced
	Start    time.Time
	Planned  int // requests the scenario will send if not interrupted
	Buckets  []BucketLevel
	// Fleet is set when the run is a fleet of replicas (Options.Replicas).
	Fleet *FleetInfo
}

// RegionPoll is one reading of an account's Region histogram from the
// invocation logs.
type RegionPoll struct {
	Account string
	Counts  []RegionCount // sorted by Region
	// Unaccounted is how many of the account's successful requests the logs
	// do not show yet.
	Unaccounted int
	Error       string // why the query failed, and what to do
	Final       bool   // no more polls will follow for this run
	TimedOut    bool   // Final because the wait for logs ran out
}

// Total is the number of invocations the poll counted.
func (p *RegionPoll) Total() int {
	n := 0
	for _, c := range p.Counts {
		n += c.Count
	}
	return n
}

// RegionCount is one bar of a Region histogram.
type RegionCount = wire.RegionCount

// Why a deployment was skipped.
const (
	SkipBudget      = "budget"
	SkipCooldown    = "cooldown"
	SkipCircuitOpen = "circuit-open"
)

// BucketID names a bucket: "tenant/A" or "deployment/primary".
type BucketID string

// Bucket ids are built from these prefixes.
const (
	TenantBucket     = "tenant/"
	DeploymentBucket = "deployment/"
)

// BucketLevel is a bucket's fill level at one instant.
type BucketLevel struct {
	ID BucketID
	bucket.Level
	// Health is a deployment's state with the gateway (Healthy, Cooling,
	// Open or HalfOpen), and HealthUntil when a cooldown or an open circuit
	// ends, since the run started.
	Health      string
	HealthUntil time.Duration
	// Rate is, for a tenant with constant or Poisson arrivals, its
	// arrival rate per minute; zero for a burst.
	Rate float64
	// Counting is how a TPM bucket counts tokens; "" for an RPM bucket.
	Counting scenarios.Counting
}

// A Sink receives every event of a run, in order, on the engine's goroutine.
// It must return quickly: a slow consumer (a UI) buffers and drains on its
// own schedule.
type Sink interface {
	Handle(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Handle calls f.
func (f SinkFunc) Handle(ev Event) { f(ev) }
