package emulator

import (
	"fmt"
	"testing"
	"time"

	"spillway/engine/simaws/fleet"
	"spillway/scenarios"
)

// pollRate is the calls a second of the benchmarks' runs: 600 a minute.
const pollRate = 10

// pollEvery is how often the benchmarks' engine polls, in simulated time.
const pollEvery = 5 * time.Second

// arrive logs calls first … first+n-1 of a run at pollRate calls a second,
// straight into the fleet.
func arrive(b *testing.B, h *handlerHarness, first, n int) {
	for i := first; i < first+n; i++ {
		at := runStart.Add(time.Duration(i) * time.Second / pollRate)
		model := []string{sonnet4, sonnet37}[i%2]
		if r := h.s.fleet.Invoke(at, fleet.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: model,
			Operation: scenarios.OpConverse, Prompt: "x", MaxTokens: 100}); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// variants are the emulator with running counts and the one before them,
// which scans every record at every poll.
var variants = []struct {
	name    string
	running bool
}{{"running", true}, {"full-scan", false}}

// BenchmarkRegionPoll is one poll of the engine's Region query, with the
// 50 calls of the 5 s since the last poll new, over a log that already
// holds stored records. With running counts its cost stays flat as the log
// grows; a full scan's grows with it.
func BenchmarkRegionPoll(b *testing.B) {
	for _, stored := range []int{10_000, 100_000, 400_000} {
		for _, v := range variants {
			b.Run(fmt.Sprintf("stored=%dk/%s", stored/1000, v.name), func(b *testing.B) {
				h := newHandlerHarness(b, 1, Options{})
				if !v.running {
					h.s.logs.running = nil
				}
				arrive(b, h, 0, stored)
				start := runStart.Unix() - 60
				now := runStart.Add(time.Duration(stored/pollRate) * time.Second)
				h.query(regionQuery, start, now.Unix()+1, now, now) // the polls so far
				next := stored
				examined := 0
				if v.running {
					examined = h.examined()
				}
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					perPoll := int(pollEvery.Seconds()) * pollRate
					arrive(b, h, next, perPoll)
					next += perPoll
					now = now.Add(pollEvery)
					b.StartTimer()
					h.query(regionQuery, start, now.Unix()+1, now, now)
				}
				if v.running {
					b.ReportMetric(float64(h.examined()-examined)/float64(b.N), "records-read/poll")
				}
			})
		}
	}
}

// BenchmarkHourOfRegionPolls is the engine's poll series of a one-hour run
// at 600 calls a minute: 36,000 records, a poll every 5 simulated seconds.
// poll-ms/run is the time the 720 polls take, without the calls.
func BenchmarkHourOfRegionPolls(b *testing.B) {
	const polls = int(time.Hour / pollEvery)
	perPoll := int(pollEvery.Seconds()) * pollRate
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			var polling time.Duration
			for b.Loop() {
				h := newHandlerHarness(b, 1, Options{})
				if !v.running {
					h.s.logs.running = nil
				}
				start := runStart.Unix() - 60
				for poll := range polls {
					arrive(b, h, poll*perPoll, perPoll)
					now := runStart.Add(time.Duration(poll+1) * pollEvery)
					began := time.Now()
					h.query(regionQuery, start, now.Unix()+1, now, now)
					polling += time.Since(began)
				}
			}
			b.ReportMetric(float64(polling.Milliseconds())/float64(b.N), "poll-ms/run")
		})
	}
}
