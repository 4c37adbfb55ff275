package scenarios

import (
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// MaxRequests caps one tenant's load, and a scenario's load in all; beyond
// it a run stops being an experiment and becomes a way to exhaust memory.
const MaxRequests = 1_000_000

// MaxAPIKeyLength bounds a gateway tenant's API key.
const MaxAPIKeyLength = 256

// Defaults applied where a scenario says nothing.
const (
	DefaultPrompt    = "In one sentence, why do LLM applications need resilience patterns?"
	DefaultMaxTokens = 100
	DefaultRegion    = "us-east-1"
	DefaultProfile   = "default"
	DefaultQuotaRPM  = 200
	DefaultLogGroup  = "BedrockModelInvocation"
	defaultGroupName = "default"
)

// Default log behaviour: Bedrock's invocation logs reach CloudWatch tens of
// seconds after the call.
const (
	DefaultLogDelay   = 15 * time.Second
	DefaultPollEvery  = 5 * time.Second
	DefaultLogTimeout = 3 * time.Minute
)

// DefaultCooldown is how long a failing deployment is skipped when the
// scenario sets allowed_fails but no cooldown: the seed gateway's 15 s.
const DefaultCooldown = 15 * time.Second

// DefaultBreakerOpenFor is how long an open circuit skips its deployment
// before a probe.
const DefaultBreakerOpenFor = 30 * time.Second

// Default retry backoff: 1 s doubling to at most 30 s, up to half of each
// wait taken off at random so that retries do not arrive in step.
const (
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
	DefaultJitter     = 0.5
)

// Error is one problem in a scenario file, with where it is and what to do.
type Error struct {
	File string
	Pos  Pos // zero when the place is unknown
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" { // a fault checked on its own has no file
		b.WriteString(e.File)
		if e.Pos.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Pos.Line, e.Pos.Col)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Parse decodes and checks a scenario file. name labels errors.
func Parse(name string, data []byte) (*File, error) {
	if err := checkSize(name, int64(len(data))); err != nil {
		return nil, err
	}
	src := string(data)
	c := &checker{file: name}
	if c.nesting(src); c.found() > 0 {
		return nil, c.result()
	}
	var raw rawFile
	md, err := toml.Decode(src, &raw)
	if err != nil {
		return nil, Errors{decodeError(name, src, err)}
	}
	c.loc = locate(src)
	if c.unknownKeys(md.Undecoded()); c.found() > 0 {
		return nil, c.result()
	}
	f := c.build(&raw)
	if c.found() > 0 {
		return nil, c.result()
	}
	f.Path = name
	f.Source = src
	return f, nil
}

// decodeError turns the decoder's error into ours. The place comes from
// the byte offset the decoder gives, because its line number already
// counts a newline it stopped at: "[\n" was an error at 2:2.
func decodeError(file, src string, err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		pos := Pos{pe.Position.Line, pe.Position.Col}
		if at := pe.Position.Start; 0 <= at && at <= len(src) {
			pos = (&lineCounter{src: src}).pos(at)
		}
		return &Error{File: file, Pos: pos, Key: pe.LastKey, Msg: pe.Message + " (fix the TOML syntax at this place)"}
	}
	if m := typeMismatch.FindStringSubmatch(err.Error()); m != nil {
		// A value of the wrong type for a key the decoder fills itself
		// (text, such as limiter): placed at the key on its line.
		line, _ := strconv.Atoi(m[1])
		name := m[2][strings.LastIndex(m[2], ".")+1:]
		col := 1
		if lines := strings.Split(src, "\n"); line >= 1 && line <= len(lines) {
			col += max(0, strings.Index(lines[line-1], name))
		}
		return &Error{File: file, Pos: Pos{line, col}, Key: m[2],
			Msg: fmt.Sprintf("%s must be %s, not %s", name, tomlType(m[4]), tomlType(m[3]))}
	}
	return &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: ") + " (check the value's type)"}
}

// typeMismatch is the decoder's word for a value of the wrong type: its
// line, the key, the type written and the type wanted.
var typeMismatch = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): incompatible types: TOML value has type (\S+); destination has type (\S+)$`)

// tomlType names a Go type the decoder reports as what a person writes.
func tomlType(goType string) string {
	switch {
	case goType == "string":
		return "a string in quotes"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map"), strings.HasPrefix(goType, "struct"):
		return "a table"
	}
	return goType
}

// The raw* types mirror the TOML. Numbers and durations are decoded as any,
// so that a wrong type is reported by the checker, which knows exactly which
// table it came from.
type rawFile struct {
	Default  string        `toml:"default"`
	Model    []rawModel    `toml:"model"`
	Scenario []rawScenario `toml:"scenario"`
}

type rawScenario struct {
	Name        string          `toml:"name"`
	Title       string          `toml:"title"`
	Description string          `toml:"description"`
	Operation   string          `toml:"operation"`
	Prompt      string          `toml:"prompt"`
	MaxTokens   any             `toml:"max_tokens"`
	InputTokens any             `toml:"input_tokens"`
	Stream      *bool           `toml:"stream"`
	Limiter     string          `toml:"limiter"`
	TPMCounting string          `toml:"tpm_counting"`
	Account     []rawAccount    `toml:"account"`
	Deployment  []rawDeployment `toml:"deployment"`
	Group       []rawGroup      `toml:"group"`
	Tenant      []rawTenant     `toml:"tenant"`
	Model       []rawModel      `toml:"model"`
	Logs        rawLogs         `toml:"logs"`
	Gateway     rawGateway      `toml:"gateway"`
	Shared      rawShared       `toml:"shared"`
	Replicas    rawReplicas     `toml:"replicas"`
	FallbackOn  []string        `toml:"fallback_on"`
	Fault       []FaultInput    `toml:"fault"`
}

// FaultInput is a fault as someone wrote it, before it is checked: the keys
// of a [[scenario.fault]] table, or of a body sent to the emulator's fault
// API, which uses the same names. Numbers and durations are kept as
// decoded (int64 or float64, string, nil when absent) so that a wrong type
// is reported by the checker, naming the key.
type FaultInput struct {
	Kind     string `toml:"kind" json:"kind"`
	Account  string `toml:"account" json:"account"`
	Region   string `toml:"region" json:"region"`
	Model    string `toml:"model" json:"model"`
	Rate     any    `toml:"rate" json:"rate"`
	QuotaRPM any    `toml:"quota_rpm" json:"quota_rpm"`
	Factor   any    `toml:"factor" json:"factor"`
	Error    string `toml:"error" json:"error"`
	Tokens   any    `toml:"tokens" json:"tokens"`
	Stall    any    `toml:"stall" json:"stall"`
	At       any    `toml:"at" json:"at"`
	Duration any    `toml:"duration" json:"duration"`
}

type rawAccount struct {
	Name           string         `toml:"name"`
	Profile        string         `toml:"profile"`
	Region         string         `toml:"region"`
	AccountID      string         `toml:"account_id"`
	Regions        []string       `toml:"regions"`
	QuotaRPM       any            `toml:"quota_rpm"`
	RegionQuotaRPM map[string]any `toml:"region_quota_rpm"`
	QuotaTPM       any            `toml:"quota_tpm"`
	RegionQuotaTPM map[string]any `toml:"region_quota_tpm"`
	AppProfiles    map[string]any `toml:"application_profiles"`
	DeniedModels   []string       `toml:"denied_models"`
}

type rawDeployment struct {
	Name        string `toml:"name"`
	Model       string `toml:"model"`
	Account     string `toml:"account"`
	RPM         any    `toml:"rpm"`
	TPM         any    `toml:"tpm"`
	Weight      any    `toml:"weight"`
	Limiter     string `toml:"limiter"`
	TPMCounting string `toml:"tpm_counting"`
}

type rawGroup struct {
	Name        string   `toml:"name"`
	Strategy    string   `toml:"strategy"`
	Deployments []string `toml:"deployments"`
	Fallbacks   []string `toml:"fallbacks"`
}

type rawTenant struct {
	Name        string   `toml:"name"`
	RPM         any      `toml:"rpm"`
	TPM         any      `toml:"tpm"`
	TPMCounting string   `toml:"tpm_counting"`
	MaxTokens   any      `toml:"max_tokens"`
	InputTokens any      `toml:"input_tokens"`
	Stream      *bool    `toml:"stream"`
	Restart     *bool    `toml:"restart_mid_stream"`
	Limiter     string   `toml:"limiter"`
	Requests    any      `toml:"requests"`
	Stagger     any      `toml:"stagger"`
	Group       string   `toml:"group"`
	Arrival     string   `toml:"arrival"`
	Rate        any      `toml:"rate"`
	Duration    any      `toml:"duration"`
	APIKeys     []string `toml:"api_keys"`
}

type rawModel struct {
	ID              string `toml:"id"`
	LatencyP50      any    `toml:"latency_p50"`
	LatencyP95      any    `toml:"latency_p95"`
	TTFT            any    `toml:"ttft"`
	TokensPerSecond any    `toml:"tokens_per_second"`
	OutputTokens    any    `toml:"output_tokens"`
	Burndown        any    `toml:"burndown"`
	MaxOutputTokens any    `toml:"max_output_tokens"`
}

type rawShared struct {
	Redis   string `toml:"redis"`
	Failure string `toml:"redis_failure"`
}

type rawReplicas struct {
	Count  any    `toml:"count"`
	Limits string `toml:"limits"`
}

type rawGateway struct {
	AllowedFails any   `toml:"allowed_fails"`
	Cooldown     any   `toml:"cooldown"`
	Breaker      any   `toml:"breaker_failures"`
	BreakerOpen  any   `toml:"breaker_open_for"`
	Retries      any   `toml:"retries"`
	Backoff      any   `toml:"backoff"`
	MaxBackoff   any   `toml:"max_backoff"`
	Jitter       any   `toml:"jitter"`
	Timeout      any   `toml:"timeout"`
	TTFTTimeout  any   `toml:"ttft_timeout"`
	StallTimeout any   `toml:"stall_timeout"`
	Restart      *bool `toml:"restart_mid_stream"`
}

type rawLogs struct {
	Group     string `toml:"group"`
	Delay     any    `toml:"delay"`
	PollEvery any    `toml:"poll_every"`
	Timeout   any    `toml:"timeout"`
}

// checker turns raw tables into typed scenarios, collecting errors: the
// first MaxErrors of them, and a count of the rest.
type checker struct {
	file  string
	loc   *locator
	errs  Errors
	extra int // errors found after the first MaxErrors
}

// report records an error, building it only while fewer than MaxErrors are
// recorded, so that a file with a million mistakes costs no more than
// counting them.
func (c *checker) report(build func() *Error) {
	if len(c.errs) >= MaxErrors {
		c.extra++
		return
	}
	c.errs = append(c.errs, build())
}

// found is how many errors have been found so far.
func (c *checker) found() int { return len(c.errs) + c.extra }

// result is the errors recorded, and a line counting those that were not.
func (c *checker) result() Errors {
	if c.extra == 0 {
		return c.errs
	}
	return append(c.errs, &Error{File: c.file, Msg: fmt.Sprintf("… and %d more errors; fix these first", c.extra)})
}

// fail records an error at path (an indexed path such as scenario[1].tenant[0].rpm).
func (c *checker) fail(path, format string, args ...any) {
	c.report(func() *Error {
		pos, _ := c.loc.find(path)
		return &Error{File: c.file, Pos: pos, Key: withoutIndexes(path), Msg: fmt.Sprintf(format, args...)}
	})
}

// unknownKeys reports undecoded keys. The decoder lists keys without array
// indexes, once per occurrence and in file order, so each report takes the
// next place written with that unindexed path. Keys are compared unquoted,
// as the locator stores them. Places are indexed once, so that a file of
// many unknown keys costs time in proportion to its size.
func (c *checker) unknownKeys(keys []toml.Key) {
	keys = slices.DeleteFunc(slices.Clone(keys), tokenCountKey)
	if len(keys) == 0 {
		return
	}
	places := map[string][]string{} // unindexed path → indexed paths not yet reported, in file order
	for _, path := range c.loc.order {
		k := withoutIndexes(path)
		places[k] = append(places[k], path)
	}
	for _, k := range keys {
		want := strings.Join(k, ".")
		if paths := places[want]; len(paths) > 0 {
			places[want] = paths[1:]
			c.fail(paths[0], "unknown key %q; check its spelling against the scenario file reference in the README", k[len(k)-1])
			continue
		}
		c.report(func() *Error {
			return &Error{File: c.file, Key: want, Msg: "unknown key (see the README's scenario reference)"}
		})
	}
}

// tokenCountKey reports whether k is inside a token count's table, such as
// input_tokens = { median = 800, p95 = 2400 }: the decoder keeps those as
// a map for tokenCount to check, and lists their keys as undecoded.
func tokenCountKey(k toml.Key) bool {
	if len(k) < 2 {
		return false
	}
	switch k[len(k)-2] {
	case "input_tokens", "output_tokens":
		return true
	}
	return false
}

func (c *checker) build(raw *rawFile) *File {
	f := &File{Default: raw.Default}
	for i, m := range raw.Model {
		f.Models = append(f.Models, c.model(fmt.Sprintf("model[%d]", i), m))
	}
	names := map[string]bool{}
	for i := range raw.Scenario {
		path := fmt.Sprintf("scenario[%d]", i)
		s := c.scenario(path, &raw.Scenario[i])
		if s.Name != "" && names[s.Name] {
			c.fail(path+".name", "scenario %q is defined twice; give each scenario a unique name", s.Name)
		}
		names[s.Name] = true
		f.Scenarios = append(f.Scenarios, s)
	}
	if len(f.Scenarios) == 0 {
		c.report(func() *Error { return &Error{File: c.file, Msg: "no scenarios; add at least one [[scenario]] table"} })
		return f
	}
	if f.Default == "" {
		f.Default = f.Scenarios[0].Name
	} else if !names[f.Default] {
		c.fail("default", "default scenario %q does not exist; known: %s", f.Default, known(f.Names()))
	}
	return f
}

func (c *checker) scenario(path string, r *rawScenario) *Scenario {
	errsBefore := c.found()
	s := &Scenario{
		Name:        strings.TrimSpace(r.Name),
		Title:       strings.TrimSpace(r.Title),
		Description: strings.TrimSpace(r.Description),
		Operation:   r.Operation,
		Prompt:      r.Prompt,
		MaxTokens:   c.wholeNumber(path+".max_tokens", r.MaxTokens, DefaultMaxTokens, 1, MaxTokenCount),
		InputTokens: c.tokenCount(path+".input_tokens", r.InputTokens),
		Limiter:     c.limiter(path+".limiter", r.Limiter, TokenBucket),
		Counting:    c.counting(path+".tpm_counting", r.TPMCounting, Reserve),
		Stream:      r.Stream != nil && *r.Stream,
	}
	if s.Name == "" {
		c.fail(path, "scenario has no name; add name = \"…\"")
	}
	if s.Title == "" {
		c.fail(path, "scenario %q has no title; add a one-line title = \"…\" a presenter can read out", s.Name)
	}
	switch s.Operation {
	case "":
		s.Operation = OpConverse
	case OpConverse, OpInvokeModel:
	default:
		c.fail(path+".operation", "operation %q is not supported; use %q or %q", s.Operation, OpConverse, OpInvokeModel)
	}
	if s.Prompt == "" {
		s.Prompt = DefaultPrompt
	}

	accounts := map[string]bool{}
	for i, ra := range r.Account {
		p := fmt.Sprintf("%s.account[%d]", path, i)
		a := c.account(p, ra)
		if accounts[a.Name] {
			c.fail(p+".name", "account %q is defined twice; account names must be unique", a.Name)
		}
		accounts[a.Name] = true
		s.Accounts = append(s.Accounts, a)
	}
	if len(s.Accounts) == 0 {
		c.fail(path, "scenario %q has no accounts; add an [[scenario.account]] table", s.Name)
	}
	knownAccounts := known(accountNames(s.Accounts))

	deployments := map[string]bool{}
	for i, rd := range r.Deployment {
		p := fmt.Sprintf("%s.deployment[%d]", path, i)
		d := c.deployment(p, rd, s.Limiter, s.Counting)
		if deployments[d.Name] {
			c.fail(p+".name", "deployment %q is defined twice; deployment names must be unique", d.Name)
		}
		deployments[d.Name] = true
		if d.Account == "" && len(s.Accounts) == 1 {
			d.Account = s.Accounts[0].Name
		}
		if d.Account == "" && len(s.Accounts) > 0 {
			c.fail(p, "deployment %q names no account; add account = one of: %s", d.Name, knownAccounts)
		} else if !accounts[d.Account] {
			c.fail(p+".account", "deployment %q uses account %q, which does not exist; known accounts: %s",
				d.Name, d.Account, knownAccounts)
		}
		s.Deployments = append(s.Deployments, d)
	}
	if len(s.Deployments) == 0 {
		c.fail(path, "scenario %q has no deployments; add a [[scenario.deployment]] table", s.Name)
	}

	c.groups(path, r, s, deployments)
	c.tenants(path, r, s)

	for i, m := range r.Model {
		s.Models = append(s.Models, c.model(fmt.Sprintf("%s.model[%d]", path, i), m))
	}
	s.Logs = Logs{
		Group:     r.Logs.Group,
		Delay:     c.duration(path+".logs.delay", r.Logs.Delay, DefaultLogDelay, 0, MaxWait),
		PollEvery: c.duration(path+".logs.poll_every", r.Logs.PollEvery, DefaultPollEvery, MinPollEvery, MaxWait),
		Timeout:   c.duration(path+".logs.timeout", r.Logs.Timeout, DefaultLogTimeout, 0, MaxWait),
	}
	if s.Logs.Group == "" {
		s.Logs.Group = DefaultLogGroup
	}
	s.FallbackOn = c.errorClasses(path+".fallback_on", r.FallbackOn)
	gw := path + ".gateway."
	s.Gateway = Gateway{
		AllowedFails:     c.wholeNumber(gw+"allowed_fails", r.Gateway.AllowedFails, 0, 0, 1000),
		Cooldown:         c.duration(gw+"cooldown", r.Gateway.Cooldown, DefaultCooldown, 0, MaxWait),
		Retries:          c.wholeNumber(gw+"retries", r.Gateway.Retries, 0, 0, MaxRetries),
		BreakerFailures:  c.wholeNumber(gw+"breaker_failures", r.Gateway.Breaker, 0, 0, 1000),
		BreakerOpenFor:   c.duration(gw+"breaker_open_for", r.Gateway.BreakerOpen, DefaultBreakerOpenFor, 0, MaxWait),
		Backoff:          c.duration(gw+"backoff", r.Gateway.Backoff, DefaultBackoff, 0, MaxWait),
		MaxBackoff:       c.duration(gw+"max_backoff", r.Gateway.MaxBackoff, DefaultMaxBackoff, 0, MaxWait),
		Timeout:          c.duration(gw+"timeout", r.Gateway.Timeout, 0, 0, MaxWait),
		TTFTTimeout:      c.duration(gw+"ttft_timeout", r.Gateway.TTFTTimeout, 0, 0, MaxWait),
		StallTimeout:     c.duration(gw+"stall_timeout", r.Gateway.StallTimeout, 0, 0, MaxWait),
		RestartMidStream: r.Gateway.Restart != nil && *r.Gateway.Restart,
		Jitter:           DefaultJitter,
	}
	for i := range s.Tenants {
		// Tenants were read before the gateway: their defaults come now.
		rt := r.Tenant[i]
		s.Tenants[i].Stream = s.Stream
		if rt.Stream != nil {
			s.Tenants[i].Stream = *rt.Stream
		}
		s.Tenants[i].RestartMidStream = s.Gateway.RestartMidStream
		if rt.Restart != nil {
			s.Tenants[i].RestartMidStream = *rt.Restart
		}
	}
	if r.Gateway.Jitter != nil {
		n, ok := numberIn(r.Gateway.Jitter, 0, 1)
		if !ok {
			c.fail(gw+"jitter", "jitter is the fraction of each backoff taken off at random: a number from 0 to 1, such as 0.5")
		}
		s.Gateway.Jitter = n
	}
	if s.Gateway.AllowedFails > 0 && s.Gateway.BreakerFailures > 0 {
		c.fail(gw+"breaker_failures", "choose cooldown (allowed_fails) or a circuit breaker (breaker_failures), not both")
	}
	if s.Gateway.BreakerFailures > 0 && s.Gateway.BreakerOpenFor <= 0 {
		c.fail(gw+"breaker_open_for", "breaker_open_for must be longer than 0s")
	}
	if s.Gateway.MaxBackoff < s.Gateway.Backoff {
		c.fail(gw+"max_backoff", "max_backoff (%s) is below backoff (%s)", s.Gateway.MaxBackoff, s.Gateway.Backoff)
	}
	if s.Gateway.AllowedFails > 0 && s.Gateway.Cooldown <= 0 {
		c.fail(path+".gateway.cooldown", "cooldown must be longer than 0s when allowed_fails is set")
	}
	s.Shared = Shared{Redis: r.Shared.Redis, OnFailure: r.Shared.Failure}
	if s.Shared.OnFailure == "" {
		s.Shared.OnFailure = SharedFailOpen
	}
	if s.Shared.Redis != "" && !strings.HasPrefix(s.Shared.Redis, "redis://") && !strings.HasPrefix(s.Shared.Redis, "rediss://") &&
		!strings.HasPrefix(s.Shared.Redis, "unix://") {
		c.fail(path+".shared.redis", "%q is not a Redis URL; give one such as redis://127.0.0.1:6379/0", s.Shared.Redis)
	}
	if f := s.Shared.OnFailure; f != SharedFailOpen && f != SharedFailClosed {
		c.fail(path+".shared.redis_failure", "redis_failure is %q or %q: serve with each replica's own limits while Redis is unreachable, or refuse with 503; got %q",
			SharedFailOpen, SharedFailClosed, f)
	}
	s.Replicas = Replicas{Count: c.wholeNumber(path+".replicas.count", r.Replicas.Count, 1, 1, MaxReplicas), Limits: r.Replicas.Limits}
	if s.Replicas.Limits == "" {
		s.Replicas.Limits = ReplicaLimitsShared
	}
	if l := s.Replicas.Limits; l != ReplicaLimitsShared && l != ReplicaLimitsOwn {
		c.fail(path+".replicas.limits", "limits is %q (every replica counts against the same limits, as with Redis) or %q (each counts its own, as replicas without shared state do); got %q",
			ReplicaLimitsShared, ReplicaLimitsOwn, l)
	}
	for i, rf := range r.Fault {
		s.Faults = append(s.Faults, c.fault(fmt.Sprintf("%s.fault[%d]", path, i), rf, accounts, knownAccounts))
	}
	c.slowdowns(path, s.Faults)
	if c.found() == errsBefore {
		// Only a scenario whose parts are sound has a span worth checking.
		c.logPolls(path, s)
	}
	return s
}

// fault checks one [[scenario.fault]]: a known kind, the parameters it
// needs and no others, and a scope that names one of the scenario's
// accounts. p is the table's path; it is empty for a fault checked on its
// own (CheckFault), whose errors then name just the key.
func (c *checker) fault(p string, r FaultInput, accounts map[string]bool, knownAccounts known) Fault {
	f := Fault{Kind: FaultKind(r.Kind), Account: r.Account, Region: r.Region, Model: r.Model, Error: r.Error,
		At: c.duration(join(p, "at"), r.At, 0, 0, MaxSpan), Duration: c.duration(join(p, "duration"), r.Duration, 0, 0, MaxSpan)}
	if r.Account != "" {
		if !accounts[r.Account] {
			c.fail(join(p, "account"), "fault names account %q, which does not exist; known accounts: %s", r.Account, knownAccounts)
		}
	}
	need := map[string]bool{}
	switch f.Kind {
	case RegionOutage:
		if f.Region == "" {
			c.fail(join(p, "region"), "a region-outage needs region = \"…\", the Region that goes dark")
		}
	case ThrottleStorm:
		need["rate"] = true
	case ErrorInjection:
		need["rate"], need["error"] = true, true
		ok := false
		for _, e := range InjectableErrors {
			ok = ok || e == f.Error
		}
		if !ok && f.Error != "" {
			c.fail(join(p, "error"), "error %q cannot be injected; use one of %s", f.Error, strings.Join(InjectableErrors, ", "))
		}
		if f.Error == "" {
			c.fail(join(p, "error"), "an errors fault needs error = one of %s", strings.Join(InjectableErrors, ", "))
		}
	case QuotaCut:
		need["quota_rpm"] = true
		if f.Account == "" {
			c.fail(join(p, "account"), "a quota fault needs account = \"…\", whose service quota is cut")
		}
		if r.QuotaRPM != nil {
			f.QuotaRPM = c.rpm(join(p, "quota_rpm"), r.QuotaRPM)
		} else {
			c.fail(join(p, "quota_rpm"), "a quota fault needs quota_rpm, the cut quota per Region and model")
		}
	case SlowDown:
		need["factor"] = true
		f.Factor = 1 // unless valid: slowdowns multiplies the factors
		if n, ok := numberIn(r.Factor, aboveZero, MaxSlowdown); ok {
			f.Factor = n
		} else {
			c.fail(join(p, "factor"), "a latency fault needs factor, a number above 0 and at most %d, such as 3", MaxSlowdown)
		}
	case StreamCut:
		need["tokens"] = true
		if r.Rate != nil {
			need["rate"] = true
		} else {
			f.Rate = 1
		}
	case StreamStall:
		need["tokens"], need["stall"] = true, true
		if r.Stall == nil {
			c.fail(join(p, "stall"), "a stream-stall fault needs stall, how long no token comes, such as \"20s\"")
		} else {
			f.Stall = c.duration(join(p, "stall"), r.Stall, 0, time.Millisecond, MaxWait)
		}
	case StreamSlow:
		need["factor"] = true
		f.Factor = 1
		if n, ok := numberIn(r.Factor, 1, MaxSlowdown); ok {
			f.Factor = n
		} else {
			c.fail(join(p, "factor"), "a stream-slow fault needs factor, from 1 to %d: tokens come that many times slower", MaxSlowdown)
		}
	case StreamError:
		need["rate"], need["error"], need["tokens"] = true, true, true
		if !slices.Contains(StreamErrors, f.Error) {
			hint := ""
			for _, e := range StreamErrors {
				if strings.EqualFold(e, f.Error) {
					hint = fmt.Sprintf(" (%q: inside a stream Bedrock names its exceptions with a lowercase first letter)", e)
				}
			}
			c.fail(join(p, "error"), "a stream-error fault needs error = one of %s%s", strings.Join(StreamErrors, ", "), hint)
		}
	default:
		kinds := make([]string, len(FaultKinds))
		for i, k := range FaultKinds {
			kinds[i] = string(k)
		}
		c.fail(join(p, "kind"), "fault kind %q is not known; use one of %s", r.Kind, strings.Join(kinds, ", "))
		return f
	}
	if need["rate"] {
		n, ok := numberIn(r.Rate, aboveZero, 1)
		if !ok {
			c.fail(join(p, "rate"), "rate is the fraction of calls affected: a number above 0 and at most 1, such as 0.5")
		}
		f.Rate = n
	}
	if need["tokens"] {
		f.Tokens = c.wholeNumber(join(p, "tokens"), r.Tokens, -1, 0, MaxTokenCount)
	}
	for _, kv := range []struct {
		key string
		v   any
	}{{"rate", r.Rate}, {"quota_rpm", r.QuotaRPM}, {"factor", r.Factor}, {"error", r.Error}, {"tokens", r.Tokens}, {"stall", r.Stall}} {
		if kv.v != nil && kv.v != "" && !need[kv.key] {
			c.fail(join(p, kv.key), "%s does not apply to a %s fault", kv.key, f.Kind)
		}
	}
	return f
}

// errorClasses checks fallback_on. An absent key means the seed's gateway; an
// empty list is allowed and means "only a gateway bucket falls back".
func (c *checker) errorClasses(path string, names []string) []ErrorClass {
	if names == nil {
		return DefaultFallbackOn
	}
	out := []ErrorClass{}
	for _, n := range names {
		if !slices.Contains(ErrorClasses, ErrorClass(n)) {
			var known []string
			for _, k := range ErrorClasses {
				known = append(known, string(k))
			}
			c.fail(path, "unknown error class %q; use any of: %s", n, strings.Join(known, ", "))
			continue
		}
		out = append(out, ErrorClass(n))
	}
	return out
}

func (c *checker) groups(path string, r *rawScenario, s *Scenario, deployments map[string]bool) {
	if len(r.Group) == 0 {
		// A scenario without groups routes over all its deployments.
		g := Group{Name: defaultGroupName, Strategy: Shuffle}
		for _, d := range s.Deployments {
			g.Deployments = append(g.Deployments, d.Name)
		}
		s.Groups = []Group{g}
		return
	}
	names := map[string]bool{}
	for _, rg := range r.Group {
		names[rg.Name] = true
	}
	knownGroups := known(slices.Sorted(maps.Keys(names)))
	knownDeployments := known(deploymentNames(s.Deployments))
	seen := map[string]bool{}
	for i, rg := range r.Group {
		p := fmt.Sprintf("%s.group[%d]", path, i)
		g := Group{Name: rg.Name, Strategy: Strategy(rg.Strategy), Deployments: rg.Deployments, Fallbacks: rg.Fallbacks}
		if g.Name == "" {
			c.fail(p, "group has no name; add name = \"…\"")
		} else if seen[g.Name] {
			c.fail(p+".name", "group %q is defined twice; group names must be unique", g.Name)
		}
		seen[g.Name] = true
		switch g.Strategy {
		case "":
			g.Strategy = Shuffle
		case Shuffle, RoundRobin:
		default:
			c.fail(p+".strategy", "strategy %q is not known; use %q or %q", rg.Strategy, Shuffle, RoundRobin)
		}
		if len(g.Deployments) == 0 {
			c.fail(p+".deployments", "group %q lists no deployments; name at least one", g.Name)
		}
		for _, d := range g.Deployments {
			if !deployments[d] {
				c.fail(p+".deployments", "group %q names deployment %q, which does not exist; known deployments: %s",
					g.Name, d, knownDeployments)
			}
		}
		for _, f := range g.Fallbacks {
			if !names[f] {
				c.fail(p+".fallbacks", "group %q falls back to %q, which is not a group; known groups: %s",
					g.Name, f, knownGroups)
			}
		}
		s.Groups = append(s.Groups, g)
	}
	if cycle := fallbackCycle(s.Groups); cycle != nil {
		idx := 0
		for i, g := range s.Groups {
			if g.Name == cycle[0] {
				idx = i
			}
		}
		c.fail(fmt.Sprintf("%s.group[%d].fallbacks", path, idx),
			"fallback cycle %s; a request would bounce forever, so remove one of these links", strings.Join(cycle, " → "))
	}
}

// fallbackCycle returns one cycle in the fallback graph, first node repeated
// at the end, or nil.
func fallbackCycle(groups []Group) []string {
	next := map[string][]string{}
	for _, g := range groups {
		next[g.Name] = g.Fallbacks
	}
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(string) []string
	visit = func(n string) []string {
		state[n] = onPath
		path = append(path, n)
		for _, m := range next[n] {
			switch state[m] {
			case onPath:
				for i, p := range path {
					if p == m {
						return append(append([]string{}, path[i:]...), m)
					}
				}
			case unvisited:
				if cyc := visit(m); cyc != nil {
					return cyc
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for _, g := range groups {
		if state[g.Name] == unvisited {
			if cyc := visit(g.Name); cyc != nil {
				return cyc
			}
		}
	}
	return nil
}

func (c *checker) tenants(path string, r *rawScenario, s *Scenario) {
	groups := map[string]bool{}
	for _, g := range s.Groups {
		groups[g.Name] = true
	}
	knownGroups := known(groupNames(s.Groups))
	seen := map[string]bool{}
	keyOwner := map[string]string{} // API key → tenant
	for i, rt := range r.Tenant {
		p := fmt.Sprintf("%s.tenant[%d]", path, i)
		t := Tenant{
			Name:        rt.Name,
			RPM:         c.rpm(p+".rpm", rt.RPM),
			TPM:         c.tpm(p+".tpm", rt.TPM),
			Limiter:     c.limiter(p+".limiter", rt.Limiter, s.Limiter),
			Counting:    c.counting(p+".tpm_counting", rt.TPMCounting, s.Counting),
			Group:       rt.Group,
			MaxTokens:   c.wholeNumber(p+".max_tokens", rt.MaxTokens, s.MaxTokens, 1, MaxTokenCount),
			InputTokens: c.tokenCount(p+".input_tokens", rt.InputTokens),
		}
		if !t.InputTokens.IsSet() {
			t.InputTokens = s.InputTokens
		}
		c.arrival(p, rt, &t)
		if strings.HasSuffix(t.Name, "/tpm") {
			c.fail(p+".name", "tenant name %q ends in /tpm, which names a TPM bucket; choose another name", t.Name)
		}
		if t.Name == "" {
			c.fail(p, "tenant has no name; add name = \"…\"")
		} else if seen[t.Name] {
			c.fail(p+".name", "tenant %q is defined twice; tenant names must be unique", t.Name)
		}
		seen[t.Name] = true
		for j, key := range t.APIKeys {
			if other, taken := keyOwner[key]; taken {
				c.fail(fmt.Sprintf("%s.api_keys[%d]", p, j), "this API key is tenant %q's already; a key names one tenant", other)
			}
			keyOwner[key] = t.Name
		}
		if t.Group == "" && len(s.Groups) > 0 {
			t.Group = s.Groups[0].Name
		}
		if !groups[t.Group] && len(s.Groups) > 0 {
			c.fail(p+".group", "tenant %q sends to group %q, which does not exist; known groups: %s", t.Name, t.Group, knownGroups)
		}
		s.Tenants = append(s.Tenants, t)
	}
	if len(s.Tenants) == 0 {
		c.fail(path, "scenario %q sends nothing; add a [[scenario.tenant]] with requests = N", s.Name)
	}
	c.runLoad(path, s.Tenants)
}

// arrival checks a tenant's load: requests and stagger for a burst, rate
// and duration for constant or Poisson arrivals, and not a mix.
func (c *checker) arrival(p string, rt rawTenant, t *Tenant) {
	t.Arrival = Arrival(rt.Arrival)
	switch t.Arrival {
	case "", Burst:
		t.Arrival = Burst
		t.Requests = c.wholeNumber(p+".requests", rt.Requests, -1, 1, MaxRequests)
		t.Stagger = c.duration(p+".stagger", rt.Stagger, 0, 0, MaxWait)
		// At most MaxRequests × MaxWait: no overflow.
		if span := t.lastArrival(); span > MaxSpan {
			c.fail(p+".stagger", "%d requests %s apart take %s from the first to the last, over the %s limit; lower requests or stagger, or use arrival = \"constant\" with a rate",
				t.Requests, FormatDuration(t.Stagger), FormatDuration(span), FormatDuration(MaxSpan))
		}
		for _, kv := range []struct {
			key string
			v   any
		}{{"rate", rt.Rate}, {"duration", rt.Duration}} {
			if key, v := kv.key, kv.v; v != nil {
				c.fail(p+"."+key, "%s goes with arrival = \"constant\" or \"poisson\"; a burst sends requests = N, stagger apart", key)
			}
		}
	case Constant, Poisson:
		t.Rate = c.rate(p+".rate", rt.Rate)
		if rt.Duration == nil {
			c.fail(p+".duration", "arrival = %q needs a duration such as \"10m\"", t.Arrival)
		} else {
			t.Duration = c.duration(p+".duration", rt.Duration, 0, time.Millisecond, MaxSpan)
		}
		for _, kv := range []struct {
			key string
			v   any
		}{{"requests", rt.Requests}, {"stagger", rt.Stagger}} {
			if key, v := kv.key, kv.v; v != nil {
				c.fail(p+"."+key, "%s goes with a burst; arrival = %q sends rate requests per minute for duration", key, t.Arrival)
			}
		}
		if n := t.Expected(); n > MaxRequests {
			c.fail(p+".rate", "rate %g for %s is about %d requests, over the limit of %d; lower the rate or the duration", t.Rate, t.Duration, n, MaxRequests)
		}
	case FromClients:
		for _, kv := range []struct {
			key string
			v   any
		}{{"requests", rt.Requests}, {"stagger", rt.Stagger}, {"rate", rt.Rate}, {"duration", rt.Duration}} {
			if key, v := kv.key, kv.v; v != nil {
				c.fail(p+"."+key, "%s does not go with arrival = \"gateway\": the tenant's requests come from clients of spillway gateway", key)
			}
		}
	default:
		c.fail(p+".arrival", "arrival %q is not known; use \"burst\", \"constant\", \"poisson\" or \"gateway\"", rt.Arrival)
	}
	if t.Arrival != FromClients && rt.APIKeys != nil {
		c.fail(p+".api_keys", "api_keys go with arrival = \"gateway\", whose requests come from clients of spillway gateway")
	}
	for i, key := range rt.APIKeys {
		if strings.TrimSpace(key) == "" || len(key) > MaxAPIKeyLength || strings.ContainsAny(key, " \t\r\n") {
			c.fail(fmt.Sprintf("%s.api_keys[%d]", p, i), "an API key is 1 to %d characters without spaces", MaxAPIKeyLength)
		}
	}
	t.APIKeys = rt.APIKeys
}

// rate is requests per minute, from MinRate to MaxRate.
func (c *checker) rate(path string, v any) float64 {
	n, ok := numberIn(v, MinRate, MaxRate)
	if !ok {
		c.fail(path, "%v is not a rate; give requests per minute from %s to %s, such as 600", v, numberText(MinRate), numberText(MaxRate))
		return 1
	}
	return n
}

func (c *checker) account(path string, r rawAccount) Account {
	a := Account{
		Name:      r.Name,
		Profile:   r.Profile,
		Region:    r.Region,
		AccountID: r.AccountID,
		Regions:   r.Regions,
		QuotaRPM:  DefaultQuotaRPM,

		DeniedModels: r.DeniedModels,
	}
	if a.Name == "" {
		c.fail(path, "account has no name; add name = \"…\"")
	}
	if a.Profile == "" {
		a.Profile = DefaultProfile
	}
	if a.Region == "" {
		a.Region = DefaultRegion
	}
	if a.AccountID == "" {
		a.AccountID = simulatedAccountID(a.Name)
	} else if len(a.AccountID) != 12 || strings.Trim(a.AccountID, "0123456789") != "" {
		c.fail(path+".account_id", "account_id %q must be 12 digits", a.AccountID)
	}
	if r.QuotaRPM != nil {
		a.QuotaRPM = c.rpm(path+".quota_rpm", r.QuotaRPM)
	}
	for _, region := range slices.Sorted(maps.Keys(r.RegionQuotaRPM)) {
		if a.RegionQuotaRPM == nil {
			a.RegionQuotaRPM = map[string]RPM{}
		}
		a.RegionQuotaRPM[region] = c.rpm(path+".region_quota_rpm", r.RegionQuotaRPM[region])
	}
	a.QuotaTPM = c.tpm(path+".quota_tpm", r.QuotaTPM)
	for _, id := range slices.Sorted(maps.Keys(r.AppProfiles)) {
		source, ok := r.AppProfiles[id].(string)
		if !ok || strings.TrimSpace(source) == "" || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			c.fail(path+".application_profiles", "application profile %q must map an id of lowercase letters, digits and dashes to the model or profile id it copies, such as { team-a = \"us.anthropic.claude-sonnet-4-6\" }", id)
			continue
		}
		if a.ApplicationProfiles == nil {
			a.ApplicationProfiles = map[string]string{}
		}
		a.ApplicationProfiles[id] = strings.TrimSpace(source)
	}
	for _, region := range slices.Sorted(maps.Keys(r.RegionQuotaTPM)) {
		if a.RegionQuotaTPM == nil {
			a.RegionQuotaTPM = map[string]RPM{}
		}
		a.RegionQuotaTPM[region] = c.tpm(path+".region_quota_tpm", r.RegionQuotaTPM[region])
	}
	return a
}

// simulatedAccountID gives a simulated account a stable 12-digit id, so
// masked ids read the same on every run.
func simulatedAccountID(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	return fmt.Sprintf("%012d", h.Sum64()%1_000_000_000_000)
}

func (c *checker) deployment(path string, r rawDeployment, limiter Limiter, counting Counting) Deployment {
	d := Deployment{
		Name:     r.Name,
		Model:    strings.TrimSpace(r.Model),
		Account:  r.Account,
		RPM:      c.rpm(path+".rpm", r.RPM),
		TPM:      c.tpm(path+".tpm", r.TPM),
		Limiter:  c.limiter(path+".limiter", r.Limiter, limiter),
		Counting: c.counting(path+".tpm_counting", r.TPMCounting, counting),
	}
	if d.Name == "" {
		c.fail(path, "deployment has no name; add name = \"…\"")
	}
	if strings.HasSuffix(d.Name, "/tpm") {
		c.fail(path+".name", "deployment name %q ends in /tpm, which names a TPM bucket; choose another name", d.Name)
	}
	if d.Model == "" {
		c.fail(path+".model", "deployment %q has an empty model id; use a model or inference-profile id such as \"us.anthropic.claude-sonnet-4-20250514-v1:0\"", d.Name)
	}
	if r.Weight != nil {
		w, ok := numberIn(r.Weight, aboveZero, MaxWeight)
		if !ok {
			c.fail(path+".weight", "weight must be a number above 0 and at most %d (got %v); leave it out to weight by rpm", MaxWeight, r.Weight)
		}
		d.Weight = w
	}
	return d
}

func (c *checker) model(path string, r rawModel) Model {
	m := Model{
		ID:         r.ID,
		LatencyP50: c.duration(path+".latency_p50", r.LatencyP50, 0, 0, MaxLatency),
		LatencyP95: c.duration(path+".latency_p95", r.LatencyP95, 0, 0, MaxLatency),
		ModelSpeed: ModelSpeed{
			TTFT:            c.duration(path+".ttft", r.TTFT, 0, 0, MaxLatency),
			OutputTokens:    c.tokenCount(path+".output_tokens", r.OutputTokens),
			MaxOutputTokens: c.wholeNumber(path+".max_output_tokens", r.MaxOutputTokens, 0, 1, MaxTokenCount),
		},
	}
	if r.TokensPerSecond != nil {
		n, ok := numberIn(r.TokensPerSecond, 0.1, 1_000_000)
		if !ok {
			c.fail(path+".tokens_per_second", "%v is not a speed; give output tokens per second from 0.1 to 1000000, such as 60", r.TokensPerSecond)
		}
		m.TokensPerSecond = n
	}
	if r.Burndown != nil {
		n, ok := numberIn(r.Burndown, 1, MaxBurndown)
		if !ok {
			c.fail(path+".burndown", "%v is not a burndown; give how many quota tokens one output token counts for, from 1 to %d (Bedrock's Claude 4 models: 5)", r.Burndown, MaxBurndown)
		}
		m.Burndown = n
	}
	if m.ID == "" {
		c.fail(path+".id", "model has an empty id")
	}
	if m.LatencyP95 == 0 {
		m.LatencyP95 = m.LatencyP50
	}
	if m.LatencyP95 < m.LatencyP50 {
		c.fail(path+".latency_p95", "latency_p95 (%s) is below latency_p50 (%s); p95 must be at least the median", m.LatencyP95, m.LatencyP50)
	}
	return m
}

// tpm accepts what rpm does, and nothing: a token limit is optional.
func (c *checker) tpm(path string, v any) RPM {
	if v == nil {
		return Unlimited
	}
	const hint = `use a whole number of tokens per minute ≥ 1, such as 100000, or "unlimited"`
	if s, ok := v.(string); ok {
		if s == "unlimited" {
			return Unlimited
		}
		c.fail(path, "%q is not a tpm; %s", s, hint)
		return Unlimited
	}
	n, ok := numberIn(v, 1, math.MaxInt32)
	if !ok || n != math.Trunc(n) {
		c.fail(path, "%v is not a valid tpm; %s", v, hint)
		return Unlimited
	}
	return RPM(n)
}

// counting accepts "reserve" or "after-success"; absent, it is def.
func (c *checker) counting(path, v string, def Counting) Counting {
	switch Counting(v) {
	case "":
		return def
	case Reserve, AfterSuccess:
		return Counting(v)
	}
	c.fail(path, "%q is not a way to count tokens; use %q (input + max_tokens at admission, settled on the answer) or %q (the answer's tokens after success, as LiteLLM does)",
		v, Reserve, AfterSuccess)
	return def
}

// tokenCount accepts a whole number of tokens, or a table { median = N,
// p95 = M } for a log-normal spread; absent, the zero TokenCount.
func (c *checker) tokenCount(path string, v any) TokenCount {
	const hint = "give a whole number of tokens such as 1000, or { median = 800, p95 = 2400 }"
	whole := func(v any) (int, bool) {
		n, ok := numberIn(v, 1, MaxTokenCount)
		return int(n), ok && n == math.Trunc(n)
	}
	switch x := v.(type) {
	case nil:
		return TokenCount{}
	case map[string]any:
		var tc TokenCount
		for k := range x {
			if k != "median" && k != "p95" {
				c.fail(path, "unknown key %q in a token count; %s", k, hint)
				return TokenCount{}
			}
		}
		median, ok1 := whole(x["median"])
		p95, ok2 := whole(x["p95"])
		if x["p95"] == nil {
			p95, ok2 = median, true
		}
		if !ok1 || !ok2 {
			c.fail(path, "median and p95 must be whole numbers from 1 to %d; %s", MaxTokenCount, hint)
			return TokenCount{}
		}
		if p95 < median {
			c.fail(path, "p95 (%d) is below the median (%d); p95 must be at least the median", p95, median)
			return TokenCount{}
		}
		tc.Median, tc.P95 = median, p95
		return tc
	}
	n, ok := whole(v)
	if !ok {
		c.fail(path, "%v is not a token count from 1 to %d; %s", v, MaxTokenCount, hint)
		return TokenCount{}
	}
	return TokenCount{Median: n, P95: n}
}

// rpm accepts a whole number ≥ 1 or the string "unlimited". Nothing else:
// a missing or zero limit is far more often a mistake than a wish.
func (c *checker) rpm(path string, v any) RPM {
	const hint = `use a whole number ≥ 1, or "unlimited"`
	switch x := v.(type) {
	case nil:
		c.fail(path, "rpm is required; %s", hint)
	case string:
		if x == "unlimited" {
			return Unlimited
		}
		c.fail(path, "%q is not an rpm; %s", x, hint)
	default:
		n, ok := numberIn(v, 1, math.MaxInt32)
		if !ok || n != math.Trunc(n) {
			c.fail(path, "%v is not a valid rpm; %s", v, hint)
			return 1
		}
		return RPM(n)
	}
	return 1
}

// wholeNumber checks an integer in [lo, hi]. def < 0 means the key is required.
func (c *checker) wholeNumber(path string, v any, def, lo, hi int) int {
	if v == nil {
		if def < 0 {
			c.fail(path, "is required; use a whole number from %d to %d", lo, hi)
			return lo
		}
		return def
	}
	if s, isText := v.(string); isText {
		c.fail(path, "%q is a string; write a whole number from %d to %d, without quotes", s, lo, hi)
		return lo
	}
	n, ok := numberIn(v, float64(lo), float64(hi))
	if !ok || n != math.Trunc(n) {
		c.fail(path, "%v is out of range; use a whole number from %d to %d", v, lo, hi)
		return lo
	}
	return int(n)
}

// duration checks a duration from lo to hi; absent, it is def.
func (c *checker) duration(path string, v any, def, lo, hi time.Duration) time.Duration {
	if v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		c.fail(path, "%v is not a duration; write it as a string such as \"50ms\" or \"15s\"", v)
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		c.fail(path, "%q is not a duration; write it like \"50ms\", \"1.5s\" or \"2m\"", s)
		return def
	}
	if !(lo <= d && d <= hi) {
		c.fail(path, "%q is out of range; use a duration from %s to %s%s", s, FormatDuration(lo), FormatDuration(hi), rangeReason[lastKey(path)])
		return def
	}
	return d
}

// rangeReason explains, by key, a range that is not just common sense.
var rangeReason = map[string]string{
	"poll_every": " (CloudWatch throttles StartQuery calls made more often than about once a second)",
}

// lastKey is the last key of a path such as scenario[0].logs.poll_every.
func lastKey(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

// FormatDuration writes d as a scenario file would: "24h" rather than
// "24h0m0s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (c *checker) limiter(path, v string, def Limiter) Limiter {
	switch Limiter(v) {
	case "":
		return def
	case TokenBucket, FixedWindow:
		return Limiter(v)
	}
	c.fail(path, "limiter %q is not known; use %q or %q", v, TokenBucket, FixedWindow)
	return def
}

// aboveZero is the lower bound of a number that must be positive: the
// smallest float64 above 0, so that one closed range serves both kinds.
const aboveZero = math.SmallestNonzeroFloat64

// numberIn returns v as a number and whether it is one from lo to hi. The
// test is written lo <= n && n <= hi because NaN fails every comparison:
// written the other way round, as n < lo || n > hi, NaN passes.
func numberIn(v any, lo, hi float64) (float64, bool) {
	n, ok := number(v)
	return n, ok && lo <= n && n <= hi
}

// numberText writes a bound in full, 1000000 rather than 1e+06.
func numberText(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// known is a list of names in a message: all of a short list, the first
// few of a long one, so that the message stays readable. Formatting it is
// left to the message, which is built only for the errors reported.
type known []string

func (k known) String() string {
	const most = 10
	if len(k) <= most {
		return strings.Join(k, ", ")
	}
	return fmt.Sprintf("%s, … (%d in all)", strings.Join(k[:most], ", "), len(k))
}

func accountNames(as []Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	return out
}

func deploymentNames(ds []Deployment) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Name
	}
	return out
}

func groupNames(gs []Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Name
	}
	return out
}
