package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"spillway/engine"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// figures are one tenant's or deployment's live numbers, built from
// events: what the headless summary prints after the run, while it runs.
type figures struct {
	name                                   string
	bucket                                 engine.BucketID
	requests, succeeded                    int // a tenant's requests, a deployment's attempts; and those answered
	refused, throttled, failed             int
	latency                                latencies
	lastMinute                             minuteCount   // requests or attempts, for the rate it achieves
	tokens                                 minuteCount   // input and output tokens of answered calls, for the TPM it achieves
	ttft                                   latencies     // streamed answers' time to first token
	streamedTokens                         int           // and their tokens after it,
	streamedFor                            time.Duration // over this long, for tokens a second
	countsRefusalsAsRequests, isDeployment bool
}

// successRate is the share of finished requests that succeeded, in %.
func (f *figures) successRate() (float64, bool) {
	done := f.succeeded + f.refused + f.failed
	if f.isDeployment {
		done = f.succeeded + f.throttled + f.failed
	}
	if done == 0 {
		return 0, false
	}
	return 100 * float64(f.succeeded) / float64(done), true
}

// latencies is a latency histogram with bins 2% wide, from 1 ms to about
// 3 h, so a percentile costs the same at any number of requests and is
// within 1% of the exact one the export computes.
type latencies struct {
	bins [latencyBins]uint32
	n    int
}

const (
	latencyBins   = 300
	latencyGrowth = 1.05
)

func latencyBin(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms <= 1 {
		return 0
	}
	return min(latencyBins-1, int(math.Log(ms)/math.Log(latencyGrowth))+1)
}

func (h *latencies) add(d time.Duration) {
	h.bins[latencyBin(d)]++
	h.n++
}

// quantile is the latency q of the way up, as the middle of its bin.
func (h *latencies) quantile(q float64) (time.Duration, bool) {
	if h.n == 0 {
		return 0, false
	}
	rank := int(math.Ceil(q * float64(h.n)))
	seen := 0
	for i, c := range h.bins {
		seen += int(c)
		if seen >= max(1, rank) {
			return time.Duration(math.Pow(latencyGrowth, float64(i)-0.5) * float64(time.Millisecond)), true
		}
	}
	return 0, false
}

// minuteCount counts events per simulated second over the last minute.
type minuteCount struct {
	counts [60]int
	second [60]int64 // which second each slot holds
}

func (w *minuteCount) add(at time.Duration) { w.addN(at, 1) }

// addN counts n at once, such as an answer's tokens.
func (w *minuteCount) addN(at time.Duration, n int) {
	s := int64(at / time.Second)
	i := s % 60
	if w.second[i] != s {
		w.second[i], w.counts[i] = s, 0
	}
	w.counts[i] += n
}

// total is the count over the minute up to now.
func (w *minuteCount) total(now time.Duration) int {
	s := int64(now / time.Second)
	n := 0
	for i := range w.counts {
		if w.second[i] > s-60 && w.second[i] <= s {
			n += w.counts[i]
		}
	}
	return n
}

// figuresOf keeps the figures of every tenant and deployment, in the order
// they first appear.
type figuresOf struct {
	tenants, deployments []*figures
	byName               map[engine.BucketID]*figures
}

func (f *figuresOf) of(id engine.BucketID) *figures {
	if fig, ok := f.byName[id]; ok {
		return fig
	}
	if f.byName == nil {
		f.byName = map[engine.BucketID]*figures{}
	}
	name, deployment := strings.CutPrefix(string(id), engine.DeploymentBucket)
	if !deployment {
		name = strings.TrimPrefix(name, engine.TenantBucket)
	}
	fig := &figures{name: name, bucket: id, isDeployment: deployment}
	f.byName[id] = fig
	if deployment {
		f.deployments = append(f.deployments, fig)
	} else {
		f.tenants = append(f.tenants, fig)
	}
	return fig
}

func (f *figuresOf) tenant(name string) *figures {
	return f.of(engine.BucketID(engine.TenantBucket + name))
}

func (f *figuresOf) deployment(name string) *figures {
	return f.of(engine.BucketID(engine.DeploymentBucket + name))
}

// apply counts one event.
func (f *figuresOf) apply(ev engine.Event) {
	switch ev.Kind {
	case engine.Admitted:
		t := f.tenant(ev.Tenant)
		t.requests++
		t.lastMinute.add(ev.At)
	case engine.RateLimited:
		t := f.tenant(ev.Tenant)
		t.refused++
		if strings.HasPrefix(string(ev.Bucket), engine.TenantBucket) { // never admitted
			t.requests++
			t.lastMinute.add(ev.At)
		}
	case engine.Attempt:
		d := f.deployment(ev.Deployment)
		d.requests++
		d.lastMinute.add(ev.At)
	case engine.Throttled:
		f.tenant(ev.Tenant).throttled++
		f.deployment(ev.Deployment).throttled++
	case engine.Errored:
		f.deployment(ev.Deployment).failed++
	case engine.Succeeded:
		for _, fig := range []*figures{f.tenant(ev.Tenant), f.deployment(ev.Deployment)} {
			fig.succeeded++
			fig.latency.add(ev.Latency)
			fig.tokens.addN(ev.At, ev.InputTokens+ev.OutputTokens)
			if ev.TTFT > 0 {
				fig.ttft.add(ev.TTFT)
			}
		}
	case engine.Failed:
		f.tenant(ev.Tenant).failed++
		// A throttle that ends the request was counted as the deployment's
		// throttle already; counting it failed too would take its success
		// rate down twice for one attempt.
		if ev.Deployment != "" && ev.Code != engine.CodeGatewayTimeout && wire.Classify(ev.Code) != scenarios.ClassThrottled {
			f.deployment(ev.Deployment).failed++
		}
	}
}

