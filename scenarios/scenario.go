// Package scenarios reads and checks scenario files: the TOML that describes
// an experiment's accounts, deployments, routing, tenants and load.
//
// A scenario file is parsed strictly. Unknown keys, wrong types and broken
// references are errors that name file:line:col and the key, so a typo never
// silently changes an experiment.
package scenarios

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// RPM is a per-minute limit: of requests (rpm), or of tokens (tpm, with the
// same rules). Unlimited is +Inf, so that comparisons and arithmetic need no
// special case.
type RPM float64

// Unlimited is the RPM of a bucket that never runs dry.
var Unlimited = RPM(math.Inf(1))

// OrUnlimited is r, or Unlimited for the zero value: an optional limit
// (tpm, quota_tpm) that was never set.
func (r RPM) OrUnlimited() RPM {
	if r <= 0 {
		return Unlimited
	}
	return r
}

// IsUnlimited reports whether r never limits.
func (r RPM) IsUnlimited() bool { return math.IsInf(float64(r), 1) }

func (r RPM) String() string {
	if r.IsUnlimited() {
		return "unlimited"
	}
	return strconv.FormatFloat(float64(r), 'f', -1, 64)
}

// MarshalJSON writes "unlimited" or the number, since JSON has no infinity.
func (r RPM) MarshalJSON() ([]byte, error) {
	if r.IsUnlimited() {
		return []byte(`"unlimited"`), nil
	}
	return strconv.AppendFloat(nil, float64(r), 'f', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes: a number, or "unlimited".
func (r *RPM) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null":
		return nil
	case `"unlimited"`:
		*r = Unlimited
		return nil
	}
	var n float64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("an rpm is a number or \"unlimited\", got %s", b)
	}
	*r = RPM(n)
	return nil
}

// Limiter names how a bucket counts requests. Engineers ask which one they
// are looking at, so it is always explicit in output.
type Limiter string

const (
	// TokenBucket holds up to rpm tokens and refills rpm/60 per second.
	TokenBucket Limiter = "token-bucket"
	// FixedWindow counts requests per minute-long window and resets at the
	// window's end, as LiteLLM's per-minute counters do. Windows start at the
	// run's start so that the same seed gives the same outcome.
	FixedWindow Limiter = "fixed-window"
)

// Strategy picks a deployment within a group.
type Strategy string

const (
	// Shuffle picks at random, weighted by weight (else rpm), among the
	// deployments that still have budget, like LiteLLM's simple-shuffle.
	Shuffle Strategy = "shuffle"
	// RoundRobin takes the group's deployments in turn, skipping empty ones.
	RoundRobin Strategy = "round-robin"
)

// Operations a scenario's calls can use.
const (
	OpConverse    = "Converse"
	OpInvokeModel = "InvokeModel"
)

// File is a parsed scenario file.
type File struct {
	Path string
	// Source is the text the file was parsed from, so that a run's record
	// can carry its scenario whole and be played back without the file.
	Source    string
	Default   string // scenario run when none is named
	Models    []Model
	Scenarios []*Scenario
}

// Scenario is one experiment.
type Scenario struct {
	Name        string
	Title       string // one line a presenter can read out
	Description string
	Operation   string // OpConverse or OpInvokeModel
	Prompt      string
	MaxTokens   int
	// InputTokens is each request's input, when given; otherwise the
	// prompt's estimate (PromptTokens).
	InputTokens TokenCount
	Limiter     Limiter  // default semantic for buckets that do not choose
	Counting    Counting // default TPM counting for buckets that do not choose
	// Stream: requests use the streaming operations (ConverseStream,
	// InvokeModelWithResponseStream), unless a tenant says otherwise.
	Stream bool

	Accounts    []Account
	Deployments []Deployment
	Groups      []Group
	Tenants     []Tenant
	Models      []Model // latency of each model; falls back to the file's list
	Logs        Logs
	// FallbackOn lists the provider error classes that move a request to its
	// next group. An exhausted gateway bucket always does.
	FallbackOn []ErrorClass
	// Faults are failures the simulated fleet shows during the run.
	Faults []Fault
	// Gateway is how the gateway treats deployments that keep failing.
	Gateway Gateway
	// Shared is where a gateway's replicas share their limits.
	Shared Shared
	// Replicas is how many gateway replicas spillway run spreads the
	// traffic over, and whether they share their limits.
	Replicas Replicas
}

// Replicas runs a scenario as a fleet of gateway replicas behind a load
// balancer that hands arrivals to them in turn ([scenario.replicas];
// spillway run --replicas and --replica-limits override it). Each replica
// has its own cooldowns and circuit breakers; Limits says whether their
// buckets are one set for the fleet or one set each.
type Replicas struct {
	Count  int    // 1: a single gateway
	Limits string // ReplicaLimitsShared or ReplicaLimitsOwn
}

