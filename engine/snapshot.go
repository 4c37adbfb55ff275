package engine

import (
	"math"
	"time"

	"spillway/engine/bucket"
	"spillway/scenarios"
)

// Snapshot is the engine's state at one instant, as the loop publishes it
// for screens and other readers on other goroutines.
type Snapshot struct {
	// At is the simulated time since the run started: zero before it, frozen
	// while paused, and stopped once it has ended.
	At      time.Duration
	Started bool
	Over    bool // the run has ended
	Paused  bool
	Speed   float64 // simulated seconds per wall second; +Inf when unpaced
	// Buckets are every bucket's fill level: tenants first, then
	// deployments, in scenario order, each TPM bucket right after its RPM
	// bucket.
	Buckets []BucketLevel
}

// Bucket is the level of bucket id, and whether there is one.
func (s Snapshot) Bucket(id BucketID) (BucketLevel, bool) {
	for _, b := range s.Buckets {
		if b.ID == id {
			return b, true
		}
	}
	return BucketLevel{}, false
}

// snapshot reads the state on the run's goroutine (or, once the run is
// over, under the shell's lock).
func (e *Engine) snapshot() Snapshot {
	s := Snapshot{Speed: e.loop.pacer.speed, Paused: e.loop.pacer.paused, Over: e.loop.over}
	now := e.loop.start
	if !now.IsZero() {
		s.Started = true
		if !e.loop.over {
			now = e.loop.simNow()
		} else {
			now = e.loop.now
		}
		s.At = now.Sub(e.loop.start)
	}
	s.Buckets = e.levels(now)
	return s
}

// levels are every bucket's fill level at now.
func (e *Engine) levels(now time.Time) []BucketLevel {
	out := make([]BucketLevel, 0, len(e.tunables))
	for _, t := range e.traffic.tenants {
		l := levelOf(t.id, t.bucket, bucket.Requests, t.spec.Limiter, t.rpm, now)
		l = e.shareLevel(l)
		if t.spec.Arrival != scenarios.Burst {
			l.Rate = t.rate
		}
		out = append(out, l)
		if t.tokens != nil {
			out = append(out, e.shareLevel(t.tokens.level(now)))
		}
	}
	for i, d := range e.gateway.deployments {
		l := levelOf(d.id, d.bucket, bucket.Requests, d.spec.Limiter, d.rpm, now)
		l = e.shareLevel(l)
		if d.bucket != nil {
			state, until := d.health.At(now)
			if f := e.gateway.fleet; f != nil {
				state, until = f.healthAt(i, now)
			}
			l.Health = string(state)
			if !until.IsZero() {
				l.HealthUntil = until.Sub(e.loop.start)
			}
		}
		out = append(out, l)
		if d.tokens != nil {
			out = append(out, e.shareLevel(d.tokens.level(now)))
		}
	}
	return out
}

func (l *tokenLimit) level(now time.Time) BucketLevel {
	lv := levelOf(l.id, l.bucket, bucket.Tokens, l.semantic, l.tpm, now)
	lv.Counting = l.counting
	return lv
}

func levelOf(id BucketID, b *bucket.Bucket, unit bucket.Unit, limiter scenarios.Limiter, rpm scenarios.RPM, now time.Time) BucketLevel {
	if b == nil { // before Run: full
		return BucketLevel{ID: id, Level: bucket.Level{Semantic: limiter, Unit: unit, RPM: rpm,
			Available: float64(rpm), Capacity: float64(rpm)}}
	}
	return BucketLevel{ID: id, Level: b.LevelAt(now)}
}

// shareLevel is l with what is left in the shared store, as last synced,
// when the gateway shares its limits with other replicas: the fill the
// fleet sees, not only this replica's takes.
func (e *Engine) shareLevel(l BucketLevel) BucketLevel {
	g := e.gateway.shared
	if v, ok := g.sharedLevel(l.ID); ok && !math.IsInf(l.Capacity, 1) {
		if g.perReplica {
			// Every replica's own bucket: the fleet holds the limit once
			// per replica.
			l.Capacity *= float64(g.fleet.count)
		}
		l.Available = min(v, l.Capacity)
	}
	if g != nil && g.fleet == nil && !g.down && l.WindowResetsIn > 0 {
		// A gateway's shared fixed windows are Redis's clock minutes,
		// not the run's: they turn when the wall clock's minute does.
		now := g.clock.Now()
		l.WindowResetsIn = now.Truncate(time.Minute).Add(time.Minute).Sub(now)
	}
	return l
}
