package fleet

import (
	"container/heap"
	"math"
	"time"

	"spillway/engine/bucket"
	"spillway/engine/simaws/catalog"
	"spillway/scenarios"
)

// figures are what the fleet knows of a model's answers: the scenario's
// [[model]] entry where it gives a figure, the catalog's otherwise.
type figures struct {
	latency  scenarios.Model // LatencyP50 > 0: the latency is drawn from it, not from the speed
	ttft     time.Duration
	tps      float64
	output   scenarios.TokenCount
	burndown float64
	maxOut   int
}

// defaultOutput is the answer length of a model no figure describes: a
// few paragraphs, sometimes a page. It is an assumption, not a
// measurement; a scenario's output_tokens replaces it.
var defaultOutput = scenarios.TokenCount{Median: 300, P95: 1200}

// figuresOf resolves a model's figures once per foundation model.
func (f *Fleet) figuresOf(modelID string) *figures {
	base := scenarios.BaseModelID(modelID)
	if fig, ok := f.figures[base]; ok {
		return fig
	}
	fig := &figures{output: defaultOutput, burndown: 1, maxOut: MaxOutputTokens}
	if m, _, _, ok := catalog.BuiltIn().Resolve(modelID); ok {
		if m.TTFTMillis > 0 && m.TokensPerSecond > 0 {
			fig.ttft, fig.tps = time.Duration(float64(m.TTFTMillis)*float64(time.Millisecond)/f.pace), m.TokensPerSecond*f.pace
		}
		if m.Burndown > 0 {
			fig.burndown = m.Burndown
		}
		if m.MaxOutputTokens > 0 {
			fig.maxOut = m.MaxOutputTokens
		}
	}
	if m, ok := f.scenario.LatencyOf(modelID, f.models); ok {
		if m.LatencyP50 > 0 {
			fig.latency = m
		}
		// Each figure the scenario gives replaces the catalog's, and only
		// that one.
		if m.TTFT > 0 {
			fig.ttft = m.TTFT
		}
		if m.TokensPerSecond > 0 {
			fig.tps = m.TokensPerSecond
		}
		if m.OutputTokens.IsSet() {
			fig.output = m.OutputTokens
		}
		if m.Burndown > 0 {
			fig.burndown = m.Burndown
		}
		if m.MaxOutputTokens > 0 {
			fig.maxOut = m.MaxOutputTokens
		}
	}
	if fig.latency.LatencyP50 == 0 && fig.tps == 0 {
		fig.latency = defaultModel // no speed anywhere: the old single latency figure
		fig.latency.LatencyP50 = time.Duration(float64(fig.latency.LatencyP50) / f.pace)
		fig.latency.LatencyP95 = time.Duration(float64(fig.latency.LatencyP95) / f.pace)
	}
	if len(f.figures) < maxInterned {
		f.figures[base] = fig
	}
	return fig
}

// answer draws a call's output tokens, capped at maxTokens, and the time
// the answer takes: drawn from the model's latency percentiles when the
// scenario gives them, otherwise time to first token plus the output at
// the model's speed. Each takes one draw from the fleet's generator, in
// the order they always had, so a seed keeps its outcomes. first is when
// the first token comes: the model's time to first token, or, for a
// latency drawn whole, the catalog's (a quarter of it where there is
// none), never after the end.
func (f *Fleet) answer(fig *figures, maxTokens int) (output int, latency, first time.Duration) {
	if fig.latency.LatencyP50 > 0 {
		latency = f.drawLatency(fig.latency)
		output = min(fig.output.At(f.rng.Float64()), maxTokens)
		first = latency / 4
		if fig.ttft > 0 {
			first = min(fig.ttft, latency)
		}
		return output, latency, max(first, time.Millisecond)
	}
	output = min(fig.output.At(f.rng.Float64()), maxTokens)
	d := float64(fig.ttft) + float64(output)/fig.tps*float64(time.Second)
	latency = time.Duration(math.Min(d, float64(scenarios.MaxLatency))).Round(time.Millisecond)
	// A first token takes at least a millisecond: zero means none came.
	return output, max(latency, time.Millisecond), max(min(fig.ttft, latency), time.Millisecond)
}

// A settlement gives back, or takes, the difference between what a call
// reserved of a token quota when it started and what it used, when it
// ends.
type settlement struct {
	due        time.Time
	quota      *bucket.Bucket
	reservedAt time.Time
	reserved   float64
	used       float64
}

// settlements are the calls still running, soonest end first.
type settlements []settlement

func (s settlements) Len() int           { return len(s) }
func (s settlements) Less(i, j int) bool { return s[i].due.Before(s[j].due) }
func (s settlements) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s *settlements) Push(x any)        { *s = append(*s, x.(settlement)) }
func (s *settlements) Pop() any {
	old := *s
	x := old[len(old)-1]
	*s = old[:len(old)-1]
	return x
}

// settleDue settles every call that has ended by at. The fleet has no clock,
// so this runs before anything reads a token quota.
func (f *Fleet) settleDue(at time.Time) {
	for len(f.pending) > 0 && !f.pending[0].due.After(at) {
		s := heap.Pop(&f.pending).(settlement)
		s.quota.SettleAt(s.due, s.reservedAt, s.reserved, s.used)
	}
}

// maxPendingSettlements bounds the calls whose settlement waits for a
// later call's time. A client on simulated time chooses the times, so one
// that stops moving time forward would grow the list without end; past the
// bound the soonest is settled early, which only frees quota sooner.
const maxPendingSettlements = 100_000

// settleLater settles a call's reservation when it ends. A quota without a
// limit has nothing to settle.
func (f *Fleet) settleLater(s settlement) {
	if s.quota.RPM().IsUnlimited() {
		return
	}
	if len(f.pending) >= maxPendingSettlements {
		early := heap.Pop(&f.pending).(settlement)
		early.quota.SettleAt(early.due, early.reservedAt, early.reserved, early.used)
	}
	heap.Push(&f.pending, s)
}

func (f *Fleet) tokenQuota(acct scenarios.Account, region, model string) *bucket.Bucket {
	k := quotaKey{acct.Name, region, model}
	q, ok := f.tokenQuotas[k]
	if !ok {
		q = bucket.NewOf(bucket.Tokens, scenarios.TokenBucket, acct.TokenQuota(region), f.epoch)
		f.tokenQuotas[k] = q
	}
	return q
}

// SetPace divides the latency of models only the catalog, or nothing,
// describes by x (x ≤ 0 means 1): a standalone emulator at --speed x runs
// their answers as much faster as the scenario's own. Call it before the
// first call.
func (f *Fleet) SetPace(x float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if x <= 0 || math.IsInf(x, 1) {
		x = 1
	}
	f.pace = x
	clear(f.figures)
}

// TokenQuotaAt is the token quota of account in region for a model, as it
// stands at at: for tests and for screens that show Bedrock's side.
func (f *Fleet) TokenQuotaAt(at time.Time, account, region, modelID string) (bucket.Level, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	acct, ok := f.scenario.Account(account)
	if !ok {
		return bucket.Level{}, false
	}
	f.settleDue(at)
	return f.tokenQuota(acct, region, scenarios.BaseModelID(modelID)).LevelAt(at), true
}
