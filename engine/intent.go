package engine

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"spillway/scenarios"
)

// Intent is a change someone asks of a running engine, sent through the
// Shell. Relative intents (AdjustRPM, ScaleRate, TogglePause, StepSpeed)
// are applied to the state the loop has when it gets to them, so ten quick
// presses of a key make ten steps whatever the screen showed meanwhile.
type Intent interface {
	// check refuses what is wrong whatever the run's state.
	check(e *Engine) error
	// apply makes the change at simulated time at, on the run's goroutine
	// (or under the shell's lock once the run is over), and emits its
	// event; an error is the reason it was refused.
	apply(e *Engine, at time.Time) error
	// afterEnd reports whether the intent still applies once the run is
	// over.
	afterEnd() bool
	// bucket is the bucket the intent is about, if any, for ControlRefused.
	bucket() BucketID
}

// AdjustRPM changes a bucket's limit by Delta requests a minute, never
// below 1.
type AdjustRPM struct {
	Bucket BucketID
	Delta  int
}

// SetRPM sets a bucket's limit: a whole number ≥ 1, or unlimited.
type SetRPM struct {
	Bucket BucketID
	RPM    scenarios.RPM
}

// ScaleRate multiplies a tenant's arrival rate by Factor, within
// scenarios.MinRate and scenarios.MaxRate.
type ScaleRate struct {
	Bucket BucketID
	Factor float64
}

// SetRate sets a tenant's arrival rate, per minute.
type SetRate struct {
	Bucket BucketID
	Rate   float64
}

// TogglePause pauses a running run and resumes a paused one. Paused,
// simulated time stands still: nothing is sent, no reply is due, and
// buckets do not refill, so a presenter can talk over a frozen run. A reply
// from a network backend that was already under way is still taken in.
type TogglePause struct{}

// SetPaused pauses or resumes.
type SetPaused struct{ Paused bool }

// StepSpeed moves to the next of SpeedSteps, faster (Dir > 0) or slower.
type StepSpeed struct{ Dir int }

// SetSpeed changes how fast simulated time runs, from now on: what has
// happened keeps its times, and what is scheduled keeps its simulated
// times, so outcomes do not depend on when the speed changed.
type SetSpeed struct{ Speed float64 }

// StartFault makes the backend show Fault from now until StopFault.
type StartFault struct{ Fault scenarios.Fault }

// StopFault ends fault ID now, whether it was declared or started live.
type StopFault struct{ ID int }

// ToggleFault stops the fault in effect that is the same as Fault (its kind
// and scope, whatever its times), or starts Fault when none is. The loop
// decides which, so two quick presses start and stop, never start twice.
type ToggleFault struct{ Fault scenarios.Fault }

// Arrive is a request a gateway client sent: it enters Group, and the
// groups Group falls back to, as Tenant's, which must take its traffic
// from clients (arrival = "gateway"). Its tokens are what the gateway
// counted of the client's body. Ticket comes back on the request's first
// event, so the sender can follow it; a refused Arrive is a
// ControlRefused with Ticket set.
type Arrive struct {
	Ticket      uint64
	Tenant      string
	Group       string
	InputTokens int
	MaxTokens   int
	Stream      bool
	Messages    []Message
	// Text, for a streamed request, takes each piece of the answer's text
	// as a network backend reads it (engine.Call.Text), so the client sees
	// it come. An instant backend's answer comes whole, in the final
	// event's Text.
	Text func(piece string)
}

// Hangup says the client of a gateway request, known by its Arrive's
// Ticket, went away before its answer. The request ends as Cancelled and
// a call in flight is cancelled, so a stream nobody reads stops costing
// tokens. A request already over is left as it ended.
type Hangup struct{ Ticket uint64 }

func (h Hangup) check(*Engine) error { return nil }

// afterEnd is true: once the run is over there is nothing to cancel, and
// nothing to refuse.
func (h Hangup) afterEnd() bool   { return true }
func (h Hangup) bucket() BucketID { return "" }
func (h Hangup) apply(e *Engine, at time.Time) error {
	e.gateway.hangup(at, h.Ticket)
	return nil
}

