package record

import (
	"math"
	"sort"
	"strings"

	"spillway/engine"
)

// Summary counts a run's outcomes. Everything in it is in simulated time, so
// the same seed gives the same Summary at any speed.
type Summary struct {
	Planned      int                        `json:"planned"`
	Requests     int                        `json:"requests"` // sent
	Succeeded    int                        `json:"succeeded"`
	Failed       int                        `json:"failed"`
	RateLimited  int                        `json:"rate_limited"`
	Cancelled    int                        `json:"cancelled"`
	FellBack     int                        `json:"fell_back"` // succeeded on a fallback group
	ByDeployment map[string]int             `json:"by_deployment"`
	ByTenant     map[string]*TenantSummary  `json:"by_tenant"`
	ByAccount    map[string]*AccountSummary `json:"by_account"`
	Regions      map[string]map[string]int  `json:"regions"`
	Logs         map[string]LogStatus       `json:"logs"`
	Tokens       Tokens                     `json:"tokens"`
	// Streaming is absent when no request streamed.
	Streaming *Streaming `json:"streaming,omitempty"`
}

// Streaming summarises the streamed requests that succeeded: time to
// first token and the tokens a second after it, at the usual percentiles.
type Streaming struct {
	Requests        int        `json:"requests"`
	TTFT            Percentile `json:"ttft_ms"`
	TokensPerSecond Percentile `json:"tokens_per_second"`
	// Broken counts streams that broke after their first token, by how:
	// StreamCut, StreamStalled or an exception event's type.
	Broken map[string]int `json:"broken"`
}

// Percentile is p50, p95 and p99 of a measure.
type Percentile struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

func percentiles(v []float64) Percentile {
	if len(v) == 0 {
		return Percentile{}
	}
	sorted := append([]float64(nil), v...)
	sort.Float64s(sorted)
	return Percentile{P50: percentile(sorted, 0.5), P95: percentile(sorted, 0.95), P99: percentile(sorted, 0.99)}
}

// Tokens totals a run's tokens: the input and output of the requests that
// succeeded, what their calls reserved (input + max_tokens per attempt
// that reached a deployment), and the tokens per minute that achieves from
// the start to the last request's end, by deployment too.
type Tokens struct {
	Input        int                          `json:"input"`
	Output       int                          `json:"output"`
	Reserved     int                          `json:"reserved"`
	TPM          float64                      `json:"tpm"`
	ByDeployment map[string]*DeploymentTokens `json:"by_deployment"`
}

// DeploymentTokens is one deployment's tokens: those of the requests it
// served, and the tokens per minute over the run.
type DeploymentTokens struct {
	Input  int     `json:"input"`
	Output int     `json:"output"`
	TPM    float64 `json:"tpm"`
}

// TenantSummary is one consumer's share of a run.
type TenantSummary struct {
	Requests    int     `json:"requests"`
	Succeeded   int     `json:"succeeded"`
	RateLimited int     `json:"rate_limited"`
	Failed      int     `json:"failed"`
	Cancelled   int     `json:"cancelled"`
	Latency     Latency `json:"latency_ms"`
	SuccessRate float64 `json:"success_rate"`
	latencies   []float64
}

// AccountSummary is one account's share of the requests that reached a
// deployment.
type AccountSummary struct {
	Requests  int     `json:"requests"`
	Succeeded int     `json:"succeeded"`
	Failed    int     `json:"failed"`
	Latency   Latency `json:"latency_ms"`
	latencies []float64
}

