package emulator_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"spillway/engine"
	"spillway/engine/bedrock"
	"spillway/engine/simaws/emulator"
	"spillway/scenarios"
)

// boundedRun is five minutes of one call every half second over a
// cross-Region profile, its histogram polled every 5 s: 600 records, far
// more than the 100 TestARunsHistogramIsTheSameWhenOldLogsAreDropped keeps.
const boundedRun = `
[[scenario]]
name = "bounded"
title = "Five minutes at 120 RPM"

  [[scenario.account]]
  name = "acct"
  quota_rpm = 100000

  [[scenario.deployment]]
  name = "d"
  model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
  rpm = "unlimited"

  [[scenario.tenant]]
  name = "app"
  rpm = "unlimited"
  arrival = "constant"
  rate = 120
  duration = "5m"

  [scenario.logs]
  delay = "10s"
  poll_every = "5s"
`

// endOfTime sees every record, whatever its ingestion delay.
var endOfTime = time.Unix(0, math.MaxInt64)

// The engine's Region histogram counts every call since the run began, poll
// by poll, though the emulator drops old records as it goes: each poll's
// running counts keep what they counted.
func TestARunsHistogramIsTheSameWhenOldLogsAreDropped(t *testing.T) {
	f, err := scenarios.Parse("bounded.toml", []byte(boundedRun))
	if err != nil {
		t.Fatal(err)
	}
	s := f.Scenarios[0]
	const kept = 100
	everything, unbounded := histograms(t, s, emulator.Options{})
	bounded, emu := histograms(t, s, emulator.Options{MaxLogRecords: kept})
	if n := len(emu.Fleet().Records("acct", s.Logs.Group, endOfTime)); n != kept {
		t.Fatalf("the bounded emulator holds %d records, want %d: expiry never happened", n, kept)
	}
	if len(everything) < 50 || !slices.Equal(bounded, everything) {
		t.Fatalf("the histograms differ:\nbounded  %v\nkept all %v", bounded, everything)
	}
	all := map[string]int{}
	for _, r := range unbounded.Fleet().Records("acct", s.Logs.Group, endOfTime) {
		all[r.InferenceRegion]++
	}
	if last := everything[len(everything)-1]; len(all) < 2 || last != fmt.Sprint(all) {
		t.Fatalf("the last poll counted %s; the log holds %v", last, all)
	}
}

// histograms runs s on simulated time against an emulator with opts, and
// returns every poll's histogram and the emulator.
func histograms(t *testing.T, s *scenarios.Scenario, opts emulator.Options) ([]string, *emulator.Server) {
	t.Helper()
	emu := emulator.New(s, nil, 42, epoch, opts)
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	keys := func(a scenarios.Account) aws.CredentialsProvider {
		return credentials.NewStaticCredentialsProvider(emulator.AccessKeyID(a.Name), emulator.SecretAccessKey, "")
	}
	client, err := bedrock.Connect(context.Background(), s, bedrock.Target{Endpoint: url, Virtual: true, Credentials: keys})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(s, engine.Options{Seed: 42, Speed: math.Inf(1), Backend: client, Logs: client})
	if err != nil {
		t.Fatal(err)
	}
	var polls []string
	eng.Subscribe(engine.SinkFunc(func(ev engine.Event) {
		if ev.Kind == engine.RegionsPolled {
			if ev.Regions.Error != "" {
				t.Errorf("poll at %v: %s", ev.At, ev.Regions.Error)
			}
			polls = append(polls, fmt.Sprint(countsOf(ev.Regions.Counts)))
		}
	}))
	if err := eng.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return polls, emu
}

func countsOf(counts []engine.RegionCount) map[string]int {
	out := map[string]int{}
	for _, c := range counts {
		out[c.Region] += c.Count
	}
	return out
}
