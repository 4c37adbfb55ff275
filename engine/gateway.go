package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

// gateway is a request's path through the engine: admit it through its
// tenant's bucket, route it to a group and a deployment, attempt the call,
// take the answer, and then retry, fall back, time out or finish. Every
// step is given the simulated time it happens at, and reports through the
// timeline.
type gateway struct {
	scenario    *scenarios.Scenario
	rng         *rand.Rand
	backend     Backend
	ctx         context.Context
	timeline    timeline
	deployments []*deployment

	inflight    map[int]*request
	replies     chan asyncReply     // answers from a network backend, called on goroutines of their own
	firsts      chan firstNote      // first tokens of a network backend's streamed answers
	ended       <-chan struct{}     // closed when the run is over; late replies are dropped
	callers     *callers            // the goroutines a network backend's calls run on
	clients     map[uint64]*request // gateway clients' requests not yet over, by ticket
	shared      *sharedGate         // the buckets shared with other replicas; nil when the limits are this run's own
	fleet       *fleet              // the run's replicas, when it runs as several; nil for one gateway
	nextID      int
	finished    int
	lastFinish  time.Time
	ran         map[string]int // account → calls that ran, which Bedrock logs: answers, and streams broken after their first token
	noBudgetMsg string         // why a request no deployment had room for was refused
}

type request struct {
	id        int
	replica   int // in a run as replicas, the one serving it, from 0
	tenant    *tenant
	arrival   time.Time
	need      tokens // its input, and input + max_tokens
	maxTokens int
	admitted  bool // through its tenant's buckets, whose tokens it settles when it ends
	stream    bool
	ticket    uint64       // a gateway client's, for the door that waits on it; 0 for generated traffic
	messages  []Message    // a gateway client's conversation; nil for generated traffic
	text      func(string) // a gateway client's stream: each piece of text as it comes
	chain     []*group     // the groups it may use, in order: its tenant's, or those of the group a client named
	pos       int          // index into chain of the group being tried
	attempt   int
	retries   int // retries used in the current group
	dep       *deployment
	picked    time.Time // when dep was picked, and its TPM limit counted the attempt
	first     time.Time // when the current attempt's first token came, on a network backend
	probe     bool      // the current attempt is a half-open circuit's probe
	hungUp    bool      // its client went away; its answer ends it as Cancelled
	// With shared limits: the store's times of the tenant's and the
	// current deployment's takes, which their TPM settlements need.
	sharedAdmitted, sharedPicked time.Time
	cancel                       func() // cancels a network backend's call in flight
	reply                        Reply
	done                         bool // finished: a late reply, retry or deadline is ignored
}

// used is what an answered call really took of a TPM limit: its input and
// output tokens; 0 for a call that failed.
func (r *request) used() int {
	switch {
	case r.reply.Broken != "" && r.reply.Streamed > 0:
		return r.reply.InputTokens + r.reply.Streamed // what streamed before the break
	case r.reply.Broken != "":
		return 0
	case r.reply.Code != "" || r.reply.Class != "":
		return 0
	}
	return r.reply.InputTokens + r.reply.OutputTokens
}

type asyncReply struct {
	req   *request
	reply Reply
}

// firstNote is a network backend's word that attempt's first token came.
type firstNote struct {
	req     *request
	attempt int
}

func (g *gateway) begin() {
	g.noBudgetMsg = "every deployment the request could use is at its RPM limit"
	for _, d := range g.deployments {
		if d.tokens != nil {
			g.noBudgetMsg = "every deployment the request could use is at its RPM or TPM limit"
		}
	}
	g.inflight = map[int]*request{}
	g.replies = make(chan asyncReply)
	g.firsts = make(chan firstNote)
	g.ran = map[string]int{}
	if g.ctx == nil {
		g.ctx = context.Background()
	}
}

// idle reports whether every request that arrived has finished.
func (g *gateway) idle() bool { return g.finished == g.nextID }

