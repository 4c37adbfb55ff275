// Package engine is Spillway's embedded routing engine: the gateway that
// sends each request through tenant buckets, deployment buckets, weighted
// shuffle or round-robin, and ordered fallback groups, and reports every
// decision as an Event.
//
// The engine is a discrete-event simulation over simulated time, paced
// against an injected wall clock. Requests overlap in simulated time exactly
// as they would in a gateway, but each decision happens in a deterministic
// order, so a seed fixes the outcome at any speed. Consumers (the printer,
// the JSON recorder, the dashboard) subscribe to events and never see the
// engine's internals.
package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"spillway/engine/bucket"
	"spillway/scenarios"
)

// Options configures a run.
type Options struct {
	Seed uint64
	// Speed is simulated seconds per wall second. math.Inf(1) runs as fast
	// as the CPU allows.
	Speed   float64
	Clock   Clock // wall clock; nil means the real one
	Backend Backend
	Logs    LogSource // nil skips the Region histogram
	// Faults injects the scenario's faults and those toggled live; nil
	// means the backend cannot fail on demand (real AWS).
	Faults FaultInjector
}

// Engine runs one scenario once.
type Engine struct {
	scenario *scenarios.Scenario
	opts     Options
	rng      *rand.Rand

	tenants     []*tenant
	deployments []*deployment
	tunables    map[BucketID]tunable // every tenant and deployment, by bucket id
	sinks       []Sink

	// mu guards bucket creation, pre-run changes and the pacer's rebasing
	// against readers on other goroutines (Buckets, Elapsed, SetRPM).
	mu      sync.Mutex
	started bool
	// startPaused is a pause asked for before Run.
	startPaused bool
	// over is set once the run has ended: no more events, and changes are
	// applied directly instead of through control.
	over    bool
	control chan func() // changes asked for during a run, applied by the run's goroutine
	ended   chan struct{}
	nowNano atomic.Int64 // simulated time of the event being handled, for readers outside the loop

	// Run state, owned by the Run goroutine.
	ctx        context.Context
	pacer      pacer
	start      time.Time
	queue      schedule
	seq        uint64
	nextID     int
	planned    int // requests expected, for the RunStarted event
	generating int // tenants that will send more
	finished   int
	inflight   map[int]*request
	inbox      chan asyncReply
	pollInbox  chan []*RegionPoll // histograms read by a slow log source
	lastFinish time.Time
	succeeded  map[string]int // account → successful requests
	polling    bool
	polls      int                // Region polls made, at most scenarios.MaxLogPolls
	faults     map[int]*FaultInfo // in effect now, by id
	faultIDs   int
}

type tenant struct {
	spec    scenarios.Tenant
	id      BucketID
	rate    float64    // requests per minute, for constant and Poisson arrivals; tunable, written under Engine.mu
	gen     int        // bumped by a rate change, which voids the arrival scheduled under the old rate
	last    time.Time  // when the latest request arrived
	done    bool       // sends no more
	until   time.Time  // constant and Poisson: no arrival at or after this
	gaps    *rand.Rand // Poisson gaps, a stream of its own so routing never shifts them
	rpm     scenarios.RPM
	overMsg string // why a request was refused; rebuilt when rpm changes, not per request
	bucket  *bucket.Bucket
	chain   []*group
	sent    int
}

type deployment struct {
	spec         scenarios.Deployment
	account      scenarios.Account
	id           BucketID
	rpm          scenarios.RPM
	overMsg      string // why the pick passed it over; rebuilt when rpm changes
	throttledMsg string
	bucket       *bucket.Bucket
	health       health
}

// tunable is what SetRPM needs of a tenant or a deployment.
type tunable interface {
	setRPM(scenarios.RPM)
	limiter() *bucket.Bucket
}

func (t *tenant) limiter() *bucket.Bucket     { return t.bucket }
func (d *deployment) limiter() *bucket.Bucket { return d.bucket }

func (t *tenant) setRPM(rpm scenarios.RPM) {
	t.rpm = rpm
	t.overMsg = fmt.Sprintf("tenant %s is over its %s RPM (%s)", t.spec.Name, rpm, t.spec.Limiter)
}

func (d *deployment) setRPM(rpm scenarios.RPM) {
	d.rpm = rpm
	d.overMsg = fmt.Sprintf("deployment %s is at its %s RPM (%s)", d.spec.Name, rpm, d.spec.Limiter)
}