func (a Arrive) check(e *Engine) error {
	if _, err := e.clientTenant(a.Tenant); err != nil {
		return err
	}
	if _, ok := e.chains[a.Group]; !ok {
		return fmt.Errorf("group %q does not exist; known groups: %s", a.Group, strings.Join(e.scenario.GroupNames(), ", "))
	}
	if a.InputTokens < 0 || a.MaxTokens < 1 {
		return fmt.Errorf("a request needs input tokens ≥ 0 and max_tokens ≥ 1, got %d and %d", a.InputTokens, a.MaxTokens)
	}
	return nil
}
func (a Arrive) afterEnd() bool   { return false }
func (a Arrive) bucket() BucketID { return BucketID(TenantBucket + a.Tenant) }
func (a Arrive) apply(e *Engine, at time.Time) error {
	t, _ := e.clientTenant(a.Tenant)
	e.gateway.admitClient(at, t, e.chains[a.Group], a)
	return nil
}

// clientTenant is the tenant named, if its traffic comes from clients.
func (e *Engine) clientTenant(name string) (*tenant, error) {
	for _, t := range e.traffic.tenants {
		if t.spec.Name != name {
			continue
		}
		if t.spec.Arrival != scenarios.FromClients {
			return nil, fmt.Errorf("tenant %q sends its own traffic (arrival = %q); a gateway client's tenant has arrival = \"gateway\"", name, t.spec.Arrival)
		}
		return t, nil
	}
	return nil, fmt.Errorf("tenant %q does not exist", name)
}

// SpeedSteps are the speeds StepSpeed moves through.
var SpeedSteps = []float64{0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, math.Inf(1)}

func (a AdjustRPM) check(e *Engine) error { _, err := e.tunable(a.Bucket); return err }
func (a AdjustRPM) afterEnd() bool        { return true }
func (a AdjustRPM) bucket() BucketID      { return a.Bucket }
func (a AdjustRPM) apply(e *Engine, at time.Time) error {
	u, _ := e.tunable(a.Bucket)
	rpm := u.limit()
	if rpm.IsUnlimited() {
		return fmt.Errorf("%s is unlimited; give it a number in the scenario file to tune it", a.Bucket)
	}
	next := max(1, rpm+scenarios.RPM(a.Delta))
	if next == rpm {
		return fmt.Errorf("%s is at %s %s, the lowest limit", a.Bucket, rpm, a.Bucket.PerMinute())
	}
	e.retune(at, u, next)
	return nil
}

func (s SetRPM) check(e *Engine) error {
	if err := checkRPM(s.RPM); err != nil {
		return err
	}
	_, err := e.tunable(s.Bucket)
	return err
}
func (s SetRPM) afterEnd() bool   { return true }
func (s SetRPM) bucket() BucketID { return s.Bucket }
func (s SetRPM) apply(e *Engine, at time.Time) error {
	u, _ := e.tunable(s.Bucket)
	e.retune(at, u, s.RPM)
	return nil
}

// realTimeOnly refuses a change of speed to a gateway whose limits are
// shared: the store counts them on Redis's clock, in real time.
func (e *Engine) realTimeOnly() error {
	if e.gateway.shared != nil && e.gateway.fleet == nil { // a run's replicas count on its own clock
		return errors.New("limits shared with other replicas count in real time, so the speed stays 1")
	}
	return nil
}

func checkRPM(rpm scenarios.RPM) error {
	if !(rpm >= 1) || (!rpm.IsUnlimited() && rpm != scenarios.RPM(math.Trunc(float64(rpm)))) {
		return fmt.Errorf("rpm must be a whole number ≥ 1 or unlimited, got %v", rpm)
	}
	return nil
}

// retune sets u's limit and says so.
func (e *Engine) retune(at time.Time, u tunable, rpm scenarios.RPM) {
	u.setRPM(rpm)
	u.limiter().SetRPMAt(at, rpm)
	e.gateway.shared.setLimit(at, u.bucketID(), rpm) // with shared limits, for every replica
	e.loop.emit(at, Event{Kind: RPMChanged, Bucket: u.bucketID(), RPM: rpm})
}

