package compare

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"spillway/engine"
	"spillway/engine/enginetest"
	"spillway/engine/record"
)

// req builds a request record; attempts are given as outcome@deployment.
func req(tenant, outcome, deployment string, latency float64, attempts ...string) record.Request {
	q := record.Request{Tenant: tenant, Outcome: outcome, Deployment: deployment, LatencyMS: latency, Attempts: []record.Attempt{}}
	if deployment != "" {
		q.Account = "acct-" + deployment
	}
	for _, a := range attempts {
		outcome, dep, _ := strings.Cut(a, "@")
		q.Attempts = append(q.Attempts, record.Attempt{Deployment: dep, Account: "acct-" + dep, Outcome: outcome})
	}
	return q
}

func viaFallback(q record.Request) record.Request { q.Fallback = true; return q }

// A comparison's percentiles are the summary's: the nearest rank within
// record.RelativeAccuracy, exact at the lowest and highest rank, from the
// values in any order.
func TestPercentilesAreTheSummarys(t *testing.T) {
	seq := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(n - i)
		}
		return v
	}
	within := func(got, exact float64) bool {
		return math.Abs(got-exact) <= record.RelativeAccuracy*exact+0.0005
	}
	for _, tc := range []struct {
		values        []float64
		p50, p95, p99 float64
		exact         bool // every rank asked is the lowest or the highest
	}{
		{nil, 0, 0, 0, true},
		{[]float64{7}, 7, 7, 7, true},
		{[]float64{2, 1}, 1, 2, 2, true},
		{seq(10), 5, 10, 10, false},
		{seq(20), 10, 19, 20, false},
		{seq(100), 50, 95, 99, false},
		{seq(1000), 500, 950, 990, false},
	} {
		d := record.NewDistribution(record.TimeDecimals)
		for _, v := range tc.values {
			d.Add(v)
		}
		p50, p95, p99 := percentiles(d)
		if !within(p50, tc.p50) || !within(p95, tc.p95) || !within(p99, tc.p99) ||
			tc.exact && (p50 != tc.p50 || p95 != tc.p95 || p99 != tc.p99) {
			t.Errorf("percentiles of %d values: %v %v %v, want %v %v %v within %v", len(tc.values), p50, p95, p99,
				tc.p50, tc.p95, tc.p99, record.RelativeAccuracy)
		}
	}
}