// admit takes a new request of t's own traffic in: its tokens drawn from
// t's asks, into t's groups.
func (g *gateway) admit(at time.Time, t *tenant) {
	g.nextID++
	input := t.asks.draw()
	r := &request{id: g.nextID, tenant: t, chain: t.chain, arrival: at, maxTokens: t.asks.maxTokens, stream: t.spec.Stream,
		need: tokens{input: float64(input), reserve: float64(input + t.asks.maxTokens)}}
	if g.fleet != nil {
		r.replica = g.fleet.assign(t)
		g.serve(r)
	}
	g.enter(at, r)
}

// serve makes r's replica the one whose health and turns the path reads,
// in a run as replicas; every step of a request's path starts with it.
func (g *gateway) serve(r *request) { g.fleet.serve(r.replica, g.deployments) }

// admitClient takes in a request a gateway client sent as t's: it names
// its group, and brings its tokens and its conversation.
func (g *gateway) admitClient(at time.Time, t *tenant, chain []*group, a Arrive) {
	g.nextID++
	r := &request{id: g.nextID, tenant: t, chain: chain, arrival: at, maxTokens: a.MaxTokens, stream: a.Stream,
		ticket: a.Ticket, messages: a.Messages, text: a.Text,
		need: tokens{input: float64(a.InputTokens), reserve: float64(a.InputTokens + a.MaxTokens)}}
	if g.clients == nil {
		g.clients = map[uint64]*request{}
	}
	g.clients[a.Ticket] = r
	g.enter(at, r)
}

// CodeClientClosed is the code of a request whose client hung up before
// its answer (nginx's 499 has the same name).
const CodeClientClosed = "ClientClosedRequest"

// hangup ends the request of the client with ticket, who went away. An
// attempt in flight on a network backend is cancelled, and its answer,
// which then comes at once, ends the request. A half-open circuit's probe
// is left to finish, as the circuit waits for its answer; the request
// still ends as Cancelled when it comes.
func (g *gateway) hangup(at time.Time, ticket uint64) {
	r := g.clients[ticket]
	if r == nil || r.done {
		return
	}
	if _, inFlight := g.inflight[r.id]; inFlight {
		if r.probe || !g.backend.Instant() {
			r.hungUp = true
			if !r.probe && r.cancel != nil {
				r.cancel()
			}
			return
		}
		delete(g.inflight, r.id)
		r.abandon(at, g.shared)
	}
	g.finish(at, r, g.cancelled(r))
}

// cancelled is the final event of a request whose client hung up.
func (g *gateway) cancelled(r *request) Event {
	ev := Event{Kind: Cancelled, Code: CodeClientClosed, Message: "the client hung up before its answer"}
	if d := r.dep; d != nil {
		ev.Deployment, ev.Model, ev.Account = d.spec.Name, d.spec.Model, d.account.Name
	}
	return ev
}

// enter takes r through its tenant's buckets: its RPM limit and, if it
// has one, its TPM limit. It must pass both; the one that refuses is
// named, and the other is not charged.
func (g *gateway) enter(at time.Time, r *request) {
	t, input := r.tenant, int(r.need.input)
	if g.shared != nil && !g.enterShared(at, r) {
		return
	}
	switch {
	case r.admitted:
		// The shared store let it in.
	case t.tokens == nil:
		if !t.bucket.AllowAt(at) {
			g.finish(at, r, Event{Kind: RateLimited, Bucket: t.id, RPM: t.rpm, Message: t.overMsg, InputTokens: input, MaxTokens: r.maxTokens,
				RetryAfter: t.bucket.WaitAt(at, 1)})
			return
		}
	case !t.bucket.HasBudgetAt(at):
		t.bucket.RejectAt(at)
		g.finish(at, r, Event{Kind: RateLimited, Bucket: t.id, RPM: t.rpm, Message: t.overMsg, InputTokens: input, MaxTokens: r.maxTokens,
			RetryAfter: t.bucket.WaitAt(at, 1)})
		return
	case !t.tokens.take(at, r.need):
		g.finish(at, r, Event{Kind: RateLimited, Bucket: t.tokens.id, RPM: t.tokens.tpm, Message: t.tokens.overMsg, InputTokens: input, MaxTokens: r.maxTokens})
		return
	default:
		t.bucket.AllowAt(at)
	}
	r.admitted = true
	g.admitted(at, r)
}

