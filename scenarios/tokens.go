package scenarios

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// MaxTokenCount bounds every token figure a scenario gives: a request's
// input and max_tokens, a model's output. Bedrock's largest context is a
// million tokens; the bound keeps token arithmetic (sums over a run,
// multiplied by a burndown) far from overflowing.
const MaxTokenCount = 1_000_000

// MaxBurndown bounds how many quota tokens one output token may count for.
// Bedrock's largest is 5.
const MaxBurndown = 100

// TokenCount is a number of tokens per request: fixed, or drawn from a
// log-normal distribution with the given median and 95th percentile. The
// zero value means "not given".
type TokenCount struct {
	Median, P95 int
}

// IsSet reports whether a count was given.
func (c TokenCount) IsSet() bool { return c.Median > 0 }

// Fixed reports whether every request has the same count.
func (c TokenCount) Fixed() bool { return c.P95 <= c.Median }

func (c TokenCount) String() string {
	if c.Fixed() {
		return fmt.Sprint(c.Median)
	}
	return fmt.Sprintf("median %d, p95 %d", c.Median, c.P95)
}

// At is the count at quantile u of the distribution (u in (0, 1)), at
// least 1 and at most MaxTokenCount, so that one uniform draw gives one
// count and a seed fixes it.
func (c TokenCount) At(u float64) int {
	if c.Fixed() {
		return c.Median
	}
	u = math.Min(math.Max(u, 1e-9), 1-1e-9)
	z := math.Sqrt2 * math.Erfinv(2*u-1)
	sigma := math.Log(float64(c.P95)/float64(c.Median)) / 1.6449 // z of the 95th percentile
	n := math.Round(float64(c.Median) * math.Exp(sigma*z))
	return int(math.Min(math.Max(n, 1), MaxTokenCount))
}

// PromptTokens is Spillway's estimate of a prompt's input tokens: one
// token per four characters, the rule of thumb Anthropic and OpenAI give
// for English text, plus 12 for the chat template around the message.
// Both the simulated Bedrock and the gateway use it, so they agree.
func PromptTokens(prompt string) int {
	return promptOverhead + (utf8.RuneCountInString(prompt)+3)/4
}

const promptOverhead = 12

// PromptOfTokens is prompt lengthened with filler to n input tokens by
// PromptTokens' estimate, so that a call carries the input a scenario asks
// for; a prompt already as long is returned as it is.
func PromptOfTokens(prompt string, n int) string {
	want := (n - promptOverhead) * 4
	have := utf8.RuneCountInString(prompt)
	if have >= want-3 {
		return prompt
	}
	const filler = " Context follows."
	b := make([]byte, 0, len(prompt)+want-have)
	b = append(b, prompt...)
	for i := have; i < want; i++ {
		b = append(b, filler[(i-have)%len(filler)])
	}
	return string(b)
}

// Counting is how a gateway counts a TPM limit. Engineers ask which one
// they are looking at, so it is named in every bucket header and record.
type Counting string

const (
	// Reserve takes input + max_tokens when a request is admitted or a
	// deployment picked, and settles on the answer's tokens: as Bedrock
	// counts its own quota, and a limit that holds under concurrency.
	Reserve Counting = "reserve"
	// AfterSuccess counts only an answered call's total tokens, after it
	// answers, and checks before a call that the input still fits: as
	// LiteLLM's router counts a deployment's tpm. Calls in flight are not
	// counted, so a burst can overshoot the limit.
	AfterSuccess Counting = "after-success"
)

// ModelSpeed is what a model's answers take: output tokens drawn per
// answer, and the time that follows from them.
type ModelSpeed struct {
	TTFT            time.Duration // time to first token
	TokensPerSecond float64
	OutputTokens    TokenCount
	// Burndown is how many quota tokens one output token counts for: 5 for
	// Claude 3.7 and the Claude 4 family on Bedrock. Zero means 1.
	Burndown        float64
	MaxOutputTokens int
}
