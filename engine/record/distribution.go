package record

import (
	"math"

	"github.com/DataDog/sketches-go/ddsketch"
)

// RelativeAccuracy bounds the error of every percentile the summary
// reports: each is within 0.5 % of the exact nearest-rank percentile, then
// rounded to its measure's decimals (TimeDecimals, RateDecimals). The
// lowest and the highest rank are exact: p50 of one or two values, and a
// p95 or p99 that is the largest value, are the values themselves.
const RelativeAccuracy = 0.005

// Decimals the summary's figures are rounded to.
const (
	TimeDecimals = 3 // milliseconds to the microsecond, as the record keeps times
	RateDecimals = 1 // tokens per second
)

// Distribution gathers a measure's values for its percentiles in memory
// that does not grow with their number: a DDSketch counts them in buckets
// whose bounds are 1 ± RelativeAccuracy apart, a few kilobytes for values
// spanning milliseconds to hours. Its answers depend only on which values
// were added, not on their order, so a run's summary is the same however
// its requests interleave, and a record read back gives the same
// percentiles as the run printed. Count, minimum and maximum are exact.
type Distribution struct {
	sketch   *ddsketch.DDSketch
	scale    float64 // 10^decimals
	n        int
	min, max float64
}

// NewDistribution returns an empty distribution whose percentiles are
// rounded to decimals.
func NewDistribution(decimals int) *Distribution {
	sketch, err := ddsketch.LogUnboundedDenseDDSketch(RelativeAccuracy)
	if err != nil {
		panic(err) // only for an accuracy outside (0, 1)
	}
	return &Distribution{sketch: sketch, scale: math.Pow10(decimals)}
}

// Add counts v. A value the sketch cannot hold, NaN or beyond ±1e308, is
// left out.
func (d *Distribution) Add(v float64) {
	if d.sketch.Add(v) != nil {
		return
	}
	if d.n == 0 {
		d.min, d.max = v, v
	}
	d.min, d.max = min(d.min, v), max(d.max, v)
	d.n++
}

// Count is how many values were added.
func (d *Distribution) Count() int { return d.n }

// Max is the largest value, exactly; 0 without values.
func (d *Distribution) Max() float64 { return d.max }

// Percentile estimates the nearest-rank p-th percentile, p in [0, 1]: the
// smallest value with at least p of the values at or below it. The
// estimate is within RelativeAccuracy of it, then rounded to the
// distribution's decimals; 0 without values.
func (d *Distribution) Percentile(p float64) float64 {
	if d.n == 0 {
		return 0
	}
	// The nearest rank, counted from 0, as the summary always took it.
	k := max(0, int(math.Ceil(p*float64(d.n)))-1)
	switch {
	case k == 0:
		return d.min
	case k >= d.n-1:
		return d.max
	}
	// The sketch's quantile q stands for rank q·(n−1) and answers with the
	// bucket where the running count first exceeds that rank, so its own
	// p95 of ten values is the ninth, not the nearest rank's tenth. Asking
	// for rank k + ½ lands on the bucket that holds the k-th value, clear
	// of the rounding in q·(n−1).
	v, err := d.sketch.GetValueAtQuantile((float64(k) + 0.5) / float64(d.n-1))
	if err != nil {
		return d.max // unreachable: the sketch holds n values and q < 1
	}
	// The bucket's value may lie a little outside the values seen; the
	// true percentile does not.
	v = min(max(v, d.min), d.max)
	return math.Round(v*d.scale) / d.scale
}
