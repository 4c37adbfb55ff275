// Package fleet simulates Amazon Bedrock for one scenario: accounts × Regions
// × models, each with a service quota, realistic latency, cross-Region
// placement and model invocation logs that arrive late, as CloudWatch's do.
//
// The fleet has no clock of its own. Every call passes the simulated time in,
// so the routing engine and the HTTP emulator decide how fast time runs, and
// a seed fixes every random choice.
package fleet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"spillway/engine/bucket"
	"spillway/engine/simaws/catalog"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// Status is the HTTP status Bedrock sends with each error code.
var Status = map[string]int{
	wire.ThrottlingException:         429,
	wire.ModelNotReadyException:      429,
	wire.ServiceUnavailableException: 503,
	wire.InternalServerException:     500,
	wire.ModelTimeoutException:       408,
	wire.AccessDeniedException:       403,
	wire.ValidationException:         400,
	wire.ResourceNotFoundException:   404,
}

// APIError is an error as Bedrock returns it.
type APIError struct {
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Status is the HTTP status of the error.
func (e *APIError) Status() int { return Status[e.Code] }

// MaxOutputTokens is the largest maxTokens a call may ask for, the bound a
// scenario's max_tokens has too. Bedrock's own limit is the model's, at most
// a few hundred thousand; the fleet has no per-model table, so one bound
// keeps token arithmetic far from overflowing.
const MaxOutputTokens = 1_000_000

// Call is one model invocation.
type Call struct {
	Account      string // account name in the scenario
	SourceRegion string
	ModelID      string // profile id, foundation model id or ARN
	Operation    string // scenarios.OpConverse or OpInvokeModel
	Prompt       string
	MaxTokens    int
	// Stream: the answer is streamed (ConverseStream,
	// InvokeModelWithResponseStream), so streaming faults apply.
	Stream bool
	// DefaultMaxTokens: the call set no max_tokens, so Bedrock reserves,
	// and allows, the model's maximum output.
	DefaultMaxTokens bool
	// ReceivedAt is when the emulator took the call, on its own clock. Log
	// retention ages records by it, never by the call's simulated time,
	// which a client chooses. Zero: the call's own time.
	ReceivedAt time.Time
}

// Reply is what Bedrock answered, with what only the simulation knows.
type Reply struct {
	RequestID string
	id        requestID     // RequestID's bits, for the logs
	Region    string        // where the call ran; "" when it never ran
	Latency   time.Duration // simulated time from call to answer
	// FirstToken is the simulated time from call to the answer's first
	// token; the rest follow evenly until Latency.
	FirstToken   time.Duration
	InputTokens  int
	OutputTokens int
	// StopReason is why the answer ended: "end_turn", or "max_tokens" when
	// it was cut at the call's limit; "" for a stream that never ended.
	StopReason string
	// Stream is what goes wrong in a streamed answer, if anything.
	Stream StreamPlan
	Text   string
	Err    *APIError
	// RetryAfter, on a quota throttle, is how long until the quota has room
	// again: what the emulator sends as Retry-After.
	RetryAfter time.Duration
}

// Fleet is the simulated Bedrock of one scenario. It is safe for concurrent
// use; the engine calls it from one goroutine, the emulator from many.
type Fleet struct {
	mu       sync.Mutex
	scenario *scenarios.Scenario
	models   []scenarios.Model
	epoch    time.Time
	rng      *rand.Rand
	quotas   map[quotaKey]*bucket.Bucket // requests per minute
	// tokenQuotas are the token quotas, input and output together, with
	// the reservations of calls still running to settle.
	tokenQuotas map[quotaKey]*bucket.Bucket
	pending     settlements
	figures     map[string]*figures                      // by foundation model id
	pace        float64                                  // divides the latencies the catalog gives; see SetPace
	appProfiles map[string]map[string]ApplicationProfile // account → id → profile
	logs        *logStore
	interned    map[internKey]string // ARNs and answers, built once rather than per call
	known       map[string]bool      // foundation model ids this fleet serves

	faults      []*injected
	activeBuf   []*injected // reused by active, so calls without faults allocate nothing
	lastFaultID int         // the highest fault id injected
}

type internKey struct {
	kind, a, b, c string
}

// maxInterned bounds the interned strings. A scenario needs a few hundred;
// keys hold client-chosen model ids, so past the bound a stranger's new ids
// are built every time rather than kept for the fleet's life.
const maxInterned = 4096

// intern returns build()'s result, computed once per key. A long run makes
// the same few ARNs hundreds of thousands of times.
func (f *Fleet) intern(k internKey, build func() string) string {
	if s, ok := f.interned[k]; ok {
		return s
	}
	s := build()
	if len(f.interned) < maxInterned {
		f.interned[k] = s
	}
	return s
}

type quotaKey struct {
	account, region, model string
}

// New builds the fleet for scenario s. fileModels are the scenario file's
// shared latency entries; epoch is the simulated start of the run.
func New(s *scenarios.Scenario, fileModels []scenarios.Model, seed uint64, epoch time.Time) *Fleet {
	f := &Fleet{
		scenario: s,
		models:   fileModels,
		epoch:    epoch,
		rng:      rand.New(rand.NewPCG(seed, 0xf1ee7)),
		quotas:   map[quotaKey]*bucket.Bucket{},
		logs:     newLogStore(s),

		tokenQuotas: map[quotaKey]*bucket.Bucket{},
		pace:        1,
		appProfiles: map[string]map[string]ApplicationProfile{},
		figures:     map[string]*figures{},
		interned:    map[internKey]string{},
		known:       knownModels(s, fileModels),
	}
	f.loadApplicationProfiles()
	return f
}

// knownModels are the models the fleet serves: every model a deployment
// uses or the file describes. Anything else is an invalid model identifier,
// as a typo is on Bedrock.
func knownModels(s *scenarios.Scenario, fileModels []scenarios.Model) map[string]bool {
	known := map[string]bool{}
	for _, d := range s.Deployments {
		known[scenarios.BaseModelID(d.Model)] = true
	}
	for _, list := range [][]scenarios.Model{fileModels, s.Models} {
		for _, m := range list {
			known[scenarios.BaseModelID(m.ID)] = true
		}
	}
	return known
}

// Invoke runs call at simulated time at. It returns at once; Reply.Latency
// says how long the answer took.
func (f *Fleet) Invoke(at time.Time, call Call) Reply {
	f.mu.Lock()
	defer f.mu.Unlock()

	id := f.requestID()
	r := Reply{RequestID: id.String(), id: id}
	acct, ok := f.scenario.Account(call.Account)
	if !ok {
		r.Err = &APIError{Code: wire.AccessDeniedException, Message: fmt.Sprintf("account %q is not part of this simulated fleet", call.Account)}
		r.Latency = f.errorLatency()
		return r
	}
	asCalled := call.ModelID
	if call.ModelID, ok = f.throughProfile(acct, call.ModelID); !ok {
		r.Err = &APIError{Code: wire.ValidationException, Message: "The provided model identifier is invalid."}
		r.Latency = f.errorLatency()
		return r
	}
	if !f.known[scenarios.BaseModelID(call.ModelID)] {
		// Not the scenario's: the catalog's current Bedrock models, as
		// Bedrock serves them.
		m, by, _, ok := catalog.BuiltIn().Resolve(call.ModelID)
		switch {
		case !ok:
			r.Err = &APIError{Code: wire.ValidationException, Message: "The provided model identifier is invalid."}
		case by == catalog.ByFoundationID && !m.OnDemandIn(call.SourceRegion):
			r.Err = &APIError{Code: wire.ValidationException, Message: catalog.OnDemandRefusal(call.ModelID)}
		}
		if r.Err != nil {
			r.Latency = f.errorLatency()
			return r
		}
	}
	fig := f.figuresOf(call.ModelID)
	if call.DefaultMaxTokens {
		call.MaxTokens = fig.maxOut
	}
	if err := checkMaxTokens(call.MaxTokens, fig.maxOut); err != nil {
		r.Err = err
		r.Latency = f.errorLatency()
		return r
	}
	if denied(acct, call.ModelID) {
		r.Err = &APIError{Code: wire.AccessDeniedException, Message: fmt.Sprintf(
			"You don't have access to the model with the specified model ID. Model access is not enabled for %s in account %s; request it on the Bedrock console's Model access page.",
			scenarios.BaseModelID(call.ModelID), scenarios.MaskAccountID(acct.AccountID))}
		r.Latency = f.errorLatency()
		return r
	}
	faults := f.active(at)
	r.InputTokens = scenarios.PromptTokens(call.Prompt)
	reserve := float64(r.InputTokens + call.MaxTokens)
	f.settleDue(at)
	region, retryAfter, err := f.place(at, acct, call, reserve, faults)
	if err != nil {
		r.Err, r.RetryAfter = err, retryAfter
		r.Latency = f.errorLatency()
		return r
	}
	r.Region = region
	r.OutputTokens, r.Latency, r.FirstToken = f.answer(fig, call.MaxTokens)
	r.StopReason = "end_turn"
	if r.OutputTokens == call.MaxTokens {
		r.StopReason = "max_tokens"
	}
	if len(faults) > 0 {
		// Clamped before the conversion: a float past time.Duration's
		// range converts to a negative latency.
		factor := slowdown(faults, acct.Name, region, call.ModelID)
		slowed := math.Min(float64(r.Latency)*factor, float64(scenarios.MaxSpan))
		r.Latency = time.Duration(slowed).Round(time.Millisecond)
		r.FirstToken = min(r.Latency, time.Duration(math.Min(float64(r.FirstToken)*factor, float64(scenarios.MaxSpan))).Round(time.Millisecond))
		if call.Stream {
			f.planStream(faults, acct.Name, region, call.ModelID, &r)
			r.Latency = r.Latency.Round(time.Millisecond)
		}
	}
	// The reservation is settled when the answer is complete, on input
	// plus output at the model's burndown.
	f.settleLater(settlement{due: at.Add(r.Latency), quota: f.tokenQuota(acct, region, scenarios.BaseModelID(call.ModelID)),
		reservedAt: at, reserved: reserve, used: float64(r.InputTokens) + float64(r.OutputTokens)*fig.burndown})
	r.Text = f.intern(internKey{"answer", call.ModelID, region, ""}, func() string {
		return fmt.Sprintf("(simulated answer from %s in %s)", scenarios.BaseModelID(call.ModelID), region)
	})
	call.ModelID = asCalled // the log keeps the id as called
	f.logs.add(acct.Name, f.store(at, acct, call, r))
	return r
}

// checkMaxTokens refuses maxTokens outside 1…limit as Bedrock words it.
func checkMaxTokens(n, limit int) *APIError {
	switch {
	case n < 1:
		return &APIError{Code: wire.ValidationException, Message: fmt.Sprintf(
			"The maximum tokens you requested (%d) is below the minimum of 1.", n)}
	case n > limit:
		return &APIError{Code: wire.ValidationException, Message: fmt.Sprintf(
			"The maximum tokens you requested exceeds the model limit of %d. Try again with a maximum tokens value of at most %d.",
			limit, limit)}
	}
	return nil
}

func denied(acct scenarios.Account, modelID string) bool {
	base := scenarios.BaseModelID(modelID)
	for _, m := range acct.DeniedModels {
		if scenarios.BaseModelID(m) == base {
			return true
		}
	}
	return false
}

// place picks the Region a call runs in, takes one request of its quota and
// reserves the call's tokens (input + max_tokens) from its token quota. A
// cross-Region profile lands in a Region of its geography, picked at random
// weighted by how many such calls each Region has room for; a foundation
// model runs in the source Region.
func (f *Fleet) place(at time.Time, acct scenarios.Account, call Call, reserve float64, faults []*injected) (string, time.Duration, *APIError) {
	model := scenarios.BaseModelID(call.ModelID)
	geo := scenarios.Geography(call.ModelID)
	candidates := []string{call.SourceRegion}
	if geo != "" {
		candidates = destinations(geo, acct.Regions)
		if len(candidates) == 0 {
			return "", 0, &APIError{Code: wire.ValidationException, Message: fmt.Sprintf(
				"The provided model identifier is invalid: no Regions are known for the %q inference-profile geography; list them in the account's regions key", geo)}
		}
		if !slices.Contains(candidates, call.SourceRegion) {
			return "", 0, &APIError{Code: wire.ValidationException, Message: fmt.Sprintf(
				"Invocation of model ID %s from source Region %s isn't supported: the profile's Regions are %s",
				call.ModelID, call.SourceRegion, strings.Join(candidates, ", "))}
		}
	}

	var total float64
	free := make([]float64, len(candidates))
	up, requestRoom := 0, 0
	for i, region := range candidates {
		if len(faults) > 0 && down(faults, acct.Name, region, call.ModelID) {
			continue // an outage: the profile routes around it
		}
		up++
		q := f.quota(acct, region, model)
		if !q.HasBudgetAt(at) {
			continue
		}
		requestRoom++
		tq := f.tokenQuota(acct, region, model)
		if tokens := tq.LevelAt(at).Available; tokens >= reserve {
			free[i] = math.Min(math.Min(q.LevelAt(at).Available, tokens/reserve), 1e9)
			total += free[i]
		}
	}
	if up == 0 {
		return "", 0, outageError(call.SourceRegion, candidates)
	}
	if total == 0 && requestRoom > 0 {
		return "", f.untilTokens(at, acct, model, candidates, reserve, faults), &APIError{Code: wire.ThrottlingException, Message: TooManyTokens}
	}
	if total == 0 {
		return "", f.untilRoom(at, acct, model, candidates, faults), &APIError{Code: wire.ThrottlingException, Message: TooManyRequests}
	}
	pick := f.rng.Float64() * total
	chosen := len(candidates) - 1
	for i, w := range free {
		if pick < w {
			chosen = i
			break
		}
		pick -= w
	}
	if len(faults) > 0 {
		if err := f.callFault(faults, acct.Name, candidates[chosen], call.ModelID); err != nil {
			return "", 0, err
		}
	}
	f.quota(acct, candidates[chosen], model).AllowAt(at)
	f.tokenQuota(acct, candidates[chosen], model).TakeAt(at, reserve)
	return candidates[chosen], 0, nil
}

// Bedrock's throttling messages tell requests from tokens.
const (
	TooManyRequests = "Too many requests, please wait before trying again."
	TooManyTokens   = "Too many tokens, please wait before trying again."
)

// untilTokens is how long until one of the Regions still up has room for
// reserve tokens, rounded up to a second as Retry-After is. A reservation
// larger than a whole quota never fits; Bedrock still says to wait, and a
// minute is what a client would try next.
func (f *Fleet) untilTokens(at time.Time, acct scenarios.Account, model string, regions []string, reserve float64, faults []*injected) time.Duration {
	soonest := time.Minute
	for _, region := range regions {
		if len(faults) > 0 && down(faults, acct.Name, region, model) {
			continue
		}
		if wait := f.tokenQuota(acct, region, model).WaitAt(at, reserve); wait >= 0 {
			soonest = min(soonest, wait)
		}
	}
	return max(time.Second, (soonest + time.Second - 1).Truncate(time.Second))
}

// untilRoom is how long until one of the Regions still up has a whole
// unit of quota again, rounded up to a second as Retry-After is.
func (f *Fleet) untilRoom(at time.Time, acct scenarios.Account, model string, regions []string, faults []*injected) time.Duration {
	soonest := time.Duration(math.MaxInt64)
	for _, region := range regions {
		if len(faults) > 0 && down(faults, acct.Name, region, model) {
			continue
		}
		l := f.quota(acct, region, model).LevelAt(at)
		if l.RPM <= 0 || l.RPM.IsUnlimited() {
			continue
		}
		wait := time.Duration((1 - l.Available) * float64(time.Minute) / float64(l.RPM))
		soonest = min(soonest, wait)
	}
	if soonest == time.Duration(math.MaxInt64) {
		return 0
	}
	return max(time.Second, (soonest + time.Second - 1).Truncate(time.Second)) // whole seconds, rounded up
}

func (f *Fleet) quota(acct scenarios.Account, region, model string) *bucket.Bucket {
	k := quotaKey{acct.Name, region, model}
	q, ok := f.quotas[k]
	if !ok {
		// Bedrock quotas refill continuously, so a token bucket models them.
		q = bucket.New(scenarios.TokenBucket, f.quotaRPM(acct, region), f.epoch)
		f.quotas[k] = q
	}
	return q
}

// Default latency for models the scenario file does not describe.
var defaultModel = scenarios.Model{LatencyP50: 2 * time.Second, LatencyP95: 5 * time.Second}

// drawLatency draws from a log-normal distribution with the model's median
// and 95th percentile, clamped so a single draw cannot stall a demo.
func (f *Fleet) drawLatency(m scenarios.Model) time.Duration {
	median := float64(m.LatencyP50)
	sigma := math.Log(float64(m.LatencyP95)/median) / 1.6449 // z of the 95th percentile
	d := median * math.Exp(sigma*f.rng.NormFloat64())
	d = math.Max(d, 0.3*median)
	d = math.Min(d, 1.3*float64(m.LatencyP95))
	return time.Duration(d).Round(time.Millisecond)
}

// errorLatency is how long an error takes to come back: Bedrock refuses fast.
func (f *Fleet) errorLatency() time.Duration {
	return time.Duration(80+f.rng.IntN(170)) * time.Millisecond
}

// logDelay is how long a record takes to become visible to a query.
func (f *Fleet) logDelay() time.Duration {
	d := f.scenario.Logs.Delay
	return time.Duration(float64(d) * (0.5 + f.rng.Float64()))
}

func (f *Fleet) requestID() requestID { return requestID{f.rng.Uint64(), f.rng.Uint64()} }

// requestID is a request id as the random bits it is made of, so that the
// logs can hold it without a string.
type requestID struct{ a, b uint64 }

// String is the id as Bedrock writes one: a version-4 UUID.
func (id requestID) String() string {
	a, b := id.a, id.b
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}