// enterShared takes r through its tenant's buckets in the shared store.
// It reports false when r is over (refused); r.admitted is set when the
// store let it in, and left unset when the store is down and the
// tenant's own buckets decide.
func (g *gateway) enterShared(at time.Time, r *request) bool {
	t, input := r.tenant, int(r.need.input)
	asks := asksOf(t.id, t.bucket.Semantic(), t.rpm, t.tokens, r.need)
	if len(asks) == 0 && !g.shared.failClosed {
		r.admitted = true // nothing to count; a closed gateway still asks, to know the store is there
		return true
	}
	ans := g.shared.take(at, asks)
	switch ans.verdict {
	case sharedTaken:
		r.admitted, r.sharedAdmitted = true, ans.at
		t.bucket.Tally(true)
	case sharedRefused:
		t.bucket.Tally(false)
		ev := Event{Kind: RateLimited, Bucket: t.id, RPM: t.rpm, Message: t.overMsg, InputTokens: input, MaxTokens: r.maxTokens}
		if id := refusedBucket(asks, ans.refusal); t.tokens != nil && id == t.tokens.id {
			ev.Bucket, ev.RPM, ev.Message = t.tokens.id, t.tokens.tpm, t.tokens.overMsg
		}
		if ans.refusal.Wait >= 0 {
			ev.RetryAfter = ans.refusal.Wait
		}
		g.finish(at, r, ev)
		return false
	case sharedUnavailable:
		g.finish(at, r, Event{Kind: Failed, Code: CodeSharedUnavailable, Message: unavailableMsg, InputTokens: input, MaxTokens: r.maxTokens})
		return false
	}
	return true
}

// admitted sends r, let in by its tenant's buckets, on to its groups.
func (g *gateway) admitted(at time.Time, r *request) {
	t, input := r.tenant, int(r.need.input)
	g.timeline.emit(at, Event{Kind: Admitted, Request: r.id, Ticket: r.ticket, Tenant: t.spec.Name, Bucket: t.id,
		InputTokens: input, MaxTokens: r.maxTokens, Replica: g.fleet.replicaNumber()})
	if d := g.scenario.Gateway.Timeout; d > 0 {
		g.timeline.schedule(item{at: at.Add(d), kind: deadline, req: r})
	}
	g.route(at, r)
}

// route sends r to the first group, from r.pos on, that has a deployment
// with budget. Deployments at their limit or skipped for their health are
// passed over, and an exhausted group falls back to the next in the chain.
func (g *gateway) route(at time.Time, r *request) {
	chain := r.chain
	for ; r.pos < len(chain); r.pos++ {
		grp := chain[r.pos]
		if g.scenario.Gateway.BreakerFailures > 0 {
			// Only a breaker has a state that falls due: open circuits go
			// half-open before the pick, so it may send the probe.
			for _, d := range grp.members {
				if tr, changed := d.health.Due(at); changed {
					d.transitioned(g.timeline, at, tr)
				}
			}
		}
		d := grp.pick(at, g.rng, r.need)
		for _, s := range grp.unhealthy {
			ev := Event{Kind: Skipped, Request: r.id, Tenant: r.tenant.spec.Name, Group: grp.name,
				Deployment: s.spec.Name, Model: s.spec.Model, Account: s.account.Name, Reason: s.skipReason(at),
				Message: s.skipMsg}
			if _, until := s.health.At(at); !until.IsZero() {
				ev.Until = g.timeline.since(until)
			}
			g.timeline.emit(at, ev)
		}
		for _, s := range grp.skipped {
			id, limit, why := s.short(at)
			reason := SkipBudget
			if s.heldElsewhere {
				reason, id, limit = SkipCooldown, "", 0
			}
			g.timeline.emit(at, Event{Kind: Skipped, Request: r.id, Tenant: r.tenant.spec.Name, Group: grp.name,
				Deployment: s.spec.Name, Model: s.spec.Model, Account: s.account.Name, Bucket: id, RPM: limit,
				Reason: reason, Message: why})
		}
		if d != nil {
			g.attempt(at, r, grp, d)
			return
		}
		if r.pos+1 < len(chain) {
			r.retries = 0
			g.timeline.emit(at, Event{Kind: FellBack, Request: r.id, Tenant: r.tenant.spec.Name, Group: chain[r.pos+1].name,
				Message: grp.exhaustedMsg})
		}
	}
	g.finish(at, r, Event{Kind: RateLimited, Message: g.noBudgetMsg})
}