// decoded is r's record as a file would give it back.
func decoded(t *testing.T, r *record.Recorder) *record.Loaded {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	l, err := record.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestFiguresAgreeWithTheRunsOwnSummary: what a comparison says of a run
// is what the run's summary said, to the millisecond.
func TestFiguresAgreeWithTheRunsOwnSummary(t *testing.T) {
	f := enginetest.Load(t, "../../../scenarios.toml")
	for _, name := range []string{"tuning", "stream-cut", "account-sharding"} {
		run := enginetest.NewRun(t, f, name, engine.Options{Seed: 42})
		sum := run.Do(t)
		c := Runs(decoded(t, run.Record), decoded(t, run.Record))
		o := c.Overall.A
		if o.Requests != sum.Requests || o.Succeeded != sum.Succeeded || o.FellBack != sum.FellBack || o.RateLimited != sum.RateLimited ||
			o.Failed != sum.Failed || o.InputTokens != sum.Tokens.Input || o.OutputTokens != sum.Tokens.Output {
			t.Errorf("%s: overall %+v, summary %+v", name, o, sum)
		}
		for _, row := range c.Tenants {
			ts := sum.ByTenant[row.Name]
			if row.A.P50MS != ts.Latency.P50 || row.A.P95MS != ts.Latency.P95 || row.A.SuccessRate != ts.SuccessRate {
				t.Errorf("%s tenant %s: p50 %v p95 %v success %v; the summary says %v %v %v",
					name, row.Name, row.A.P50MS, row.A.P95MS, row.A.SuccessRate, ts.Latency.P50, ts.Latency.P95, ts.SuccessRate)
			}
		}
		for _, row := range c.Deployments {
			if row.A.Succeeded != sum.ByDeployment[row.Name] {
				t.Errorf("%s deployment %s served %d; the summary says %d", name, row.Name, row.A.Succeeded, sum.ByDeployment[row.Name])
			}
		}
		if st := sum.Streaming; st != nil {
			if o.Streamed != st.Requests || o.TTFTP50MS != st.TTFT.P50 || o.TTFTP95MS != st.TTFT.P95 || o.TTFTP99MS != st.TTFT.P99 {
				t.Errorf("%s: TTFT %v/%v/%v of %d, the summary says %+v", name, o.TTFTP50MS, o.TTFTP95MS, o.TTFTP99MS, o.Streamed, st)
			}
		} else if name == "stream-cut" {
			t.Errorf("stream-cut streamed nothing; the TTFT check above checked nothing")
		}
		logged := map[string]int{}
		for _, counts := range sum.Regions {
			for region, n := range counts {
				logged[region] += n
			}
		}
		for _, r := range c.Regions {
			if r.A.Invocations != logged[r.Region] {
				t.Errorf("%s: %s has %d invocations, the logs %d", name, r.Region, r.A.Invocations, logged[r.Region])
			}
		}
		if len(c.Regions) != len(logged) || len(logged) == 0 {
			t.Errorf("%s: Regions %+v, the logs %v", name, c.Regions, logged)
		}
	}
}

func TestMetricsAndDeltas(t *testing.T) {
	// The scenario declares web before batch; ops is not in it.
	buckets := []record.BucketSpec{{ID: "tenant/web"}, {ID: "tenant/batch"}, {ID: "tenant/batch/tpm"}, {ID: "deployment/primary"}}
	a := &record.Loaded{Scenario: "s", Buckets: buckets, Requests: []record.Request{
		req("web", record.OutcomeSucceeded, "primary", 100, "succeeded@primary"),
		req("web", record.OutcomeSucceeded, "primary", 300, "throttled@primary", "succeeded@primary"),
		viaFallback(req("web", record.OutcomeSucceeded, "fallback", 900, "skipped@primary", "succeeded@fallback")),
		req("batch", record.OutcomeRateLimited, "", 0, "skipped@primary", "skipped@fallback"),
	}}
	b := &record.Loaded{Scenario: "s", Buckets: buckets, Requests: []record.Request{
		req("web", record.OutcomeSucceeded, "primary", 120, "succeeded@primary"),
		req("web", record.OutcomeSucceeded, "primary", 200, "succeeded@primary"),
		req("web", record.OutcomeFailed, "primary", 50, "throttled@primary", "throttled@primary"),
		req("batch", record.OutcomeSucceeded, "primary", 400, "succeeded@primary"),
		req("ops", record.OutcomeSucceeded, "primary", 80, "succeeded@primary"),
	}}
	c := Runs(a, b)

	o := c.Overall
	// The p50s are the sketch's for 300 and 120 ms, within 0.5 %; the
	// p95s and p99s are the largest values, exactly.
	wantA := Metrics{Requests: 4, Succeeded: 3, SuccessRate: 75, FellBack: 1, FellBackRate: 33.3, Share: 100, RateLimited: 1,
		Throttled: 1, Skipped: 3, P50MS: 300.376, P95MS: 900, P99MS: 900}
	if o.A != wantA {
		t.Errorf("A overall\n got %+v\nwant %+v", o.A, wantA)
	}
	wantDelta := Metrics{Requests: 1, Succeeded: 1, SuccessRate: 5, FellBack: -1, FellBackRate: -33.3, Share: 0, RateLimited: -1, Failed: 1,
		Throttled: 1, Skipped: -3, P50MS: 119.705 - 300.376, P95MS: -500, P99MS: -500}
	if o.Delta != wantDelta {
		t.Errorf("overall delta\n got %+v\nwant %+v", o.Delta, wantDelta)
	}

	byName := func(rows []Row) map[string]Row {
		m := map[string]Row{}
		for _, r := range rows {
			m[r.Name] = r
		}
		return m
	}
	tenants := byName(c.Tenants)
	if len(c.Tenants) != 3 || c.Tenants[0].Name != "web" || c.Tenants[1].Name != "batch" || c.Tenants[2].Name != "ops" {
		t.Fatalf("tenants %+v: want web, batch in the scenario's order, then ops", c.Tenants)
	}
	if len(c.Deployments) != 2 || c.Deployments[0].Name != "primary" {
		t.Fatalf("deployments %+v: want the scenario's primary, then fallback", c.Deployments)
	}
	if ops := tenants["ops"]; ops.InA || !ops.InB || ops.Delta.Requests != 1 || ops.Delta.SuccessRate != 0 || ops.Delta.P50MS != 0 {
		t.Errorf("a tenant only B has: %+v; want counts from 0 and no rate or latency delta", ops)
	}
	if batch := tenants["batch"]; batch.A.SuccessRate != 0 || batch.B.SuccessRate != 100 || batch.Delta.SuccessRate != 100 || batch.Delta.P50MS != 0 {
		t.Errorf("batch: %+v; a success rate from 0%% of 1 request is a change, a latency from none is not", batch)
	}
	deployments := byName(c.Deployments)
	// A request counts where it ended; an attempt where it was routed.
	if p := deployments["primary"]; p.A.Requests != 2 || p.A.Throttled != 1 || p.A.Skipped != 2 || p.A.Share != 66.7 || p.B.Throttled != 2 || p.B.Failed != 1 {
		t.Errorf("primary: %+v", p)
	}
	if f := deployments["fallback"]; !f.InA || f.InB || f.A.FellBack != 1 || f.A.Skipped != 1 || f.Delta.Share != -33.3 {
		t.Errorf("fallback: %+v", f)
	}
	if _, ok := deployments[""]; ok {
		t.Errorf("the rate-limited request, which reached no deployment, has a row: %+v", c.Deployments)
	}
	if accounts := byName(c.Accounts); accounts["acct-primary"].B.Requests != 5 || len(accounts) != 2 {
		t.Errorf("accounts: %+v", c.Accounts)
	}
}

func TestRegionsComeFromTheInvocationLogs(t *testing.T) {
	a := &record.Loaded{Summary: record.Summary{
		Regions: map[string]map[string]int{"one": {"us-east-1": 6, "us-west-2": 2}, "two": {"us-east-1": 2}},
		Logs:    map[string]record.LogStatus{"two": {Unaccounted: 3}},
	}}
	b := &record.Loaded{Summary: record.Summary{Regions: map[string]map[string]int{"one": {"us-west-2": 5}}}}
	c := Runs(a, b)
	want := []RegionRow{
		{Region: "us-east-1", A: RegionMetrics{8, 80}, B: RegionMetrics{0, 0}, Delta: RegionMetrics{-8, -80}},
		{Region: "us-west-2", A: RegionMetrics{2, 20}, B: RegionMetrics{5, 100}, Delta: RegionMetrics{3, 80}},
	}
	if !reflect.DeepEqual(c.Regions, want) {
		t.Errorf("regions\n got %+v\nwant %+v", c.Regions, want)
	}
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "A: 3 successful request(s) of account two were not in the invocation logs yet") {
		t.Errorf("notes %q", c.Notes)
	}
}