type request struct {
	id      int
	tenant  *tenant
	arrival time.Time
	pos     int // index into tenant.chain of the group being tried
	attempt int
	retries int // retries used in the current group
	dep     *deployment
	reply   Reply
	done    bool // finished: a late reply, retry or deadline is ignored
}

type asyncReply struct {
	req   *request
	reply Reply
}

// New prepares a run of s. It checks the options, not the scenario, which
// scenarios.Parse has checked already.
func New(s *scenarios.Scenario, opts Options) (*Engine, error) {
	if !(opts.Speed > 0) {
		return nil, fmt.Errorf("speed must be above 0, got %v", opts.Speed)
	}
	if opts.Backend == nil {
		return nil, errors.New("engine needs a backend")
	}
	if len(s.Faults) > 0 && opts.Faults == nil {
		return nil, fmt.Errorf("scenario %s injects faults, which only the simulated fleet can show; run it with --backend sim", s.Name)
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	e := &Engine{
		scenario: s,
		opts:     opts,
		rng:      rand.New(rand.NewPCG(opts.Seed, 0x5b111a4)),
		control:  make(chan func(), 64),
		tunables: map[BucketID]tunable{},
		ended:    make(chan struct{}),
	}
	byName := map[string]*deployment{}
	for _, d := range s.Deployments {
		acct, _ := s.Account(d.Account)
		dep := &deployment{spec: d, account: acct, id: BucketID(DeploymentBucket + d.Name),
			throttledMsg: d.Name + " throttled the call"}
		dep.setRPM(d.RPM)
		e.deployments = append(e.deployments, dep)
		e.tunables[dep.id] = dep
		byName[d.Name] = dep
	}
	groups := map[string]*group{}
	for _, g := range s.Groups {
		gr := &group{name: g.Name, strategy: g.Strategy, exhaustedMsg: "no deployment in group " + g.Name + " has budget"}
		for _, name := range g.Deployments {
			gr.members = append(gr.members, byName[name])
		}
		gr.skipped = make([]*deployment, 0, len(gr.members))
		groups[g.Name] = gr
	}
	for i, t := range s.Tenants {
		tn := &tenant{spec: t, id: BucketID(TenantBucket + t.Name), rate: t.Rate,
			gaps: rand.New(rand.NewPCG(opts.Seed, 0xa771+uint64(i)))}
		tn.setRPM(t.RPM)
		for _, name := range s.Chain(t.Group) {
			tn.chain = append(tn.chain, groups[name])
		}
		e.tenants = append(e.tenants, tn)
		e.tunables[tn.id] = tn
		e.planned += t.Expected()
	}
	return e, nil
}

// Subscribe adds a consumer of events. Call it before Run.
func (e *Engine) Subscribe(s Sink) { e.sinks = append(e.sinks, s) }

// Scenario is the scenario being run.
func (e *Engine) Scenario() *scenarios.Scenario { return e.scenario }

// ErrAlreadyRun is returned by a second Run: an engine runs once, so that a
// recording always describes one experiment.
var ErrAlreadyRun = errors.New("engine has already run; create a new one to run again")

// Run dispatches the scenario's load and returns when every request has
// finished and the Region histogram has settled, or when ctx is cancelled.
// Cancelling stops dispatch, cancels requests in flight, reads the logs one
// last time and ends the run with an Interrupted RunEnded event; Run then
// returns nil, because what was recorded is a valid, if shorter, run.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return ErrAlreadyRun
	}
	e.started = true
	e.ctx = ctx
	e.start = e.opts.Clock.Now()
	e.pacer = pacer{clock: e.opts.Clock, speed: e.opts.Speed, wallBase: e.start, simBase: e.start, paused: e.startPaused}
	for _, t := range e.tenants {
		t.bucket = bucket.New(t.spec.Limiter, t.rpm, e.start)
	}
	for _, d := range e.deployments {
		d.bucket = bucket.New(d.spec.Limiter, d.rpm, e.start)
	}
	e.mu.Unlock()
	defer e.drainControls()
	defer close(e.ended)

	e.inflight = map[int]*request{}
	e.inbox = make(chan asyncReply)
	e.pollInbox = make(chan []*RegionPoll)
	e.succeeded = map[string]int{}
	e.faults = map[int]*FaultInfo{}
	e.setNow(e.start)

	e.emit(e.start, Event{Kind: RunStarted, Info: &RunInfo{
		Scenario: e.scenario.Name,
		Title:    e.scenario.Title,
		Seed:     e.opts.Seed,
		Speed:    e.opts.Speed,
		Start:    e.start,
		Planned:  e.planned,
		Buckets:  e.Buckets(),
	}})
	for _, t := range e.tenants {
		t.until = e.start.Add(t.spec.Duration)
		first := e.start
		if t.spec.Arrival == scenarios.Poisson {
			first = first.Add(t.gap())
		}
		if t.spec.Arrival == scenarios.Burst || first.Before(t.until) {
			e.generating++
			e.push(item{at: first, kind: arrive, tenant: t})
		}
	}
	for _, f := range e.scenario.Faults {
		e.faultIDs++
		from, to := e.start.Add(f.At), time.Time{}
		if f.Duration > 0 {
			to = from.Add(f.Duration)
			e.push(item{at: to, kind: faultOff, fault: e.faultIDs})
		}
		e.opts.Faults.InjectFault(e.faultIDs, f, from, to)
		e.push(item{at: from, kind: faultOn, fault: e.faultIDs})
	}
	if e.opts.Logs != nil {
		e.polling = true
		e.push(item{at: e.start.Add(e.scenario.Logs.PollEvery), kind: poll})
	}

	for e.generating > 0 || e.finished < e.nextID || e.polling {
		if !e.step() {
			e.interrupt()
			return nil
		}
	}
	e.emit(e.lastTime(), Event{Kind: RunEnded})
	return nil
}

