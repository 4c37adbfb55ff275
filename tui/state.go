package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"spillway/engine"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// SegmentKind says what happened during one stretch of a lane.
type SegmentKind uint8

// What a lane segment can show; the legend lists them in this order.
const (
	Waiting     SegmentKind = iota // admitted, attempt in flight
	FirstWait                      // a streamed attempt sent, its first token not yet come
	Primary                        // served, or being served, by the first group
	Fallback                       // served, or being served, by a fallback group
	Skipped                        // a deployment's bucket was empty
	Cooling                        // a deployment was skipped while cooling down after failures
	CircuitOpen                    // a deployment was skipped because its circuit is open
	Throttled                      // the provider throttled the attempt
	RateLimited                    // refused at a bucket
	RetryWait                      // waiting out a backoff before a retry
	Failed                         // an error ended the attempt
	TimedOut                       // the gateway's timeout ended the request
	Cancelled                      // the run stopped first
)

// isSkip reports whether k marks a deployment the pick passed over: an
// instant, not a stretch of time.
func (k SegmentKind) isSkip() bool { return k == Skipped || k == Cooling || k == CircuitOpen }

// Segment is one stretch of a lane, in simulated time since the run began.
type Segment struct {
	Kind       SegmentKind
	Start, End time.Duration
	Open       bool // still in flight: End follows the clock
}

// Lane is one request as the dashboard draws it.
type Lane struct {
	ID         int
	Tenant     string
	Replica    int // in a run as replicas, the one that served it, from 1
	Segments   []Segment
	Deployment string
	Model      string
	Region     string
	Latency    time.Duration
	Done       bool
	Outcome    SegmentKind // once Done: Primary, Fallback, RateLimited, Failed, TimedOut or Cancelled
	// Why says in a few words why the request went where it went: "A over
	// 3 RPM", "primary at 3 RPM → fallback", "throttled ×2 → fallback".
	Why string
	// Tokens: the request's input and max_tokens, and the answer's output
	// once it succeeded.
	InputTokens, MaxTokens, OutputTokens int
	// TTFT is a streamed request's time to first token, on its latest
	// attempt; Streamed the tokens a broken stream had sent.
	TTFT     time.Duration
	Streamed int
	// Steps are every deployment the request tried or passed over, in
	// order, for the inspector.
	Steps     []Step
	Arrived   time.Duration
	admitted  bool
	fellBack  bool
	passed    []string // deployments the pick passed over since the last attempt, and why
	passedAll string   // the group whose every deployment passed was at its limit, if so
	throttles int      // throttles since the request last moved on
	onTokens  bool     // the last throttle was Bedrock's token quota
	lastError string   // the error code of the last failed attempt
}

// throttledOn notes a throttle, and whether its message says it was
// tokens rather than requests.
func (l *Lane) throttledOn(ev engine.Event) {
	l.throttles++
	l.onTokens = strings.Contains(ev.Message, "tokens")
}

// Step is one deployment a request tried or passed over.
type Step struct {
	At, End    time.Duration
	Group      string
	Deployment string
	Outcome    string // skipped, cooling down, circuit open, in flight, succeeded, throttled, failed, timed out, cancelled
	Region     string
	Code       string
	Message    string
}

// stepOutcomes word the segment kinds a step can end as, for the
// inspector; a table, so the event path allocates nothing to say it.
var stepOutcomes = [Cancelled + 1]string{Skipped: "skipped", Cooling: "cooling down", CircuitOpen: "circuit open",
	Failed: "failed", TimedOut: "timed out"}

// endStep closes the request's attempt in flight with outcome.
func (l *Lane) endStep(ev engine.Event, outcome string) {
	for i := len(l.Steps) - 1; i >= 0; i-- {
		if st := &l.Steps[i]; st.Outcome == "in flight" {
			st.End, st.Outcome, st.Region, st.Code, st.Message = ev.At, outcome, ev.Region, ev.Code, ev.Message
			return
		}
	}
}

// cause is why the request is moving on: what the pick passed over, or
// what the provider answered.
func (l *Lane) cause() string {
	switch {
	case len(l.passed) > 1 && l.passedAll != "":
		return l.passedAll + " all at their limit" // short enough to read beside a lane
	case len(l.passed) > 0:
		return strings.Join(l.passed, ", ")
	case l.throttles > 1 && l.onTokens:
		return fmt.Sprintf("throttled on tokens ×%d", l.throttles)
	case l.throttles > 1:
		return fmt.Sprintf("throttled ×%d", l.throttles)
	case l.throttles == 1 && l.onTokens:
		return "throttled on tokens"
	case l.throttles == 1:
		return "throttled"
	}
	return l.lastError
}