// streamedAnswer counts a streamed answer's speed after its first token:
// tokens over the time from the first token to the end.
func (f *figuresOf) streamedAnswer(tenant, deployment string, tokens int, d time.Duration) {
	if d <= 0 || tokens <= 0 {
		return
	}
	for _, fig := range []*figures{f.tenant(tenant), f.deployment(deployment)} {
		fig.streamedTokens += tokens
		fig.streamedFor += d
	}
}

// figuresView draws the live figures: per tenant, then per deployment, the
// success rate, the rate achieved over the last minute against the limit,
// latency percentiles, and what was refused, throttled or failed. Where
// the width is short, whole columns go, the least needed first; a number
// or a name is never cut.
func figuresView(f *figuresOf, levels []engine.BucketLevel, now time.Duration, st Styles, width, height int) string {
	limit := map[engine.BucketID]string{}
	for _, l := range levels {
		limit[l.ID] = l.RPM.String()
	}
	var rows [][]string
	streamed := false
	for _, group := range [][]*figures{f.tenants, f.deployments} {
		for _, fig := range group {
			streamed = streamed || fig.ttft.n > 0
		}
	}
	for _, group := range [][]*figures{f.tenants, f.deployments} {
		for _, fig := range group {
			ok := "–"
			if rate, known := fig.successRate(); known {
				ok = fmt.Sprintf("%.1f%%", rate)
			}
			per := fmt.Sprint(fig.lastMinute.total(now))
			if l := limit[fig.bucket]; l != "" && l != "unlimited" {
				per += "/" + l
			}
			p := func(q float64) string {
				if d, known := fig.latency.quantile(q); known {
					return seconds(d)
				}
				return "–"
			}
			refused := fmt.Sprint(fig.refused)
			if fig.isDeployment {
				refused = "–" // a deployment refuses nothing: the pick passes it over
			}
			tpm := tokenCount(fig.tokens.total(now))
			if l := limit[fig.bucket+engine.TPMSuffix]; l != "" && l != "unlimited" {
				tpm += "/" + l
			}
			ttft := "–"
			if d, known := fig.ttft.quantile(0.5); known {
				d95, _ := fig.ttft.quantile(0.95)
				d99, _ := fig.ttft.quantile(0.99)
				ttft = seconds(d) + "/" + seconds(d95) + "/" + seconds(d99)
				if fig.streamedFor > 0 {
					ttft += fmt.Sprintf(" %.0f/s", float64(fig.streamedTokens)/fig.streamedFor.Seconds())
				}
			}
			rows = append(rows, []string{string(fig.bucket), ok, per, tpm, ttft, p(0.5), p(0.95), p(0.99), refused, fmt.Sprint(fig.throttled), fmt.Sprint(fig.failed)})
		}
	}
	heads := []string{"", "ok", "/min", "tok/min", "ttft p50/95/99 tok/s", "p50", "p95", "p99", "refused", "thrott.", "failed"}
	widths := make([]int, len(heads))
	for c, h := range heads {
		widths[c] = len([]rune(h))
		for _, r := range rows {
			widths[c] = max(widths[c], len([]rune(r[c])))
		}
	}
	// Columns in the order they go when the width is short.
	keep := []bool{true, true, true, true, streamed, true, true, true, true, true, true}
	total := func() int {
		n := 0
		for c, w := range widths {
			if keep[c] {
				n += w + 1
			}
		}
		return n
	}
	for _, drop := range []int{3, 7, 4, 6, 8, 9} { // tok/min, p99, ttft, p95, refused, throttled
		if total() <= width {
			break
		}
		keep[drop] = false
	}
	line := func(cells []string) string {
		var b strings.Builder
		for c, cell := range cells {
			if !keep[c] {
				continue
			}
			if c == 0 {
				fmt.Fprintf(&b, "%-*s ", widths[c], cell)
			} else {
				fmt.Fprintf(&b, "%*s ", widths[c], cell)
			}
		}
		return fit(strings.TrimRight(b.String(), " "), width)
	}
	title := "Live figures · ok % · requests in the last minute / limit · latency"
	if keep[3] {
		title = "Live figures · ok % · requests and tokens in the last minute / limit · latency"
	}
	lines := []string{
		st.Bold.Render(fit(title, width)),
		st.Dim.Render(line(heads)),
	}
	for _, r := range rows {
		lines = append(lines, line(r))
	}
	return block(lines, width, height)
}