// Latency summarises the end-to-end times of successful requests, in ms.
type Latency struct {
	Avg float64 `json:"avg"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	Max float64 `json:"max"`
}

// LogStatus says how far the Region histogram got for one account.
type LogStatus struct {
	Unaccounted int    `json:"unaccounted"`
	TimedOut    bool   `json:"timed_out"`
	Error       string `json:"error,omitempty"`
}

// Summary computes the summary of what has been recorded so far.
func (r *Recorder) Summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Summary{
		Planned:      r.info.Planned,
		Requests:     len(r.requests),
		ByDeployment: map[string]int{},
		ByTenant:     map[string]*TenantSummary{},
		ByAccount:    map[string]*AccountSummary{},
		Regions:      map[string]map[string]int{},
		Logs:         map[string]LogStatus{},
		Tokens:       Tokens{ByDeployment: map[string]*DeploymentTokens{}},
	}
	for _, b := range r.info.Buckets {
		if name, ok := strings.CutPrefix(string(b.ID), engine.DeploymentBucket); ok && !b.ID.Tokens() {
			s.ByDeployment[name] = 0
		}
	}
	var lastEnd float64 // ms
	var ttft, tps []float64
	broken := map[string]int{}
	for i := range r.requests {
		q := &r.requests[i]
		for _, a := range q.Attempts {
			if a.StreamOutcome != "" && a.StreamOutcome != "complete" && a.TTFTMS > 0 {
				broken[a.StreamOutcome]++
			}
		}
		if q.Outcome == OutcomeSucceeded && q.TTFTMS > 0 {
			ttft = append(ttft, q.TTFTMS)
			if a := q.Attempts[len(q.Attempts)-1]; a.EndMS-a.StartMS > q.TTFTMS {
				tps = append(tps, math.Round(float64(a.StreamedTokens)/((a.EndMS-a.StartMS-q.TTFTMS)/1000)*10)/10)
			}
		}
		t := s.ByTenant[q.Tenant]
		if t == nil {
			t = &TenantSummary{}
			s.ByTenant[q.Tenant] = t
		}
		t.Requests++
		lastEnd = max(lastEnd, q.EndMS)
		for _, at := range q.Attempts {
			s.Tokens.Reserved += at.ReservedTokens
		}
		var a *AccountSummary
		if q.Account != "" {
			if a = s.ByAccount[q.Account]; a == nil {
				a = &AccountSummary{}
				s.ByAccount[q.Account] = a
			}
			a.Requests++
		}
		switch q.Outcome {
		case OutcomeSucceeded:
			s.Succeeded++
			t.Succeeded++
			t.latencies = append(t.latencies, q.LatencyMS)
			a.Succeeded++
			a.latencies = append(a.latencies, q.LatencyMS)
			s.ByDeployment[q.Deployment]++
			s.Tokens.Input += q.InputTokens
			s.Tokens.Output += q.OutputTokens
			dt := s.Tokens.ByDeployment[q.Deployment]
			if dt == nil {
				dt = &DeploymentTokens{}
				s.Tokens.ByDeployment[q.Deployment] = dt
			}
			dt.Input += q.InputTokens
			dt.Output += q.OutputTokens
			if q.Fallback {
				s.FellBack++
			}
		case OutcomeRateLimited:
			s.RateLimited++
			t.RateLimited++
		case OutcomeFailed:
			s.Failed++
			t.Failed++
			if a != nil {
				a.Failed++
			}
		case OutcomeCancelled:
			s.Cancelled++
			t.Cancelled++
		}
	}
	for _, t := range s.ByTenant {
		t.Latency = latencyOf(t.latencies)
		if t.Requests > 0 {
			t.SuccessRate = math.Round(1000*float64(t.Succeeded)/float64(t.Requests)) / 10
		}
	}
	for _, a := range s.ByAccount {
		a.Latency = latencyOf(a.latencies)
	}
	if len(ttft) > 0 || len(broken) > 0 {
		s.Streaming = &Streaming{Requests: len(ttft), TTFT: percentiles(ttft), TokensPerSecond: percentiles(tps), Broken: broken}
	}
	if minutes := lastEnd / 60_000; minutes > 0 {
		perMinute := func(n int) float64 { return math.Round(float64(n)/minutes*10) / 10 }
		s.Tokens.TPM = perMinute(s.Tokens.Input + s.Tokens.Output)
		for _, dt := range s.Tokens.ByDeployment {
			dt.TPM = perMinute(dt.Input + dt.Output)
		}
	}
	for acct, p := range r.regions {
		counts := map[string]int{}
		for _, c := range p.Counts {
			counts[c.Region] = c.Count
		}
		s.Regions[acct] = counts
		s.Logs[acct] = LogStatus{Unaccounted: p.Unaccounted, TimedOut: p.TimedOut, Error: p.Error}
	}
	return s
}

func latencyOf(ms []float64) Latency {
	if len(ms) == 0 {
		return Latency{}
	}
	sorted := append([]float64(nil), ms...)
	sort.Float64s(sorted)
	sum := 0.0
	for _, v := range sorted {
		sum += v
	}
	return Latency{
		Avg: math.Round(sum/float64(len(sorted))*1000) / 1000,
		P50: percentile(sorted, 0.50),
		P95: percentile(sorted, 0.95),
		Max: sorted[len(sorted)-1],
	}
}

// percentile uses the nearest-rank method: the smallest value with at least
// p of the data at or below it.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[max(0, rank-1)]
}
