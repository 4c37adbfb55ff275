package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/smithy-go"

	"spillway/engine/simaws/catalog"
	"spillway/engine/simaws/emulator"
	"spillway/scenarios"
)

// Every catalog model answers Converse through the Go SDK without the
// scenario naming it: by each of its profile ids and their ARNs, called
// from a Region of the profile, landing in one of the profile's Regions;
// and by its foundation id and ARN where the documentation serves it on
// demand, with Bedrock's own refusal where it does not.
func TestEveryCatalogModelAnswersThroughTheSDK(t *testing.T) {
	emu, _, client := catalogEmulator(t)
	calls := 0
	converse := func(region, model string) error {
		calls++
		_, err := client(region).Converse(context.Background(), converseInput(model))
		return err
	}
	landed := func() string {
		records := emu.Fleet().Records("acct", "BedrockModelInvocation", epoch.Add(time.Hour))
		if len(records) != calls {
			return fmt.Sprintf("(%d records for %d calls)", len(records), calls)
		}
		return records[len(records)-1].Region
	}
	models := catalog.BuiltIn().Models()
	if len(models) < 10 {
		t.Fatalf("%d catalog models", len(models))
	}
	for _, m := range models {
		for _, id := range m.ProfileIDs() {
			geo, _, _ := strings.Cut(id, ".")
			regions := m.Profiles[geo]
			from := regions[0]
			for _, name := range []string{id, "arn:aws:bedrock:" + from + ":111122223333:inference-profile/" + id} {
				if err := converse(from, name); err != nil {
					t.Errorf("%s from %s: %v", name, from, err)
					calls--
					continue
				}
				if region := landed(); !slices.Contains(regions, region) {
					t.Errorf("%s from %s landed in %s, outside the profile's Regions %v", name, from, region, regions)
				}
			}
		}
		onDemand := ""
		for _, r := range append(slices.Clone(m.InRegion), "us-east-1") {
			if m.OnDemandIn(r) {
				onDemand = r
				break
			}
		}
		for _, name := range []string{m.ID, "arn:aws:bedrock:us-east-1::foundation-model/" + m.ID} {
			if onDemand != "" {
				if err := converse(onDemand, name); err != nil {
					t.Errorf("%s on demand in %s: %v", name, onDemand, err)
					calls--
				} else if region := landed(); region != onDemand {
					t.Errorf("%s on demand in %s ran in %s", name, onDemand, region)
				}
				continue
			}
			err := converse("us-east-1", name)
			calls--
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" || !strings.Contains(api.ErrorMessage(), "with on-demand throughput isn’t supported") {
				t.Errorf("%s on demand: %v, want Bedrock's on-demand refusal", name, err)
			}
		}
	}
	// An id that is in no catalog is still an invalid model identifier.
	err := converse("us-east-1", "us.anthropic.claude-sonnet-9")
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorMessage() != "The provided model identifier is invalid." {
		t.Fatalf("unknown model: %v", err)
	}
}

// catalogEmulator is an emulator whose scenario names no model, and a Go
// SDK client of it for a Region.
func catalogEmulator(t *testing.T) (*emulator.Server, string, func(region string) *bedrockruntime.Client) {
	world := &scenarios.Scenario{Name: "catalog",
		Accounts: []scenarios.Account{{Name: "acct", Profile: "acct", Region: "us-east-1", AccountID: "111122223333", QuotaRPM: 10000}},
		Logs:     scenarios.Logs{Group: "BedrockModelInvocation", Delay: time.Second}}
	emu := emulator.New(world, nil, 1, epoch, emulator.Options{Clock: emulator.NewManualClock(epoch).Now})
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu, url, func(region string) *bedrockruntime.Client {
		cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKeyID("acct"), emulator.SecretAccessKey, "")}
		return bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
			o.BaseEndpoint, o.Retryer, o.AuthSchemePreference = aws.String(url), aws.NopRetryer{}, []string{"sigv4"}
		})
	}
}

