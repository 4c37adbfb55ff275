package record

import (
	"fmt"
	"math"
	"time"

	"spillway/engine"
	"spillway/engine/bucket"
	"spillway/scenarios"
)

// Fleet is what a run as replicas let through each limit, beside the
// limit: the figure that shows a fleet whose replicas count their limits
// on their own letting N times each through, and one that shares them
// holding it.
type Fleet struct {
	Replicas int    `json:"replicas"`
	Limits   string `json:"limits"`          // "own" or "shared"
	Where    string `json:"where,omitempty"` // the shared limits' store: "this process", or "Redis at host:port"
	// StoreDown: the shared limits' store was unreachable for part of the
	// run, and each replica counted its own limits meanwhile, or refused.
	StoreDown bool `json:"store_down,omitempty"`
	// Buckets are every limit of a tenant or a deployment, requests and
	// tokens a minute, in the run's bucket order.
	Buckets []FleetBucket `json:"buckets"`
}

// Describe is how many replicas a run had and how they counted their
// limits, in words; "one gateway" for a run that was not a fleet.
func (f *Fleet) Describe() string {
	switch {
	case f == nil:
		return "one gateway"
	case f.Limits == scenarios.ReplicaLimitsOwn:
		return fmt.Sprintf("%d, each counting its own limits", f.Replicas)
	}
	return fmt.Sprintf("%d, sharing their limits in %s", f.Replicas, f.Where)
}

// FleetBucket is one limit and the most the fleet let through it in one
// minute of the run, counted from its start (the windows a fixed-window
// limit counts in): a tenant's admissions or a deployment's picks, or the
// tokens (input and output) of the answers that came in that minute.
type FleetBucket struct {
	Bucket        string  `json:"bucket"`
	Unit          string  `json:"unit"`    // "requests" or "tokens"
	Limiter       string  `json:"limiter"` // "token-bucket" or "fixed-window"
	Limit         int     `json:"limit"`   // each replica's, a minute, at the start
	BusiestMinute int     `json:"busiest_minute"`
	TimesLimit    float64 `json:"times_limit"` // BusiestMinute ÷ Limit, to a tenth
}

// minuteCounts counts, per bucket, what passed in the current minute of
// the run and the most in any minute so far. Events come in time order,
// so one minute is open at a time and nothing else need be kept.
type minuteCounts map[engine.BucketID]*minuteCount

type minuteCount struct{ minute, n, busiest int }

func (m minuteCounts) count(id engine.BucketID, at time.Duration, n int) {
	c := m[id]
	if c == nil {
		return // not a limit
	}
	if minute := int(at / time.Minute); minute != c.minute {
		c.minute, c.n = minute, 0
	}
	c.n += n
	c.busiest = max(c.busiest, c.n)
}

// event counts what ev let through: a tenant's admission, a deployment's
// pick, or an answer's tokens for the tenant's and the deployment's TPM
// limits.
func (m minuteCounts) event(ev engine.Event) {
	switch ev.Kind {
	case engine.Admitted:
		m.count(ev.Bucket, ev.At, 1)
	case engine.Attempt:
		m.count(engine.BucketID(engine.DeploymentBucket+ev.Deployment), ev.At, 1)
	case engine.Succeeded:
		used := ev.InputTokens + ev.OutputTokens
		m.count(engine.BucketID(engine.TenantBucket+ev.Tenant)+engine.TPMSuffix, ev.At, used)
		m.count(engine.BucketID(engine.DeploymentBucket+ev.Deployment)+engine.TPMSuffix, ev.At, used)
	}
}

// newMinuteCounts counts the limits of a run as replicas; nil for any
// other run.
func newMinuteCounts(info engine.RunInfo) minuteCounts {
	if info.Fleet == nil {
		return nil
	}
	m := minuteCounts{}
	for _, b := range info.Buckets {
		if !b.RPM.IsUnlimited() {
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
	out := &Fleet{Replicas: f.Replicas, Limits: f.Limits, Where: f.Where, StoreDown: r.storeDown, Buckets: []FleetBucket{}}
	for _, b := range r.info.Buckets {
		c := r.minutes[b.ID]
		if c == nil {
			continue
		}
		unit := "requests"
		if b.Unit == bucket.Tokens {
			unit = "tokens"
		}
		out.Buckets = append(out.Buckets, FleetBucket{Bucket: string(b.ID), Unit: unit, Limiter: string(b.Semantic), Limit: int(b.RPM),
			BusiestMinute: c.busiest, TimesLimit: math.Round(10*float64(c.busiest)/float64(b.RPM)) / 10})
	}
	return out
}