func (s ScaleRate) check(e *Engine) error {
	if !(s.Factor > 0) || math.IsInf(s.Factor, 0) {
		return fmt.Errorf("a rate factor must be above 0, got %v", s.Factor)
	}
	_, err := e.tenantWithRate(s.Bucket)
	return err
}
func (s ScaleRate) afterEnd() bool   { return false }
func (s ScaleRate) bucket() BucketID { return s.Bucket }
func (s ScaleRate) apply(e *Engine, at time.Time) error {
	t, _ := e.tenantWithRate(s.Bucket)
	// Rounded to a millionth of a request a minute, so that ten steps up
	// and ten down come back to where they started and the record reads
	// 48.4, not 48.400000000000006.
	rate := math.Round(t.rate*s.Factor*1e6) / 1e6
	rate = min(scenarios.MaxRate, max(scenarios.MinRate, rate))
	if rate == t.rate {
		limit := "most"
		if s.Factor < 1 {
			limit = "fewest"
		}
		return fmt.Errorf("%s already sends %s a minute, the %s a tenant may", s.Bucket, RateText(rate), limit)
	}
	e.traffic.setRate(&e.loop, at, t, rate)
	return nil
}

func (s SetRate) check(e *Engine) error {
	if !(s.Rate >= scenarios.MinRate && s.Rate <= scenarios.MaxRate) {
		return fmt.Errorf("rate must be from %g to %g a minute, got %v", scenarios.MinRate, float64(scenarios.MaxRate), s.Rate)
	}
	_, err := e.tenantWithRate(s.Bucket)
	return err
}
func (s SetRate) afterEnd() bool   { return false }
func (s SetRate) bucket() BucketID { return s.Bucket }
func (s SetRate) apply(e *Engine, at time.Time) error {
	t, _ := e.tenantWithRate(s.Bucket)
	e.traffic.setRate(&e.loop, at, t, s.Rate)
	return nil
}

func (TogglePause) check(*Engine) error { return nil }
func (TogglePause) afterEnd() bool      { return false }
func (TogglePause) bucket() BucketID    { return "" }
func (TogglePause) apply(e *Engine, at time.Time) error {
	e.pause(at, !e.loop.pacer.paused)
	return nil
}

func (SetPaused) check(*Engine) error { return nil }
func (SetPaused) afterEnd() bool      { return false }
func (SetPaused) bucket() BucketID    { return "" }
func (s SetPaused) apply(e *Engine, at time.Time) error {
	if e.loop.pacer.paused == s.Paused {
		if s.Paused {
			return fmt.Errorf("the run is paused already")
		}
		return fmt.Errorf("the run is not paused")
	}
	e.pause(at, s.Paused)
	return nil
}

func (e *Engine) pause(at time.Time, paused bool) {
	e.loop.rebase(at, func(p *pacer) { p.paused = paused })
	kind := Resumed
	if paused {
		kind = Paused
	}
	e.loop.emit(at, Event{Kind: kind})
}

func (StepSpeed) check(e *Engine) error { return e.realTimeOnly() }
func (StepSpeed) afterEnd() bool        { return false }
func (StepSpeed) bucket() BucketID      { return "" }
func (s StepSpeed) apply(e *Engine, at time.Time) error {
	speed := e.loop.pacer.speed
	if s.Dir < 0 && speed <= SpeedSteps[0] {
		return fmt.Errorf("%s is the slowest speed", SpeedText(speed))
	}
	i := 0
	for i < len(SpeedSteps)-1 && SpeedSteps[i] < speed {
		i++
	}
	if s.Dir < 0 && i > 0 {
		i--
	} else if s.Dir > 0 && i < len(SpeedSteps)-1 && SpeedSteps[i] <= speed {
		i++
	}
	next := SpeedSteps[i]
	if math.IsInf(next, 1) && !e.opts.Backend.Instant() {
		return fmt.Errorf("speed max needs simulated time, which this backend does not have")
	}
	if next == speed {
		if s.Dir < 0 {
			return fmt.Errorf("%s is the slowest speed", SpeedText(next))
		}
		return fmt.Errorf("%s is the fastest speed", SpeedText(next))
	}
	e.setSpeed(at, next)
	return nil
}

