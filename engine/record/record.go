// Package record turns a run's events into a record: per-request outcomes,
// the summary the printer shows, and the JSON export (schema
// "spillway/run/v1", documented in the README).
//
// The recorder is one more event consumer. It keeps compact per-request
// records in memory and spools the full event timeline to a file, so a long
// run's memory grows only with its requests.
package record

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
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
	TTFTMS   float64   `json:"ttft_ms,omitempty"`
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
type Recorder struct {
	mu        sync.Mutex
	meta      Meta
	info      engine.RunInfo
	requests  []Request
	regions   map[string]*engine.RegionPoll // latest poll per account
	rpm       []RPMChange
	controls  []Control
	faults    []FaultWindow
	lastAt    time.Duration // the latest event's time, for an export taken mid-run
	endAt     time.Duration
	ended     bool
	interrupt bool

	// spool holds the event timeline. Its name is unlinked as soon as it is
	// created, so the kernel frees it however the process ends; it is read
	// back through the open descriptor.
	spool      *os.File
	spoolBuf   *bufio.Writer
	spoolErr   error
	spoolCount int
	spoolSize  int64 // bytes handed to spoolBuf
	// spoolLinked is set where the name could not be unlinked while open.
	spoolLinked bool
	scratch     []byte
}

// New returns an empty recorder.
func New(meta Meta) *Recorder {
	return &Recorder{meta: meta, regions: map[string]*engine.RegionPoll{}}
}

// SpoolPattern names the timeline's temporary file while it is being
// created; the name is removed at once, so none is left on disk.
const SpoolPattern = ".spillway-events-*"

// KeepTimeline makes the recorder keep every event, spooled to an unnamed
// temporary file in dir. Without it the export has no "events". Call before
// the run.
func (r *Recorder) KeepTimeline(dir string) error {
	f, err := os.CreateTemp(dir, SpoolPattern)
	if err != nil {
		return err
	}
	// Unlinked now, the spool cannot outlive the process, even after
	// SIGKILL or a power cut; a system that refuses to unlink an open file
	// keeps the name until Close.
	unlinked := os.Remove(f.Name()) == nil
	r.spool = f
	r.spoolLinked = !unlinked
	r.spoolBuf = bufio.NewWriterSize(f, 64<<10)
	return nil
}

// Close releases the spooled timeline.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spool == nil {
		return nil
	}
	err := r.spool.Close()
	if r.spoolLinked {
		err = os.Remove(r.spool.Name())
	}
	r.spool = nil
	return err
}

// Handle records one event.
func (r *Recorder) Handle(ev engine.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spool != nil && r.spoolErr == nil {
		r.scratch = appendEvent(r.scratch[:0], ev)
		r.scratch = append(r.scratch, '\n')
		var n int
		n, r.spoolErr = r.spoolBuf.Write(r.scratch)
		r.spoolSize += int64(n)
		r.spoolCount++
	}
	ms := millis(ev.At)
	r.lastAt = max(r.lastAt, ev.At)
	switch ev.Kind {
	case engine.RunStarted:
		r.info = *ev.Info
		r.requests = make([]Request, 0, min(ev.Info.Planned, 1<<16))
	case engine.Admitted:
		r.request(ev).tokens(ev)
	case engine.RateLimited:
		q := r.request(ev)
		q.Outcome, q.EndMS, q.LatencyMS, q.Message = OutcomeRateLimited, ms, millis(ev.Latency), ev.Message
		q.tokens(ev)
	case engine.Skipped:
		q := r.request(ev)
		q.Attempts = append(q.Attempts, Attempt{Group: ev.Group, Deployment: ev.Deployment, Model: ev.Model,
			Account: ev.Account, Outcome: OutcomeSkipped, Reason: ev.Reason, StartMS: ms, EndMS: ms, Message: ev.Message})
	case engine.Attempt:
		q := r.request(ev)
		q.Attempts = append(q.Attempts, Attempt{Group: ev.Group, Deployment: ev.Deployment, Model: ev.Model,
			Account: ev.Account, Outcome: OutcomePending, StartMS: ms, ReservedTokens: ev.InputTokens + ev.MaxTokens})
	case engine.Throttled:
		r.endAttempt(ev, OutcomeThrottled)
	case engine.RetryScheduled:
		r.request(ev).Retries++
	case engine.Errored:
		r.endAttempt(ev, OutcomeFailed)
	case engine.Succeeded, engine.Failed, engine.Cancelled:
		outcome := finalOutcome(ev.Kind)
		r.endAttempt(ev, outcome)
		q := r.request(ev)
		q.Outcome, q.EndMS, q.LatencyMS = outcome, ms, millis(ev.Latency)
		q.Deployment, q.Model, q.Account, q.Region, q.Fallback = ev.Deployment, ev.Model, ev.Account, ev.Region, ev.Fallback
		q.Error, q.Message = ev.Code, ev.Message
		if ev.Kind == engine.Succeeded {
			q.OutputTokens = ev.OutputTokens
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
	case engine.RunEnded:
		r.ended, r.interrupt, r.endAt = true, ev.Interrupted, ev.At
	}
}

// request returns the record of ev's request, creating it on first sight.
// Ids are dense and arrive in order, so the slice index is id-1.
func (r *Recorder) request(ev engine.Event) *Request {
	for len(r.requests) < ev.Request {
		id := len(r.requests) + 1
		// Attempts starts empty, not nil, so a request its tenant's bucket
		// refused exports "attempts": [].
		r.requests = append(r.requests, Request{ID: id, Outcome: OutcomePending, StartMS: millis(ev.At - ev.Latency), Attempts: []Attempt{}})
	}
	q := &r.requests[ev.Request-1]
	q.Tenant = ev.Tenant
	return q
}

func (r *Recorder) endAttempt(ev engine.Event, outcome string) {
	q := r.request(ev)
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

// Requests returns a copy of every request record so far, by id.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
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