// How a fleet of replicas counts its limits.
const (
	ReplicaLimitsShared = "shared" // one set of buckets for every replica, as with Redis
	ReplicaLimitsOwn    = "own"    // each replica its own buckets: a fleet of N lets N times each limit through
)

// MaxReplicas is the most replicas a run may simulate.
const MaxReplicas = 64

// Shared says where the replicas of a gateway keep the limits they share
// ([scenario.shared]; spillway gateway --redis overrides Redis).
type Shared struct {
	Redis     string // a Redis URL; empty keeps each replica's limits its own
	OnFailure string // SharedFailOpen or SharedFailClosed
}

// What a gateway does while the Redis its limits are shared in is
// unreachable.
const (
	SharedFailOpen   = "open"   // serve with each replica's own limits, and say so
	SharedFailClosed = "closed" // refuse with 503
)

// Gateway configures how the gateway treats failures, with LiteLLM's
// semantics where it has them.
type Gateway struct {
	// Cooldown: after AllowedFails provider failures (throttles and errors,
	// not empty gateway buckets) within one minute, a deployment is skipped
	// for Cooldown. Zero AllowedFails turns cooldown off.
	AllowedFails int
	Cooldown     time.Duration
	// Circuit breaker, the alternative to cooldown: BreakerFailures
	// failures in a row open a deployment's circuit, and it is skipped for
	// BreakerOpenFor; then it is half-open and one request probes it. A
	// success closes the circuit, a failure opens it again.
	BreakerFailures int
	BreakerOpenFor  time.Duration
	// Retries: a request whose attempt fails with a throttle, a server
	// error or a timeout tries its group again up to Retries times before
	// it falls back, waiting Backoff × 2^n (at most MaxBackoff), less up to
	// Jitter of that at random, and at least the provider's Retry-After.
	Retries    int
	Backoff    time.Duration
	MaxBackoff time.Duration
	Jitter     float64
	// Timeout fails a request that has no answer this long after it
	// arrived, retries included; 0 means no gateway timeout.
	Timeout time.Duration
	// Streaming: TTFTTimeout fails an attempt with no first token this
	// long after it was sent (it may retry or fall back: nothing reached
	// the client yet); StallTimeout fails a stream with no token for this
	// long after its first (it may not: the client has seen tokens). 0
	// means none. RestartMidStream sends a request whose stream broke after
	// its first token to its next group, as a fresh answer.
	TTFTTimeout      time.Duration
	StallTimeout     time.Duration
	RestartMidStream bool
}

// Account is an AWS account: a named profile on the live path, a slice of the
// simulated fleet otherwise.
type Account struct {
	Name      string
	Profile   string // AWS shared-config profile used on the live path
	Region    string // source Region of calls
	AccountID string // 12 digits; simulated accounts get a stable made-up one
	// Regions restricts where cross-Region profiles may land. Empty means the
	// profile's whole geography.
	Regions []string
	// QuotaRPM is the simulated Bedrock service quota per Region and model.
	QuotaRPM       RPM
	RegionQuotaRPM map[string]RPM // per-Region overrides of QuotaRPM
	// QuotaTPM is the simulated Bedrock token quota per Region and model,
	// input and output together; unlimited unless set.
	QuotaTPM       RPM
	RegionQuotaTPM map[string]RPM // per-Region overrides of QuotaTPM
	// ApplicationProfiles are the account's application inference
	// profiles, by id: each names the model or cross-Region profile it
	// copies, and is called as
	// arn:aws:bedrock:{region}:{account_id}:application-inference-profile/{id}.
	ApplicationProfiles map[string]string
	// DeniedModels are models this account has not enabled: the simulated
	// fleet answers AccessDeniedException, as Bedrock does before someone
	// requests model access in the console.
	DeniedModels []string
}

// Quota is the simulated service quota of this account in region.
func (a Account) Quota(region string) RPM {
	if q, ok := a.RegionQuotaRPM[region]; ok {
		return q
	}
	return a.QuotaRPM
}

// TokenQuota is the simulated token quota of this account in region. An
// account that sets none has no token quota.
func (a Account) TokenQuota(region string) RPM {
	if q, ok := a.RegionQuotaTPM[region]; ok {
		return q.OrUnlimited()
	}
	return a.QuotaTPM.OrUnlimited()
}

// Deployment is a model in an account behind a gateway bucket.
type Deployment struct {
	Name    string
	Model   string // cross-Region profile id, foundation model id or ARN
	Account string
	RPM     RPM
	TPM     RPM     // unlimited unless set
	Weight  float64 // shuffle weight; 0 means "use rpm"
	Limiter Limiter
	// Counting is how the TPM limit counts tokens.
	Counting Counting
}

