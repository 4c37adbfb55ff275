package litellm_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"spillway/engine/enginetest"
	"spillway/engine/frontdoor"
	"spillway/scenarios"
	"spillway/scenarios/litellm"
)

func imported(t *testing.T) (*litellm.Import, *scenarios.File) {
	t.Helper()
	data, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	imp, err := litellm.Convert("config.yaml", data, "imported")
	if err != nil {
		t.Fatal(err)
	}
	f, err := scenarios.Parse("imported.toml", imp.TOML)
	if err != nil {
		t.Fatalf("the import does not parse:\n%v\n%s", err, imp.TOML)
	}
	return imp, f
}

// The fixture, with its anchors, merge keys and fallbacks, imports to what
// was written by hand from the same config.
func TestConfigImportsToTheHandWrittenScenario(t *testing.T) {
	_, f := imported(t)
	got := f.Scenarios[0]
	want := enginetest.Load(t, "testdata/equivalent.toml").Scenarios[0]
	for _, part := range []struct {
		name      string
		got, want any
	}{
		{"accounts", got.Accounts, want.Accounts},
		{"deployments", got.Deployments, want.Deployments},
		{"groups", got.Groups, want.Groups},
		{"tenants", got.Tenants, want.Tenants},
		{"gateway", got.Gateway, want.Gateway},
		{"limiter", got.Limiter, want.Limiter},
	} {
		if !reflect.DeepEqual(part.got, part.want) {
			t.Errorf("%s differ:\nimported %+v\nby hand  %+v", part.name, part.got, part.want)
		}
	}
}

// Every key not carried over is named, with its line, and why.
func TestEveryKeyNotCarriedOverIsReported(t *testing.T) {
	imp, _ := imported(t)
	var got []string
	for _, n := range imp.Unmapped {
		got = append(got, fmt.Sprintf("%d:%d %s", n.Line, n.Col, n.Key))
	}
	want := []string{
		"42:7 model_list[4].litellm_params.max_tokens",
		"45:7 model_list[4].model_info.mode",
		"60:1 litellm_settings",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(string(imp.TOML), "# 3 key(s) were not carried over") {
		t.Fatal("the scenario file does not say what was left out")
	}
	// redis_host and redis_port: where LiteLLM shares its counters, Spillway
	// shares every limit.
	if !strings.Contains(string(imp.TOML), "[scenario.shared]") || !strings.Contains(string(imp.TOML), `redis = "redis://localhost:6379/0"`) {
		t.Fatalf("redis_host and redis_port did not become [scenario.shared]:\n%s", imp.TOML)
	}
}

// The imported scenario and the hand-written one, served the same
// clients' requests, serve them the same way.
func TestImportedAndHandWrittenRunsMatch(t *testing.T) {
	_, imp := imported(t)
	byHand := enginetest.Load(t, "testdata/equivalent.toml")
	a, b := serve(t, imp, imp.Scenarios[0]), serve(t, byHand, byHand.Scenarios[0])
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("served differently:\nimported %v\nby hand  %v", a, b)
	}
	if a["claude"]["primary"] != 3 || a["claude"]["fallback"] != 7 || a["balanced"]["overflow"] != 4 {
		t.Fatalf("served %v; want the seed's 3/7 and 3/3/4", a)
	}
}

// serve runs s behind the door, sends ten concurrent requests to claude
// and ten to balanced, and counts who served them.
func serve(t *testing.T, f *scenarios.File, s *scenarios.Scenario) map[string]map[string]int {
	door := enginetest.Door(t, f, s)
	srv := httptest.NewServer(door.Handler())
	defer srv.Close()
	served := map[string]map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, group := range []string{"claude", "balanced"} {
		served[group] = map[string]int{}
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(
					`{"model":"`+group+`","messages":[{"role":"user","content":"hello"}]}`))
				req.Header.Set("Authorization", "Bearer sk-1234")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				defer mu.Unlock()
				served[group][fmt.Sprint(resp.StatusCode, " ", resp.Header.Get(frontdoor.HeaderDeployment))]++
			}()
		}
	}
	wg.Wait()
	out := map[string]map[string]int{}
	for g, by := range served {
		out[g] = map[string]int{}
		for k, n := range by {
			out[g][strings.TrimPrefix(k, "200 ")] = n
		}
	}
	return out
}

// What cannot be imported stops the import with the place and the reason.
func TestConfigsThatCannotBeImported(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"not YAML", "model_list: [\n", "bad.yaml"},
		{"no Bedrock model", "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n", "no Bedrock deployment"},
		{"fallback to nowhere", "model_list:\n  - model_name: a\n    litellm_params:\n      model: bedrock/x\n      rpm: 3\nrouter_settings:\n  fallbacks:\n    - a: [b]\n", `a falls back to "b", which is no model_name`},
		{"rpm not a number", "model_list:\n  - model_name: a\n    litellm_params:\n      model: bedrock/x\n      rpm: lots\n", "bad.yaml:5:7: model_list[0].litellm_params.rpm: rpm must be a whole number ≥ 1"},
		{"too big", strings.Repeat("#", litellm.MaxConfigBytes+1), "over the limit"},
	} {
		_, err := litellm.Convert("bad.yaml", []byte(c.yaml), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// Names come through whatever characters they hold: the TOML written
// quotes them as TOML does, not as Go does.
func TestNamesWithAwkwardCharactersRoundTrip(t *testing.T) {
	const awkward = "a \"quoted\"\tname \\ with \x01 control and é"
	config := "model_list:\n  - model_name: g\n    litellm_params:\n      model: bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0\n      rpm: 3\n    model_info:\n      id: \"a \\\"quoted\\\"\\tname \\\\ with \\x01 control and é\"\n"
	imp, err := litellm.Convert("odd.yaml", []byte(config), "")
	if err != nil {
		t.Fatal(err)
	}
	f, err := scenarios.Parse("odd.toml", imp.TOML)
	if err != nil {
		t.Fatalf("%v\n%s", err, imp.TOML)
	}
	if got := f.Scenarios[0].Deployments[0].Name; got != awkward {
		t.Fatalf("deployment name %q, want %q", got, awkward)
	}
}
