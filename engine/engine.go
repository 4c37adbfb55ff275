// Package engine is Spillway's embedded routing engine: the gateway that
// sends each request through tenant buckets, deployment buckets, a route
// strategy and ordered fallback groups, and reports every decision as an
// Event.
//
// The engine is a discrete-event simulation over simulated time, paced
// against an injected wall clock. Requests overlap in simulated time exactly
// as they would in a gateway, but each decision happens in a deterministic
// order, so a seed fixes the outcome at any speed.
//
// Its parts, one job each:
//   - engine.go wires them and runs the loop that hands each due item to its
//     part (loop.go keeps the schedule, the pacer and the subscribers);
//   - shell.go is the control shell, the only code other goroutines touch:
//     controls go in as ordered intents (intent.go), and snapshots
//     (snapshot.go) come out;
//   - traffic.go is the tenants and their arrivals;
//   - gateway.go is a request's path: admit, route, attempt, answer, retry
//     or time out, finish;
//   - route.go is the route strategies, deployment.go a deployment with its
//     bucket and health (package health holds cooldown and breaker);
//   - logpoll.go reads the Region histogram, faults.go keeps the fault
//     timeline;
//   - sharedlimits.go keeps the buckets in a store that a gateway's other
//     replicas share (package shared: Redis, or in process), and
//     replicas.go runs the scenario as a fleet of replicas in this one
//     engine, each with its own health, its limits its own or shared.
//
// The engine talks to Bedrock through the Backend, LogSource and
// FaultInjector interfaces (backend.go); it imports neither the AWS client
// nor the simulated AWS.
package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"spillway/engine/shared"
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
	// RPM overrides the scenario's starting limits, by bucket, as a re-run
	// that keeps tuned limits asks.
	RPM map[BucketID]scenarios.RPM
	// Open keeps the run going after its own traffic, until its context
	// ends: a gateway's requests come from its clients, as Arrive intents,
	// for as long as it serves.
	Open bool
	// Shared, when set, keeps the gateway's buckets where its other
	// replicas see them (see SharedLimits). Its store counts in real
	// time, so the run must be paced at speed 1.
	Shared *SharedLimits
	// Replicas, with a Count above 1, runs the scenario as that many
	// gateway replicas in this engine (see Replicas). Nil takes the
	// scenario's [scenario.replicas], sharing limits in this process.
	Replicas *Replicas
}