// attempt calls d for r. An instant backend's answer is scheduled at its
// simulated latency; a network backend is called on a goroutine of its own
// and its answer comes back through replies.
func (g *gateway) attempt(at time.Time, r *request, grp *group, d *deployment) {
	r.attempt++
	r.dep = d
	r.picked, r.sharedPicked = at, d.takenAt
	r.probe = d.health.Picked()
	g.timeline.emit(at, Event{Kind: Attempt, Request: r.id, Attempt: r.attempt, Tenant: r.tenant.spec.Name, Group: grp.name,
		Deployment: d.spec.Name, Model: d.spec.Model, Account: d.account.Name,
		InputTokens: int(r.need.input), MaxTokens: r.maxTokens})
	g.inflight[r.id] = r
	call := Call{
		Request:      r.id,
		Attempt:      r.attempt,
		Deployment:   d.spec.Name,
		Account:      d.account.Name,
		SourceRegion: d.account.Region,
		ModelID:      d.spec.Model,
		Operation:    g.scenario.Operation,
		Prompt:       g.scenario.Prompt,
		InputTokens:  int(r.need.input),
		MaxTokens:    r.maxTokens,
		Stream:       r.stream,
		Messages:     r.messages,
		TTFTTimeout:  g.scenario.Gateway.TTFTTimeout,
		StallTimeout: g.scenario.Gateway.StallTimeout,
	}
	if g.backend.Instant() {
		r.reply = g.backend.Invoke(g.ctx, at, call)
		end := r.reply.Latency
		if call.Stream && r.reply.Code == "" {
			end = g.timeStream(at, r)
		}
		g.timeline.schedule(item{at: at.Add(end), kind: answer, req: r})
		return
	}
	// Only a network backend reads a stream as it comes; an instant one's
	// text is known at once, and the answer's end carries it.
	call.Text = r.text
	ctx, replies, ended := g.ctx, g.replies, g.ended
	var cancel context.CancelFunc
	if r.ticket != 0 {
		// A gateway client's call can be cancelled when its client hangs up.
		ctx, cancel = context.WithCancel(ctx)
		r.cancel = cancel
	}
	if call.Stream {
		note, firsts := firstNote{r, r.attempt}, g.firsts
		call.FirstToken = func() {
			select {
			case firsts <- note:
			case <-ended:
			}
		}
	}
	g.callers.run(func() {
		reply := invokeSafely(ctx, g.backend, at, call)
		if cancel != nil {
			cancel()
		}
		select {
		case replies <- asyncReply{r, reply}:
		case <-ended:
		}
	})
}

// timeStream schedules the phases of a streamed answer an instant backend
// has told in full: its first token, then its end, or the gateway's TTFT
// or stall timeout where one runs out first. It returns when the answer is
// taken, since the call.
func (g *gateway) timeStream(at time.Time, r *request) time.Duration {
	rep, gw := &r.reply, g.scenario.Gateway
	if gw.TTFTTimeout > 0 && rep.FirstToken > gw.TTFTTimeout {
		*rep = Reply{RequestID: rep.RequestID, Region: rep.Region, InputTokens: rep.InputTokens,
			Code: NoFirstToken, Class: scenarios.ClassTimeout,
			Message: fmt.Sprintf("no first token within the gateway's %s TTFT timeout", gw.TTFTTimeout)}
		return gw.TTFTTimeout
	}
	if rep.Broken == "" || rep.Streamed > 0 {
		g.timeline.schedule(item{at: at.Add(rep.FirstToken), kind: firstToken, req: r, gen: r.attempt})
	}
	if gw.StallTimeout > 0 && rep.Stall > gw.StallTimeout {
		rep.Broken, rep.Streamed = StreamStalled, rep.StallAfter
		rep.Latency = rep.StallAt + gw.StallTimeout
		rep.Message = fmt.Sprintf("no token for the gateway's %s stall timeout after %d tokens", gw.StallTimeout, rep.StallAfter)
	}
	return rep.Latency
}