// step handles the next thing to happen: a scheduled item, a reply from a
// network backend or a control message. It returns false when ctx is done.
func (e *Engine) step() bool {
	var timer <-chan time.Time
	if len(e.queue) > 0 && !e.pacer.paused {
		wait := e.pacer.wait(e.queue[0].at)
		if wait <= 0 {
			// Due now, but a pending control message or cancellation wins,
			// so that retuning takes effect before the next admission.
			select {
			case <-e.ctx.Done():
				return false
			case apply := <-e.control:
				apply()
			default:
				e.handle(e.pop())
			}
			return true
		}
		timer = e.opts.Clock.After(wait)
	}
	select {
	case <-e.ctx.Done():
		return false
	case apply := <-e.control:
		apply()
	case r := <-e.inbox:
		now := e.pacer.simNow()
		if last := e.lastTime(); now.Before(last) {
			now = last
		}
		r.req.reply = r.reply
		r.req.reply.Latency = now.Sub(r.req.arrival)
		e.answer(now, r.req)
	case polls := <-e.pollInbox:
		now := e.pacer.simNow()
		if last := e.lastTime(); now.Before(last) {
			now = last
		}
		e.setNow(now)
		e.publish(now, polls, false)
	case <-timer:
	}
	return true
}

func (e *Engine) handle(it item) {
	e.setNow(it.at)
	switch it.kind {
	case arrive:
		if it.gen == it.tenant.gen {
			e.arrive(it.at, it.tenant)
		}
	case answer:
		e.answer(it.at, it.req)
	case poll:
		e.poll(it.at, false)
	case retry:
		if !it.req.done {
			e.route(it.at, it.req)
		}
	case deadline:
		e.timeout(it.at, it.req)
	case faultOn:
		info := &FaultInfo{ID: it.fault, Fault: e.scenario.Faults[it.fault-1]}
		e.faults[it.fault] = info
		e.emit(it.at, Event{Kind: FaultStarted, Fault: info})
	case faultOff:
		e.endFault(it.at, it.fault)
	}
}

func (e *Engine) setNow(t time.Time) { e.nowNano.Store(t.UnixNano()) }

func (e *Engine) lastTime() time.Time { return time.Unix(0, e.nowNano.Load()) }

// simNow is the simulated time for readers outside the loop.
func (e *Engine) simNow() time.Time {
	last := e.lastTime()
	if e.pacer.unpaced() {
		return last
	}
	if now := e.pacer.simNow(); now.After(last) {
		return now
	}
	return last
}

// gap is the time to a tenant's next arrival after one at a steady or
// Poisson rate.
func (t *tenant) gap() time.Duration {
	mean := float64(time.Minute) / t.rate
	if t.spec.Arrival == scenarios.Poisson {
		return time.Duration(t.gaps.ExpFloat64() * mean)
	}
	return time.Duration(mean)
}

// next is when the tenant's next request arrives after one at at, if it
// sends another.
func (t *tenant) next(at time.Time) (time.Time, bool) {
	if t.spec.Arrival == scenarios.Burst {
		return at.Add(t.spec.Stagger), t.sent < t.spec.Requests
	}
	next := at.Add(t.gap())
	return next, next.Before(t.until)
}

