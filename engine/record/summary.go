package record

import (
	"maps"
	"math"
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
	// Fleet is present when the run was a fleet of replicas.
	Fleet *Fleet `json:"fleet,omitempty"`
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
}

// AccountSummary is one account's share of the requests that reached a
// deployment.
type AccountSummary struct {
	Requests  int     `json:"requests"`
	Succeeded int     `json:"succeeded"`
	Failed    int     `json:"failed"`
	Latency   Latency `json:"latency_ms"`
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
	return r.summary()
}

// summary adds the requests in flight to the tally of those that
// finished.
func (r *Recorder) summary() Summary {
	c := r.tally.counts.clone()
	for _, q := range r.requests.open {
		c.add(q)
	}
	s := c.Summary
	s.Planned = r.info.Planned
	s.Fleet = r.fleet()
	for _, b := range r.info.Buckets {
		if name, ok := strings.CutPrefix(string(b.ID), engine.DeploymentBucket); ok && !b.ID.Tokens() {
			s.ByDeployment[name] += 0
		}
	}
	for name, t := range s.ByTenant {
		t.Latency = r.tally.tenantLatency[name].latency()
		if t.Requests > 0 {
			t.SuccessRate = math.Round(1000*float64(t.Succeeded)/float64(t.Requests)) / 10
		}
	}
	for name, a := range s.ByAccount {
		a.Latency = r.tally.accountLatency[name].latency()
	}
	if streamed := r.tally.ttft.Count(); streamed > 0 || len(c.broken) > 0 {
		s.Streaming = &Streaming{Requests: streamed, TTFT: r.tally.ttft.percentiles(), TokensPerSecond: r.tally.tps.percentiles(),
			Broken: c.broken}
	}
	if minutes := c.lastEnd / 60_000; minutes > 0 {
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

// tally is the summary of the requests that have finished, brought up to
// date as each one finishes, so that no request need be kept for it. The
// percentiles come from distributions fed in the engine's event order;
// their answers do not depend on that order, nor does anything else here,
// so the same seed gives the same summary at any speed.
type tally struct {
	counts         summaryCounts
	tenantLatency  map[string]*latencyTally
	accountLatency map[string]*latencyTally
	ttft, tps      *Distribution // streamed successes' time to first token and tokens per second
}

func newTally() *tally {
	return &tally{counts: newSummaryCounts(), tenantLatency: map[string]*latencyTally{}, accountLatency: map[string]*latencyTally{},
		ttft: NewDistribution(TimeDecimals), tps: NewDistribution(RateDecimals)}
}

// finish adds q, which has its final outcome.
func (t *tally) finish(q *Request) {
	t.counts.add(q)
	if q.Outcome != OutcomeSucceeded {
		return
	}
	latencyFor(t.tenantLatency, q.Tenant).add(q.LatencyMS)
	if q.Account != "" {
		latencyFor(t.accountLatency, q.Account).add(q.LatencyMS)
	}
	if q.TTFTMS > 0 {
		t.ttft.Add(q.TTFTMS)
		// Tokens a second once the first came, on the attempt that answered.
		if a := q.Attempts[len(q.Attempts)-1]; a.EndMS-a.StartMS > q.TTFTMS {
			t.tps.Add(math.Round(float64(a.StreamedTokens)/((a.EndMS-a.StartMS-q.TTFTMS)/1000)*10) / 10)
		}
	}
}

// latencyFor is the tally of name in m, made on first use.
func latencyFor(m map[string]*latencyTally, name string) *latencyTally {
	l := m[name]
	if l == nil {
		l = &latencyTally{dist: NewDistribution(TimeDecimals)}
		m[name] = l
	}
	return l
}

func (d *Distribution) percentiles() Percentile {
	return Percentile{P50: d.Percentile(0.50), P95: d.Percentile(0.95), P99: d.Percentile(0.99)}
}

// latencyTally is one scope's latencies of succeeded requests: a
// distribution for the percentiles and the exact maximum, and their sum
// in whole microseconds, the record's resolution, which is exact and does
// not depend on the order requests finish in, as a sum of floats would.
type latencyTally struct {
	dist      *Distribution
	sumMicros int64
}

func (l *latencyTally) add(ms float64) {
	l.dist.Add(ms)
	l.sumMicros += int64(math.Round(ms * 1000))
}

// latency is the scope's Latency; zeros for a scope without successes.
func (l *latencyTally) latency() Latency {
	if l == nil || l.dist.Count() == 0 {
		return Latency{}
	}
	return Latency{
		Avg: math.Round(float64(l.sumMicros)/float64(l.dist.Count())) / 1000,
		P50: l.dist.Percentile(0.50),
		P95: l.dist.Percentile(0.95),
		Max: l.dist.Max(),
	}
}

// summaryCounts are the summary's counts and totals, which a request in
// flight has its share of too: it counts as sent, in its tenant, and with
// the tokens its attempts reserved and the streams they broke.
type summaryCounts struct {
	Summary
	lastEnd float64        // ms: the latest end of a request, for tokens per minute
	broken  map[string]int // streams that broke after their first token, by how
}

func newSummaryCounts() summaryCounts {
	return summaryCounts{
		Summary: Summary{
			ByDeployment: map[string]int{},
			ByTenant:     map[string]*TenantSummary{},
			ByAccount:    map[string]*AccountSummary{},
			Regions:      map[string]map[string]int{},
			Logs:         map[string]LogStatus{},
			Tokens:       Tokens{ByDeployment: map[string]*DeploymentTokens{}},
		},
		broken: map[string]int{},
	}
}

// clone copies the counts deep enough for the copy to be added to and
// filled in.
func (c *summaryCounts) clone() summaryCounts {
	out := newSummaryCounts()
	s := c.Summary
	s.ByDeployment, s.ByTenant, s.ByAccount, s.Regions, s.Logs = out.ByDeployment, out.ByTenant, out.ByAccount, out.Regions, out.Logs
	s.Tokens.ByDeployment = out.Tokens.ByDeployment
	out.Summary = s
	out.lastEnd = c.lastEnd
	maps.Copy(out.ByDeployment, c.ByDeployment)
	for name, t := range c.ByTenant {
		copied := *t
		out.ByTenant[name] = &copied
	}
	for name, a := range c.ByAccount {
		copied := *a
		out.ByAccount[name] = &copied
	}
	for name, dt := range c.Tokens.ByDeployment {
		copied := *dt
		out.Tokens.ByDeployment[name] = &copied
	}
	maps.Copy(out.broken, c.broken)
	return out
}

// add counts q, finished or in flight.
func (c *summaryCounts) add(q *Request) {
	s := &c.Summary
	s.Requests++
	for _, a := range q.Attempts {
		if a.StreamOutcome != "" && a.StreamOutcome != "complete" && a.TTFTMS > 0 {
			c.broken[a.StreamOutcome]++
		}
		s.Tokens.Reserved += a.ReservedTokens
	}
	c.lastEnd = max(c.lastEnd, q.EndMS)
	t := s.ByTenant[q.Tenant]
	if t == nil {
		t = &TenantSummary{}
		s.ByTenant[q.Tenant] = t
	}
	t.Requests++
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
		if a != nil {
			a.Succeeded++
		}
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
