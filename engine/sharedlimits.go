package engine

import (
	"context"
	"fmt"
	"time"

	"spillway/engine/shared"
	"spillway/scenarios"
)

// SharedLimits keeps a gateway's buckets in a store that every replica
// of it shares, so a fleet of replicas enforces each limit once rather
// than once per replica. Every admission and every pick is one decision
// in the store; the engine's own buckets only decide while the store is
// unreachable and OnFailure is scenarios.SharedFailOpen.
type SharedLimits struct {
	Store     shared.Store
	OnFailure string // scenarios.SharedFailOpen or SharedFailClosed
	// Replica names this replica among those the store counts; unique
	// per process, such as host/pid.
	Replica string
}

// The codes of SharedLimitsChanged events, and of a request refused for
// want of the store.
const (
	CodeSharedDown        = "SharedLimitsDown"
	CodeSharedUp          = "SharedLimitsUp"
	CodeSharedUnavailable = "SharedLimitsUnavailable"
)

// sharedProbeEvery is how long, on the wall clock, a gateway whose store
// failed decides without it before asking it again: a store that is down
// costs one deadline a second, not one per request.
const sharedProbeEvery = time.Second

// sharedGate asks the store for the engine, and follows whether it is
// reachable: each change is an event in the record.
type sharedGate struct {
	store      shared.Store
	failClosed bool
	ctx        context.Context
	clock      Clock
	timeline   timeline
	down       bool
	retryAt    time.Time // wall clock: when a store that is down is asked again

	// What the last sync told: each bucket's units left in the store, and
	// how many replicas share them.
	replica  string
	lastSync time.Time // wall clock
	levels   map[BucketID]float64
	replicas int
	// fleet is set in a run as replicas: the replicas are this engine's
	// own, their store's clock is the run's, and their own buckets are
	// kept beside the shared ones.
	fleet *fleet
	// perReplica: the levels last synced are every replica's own buckets
	// added up, which hold the limit once per replica.
	perReplica bool
}

// sharedSyncEvery is how often, on the wall clock, a replica reads the
// shared buckets' levels and live limits: the dashboard's fill, and a
// limit retuned on another replica, are at most this late.
const sharedSyncEvery = time.Second

// The verdicts of a shared decision.
type sharedVerdict uint8

const (
	sharedTaken       sharedVerdict = iota // the store took every ask
	sharedRefused                          // an ask had no room; nothing was taken
	sharedLocal                            // the store is down: decide with the engine's own buckets
	sharedUnavailable                      // the store is down, and the gateway refuses
)

type sharedAnswer struct {
	verdict sharedVerdict
	refusal *shared.Refusal
	at      time.Time // the store's time of the decision, for settling
}

// take asks the store to take asks at once, unless it is known to be down.
func (s *sharedGate) take(at time.Time, asks []shared.Ask) sharedAnswer {
	if f := s.fleet; f != nil {
		f.now = at
		if f.own {
			return s.takeOwn(asks)
		}
	}
	if s.down && s.clock.Now().Before(s.retryAt) {
		return s.without(asks)
	}
	when, refusal, err := s.store.Take(s.ctx, asks)
	if err != nil {
		s.failed(at, err)
		return s.without(asks)
	}
	s.reached(at)
	return answered(when, refusal)
}

// answered is a store's answer: taken, or refused with the refusal.
func answered(when time.Time, refusal *shared.Refusal) sharedAnswer {
	if refusal != nil {
		return sharedAnswer{verdict: sharedRefused, refusal: refusal, at: when}
	}
	return sharedAnswer{verdict: sharedTaken, at: when}
}

// without is the answer while the store is down: refused, or decided by
// the replica's own buckets.
func (s *sharedGate) without(asks []shared.Ask) sharedAnswer {
	switch {
	case s.failClosed:
		return sharedAnswer{verdict: sharedUnavailable}
	case s.fleet != nil:
		return s.takeOwn(asks)
	}
	return sharedAnswer{verdict: sharedLocal}
}