// Group is a set of interchangeable deployments (LiteLLM's model group) with
// the groups to fall back to, in order.
type Group struct {
	Name        string
	Strategy    Strategy
	Deployments []string
	Fallbacks   []string
}

// Tenant is a consumer with its own bucket and its own load.
type Tenant struct {
	Name     string
	RPM      RPM
	TPM      RPM // unlimited unless set
	Limiter  Limiter
	Counting Counting
	Group    string // where its requests enter
	// MaxTokens and InputTokens are each request's, when the tenant sets
	// them; otherwise the scenario's.
	MaxTokens   int
	InputTokens TokenCount
	// Stream and RestartMidStream are the tenant's, defaulting to the
	// scenario's and its gateway's.
	Stream           bool
	RestartMidStream bool

	Arrival Arrival
	// Burst: Requests requests, Stagger apart (0 sends them all at once).
	Requests int
	Stagger  time.Duration
	// Constant and Poisson: Rate requests per minute (the mean, for
	// Poisson) from the start of the run for Duration.
	Rate     float64
	Duration time.Duration
	// APIKeys are the keys a gateway client of this tenant sends
	// (Authorization: Bearer …); only for arrival = "gateway".
	APIKeys []string
}

// Arrival is how a tenant's requests arrive.
type Arrival string

const (
	// Burst sends a fixed number of requests, a fixed gap apart: the seed
	// demos' load.
	Burst Arrival = "burst"
	// Constant sends at a steady rate: exactly one request every
	// 60s/rate.
	Constant Arrival = "constant"
	// Poisson sends with exponentially distributed gaps of mean 60s/rate,
	// as independent users do.
	Poisson Arrival = "poisson"
	// Gateway sends nothing of its own: the tenant's requests come from
	// clients of `spillway gateway`, who name it by API key or header.
	FromClients Arrival = "gateway"
)

// Expected is how many requests the tenant is expected to send: exact for
// burst and constant arrivals, the mean for Poisson.
func (t Tenant) Expected() int {
	switch t.Arrival {
	case Constant:
		return ConstantArrivals(t.Rate, t.Duration)
	case Poisson:
		return int(math.Round(t.Rate * t.Duration.Minutes()))
	}
	return t.Requests
}

// ConstantArrivals is how many requests a constant rate sends in d: one at
// the start, then one every 60s/rate while the time is before d.
func ConstantArrivals(rate float64, d time.Duration) int {
	if rate <= 0 || d <= 0 {
		return 0
	}
	gap := time.Duration(float64(time.Minute) / rate)
	return int((d-1)/gap) + 1
}

// Model holds the simulated latency of one model: a latency drawn from its
// median and 95th percentile, or, when those are not given, time to first
// token plus output tokens at its speed. Figures it leaves out come from
// the model catalog.
type Model struct {
	ID         string
	LatencyP50 time.Duration
	LatencyP95 time.Duration
	ModelSpeed
}

// Logs configures the model invocation log and how the Region histogram is
// polled from it.
type Logs struct {
	Group     string        // log group name
	Delay     time.Duration // typical ingestion delay of a record
	PollEvery time.Duration
	Timeout   time.Duration // how long to wait for stragglers after the last request
}

// Lookup finds a scenario by name. Its error lists the known names.
func (f *File) Lookup(name string) (*Scenario, error) {
	for _, s := range f.Scenarios {
		if s.Name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown scenario %q; known scenarios: %s (see 'spillway list')",
		name, strings.Join(f.Names(), ", "))
}

// Names lists the scenarios in file order.
func (f *File) Names() []string {
	names := make([]string, len(f.Scenarios))
	for i, s := range f.Scenarios {
		names[i] = s.Name
	}
	return names
}

// Account returns the named account.
func (s *Scenario) Account(name string) (Account, bool) {
	for _, a := range s.Accounts {
		if a.Name == name {
			return a, true
		}
	}
	return Account{}, false
}

// GroupNames are the scenario's groups, in the file's order.
func (s *Scenario) GroupNames() []string {
	names := make([]string, len(s.Groups))
	for i, g := range s.Groups {
		names[i] = g.Name
	}
	return names
}

// ServesClients reports whether a tenant takes its traffic from gateway
// clients (arrival = "gateway").
func (s *Scenario) ServesClients() bool {
	for _, t := range s.Tenants {
		if t.Arrival == FromClients {
			return true
		}
	}
	return false
}

// TenantOfKey is the gateway tenant whose api_keys hold key.
func (s *Scenario) TenantOfKey(key string) (string, bool) {
	for _, t := range s.Tenants {
		for _, k := range t.APIKeys {
			if k == key {
				return t.Name, true
			}
		}
	}
	return "", false
}

