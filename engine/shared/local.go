package shared

import (
	"context"
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
}

// NewLocal keeps buckets on clock, the wall clock if nil.
func NewLocal(clock func() time.Time) *Local {
	if clock == nil {
		clock = time.Now
	}
	return &Local{clock: clock, buckets: map[string]*bucket.Bucket{}}
}

// epoch is where fixed windows are counted from: clock minutes.
var epoch = time.Unix(0, 0)

// bucketOf is a's bucket, at a's limit.
func (l *Local) bucketOf(a Ask, now time.Time) *bucket.Bucket {
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
		if b := l.bucketOf(a, now); !b.HasAt(now, a.N) {
			return now, &Refusal{Index: i, Wait: b.WaitAt(now, a.N)}, nil
		}
	}
	for _, a := range asks {
		if !a.Check {
			l.bucketOf(a, now).TakeAt(now, a.N)
		}
	}
	return now, nil, nil
}

func (l *Local) Settle(_ context.Context, a Ask, reserved, used float64, reservedAt time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	l.bucketOf(a, now).SettleAt(now, reservedAt, reserved, used)
	return nil
}

func (l *Local) Levels(_ context.Context, asks []Ask) ([]Level, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock()
	out := make([]Level, len(asks))
	for i, a := range asks {
		lv := l.bucketOf(a, now).LevelAt(now)
		out[i] = Level{Available: lv.Available, Limit: a.Limit}
	}
	return out, nil
}

func (l *Local) Now(context.Context) (time.Time, error) { return l.clock(), nil }
func (l *Local) Close() error                           { return nil }