// Engine runs one scenario once.
type Engine struct {
	scenario *scenarios.Scenario
	opts     Options
	ctx      context.Context

	loop    loop
	shell   *Shell
	traffic traffic
	gateway gateway
	logs    logPoller
	faults  faultTimeline
	// tunables are every tenant and deployment, by bucket id; the map never
	// changes after New.
	tunables map[BucketID]tunable
	// chains are, by group, the groups a gateway client's request naming
	// it may use: the group, then its fallbacks.
	chains map[string][]*group
	ended  chan struct{}
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
		return nil, fmt.Errorf("scenario %s injects faults, which only the simulated backend can show", s.Name)
	}
	if math.IsInf(opts.Speed, 1) && !opts.Backend.Instant() {
		return nil, errors.New("speed max needs simulated time, which this backend does not have")
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Shared != nil && opts.Speed != 1 {
		return nil, errors.New("shared limits count in real time, on their store's clock: run at speed 1")
	}
	if r := ScenarioReplicas(s); opts.Replicas == nil && r.Count > 1 && !opts.Open {
		opts.Replicas = &r
	}
	if r := opts.Replicas; r != nil && r.Count > 1 {
		switch {
		case r.Count > scenarios.MaxReplicas:
			return nil, fmt.Errorf("a run simulates at most %d replicas, not %d", scenarios.MaxReplicas, r.Count)
		case opts.Open:
			return nil, errors.New("a gateway is one replica: run several, with --redis, for replicas that share limits; spillway run simulates a fleet")
		case opts.Shared != nil:
			return nil, errors.New("a run as replicas keeps their shared limits itself (Replicas.Store), not in Options.Shared")
		}
	}
	e := &Engine{
		scenario: s,
		opts:     opts,
		tunables: map[BucketID]tunable{},
		ended:    make(chan struct{}),
	}
	e.loop = loop{clock: opts.Clock, pacer: pacer{clock: opts.Clock, speed: opts.Speed}}
	e.loop.sample = func(at time.Time) {
		ev := Event{Kind: Levels}
		if g := e.gateway.shared; g != nil {
			e.syncShared(at)
			ev.Replicas = g.replicas
		}
		ev.Levels = e.levels(at)
		e.loop.emit(at, ev)
	}
	deployments := newDeployments(s)
	for _, d := range deployments.list {
		e.tunables[d.id] = d
		if d.tokens != nil {
			e.tunables[d.tokens.id] = d.tokens
		}
	}
	groups := deployments.groups(s)
	e.traffic = newTraffic(s, opts.Seed, groups)
	e.chains = map[string][]*group{}
	for _, g := range s.Groups {
		for _, name := range s.Chain(g.Name) {
			e.chains[g.Name] = append(e.chains[g.Name], groups[name])
		}
	}
	for _, t := range e.traffic.tenants {
		e.tunables[t.id] = t
		if t.tokens != nil {
			e.tunables[t.tokens.id] = t.tokens
		}
	}
	e.gateway = gateway{
		scenario:    s,
		rng:         rand.New(rand.NewPCG(opts.Seed, 0x5b111a4)),
		backend:     opts.Backend,
		timeline:    &e.loop,
		deployments: deployments.list,
		ended:       e.ended,
		callers:     newCallers(e.ended),
	}
	if r := opts.Replicas; r != nil && r.Count > 1 {
		f := newFleet(r, s, deployments.list, groups)
		var store shared.Store = f.fallback // own limits: the fleet keeps each replica's
		if !r.Own {
			store = shared.NewLocal(f.clock)
			if r.Store != nil {
				store = r.Store(f.clock)
			}
		}
		gate := &sharedGate{store: store, failClosed: r.OnFailure == scenarios.SharedFailClosed, ctx: context.Background(),
			clock: opts.Clock, timeline: &e.loop, fleet: f}
		e.gateway.shared, e.gateway.fleet = gate, f
		for _, d := range deployments.list {
			d.shared = gate
		}
	}
	if sl := opts.Shared; sl != nil {
		gate := &sharedGate{store: sl.Store, failClosed: sl.OnFailure == scenarios.SharedFailClosed, ctx: context.Background(),
			clock: opts.Clock, timeline: &e.loop, replica: sl.Replica}
		e.gateway.shared = gate
		for _, d := range deployments.list {
			d.shared = gate
		}
	}
	// Starting limits are checked as a live change is, now that every
	// bucket is known, so a wrong id lists them all.
	for id, rpm := range opts.RPM {
		if err := (SetRPM{Bucket: id, RPM: rpm}).check(e); err != nil {
			return nil, err
		}
		e.tunables[id].setRPM(rpm)
	}
	e.logs = logPoller{source: opts.Logs, scenario: s, deployments: deployments.list, ended: e.ended}
	e.faults = faultTimeline{injector: opts.Faults, declared: s.Faults}
	e.shell = newShell(e)
	return e, nil
}

// Subscribe adds a consumer of events. Call it before Run.
func (e *Engine) Subscribe(s Sink) { e.loop.subscribe(s) }

// Scenario is the scenario being run.
func (e *Engine) Scenario() *scenarios.Scenario { return e.scenario }

// Controls is the engine's control shell: the one way for other goroutines
// to change the run or see its state.
func (e *Engine) Controls() *Shell { return e.shell }

// ErrAlreadyRun is returned by a second Run: an engine runs once, so that a
// recording always describes one experiment.
var ErrAlreadyRun = errors.New("engine has already run; create a new one to run again")

