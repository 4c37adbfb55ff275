// Package bucket implements the rate-limit buckets a gateway keeps per
// deployment and per tenant, and Bedrock keeps per account, Region and
// model, with both semantics engineers meet in practice: a token bucket and
// fixed per-minute windows.
//
// A bucket counts one unit: requests (an RPM limit) or tokens (a TPM
// limit). Requests are taken one at a time; tokens are taken many at once,
// and may be settled later, as Bedrock reserves input + max_tokens when a
// call starts and settles on what the answer really used. That settling,
// giving back part of what was taken or taking more than there is, is what
// golang.org/x/time/rate has no way to do, so the arithmetic is here; it is
// the same as that package's for the rest.
//
// Every method takes the time explicitly, as golang.org/x/time/rate does,
// so that a simulated or scaled clock drives it and tests need no sleeping.
// A Bucket is safe for concurrent use.
package bucket

import (
	"math"
	"sync"
	"time"

	"spillway/scenarios"
)

// Window is the length of a fixed window.
const Window = time.Minute

// Unit is what a bucket counts.
type Unit uint8

// The units.
const (
	Requests Unit = iota // an RPM limit
	Tokens               // a TPM limit
)

func (u Unit) String() string {
	if u == Tokens {
		return "tokens"
	}
	return "requests"
}

// PerMinute is the limit's name: RPM or TPM.
func (u Unit) PerMinute() string {
	if u == Tokens {
		return "TPM"
	}
	return "RPM"
}

// Bucket admits units up to a per-minute limit.
type Bucket struct {
	mu       sync.Mutex
	semantic scenarios.Limiter
	unit     Unit
	limit    scenarios.RPM // units per minute
	perSec   float64       // limit/60, the token bucket's refill, kept as x/time/rate keeps its limit
	capacity float64       // limit, or +Inf

	// Token bucket: what was left at last, refilled limit/60 a second up
	// to limit. Below zero after a settlement took more than there was.
	tokens float64
	last   time.Time

	// Fixed windows, counted from epoch.
	epoch       time.Time
	windowIndex int64
	windowCount float64

	admitted, rejected int
	used               float64 // units taken in all, after settlements
}

// New returns a full bucket of requests. For FixedWindow, windows start at
// epoch.
func New(semantic scenarios.Limiter, rpm scenarios.RPM, epoch time.Time) *Bucket {
	return NewOf(Requests, semantic, rpm, epoch)
}

// NewOf returns a full bucket of unit with limit per minute.
func NewOf(unit Unit, semantic scenarios.Limiter, limit scenarios.RPM, epoch time.Time) *Bucket {
	b := &Bucket{semantic: semantic, unit: unit, epoch: epoch, last: epoch}
	b.setLimit(limit)
	b.tokens = b.capacity
	return b
}

// setLimit keeps the limit and what follows from it, so that the hot path
// divides nothing.
func (b *Bucket) setLimit(limit scenarios.RPM) {
	b.limit, b.perSec, b.capacity = limit, float64(limit)/60, capacity(limit)
}

func capacity(limit scenarios.RPM) float64 {
	if limit.IsUnlimited() {
		return math.Inf(1)
	}
	return float64(limit)
}

// Semantic reports how the bucket counts.
func (b *Bucket) Semantic() scenarios.Limiter { return b.semantic }

// Unit reports what the bucket counts.
func (b *Bucket) Unit() Unit { return b.unit }

// RPM is the current limit per minute, in the bucket's unit.
func (b *Bucket) RPM() scenarios.RPM {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit
}

// AllowAt takes one unit at t if there is one, and reports whether it did.
// The answer is counted as admitted or rejected.
func (b *Bucket) AllowAt(t time.Time) bool { return b.TakeAt(t, 1) }

// TakeAt takes n units at t if there are n, and reports whether it did:
// all or nothing, counted as one admitted or rejected ask.
func (b *Bucket) TakeAt(t time.Time, n float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if avail := b.availableLocked(t); avail < n && !b.withinANanosecond(n-avail) {
		b.rejected++
		return false
	}
	b.chargeLocked(t, n)
	b.admitted++
	return true
}

// withinANanosecond reports whether a token bucket short of missing units
// would refill them in under a nanosecond. golang.org/x/time/rate admits
// such a take, since the wait it computes truncates to zero, and the
// buckets keep its answers so that a seed's outcomes stay as they were.
func (b *Bucket) withinANanosecond(missing float64) bool {
	return b.semantic == scenarios.TokenBucket && time.Duration(missing/b.perSec*float64(time.Second)) <= 0
}

// HasBudgetAt reports whether one unit could be taken at t, without taking
// it. A gateway's pre-call check uses it to drop deployments that are at
// their limit before picking one.
func (b *Bucket) HasBudgetAt(t time.Time) bool { return b.HasAt(t, 1) }

// HasAt reports whether n units could be taken at t, without taking them.
func (b *Bucket) HasAt(t time.Time, n float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.availableLocked(t) >= n
}

// CheckAt reports whether n units could be taken at t, and counts the ask
// as admitted or rejected, without taking anything: for a limit counted
// after the fact, which admits on what fits and charges later.
func (b *Bucket) CheckAt(t time.Time, n float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	ok := b.availableLocked(t) >= n
	if ok {
		b.admitted++
	} else {
		b.rejected++
	}
	return ok
}

// RejectAt counts an ask turned away at t without asking the limiter, for a
// deployment that a pre-call check skipped.
func (b *Bucket) RejectAt(time.Time) {
	b.mu.Lock()
	b.rejected++
	b.mu.Unlock()
}

