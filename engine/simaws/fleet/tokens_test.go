package fleet

import (
	"strings"
	"testing"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

// tokenFleet is one account whose calls run only in us-east-1, with a
// token quota of 100,000 a minute, and answers of 300 output tokens that
// take 10 s.
func tokenFleet(models ...string) *Fleet {
	s := &scenarios.Scenario{
		Name: "t",
		Accounts: []scenarios.Account{{Name: "a", Region: "us-east-1", AccountID: "111122223333",
			Regions: []string{"us-east-1"}, QuotaRPM: scenarios.Unlimited, QuotaTPM: 100_000}},
		Logs: scenarios.Logs{Group: "BedrockModelInvocation"},
	}
	for _, m := range models {
		s.Deployments = append(s.Deployments, scenarios.Deployment{Name: m, Model: m, Account: "a"})
		s.Models = append(s.Models, scenarios.Model{ID: m, LatencyP50: 10 * time.Second, LatencyP95: 10 * time.Second,
			ModelSpeed: scenarios.ModelSpeed{OutputTokens: scenarios.TokenCount{Median: 300, P95: 300}}})
	}
	return New(s, nil, 1, epoch)
}

// tokenCall asks for input 1,000 (the prompt is lengthened to that) and
// max_tokens 8,192: a reservation of 9,192.
func tokenCall(model string) Call {
	return Call{Account: "a", SourceRegion: "us-east-1", ModelID: model, Operation: "Converse",
		Prompt: scenarios.PromptOfTokens("hi", 1_000), MaxTokens: 8_192}
}

const sonnet4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"

func TestBedrockReservesInputPlusMaxTokensAndSettles(t *testing.T) {
	f := tokenFleet(sonnet4)
	admitted := 0
	for i := range 11 {
		r := f.Invoke(epoch, tokenCall(sonnet4))
		if r.Err == nil {
			admitted++
			if r.InputTokens != 1_000 {
				t.Fatalf("input tokens %d; want 1000", r.InputTokens)
			}
			continue
		}
		if i != 10 || r.Err.Code != wire.ThrottlingException || r.Err.Message != TooManyTokens {
			t.Fatalf("call %d: %v; only the 11th should be throttled, on tokens", i+1, r.Err)
		}
		// 100,000 − 10 × 9,192 = 8,080 free; 1,112 more at 1,666.7 a
		// second is 0.67 s, a second as Retry-After rounds.
		if r.RetryAfter != time.Second {
			t.Fatalf("Retry-After %v; want 1s", r.RetryAfter)
		}
	}
	if admitted != 10 {
		t.Fatalf("%d calls of 9,192 tokens admitted at one instant against 100,000; want exactly 10", admitted)
	}
	// At 10 s the ten answers settle on 1,000 + 300 × 5 (Claude Sonnet 4
	// burns output down five times): 2,500 each instead of 9,192.
	l, _ := f.TokenQuotaAt(epoch.Add(10*time.Second), "a", "us-east-1", sonnet4)
	if l.Used != 10*2_500 {
		t.Fatalf("quota used %v after settlement; want 25,000", l.Used)
	}
	if l.Available < 9_192*8 {
		t.Fatalf("after settlement %v tokens free; want room for eight more reservations", l.Available)
	}
	for i := range 8 {
		if r := f.Invoke(epoch.Add(10*time.Second), tokenCall(sonnet4)); r.Err != nil {
			t.Fatalf("after settlement, call %d: %v", i+1, r.Err)
		}
	}
}

func TestBurndownIsPerModel(t *testing.T) {
	// One answer each of 300 output tokens: Claude Sonnet 4 counts them
	// five times, Nova Pro once.
	for model, want := range map[string]float64{sonnet4: 1_000 + 5*300, "us.amazon.nova-pro-v1:0": 1_000 + 300} {
		f := tokenFleet(model)
		c := tokenCall(model)
		c.MaxTokens = 1_000
		if r := f.Invoke(epoch, c); r.Err != nil || r.OutputTokens != 300 {
			t.Fatalf("%s: %+v", model, r)
		}
		l, _ := f.TokenQuotaAt(epoch.Add(time.Minute), "a", "us-east-1", model)
		if l.Used != want {
			t.Fatalf("%s counted %v against the quota; want %v", model, l.Used, want)
		}
	}
}

func TestOutputIsCappedAtMaxTokens(t *testing.T) {
	f := tokenFleet(sonnet4)
	c := tokenCall(sonnet4)
	c.MaxTokens = 120
	if r := f.Invoke(epoch, c); r.Err != nil || r.OutputTokens != 120 {
		t.Fatalf("%+v; want 120 output tokens, the max_tokens, of the model's 300", r)
	}
}

func TestPlacementWeighsFreeTokenQuota(t *testing.T) {
	// us-east-2 has room for one reservation of 9,192 at a time and
	// us-west-2 for ten: calls spread 20 s apart land about ten times as
	// often in us-west-2; us-east-1 has no token quota to speak of.
	s := &scenarios.Scenario{
		Name: "t",
		Accounts: []scenarios.Account{{Name: "a", Region: "us-east-1", AccountID: "111122223333",
			QuotaRPM: scenarios.Unlimited, QuotaTPM: 100_000,
			RegionQuotaTPM: map[string]scenarios.RPM{"us-east-1": 1, "us-east-2": 10_000}}},
		Deployments: []scenarios.Deployment{{Name: "d", Model: sonnet4, Account: "a"}},
		Logs:        scenarios.Logs{Group: "BedrockModelInvocation"},
	}
	f := New(s, nil, 1, epoch)
	counts := map[string]int{}
	for i := range 2_000 {
		r := f.Invoke(epoch.Add(time.Duration(i)*20*time.Minute), tokenCall(sonnet4))
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		counts[r.Region]++
	}
	if counts["us-east-1"] != 0 || counts["us-west-2"] < 8*counts["us-east-2"] || counts["us-east-2"] == 0 {
		t.Fatalf("landed %v; want none in us-east-1 and about ten in us-west-2 for each in us-east-2", counts)
	}
}

func TestUnsetMaxTokensReservesTheModelsMaximum(t *testing.T) {
	// Claude Sonnet 4 writes up to 64,000 tokens: a call without
	// max_tokens holds 1,000 + 64,000 of the 100,000 until it ends, and a
	// second such call is throttled.
	f := tokenFleet(sonnet4)
	c := tokenCall(sonnet4)
	c.MaxTokens, c.DefaultMaxTokens = 0, true
	if r := f.Invoke(epoch, c); r.Err != nil {
		t.Fatal(r.Err)
	}
	l, _ := f.TokenQuotaAt(epoch, "a", "us-east-1", sonnet4)
	if l.Available != 100_000-65_000 {
		t.Fatalf("%v tokens left after one call without max_tokens; want 35,000", l.Available)
	}
	if r := f.Invoke(epoch, c); r.Err == nil || r.Err.Message != TooManyTokens {
		t.Fatalf("second call: %+v; want throttled on tokens", r.Err)
	}
}

func TestApplicationProfilesRunAsTheirSource(t *testing.T) {
	s := &scenarios.Scenario{
		Name: "t",
		Accounts: []scenarios.Account{{Name: "a", Region: "us-east-1", AccountID: "111122223333", QuotaRPM: 2,
			ApplicationProfiles: map[string]string{"team-a": "us.anthropic.claude-sonnet-4-6"}}},
		Logs: scenarios.Logs{Group: "BedrockModelInvocation"},
	}
	f := New(s, nil, 1, epoch)
	arn := "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/team-a"
	c := call(arn)
	regions := map[string]int{}
	for range 6 { // 2 a minute in each of the three us Regions
		r := f.Invoke(epoch, c)
		if r.Err != nil {
			t.Fatalf("through the application profile: %v", r.Err)
		}
		regions[r.Region]++
	}
	if len(regions) != 3 {
		t.Fatalf("landed in %v; want the us profile's three Regions", regions)
	}
	// It shares its source's quota: the profile id itself now finds none.
	if r := f.Invoke(epoch, call("us.anthropic.claude-sonnet-4-6")); r.Err == nil || r.Err.Code != wire.ThrottlingException {
		t.Fatalf("the source after its quota went through the application profile: %+v", r.Err)
	}
	if rec := f.Records("a", "BedrockModelInvocation", epoch.Add(time.Hour)); len(rec) != 6 || rec[0].ModelID != arn {
		t.Fatalf("logs: %d records, first model %q; want 6 with the ARN as called", len(rec), rec[0].ModelID)
	}
	for _, bad := range []string{
		"arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/nope",
		"arn:aws:bedrock:us-east-1:999999999999:application-inference-profile/team-a", // another account's
	} {
		if r := f.Invoke(epoch, call(bad)); r.Err == nil || r.Err.Code != wire.ValidationException {
			t.Fatalf("%s: %+v; want ValidationException", bad, r.Err)
		}
	}
	p, err := f.CreateApplicationProfile("a", "chat", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0")
	if err != nil || !strings.HasPrefix(p.ARN, "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/") || len(p.ID) != 12 {
		t.Fatalf("created %+v, %v", p, err)
	}
	if r := f.Invoke(epoch, call(p.ARN)); r.Err != nil || r.Region != "us-east-1" {
		t.Fatalf("through a copy of Nova Pro on demand: %+v", r)
	}
	if _, err := f.CreateApplicationProfile("a", "chat", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"); err == nil || err.Code != "ConflictException" {
		t.Fatalf("the same name again: %v", err)
	}
	if _, err := f.CreateApplicationProfile("a", "x", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-ultra"); err == nil || err.Code != wire.ValidationException {
		t.Fatalf("an unknown source: %v", err)
	}
}
