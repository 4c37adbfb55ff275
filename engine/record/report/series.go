package report

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"spillway/engine"
	"spillway/engine/record"
)

// maxPoints bounds the points of one series: enough to see a fault's edges
// on a page-wide chart, few enough that a long run's page stays small and
// quick.
const maxPoints = 600

// minPerBin is how many requests a throughput or latency bin holds on
// average at least: with fewer, a per-second rate is mostly noise (0, 60,
// 0, 120 requests per minute) and a percentile is one request's latency.
const minPerBin = 3

// niceBins are the bin widths, in seconds, a chart may use: round numbers a
// reader can say aloud.
var niceBins = []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}

// binWidth is the narrowest nice width, at least floor seconds, that cuts
// span seconds into at most maxPoints bins.
func binWidth(span, floor float64) float64 {
	for _, w := range niceBins {
		if w >= floor && span/w <= maxPoints {
			return w
		}
	}
	// Longer than a nice width allows: a whole number of days.
	return math.Ceil(span/maxPoints/86400) * 86400
}

// axis is the time axis every chart of a report shares, so that the charts
// of one or two runs line up under each other.
type axis struct {
	End float64 // seconds; every chart spans [0, End]
	// RateBin is the width of a throughput or latency bin, SampleBin that
	// of a bucket-fill or Region-count bin (samples come each second or
	// each poll, so they need no averaging over requests).
	RateBin, SampleBin float64
}

func newAxis(runs []*record.Loaded) axis {
	end, requests := 1.0, 0
	for _, l := range runs {
		end = max(end, runEnd(l).Seconds())
		requests += len(l.Requests)
	}
	a := axis{End: end, SampleBin: binWidth(end, 1)}
	// Enough requests per bin on average, over the runs shown.
	perRun := float64(requests) / float64(max(1, len(runs)))
	a.RateBin = binWidth(end, minPerBin*end/max(1, perRun))
	return a
}

// bins is how many bins of width w cover the axis.
func (a axis) bins(w float64) int { return max(1, int(math.Ceil(a.End/w))) }

// runEnd is the latest moment a run's record knows of: its duration, or
// later when a request, an event or a fault ends after it (a record taken
// mid-run has no duration yet).
func runEnd(l *record.Loaded) time.Duration {
	end := l.Duration
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	for _, q := range l.Requests {
		end = max(end, ms(q.EndMS), ms(q.StartMS))
	}
	for _, f := range l.Faults {
		end = max(end, ms(f.EndMS), ms(f.StartMS))
	}
	if n := len(l.Events); n > 0 {
		end = max(end, l.Events[n-1].At)
	}
	return max(end, 0)
}

// series is one line of a chart, one value per bin; NaN is a bin without
// data, drawn as a gap.
type series []float64

func newSeries(n int) series {
	s := make(series, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

// MarshalJSON writes NaN as null, which JSON has and NaN is not, and keeps
// three decimals: a chart needs no more, and the page stays small.
func (s series) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(s)*4)
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, math.Round(v*1000)/1000, 'f', -1, 64)
	}
	return append(b, ']'), nil
}

// named is a series with the name its legend shows; a slice of them keeps
// the order the page draws them in, which a map would not.
type named struct {
	Name   string `json:"name"`
	Values series `json:"values"`
}

// cut blanks the bins of a series after the one its run ended in, so that
// the shorter of two runs stops there instead of showing zeros, or a count
// carried on, over the other's time.
func cut(s series, w float64, end time.Duration) {
	last := bin(float64(end)/float64(time.Millisecond), w, len(s))
	for i := last + 1; i < len(s); i++ {
		s[i] = math.NaN()
	}
}

// bin is the index of the bin that ms falls in, clamped to the axis.
func bin(ms, w float64, n int) int {
	return min(n-1, max(0, int(ms/1000/w)))
}

// outcomes are the request outcomes in the order the page stacks and
// colours them.
var outcomes = []string{record.OutcomeSucceeded, record.OutcomeRateLimited, record.OutcomeFailed, record.OutcomeCancelled}

// throughput is each outcome's requests per minute, by the bin each
// request ended in; outcomes no request had are left out. A request still
// in flight when the record was taken has no end, so no place here.
func throughput(reqs []record.Request, a axis) []named {
	w, n := a.RateBin, a.bins(a.RateBin)
	counts := map[string][]float64{}
	for _, q := range reqs {
		if !slices.Contains(outcomes, q.Outcome) {
			continue
		}
		c := counts[q.Outcome]
		if c == nil {
			c = make([]float64, n)
			counts[q.Outcome] = c
		}
		c[bin(q.EndMS, w, n)]++
	}
	var out []named
	for _, o := range outcomes {
		c := counts[o]
		if c == nil {
			continue
		}
		s := make(series, n)
		for i, v := range c {
			s[i] = v * 60 / w
		}
		out = append(out, named{Name: o, Values: s})
	}
	return out
}

