package scenarios

import (
	"fmt"
	"time"
)

// The limits below keep a scenario file, whoever wrote it, from exhausting
// the machine or the tool: no file is read without end, no structure costs
// the decoder more than linear time, and no number or duration overflows
// when the engine adds or multiplies it. Each is far beyond any real
// experiment.

// MaxFileSize caps a scenario file. Real files are a few KB; a cap keeps
// /dev/zero, a log file given by mistake or a generated monster from
// filling memory.
const MaxFileSize = 4 << 20

// MaxNesting is how many levels deep a key, table header or value may sit.
// Every part of a table header or dotted key counts one, and so does every
// array and inline table. Real scenarios nest about 4 levels; the TOML
// decoder's cost grows with the square of the depth, and its stack with
// the depth, so absurd nesting is refused before decoding.
const MaxNesting = 32

// MaxKeyLength bounds each part of a key, such as a quoted table name.
// The decoder stores every key's full dotted path, so one long table name
// over many keys costs it the product: a 1 MB name over 20,000 keys took
// it 113 s and 19.7 GB. Spillway's own keys are at most 16 bytes, and the
// keys a user chooses are Region names.
const MaxKeyLength = 64

// MaxKeyLevels bounds the sum, over every key in a file, of the levels it
// spans: "a = 1" counts 1, and a.b.c under [t] counts 2 + 3 + 4, since
// the decoder makes a table of each part. The TOML decoder's time and
// memory grow with this sum even within MaxNesting: a 4 MiB file of keys
// nested 32 deep sums to 15 million and took it 17 s and 2.2 GB. The
// built-in scenarios.toml (13 KB) sums to 919, so a file of that shape
// stays within the limit up to MaxFileSize.
const MaxKeyLevels = 500_000

// MaxErrors is how many errors a file reports; a count of the rest follows,
// so that a huge broken file still gives a readable answer.
const MaxErrors = 20

// Upper bounds of durations. A wait (a gap, backoff, cooldown, timeout or
// log delay) is at most an hour, and so is one call's latency, Bedrock's
// longest read timeout. A run's schedule (arrivals, fault windows) spans at
// most a week of simulated time, longer than MaxRequests lasts at any rate
// worth watching. Together they keep every sum the engine forms, such as
// a backoff doubled 20 times, far from time.Duration's 292 years.
const (
	MaxLatency = time.Hour
	MaxWait    = time.Hour
	MaxSpan    = 7 * 24 * time.Hour
)

// Polling the invocation logs: CloudWatch Logs throttles StartQuery well
// before one a second, so polls are at least MinPollEvery apart, and a run
// plans at most MaxLogPolls of them: PlannedSpan / poll_every.
const (
	MinPollEvery = time.Second
	MaxLogPolls  = 100_000
)

// MaxRetries bounds a gateway's retries: the engine waits backoff × 2^n
// before retry n, and MaxWait doubled 20 times still fits in a
// time.Duration; doubled 21 times it would not.
const MaxRetries = 20

// Bounds of numbers that are not counts.
const (
	// MaxWeight bounds a deployment's shuffle weight, so that a group's
	// weights add up to a finite sum.
	MaxWeight = 1_000_000
	// MaxSlowdown bounds a latency fault's factor. Faults that overlap
	// multiply, so the product of a scenario's factors above 1 is bounded
	// too, by MaxSlowdown²: an hour's latency slowed that much still fits
	// in a time.Duration many times over.
	MaxSlowdown = 100
	// MinRate and MaxRate bound a constant or Poisson tenant's requests per
	// minute: the gap between arrivals is at most 1000 minutes and at least
	// 60 µs.
	MinRate = 0.001
	MaxRate = 1_000_000
)

// PlannedSpan is how long a run of s is planned to last in simulated time:
// until the last arrival of any tenant, then logs.timeout more for the
// invocation logs. Requests still in flight can make a run longer.
func (s *Scenario) PlannedSpan() time.Duration {
	return s.LastArrival() + s.Logs.Timeout
}

// LastArrival is when the last tenant stops sending: a burst's last
// request, or the end of a constant or Poisson tenant's duration.
func (s *Scenario) LastArrival() time.Duration {
	var last time.Duration
	for _, t := range s.Tenants {
		last = max(last, t.lastArrival())
	}
	return last
}

func (t Tenant) lastArrival() time.Duration {
	if t.Arrival == Burst {
		return time.Duration(max(t.Requests-1, 0)) * t.Stagger
	}
	return t.Duration
}

// slowdowns bounds the latency faults' factors together: where faults
// overlap their factors multiply, and an hour's latency multiplied without
// bound overflows into a negative duration. Whether they overlap is not
// checked; no real scenario needs a slowdown of ×MaxSlowdown² in all.
func (c *checker) slowdowns(path string, faults []Fault) {
	if i, product := slowdownPast(faults); i >= 0 {
		c.fail(fmt.Sprintf("%s.fault[%d].factor", path, i),
			"latency faults multiply where they overlap: with this one they come to ×%g, over the ×%g limit for all of a scenario's latency faults together; lower a factor",
			product, float64(maxSlowdownProduct))
	}
}

// maxSlowdownProduct bounds the latency factors of faults taken together.
const maxSlowdownProduct = MaxSlowdown * MaxSlowdown

// slowdownPast multiplies the latency factors above 1 of faults, in order,
// and returns the index of the fault that takes the product past
// maxSlowdownProduct, with the product then; -1 if none does.
func slowdownPast(faults []Fault) (int, float64) {
	product := 1.0
	for i, f := range faults {
		if f.Kind != SlowDown || f.Factor <= 1 {
			continue
		}
		if product *= f.Factor; product > maxSlowdownProduct {
			return i, product
		}
	}
	return -1, product
}

// logPolls bounds how many times a run polls the invocation logs: on AWS
// each poll is a StartQuery call, and a run that polls without end never
// finishes.
func (c *checker) logPolls(path string, s *Scenario) {
	span, every := s.PlannedSpan(), s.Logs.PollEvery
	polls := int64(span / every)
	if polls <= MaxLogPolls {
		return
	}
	fits := ((span-1)/MaxLogPolls/time.Second + 1) * time.Second // rounded up to whole seconds
	c.fail(path+".logs.poll_every",
		"polling every %s for the run's planned %s (arrivals until %s, then logs.timeout %s) is %d log queries, over the limit of %d; use poll_every = %q or longer",
		FormatDuration(every), FormatDuration(span), FormatDuration(s.LastArrival()), FormatDuration(s.Logs.Timeout), polls, MaxLogPolls, FormatDuration(fits))
}

// runLoad bounds the requests a run sends in all, as MaxRequests bounds
// a tenant's.
func (c *checker) runLoad(path string, tenants []Tenant) {
	total := 0
	for i, t := range tenants {
		n := t.Expected()
		if n > MaxRequests {
			continue // reported on its own
		}
		if total += n; total > MaxRequests {
			key := ".rate"
			if t.Arrival == Burst {
				key = ".requests"
			}
			c.fail(fmt.Sprintf("%s.tenant[%d]%s", path, i, key),
				"the scenario's tenants send %d requests in all with this one, over the limit of %d for a run; lower requests or rate", total, MaxRequests)
			return
		}
	}
}
