package fleet

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

var epoch = time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)

func scenario(quota scenarios.RPM, regionQuota map[string]scenarios.RPM) *scenarios.Scenario {
	return &scenarios.Scenario{
		Name: "t",
		Accounts: []scenarios.Account{{Name: "a", Region: "us-east-1", AccountID: "111122223333",
			QuotaRPM: quota, RegionQuotaRPM: regionQuota}},
		Deployments: []scenarios.Deployment{
			{Name: "sonnet-4", Model: profile, Account: "a"},
			{Name: "sonnet-3-7", Model: "anthropic.claude-3-7-sonnet-20250219-v1:0", Account: "a"},
			{Name: "other", Model: "zz.anthropic.claude-v1:0", Account: "a"},
		},
		Logs: scenarios.Logs{Group: "BedrockModelInvocation", Delay: 20 * time.Second},
	}
}

const profile = "us.anthropic.claude-sonnet-4-20250514-v1:0"

func call(model string) Call {
	return Call{Account: "a", SourceRegion: "us-east-1", ModelID: model, Operation: "Converse", Prompt: "hi", MaxTokens: 100}
}

func TestProfileLandsInItsGeographyWeightedByFreeCapacity(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, map[string]scenarios.RPM{
		"us-east-1": 100, "us-east-2": 300, "us-west-2": 100}), nil, 1, epoch)
	counts := map[string]int{}
	// Spread calls out so quotas refill and the weights stay 1:3:1.
	for i := range 5000 {
		r := f.Invoke(epoch.Add(time.Duration(i)*time.Minute), call(profile))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		counts[r.Region]++
	}
	if len(counts) != 3 {
		t.Fatalf("regions %v, want the three us Regions", counts)
	}
	// Expected 1000/3000/1000; binomial sd ≈ 28 and 35.
	if c := counts["us-east-2"]; c < 3000-175 || c > 3000+175 {
		t.Fatalf("us-east-2 got %d of 5000, want about 3000 (weighted by free capacity)", c)
	}
}

func TestQuotaExhaustionThrottlesAndFreeCapacityShiftsPlacement(t *testing.T) {
	f := New(scenario(2, nil), nil, 1, epoch)
	regions := map[string]int{}
	for range 6 {
		r := f.Invoke(epoch, call(profile))
		if r.Err != nil {
			t.Fatalf("call within 3 Regions × 2 RPM failed: %v", r.Err)
		}
		regions[r.Region]++
	}
	for region, n := range regions {
		if n != 2 {
			t.Fatalf("%s served %d, want each Region filled to its quota of 2: %v", region, n, regions)
		}
	}
	r := f.Invoke(epoch, call(profile))
	if r.Err == nil || r.Err.Code != wire.ThrottlingException || r.Err.Status() != 429 || r.Region != "" {
		t.Fatalf("7th call: %+v, want a 429 wire.ThrottlingException that ran nowhere", r)
	}
}

func TestFoundationModelRunsInTheSourceRegion(t *testing.T) {
	f := New(scenario(1, nil), nil, 1, epoch)
	r := f.Invoke(epoch, call("anthropic.claude-3-7-sonnet-20250219-v1:0"))
	if r.Err != nil || r.Region != "us-east-1" {
		t.Fatalf("%+v, want success in us-east-1", r)
	}
	if r := f.Invoke(epoch, call("anthropic.claude-3-7-sonnet-20250219-v1:0")); r.Err == nil || r.Err.Code != wire.ThrottlingException {
		t.Fatalf("second call past a 1 RPM quota: %+v, want throttled", r)
	}
}

func TestGeographies(t *testing.T) {
	s := scenario(scenarios.Unlimited, nil)
	s.Accounts[0].Region = "eu-west-1"
	f := New(s, nil, 1, epoch)
	c := call("eu.anthropic.claude-3-7-sonnet-20250219-v1:0")
	c.SourceRegion = "eu-west-1"
	if r := f.Invoke(epoch, c); r.Err != nil || !strings.HasPrefix(r.Region, "eu-") {
		t.Fatalf("eu profile: %+v", r)
	}
	c.ModelID = profile
	if r := f.Invoke(epoch, c); r.Err == nil || r.Err.Code != wire.ValidationException {
		t.Fatalf("us profile from eu-west-1: %+v, want wire.ValidationException", r)
	}
	c.ModelID = "zz.anthropic.claude-v1:0"
	if r := f.Invoke(epoch, c); r.Err == nil || !strings.Contains(r.Err.Message, "regions key") {
		t.Fatalf("unknown geography: %+v, want advice to list the regions", r)
	}
	// An unknown prefix works once the account names its Regions.
	s.Accounts[0].Regions = []string{"eu-west-1", "zz-north-1"}
	f = New(s, nil, 1, epoch)
	if r := f.Invoke(epoch, c); r.Err != nil {
		t.Fatalf("unknown geography with account regions: %v", r.Err)
	}
	c.ModelID = "global.anthropic.claude-v1:0"
	if r := f.Invoke(epoch, c); r.Err != nil {
		t.Fatalf("global profile: %v", r.Err)
	}
}