// brokenWords say how a stream broke, for a lane's reason.
var brokenWords = map[string]string{engine.StreamCut: "stream cut", engine.StreamStalled: "stream stalled"}

// Counters are the header's live totals.
type Counters struct {
	Sent, InFlight, Succeeded, FellBack, RateLimited, Failed int
}

// runState is what the dashboard knows of a run, built only from events.
type runState struct {
	info        *engine.RunInfo
	lanes       []Lane // by request id − 1
	counts      Counters
	polls       map[string]*engine.RegionPoll
	pollAt      map[string]time.Duration
	accounts    []string // in the order polls first arrived
	now         time.Duration
	ended       bool
	interrupted bool
	outcomes    [Cancelled + 1]int  // finished lanes by Outcome, for summarising the older ones
	seen        [Cancelled + 1]bool // segment kinds drawn so far, for the legend
	// tokensMatter: the run limits tokens (a TPM bucket) or was throttled
	// on them, so lanes show each request's tokens.
	tokensMatter bool
	faults       []*engine.FaultInfo // in effect now, in the order they started
	// spans are every fault of the run, over or not, in the order they
	// started: the header's "since", the bands on the time axes and the
	// Region histogram's outage marks all read them.
	spans []faultSpan
	// ticker is the latest decisions in words, oldest first, at most
	// tickerLines of them.
	ticker []string
	figs   figuresOf // live figures per tenant and deployment
	trends *trends   // per simulated second, for the trend panel
	// history is each account's latest polls, oldest first, for the
	// Region counts of a recent window.
	history map[string][]pollAt
	// sharedDown: the store of the limits the gateway's replicas share
	// is unreachable, as the last SharedLimitsChanged said.
	sharedDown bool
	replicas   int // sharing the limits, as the last Levels said; 0 without shared limits
}

// pollAt is one Region histogram and when it was read.
type pollAt struct {
	at     time.Duration
	counts map[string]int
}

// pollHistory is how many polls an account keeps: a poll comes at most
// once a simulated second, so this reaches back over any recent window.
const pollHistory = 128

// recent is how many calls each Region of account served in the window
// up to its latest poll: the latest counts less those of the newest poll at
// least window older, or all of them early in the run.
func (s *runState) recent(account string, window time.Duration) map[string]int {
	h := s.history[account]
	if len(h) == 0 {
		return nil
	}
	latest := h[len(h)-1]
	var base map[string]int
	for i := len(h) - 2; i >= 0; i-- {
		if latest.at-h[i].at >= window {
			base = h[i].counts
			break
		}
	}
	out := map[string]int{}
	for region, n := range latest.counts {
		out[region] = n - base[region]
	}
	return out
}

// tickerLines is how many decisions the ticker keeps; it shows as many as
// fit.
const tickerLines = 32

// tick notes a decision for the ticker.
func (s *runState) tick(at time.Duration, text string) {
	if len(s.ticker) == tickerLines {
		s.ticker = append(s.ticker[:0], s.ticker[1:]...)
	}
	s.ticker = append(s.ticker, fmt.Sprintf("%7s %s", seconds(at), text))
}

func newRunState() *runState {
	return &runState{polls: map[string]*engine.RegionPoll{}, pollAt: map[string]time.Duration{},
		trends: &trends{}, history: map[string][]pollAt{}}
}

func (s *runState) lane(id int) *Lane {
	for len(s.lanes) < id {
		s.lanes = append(s.lanes, Lane{ID: len(s.lanes) + 1})
	}
	return &s.lanes[id-1]
}

// closeOpen ends a lane's open segment at, as kind.
func (l *Lane) closeOpen(at time.Duration, kind SegmentKind) {
	if n := len(l.Segments); n > 0 && l.Segments[n-1].Open {
		seg := &l.Segments[n-1]
		seg.End, seg.Open = at, false
		seg.Kind = kind
		return
	}
	l.Segments = append(l.Segments, Segment{Kind: kind, Start: at, End: at})
}

func (l *Lane) serving() SegmentKind {
	if l.fellBack {
		return Fallback
	}
	return Primary
}