// Chain lists the groups a request entering at group tries, in order: the
// group itself, then its fallbacks, each followed by its own fallbacks.
func (s *Scenario) Chain(group string) []string {
	var chain []string
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		chain = append(chain, name)
		if g, ok := s.group(name); ok {
			for _, f := range g.Fallbacks {
				walk(f)
			}
		}
	}
	walk(group)
	return chain
}

func (s *Scenario) group(name string) (Group, bool) {
	for _, g := range s.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// TotalRequests is the number of requests the scenario sends.
func (s *Scenario) TotalRequests() int {
	n := 0
	for _, t := range s.Tenants {
		n += t.Expected()
	}
	return n
}

// LatencyOf returns the latency model for a model id. A cross-Region profile
// shares its foundation model's entry, so "us.anthropic.x" finds "anthropic.x".
func (s *Scenario) LatencyOf(modelID string, fileModels []Model) (Model, bool) {
	base := BaseModelID(modelID)
	for _, list := range [][]Model{s.Models, fileModels} {
		for _, m := range list {
			if m.ID == modelID || BaseModelID(m.ID) == base {
				return m, true
			}
		}
	}
	return Model{}, false
}

// Geography returns the geography prefix of a cross-Region inference profile
// id ("us", "eu", "apac", "global", …) or "" for a foundation model. ARNs are
// reduced to their resource id first. The list of prefixes is open: any
// leading segment in front of a provider.model id counts.
func Geography(modelID string) string {
	id := resourceID(modelID)
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[:i]
	}
	if strings.Count(id, ".") < 2 {
		return ""
	}
	return id[:strings.IndexByte(id, '.')]
}

// BaseModelID strips an ARN and a geography prefix, leaving the foundation
// model id.
func BaseModelID(modelID string) string {
	id := resourceID(modelID)
	if g := Geography(id); g != "" {
		return strings.TrimPrefix(id, g+".")
	}
	return id
}

func resourceID(modelID string) string {
	if strings.HasPrefix(modelID, "arn:") {
		if i := strings.LastIndexByte(modelID, '/'); i >= 0 {
			return modelID[i+1:]
		}
	}
	return modelID
}

// MaskAccountID shows only the last four digits, as the seed's demos do.
func MaskAccountID(id string) string {
	if len(id) <= 4 {
		return id
	}
	return "…" + id[len(id)-4:]
}

// ErrorClass groups provider errors by what a gateway can do about them. A
// scenario's fallback_on lists the classes that send a request on to its next
// group; any other error fails the request where it happened.
type ErrorClass string

// The error classes, with the Bedrock errors each one covers.
const (
	// ClassThrottled: ThrottlingException, ServiceUnavailableException and
	// ModelNotReadyException. Another model or account may have capacity.
	ClassThrottled ErrorClass = "throttled"
	// ClassServerError: InternalServerException, ModelTimeoutException and
	// ModelErrorException.
	ClassServerError ErrorClass = "server-error"
	// ClassTimeout: the call's own deadline passed before Bedrock answered.
	ClassTimeout ErrorClass = "timeout"
	// ClassUnreachable: the endpoint could not be reached at all.
	ClassUnreachable ErrorClass = "unreachable"
	// ClassAccessDenied: AccessDeniedException (model access not enabled,
	// missing IAM permission) and rejected or expired credentials.
	ClassAccessDenied ErrorClass = "access-denied"
	// ClassValidation: ValidationException, such as an unknown model id.
	ClassValidation ErrorClass = "validation"
	// ClassNotFound: ResourceNotFoundException.
	ClassNotFound ErrorClass = "not-found"
	// ClassQuota: ServiceQuotaExceededException.
	ClassQuota ErrorClass = "quota-exceeded"
	// ClassOther: anything else.
	ClassOther ErrorClass = "other"
)

// ErrorClasses lists every class, in the order help text shows them.
var ErrorClasses = []ErrorClass{ClassThrottled, ClassServerError, ClassTimeout, ClassUnreachable,
	ClassAccessDenied, ClassValidation, ClassNotFound, ClassQuota, ClassOther}

// DefaultFallbackOn is the seed's gateway: LiteLLM moves to the fallback
// group when a deployment is rate-limited, whether by its own RPM limit or
// by the provider.
var DefaultFallbackOn = []ErrorClass{ClassThrottled}

// FallsBackOn reports whether an error of class c sends a request on to its
// next group.
func (s *Scenario) FallsBackOn(c ErrorClass) bool {
	for _, x := range s.FallbackOn {
		if x == c {
			return true
		}
	}
	return false
}
