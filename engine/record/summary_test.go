package record_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/record"
)

// exactSummary is the summary as the recorder computed it when it kept
// every record: from all of them at once, percentiles by nearest rank on
// the sorted values.
func exactSummary(info engine.RunInfo, polls map[string]engine.RegionPoll, requests []record.Request) record.Summary {
	s := record.Summary{Planned: info.Planned, Requests: len(requests), ByDeployment: map[string]int{},
		ByTenant: map[string]*record.TenantSummary{}, ByAccount: map[string]*record.AccountSummary{},
		Regions: map[string]map[string]int{}, Logs: map[string]record.LogStatus{},
		Tokens: record.Tokens{ByDeployment: map[string]*record.DeploymentTokens{}}}
	for _, b := range info.Buckets {
		if name, ok := strings.CutPrefix(string(b.ID), engine.DeploymentBucket); ok && !b.ID.Tokens() {
			s.ByDeployment[name] = 0
		}
	}
	var lastEnd float64
	var ttft, tps []float64
	tenantMS, accountMS := map[string][]float64{}, map[string][]float64{}
	broken := map[string]int{}
	for _, q := range requests {
		for _, a := range q.Attempts {
			if a.StreamOutcome != "" && a.StreamOutcome != "complete" && a.TTFTMS > 0 {
				broken[a.StreamOutcome]++
			}
			s.Tokens.Reserved += a.ReservedTokens
		}
		if q.Outcome == record.OutcomeSucceeded && q.TTFTMS > 0 {
			ttft = append(ttft, q.TTFTMS)
			if a := q.Attempts[len(q.Attempts)-1]; a.EndMS-a.StartMS > q.TTFTMS {
				tps = append(tps, math.Round(float64(a.StreamedTokens)/((a.EndMS-a.StartMS-q.TTFTMS)/1000)*10)/10)
			}
		}
		t := s.ByTenant[q.Tenant]
		if t == nil {
			t = &record.TenantSummary{}
			s.ByTenant[q.Tenant] = t
		}
		t.Requests++
		lastEnd = max(lastEnd, q.EndMS)
		var a *record.AccountSummary
		if q.Account != "" {
			if a = s.ByAccount[q.Account]; a == nil {
				a = &record.AccountSummary{}
				s.ByAccount[q.Account] = a
			}
			a.Requests++
		}
		switch q.Outcome {
		case record.OutcomeSucceeded:
			s.Succeeded++
			t.Succeeded++
			tenantMS[q.Tenant] = append(tenantMS[q.Tenant], q.LatencyMS)
			a.Succeeded++
			accountMS[q.Account] = append(accountMS[q.Account], q.LatencyMS)
			s.ByDeployment[q.Deployment]++
			s.Tokens.Input += q.InputTokens
			s.Tokens.Output += q.OutputTokens
			dt := s.Tokens.ByDeployment[q.Deployment]
			if dt == nil {
				dt = &record.DeploymentTokens{}
				s.Tokens.ByDeployment[q.Deployment] = dt
			}
			dt.Input += q.InputTokens
			dt.Output += q.OutputTokens
			if q.Fallback {
				s.FellBack++
			}
		case record.OutcomeRateLimited:
			s.RateLimited++
			t.RateLimited++
		case record.OutcomeFailed:
			s.Failed++
			t.Failed++
			if a != nil {
				a.Failed++
			}
		case record.OutcomeCancelled:
			s.Cancelled++
			t.Cancelled++
		}
	}
	for name, t := range s.ByTenant {
		t.Latency = exactLatency(tenantMS[name])
		if t.Requests > 0 {
			t.SuccessRate = math.Round(1000*float64(t.Succeeded)/float64(t.Requests)) / 10
		}
	}
	for name, a := range s.ByAccount {
		a.Latency = exactLatency(accountMS[name])
	}
	if len(ttft) > 0 || len(broken) > 0 {
		s.Streaming = &record.Streaming{Requests: len(ttft), TTFT: exactPercentiles(ttft), TokensPerSecond: exactPercentiles(tps), Broken: broken}
	}
	if minutes := lastEnd / 60_000; minutes > 0 {
		perMinute := func(n int) float64 { return math.Round(float64(n)/minutes*10) / 10 }
		s.Tokens.TPM = perMinute(s.Tokens.Input + s.Tokens.Output)
		for _, dt := range s.Tokens.ByDeployment {
			dt.TPM = perMinute(dt.Input + dt.Output)
		}
	}
	for acct, p := range polls {
		counts := map[string]int{}
		for _, c := range p.Counts {
			counts[c.Region] = c.Count
		}
		s.Regions[acct] = counts
		s.Logs[acct] = record.LogStatus{Unaccounted: p.Unaccounted, TimedOut: p.TimedOut, Error: p.Error}
	}
	return s
}

func exactLatency(ms []float64) record.Latency {
	if len(ms) == 0 {
		return record.Latency{}
	}
	sorted := slices.Sorted(slices.Values(ms))
	sum := 0.0
	for _, v := range sorted {
		sum += v
	}
	return record.Latency{Avg: math.Round(sum/float64(len(sorted))*1000) / 1000,
		P50: nearestRank(sorted, 0.5), P95: nearestRank(sorted, 0.95), Max: sorted[len(sorted)-1]}
}

func exactPercentiles(v []float64) record.Percentile {
	if len(v) == 0 {
		return record.Percentile{}
	}
	sorted := slices.Sorted(slices.Values(v))
	return record.Percentile{P50: nearestRank(sorted, 0.5), P95: nearestRank(sorted, 0.95), P99: nearestRank(sorted, 0.99)}
}