// takeOwn takes asks from the serving replica's own buckets, in a run
// as replicas.
func (s *sharedGate) takeOwn(asks []shared.Ask) sharedAnswer {
	when, refusal, _ := s.fleet.fallback.Take(s.ctx, s.fleet.ownAsks(s.fleet.current, asks)) // in process: it cannot fail
	return answered(when, refusal)
}

// settle counts what a call used against what it reserved at from (the
// store's time); while the store is down there is nothing to settle.
func (s *sharedGate) settle(at time.Time, a shared.Ask, reserved, used float64, from time.Time) {
	if f := s.fleet; f != nil && !from.IsZero() {
		f.now = at
		if f.own || s.down {
			f.fallback.Settle(s.ctx, f.ownAsks(f.current, []shared.Ask{a})[0], reserved, used, from)
			return
		}
	}
	if s.down || from.IsZero() {
		return
	}
	if err := s.store.Settle(s.ctx, a, reserved, used, from); err != nil {
		s.failed(at, err)
	}
}

func (s *sharedGate) failed(at time.Time, err error) {
	s.retryAt = s.clock.Now().Add(sharedProbeEvery)
	if s.down {
		return
	}
	s.down = true
	then := "serving with this replica's own limits until it is back (redis_failure = \"open\")"
	if s.failClosed {
		then = "refusing every request with 503 until it is back (redis_failure = \"closed\")"
	}
	s.timeline.emit(at, Event{Kind: SharedLimitsChanged, Code: CodeSharedDown, Message: fmt.Sprintf("%v; %s", err, then)})
}

func (s *sharedGate) reached(at time.Time) {
	if !s.down {
		return
	}
	s.down = false
	s.timeline.emit(at, Event{Kind: SharedLimitsChanged, Code: CodeSharedUp, Message: "the shared limits' store answers again: every limit is shared by the replicas once more"})
}

// unavailableMsg is why a request was refused while the store was down.
const unavailableMsg = "the shared limits' store is unreachable, and redis_failure = \"closed\" refuses rather than serve with this replica's own limits"

// sharedAsk is a bucket's part in a shared decision.
func sharedAsk(id BucketID, semantic scenarios.Limiter, limit scenarios.RPM, n float64) shared.Ask {
	return shared.Ask{Key: string(id), Semantic: semantic, Limit: float64(limit), N: n}
}

// asks are what a request needing n takes from a tenant's or a
// deployment's buckets in one decision: one request of its RPM limit and
// its tokens of its TPM limit (only checked, counting after success).
// Unlimited buckets ask nothing.
func asksOf(id BucketID, semantic scenarios.Limiter, rpm scenarios.RPM, tokens *tokenLimit, n tokens) []shared.Ask {
	var asks []shared.Ask
	if !rpm.IsUnlimited() {
		asks = append(asks, sharedAsk(id, semantic, rpm, 1))
	}
	if tokens != nil {
		a := sharedAsk(tokens.id, tokens.semantic, tokens.tpm, tokens.need(n))
		a.Check = tokens.counting == scenarios.AfterSuccess
		asks = append(asks, a)
	}
	return asks
}

// refusedBucket is the bucket of the ask a refusal names: the RPM
// limit's, or the TPM limit's.
func refusedBucket(asks []shared.Ask, r *shared.Refusal) BucketID {
	if r == nil || r.Index < 0 || r.Index >= len(asks) {
		return ""
	}
	return BucketID(asks[r.Index].Key)
}

// settleShared settles a TPM limit's reservation in the store.
func (l *tokenLimit) settleShared(g *sharedGate, at time.Time, n tokens, used int, from time.Time) {
	if g == nil || l == nil {
		return
	}
	a := sharedAsk(l.id, l.semantic, l.tpm, 0)
	if l.counting == scenarios.AfterSuccess {
		if used > 0 {
			g.settle(at, a, 0, float64(used), from)
		}
		return
	}
	g.settle(at, a, n.reserve, float64(used), from)
}