func (s SetSpeed) check(e *Engine) error {
	if err := e.realTimeOnly(); err != nil {
		return err
	}
	if !(s.Speed > 0) {
		return fmt.Errorf("speed must be above 0, got %v", s.Speed)
	}
	if math.IsInf(s.Speed, 1) && !e.opts.Backend.Instant() {
		return fmt.Errorf("speed max needs simulated time, which this backend does not have")
	}
	return nil
}
func (SetSpeed) afterEnd() bool   { return false }
func (SetSpeed) bucket() BucketID { return "" }
func (s SetSpeed) apply(e *Engine, at time.Time) error {
	if e.loop.pacer.speed == s.Speed {
		return fmt.Errorf("the speed is %s already", SpeedText(s.Speed))
	}
	e.setSpeed(at, s.Speed)
	return nil
}

func (e *Engine) setSpeed(at time.Time, speed float64) {
	e.loop.rebase(at, func(p *pacer) { p.speed = speed })
	e.loop.emit(at, Event{Kind: SpeedChanged, Speed: speed})
}

// RateText writes an arrival rate as people read it: 48.4, 1000000, 0.001.
func RateText(rate float64) string {
	if rate >= 10 {
		rate = math.Round(rate*10) / 10
	}
	return strconv.FormatFloat(rate, 'f', -1, 64)
}

// SpeedText writes a speed as people read it: "20×", or "max".
func SpeedText(x float64) string {
	if math.IsInf(x, 1) {
		return "max"
	}
	return fmt.Sprintf("%g×", x)
}

func (StartFault) check(e *Engine) error {
	if e.opts.Faults == nil {
		return fmt.Errorf("faults need the simulated backend; this one cannot fail on demand")
	}
	return nil
}
func (StartFault) afterEnd() bool   { return false }
func (StartFault) bucket() BucketID { return "" }
func (s StartFault) apply(e *Engine, at time.Time) error {
	return e.faults.startLive(e.ctx, &e.loop, at, s.Fault)
}

func (StopFault) check(*Engine) error { return nil }
func (StopFault) afterEnd() bool      { return false }
func (StopFault) bucket() BucketID    { return "" }
func (s StopFault) apply(e *Engine, at time.Time) error {
	if !e.faults.inEffect(s.ID) {
		return fmt.Errorf("fault %d is not in effect", s.ID)
	}
	return e.faults.stop(e.ctx, &e.loop, at, s.ID)
}

func (t ToggleFault) check(e *Engine) error { return StartFault(t).check(e) }
func (ToggleFault) afterEnd() bool          { return false }
func (ToggleFault) bucket() BucketID        { return "" }
func (t ToggleFault) apply(e *Engine, at time.Time) error {
	if id, on := e.faults.find(t.Fault); on {
		return e.faults.stop(e.ctx, &e.loop, at, id)
	}
	return e.faults.startLive(e.ctx, &e.loop, at, t.Fault)
}

// tunable finds a bucket by id; the map never changes after New, so this
// needs no lock.
func (e *Engine) tunable(id BucketID) (tunable, error) {
	u, ok := e.tunables[id]
	if !ok {
		return nil, fmt.Errorf("no bucket %q; buckets are %v", id, e.bucketIDs())
	}
	return u, nil
}

// tenantWithRate finds a tenant whose arrival rate can be tuned.
func (e *Engine) tenantWithRate(id BucketID) (*tenant, error) {
	for _, t := range e.traffic.tenants {
		if t.id != id {
			continue
		}
		if t.spec.Arrival == scenarios.Burst {
			return nil, fmt.Errorf("tenant %s sends a burst of %d; give it arrival = \"constant\" or \"poisson\" with a rate to tune it live", t.spec.Name, t.spec.Requests)
		}
		return t, nil
	}
	return nil, fmt.Errorf("no tenant bucket %q", id)
}
