package catalog

import (
	"strings"
	"testing"
)

// The embedded catalog parses, and holds the models people call today.
func TestTheBuiltInCatalogHoldsTodaysModels(t *testing.T) {
	c := BuiltIn()
	for _, id := range []string{"anthropic.claude-sonnet-4-6", "anthropic.claude-opus-4-6-v1", "anthropic.claude-haiku-4-5-20251001-v1:0",
		"anthropic.claude-sonnet-4-5-20250929-v1:0", "amazon.nova-pro-v1:0", "amazon.nova-micro-v1:0"} {
		m, by, _, ok := c.Resolve(id)
		if !ok || by != ByFoundationID || m.MaxOutputTokens < 1000 || m.Burndown < 1 {
			t.Errorf("%s: %+v %q %v", id, m, by, ok)
		}
	}
	for _, m := range c.Models() {
		if len(m.Profiles) == 0 && !m.OnDemand {
			t.Errorf("%s cannot be called at all", m.ID)
		}
	}
}

// A model is found by foundation id, profile id and either ARN; a profile
// prefix the model has no profile for, and an unknown id, are not.
func TestResolve(t *testing.T) {
	c := BuiltIn()
	for _, tc := range []struct {
		id, by, geo string
		ok          bool
	}{
		{"anthropic.claude-sonnet-4-6", ByFoundationID, "", true},
		{"us.anthropic.claude-sonnet-4-6", ByProfile, "us", true},
		{"global.anthropic.claude-sonnet-4-5-20250929-v1:0", ByProfile, "global", true},
		{"arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0", ByFoundationID, "", true},
		{"arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-opus-4-6-v1", ByProfile, "us", true},
		{"apac.anthropic.claude-opus-4-6-v1", "", "", false}, // no apac. profile for it
		{"anthropic.claude-sonnet-9", "", "", false},
		{"arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123", "", "", false},
		{"arn:aws:bedrock", "", "", false},
	} {
		_, by, geo, ok := c.Resolve(tc.id)
		if by != tc.by || geo != tc.geo || ok != tc.ok {
			t.Errorf("%s: %q %q %v, want %q %q %v", tc.id, by, geo, ok, tc.by, tc.geo, tc.ok)
		}
	}
}

// Sonnet 4.6 is served in-Region only in London; Opus 4.6 nowhere.
func TestOnDemandFollowsTheDocumentedRegions(t *testing.T) {
	c := BuiltIn()
	sonnet, _, _, _ := c.Resolve("anthropic.claude-sonnet-4-6")
	opus, _, _, _ := c.Resolve("anthropic.claude-opus-4-6-v1")
	if !sonnet.OnDemandIn("eu-west-2") || sonnet.OnDemandIn("us-east-1") || opus.OnDemandIn("us-east-1") {
		t.Fatalf("on demand: sonnet 4.6 %v/%v, opus 4.6 %v", sonnet.OnDemandIn("eu-west-2"), sonnet.OnDemandIn("us-east-1"), opus.OnDemandIn("us-east-1"))
	}
	if msg := OnDemandRefusal("anthropic.claude-opus-4-6-v1"); !strings.Contains(msg, "with on-demand throughput isn’t supported") {
		t.Fatalf("refusal %q", msg)
	}
}

// A broken catalog says what is wrong.
func TestParseRefusesABrokenCatalog(t *testing.T) {
	for _, bad := range []string{
		"[[model]]\nid = \"nodots\"\nmax_output_tokens = 1\nburndown = 1\non_demand = true\n",
		"[[model]]\nid = \"a.b\"\nmax_output_tokens = 0\nburndown = 1\non_demand = true\n",
		"[[model]]\nid = \"a.b\"\nmax_output_tokens = 1\nburndown = 1\n",
		"[[model]]\nid = \"a.b\"\nmax_output_tokens = 1\nburndown = 1\non_demand = true\ncolour = \"red\"\n",
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}