// latency is p50, p95 and p99 of the end-to-end latency of the requests
// that succeeded, by the bin each started in: a fault's effect shows where
// the requests it hit were sent. Refusals are left out, as their
// near-zero latency would pull every percentile down.
func latency(reqs []record.Request, a axis) []named {
	w, n := a.RateBin, a.bins(a.RateBin)
	byBin := make([][]float64, n)
	found := false
	for _, q := range reqs {
		if q.Outcome != record.OutcomeSucceeded {
			continue
		}
		i := bin(q.StartMS, w, n)
		byBin[i] = append(byBin[i], q.LatencyMS)
		found = true
	}
	if !found {
		return nil
	}
	ps := []struct {
		name string
		p    float64
	}{{"p50", 0.50}, {"p95", 0.95}, {"p99", 0.99}}
	out := make([]named, len(ps))
	for j, p := range ps {
		out[j] = named{Name: p.name, Values: newSeries(n)}
	}
	for i, v := range byBin {
		if len(v) == 0 {
			continue
		}
		sort.Float64s(v)
		for j, p := range ps {
			out[j].Values[i] = nearestRank(v, p.p)
		}
	}
	return out
}

// nearestRank is the percentile the run's summary uses: the smallest value
// with at least p of the data at or below it.
func nearestRank(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(len(sorted)-1, max(0, rank-1))]
}

// fills is each limited bucket's fill, Available/Capacity in percent,
// from the Levels events the engine writes each simulated second. A bin
// wider than a second keeps its lowest sample, since the moment a bucket
// ran dry is what the chart is for. Unlimited buckets have no fill and are
// left out; so is a bucket without a sample. Below zero is kept: a token
// bucket settled for more than it had.
func fills(events []engine.Event, a axis) map[engine.BucketID]series {
	w, n := a.SampleBin, a.bins(a.SampleBin)
	out := map[engine.BucketID]series{}
	for _, ev := range events {
		if ev.Kind != engine.Levels {
			continue
		}
		i := bin(float64(ev.At)/float64(time.Millisecond), w, n)
		for _, lv := range ev.Levels {
			if math.IsInf(lv.Capacity, 0) || math.IsInf(lv.Available, 0) || lv.Capacity <= 0 {
				continue
			}
			s := out[lv.ID]
			if s == nil {
				s = newSeries(n)
				out[lv.ID] = s
			}
			f := 100 * lv.Available / lv.Capacity
			if math.IsNaN(s[i]) || f < s[i] {
				s[i] = f
			}
		}
	}
	return out
}

// hasLevels reports whether a record's timeline has any Levels event.
func hasLevels(events []engine.Event) bool {
	return slices.ContainsFunc(events, func(ev engine.Event) bool { return ev.Kind == engine.Levels })
}

// regionCounts is, per Region, the invocations the logs had counted so
// far, summed over the accounts, at the last poll in each bin and carried
// on until the next: cumulative, as the polls report them, because a
// count per interval would mostly say when the logs caught up.
func regionCounts(events []engine.Event, a axis) []named {
	w, n := a.SampleBin, a.bins(a.SampleBin)
	latest := map[string]map[string]int{} // account → Region → count
	totals := map[string]series{}
	polled := make([]bool, n)
	var order []string
	for _, ev := range events {
		if ev.Kind != engine.RegionsPolled || ev.Regions == nil {
			continue
		}
		counts := map[string]int{}
		for _, c := range ev.Regions.Counts {
			counts[c.Region] = c.Count
		}
		latest[ev.Regions.Account] = counts
		i := bin(float64(ev.At)/float64(time.Millisecond), w, n)
		polled[i] = true
		sum := map[string]int{}
		for _, byRegion := range latest {
			for r, c := range byRegion {
				sum[r] += c
			}
		}
		for r, c := range sum {
			s := totals[r]
			if s == nil {
				s = newSeries(n)
				totals[r] = s
				order = append(order, r)
			}
			s[i] = float64(c)
		}
	}
	sort.Strings(order)
	out := make([]named, 0, len(order))
	for _, r := range order {
		s := totals[r]
		// Carry each count on through the bins without a poll, from the
		// first poll on; a Region first seen later starts at zero there.
		last, started := math.NaN(), false
		for i := range s {
			switch {
			case !math.IsNaN(s[i]):
				last, started = s[i], true
			case polled[i] || started:
				if !started {
					last, started = 0, true
				}
				s[i] = last
			}
		}
		out = append(out, named{Name: r, Values: s})
	}
	return out
}