// Run dispatches the scenario's load and returns when every request has
// finished and the Region histogram has settled, or when ctx is cancelled.
// Cancelling stops dispatch, cancels requests in flight, reads the logs one
// last time and ends the run with an Interrupted RunEnded event; Run then
// returns nil, because what was recorded is a valid, if shorter, run.
func (e *Engine) Run(ctx context.Context) (err error) {
	if !e.shell.begin() {
		return ErrAlreadyRun
	}
	defer close(e.ended)
	defer func() {
		// A bug in the engine or a backend must not take the process, and
		// with it the terminal and the record, down.
		if p := recover(); p != nil {
			err = fmt.Errorf("the engine stopped on an internal error (%v); this is a bug, please report it", p)
			e.fail(err)
		}
	}()
	e.ctx = ctx
	e.gateway.ctx = ctx
	if e.gateway.shared != nil {
		e.gateway.shared.ctx = ctx
	}
	start := e.opts.Clock.Now()
	e.loop.begin(start)
	var fleetInfo *FleetInfo
	if f := e.gateway.fleet; f != nil {
		f.start, f.now = start, start
		fleetInfo = &f.info
	}
	for _, u := range e.tunables {
		u.fill(start)
	}
	e.gateway.begin()
	if e.gateway.shared != nil && e.opts.Open {
		// At once, so that a store that is down at the start says so, as
		// an event, before any request; then every second, so that an
		// idle gateway still learns of limits retuned on other replicas.
		e.loop.schedule(item{at: start, kind: sharedSync})
	}

	e.loop.emit(start, Event{Kind: RunStarted, Info: &RunInfo{
		Scenario: e.scenario.Name,
		Title:    e.scenario.Title,
		Seed:     e.opts.Seed,
		Speed:    e.opts.Speed,
		Start:    start,
		Planned:  e.traffic.planned,
		Buckets:  e.levels(start),
		Fleet:    fleetInfo,
	}})
	// Faults go on the schedule before the first arrival, so that a fault
	// declared at t=0 is in the timeline before the attempts it affects.
	if err := e.faults.declare(ctx, &e.loop, start); err != nil {
		e.end(start, true)
		if ctx.Err() != nil {
			return nil // stopped while the faults were being declared: an interrupted run
		}
		return err
	}
	e.traffic.begin(&e.loop, start)
	if e.opts.Logs != nil {
		e.logs.begin(&e.loop, start)
	}
	e.shell.publish(e.snapshot())

	for e.opts.Open || e.traffic.generating > 0 || !e.gateway.idle() || e.logs.polling {
		if !e.step() {
			e.interrupt()
			return nil
		}
	}
	e.end(e.loop.now, false)
	return nil
}

// step handles the next thing to happen: a scheduled item, a reply from a
// network backend, an answer from a slow log source or the controls sent
// meanwhile. It returns false when ctx is done.
func (e *Engine) step() bool {
	if e.shell.hasWork() {
		e.applyControls()
	}
	due, wait, ok := e.loop.next()
	if ok && wait <= 0 {
		select {
		case <-e.ctx.Done():
			return false
		default:
		}
		e.handle(due)
		return true
	}
	// Nothing is due yet: the loop waits for its time, a reply or a
	// control, and what sinks hold back goes out first.
	e.loop.flush()
	var timer <-chan time.Time
	if ok {
		timer = e.opts.Clock.After(wait)
	}
	select {
	case <-e.ctx.Done():
		return false
	case <-e.shell.wake:
		e.applyControls()
	case r := <-e.gateway.replies:
		now := e.loop.advance()
		e.gateway.landed(now, r)
	case n := <-e.gateway.firsts:
		e.gateway.firstToken(e.loop.advance(), n.req, n.attempt)
	case polls := <-e.logs.inbox:
		now := e.loop.advance()
		e.logs.publish(&e.loop, now, polls, e.progress(), false)
	case <-timer:
	}
	return true
}

// handle runs one due item in the part it belongs to.
func (e *Engine) handle(it item) {
	e.loop.at(it.at)
	switch it.kind {
	case arrive:
		if e.traffic.arrive(&e.loop, it) {
			e.gateway.admit(it.at, it.tenant)
		}
	case answer:
		e.gateway.answer(it.at, it.req)
	case retry:
		e.gateway.retry(it.at, it.req)
	case deadline:
		e.gateway.timeout(it.at, it.req)
	case firstToken:
		e.gateway.firstToken(it.at, it.req, it.gen)
	case poll:
		e.logs.poll(e.ctx, &e.loop, it.at, e.progress(), false)
	case faultOn:
		e.faults.on(&e.loop, it.at, it.fault)
	case sharedSync:
		e.syncShared(it.at)
		if !e.loop.over && e.opts.Open {
			e.loop.schedule(item{at: it.at.Add(sharedSyncEvery), kind: sharedSync})
		}
	case faultOff:
		e.faults.off(e.ctx, &e.loop, it.at, it.fault)
	}
}