// firstToken marks a streamed attempt's first token, unless the attempt
// is over.
func (g *gateway) firstToken(at time.Time, r *request, attempt int) {
	if r.done || r.attempt != attempt {
		return
	}
	r.first = at
	g.timeline.emit(at, Event{Kind: FirstToken, Request: r.id, Attempt: r.attempt, Tenant: r.tenant.spec.Name,
		Deployment: r.dep.spec.Name, Model: r.dep.spec.Model, Account: r.dep.account.Name, TTFT: at.Sub(r.picked)})
}

// brokenStream ends an attempt whose stream broke after its first token.
// The client has seen those tokens, so the request neither retries nor
// falls back; it fails, unless the tenant restarts broken streams on its
// next group.
func (g *gateway) brokenStream(at time.Time, r *request, base Event) {
	d, rep := r.dep, r.reply
	if tr, changed := d.health.Failed(at); changed {
		d.transitioned(g.timeline, at, tr)
	}
	g.ran[d.account.Name]++ // Bedrock logged it: the histogram waits for it too
	var why string
	switch rep.Broken {
	case StreamCut:
		why = fmt.Sprintf("the connection was cut after %d tokens the client had already seen", rep.Streamed)
	case StreamStalled:
		why = rep.Message
	default:
		why = fmt.Sprintf("Bedrock sent %s after %d tokens the client had already seen", rep.Broken, rep.Streamed)
	}
	ev := base
	ev.Code, ev.Message = rep.Broken, why
	if r.tenant.spec.RestartMidStream && r.pos+1 < len(r.chain) {
		ev.Kind = Errored
		g.timeline.emit(at, ev)
		r.pos++
		r.retries = 0
		g.timeline.emit(at, Event{Kind: FellBack, Request: r.id, Tenant: r.tenant.spec.Name, Group: r.chain[r.pos].name,
			Code: rep.Broken, Message: why + "; restarting on the next group", Streamed: rep.Streamed})
		g.route(at, r)
		return
	}
	ev.Kind = Failed
	g.finish(at, r, ev)
}

// streamErrorClass is the class of an exception event that ended a stream
// before its first token: a throttle or a server error, as the same error
// outside a stream would be.
func streamErrorClass(code string) scenarios.ErrorClass {
	if code == "" {
		return scenarios.ClassServerError
	}
	if class := wire.Classify(strings.ToUpper(code[:1]) + code[1:]); class != scenarios.ClassOther {
		return class
	}
	return scenarios.ClassServerError
}

// CodeInternalError is the error code of a call whose backend failed inside
// Spillway, such as a bug in a client.
const CodeInternalError = "SpillwayInternalError"

// invokeSafely calls a network backend on its own goroutine, where a panic
// would take the whole process down: it becomes a failed reply instead.
func invokeSafely(ctx context.Context, b Backend, at time.Time, call Call) (reply Reply) {
	defer func() {
		if p := recover(); p != nil {
			reply = Reply{Code: CodeInternalError, Message: fmt.Sprintf("the backend failed inside Spillway (%v); this is a bug, please report it", p)}
		}
	}()
	return b.Invoke(ctx, at, call)
}

// landed takes a network backend's reply at now.
func (g *gateway) landed(now time.Time, r asyncReply) {
	r.req.reply = r.reply
	r.req.reply.Latency = now.Sub(r.req.arrival)
	if q := r.req; q.first.After(q.picked) && r.reply.FirstToken > 0 {
		// On the engine's clock, as the first-token event had it.
		q.reply.FirstToken = q.first.Sub(q.picked)
	}
	g.answer(now, r.req)
}

