package compare

import (
	"math"

	"spillway/engine/record"
)

// Metrics are one scope's figures in one run: the whole run's, a tenant's,
// a deployment's or an account's. Each field's JSON name is also the name
// --fail-if knows it by, so a pipeline reads the same word in both.
//
// A request counts where it ended: every request in its tenant, and in the
// deployment and account that answered it or failed it last (a request
// refused before reaching any has neither). An attempt counts in the
// deployment and account it was routed to, so a deployment's Throttled and
// Skipped include requests that went on to succeed elsewhere.
type Metrics struct {
	// Requests is how many requests were sent.
	Requests int `json:"requests" expr:"requests"`
	// Succeeded is how many of them were answered.
	Succeeded int `json:"succeeded" expr:"succeeded"`
	// SuccessRate is Succeeded as a percentage of Requests, to 0.1 as the
	// record's summary rounds it; 0 without requests.
	SuccessRate float64 `json:"success_rate" expr:"success_rate"`
	// FellBack is how many succeeded requests a fallback group answered.
	FellBack int `json:"fell_back" expr:"fell_back"`
	// FellBackRate is FellBack as a percentage of Succeeded, to 0.1; 0
	// without successes.
	FellBackRate float64 `json:"fell_back_rate" expr:"fell_back_rate"`
	// Share is Succeeded as a percentage of the whole run's succeeded
	// requests, to 0.1: how much of the traffic a deployment or account
	// carried. The whole run's share is 100 (0 without successes).
	Share float64 `json:"share" expr:"share"`
	// RateLimited is how many requests were refused because every bucket
	// they could use was empty.
	RateLimited int `json:"rate_limited" expr:"rate_limited"`
	// Failed is how many requests ended in an error.
	Failed int `json:"failed" expr:"failed"`
	// Cancelled is how many requests the end of the run cut off.
	Cancelled int `json:"cancelled" expr:"cancelled"`
	// Throttled is how many attempts the provider throttled; one request
	// can be throttled on several attempts.
	Throttled int `json:"throttled" expr:"throttled"`
	// Skipped is how many attempts were passed over: the deployment's
	// bucket was empty, or it was cooling down after throttling.
	Skipped int `json:"skipped" expr:"skipped"`
	// P50MS, P95MS and P99MS are the end-to-end latency of the succeeded
	// requests in milliseconds, as the record's summary computes them:
	// within record.RelativeAccuracy (0.5 %) of the nearest rank; 0
	// without successes.
	P50MS float64 `json:"p50_ms" expr:"p50_ms"`
	P95MS float64 `json:"p95_ms" expr:"p95_ms"`
	P99MS float64 `json:"p99_ms" expr:"p99_ms"`
	// InputTokens and OutputTokens total the succeeded requests' tokens as
	// the provider reported them; 0 when the record has none.
	InputTokens  int `json:"input_tokens" expr:"input_tokens"`
	OutputTokens int `json:"output_tokens" expr:"output_tokens"`
	// Streamed is how many succeeded requests were streamed and so have a
	// time to first token.
	Streamed int `json:"streamed" expr:"streamed"`
	// TTFTP50MS, TTFTP95MS and TTFTP99MS are the streamed requests' time to
	// first token in milliseconds; 0 without streamed requests.
	TTFTP50MS float64 `json:"ttft_p50_ms" expr:"ttft_p50_ms"`
	TTFTP95MS float64 `json:"ttft_p95_ms" expr:"ttft_p95_ms"`
	TTFTP99MS float64 `json:"ttft_p99_ms" expr:"ttft_p99_ms"`
}

// hasLatency reports whether the latency percentiles mean anything.
func (m *Metrics) hasLatency() bool { return m.Succeeded > 0 }

// hasTTFT reports whether the time-to-first-token percentiles mean
// anything.
func (m *Metrics) hasTTFT() bool { return m.Streamed > 0 }

// hasTokens reports whether the record counted tokens at all.
func (m *Metrics) hasTokens() bool { return m.InputTokens > 0 || m.OutputTokens > 0 }