func (e *Engine) arrive(at time.Time, t *tenant) {
	t.sent++
	t.last = at
	if next, more := t.next(at); more {
		e.push(item{at: next, kind: arrive, tenant: t, gen: t.gen})
	} else {
		t.done = true
		e.generating--
	}
	e.nextID++
	r := &request{id: e.nextID, tenant: t, arrival: at}
	if !t.bucket.AllowAt(at) {
		e.finish(at, r, Event{Kind: RateLimited, Bucket: t.id, Message: t.overMsg})
		return
	}
	e.emit(at, Event{Kind: Admitted, Request: r.id, Tenant: t.spec.Name, Bucket: t.id})
	if d := e.scenario.Gateway.Timeout; d > 0 {
		e.push(item{at: at.Add(d), kind: deadline, req: r})
	}
	e.route(at, r)
}

// route sends r to the first group, from r.pos on, that has a deployment
// with budget. Deployments at their limit are skipped, and an exhausted
// group falls back to the next one in the chain.
func (e *Engine) route(at time.Time, r *request) {
	chain := r.tenant.chain
	for ; r.pos < len(chain); r.pos++ {
		g := chain[r.pos]
		if e.scenario.Gateway.BreakerFailures > 0 {
			e.refreshHealth(at, g)
		}
		d := g.pick(at, e.rng)
		for _, s := range g.unhealthy {
			ev := Event{Kind: Skipped, Request: r.id, Tenant: r.tenant.spec.Name, Group: g.name,
				Deployment: s.spec.Name, Model: s.spec.Model, Account: s.account.Name, Reason: s.skipReason(at),
				Message: s.health.skipMsg}
			if !s.health.until.IsZero() {
				ev.Until = s.health.until.Sub(e.start)
			}
			e.emit(at, ev)
		}
		for _, s := range g.skipped {
			e.emit(at, Event{Kind: Skipped, Request: r.id, Tenant: r.tenant.spec.Name, Group: g.name,
				Deployment: s.spec.Name, Model: s.spec.Model, Account: s.account.Name, Bucket: s.id,
				Reason: SkipBudget, Message: s.overMsg})
		}
		if d != nil {
			e.attempt(at, r, g, d)
			return
		}
		if r.pos+1 < len(chain) {
			r.retries = 0
			e.emit(at, Event{Kind: FellBack, Request: r.id, Tenant: r.tenant.spec.Name, Group: chain[r.pos+1].name,
				Message: g.exhaustedMsg})
		}
	}
	e.finish(at, r, Event{Kind: RateLimited, Message: "every deployment the request could use is at its RPM limit"})
}

func (e *Engine) attempt(at time.Time, r *request, g *group, d *deployment) {
	r.attempt++
	r.dep = d
	d.attempted()
	e.emit(at, Event{Kind: Attempt, Request: r.id, Attempt: r.attempt, Tenant: r.tenant.spec.Name, Group: g.name,
		Deployment: d.spec.Name, Model: d.spec.Model, Account: d.account.Name})
	e.inflight[r.id] = r
	call := Call{
		Request:      r.id,
		Attempt:      r.attempt,
		Deployment:   d.spec.Name,
		Account:      d.account.Name,
		SourceRegion: d.account.Region,
		ModelID:      d.spec.Model,
		Operation:    e.scenario.Operation,
		Prompt:       e.scenario.Prompt,
		MaxTokens:    e.scenario.MaxTokens,
	}
	if e.opts.Backend.Instant() {
		r.reply = e.opts.Backend.Invoke(e.ctx, at, call)
		e.push(item{at: at.Add(r.reply.Latency), kind: answer, req: r})
		return
	}
	go func() {
		reply := e.opts.Backend.Invoke(e.ctx, at, call)
		select {
		case e.inbox <- asyncReply{r, reply}:
		case <-e.ended:
		}
	}()
}