// apply folds one event into the state.
func (s *runState) apply(ev engine.Event) {
	if ev.At > s.now {
		s.now = ev.At
	}
	s.figs.apply(ev)
	s.trend(ev)
	defer s.see(ev)
	switch ev.Kind {
	case engine.RunStarted:
		s.info = ev.Info
		if f := ev.Info.Fleet; f != nil {
			s.replicas = f.Replicas // a run's replicas are its own: the count never changes
		}
		for _, b := range ev.Info.Buckets {
			s.tokensMatter = s.tokensMatter || b.ID.Tokens()
		}
	case engine.Admitted:
		l := s.lane(ev.Request)
		l.Tenant, l.admitted, l.Arrived, l.Replica = ev.Tenant, true, ev.At, ev.Replica
		l.InputTokens, l.MaxTokens = ev.InputTokens, ev.MaxTokens
		s.counts.Sent++
		s.counts.InFlight++
	case engine.RateLimited:
		l := s.lane(ev.Request)
		l.Tenant, l.Done, l.Latency, l.Outcome = ev.Tenant, true, ev.Latency, RateLimited
		if ev.Replica > 0 {
			l.Replica = ev.Replica
		}
		if ev.InputTokens > 0 {
			l.InputTokens, l.MaxTokens = ev.InputTokens, ev.MaxTokens
		}
		switch {
		case strings.HasPrefix(string(ev.Bucket), engine.TenantBucket):
			l.Why = fmt.Sprintf("%s over %s %s", ev.Tenant, ev.RPM, ev.Bucket.PerMinute())
		case len(l.passed) > 0:
			l.Why = "no budget: " + l.cause()
		default:
			l.Why = "no budget in any group"
		}
		s.tick(ev.At, fmt.Sprintf("#%d refused: %s", ev.Request, l.Why))
		if !l.admitted {
			l.Arrived = ev.At
		}
		s.outcomes[RateLimited]++
		if l.admitted {
			s.counts.InFlight-- // no group had budget
		} else {
			s.counts.Sent++ // refused at the tenant bucket, never admitted
		}
		l.closeOpen(ev.At, RateLimited)
		s.counts.RateLimited++
	case engine.Skipped:
		l := s.lane(ev.Request)
		kind := Skipped
		switch ev.Reason {
		case engine.SkipCooldown:
			kind = Cooling
			l.passed = append(l.passed, ev.Deployment+" cooling down")
		case engine.SkipCircuitOpen:
			kind = CircuitOpen
			l.passed = append(l.passed, ev.Deployment+" circuit open")
		default:
			if len(l.passed) == 0 || l.passedAll == ev.Group {
				l.passedAll = ev.Group
			} else {
				l.passedAll = ""
			}
			l.passed = append(l.passed, fmt.Sprintf("%s at %s %s", ev.Deployment, ev.RPM, ev.Bucket.PerMinute()))
		}
		if ev.Reason != engine.SkipBudget {
			l.passedAll = ""
		}
		l.Steps = append(l.Steps, Step{At: ev.At, End: ev.At, Group: ev.Group, Deployment: ev.Deployment, Outcome: stepOutcomes[kind], Message: ev.Message})
		l.Segments = append(l.Segments, Segment{Kind: kind, Start: ev.At, End: ev.At})
	case engine.Attempt:
		l := s.lane(ev.Request)
		l.Deployment, l.Model = ev.Deployment, ev.Model
		l.passed, l.passedAll = l.passed[:0], ""
		l.Steps = append(l.Steps, Step{At: ev.At, Group: ev.Group, Deployment: ev.Deployment, Outcome: "in flight"})
		l.Segments = append(l.Segments, Segment{Kind: l.serving(), Start: ev.At, End: ev.At, Open: true})
	case engine.FirstToken:
		// What came before the first token gets a fill of its own: up to
		// there the gateway could still retry or fall back.
		l := s.lane(ev.Request)
		if n := len(l.Segments); n > 0 && l.Segments[n-1].Open {
			open := l.Segments[n-1]
			l.Segments[n-1] = Segment{Kind: FirstWait, Start: open.Start, End: ev.At}
			l.Segments = append(l.Segments, Segment{Kind: open.Kind, Start: ev.At, End: ev.At, Open: true})
		}
		l.TTFT = ev.TTFT
		s.seen[FirstWait] = true
		l.Steps = append(l.Steps, Step{At: ev.At, End: ev.At, Deployment: ev.Deployment, Outcome: "first token",
			Message: "after " + seconds(ev.TTFT) + "; from here the request cannot retry or fall back"})
	case engine.Throttled:
		l := s.lane(ev.Request)
		l.throttledOn(ev)
		s.tokensMatter = s.tokensMatter || l.onTokens
		l.closeOpen(ev.At, Throttled)
		l.endStep(ev, "throttled")
	case engine.Errored:
		l := s.lane(ev.Request)
		l.lastError = ev.Code
		if words := brokenWords[ev.Code]; words != "" {
			l.lastError = fmt.Sprintf("%s after %d tokens", words, ev.Streamed)
		}
		l.closeOpen(ev.At, Failed)
		l.endStep(ev, "failed")
	case engine.FellBack:
		l := s.lane(ev.Request)
		l.fellBack = true
		l.Why = l.cause() + " → " + ev.Group
		l.passed, l.passedAll, l.throttles, l.lastError = l.passed[:0], "", 0, ""
		s.tick(ev.At, fmt.Sprintf("#%d %s", ev.Request, l.Why))
	case engine.Succeeded:
		l := s.finish(ev, 0)
		l.OutputTokens = ev.OutputTokens
		if n := len(l.Segments); ev.TTFT > 0 && n >= 2 && l.Segments[n-2].Kind == FirstWait {
			s.figs.streamedAnswer(ev.Tenant, ev.Deployment, ev.Streamed, ev.At-l.Segments[n-2].End)
		}
		l.Outcome = l.serving()
		s.outcomes[l.Outcome]++
		l.closeOpen(ev.At, l.Outcome)
		l.endStep(ev, "succeeded")
		s.counts.Succeeded++
		if l.throttles > 0 {
			l.Why = strings.TrimPrefix(l.Why+", then "+l.cause()+", retried", ", then ")
		}
		if ev.Fallback {
			// As the export counts it: served by a group after the first.
			// A request that moved on and was then refused did not.
			s.counts.FellBack++
		}
	case engine.RetryScheduled:
		l := s.lane(ev.Request)
		l.Segments = append(l.Segments, Segment{Kind: RetryWait, Start: ev.At, End: ev.Until})
	case engine.Failed:
		kind := Failed
		if ev.Code == engine.CodeGatewayTimeout {
			kind = TimedOut
		}
		l := s.finish(ev, kind)
		l.closeOpen(ev.At, kind)
		l.endStep(ev, stepOutcomes[kind])
		s.counts.Failed++
		why := ev.Code
		switch {
		case kind == TimedOut:
			why = "timed out"
		case l.throttles > 0 && ev.Code == wire.ThrottlingException:
			why = l.cause() // the last throttle, with nowhere left to go
		case ev.Code == wire.ThrottlingException && strings.Contains(ev.Message, "tokens"):
			why = "throttled on tokens"
			s.tokensMatter = true
		case ev.TTFT > 0:
			// A stream that broke after its first token: the client saw
			// these tokens.
			l.Streamed = ev.Streamed
			why = fmt.Sprintf("%s after %d tokens", brokenWords[ev.Code], ev.Streamed)
			if brokenWords[ev.Code] == "" {
				why = fmt.Sprintf("%s after %d tokens", ev.Code, ev.Streamed)
			}
		}
		if l.Why != "" {
			why = l.Why + ", then " + why
		}
		l.Why = why
		s.tick(ev.At, fmt.Sprintf("#%d failed: %s", ev.Request, why))
	case engine.Cancelled:
		l := s.finish(ev, Cancelled)
		l.closeOpen(ev.At, Cancelled)
		l.endStep(ev, "cancelled")
	case engine.RegionsPolled:
		if _, seen := s.polls[ev.Account]; !seen {
			s.accounts = append(s.accounts, ev.Account)
		}
		s.polls[ev.Account], s.pollAt[ev.Account] = ev.Regions, ev.At
		counts := map[string]int{}
		for _, c := range ev.Regions.Counts {
			counts[c.Region] = c.Count
		}
		h := append(s.history[ev.Account], pollAt{at: ev.At, counts: counts})
		if len(h) > pollHistory {
			h = h[len(h)-pollHistory:]
		}
		s.history[ev.Account] = h
	case engine.FaultStarted:
		s.faults = append(s.faults, ev.Fault)
		s.spans = append(s.spans, faultSpan{id: ev.Fault.ID, fault: ev.Fault.Fault, from: ev.At})
		s.tick(ev.At, "fault on: "+ev.Fault.Fault.String())
	case engine.FaultEnded:
		s.faults = slices.DeleteFunc(s.faults, func(f *engine.FaultInfo) bool { return f.ID == ev.Fault.ID })
		s.tick(ev.At, "fault off: "+ev.Fault.Fault.String())
		if span := s.span(ev.Fault.ID); span != nil {
			span.to, span.over = ev.At, true
		}
	case engine.HealthChanged:
		s.tick(ev.At, ev.Message)
	case engine.Levels:
		if ev.Replicas > 0 {
			s.replicas = ev.Replicas
		}
	case engine.SharedLimitsChanged:
		s.sharedDown = ev.Code == engine.CodeSharedDown
		s.tick(ev.At, "shared limits: "+ev.Message)
	case engine.RPMChanged:
		s.tick(ev.At, fmt.Sprintf("%s → %s %s", ev.Bucket, ev.RPM, ev.Bucket.PerMinute()))
	case engine.RateChanged:
		s.tick(ev.At, fmt.Sprintf("%s → %s a minute", ev.Bucket, engine.RateText(ev.Rate)))
	case engine.ControlRefused:
		s.tick(ev.At, "refused: "+ev.Message)
	case engine.RunEnded:
		s.ended, s.interrupted = true, ev.Interrupted
	}
}