func TestLatencyFollowsTheModel(t *testing.T) {
	s := scenario(scenarios.Unlimited, nil)
	s.Models = []scenarios.Model{{ID: "anthropic.claude-sonnet-4-20250514-v1:0", LatencyP50: 4 * time.Second, LatencyP95: 8 * time.Second}}
	f := New(s, nil, 9, epoch)
	var ds []time.Duration
	for range 2000 {
		ds = append(ds, f.Invoke(epoch, call(profile)).Latency)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	p50, p95 := ds[1000], ds[1900]
	if p50 < 3700*time.Millisecond || p50 > 4300*time.Millisecond || p95 < 7*time.Second || p95 > 9*time.Second {
		t.Fatalf("p50 %v p95 %v, want about 4s and 8s", p50, p95)
	}
	if ds[len(ds)-1] > 10400*time.Millisecond || ds[0] < 1200*time.Millisecond {
		t.Fatalf("range %v–%v, want clamped to 0.3×p50 … 1.3×p95", ds[0], ds[len(ds)-1])
	}
}

func TestInvocationLogsArriveLateAndCountByRegion(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	var last time.Time
	for range 10 {
		r := f.Invoke(epoch, call(profile))
		last = epoch.Add(r.Latency)
	}
	q := Query{Account: "a", LogGroup: "BedrockModelInvocation", Models: []string{profile}, From: epoch.Add(-time.Minute), To: epoch.Add(time.Hour)}
	early, err := f.RegionCounts(q, last)
	if err != nil {
		t.Fatal(err)
	}
	if total(early) == 10 {
		t.Fatal("every record visible the moment its call ended; logs must arrive late")
	}
	late, _ := f.RegionCounts(q, last.Add(time.Minute))
	if total(late) != 10 || !sort.SliceIsSorted(late, func(i, j int) bool { return late[i].Region < late[j].Region }) {
		t.Fatalf("after the delay: %v, want 10 invocations sorted by Region", late)
	}
	other := q
	other.Models = []string{"us.anthropic.claude-3-5-sonnet-20241022-v2:0"}
	if n, _ := f.RegionCounts(other, last.Add(time.Minute)); total(n) != 0 {
		t.Fatalf("filter on another model matched %d", total(n))
	}
	other = q
	other.To = epoch.Add(-time.Second)
	if n, _ := f.RegionCounts(other, last.Add(time.Minute)); total(n) != 0 {
		t.Fatalf("time range before the run matched %d", total(n))
	}
	other = q
	other.LogGroup = "nope"
	if _, err := f.RegionCounts(other, last); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("missing log group: %v", err)
	}
}

func TestLogRecordHasBedrockSchema(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	r := f.Invoke(epoch, call(profile))
	rec := f.Records("a", "BedrockModelInvocation", epoch.Add(time.Hour))[0]
	data, _ := json.Marshal(rec)
	var m map[string]any
	json.Unmarshal(data, &m)
	for _, k := range []string{"schemaType", "schemaVersion", "timestamp", "accountId", "identity", "region", "inferenceRegion", "requestId", "operation", "modelId", "input", "output"} {
		if _, ok := m[k]; !ok {
			t.Errorf("log record lacks %q: %s", k, data)
		}
	}
	if rec.RequestID != r.RequestID || rec.InferenceRegion != r.Region || rec.Region != "us-east-1" ||
		rec.ModelID != "arn:aws:bedrock:us-east-1:111122223333:inference-profile/"+profile || rec.Output.OutputTokenCount != r.OutputTokens {
		t.Fatalf("record %+v does not match reply %+v", rec, r)
	}
}

func total(cs []RegionCount) int {
	n := 0
	for _, c := range cs {
		n += c.Count
	}
	return n
}

func TestUnknownModelAndModelAccess(t *testing.T) {
	s := scenario(scenarios.Unlimited, nil)
	s.Accounts[0].DeniedModels = []string{"anthropic.claude-3-7-sonnet-20250219-v1:0"}
	f := New(s, nil, 1, epoch)
	r := f.Invoke(epoch, call("us.anthropic.claude-sonnet-9-v1:0"))
	if r.Err == nil || r.Err.Code != wire.ValidationException || r.Err.Status() != 400 || r.Region != "" {
		t.Fatalf("unknown model: %+v, want a 400 wire.ValidationException", r)
	}
	r = f.Invoke(epoch, call("us.anthropic.claude-3-7-sonnet-20250219-v1:0"))
	if r.Err == nil || r.Err.Code != wire.AccessDeniedException || r.Err.Status() != 403 ||
		!strings.Contains(r.Err.Message, "Model access is not enabled for anthropic.claude-3-7-sonnet-20250219-v1:0 in account …3333") {
		t.Fatalf("denied model: %+v, want a 403 wire.AccessDeniedException naming the model and account", r)
	}
	if r := f.Invoke(epoch, call(profile)); r.Err != nil {
		t.Fatalf("allowed model: %v", r.Err)
	}
}
