package shared

import (
	"context"
	"math"
	"sync"
	"time"

	"spillway/engine/bucket"
	"spillway/scenarios"
)

// Local keeps shared buckets in this process, with engine/bucket's own
// arithmetic: the replicas of a demo without a Redis share it. Fixed
// windows are clock minutes, as in Redis.
type Local struct {
	mu      sync.Mutex
	clock   func() time.Time
	buckets map[string]*bucket.Bucket
	limits  map[string]float64   // set live, by bucket key
	held    map[string]time.Time // health keys, until when
	seen    map[string]time.Time // replicas, by when they last synced
}

// NewLocal keeps buckets on clock, the wall clock if nil.
func NewLocal(clock func() time.Time) *Local {
	if clock == nil {
		clock = time.Now
	}
	return &Local{clock: clock, buckets: map[string]*bucket.Bucket{}, limits: map[string]float64{}, seen: map[string]time.Time{}, held: map[string]time.Time{}}
}

// epoch is where fixed windows are counted from: clock minutes.
var epoch = time.Unix(0, 0)

// bucketOf is a's bucket, at a's limit or the one set live.
func (l *Local) bucketOf(a Ask, now time.Time) *bucket.Bucket {
	if set, ok := l.limits[a.Key]; ok {
		a.Limit = set
	}
	b, ok := l.buckets[a.Key]
	if !ok {
		b = bucket.New(a.Semantic, scenarios.RPM(a.Limit), epoch)
		l.buckets[a.Key] = b
	} else if b.RPM() != scenarios.RPM(a.Limit) {
		b.SetRPMAt(now, scenarios.RPM(a.Limit))
	}
	return b
}

func (l *Local) Take(_ context.Context, asks []Ask) (time.Time, *Refusal, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	for i, a := range asks {
		if a.Semantic == Health {
			if until, ok := l.held[a.Key]; ok && now.Before(until) {
				return now, &Refusal{Index: i, Wait: until.Sub(now)}, nil
			}
			continue
		}
		if set, ok := l.limits[a.Key]; ok && math.IsInf(set, 1) {
			continue
		}
		if b := l.bucketOf(a, now); !b.HasAt(now, a.N) {
			return now, &Refusal{Index: i, Wait: b.WaitAt(now, a.N)}, nil
		}
	}
	for _, a := range asks {
		if set, ok := l.limits[a.Key]; a.Check || a.Semantic == Health || ok && math.IsInf(set, 1) {
			continue
		}
		l.bucketOf(a, now).TakeAt(now, a.N)
	}
	return now, nil, nil
}

func (l *Local) Settle(_ context.Context, a Ask, reserved, used float64, reservedAt time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	if set, ok := l.limits[a.Key]; ok && math.IsInf(set, 1) {
		return nil
	}
	l.bucketOf(a, now).SettleAt(now, reservedAt, reserved, used)
	return nil
}

func (l *Local) Sync(_ context.Context, replica string, asks []Ask) (Sync, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	if replica != "" {
		l.seen[replica] = now
	}
	out := Sync{Levels: make([]Level, len(asks))}
	for name, at := range l.seen {
		if now.Sub(at) > ReplicaTTL {
			delete(l.seen, name)
			continue
		}
		out.Replicas++
	}
	for i, a := range asks {
		set, isSet := l.limits[a.Key]
		if isSet {
			a.Limit = set
		}
		lv := Level{Available: math.Inf(1), Limit: a.Limit, Set: isSet}
		if !math.IsInf(a.Limit, 1) {
			lv.Available = l.bucketOf(a, now).LevelAt(now).Available
		}
		out.Levels[i] = lv
	}
	return out, nil
}

func (l *Local) Hold(_ context.Context, key string, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[key] = l.clock().Add(d)
	return nil
}

func (l *Local) SetLimit(_ context.Context, key string, limit float64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits[key] = limit
	return nil
}

func (l *Local) Now(context.Context) (time.Time, error) { return l.clock(), nil }
func (l *Local) Close() error                           { return nil }