// answer handles the reply to r's current attempt.
func (e *Engine) answer(at time.Time, r *request) {
	if r.done {
		return // the gateway timed it out before the answer came
	}
	delete(e.inflight, r.id)
	d, rep := r.dep, r.reply
	base := Event{Request: r.id, Attempt: r.attempt, Tenant: r.tenant.spec.Name, Group: r.tenant.chain[r.pos].name,
		Deployment: d.spec.Name, Model: d.spec.Model, Account: d.account.Name, Region: rep.Region,
		Code: rep.Code, Message: rep.Message}
	class := rep.class()
	if class == "" {
		e.succeededAt(at, d)
		e.succeeded[d.account.Name]++
		ev := base
		ev.Kind, ev.Fallback = Succeeded, r.pos > 0
		e.finish(at, r, ev)
		return
	}
	e.failedAt(at, d)
	retry := r.retries < e.scenario.Gateway.Retries && retryable(class)
	fallBack := !retry && e.scenario.FallsBackOn(class) && r.pos+1 < len(r.tenant.chain)
	if class == scenarios.ClassThrottled || retry || fallBack {
		// A throttle, or an error the request moves on from, ends the
		// attempt with its own event before what comes next.
		ev, why := base, d.throttledMsg
		ev.Kind = Throttled
		if class != scenarios.ClassThrottled {
			ev.Kind, why = Errored, d.spec.Name+" answered "+rep.Code
		}
		e.emit(at, ev)
		switch {
		case retry:
			e.scheduleRetry(at, r, rep)
			return
		case fallBack:
			r.pos++
			r.retries = 0
			e.emit(at, Event{Kind: FellBack, Request: r.id, Tenant: r.tenant.spec.Name, Group: r.tenant.chain[r.pos].name,
				Code: rep.Code, Message: why})
			e.route(at, r)
			return
		}
	}
	ev := base
	ev.Kind = Failed
	e.finish(at, r, ev)
}

// retryable reports whether the gateway retries an attempt that failed
// with class: throttles, server errors and timeouts are worth another try;
// a denied or invalid call is not.
func retryable(class scenarios.ErrorClass) bool {
	return class == scenarios.ClassThrottled || class == scenarios.ClassServerError || class == scenarios.ClassTimeout
}

// scheduleRetry sends r back to its group after an exponential backoff
// with jitter, and no sooner than the provider's Retry-After.
func (e *Engine) scheduleRetry(at time.Time, r *request, rep Reply) {
	gw := e.scenario.Gateway
	wait := min(gw.MaxBackoff, gw.Backoff<<r.retries)
	if gw.Jitter > 0 {
		wait -= time.Duration(gw.Jitter * e.rng.Float64() * float64(wait))
	}
	why := ""
	if rep.RetryAfter > wait {
		wait, why = rep.RetryAfter, " (the provider's Retry-After)"
	}
	r.retries++
	e.emit(at, Event{Kind: RetryScheduled, Request: r.id, Attempt: r.attempt, Tenant: r.tenant.spec.Name,
		Deployment: r.dep.spec.Name, Until: at.Add(wait).Sub(e.start), Code: rep.Code,
		Message: fmt.Sprintf("retry %d of %d in %s%s", r.retries, gw.Retries, wait, why)})
	e.push(item{at: at.Add(wait), kind: retry, req: r})
}

// CodeGatewayTimeout is the error code of a request the gateway timed out.
const CodeGatewayTimeout = "GatewayTimeout"

// timeout fails r if it is still going when its gateway timeout runs out.
// An attempt in flight is abandoned: its answer, when it comes, is ignored.
func (e *Engine) timeout(at time.Time, r *request) {
	if r.done {
		return
	}
	if _, inFlight := e.inflight[r.id]; inFlight && r.dep.health.probing {
		e.failedAt(at, r.dep) // a probe that never answered has failed
	}
	delete(e.inflight, r.id)
	ev := Event{Kind: Failed, Code: CodeGatewayTimeout, Message: fmt.Sprintf("no answer within the gateway's %s timeout", e.scenario.Gateway.Timeout)}
	if d := r.dep; d != nil {
		ev.Deployment, ev.Model, ev.Account = d.spec.Name, d.spec.Model, d.account.Name
	}
	e.finish(at, r, ev)
}

// finish emits r's final event.
func (e *Engine) finish(at time.Time, r *request, ev Event) {
	r.done = true
	ev.Request, ev.Tenant = r.id, r.tenant.spec.Name
	ev.Latency = at.Sub(r.arrival)
	e.finished++
	e.lastFinish = at
	e.emit(at, ev)
}

func (e *Engine) emit(at time.Time, ev Event) {
	if e.over {
		return // nothing follows RunEnded
	}
	ev.At = at.Sub(e.start)
	for _, s := range e.sinks {
		s.Handle(ev)
	}
}