// answer handles the reply to r's current attempt.
func (g *gateway) answer(at time.Time, r *request) {
	if r.done {
		return // the gateway timed it out before the answer came
	}
	g.serve(r)
	delete(g.inflight, r.id)
	d, rep := r.dep, r.reply
	if d.tokens != nil {
		d.tokens.settle(at, r.picked, r.need, r.used())
		d.tokens.settleShared(g.shared, at, r.need, r.used(), r.sharedPicked)
	}
	if r.hungUp {
		if r.probe {
			// The probe ran to its end: the circuit hears how it went.
			health := d.health.Succeeded
			if rep.class() != "" || rep.Broken != "" {
				health = d.health.Failed
			}
			if tr, changed := health(at); changed {
				d.transitioned(g.timeline, at, tr)
			}
		}
		g.finish(at, r, g.cancelled(r))
		return
	}
	base := Event{Request: r.id, Attempt: r.attempt, Tenant: r.tenant.spec.Name, Group: r.chain[r.pos].name,
		Deployment: d.spec.Name, Model: d.spec.Model, Account: d.account.Name, Region: rep.Region,
		Code: rep.Code, Message: rep.Message, InputTokens: rep.InputTokens, OutputTokens: rep.OutputTokens,
		TTFT: rep.FirstToken, Streamed: rep.Streamed}
	if rep.Broken != "" && rep.Streamed > 0 {
		g.brokenStream(at, r, base)
		return
	}
	if rep.Broken != "" {
		// Broken before any token reached the client: an error like any
		// other, which may retry or fall back.
		rep.Code, rep.Class, rep.Broken = rep.Broken, streamErrorClass(rep.Broken), ""
		r.reply = rep
		base.Code, base.TTFT = rep.Code, 0
	}
	class := rep.class()
	if class == "" {
		if tr, changed := d.health.Succeeded(at); changed {
			d.transitioned(g.timeline, at, tr)
		}
		g.ran[d.account.Name]++
		ev := base
		ev.Kind, ev.Fallback, ev.Text = Succeeded, r.pos > 0, rep.Text
		g.finish(at, r, ev)
		return
	}
	if tr, changed := d.health.Failed(at); changed {
		d.transitioned(g.timeline, at, tr)
	}
	retry := r.retries < g.scenario.Gateway.Retries && retryable(class)
	fallBack := !retry && g.scenario.FallsBackOn(class) && r.pos+1 < len(r.chain)
	if class == scenarios.ClassThrottled || retry || fallBack {
		// A throttle, or an error the request moves on from, ends the
		// attempt with its own event before what comes next.
		ev, why := base, d.throttledMsg
		ev.Kind = Throttled
		if class != scenarios.ClassThrottled {
			ev.Kind, why = Errored, d.spec.Name+" answered "+rep.Code
		}
		g.timeline.emit(at, ev)
		switch {
		case retry:
			g.scheduleRetry(at, r, rep)
			return
		case fallBack:
			r.pos++
			r.retries = 0
			g.timeline.emit(at, Event{Kind: FellBack, Request: r.id, Tenant: r.tenant.spec.Name, Group: r.chain[r.pos].name,
				Code: rep.Code, Message: why})
			g.route(at, r)
			return
		}
	}
	ev := base
	ev.Kind = Failed
	g.finish(at, r, ev)
}

// retryable reports whether the gateway retries an attempt that failed
// with class: throttles, server errors and timeouts are worth another try;
// a denied or invalid call is not.
func retryable(class scenarios.ErrorClass) bool {
	return class == scenarios.ClassThrottled || class == scenarios.ClassServerError || class == scenarios.ClassTimeout
}

