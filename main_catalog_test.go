package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"spillway/engine/simaws/catalog"
	"spillway/scenarios"
)

// awsCLI is the AWS CLI, if one that knows Bedrock's Converse is installed.
func awsCLI(t *testing.T) string {
	t.Helper()
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("install the AWS CLI (v1.33 or later, or v2.15 or later: pip install awscli) to run this test")
	}
	if err := exec.Command(aws, "bedrock-runtime", "converse", "help").Run(); err != nil {
		t.Skipf("this AWS CLI has no bedrock-runtime converse (%v); install v1.33 or later, or v2.15 or later", err)
	}
	return aws
}

// Every catalog model answers converse through the AWS CLI against
// 'spillway emulator', by profile id and its ARN from a Region of the
// profile, and by foundation id and its ARN: answered where the model is
// served on demand, refused with Bedrock's words where it is not. A model
// the built-in scenarios name is theirs, and served as they call it.
func TestEveryCatalogModelThroughTheAWSCLI(t *testing.T) {
	aws := awsCLI(t)
	endpoint, env := standaloneEmulatorWithProfiles(t)
	named := map[string]bool{}
	f, err := scenarios.Load("scenarios.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Scenarios {
		for _, d := range s.Deployments {
			named[scenarios.BaseModelID(d.Model)] = true
		}
	}
	type call struct{ model, region, want string } // want: "" answers, else the error text
	var calls []call
	for _, m := range catalog.BuiltIn().Models() {
		// One profile each, the last in order (us. where there is one):
		// every profile is called through the Go SDK in the emulator's own
		// tests, and each CLI call starts a Python process.
		if ids := m.ProfileIDs(); len(ids) > 0 {
			id := ids[len(ids)-1]
			geo, _, _ := strings.Cut(id, ".")
			from := m.Profiles[geo][0]
			calls = append(calls, call{id, from, ""},
				call{fmt.Sprintf("arn:aws:bedrock:%s:111122223333:inference-profile/%s", from, id), from, ""})
		}
		onDemand, want := "us-east-1", "with on-demand throughput isn’t supported"
		for _, r := range append(slices.Clone(m.InRegion), "us-east-1") {
			if m.OnDemandIn(r) || named[m.ID] {
				onDemand, want = r, ""
				break
			}
		}
		calls = append(calls, call{m.ID, onDemand, want},
			call{fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", onDemand, m.ID), onDemand, want})
	}
	if len(calls) < 50 {
		t.Fatalf("only %d calls to make; the catalog looks empty", len(calls))
	}
	var wg sync.WaitGroup
	work := make(chan call)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				cmd := exec.Command(aws, "bedrock-runtime", "converse", "--endpoint-url", endpoint, "--profile", "default",
					"--region", c.region, "--model-id", c.model, "--output", "json",
					"--messages", `[{"role":"user","content":[{"text":"hello"}]}]`, "--inference-config", `{"maxTokens":200}`)
				cmd.Env = append(os.Environ(), env...)
				out, err := cmd.CombinedOutput()
				if c.want != "" {
					if err == nil || !strings.Contains(string(out), "ValidationException") || !strings.Contains(string(out), c.want) {
						t.Errorf("%s in %s: %v %s; want a ValidationException saying %q", c.model, c.region, err, out, c.want)
					}
					continue
				}
				var answer struct {
					Output struct {
						Message struct{ Content []struct{ Text string } }
					}
					Usage struct{ InputTokens, OutputTokens int }
				}
				if err != nil || json.Unmarshal(out, &answer) != nil || len(answer.Output.Message.Content) == 0 || answer.Usage.OutputTokens == 0 {
					t.Errorf("%s in %s: %v %s", c.model, c.region, err, out)
				}
			}
		}()
	}
	for _, c := range calls {
		work <- c
	}
	close(work)
	wg.Wait()
}

// An application inference profile made with the AWS CLI, as a team makes
// one to track its cost, answers converse by its ARN, and the control
// plane lists it and describes it.
func TestApplicationProfileThroughTheAWSCLI(t *testing.T) {
	aws := awsCLI(t)
	endpoint, env := standaloneEmulatorWithProfiles(t)
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(aws, append(args, "--endpoint-url", endpoint, "--profile", "default", "--region", "us-east-1", "--output", "json")...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args[:2], " "), err, out)
		}
		return out
	}
	var created struct{ InferenceProfileArn, Status string }
	out := run("bedrock", "create-inference-profile", "--inference-profile-name", "team-a",
		"--model-source", "copyFrom=arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-sonnet-4-6")
	if json.Unmarshal(out, &created) != nil || !strings.Contains(created.InferenceProfileArn, ":application-inference-profile/") || created.Status != "ACTIVE" {
		t.Fatalf("create-inference-profile: %s", out)
	}
	var answer struct{ Usage struct{ OutputTokens int } }
	out = run("bedrock-runtime", "converse", "--model-id", created.InferenceProfileArn,
		"--messages", `[{"role":"user","content":[{"text":"hello"}]}]`, "--inference-config", `{"maxTokens":100}`)
	if json.Unmarshal(out, &answer) != nil || answer.Usage.OutputTokens == 0 {
		t.Fatalf("converse through %s: %s", created.InferenceProfileArn, out)
	}
	var got struct {
		InferenceProfileName, Type string
		Models                     []struct{ ModelArn string }
	}
	out = run("bedrock", "get-inference-profile", "--inference-profile-identifier", created.InferenceProfileArn)
	if json.Unmarshal(out, &got) != nil || got.InferenceProfileName != "team-a" || got.Type != "APPLICATION" ||
		len(got.Models) != 1 || !strings.HasSuffix(got.Models[0].ModelArn, "/us.anthropic.claude-sonnet-4-6") {
		t.Fatalf("get-inference-profile: %s", out)
	}
	if out = run("bedrock", "list-inference-profiles", "--type-equals", "APPLICATION"); !strings.Contains(string(out), created.InferenceProfileArn) {
		t.Fatalf("list-inference-profiles: %s", out)
	}
}