// delta is b − a. A rate or percentile that one run cannot have (no
// requests, no successes, nothing streamed) gives a delta of 0 rather than
// the other run's value, so that a check on it does not fire on a scope
// that only one run has.
func delta(a, b Metrics) Metrics {
	d := Metrics{
		Requests:     b.Requests - a.Requests,
		Succeeded:    b.Succeeded - a.Succeeded,
		FellBack:     b.FellBack - a.FellBack,
		RateLimited:  b.RateLimited - a.RateLimited,
		Failed:       b.Failed - a.Failed,
		Cancelled:    b.Cancelled - a.Cancelled,
		Throttled:    b.Throttled - a.Throttled,
		Skipped:      b.Skipped - a.Skipped,
		InputTokens:  b.InputTokens - a.InputTokens,
		OutputTokens: b.OutputTokens - a.OutputTokens,
		Streamed:     b.Streamed - a.Streamed,
	}
	if a.Requests > 0 && b.Requests > 0 {
		d.SuccessRate = tenth(b.SuccessRate - a.SuccessRate)
	}
	if a.Succeeded > 0 && b.Succeeded > 0 {
		d.FellBackRate = tenth(b.FellBackRate - a.FellBackRate)
		d.P50MS, d.P95MS, d.P99MS = micro(b.P50MS-a.P50MS), micro(b.P95MS-a.P95MS), micro(b.P99MS-a.P99MS)
	}
	// A share is of the whole run's successes: a scope without any has a
	// share of 0, and going from 0 is a change like any other.
	d.Share = tenth(b.Share - a.Share)
	if a.hasTTFT() && b.hasTTFT() {
		d.TTFTP50MS, d.TTFTP95MS, d.TTFTP99MS = micro(b.TTFTP50MS-a.TTFTP50MS), micro(b.TTFTP95MS-a.TTFTP95MS), micro(b.TTFTP99MS-a.TTFTP99MS)
	}
	return d
}

// tally gathers one scope's requests and attempts.
type tally struct {
	m Metrics
	// latency and ttft are the scope's successes, as the record's summary
	// gathers them.
	latency, ttft *record.Distribution
}

func newTally() *tally {
	return &tally{latency: record.NewDistribution(record.TimeDecimals), ttft: record.NewDistribution(record.TimeDecimals)}
}

func (t *tally) addRequest(q *record.Request) {
	t.m.Requests++
	switch q.Outcome {
	case record.OutcomeSucceeded:
		t.m.Succeeded++
		t.m.InputTokens += q.InputTokens
		t.m.OutputTokens += q.OutputTokens
		t.latency.Add(q.LatencyMS)
		if q.Fallback {
			t.m.FellBack++
		}
		if isStreamed(q) {
			t.m.Streamed++
			t.ttft.Add(q.TTFTMS)
		}
	case record.OutcomeRateLimited:
		t.m.RateLimited++
	case record.OutcomeFailed:
		t.m.Failed++
	case record.OutcomeCancelled:
		t.m.Cancelled++
	}
}

func (t *tally) addAttempt(a *record.Attempt) {
	switch a.Outcome {
	case record.OutcomeThrottled:
		t.m.Throttled++
	case record.OutcomeSkipped:
		t.m.Skipped++
	}
}

// isStreamed is the summary's rule: a streamed success is one with a first
// token.
func isStreamed(q *record.Request) bool { return q.TTFTMS > 0 }

// metrics finishes the tally; runSucceeded is the whole run's successes,
// for Share.
func (t *tally) metrics(runSucceeded int) Metrics {
	m := t.m
	m.SuccessRate = percent(m.Succeeded, m.Requests)
	m.FellBackRate = percent(m.FellBack, m.Succeeded)
	m.Share = percent(m.Succeeded, runSucceeded)
	m.P50MS, m.P95MS, m.P99MS = percentiles(t.latency)
	m.TTFTP50MS, m.TTFTP95MS, m.TTFTP99MS = percentiles(t.ttft)
	return m
}

// percent is n of total in percent, to 0.1; 0 when total is.
func percent(n, total int) float64 {
	if total <= 0 {
		return 0
	}
	return math.Round(1000*float64(n)/float64(total)) / 10
}

// percentiles are p50, p95 and p99 as the record's summary computes them:
// the same sketch, within record.RelativeAccuracy of the nearest rank,
// rounded to the microsecond. Being the same function on the same values,
// a comparison's p95 of a run is, to the last digit, the p95 its summary
// printed. All 0 when there are no values.
func percentiles(d *record.Distribution) (p50, p95, p99 float64) {
	return d.Percentile(0.50), d.Percentile(0.95), d.Percentile(0.99)
}

// tenth rounds to 0.1, dropping the float noise of a difference of two
// rounded percentages.
func tenth(v float64) float64 { return math.Round(v*10) / 10 }

// micro rounds to 0.001, the record's resolution of milliseconds.
func micro(v float64) float64 { return math.Round(v*1000) / 1000 }