// scheduleRetry sends r back to its group after an exponential backoff
// with jitter, and no sooner than the provider's Retry-After.
func (g *gateway) scheduleRetry(at time.Time, r *request, rep Reply) {
	gw := g.scenario.Gateway
	wait := min(gw.MaxBackoff, gw.Backoff<<r.retries)
	if gw.Jitter > 0 {
		wait -= time.Duration(gw.Jitter * g.rng.Float64() * float64(wait))
	}
	why := ""
	if rep.RetryAfter > wait {
		wait, why = rep.RetryAfter, " (the provider's Retry-After)"
	}
	r.retries++
	g.timeline.emit(at, Event{Kind: RetryScheduled, Request: r.id, Attempt: r.attempt, Tenant: r.tenant.spec.Name,
		Deployment: r.dep.spec.Name, Until: g.timeline.since(at.Add(wait)), Code: rep.Code,
		Message: fmt.Sprintf("retry %d of %d in %s%s", r.retries, gw.Retries, wait, why)})
	g.timeline.schedule(item{at: at.Add(wait), kind: retry, req: r})
}

// retry tries r's group again once its backoff is over.
func (g *gateway) retry(at time.Time, r *request) {
	if !r.done {
		g.serve(r)
		g.route(at, r)
	}
}

// CodeGatewayTimeout is the error code of a request the gateway timed out.
const CodeGatewayTimeout = "GatewayTimeout"

// timeout fails r if it is still going when its gateway timeout runs out.
// An attempt in flight is abandoned: its answer, when it comes, is ignored.
func (g *gateway) timeout(at time.Time, r *request) {
	if r.done {
		return
	}
	g.serve(r)
	_, inFlight := g.inflight[r.id]
	if inFlight && r.probe {
		// A probe that never answered has failed.
		if tr, changed := r.dep.health.Failed(at); changed {
			r.dep.transitioned(g.timeline, at, tr)
		}
	}
	if inFlight {
		r.abandon(at, g.shared)
	}
	delete(g.inflight, r.id)
	ev := Event{Kind: Failed, Code: CodeGatewayTimeout, Message: fmt.Sprintf("no answer within the gateway's %s timeout", g.scenario.Gateway.Timeout)}
	if d := r.dep; d != nil {
		ev.Deployment, ev.Model, ev.Account = d.spec.Name, d.spec.Model, d.account.Name
	}
	g.finish(at, r, ev)
}

// cancelInFlight ends every request still waiting for an answer, in id
// order, when the run is interrupted.
func (g *gateway) cancelInFlight(at time.Time) {
	ids := make([]int, 0, len(g.inflight))
	for id := range g.inflight {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		r := g.inflight[id]
		delete(g.inflight, id)
		g.serve(r)
		r.abandon(at, g.shared)
		g.finish(at, r, Event{Kind: Cancelled, Deployment: r.dep.spec.Name, Model: r.dep.spec.Model,
			Account: r.dep.account.Name, Message: "the run was interrupted before the reply arrived"})
	}
}

// abandon settles the attempt in flight that will never be answered: it
// used nothing the gateway will hear of.
func (r *request) abandon(at time.Time, shared *sharedGate) {
	if r.dep.tokens != nil {
		r.dep.tokens.settle(at, r.picked, r.need, 0)
		r.dep.tokens.settleShared(shared, at, r.need, 0, r.sharedPicked)
	}
}

// finish emits r's final event, and settles what its tenant's TPM limit
// counted for it.
func (g *gateway) finish(at time.Time, r *request, ev Event) {
	r.done = true
	if r.ticket != 0 {
		delete(g.clients, r.ticket)
	}
	if t := r.tenant; r.admitted && t.tokens != nil {
		// What the answer used: a success's tokens, a broken stream's
		// input and what it streamed, nothing for an error.
		t.tokens.settle(at, r.arrival, r.need, r.used())
		t.tokens.settleShared(g.shared, at, r.need, r.used(), r.sharedAdmitted)
	}
	ev.Request, ev.Tenant, ev.Replica = r.id, r.tenant.spec.Name, g.fleet.replicaNumber()
	if ev.Kind == RateLimited || !r.admitted {
		ev.Ticket = r.ticket // refused at the door: its first event as well as its last
	}
	ev.Latency = at.Sub(r.arrival)
	g.finished++
	g.lastFinish = at
	g.timeline.emit(at, ev)
}