// progress is how far the requests have got, for the log poller.
func (e *Engine) progress() progress {
	return progress{
		done:       e.traffic.generating == 0 && e.gateway.idle(),
		lastFinish: e.gateway.lastFinish,
		ran:        e.gateway.ran,
	}
}

// applyControls applies every intent sent since the last time, in order,
// then publishes a snapshot if one was applied or asked for.
func (e *Engine) applyControls() {
	intents, wantSnapshot := e.shell.take()
	if len(intents) == 0 && !wantSnapshot {
		return
	}
	at := e.loop.advance()
	for _, in := range intents {
		e.apply(at, in)
	}
	e.shell.publish(e.snapshot())
}

// apply runs one intent at at and reports it: its own event if it changed
// something, ControlRefused with the reason if not.
func (e *Engine) apply(at time.Time, in Intent) {
	if err := in.apply(e, at); err != nil {
		e.loop.emit(at, refused(in, err.Error()))
	}
}

// refused is the event that says in was not applied, and why; a gateway
// client's request carries its ticket, so the door waiting on it hears.
func refused(in Intent, why string) Event {
	ev := Event{Kind: ControlRefused, Message: why, Bucket: in.bucket()}
	if a, ok := in.(Arrive); ok {
		ev.Ticket = a.Ticket
	}
	return ev
}

// interrupt ends the run early: nothing more is sent, requests in flight
// are cancelled, and the logs are read one last time.
func (e *Engine) interrupt() {
	at := e.loop.advance()
	e.gateway.cancelInFlight(at)
	e.loop.queue = nil
	if e.opts.Logs != nil {
		e.logs.poll(e.ctx, &e.loop, at, e.progress(), true)
	}
	e.end(at, true)
}

// end finishes the run: the controls still waiting are applied, or refused
// if they cannot apply after the end, so none is dropped; then RunEnded, and
// the shell gets the final state. Subscribers are called without the
// shell's lock, so one may still call Send.
func (e *Engine) end(at time.Time, interrupted bool) {
	for _, in := range e.shell.beginEnd() {
		if in.afterEnd() {
			e.apply(at, in)
		} else {
			e.loop.emit(at, refused(in, ErrRunOver.Error()))
		}
	}
	// The last gauges, where the run stopped, unless a sample was just taken.
	if e.loop.nextSample.Sub(at) != LevelsEvery {
		e.loop.emit(at, Event{Kind: Levels, Levels: e.levels(at)})
	}
	e.loop.emit(at, Event{Kind: RunEnded, Interrupted: interrupted}) // the loop is over from here
	e.shell.close(func(late []Intent) Snapshot {
		for _, in := range late {
			in.apply(e, at) // a limit change sent during RunEnded; nothing follows RunEnded
		}
		return e.snapshot()
	})
}

// fail ends a run that stopped on an internal error: the controls still
// waiting are refused, and RunEnded says the run was cut short, so that
// every screen and record stops waiting for it. A subscriber may be what
// failed, so it is given one chance.
func (e *Engine) fail(why error) {
	pending := e.shell.abort(why)
	if e.loop.over {
		return
	}
	defer func() { recover() }() // a subscriber that panicked may panic again
	at := e.loop.now
	for _, in := range pending {
		e.loop.emit(at, refused(in, why.Error()))
	}
	e.loop.emit(at, Event{Kind: RunEnded, Interrupted: true, Message: why.Error()})
}

func (e *Engine) bucketIDs() []BucketID {
	ids := make([]BucketID, 0, len(e.tunables))
	for _, l := range e.levels(e.loop.now) {
		ids = append(ids, l.ID)
	}
	return ids
}
