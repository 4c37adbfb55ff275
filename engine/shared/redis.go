package shared

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	// Every script starts with the prelude: the time, and how a bucket
	// is read and written, the same in each.
	//go:embed prelude.lua
	preludeSource string
	//go:embed take.lua
	takeSource string
	//go:embed settle.lua
	settleSource string
	//go:embed sync.lua
	syncSource string
	//go:embed hold.lua
	holdSource string

	takeScript   = redis.NewScript(preludeSource + takeSource)
	settleScript = redis.NewScript(preludeSource + settleSource)
	syncScript   = redis.NewScript(preludeSource + syncSource)
	holdScript   = redis.NewScript(preludeSource + holdSource)
)

// Deadline is how long a call to Redis may take, from dialling to the
// answer: a routing decision waits for it, so it is short. A Redis that
// is down, slow or busy with a long command costs a decision this much
// at most, then the gateway does what redis_failure says.
const Deadline = 100 * time.Millisecond

// Redis keeps buckets in a Redis server, one hash per bucket under
// KeyPrefix (see the README's key layout), changed only by scripts that
// run whole on the server.
type Redis struct {
	client   *redis.Client
	prefix   string
	addr     string
	deadline time.Duration
	// clock, when set, is the time every script takes instead of
	// Redis's TIME (WithClock).
	clock func() time.Time
}

func init() {
	// go-redis logs each failed dial on stderr, which would land on the
	// dashboard; the gateway says what happened to Redis itself, once per
	// change, as an event.
	redis.SetLogger(silent{})
}

type silent struct{}

func (silent) Printf(context.Context, string, ...any) {}

// KeyPrefix is where a scope's buckets live: spillway:{scope}:bucket:ID.
// The braces keep every key of a scope in one Redis Cluster slot, so one
// script may touch several.
func KeyPrefix(scope string) string { return "spillway:{" + scope + "}:" }

// NewRedis is a store in the Redis at url (redis://host:port/db, or
// rediss:// for TLS). It connects when first asked, and again after
// Redis went away. scope names the buckets' namespace: replicas with the
// same scope share them. deadline bounds every call, dialling included;
// 0 means Deadline (a test of what a store counts, on a machine too busy
// to promise a tenth of a second, gives more).
func NewRedis(url, scope string, deadline time.Duration) (*Redis, error) {
	opts, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if deadline <= 0 {
		deadline = Deadline
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = deadline, deadline, deadline
	// A call that fails is not tried again, and a connection that cannot
	// be made is not dialled again (go-redis would try five times, a
	// tenth of a second apart, whatever the call's deadline): the
	// decision cannot wait.
	opts.MaxRetries = -1
	opts.DialerRetries, opts.DialerRetryTimeout = 1, time.Millisecond
	opts.ContextTimeoutEnabled = true
	return &Redis{client: redis.NewClient(opts), prefix: KeyPrefix(scope), addr: opts.Addr, deadline: deadline}, nil
}

// CheckURL reports what is wrong with a Redis URL, before anything
// connects to it.
func CheckURL(url string) error {
	_, err := parseURL(url)
	return err
}

func parseURL(url string) (*redis.Options, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("the Redis URL %q: %v; give one such as redis://127.0.0.1:6379/0", url, err)
	}
	return opts, nil
}

// DialRedis is NewRedis, then Ping.
func DialRedis(ctx context.Context, url, scope string, deadline time.Duration) (*Redis, error) {
	r, err := NewRedis(url, scope, deadline)
	if err != nil {
		return nil, err
	}
	if err := r.Ping(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Ping checks that Redis answers, within two seconds.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: Redis at %s did not answer: %v", ErrUnavailable, r.addr, err)
	}
	return nil
}

// Addr is the server's address.
func (r *Redis) Addr() string { return r.addr }

// WithClock makes every script take clock's time instead of Redis's TIME:
// for replicas that share a clock other than the wall's, such as a
// simulated run's or a test's. That time need not pass with the wall's,
// so keys then outlive their last write by a day rather than by what
// their content needs, and holds end by clock's time.
func (r *Redis) WithClock(clock func() time.Time) *Redis {
	r.clock = clock
	return r
}

// Key is where the bucket id lives.
func (r *Redis) Key(id string) string { return r.prefix + "bucket:" + id }

// LimitKey is where a limit set live on any replica for bucket id lives.
func (r *Redis) LimitKey(id string) string { return r.prefix + "limit:" + id }

// ReplicasKey is the sorted set of the replicas syncing, by when they
// last did.
func (r *Redis) ReplicasKey() string { return r.prefix + "replicas" }

// LimitTTL is how long a limit set live outlives its last use: a scope
// nobody runs any more leaves nothing behind.
const LimitTTL = 24 * time.Hour

// now is the time argument of a script: "" for Redis's TIME, or "s" and
// the clock's microseconds (see prelude.lua).
func (r *Redis) now() string {
	if r.clock == nil {
		return ""
	}
	return "s" + strconv.FormatInt(r.clock().UnixMicro(), 10)
}

