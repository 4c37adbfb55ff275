// Package bucket implements the rate-limit buckets a gateway keeps per
// deployment and per tenant, with both semantics engineers meet in practice:
// a token bucket and fixed per-minute windows.
//
// Every method takes the time explicitly, as golang.org/x/time/rate does, so
// that a simulated or scaled clock drives it and tests need no sleeping.
// A Bucket is safe for concurrent use.
package bucket

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"spillway/scenarios"
)

// Window is the length of a fixed window.
const Window = time.Minute

// Bucket admits requests up to an RPM limit.
type Bucket struct {
	mu       sync.Mutex
	semantic scenarios.Limiter
	rpm      scenarios.RPM

	tokens *rate.Limiter // token-bucket state

	epoch       time.Time // fixed windows are counted from here
	windowIndex int64
	windowCount int

	admitted, rejected int
}

// New returns a full bucket. For FixedWindow, windows start at epoch.
func New(semantic scenarios.Limiter, rpm scenarios.RPM, epoch time.Time) *Bucket {
	b := &Bucket{semantic: semantic, rpm: rpm, epoch: epoch}
	if semantic == scenarios.TokenBucket {
		b.tokens = rate.NewLimiter(limitOf(rpm), burstOf(rpm))
		b.tokens.SetBurstAt(epoch, burstOf(rpm)) // starts full at epoch
	}
	return b
}

func limitOf(rpm scenarios.RPM) rate.Limit {
	if rpm.IsUnlimited() {
		return rate.Inf
	}
	return rate.Limit(float64(rpm) / 60)
}

func burstOf(rpm scenarios.RPM) int {
	if rpm.IsUnlimited() {
		return math.MaxInt32
	}
	return int(rpm)
}

// Semantic reports how the bucket counts.
func (b *Bucket) Semantic() scenarios.Limiter { return b.semantic }

// RPM is the current limit.
func (b *Bucket) RPM() scenarios.RPM {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rpm
}

// AllowAt takes one request's worth of budget at t if there is any, and
// reports whether it did. The answer is counted as admitted or rejected.
func (b *Bucket) AllowAt(t time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	ok := b.takeLocked(t)
	if ok {
		b.admitted++
	} else {
		b.rejected++
	}
	return ok
}

// HasBudgetAt reports whether a request could be admitted at t, without
// taking anything. A gateway's pre-call check uses it to drop deployments
// that are at their limit before picking one.
func (b *Bucket) HasBudgetAt(t time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.availableLocked(t) >= 1
}

// RejectAt counts a request turned away at t without asking the limiter,
// for a deployment that a pre-call check skipped.
func (b *Bucket) RejectAt(time.Time) {
	b.mu.Lock()
	b.rejected++
	b.mu.Unlock()
}

func (b *Bucket) takeLocked(t time.Time) bool {
	if b.rpm.IsUnlimited() {
		return true
	}
	if b.semantic == scenarios.TokenBucket {
		return b.tokens.AllowN(t, 1)
	}
	b.rollLocked(t)
	if float64(b.windowCount) >= float64(b.rpm) {
		return false
	}
	b.windowCount++
	return true
}

// rollLocked starts a new fixed window when t has left the current one.
func (b *Bucket) rollLocked(t time.Time) {
	idx := int64(t.Sub(b.epoch) / Window)
	if t.Before(b.epoch) {
		idx = 0
	}
	if idx != b.windowIndex {
		b.windowIndex = idx
		b.windowCount = 0
	}
}

func (b *Bucket) availableLocked(t time.Time) float64 {
	if b.rpm.IsUnlimited() {
		return math.Inf(1)
	}
	if b.semantic == scenarios.TokenBucket {
		return b.tokens.TokensAt(t)
	}
	b.rollLocked(t)
	return float64(b.rpm) - float64(b.windowCount)
}

// Level is a bucket's state at one instant.
type Level struct {
	Semantic scenarios.Limiter
	RPM      scenarios.RPM
	// Available is the budget left now: tokens for a token bucket, requests
	// left in the current window for a fixed window. +Inf when unlimited.
	Available float64
	// Capacity is the most Available can be: rpm for both semantics.
	Capacity float64
	// WindowResetsIn is the time to the next fixed-window reset; 0 for a
	// token bucket.
	WindowResetsIn     time.Duration
	Admitted, Rejected int
}

// Fill is Available/Capacity in [0, 1]; an unlimited bucket is always full.
func (l Level) Fill() float64 {
	if math.IsInf(l.Capacity, 1) {
		return 1
	}
	if l.Capacity <= 0 {
		return 0
	}
	return math.Max(0, math.Min(1, l.Available/l.Capacity))
}

// LevelAt reports the bucket's fill level at t.
func (b *Bucket) LevelAt(t time.Time) Level {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := Level{
		Semantic:  b.semantic,
		RPM:       b.rpm,
		Available: b.availableLocked(t),
		Capacity:  float64(b.rpm),
		Admitted:  b.admitted,
		Rejected:  b.rejected,
	}
	if b.semantic == scenarios.FixedWindow && !b.rpm.IsUnlimited() {
		next := b.epoch.Add(time.Duration(b.windowIndex+1) * Window)
		l.WindowResetsIn = next.Sub(t)
	}
	return l
}

// SetRPMAt retunes the bucket at t. A token bucket keeps the tokens it has,
// capped at the new capacity; a fixed window keeps its count for the current
// window, so lowering the limit below what was already admitted closes the
// window until it resets.
func (b *Bucket) SetRPMAt(t time.Time, rpm scenarios.RPM) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.semantic == scenarios.TokenBucket {
		wasUnlimited := b.rpm.IsUnlimited()
		b.tokens.SetLimitAt(t, limitOf(rpm))
		b.tokens.SetBurstAt(t, burstOf(rpm))
		if wasUnlimited && !rpm.IsUnlimited() {
			// An unlimited bucket's token count is meaningless; start full.
			b.tokens = rate.NewLimiter(limitOf(rpm), burstOf(rpm))
			b.tokens.SetBurstAt(t, burstOf(rpm))
		}
	} else {
		b.rollLocked(t)
	}
	b.rpm = rpm
}
