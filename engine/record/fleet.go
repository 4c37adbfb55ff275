package record

import (
	"math"
	"time"

	"spillway/engine"
	"spillway/engine/bucket"
)

// Fleet is what a run as replicas let through each limit, beside the
// limit: the figure that shows a fleet whose replicas count their limits
// on their own letting N times each through, and one that shares them
// holding it.
type Fleet struct {
	Replicas int    `json:"replicas"`
	Limits   string `json:"limits"`          // "own" or "shared"
	Where    string `json:"where,omitempty"` // the shared limits' store: "this process", or "Redis at host:port"
	// Buckets are every request-per-minute limit of a tenant or a
	// deployment, in the run's bucket order.
	Buckets []FleetBucket `json:"buckets"`
}

// FleetBucket is one limit and the most the fleet let through it in one
// minute of the run, counted from its start (the windows a fixed-window
// limit counts in): a tenant's admissions, or a deployment's picks.
type FleetBucket struct {
	Bucket        string  `json:"bucket"`
	RPM           int     `json:"rpm"` // each replica's limit, at the start
	BusiestMinute int     `json:"busiest_minute"`
	TimesLimit    float64 `json:"times_limit"` // BusiestMinute ÷ RPM, to a tenth
}

// minuteCounts counts, per bucket, what passed in the current minute of
// the run and the most in any minute so far. Events come in time order,
// so one minute is open at a time and nothing else need be kept.
type minuteCounts map[engine.BucketID]*minuteCount

type minuteCount struct{ minute, n, busiest int }

func (m minuteCounts) count(id engine.BucketID, at time.Duration) {
	c := m[id]
	if c == nil {
		return // not a request-per-minute limit
	}
	if minute := int(at / time.Minute); minute != c.minute {
		c.minute, c.n = minute, 0
	}
	c.n++
	c.busiest = max(c.busiest, c.n)
}

// newMinuteCounts counts the limited request buckets of a run as
// replicas; nil for any other run.
func newMinuteCounts(info engine.RunInfo) minuteCounts {
	if info.Fleet == nil {
		return nil
	}
	m := minuteCounts{}
	for _, b := range info.Buckets {
		if b.Unit == bucket.Requests && !b.RPM.IsUnlimited() {
			m[b.ID] = &minuteCount{}
		}
	}
	return m
}

// fleet is the Fleet of a run as replicas, nil for any other.
func (r *Recorder) fleet() *Fleet {
	f := r.info.Fleet
	if f == nil {
		return nil
	}
	out := &Fleet{Replicas: f.Replicas, Limits: f.Limits, Where: f.Where, Buckets: []FleetBucket{}}
	for _, b := range r.info.Buckets {
		c := r.minutes[b.ID]
		if c == nil {
			continue
		}
		out.Buckets = append(out.Buckets, FleetBucket{Bucket: string(b.ID), RPM: int(b.RPM), BusiestMinute: c.busiest,
			TimesLimit: math.Round(10*float64(c.busiest)/float64(b.RPM)) / 10})
	}
	return out
}