// TestOddRecordsDoNotPanic: empty runs, requests without attempts or
// names, and a run with no Region counts at all.
func TestOddRecordsDoNotPanic(t *testing.T) {
	odd := &record.Loaded{Speed: math.NaN(), Requests: []record.Request{{}, {Outcome: record.OutcomeSucceeded}, {Outcome: "pending"}},
		RPMChanges: []record.RPMChange{{Bucket: "deployment/x", RPM: 3, AtMS: -5}}, Faults: []record.FaultWindow{{Fault: "throttle", StartMS: math.Inf(1)}}}
	for _, pair := range [][2]*record.Loaded{{{}, {}}, {odd, {}}, {{}, odd}, {odd, odd}} {
		c := Runs(pair[0], pair[1])
		var text bytes.Buffer
		if err := WriteText(&text, c); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(c); err != nil {
			t.Errorf("JSON of %+v: %v", c, err)
		}
		if c.Differences == nil || c.Notes == nil || c.Tenants == nil || c.Regions == nil {
			t.Errorf("empty lists must encode as [], not null: %+v", c)
		}
	}
}

// TestNamesAreTheJSONNamesAndTheCheckVariables: a field's JSON name and
// its --fail-if name are one word.
func TestNamesAreTheJSONNamesAndTheCheckVariables(t *testing.T) {
	ty := reflect.TypeFor[Metrics]()
	for f := range ty.Fields() {
		if js, ex := f.Tag.Get("json"), f.Tag.Get("expr"); js == "" || js != ex {
			t.Errorf("Metrics.%s: json %q, expr %q", f.Name, js, ex)
		}
	}
	if names := Names(); len(names) != ty.NumField() || names[0] != "requests" {
		t.Errorf("Names() = %q", names)
	}
}