// interrupt ends the run early: nothing more is sent, requests in flight
// are cancelled, and the logs are read one last time.
func (e *Engine) interrupt() {
	at := e.simNow()
	if last := e.lastTime(); at.Before(last) {
		at = last
	}
	ids := make([]int, 0, len(e.inflight))
	for id := range e.inflight {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		r := e.inflight[id]
		delete(e.inflight, id)
		e.finish(at, r, Event{Kind: Cancelled, Deployment: r.dep.spec.Name, Model: r.dep.spec.Model,
			Account: r.dep.account.Name, Message: "the run was interrupted before the reply arrived"})
	}
	e.queue = nil
	if e.opts.Logs != nil {
		e.poll(at, true)
	}
	e.emit(at, Event{Kind: RunEnded, Interrupted: true})
}

// finalPollTimeout bounds the last log query after an interrupt, so that
// Ctrl-C never waits long on a slow Logs endpoint.
const finalPollTimeout = 5 * time.Second

// poll reads every account's Region histogram. Polling goes on while
// requests run and afterwards until the logs account for every success or
// the scenario's log timeout passes. A slow log source is read from its own
// goroutine, and its answer comes back through pollInbox.
func (e *Engine) poll(at time.Time, last bool) {
	e.polls++
	if last {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), finalPollTimeout)
		defer cancel()
		e.publish(at, e.queryLogs(ctx, at), true)
		return
	}
	if e.opts.Logs.Instant() {
		e.publish(at, e.queryLogs(e.ctx, at), false)
		return
	}
	go func() {
		polls := e.queryLogs(e.ctx, at)
		select {
		case e.pollInbox <- polls:
		case <-e.ended:
		}
	}()
}

// queryLogs asks the log source for each account's histogram up to at.
func (e *Engine) queryLogs(ctx context.Context, at time.Time) []*RegionPoll {
	var polls []*RegionPoll
	for _, acct := range e.scenario.Accounts {
		models := e.modelsOf(acct.Name)
		if len(models) == 0 {
			continue
		}
		p := &RegionPoll{Account: acct.Name}
		counts, err := e.opts.Logs.RegionCounts(ctx, LogQuery{
			Account:  acct.Name,
			LogGroup: e.scenario.Logs.Group,
			Models:   models,
			From:     e.start.Add(-time.Minute),
			To:       at,
			Since:    e.start,
		})
		if err != nil {
			p.Error = err.Error()
		}
		p.Counts = counts
		polls = append(polls, p)
	}
	return polls
}

// publish emits one round of histograms and decides whether to poll again.
func (e *Engine) publish(at time.Time, polls []*RegionPoll, last bool) {
	done := (e.generating == 0 && e.finished == e.nextID) || last
	settled := true
	for _, p := range polls {
		p.Unaccounted = max(0, e.succeeded[p.Account]-p.Total())
		if p.Unaccounted > 0 && p.Error == "" {
			settled = false
		}
	}
	// The file's check keeps a run's planned polls under the cap; a run
	// that outlasts its plan stops there rather than query without end.
	capped := e.polls >= scenarios.MaxLogPolls
	timedOut := !settled && (capped || done && at.Sub(e.lastFinish) >= e.scenario.Logs.Timeout)
	final := capped || done && (settled || timedOut || last)
	for _, p := range polls {
		p.Final, p.TimedOut = final, timedOut
		e.emit(at, Event{Kind: RegionsPolled, Account: p.Account, Regions: p})
	}
	if final {
		e.polling = false
		return
	}
	e.push(item{at: at.Add(e.scenario.Logs.PollEvery), kind: poll})
}

func (e *Engine) modelsOf(account string) []string {
	var models []string
	for _, d := range e.deployments {
		if d.account.Name == account && !slices.Contains(models, d.spec.Model) {
			models = append(models, d.spec.Model)
		}
	}
	return models
}

// Buckets reports every bucket's fill level now: tenants first, then
// deployments, in scenario order. Safe to call from any goroutine.
func (e *Engine) Buckets() []BucketLevel {
	e.mu.Lock()
	defer e.mu.Unlock()
	var now time.Time
	if e.started {
		now = e.readerNow()
	}
	out := make([]BucketLevel, 0, len(e.tenants)+len(e.deployments))
	level := func(id BucketID, b *bucket.Bucket, semantic scenarios.Limiter, rpm scenarios.RPM) BucketLevel {
		if b == nil { // before Run: full
			return BucketLevel{ID: id, Level: bucket.Level{Semantic: semantic, RPM: rpm,
				Available: float64(rpm), Capacity: float64(rpm)}}
		}
		return BucketLevel{ID: id, Level: b.LevelAt(now)}
	}
	for _, t := range e.tenants {
		l := level(t.id, t.bucket, t.spec.Limiter, t.rpm)
		if t.spec.Arrival != scenarios.Burst {
			l.Rate = t.rate
		}
		out = append(out, l)
	}
	for _, d := range e.deployments {
		l := level(d.id, d.bucket, d.spec.Limiter, d.rpm)
		if e.started {
			var until time.Time
			if l.Health, until = d.healthAt(now); !until.IsZero() {
				l.HealthUntil = until.Sub(e.start)
			}
		}
		out = append(out, l)
	}
	return out
}

