package engine

import (
	"fmt"
	"math/rand/v2"
	"time"

	"spillway/engine/bucket"
	"spillway/scenarios"
)

// TPMSuffix ends the id of a tenant's or a deployment's TPM bucket, beside
// its RPM bucket: "deployment/primary/tpm".
const TPMSuffix = "/tpm"

// Tokens reports whether id is a TPM bucket.
func (id BucketID) Tokens() bool {
	return len(id) > len(TPMSuffix) && id[len(id)-len(TPMSuffix):] == TPMSuffix
}

// PerMinute names the bucket's limit: "RPM" or "TPM".
func (id BucketID) PerMinute() string {
	if id.Tokens() {
		return "TPM"
	}
	return "RPM"
}

// tokens is what a request asks of a TPM limit: its input, and what
// reserving it takes (input + max_tokens).
type tokens struct {
	input, reserve float64
}

// tokenLimit is the TPM limit of a tenant or a deployment: its bucket, and
// how it counts.
type tokenLimit struct {
	id       BucketID
	owner    string // "tenant A", "deployment primary"
	semantic scenarios.Limiter
	counting scenarios.Counting
	tpm      scenarios.RPM
	bucket   *bucket.Bucket
	overMsg  string // why a request was refused or a deployment passed over; rebuilt when tpm changes
}

// newTokenLimit is owner's TPM limit, or nil when it has none.
func newTokenLimit(id BucketID, owner string, tpm scenarios.RPM, limiter scenarios.Limiter, counting scenarios.Counting) *tokenLimit {
	if tpm.OrUnlimited().IsUnlimited() {
		return nil
	}
	l := &tokenLimit{id: id + TPMSuffix, owner: owner, semantic: limiter, counting: counting}
	l.setRPM(tpm)
	return l
}

func (l *tokenLimit) bucketID() BucketID      { return l.id }
func (l *tokenLimit) limit() scenarios.RPM    { return l.tpm }
func (l *tokenLimit) limiter() *bucket.Bucket { return l.bucket }
func (l *tokenLimit) fill(start time.Time) {
	l.bucket = bucket.NewOf(bucket.Tokens, l.semantic, l.tpm, start)
}
func (l *tokenLimit) setRPM(tpm scenarios.RPM) {
	l.tpm = tpm
	l.overMsg = fmt.Sprintf("%s is at its %s TPM (%s, %s)", l.owner, tpm, l.semantic, l.counting)
}

// need is what the limit checks a request against: the whole reservation,
// or, counting after success as LiteLLM does, its input alone.
func (l *tokenLimit) need(n tokens) float64 {
	if l.counting == scenarios.AfterSuccess {
		return n.input
	}
	return n.reserve
}

// has reports whether n fits at t, without taking anything.
func (l *tokenLimit) has(t time.Time, n tokens) bool { return l.bucket.HasAt(t, l.need(n)) }

// take admits n at t if it fits: reserving it, or, counting after
// success, only checking its input. It counts the ask either way.
func (l *tokenLimit) take(t time.Time, n tokens) bool {
	if l.counting == scenarios.AfterSuccess {
		return l.bucket.CheckAt(t, n.input)
	}
	return l.bucket.TakeAt(t, n.reserve)
}

// settle counts at t what a call admitted at from really used: the
// answer's input and output tokens, or 0 for a call that got no answer.
func (l *tokenLimit) settle(t, from time.Time, n tokens, used int) {
	if l.counting == scenarios.AfterSuccess {
		if used > 0 {
			l.bucket.ChargeAt(t, float64(used))
		}
		return
	}
	l.bucket.SettleAt(t, from, n.reserve, float64(used))
}

// requestTokens draws what each request of a tenant asks for: its input
// tokens (a count, a spread, or the prompt's estimate) and its max_tokens.
type requestTokens struct {
	input     scenarios.TokenCount
	maxTokens int
	rng       *rand.Rand // a stream of its own, so routing never shifts with it
}

func newRequestTokens(s *scenarios.Scenario, t scenarios.Tenant, rng *rand.Rand) requestTokens {
	rt := requestTokens{input: t.InputTokens, maxTokens: t.MaxTokens, rng: rng}
	if rt.maxTokens == 0 {
		rt.maxTokens = s.MaxTokens
	}
	if !rt.input.IsSet() {
		n := scenarios.PromptTokens(s.Prompt)
		rt.input = scenarios.TokenCount{Median: n, P95: n}
	}
	return rt
}

// draw is the next request's input tokens.
func (rt requestTokens) draw() int {
	if rt.input.Fixed() {
		return rt.input.Median
	}
	return rt.input.At(rt.rng.Float64())
}
