// Package record turns a run's events into a record: per-request outcomes,
// the summary the printer shows, and the JSON export (schema
// "spillway/run/v1", documented in the README).
//
// The recorder is one more event consumer. It spools the full event
// timeline and each finished request's record to files, keeping in memory
// only the requests in flight and the summary's tallies, whose percentiles
// come from sketches (see Distribution): a long run's memory does not grow
// with its length.
package record

import (
	"encoding/json"
	"errors"
	"math"
	"sync"
	"time"

	"spillway/engine"
	"spillway/scenarios"
)

// Schema identifies the JSON export format.
const Schema = "spillway/run/v1"

// Outcomes of a request, and of an attempt.
const (
	OutcomeSucceeded   = "succeeded"
	OutcomeRateLimited = "rate_limited"
	OutcomeFailed      = "failed"
	OutcomeCancelled   = "cancelled"
	OutcomeThrottled   = "throttled" // attempts only
	OutcomeSkipped     = "skipped"   // attempts only: the deployment's bucket was empty, or it was cooling down
	OutcomePending     = "pending"   // still in flight when the record was taken
)

// Request is what happened to one request.
type Request struct {
	ID         int     `json:"id"`
	Tenant     string  `json:"tenant"`
	Outcome    string  `json:"outcome"`
	Deployment string  `json:"deployment,omitempty"`
	Model      string  `json:"model,omitempty"`
	Account    string  `json:"account,omitempty"`
	Region     string  `json:"region,omitempty"`
	Fallback   bool    `json:"fallback"`
	Retries    int     `json:"retries,omitempty"` // retries the gateway scheduled
	StartMS    float64 `json:"start_ms"`
	EndMS      float64 `json:"end_ms"`
	LatencyMS  float64 `json:"latency_ms"`
	Error      string  `json:"error,omitempty"`
	Message    string  `json:"message,omitempty"`
	// Tokens: the input as the gateway counted it, max_tokens, what a
	// reservation takes (input + max_tokens), and the answer's output.
	InputTokens    int `json:"input_tokens,omitempty"`
	MaxTokens      int `json:"max_tokens,omitempty"`
	ReservedTokens int `json:"reserved_tokens,omitempty"`
	OutputTokens   int `json:"output_tokens,omitempty"`
	// TTFTMS is a streamed request's time to first token on the attempt
	// that answered it (or broke last), from that attempt's start.
	TTFTMS float64 `json:"ttft_ms,omitempty"`
	// Replica is, in a run as replicas, the one that served it, from 1.
	Replica  int       `json:"replica,omitempty"`
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one deployment a request was routed to or passed over.
type Attempt struct {
	Group      string  `json:"group"`
	Deployment string  `json:"deployment"`
	Model      string  `json:"model"`
	Account    string  `json:"account"`
	Outcome    string  `json:"outcome"`
	Reason     string  `json:"reason,omitempty"` // skipped: "budget" (empty bucket) or "cooldown"
	Region     string  `json:"region,omitempty"`
	StartMS    float64 `json:"start_ms"`
	EndMS      float64 `json:"end_ms"`
	Error      string  `json:"error,omitempty"`
	Message    string  `json:"message,omitempty"`
	// Tokens: reserved when the call started (input + max_tokens), and
	// the input and output the provider reported.
	ReservedTokens int `json:"reserved_tokens,omitempty"`
	InputTokens    int `json:"input_tokens,omitempty"`
	OutputTokens   int `json:"output_tokens,omitempty"`
	// A streamed attempt: its time to first token, the output tokens that
	// reached the client, and how the stream ended: "complete",
	// "StreamCut", "StreamStalled", an exception event's type, or
	// "NoFirstTokenInTime".
	TTFTMS         float64 `json:"ttft_ms,omitempty"`
	StreamedTokens int     `json:"streamed_tokens,omitempty"`
	StreamOutcome  string  `json:"stream_outcome,omitempty"`
}

// RPMChange is a bucket retuned during the run.
type RPMChange struct {
	AtMS   float64       `json:"t_ms"`
	Bucket string        `json:"bucket"`
	RPM    scenarios.RPM `json:"rpm"` // the new limit, in the bucket's unit: tokens for a TPM bucket
	Unit   string        `json:"unit,omitempty"`
}

// Control is a pause, a resume, a speed or rate change made during the
// run, or a control the engine refused.
type Control struct {
	AtMS    float64         `json:"t_ms"`
	Kind    string          `json:"kind"`              // paused, resumed, speed_changed, rate_changed or control_refused
	Speed   json.RawMessage `json:"speed,omitempty"`   // speed_changed: the new speed, or "max"
	Tenant  string          `json:"tenant,omitempty"`  // rate_changed
	Rate    float64         `json:"rate,omitempty"`    // rate_changed: requests per minute
	Bucket  string          `json:"bucket,omitempty"`  // control_refused: the bucket it was about, if any
	Message string          `json:"message,omitempty"` // control_refused: why
}

// FaultWindow is a fault the simulated fleet showed during the run.
type FaultWindow struct {
	ID      int     `json:"id"`
	Fault   string  `json:"fault"` // such as "region-outage us-east-2"
	Kind    string  `json:"kind"`
	Live    bool    `json:"live"` // toggled from the dashboard, not declared in the scenario
	StartMS float64 `json:"start_ms"`
	EndMS   float64 `json:"end_ms,omitempty"` // absent while it lasts
}

// Meta is what the recorder cannot learn from events.
type Meta struct {
	Backend  string // "simulated", "aws" or "endpoint" (the SDK against --endpoint)
	Endpoint string // where the SDK sent its calls, when not AWS
	// Source is the scenario file the run's scenario came from, carried in
	// the export so that a replay, a comparison or a report has the
	// scenario whole; empty leaves it out.
	Source ScenarioFile
}

// ScenarioFile is a scenario file as an export carries it: its name and
// its text.
type ScenarioFile struct {
	Name string `json:"name"`
	TOML string `json:"toml"`
}

// SetMeta describes the backend once it is known.
func (r *Recorder) SetMeta(m Meta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.meta = m
}

// Recorder consumes a run's events. It is safe to read while the run goes on.
//
// A request's record changes until its final outcome and never after: an
// event about a request that has finished is ignored. Given a directory
// (KeepTimeline, SpoolRequests), the recorder writes each finished
// request's record there and keeps in memory only the requests in flight
// and the summary's tallies, so a long run's memory does not grow with its
// length; without one, every record stays in memory.
type Recorder struct {
	mu        sync.Mutex
	meta      Meta
	info      engine.RunInfo
	requests  *requestBook
	tally     *tally
	regions   map[string]*engine.RegionPoll // latest poll per account
	rpm       []RPMChange
	controls  []Control
	faults    []FaultWindow
	lastAt    time.Duration // the latest event's time, for an export taken mid-run
	endAt     time.Duration
	ended     bool
	interrupt bool
	// minutes counts what each limit let through per minute, in a run
	// as replicas; nil otherwise. storeDown: its shared limits' store
	// was unreachable at some time.
	minutes   minuteCounts
	storeDown bool

	// events holds the event timeline; nil keeps none.
	events  *spool
	scratch []byte
}

// New returns an empty recorder.
func New(meta Meta) *Recorder {
	return &Recorder{meta: meta, requests: newRequestBook(), tally: newTally(), regions: map[string]*engine.RegionPoll{}}
}

// SpoolPattern names the timeline's temporary file while it is being
// created; the name is removed at once, so none is left on disk.
const SpoolPattern = ".spillway-events-*"

// KeepTimeline makes the recorder keep every event, spooled to an unnamed
// temporary file in dir, and spool its request records there too (see
// SpoolRequests). Without it the export has no "events". Call before the
// run.
func (r *Recorder) KeepTimeline(dir string) error {
	events, err := openSpool(dir, SpoolPattern)
	if err != nil {
		return err
	}
	if err := r.SpoolRequests(dir); err != nil {
		events.close()
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = events
	return nil
}

// SpoolRequests writes the record of each request that finishes to an
// unnamed temporary file in dir, instead of keeping it in memory; exports
// and Requests read them back from it. Call before the run.
func (r *Recorder) SpoolRequests(dir string) error {
	s, err := openSpool(dir, RequestSpoolPattern)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.requests.spoolTo(s); err != nil {
		s.close()
		return err
	}
	return nil
}

// Close releases the spooled timeline and request records. Summary still
// works after it; an export fails if the records were spooled.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var events error
	if r.events != nil {
		events = r.events.close()
		r.events = nil
	}
	return errors.Join(events, r.requests.done.close())
}

// Handle records one event.
func (r *Recorder) Handle(ev engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events != nil {
		r.scratch = appendEvent(r.scratch[:0], ev)
		r.scratch = append(r.scratch, '\n')
		r.events.write(r.scratch)
	}
	ms := millis(ev.At)
	r.lastAt = max(r.lastAt, ev.At)
	switch ev.Kind {
	case engine.RunStarted:
		r.info = *ev.Info
		r.minutes = newMinuteCounts(r.info)
	case engine.Admitted, engine.RateLimited, engine.Skipped, engine.Attempt, engine.Throttled, engine.RetryScheduled,
		engine.Errored, engine.Succeeded, engine.Failed, engine.Cancelled:
		if r.minutes != nil {
			r.minutes.event(ev)
		}
		if q := r.request(ev); q != nil {
			q.apply(ev)
			if ev.Kind.Final() {
				r.tally.finish(q)
				r.requests.finish(q)
			}
		}
	case engine.RPMChanged:
		c := RPMChange{AtMS: ms, Bucket: string(ev.Bucket), RPM: ev.RPM}
		if ev.Bucket.Tokens() {
			c.Unit = "tokens"
		}
		r.rpm = append(r.rpm, c)
	case engine.Paused, engine.Resumed:
		r.controls = append(r.controls, Control{AtMS: ms, Kind: ev.Kind.String()})
	case engine.SpeedChanged:
		r.controls = append(r.controls, Control{AtMS: ms, Kind: ev.Kind.String(), Speed: speedJSON(ev.Speed)})
	case engine.RateChanged:
		r.controls = append(r.controls, Control{AtMS: ms, Kind: ev.Kind.String(), Tenant: ev.Tenant, Rate: ev.Rate})
	case engine.ControlRefused:
		r.controls = append(r.controls, Control{AtMS: ms, Kind: ev.Kind.String(), Bucket: string(ev.Bucket), Message: ev.Message})
	case engine.FaultStarted:
		r.faults = append(r.faults, FaultWindow{ID: ev.Fault.ID, Fault: ev.Fault.Fault.String(), Kind: string(ev.Fault.Fault.Kind),
			Live: ev.Fault.Live, StartMS: ms})
	case engine.FaultEnded:
		for i := range r.faults {
			if r.faults[i].ID == ev.Fault.ID {
				r.faults[i].EndMS = ms
			}
		}
	case engine.RegionsPolled:
		p := *ev.Regions
		r.regions[ev.Account] = &p
	case engine.SharedLimitsChanged:
		r.storeDown = r.storeDown || ev.Code == engine.CodeSharedDown
	case engine.RunEnded:
		r.ended, r.interrupt, r.endAt = true, ev.Interrupted, ev.At
	}
}

// request returns the record of ev's request, made on first sight; nil
// for a request that has finished, whose record is closed.
func (r *Recorder) request(ev engine.Event) *Request {
	if ev.Request <= 0 {
		return nil
	}
	q := r.requests.request(ev.Request, millis(ev.At-ev.Latency))
	if q != nil {
		q.Tenant = ev.Tenant
	}
	return q
}

// apply records one of the request's events.
func (q *Request) apply(ev engine.Event) {
	ms := millis(ev.At)
	switch ev.Kind {
	case engine.Admitted:
		q.tokens(ev)
		q.Replica = ev.Replica
	case engine.RateLimited:
		q.Replica = ev.Replica
		q.Outcome, q.EndMS, q.LatencyMS, q.Message = OutcomeRateLimited, ms, millis(ev.Latency), ev.Message
		q.tokens(ev)
	case engine.Skipped:
		q.Attempts = append(q.Attempts, Attempt{Group: ev.Group, Deployment: ev.Deployment, Model: ev.Model,
			Account: ev.Account, Outcome: OutcomeSkipped, Reason: ev.Reason, StartMS: ms, EndMS: ms, Message: ev.Message})
	case engine.Attempt:
		q.Attempts = append(q.Attempts, Attempt{Group: ev.Group, Deployment: ev.Deployment, Model: ev.Model,
			Account: ev.Account, Outcome: OutcomePending, StartMS: ms, ReservedTokens: ev.InputTokens + ev.MaxTokens})
	case engine.Throttled:
		q.endAttempt(ev, OutcomeThrottled)
	case engine.RetryScheduled:
		q.Retries++
	case engine.Errored:
		q.endAttempt(ev, OutcomeFailed)
	case engine.Succeeded, engine.Failed, engine.Cancelled:
		outcome := finalOutcome(ev.Kind)
		q.endAttempt(ev, outcome)
		q.Outcome, q.EndMS, q.LatencyMS = outcome, ms, millis(ev.Latency)
		q.Deployment, q.Model, q.Account, q.Region, q.Fallback = ev.Deployment, ev.Model, ev.Account, ev.Region, ev.Fallback
		q.Error, q.Message = ev.Code, ev.Message
		if ev.Kind == engine.Succeeded {
			q.OutputTokens = ev.OutputTokens
		}
	}
}

func (q *Request) endAttempt(ev engine.Event, outcome string) {
	for i := len(q.Attempts) - 1; i >= 0; i-- {
		a := &q.Attempts[i]
		if a.Outcome == OutcomePending {
			a.Outcome, a.EndMS, a.Region, a.Error, a.Message = outcome, millis(ev.At), ev.Region, ev.Code, ev.Message
			a.InputTokens, a.OutputTokens = ev.InputTokens, ev.OutputTokens
			switch {
			case ev.TTFT > 0:
				a.TTFTMS, a.StreamedTokens, a.StreamOutcome = millis(ev.TTFT), ev.Streamed, "complete"
				if ev.Kind != engine.Succeeded {
					a.StreamOutcome = ev.Code
				}
				q.TTFTMS = a.TTFTMS
			case ev.Code == engine.NoFirstToken:
				a.StreamOutcome = ev.Code
			}
			return
		}
	}
}

// tokens records what the request asked for, from its admission or its
// refusal at the tenant.
func (q *Request) tokens(ev engine.Event) {
	if ev.InputTokens > 0 {
		q.InputTokens, q.MaxTokens, q.ReservedTokens = ev.InputTokens, ev.MaxTokens, ev.InputTokens+ev.MaxTokens
	}
}

func millis(d time.Duration) float64 {
	return math.Round(float64(d)/1e3) / 1e3
}

// Requests returns a copy of every request record so far, by id: those
// in flight as they are now. Spooled records are read back from the spool,
// so this costs a read of it; if the spool cannot be read, Requests
// returns the records before the one that failed, and an export says why.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, 0, r.requests.created)
	r.requests.each(func(q *Request, line []byte) error {
		if line == nil {
			out = append(out, *q)
			return nil
		}
		var spooled Request
		if err := json.Unmarshal(line, &spooled); err != nil {
			return err
		}
		out = append(out, spooled)
		return nil
	})
	return out
}

// RPMChanges returns the limit changes so far.
func (r *Recorder) RPMChanges() []RPMChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RPMChange(nil), r.rpm...)
}

// Controls returns the pauses, resumes, speed and rate changes and
// refused controls so far.
func (r *Recorder) Controls() []Control {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Control(nil), r.controls...)
}

// Faults returns the faults shown so far, in the order they started.
func (r *Recorder) Faults() []FaultWindow {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]FaultWindow(nil), r.faults...)
}

// Info is the run's RunStarted description.
func (r *Recorder) Info() engine.RunInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info
}

// Interrupted reports whether the run was stopped early.
func (r *Recorder) Interrupted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.interrupt
}

// Ended reports whether the run's RunEnded event has arrived.
func (r *Recorder) Ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// Polls returns the latest Region poll of each account, by account name.
func (r *Recorder) Polls() map[string]engine.RegionPoll {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]engine.RegionPoll, len(r.regions))
	for k, v := range r.regions {
		out[k] = *v
	}
	return out
}

func finalOutcome(k engine.Kind) string {
	switch k {
	case engine.Succeeded:
		return OutcomeSucceeded
	case engine.Cancelled:
		return OutcomeCancelled
	}
	return OutcomeFailed
}