// syncShared reads every bucket's level and live limit from the store,
// at most once a sharedSyncEvery: the fill the dashboard shows is the
// fleet's, and a limit retuned on another replica is taken on here, as a
// recorded RPMChanged that says where it came from.
func (e *Engine) syncShared(at time.Time) {
	g := e.gateway.shared
	if g.fleet != nil {
		e.syncFleet(at)
		return
	}
	now := g.clock.Now()
	if now.Sub(g.lastSync) < sharedSyncEvery || g.down && now.Before(g.retryAt) {
		return
	}
	g.lastSync = now
	ids, asks := e.sharedBuckets()
	sync, err := g.store.Sync(g.ctx, g.replica, asks)
	if err != nil {
		g.failed(at, err)
		return
	}
	g.reached(at)
	g.replicas = sync.Replicas
	if g.levels == nil {
		g.levels = map[BucketID]float64{}
	}
	for i, lv := range sync.Levels {
		g.levels[ids[i]] = lv.Available
		u := e.tunables[ids[i]]
		if rpm := scenarios.RPM(lv.Limit); lv.Set && rpm != u.limit() {
			u.setRPM(rpm)
			u.limiter().SetRPMAt(at, rpm)
			e.loop.emit(at, Event{Kind: RPMChanged, Bucket: ids[i], RPM: rpm, Message: "set on another replica"})
		}
	}
}

// syncFleet reads a run's replicas' buckets at each sample of its
// simulated time: the shared store's levels, or every replica's own ones
// added up with their own limits or while that store is down.
func (e *Engine) syncFleet(at time.Time) {
	g, f := e.gateway.shared, e.gateway.fleet
	f.now = at
	g.replicas = f.count
	ids, asks := e.sharedBuckets()
	if g.levels == nil {
		g.levels = map[BucketID]float64{}
	}
	if !f.own && !(g.down && g.clock.Now().Before(g.retryAt)) {
		sync, err := g.store.Sync(g.ctx, "", asks)
		if err == nil {
			g.reached(at)
			g.perReplica = false
			for i, lv := range sync.Levels {
				g.levels[ids[i]] = lv.Available
			}
			return
		}
		g.failed(at, err)
	}
	g.perReplica = true
	for i, v := range f.ownLevels(asks) {
		g.levels[ids[i]] = v
	}
}

// sharedBuckets are every tenant's and deployment's buckets, as the
// store knows them.
func (e *Engine) sharedBuckets() ([]BucketID, []shared.Ask) {
	var ids []BucketID
	var asks []shared.Ask
	add := func(id BucketID, semantic scenarios.Limiter, limit scenarios.RPM) {
		ids = append(ids, id)
		asks = append(asks, sharedAsk(id, semantic, limit, 0))
	}
	for _, t := range e.traffic.tenants {
		add(t.id, t.bucket.Semantic(), t.rpm)
		if t.tokens != nil {
			add(t.tokens.id, t.tokens.semantic, t.tokens.tpm)
		}
	}
	for _, d := range e.gateway.deployments {
		add(d.id, d.spec.Limiter, d.rpm)
		if d.tokens != nil {
			add(d.tokens.id, d.tokens.semantic, d.tokens.tpm)
		}
	}
	return ids, asks
}

// sharedLevel is what is left of a bucket in the store, as last synced;
// ok is false without shared limits, or while the store is down.
func (g *sharedGate) sharedLevel(id BucketID) (float64, bool) {
	if g == nil || g.down && !g.perReplica {
		return 0, false
	}
	v, ok := g.levels[id]
	return v, ok
}

// hold holds key out of every replica's pick for d.
func (g *sharedGate) hold(at time.Time, key string, d time.Duration) {
	if g == nil || g.down || g.fleet != nil && g.fleet.own {
		return // with own limits, a replica's health is its own
	}
	if g.fleet != nil {
		g.fleet.now = at
	}
	if err := g.store.Hold(g.ctx, key, d); err != nil {
		g.failed(at, err)
	}
}

// setLimit tells the other replicas of a limit retuned here.
func (g *sharedGate) setLimit(at time.Time, id BucketID, rpm scenarios.RPM) {
	if g == nil || g.down || g.fleet != nil {
		return // a run's replicas are all in this engine: every ask carries the new limit
	}
	if err := g.store.SetLimit(g.ctx, string(id), float64(rpm)); err != nil {
		g.failed(at, err)
	}
}