func (r *Redis) Take(ctx context.Context, asks []Ask) (time.Time, *Refusal, error) {
	keys := make([]string, 2*len(asks))
	args := make([]any, 0, 1+4*len(asks))
	args = append(args, r.now())
	for i, a := range asks {
		keys[i], keys[len(asks)+i] = r.Key(a.Key), r.LimitKey(a.Key)
		take := 1
		if a.Check {
			take = 0
		}
		args = append(args, string(a.Semantic), a.Limit, a.N, take)
	}
	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	out, err := takeScript.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return time.Time{}, nil, r.unavailable(err)
	}
	switch {
	case len(out) == 2 && out[0] == 1:
		return time.UnixMicro(out[1]), nil, nil
	case len(out) == 4:
		wait := time.Duration(out[3]) * time.Microsecond
		if out[3] < 0 {
			wait = -1
		}
		return time.UnixMicro(out[1]), &Refusal{Index: int(out[2]) - 1, Wait: wait}, nil
	}
	return time.Time{}, nil, fmt.Errorf("%w: the take script answered %v", ErrUnavailable, out)
}

func (r *Redis) Settle(ctx context.Context, a Ask, reserved, used float64, reservedAt time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	err := settleScript.Run(ctx, r.client, []string{r.Key(a.Key), r.LimitKey(a.Key)},
		r.now(), string(a.Semantic), a.Limit, reserved, used, reservedAt.UnixMicro()).Err()
	if err != nil {
		return r.unavailable(err)
	}
	return nil
}

func (r *Redis) Sync(ctx context.Context, replica string, asks []Ask) (Sync, error) {
	keys := make([]string, 2*len(asks), 2*len(asks)+1)
	args := make([]any, 0, 2+2*len(asks))
	args = append(args, r.now(), replica)
	for i, a := range asks {
		keys[i], keys[len(asks)+i] = r.Key(a.Key), r.LimitKey(a.Key)
		limit := a.Limit
		if math.IsInf(limit, 1) {
			limit = -1
		}
		args = append(args, string(a.Semantic), limit)
	}
	keys = append(keys, r.ReplicasKey())
	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	out, err := syncScript.Run(ctx, r.client, keys, args...).StringSlice()
	if err != nil {
		return Sync{}, r.unavailable(err)
	}
	if len(out) != 1+2*len(asks) {
		return Sync{}, fmt.Errorf("%w: the sync script answered %d values for %d buckets", ErrUnavailable, len(out), len(asks))
	}
	n, _ := strconv.Atoi(out[0])
	sync := Sync{Replicas: n, Levels: make([]Level, len(asks))}
	for i := range asks {
		avail, err := strconv.ParseFloat(out[1+2*i], 64)
		if err != nil {
			return Sync{}, fmt.Errorf("%w: the sync script answered %q", ErrUnavailable, out[1+2*i])
		}
		lv := Level{Available: avail, Limit: asks[i].Limit}
		switch set := out[2+2*i]; set {
		case "":
		case "unlimited":
			lv.Limit, lv.Available, lv.Set = math.Inf(1), math.Inf(1), true
		default:
			if v, err := strconv.ParseFloat(set, 64); err == nil {
				lv.Limit, lv.Set = v, true
			}
		}
		if math.IsInf(lv.Limit, 1) {
			lv.Available = math.Inf(1)
		}
		sync.Levels[i] = lv
	}
	return sync, nil
}

func (r *Redis) Hold(ctx context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	if err := holdScript.Run(ctx, r.client, []string{r.Key(key)}, r.now(), d.Microseconds()).Err(); err != nil {
		return r.unavailable(err)
	}
	return nil
}

func (r *Redis) SetLimit(ctx context.Context, key string, limit float64) error {
	value := "unlimited"
	if !math.IsInf(limit, 1) {
		value = strconv.FormatFloat(limit, 'f', -1, 64)
	}
	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	if err := r.client.Set(ctx, r.LimitKey(key), value, LimitTTL).Err(); err != nil {
		return r.unavailable(err)
	}
	return nil
}

func (r *Redis) Now(ctx context.Context) (time.Time, error) {
	if r.clock != nil {
		return r.clock(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.deadline)
	defer cancel()
	t, err := r.client.Time(ctx).Result()
	if err != nil {
		return time.Time{}, r.unavailable(err)
	}
	return t, nil
}

func (r *Redis) Close() error { return r.client.Close() }

// Forget deletes every key of the store's scope: a run whose scope was
// its own leaves nothing behind. It walks the scope's keys with SCAN, a
// page at a time, so a large Redis is not blocked.
func (r *Redis) Forget(ctx context.Context) error {
	iter := r.client.Scan(ctx, 0, r.prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return r.unavailable(err)
	}
	if len(keys) == 0 {
		return nil
	}
	if err := r.client.Unlink(ctx, keys...).Err(); err != nil {
		return r.unavailable(err)
	}
	return nil
}

// unavailable wraps a client error as ErrUnavailable, naming the server;
// a script error (a bug, not an outage) keeps its words too.
func (r *Redis) unavailable(err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: Redis at %s did not answer within %s", ErrUnavailable, r.addr, r.deadline)
	}
	return fmt.Errorf("%w: Redis at %s: %v", ErrUnavailable, r.addr, err)
}