// see notes the kind of the segment ev left last in its lane, for the
// legend: every event adds or changes at most that one.
func (s *runState) see(ev engine.Event) {
	if ev.Request < 1 || ev.Request > len(s.lanes) {
		return
	}
	if segs := s.lanes[ev.Request-1].Segments; len(segs) > 0 {
		s.seen[segs[len(segs)-1].Kind] = true
	}
}

// maxTrendChanges is how many limit and rate changes the trend panel
// marks: the latest, more than an hour of key presses.
const maxTrendChanges = 1000

// trend counts ev in its second, for the trend panel.
func (s *runState) trend(ev engine.Event) {
	switch ev.Kind {
	case engine.Succeeded:
		b := s.trends.bin(ev.At)
		if ev.Fallback {
			b.fellBack++
		} else {
			b.ok++
		}
		b.latency.add(ev.Latency)
	case engine.RateLimited:
		s.trends.bin(ev.At).refused++
	case engine.Throttled:
		s.trends.bin(ev.At).throttled++
	case engine.Failed:
		s.trends.bin(ev.At).failed++
	case engine.RPMChanged, engine.RateChanged:
		if len(s.trends.changes) == maxTrendChanges {
			s.trends.changes = append(s.trends.changes[:0], s.trends.changes[1:]...)
		}
		s.trends.changes = append(s.trends.changes, ev.At)
	}
}