// InvokeModel reads each family's own body: Anthropic's Messages and
// Amazon Nova's messages-v1, answering in the same family's shape. A body
// of the wrong family, and any other family's, is Bedrock's
// ValidationException.
func TestInvokeReadsEachFamilysOwnBody(t *testing.T) {
	_, _, client := catalogEmulator(t)
	anthropic := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":200,"messages":[{"role":"user","content":"Hello"}]}`
	nova := `{"schemaVersion":"messages-v1","messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":200}}`
	invoke := func(model, body string) (map[string]any, error) {
		out, err := client("us-east-1").InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
			ModelId: aws.String(model), Body: []byte(body), ContentType: aws.String("application/json")})
		if err != nil {
			return nil, err
		}
		var answer map[string]any
		if err := json.Unmarshal(out.Body, &answer); err != nil {
			return nil, err
		}
		return answer, nil
	}
	families := map[string]int{}
	for _, m := range catalog.BuiltIn().Models() {
		ids := m.ProfileIDs()
		if len(ids) == 0 || !slices.Contains(m.Profiles[strings.Split(ids[len(ids)-1], ".")[0]], "us-east-1") {
			continue
		}
		id := ids[len(ids)-1] // us. where there is one
		families[m.Provider]++
		switch m.Provider {
		case "anthropic":
			answer, err := invoke(id, anthropic)
			if err != nil || answer["type"] != "message" || answer["usage"] == nil {
				t.Errorf("%s with Anthropic's body: %v %v", id, answer, err)
			}
			checkValidation(t, id+" with Nova's body", func() error { _, err := invoke(id, nova); return err }, "Malformed input request")
		case "amazon":
			answer, err := invoke(id, nova)
			usage, _ := answer["usage"].(map[string]any)
			if err != nil || answer["output"] == nil || usage["outputTokens"] == nil || answer["stopReason"] == nil {
				t.Errorf("%s with Nova's body: %v %v", id, answer, err)
			}
			checkValidation(t, id+" with Anthropic's body", func() error { _, err := invoke(id, anthropic); return err }, "extraneous key [anthropic_version]")
		default:
			checkValidation(t, id+" (a family without a body here)", func() error { _, err := invoke(id, anthropic); return err }, "call "+m.ID+" with Converse")
		}
	}
	if families["anthropic"] < 8 || families["amazon"] < 3 || families["meta"]+families["deepseek"] < 2 {
		t.Fatalf("models tried by family: %v; want most of the catalog", families)
	}
}

func checkValidation(t *testing.T, what string, call func() error, want string) {
	t.Helper()
	var api smithy.APIError
	if err := call(); !errors.As(err, &api) || api.ErrorCode() != "ValidationException" || !strings.Contains(api.ErrorMessage(), want) {
		t.Errorf("%s: %v; want a ValidationException saying %q", what, err, want)
	}
}

// CreateInferenceProfile over the wire makes an application profile whose
// ARN the SDK then calls; a second with the same name is a conflict, and a
// source the fleet does not serve is refused.
func TestApplicationProfileOverTheWire(t *testing.T) {
	_, url, client := catalogEmulator(t)
	create := func(name, source string) (int, string, string) {
		return raw(t, url, "/inference-profiles", map[string]string{"Content-Type": "application/json"},
			[]byte(fmt.Sprintf(`{"inferenceProfileName":%q,"modelSource":{"copyFrom":%q}}`, name, source)))
	}
	status, _, body := create("team-a", "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.amazon.nova-pro-v1:0")
	var created struct{ InferenceProfileArn string }
	if status != 201 || json.Unmarshal([]byte(body), &created) != nil || created.InferenceProfileArn == "" {
		t.Fatalf("create: %d %s", status, body)
	}
	if _, err := client("us-east-1").Converse(context.Background(), converseInput(created.InferenceProfileArn)); err != nil {
		t.Fatalf("converse through %s: %v", created.InferenceProfileArn, err)
	}
	if status, code, body := create("team-a", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"); status != 409 || code != "ConflictException" {
		t.Fatalf("the same name again: %d %s %s", status, code, body)
	}
	if status, code, body := create("team-b", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-ultra-v9"); status != 400 || code != "ValidationException" {
		t.Fatalf("an unknown model: %d %s %s", status, code, body)
	}
}