// SetRPM retunes a bucket. During a run the change is applied by the run's
// goroutine before the next admission and recorded as an RPMChanged event;
// before a run it changes the starting limit.
func (e *Engine) SetRPM(id BucketID, rpm scenarios.RPM) error {
	if !(rpm >= 1) || (!rpm.IsUnlimited() && rpm != scenarios.RPM(math.Trunc(float64(rpm)))) {
		return fmt.Errorf("rpm must be a whole number ≥ 1 or unlimited, got %v", rpm)
	}
	u, ok := e.tunables[id] // the map never changes after New, so reading it needs no lock
	if !ok {
		return fmt.Errorf("no bucket %q; buckets are %s", id, e.bucketIDs())
	}
	e.mu.Lock()
	started := e.started
	if !started {
		u.setRPM(rpm)
	}
	e.mu.Unlock()
	if !started {
		return nil
	}
	if !e.send(func() { e.applyRPM(id, rpm) }) {
		// The run is over: change the limit the buckets report, which is
		// what a re-run that keeps tuned RPMs starts from.
		e.applyRPM(id, rpm)
	}
	return nil
}

// send hands a change to the run's goroutine and reports whether it will be
// applied. A change sent while the run ends is still applied, by the
// drain at the end of Run; one sent after the end is refused, so the
// caller can apply it directly.
func (e *Engine) send(apply func()) bool {
	for {
		e.mu.Lock()
		if e.over {
			e.mu.Unlock()
			return false
		}
		select {
		case e.control <- apply:
			e.mu.Unlock()
			return true
		default:
		}
		e.mu.Unlock()
		// The buffer is full: give the run a moment to take some.
		select {
		case <-e.ended:
		case <-time.After(time.Millisecond):
		}
	}
}

// drainControls applies the changes still buffered when the run ended, so
// that none is lost; their events are not emitted, the run being over.
func (e *Engine) drainControls() {
	e.mu.Lock()
	e.over = true
	e.mu.Unlock()
	for {
		select {
		case apply := <-e.control:
			apply()
		default:
			return
		}
	}
}

func (e *Engine) applyRPM(id BucketID, rpm scenarios.RPM) {
	at := e.simNow()
	u := e.tunables[id]
	e.mu.Lock()
	u.setRPM(rpm)
	u.limiter().SetRPMAt(at, rpm)
	e.mu.Unlock()
	e.emit(at, Event{Kind: RPMChanged, Bucket: id, RPM: rpm})
}

