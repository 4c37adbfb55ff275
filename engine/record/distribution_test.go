package record

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// withinStatedError reports whether got is what Distribution promises for
// exact: within RelativeAccuracy of it, then rounded to decimals.
func withinStatedError(got, exact float64, decimals int) bool {
	rounding := 0.5 / math.Pow10(decimals)
	return math.Abs(got-exact) <= RelativeAccuracy*math.Abs(exact)+rounding+1e-9
}

// nearestRank is the exact percentile the summary reported before it used
// a sketch: the smallest value with at least p of the values at or below
// it.
func nearestRank(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[max(0, rank-1)]
}

// onGrid rounds to the record's resolution, as the values the summary
// sees are.
func onGrid(v float64) float64 { return math.Round(v*1000) / 1000 }

func distributions() map[string][]float64 {
	rng := rand.New(rand.NewPCG(7, 11))
	draw := func(n int, f func() float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = onGrid(f())
		}
		return v
	}
	return map[string][]float64{
		"one":   {1234.567},
		"two":   {980.5, 15.25},
		"three": {3, 1, 2},
		// In one bucket of the sketch, whose value lies beyond them.
		"close together": {1000.001, 1000.002, 1000.003, 1000.004},
		"ten":            draw(10, func() float64 { return 100 + 9900*rng.Float64() }),
		"twenty":         draw(20, func() float64 { return rng.ExpFloat64() * 800 }),
		"uniform":        draw(20_000, func() float64 { return 50 + 9950*rng.Float64() }),
		// Latencies as a model spreads them: median 2 s, a long right tail.
		"lognormal": draw(20_000, func() float64 { return math.Exp(math.Log(2000) + 0.8*rng.NormFloat64()) }),
		// Pareto with shape 1.1: most answers quick, a few minutes long.
		"heavy tail": draw(20_000, func() float64 { return 200 / math.Pow(1-rng.Float64(), 1/1.1) }),
		// Sub-millisecond times, where rounding to the microsecond is
		// most of the error.
		"tiny": draw(1000, func() float64 { return 0.001 + 0.2*rng.Float64() }),
		// One value repeated, and a few outliers.
		"ties": append(slices.Repeat([]float64{500}, 990), draw(10, func() float64 { return 60_000 * rng.Float64() })...),
	}
}

var testedPercentiles = []float64{0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1}

func TestPercentilesAreWithinTheStatedErrorOfNearestRank(t *testing.T) {
	for name, values := range distributions() {
		d := NewDistribution(TimeDecimals)
		for _, v := range values {
			d.Add(v)
		}
		sorted := slices.Sorted(slices.Values(values))
		if d.Count() != len(values) || d.Max() != sorted[len(sorted)-1] {
			t.Errorf("%s: count %d, max %v; want %d, %v", name, d.Count(), d.Max(), len(values), sorted[len(sorted)-1])
		}
		for _, p := range testedPercentiles {
			got, exact := d.Percentile(p), nearestRank(sorted, p)
			if !withinStatedError(got, exact, TimeDecimals) {
				t.Errorf("%s (n=%d): p%v = %v, nearest rank %v: off by %.3f%%", name, len(values), 100*p, got, exact, 100*math.Abs(got-exact)/exact)
			}
			if got < sorted[0] || got > sorted[len(sorted)-1] {
				t.Errorf("%s (n=%d): p%v = %v, outside the values seen [%v, %v]", name, len(values), 100*p, got, sorted[0], sorted[len(sorted)-1])
			}
			// The smallest and largest ranks are exact, so a handful of
			// values gives back values that were seen.
			if rank := int(math.Ceil(p * float64(len(values)))); (rank <= 1 || rank == len(values)) && got != exact {
				t.Errorf("%s (n=%d): p%v = %v, want exactly %v", name, len(values), 100*p, got, exact)
			}
		}
	}
}

// The record's promise: the same values give the same percentiles, to the
// last bit, whatever order they came in.
func TestPercentilesDoNotDependOnOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, values := range distributions() {
		var want []float64
		for try := range 5 {
			d := NewDistribution(TimeDecimals)
			for _, v := range values {
				d.Add(v)
			}
			var got []float64
			for _, p := range testedPercentiles {
				got = append(got, d.Percentile(p))
			}
			if try == 0 {
				want = got
			} else if !slices.Equal(got, want) {
				t.Fatalf("%s: %v in one order, %v in another", name, want, got)
			}
			rng.Shuffle(len(values), func(i, j int) { values[i], values[j] = values[j], values[i] })
		}
	}
}

func TestAnEmptyDistributionIsZero(t *testing.T) {
	d := NewDistribution(TimeDecimals)
	d.Add(math.NaN())
	if d.Count() != 0 || d.Max() != 0 || d.Percentile(0.5) != 0 || d.Percentile(1) != 0 {
		t.Fatalf("count %d, max %v, p50 %v", d.Count(), d.Max(), d.Percentile(0.5))
	}
}

func TestPercentilesRoundToTheirDecimals(t *testing.T) {
	d := NewDistribution(RateDecimals)
	for i := range 100 {
		d.Add(10 + float64(i)*0.37)
	}
	for _, p := range testedPercentiles[1:8] {
		if v := d.Percentile(p); fmt.Sprint(v) != fmt.Sprint(math.Round(v*10)/10) {
			t.Errorf("p%v = %v, not to one decimal", 100*p, v)
		}
	}
}