// finish marks ev's lane done with outcome; 0 leaves the outcome to the
// caller, which knows it only from the lane.
func (s *runState) finish(ev engine.Event, outcome SegmentKind) *Lane {
	l := s.lane(ev.Request)
	l.Done, l.Latency, l.Region = true, ev.Latency, ev.Region
	if outcome != 0 {
		l.Outcome = outcome
		s.outcomes[outcome]++
	}
	if ev.Deployment != "" {
		l.Deployment, l.Model = ev.Deployment, ev.Model
	}
	s.counts.InFlight--
	return l
}

// faultSpan is when one fault was in effect.
type faultSpan struct {
	id       int
	fault    scenarios.Fault
	from, to time.Duration
	over     bool // to is set; until then the fault lasts to now
}

// until is when the fault ended, or now while it lasts.
func (f *faultSpan) until(now time.Duration) time.Duration {
	if f.over {
		return f.to
	}
	return now
}

// span is the fault with id, or nil.
func (s *runState) span(id int) *faultSpan {
	for i := len(s.spans) - 1; i >= 0; i-- {
		if s.spans[i].id == id {
			return &s.spans[i]
		}
	}
	return nil
}

// faultOn returns the id of the fault in effect that is f, whatever its
// timing, or 0.
func (s *runState) faultOn(f scenarios.Fault) int {
	for _, on := range s.faults {
		if on.Fault.String() == f.String() {
			return on.ID
		}
	}
	return 0
}

// summarise counts the outcomes of lanes[:end]: from the lanes themselves
// when they are few, else as the run's totals less the lanes after end, so
// the cost is the smaller side, never the whole run.
func (s *runState) summarise(end int) (outcomes [Cancelled + 1]int, inFlight int) {
	if end <= len(s.lanes)-end {
		for i := range s.lanes[:end] {
			if l := &s.lanes[i]; l.Done {
				outcomes[l.Outcome]++
			} else {
				inFlight++
			}
		}
		return outcomes, inFlight
	}
	outcomes = s.outcomes
	inFlight = end
	for _, n := range outcomes {
		inFlight -= n
	}
	for i := range s.lanes[end:] {
		if l := &s.lanes[end+i]; l.Done {
			outcomes[l.Outcome]--
			inFlight++
		}
	}
	return outcomes, max(0, inFlight)
}