// SetRate changes the arrival rate, per minute, of a tenant with constant
// or Poisson arrivals. The next arrival is rescheduled at the new rate from
// the last one, so a rate raised from 1 a minute does not wait out the old
// gap. It is recorded as a RateChanged event.
func (e *Engine) SetRate(id BucketID, rate float64) error {
	var t *tenant
	for _, tn := range e.tenants {
		if tn.id == id {
			t = tn
		}
	}
	switch {
	case t == nil:
		return fmt.Errorf("no tenant bucket %q", id)
	case t.spec.Arrival == scenarios.Burst:
		return fmt.Errorf("tenant %s sends a burst of %d; give it arrival = \"constant\" or \"poisson\" with a rate to tune it live", t.spec.Name, t.spec.Requests)
	case !(rate > 0) || rate > 1e6:
		return fmt.Errorf("rate must be above 0 and at most 1,000,000 a minute, got %v", rate)
	}
	e.mu.Lock()
	if !e.started {
		t.rate = rate
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	e.send(func() {
		at := e.simNow()
		e.mu.Lock()
		t.rate = rate
		e.mu.Unlock()
		e.emit(at, Event{Kind: RateChanged, Tenant: t.spec.Name, Bucket: t.id, Rate: rate})
		if t.sent == 0 || t.done {
			return // the first arrival is still to come, or the last has gone
		}
		// Void the scheduled arrival and schedule the next from the last one
		// at the new rate, unless that is already past: then now.
		t.gen++
		next := t.last.Add(t.gap())
		if next.Before(at) {
			next = at
		}
		if next.Before(t.until) {
			e.push(item{at: next, kind: arrive, tenant: t, gen: t.gen})
		} else {
			t.done = true
			e.generating--
		}
	})
	return nil
}

// SetPaused stops or restarts dispatch. Paused, simulated time stands
// still: nothing is sent, no reply is due, and buckets do not refill, so a
// presenter can talk over a frozen run. A reply from a network backend that
// was already under way is still taken in. Pausing before Run starts the run
// paused.
func (e *Engine) SetPaused(paused bool) {
	e.mu.Lock()
	if !e.started {
		e.startPaused = paused
		e.mu.Unlock()
		return
	}
	e.mu.Unlock()
	e.send(func() {
		if e.pacer.paused == paused {
			return
		}
		at := e.rebase(func(p *pacer) { p.paused = paused })
		kind := Resumed
		if paused {
			kind = Paused
		}
		e.emit(at, Event{Kind: kind})
	})
}

// SetSpeed changes how fast simulated time runs, from now on: what has
// happened keeps its times, and what is scheduled keeps its simulated times,
// so outcomes do not depend on when the speed changed.
func (e *Engine) SetSpeed(speed float64) error {
	if !(speed > 0) {
		return fmt.Errorf("speed must be above 0, got %v", speed)
	}
	if math.IsInf(speed, 1) && !e.opts.Backend.Instant() {
		return errors.New("speed max needs simulated time, which this backend does not have")
	}
	e.mu.Lock()
	if !e.started {
		e.opts.Speed = speed
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	e.send(func() {
		if e.pacer.speed == speed {
			return
		}
		at := e.rebase(func(p *pacer) { p.speed = speed })
		e.emit(at, Event{Kind: SpeedChanged, Speed: speed})
	})
	return nil
}

// rebase anchors the pacer at the simulated time now, then changes it, so
// that simulated time runs on continuously from here.
func (e *Engine) rebase(change func(*pacer)) time.Time {
	at := e.simNow()
	e.mu.Lock()
	e.pacer.simBase, e.pacer.wallBase = at, e.opts.Clock.Now()
	change(&e.pacer)
	e.mu.Unlock()
	return at
}

// StartFault makes the simulated fleet show f from now until StopFault,
// and returns its id. It is recorded as a live FaultStarted event.
func (e *Engine) StartFault(f scenarios.Fault) (int, error) {
	if e.opts.Faults == nil {
		return 0, errors.New("faults need the simulated fleet; run with --backend sim")
	}
	ids := make(chan int, 1)
	if !e.send(func() {
		at := e.simNow()
		e.faultIDs++
		info := &FaultInfo{ID: e.faultIDs, Fault: f, Live: true}
		info.Fault.At, info.Fault.Duration = at.Sub(e.start), 0
		e.opts.Faults.InjectFault(info.ID, info.Fault, at, time.Time{})
		e.faults[info.ID] = info
		e.emit(at, Event{Kind: FaultStarted, Fault: info})
		ids <- info.ID
	}) {
		return 0, errors.New("the run has ended; r runs it again")
	}
	select {
	case id := <-ids:
		return id, nil
	case <-e.ended:
		return 0, errors.New("the run has ended; r runs it again")
	}
}

// StopFault ends fault id now, whether it was declared or started live.
func (e *Engine) StopFault(id int) {
	e.send(func() { e.endFault(e.simNow(), id) })
}

func (e *Engine) endFault(at time.Time, id int) {
	info, on := e.faults[id]
	if !on {
		return // already ended, early or on schedule
	}
	delete(e.faults, id)
	e.opts.Faults.EndFault(id, at)
	e.emit(at, Event{Kind: FaultEnded, Fault: info})
}

// Elapsed is the simulated time since the run started: zero before Run,
// frozen while paused, and stopped once the run has ended. Safe to call from any goroutine.
func (e *Engine) Elapsed() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		return 0
	}
	return e.readerNow().Sub(e.start)
}

// readerNow is the simulated time for readers outside the run: it stands
// still once the run is over, so gauges and the clock stop with it. Call
// with e.mu held.
func (e *Engine) readerNow() time.Time {
	if e.over {
		return e.lastTime()
	}
	return e.simNow()
}

func (e *Engine) bucketIDs() string {
	var ids []string
	for _, l := range e.Buckets() {
		ids = append(ids, string(l.ID))
	}
	return fmt.Sprint(ids)
}