func nearestRank(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[max(0, rank-1)]
}

// sameButPercentiles compares got with the exact summary: every count and
// total equal, every average within a microsecond (the exact one sums
// floats, whose rounding depends on their order), every percentile within
// RelativeAccuracy and rounding. It returns what differs.
func sameButPercentiles(got, exact record.Summary) []string {
	var diffs []string
	close := func(what string, got, exact float64, decimals int) {
		if math.Abs(got-exact) > record.RelativeAccuracy*math.Abs(exact)+0.5/math.Pow10(decimals)+1e-9 {
			diffs = append(diffs, fmt.Sprintf("%s: %v, exactly %v", what, got, exact))
		}
	}
	latency := func(scope string, got, exact *record.Latency) {
		close(scope+" p50", got.P50, exact.P50, record.TimeDecimals)
		close(scope+" p95", got.P95, exact.P95, record.TimeDecimals)
		if math.Abs(got.Avg-exact.Avg) > 0.001+1e-9 {
			diffs = append(diffs, fmt.Sprintf("%s avg: %v, exactly %v", scope, got.Avg, exact.Avg))
		}
		exact.P50, exact.P95, exact.Avg = got.P50, got.P95, got.Avg
	}
	for name, t := range exact.ByTenant {
		if g := got.ByTenant[name]; g != nil {
			latency("tenant "+name, &g.Latency, &t.Latency)
		}
	}
	for name, a := range exact.ByAccount {
		if g := got.ByAccount[name]; g != nil {
			latency("account "+name, &g.Latency, &a.Latency)
		}
	}
	if g, e := got.Streaming, exact.Streaming; g != nil && e != nil {
		for _, m := range []struct {
			what      string
			got, want *record.Percentile
			decimals  int
		}{{"TTFT", &g.TTFT, &e.TTFT, record.TimeDecimals}, {"tokens/s", &g.TokensPerSecond, &e.TokensPerSecond, record.RateDecimals}} {
			close(m.what+" p50", m.got.P50, m.want.P50, m.decimals)
			close(m.what+" p95", m.got.P95, m.want.P95, m.decimals)
			close(m.what+" p99", m.got.P99, m.want.P99, m.decimals)
			*m.want = *m.got
		}
	}
	gotJSON, _ := json.Marshal(got)
	exactJSON, _ := json.Marshal(exact)
	if !bytes.Equal(gotJSON, exactJSON) {
		diffs = append(diffs, fmt.Sprintf("counts differ:\n got %s\nwant %s", gotJSON, exactJSON))
	}
	return diffs
}

// The summary kept up to date as requests finish is, at any moment of a
// run, the one computed from every record: counts and totals exactly,
// percentiles within the stated error.
func TestSummaryIsTheExactOneWithinTheStatedError(t *testing.T) {
	f := enginetest.Load(t, "../../scenarios.toml")
	for _, name := range []string{"tuning", "stream-cut", "quota-isolation", "account-sharding", "throttle-storm", "noisy-neighbour"} {
		t.Run(name, func(t *testing.T) {
			run := enginetest.NewRun(t, f, name, engine.Options{Seed: 42})
			if err := run.Record.KeepTimeline(t.TempDir()); err != nil {
				t.Fatal(err)
			}
			defer run.Record.Close()
			var events, checks, withPending int
			check := func() {
				requests := run.Record.Requests()
				got, exact := run.Record.Summary(), exactSummary(run.Record.Info(), run.Record.Polls(), requests)
				if diffs := sameButPercentiles(got, exact); len(diffs) > 0 {
					t.Fatalf("after %d events:\n%s", events, strings.Join(diffs, "\n"))
				}
				checks++
				if slices.ContainsFunc(requests, func(q record.Request) bool { return q.Outcome == record.OutcomePending }) {
					withPending++
				}
			}
			run.Engine.Subscribe(engine.SinkFunc(func(ev engine.Event) {
				if events++; events%40 == 0 {
					check()
				}
			}))
			sum := run.Do(t)
			check()
			if sum.Succeeded == 0 || withPending == 0 {
				t.Fatalf("%d successes, %d of %d checks with requests in flight: the test checked too little", sum.Succeeded, withPending, checks)
			}
		})
	}
}

// Spooled or kept in memory, the records export the same bytes, and come
// back the same, at any moment of a run.
func TestSpooledRecordsExportAsInMemory(t *testing.T) {
	spooled, kept := record.New(record.Meta{Backend: "simulated"}), record.New(record.Meta{Backend: "simulated"})
	if err := spooled.SpoolRequests(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	defer spooled.Close()
	var events, compared int
	compare := func() {
		t.Helper()
		var a, b bytes.Buffer
		if err := spooled.Encode(&a); err != nil {
			t.Fatal(err)
		}
		if err := kept.Encode(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("after %d events the exports differ", events)
		}
		if !reflect.DeepEqual(spooled.Requests(), kept.Requests()) {
			t.Fatalf("after %d events the records read back differ", events)
		}
		compared++
	}
	syntheticRun(func(ev engine.Event) {
		spooled.Handle(ev)
		kept.Handle(ev)
		if events++; events%997 == 0 {
			compare()
		}
	}, 3000, 5)
	compare()
	var doc struct{ Requests []record.Request }
	var buf bytes.Buffer
	spooled.Encode(&buf)
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || len(doc.Requests) != 3000 {
		t.Fatalf("%d requests, %v", len(doc.Requests), err)
	}
	for i, q := range doc.Requests {
		if q.ID != i+1 {
			t.Fatalf("request %d is at position %d", q.ID, i+1)
		}
	}
}