// Tally counts an ask that another keeper of the limit decided (a store
// shared by a gateway's replicas) as admitted or rejected, so the
// bucket's counts still say what this replica's requests met.
func (b *Bucket) Tally(admitted bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if admitted {
		b.admitted++
	} else {
		b.rejected++
	}
}

// ChargeAt takes n units at t whether or not there are n: the bucket may go
// below empty, and then admits nothing until it has refilled. A gateway
// that counts tokens after a success does this with the answer's tokens.
func (b *Bucket) ChargeAt(t time.Time, n float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.chargeLocked(t, n)
}

// SettleAt settles, at t, units reserved at reservedAt against the used
// units the call really took: the difference is given back, or taken
// (below empty if need be). A fixed window that has turned over since the
// reservation has already forgotten it, so there is nothing to give back;
// what was used beyond it is counted in the window of t.
func (b *Bucket) SettleAt(t time.Time, reservedAt time.Time, reserved, used float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delta := used - reserved
	if b.semantic == scenarios.FixedWindow && delta < 0 && b.windowOf(reservedAt) != b.windowOf(t) {
		b.used += delta
		return
	}
	b.chargeLocked(t, delta)
}

func (b *Bucket) chargeLocked(t time.Time, n float64) {
	b.used += n
	if b.limit.IsUnlimited() {
		return
	}
	if b.semantic == scenarios.TokenBucket {
		b.tokens = math.Min(b.tokensAt(t)-n, b.capacity)
		if t.After(b.last) {
			b.last = t
		}
		return
	}
	b.rollLocked(t)
	b.windowCount = math.Max(0, b.windowCount+n)
}

// tokensAt is the token bucket's content at t: what was left, plus the
// refill since, up to the capacity. A time before the last change refills
// nothing, and moves nothing: a read never changes what a later take
// finds.
func (b *Bucket) tokensAt(t time.Time) float64 {
	elapsed := t.Sub(b.last)
	if elapsed < 0 {
		elapsed = 0
	}
	tokens := b.tokens + elapsed.Seconds()*b.perSec
	if tokens > b.capacity {
		return b.capacity
	}
	return tokens
}

func (b *Bucket) windowOf(t time.Time) int64 {
	if t.Before(b.epoch) {
		return 0
	}
	return int64(t.Sub(b.epoch) / Window)
}

// rollLocked starts a new fixed window when t has left the current one
// for a later one. An earlier t counts in the current window: time never
// goes back, and a window that turned back would forget what it counted.
func (b *Bucket) rollLocked(t time.Time) {
	if idx := b.windowOf(t); idx > b.windowIndex {
		b.windowIndex = idx
		b.windowCount = 0
	}
}

func (b *Bucket) availableLocked(t time.Time) float64 {
	if b.limit.IsUnlimited() {
		return math.Inf(1)
	}
	if b.semantic == scenarios.TokenBucket {
		return b.tokensAt(t)
	}
	b.rollLocked(t)
	return float64(b.limit) - b.windowCount
}

// WaitAt is how long from t until n units could be taken, if nothing else
// is taken meanwhile; 0 if they can be now. A token bucket waits for its
// refill; a fixed window for the next window, or forever (-1) when n is
// more than a whole window holds. A token bucket never refills past its
// capacity, so n above it waits forever too.
func (b *Bucket) WaitAt(t time.Time, n float64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	avail := b.availableLocked(t)
	switch {
	case avail >= n:
		return 0
	case n > capacity(b.limit) || b.limit <= 0:
		return -1
	case b.semantic == scenarios.TokenBucket:
		return time.Duration(math.Ceil((n - avail) / b.perSec * float64(time.Second)))
	}
	return b.epoch.Add(time.Duration(b.windowIndex+1) * Window).Sub(t)
}

// Level is a bucket's state at one instant.
type Level struct {
	Semantic scenarios.Limiter
	Unit     Unit
	// RPM is the limit per minute, in the bucket's unit: requests or
	// tokens.
	RPM scenarios.RPM
	// Available is the budget left now: tokens for a token bucket, units
	// left in the current window for a fixed window; below zero when a
	// settlement took more than there was. +Inf when unlimited.
	Available float64
	// Capacity is the most Available can be: the limit, for both semantics.
	Capacity float64
	// WindowResetsIn is the time to the next fixed-window reset; 0 for a
	// token bucket.
	WindowResetsIn     time.Duration
	Admitted, Rejected int
	// Used is every unit taken so far, after settlements.
	Used float64
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
		Unit:      b.unit,
		RPM:       b.limit,
		Available: b.availableLocked(t),
		Capacity:  float64(b.limit),
		Admitted:  b.admitted,
		Rejected:  b.rejected,
		Used:      b.used,
	}
	if b.semantic == scenarios.FixedWindow && !b.limit.IsUnlimited() {
		next := b.epoch.Add(time.Duration(b.windowIndex+1) * Window)
		l.WindowResetsIn = next.Sub(t)
	}
	return l
}

// SetRPMAt retunes the bucket at t to limit per minute, in its unit. A
// token bucket keeps what it has, capped at the new capacity (an
// unlimited one starts full); a fixed window keeps its count for the
// current window, so lowering the limit below what was already admitted
// closes the window until it resets.
func (b *Bucket) SetRPMAt(t time.Time, limit scenarios.RPM) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.semantic == scenarios.TokenBucket {
		if b.limit.IsUnlimited() {
			b.tokens = capacity(limit)
		} else {
			b.tokens = math.Min(b.tokensAt(t), capacity(limit))
		}
		if t.After(b.last) {
			b.last = t
		}
	} else {
		b.rollLocked(t)
	}
	b.setLimit(limit)
}