// A deployment both runs set up, which only A's requests reached, is a row
// with zeros in B: "only in A" is kept for what B does not have at all.
func TestAnUnusedDeploymentCountsAsZeroNotAbsent(t *testing.T) {
	buckets := []record.BucketSpec{{ID: engine.BucketID(engine.DeploymentBucket + "primary")}, {ID: engine.BucketID(engine.DeploymentBucket + "fallback")}}
	a := &record.Loaded{Buckets: buckets, Requests: []record.Request{req("app", record.OutcomeSucceeded, "primary", 10), viaFallback(req("app", record.OutcomeSucceeded, "fallback", 20))}}
	b := &record.Loaded{Buckets: buckets, Requests: []record.Request{req("app", record.OutcomeSucceeded, "primary", 10)}}
	c := Runs(a, b)
	var fallback *Row
	for i := range c.Deployments {
		if c.Deployments[i].Name == "fallback" {
			fallback = &c.Deployments[i]
		}
	}
	if fallback == nil || !fallback.InA || !fallback.InB || fallback.B.Succeeded != 0 || fallback.Delta.Succeeded != -1 {
		t.Fatalf("fallback's row: %+v", fallback)
	}
	if text := textOf(t, c); strings.Contains(text, "\n  fallback (only in") {
		t.Fatalf("a deployment both runs have is not only in one:\n%s", text)
	}
	b.Buckets = buckets[:1] // now B does not have it
	if c := Runs(a, b); !strings.Contains(textOf(t, c), "\n  fallback (only in A)") {
		t.Fatalf("a deployment only A has should say so:\n%s", textOf(t, c))
	}
}

// Runs as replicas are compared on what they let through each limit in
// their busiest minute; a run that was one gateway has no such figure,
// and says so rather than 0.
func TestRunsAsReplicasCompareTheirBusiestMinutes(t *testing.T) {
	fleet := func(limits string, busiest int) *record.Fleet {
		return &record.Fleet{Replicas: 3, Limits: limits, Where: "this process", Buckets: []record.FleetBucket{
			{Bucket: "deployment/primary", Unit: "requests", Limiter: "fixed-window", Limit: 10, BusiestMinute: busiest, TimesLimit: float64(busiest) / 10}}}
	}
	own := &record.Loaded{Scenario: "s", Summary: record.Summary{Fleet: fleet("own", 30)}}
	shared := &record.Loaded{Scenario: "s", Summary: record.Summary{Fleet: fleet("shared", 10)}}
	one := &record.Loaded{Scenario: "s"}
	var text strings.Builder
	if err := WriteText(&text, Runs(own, shared)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"replicas: A 3, each counting its own limits, B 3, sharing their limits in this process",
		"Busiest minute, runs as replicas", "3.0×", "1.0×", "−2.0×", "−20"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the comparison lacks %q:\n%s", want, text.String())
		}
	}
	c := Runs(own, one)
	if len(c.Limits) != 1 || c.Limits[0].A == nil || c.Limits[0].B != nil {
		t.Fatalf("against one gateway: %+v; want A's figures and none for B", c.Limits)
	}
	if c := Runs(one, one); c.Limits != nil {
		t.Fatalf("two single gateways: %+v; want no limits block", c.Limits)
	}
}
