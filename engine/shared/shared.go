// Package shared keeps a gateway's limits where every replica of it sees
// them, so that a fleet of replicas enforces each limit once instead of
// once per replica.
//
// A Store takes units from buckets: all the buckets of one decision at
// once or none of them, so two replicas can never both take the last
// unit, and a request is never charged on one limit when another turned
// it away. The Redis store does each decision in one server-side script,
// on Redis's own clock, so replicas whose clocks disagree still agree on
// every bucket. The local store keeps the same arithmetic in this
// process, for replicas simulated side by side without a Redis.
//
// Both count as engine/bucket does: a token bucket holds up to its limit
// and refills it over a minute; a fixed window counts up to its limit per
// clock minute.
package shared

import (
	"context"
	"errors"
	"time"

	"spillway/scenarios"
)

// Ask is one bucket's part of a decision: take N units from the bucket
// named Key, which holds Limit a minute, counted as Semantic says. With
// Check, the bucket must have room for N, but nothing is taken (a TPM
// limit counted after success checks a request's input this way). An
// ask with Semantic Health takes nothing: it is refused while a replica
// holds Key (Hold), such as a deployment cooling down.
type Ask struct {
	Key      string
	Semantic scenarios.Limiter
	Limit    float64
	N        float64
	Check    bool
}

// Refusal says which ask of a decision found no room, and how long until
// it would have.
type Refusal struct {
	Index int           // into the asks
	Wait  time.Duration // -1: never, N is more than the bucket holds
}

// Level is a shared bucket's state: Available units of Limit. Set is
// the limit set live on a replica (SetLimit), which overrides the one the
// asker passed; false when none was.
type Level struct {
	Available, Limit float64
	Set              bool
}

// Sync is what a replica learns of the store once a second: every
// bucket's level and live limit, and how many replicas share them.
type Sync struct {
	Levels   []Level
	Replicas int
}

// Health is the Semantic of an ask that a deployment not be held out of
// the pick by another replica.
const Health scenarios.Limiter = "health"

// ReplicaTTL is how long a replica that stopped syncing still counts.
const ReplicaTTL = 5 * time.Second

// Store keeps shared buckets.
type Store interface {
	// Take takes every ask's units, or none. A nil Refusal means it took
	// them; at is the store's time of the decision, for Settle. An error
	// means the store could not be reached in time, and nothing was taken.
	Take(ctx context.Context, asks []Ask) (at time.Time, refused *Refusal, err error)
	// Settle counts, against a bucket, the units a call really used where
	// it reserved reserved at reservedAt (the store's clock, as Now gave
	// it): the difference is given back, or taken. A fixed window that
	// has turned over since has forgotten the reservation.
	Settle(ctx context.Context, a Ask, reserved, used float64, reservedAt time.Time) error
	// Sync reads buckets without taking anything (an ask's Limit may be
	// +Inf) and, unless replica is "", counts replica as one of those
	// sharing them.
	Sync(ctx context.Context, replica string, asks []Ask) (Sync, error)
	// SetLimit sets a bucket's limit for every replica, from now on
	// (+Inf: unlimited), until the scope's keys expire unused.
	SetLimit(ctx context.Context, key string, limit float64) error
	// Hold refuses every Health ask for key, on every replica, for d:
	// a deployment in cooldown or with its circuit open.
	Hold(ctx context.Context, key string, d time.Duration) error
	// Now is the store's clock: Redis's TIME, or the injected one.
	Now(ctx context.Context) (time.Time, error)
	Close() error
}

// ErrUnavailable wraps every error of a store that could not be reached,
// or did not answer within its deadline.
var ErrUnavailable = errors.New("the shared limits' store is unavailable")
