package frontdoor_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"spillway/engine/frontdoor"
)

// bedrockClient is aws-sdk-go-v2's Bedrock Runtime client pointed at the
// gateway, signing as access key id key.
func bedrockClient(url, key string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(key, "not-checked", ""),
		Retryer:      aws.NopRetryer{},
	})
}

func servedHeader(md middleware.Metadata) string {
	if raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		return raw.Header.Get(frontdoor.HeaderDeployment)
	}
	return ""
}

func userSays(text string) []types.Message {
	return []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: text}}}}
}

// The seed's patterns through the Bedrock door, with the AWS SDK as the
// client: fallback and tenants by access key id, answers in Converse's
// shape, and errors the SDK reads as Bedrock's.
func TestBedrockDoorWithTheAWSSDK(t *testing.T) {
	url := gateway(t)
	ctx := context.Background()
	client := bedrockClient(url, "sk-demo")
	var mu sync.Mutex
	served := map[string]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("claude"), Messages: userSays("Why resilience?")})
			if err != nil {
				t.Error(err)
				return
			}
			m, ok := out.Output.(*types.ConverseOutputMemberMessage)
			if !ok || len(m.Value.Content) == 0 || aws.ToInt32(out.Usage.OutputTokens) == 0 {
				t.Errorf("not a Converse answer: %+v", out)
			}
			mu.Lock()
			served[servedHeader(out.ResultMetadata)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if served["primary"] != 3 || served["fallback"] != 7 {
		t.Fatalf("served %v, want 3 by primary and 7 by fallback", served)
	}

	// Tenants by access key id: team-a's 3 RPM lets three through.
	teamA := bedrockClient(url, "sk-team-a")
	throttled := 0
	for range 5 {
		_, err := teamA.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("claude"), Messages: userSays("hi")})
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "ThrottlingException" && strings.Contains(api.ErrorMessage(), "team-a") {
			throttled++
		} else if err != nil {
			t.Fatalf("team-a: %v", err)
		}
	}
	if throttled != 2 {
		t.Fatalf("team-a: %d of 5 throttled, want 2", throttled)
	}
	_, err := bedrockClient(url, "AKIDNOBODY").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("claude"), Messages: userSays("hi")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "UnrecognizedClientException" {
		t.Fatalf("an unknown access key: %v", err)
	}
	_, err = client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("gpt-4o"), Messages: userSays("hi")})
	if !errors.As(err, &api) || api.ErrorCode() != "ValidationException" || !strings.Contains(api.ErrorMessage(), "claude") {
		t.Fatalf("an unknown model: %v", err)
	}
}

// Streaming and InvokeModel through the Bedrock door: ConverseStream's
// events, and Anthropic's Messages format for InvokeModel and its stream.
func TestBedrockDoorStreamsAndInvokes(t *testing.T) {
	url := gateway(t)
	ctx := context.Background()
	client := bedrockClient(url, "sk-demo")

	out, err := client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("balanced"), Messages: userSays("hello")})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var usage *types.TokenUsage
	stopped := false
	for ev := range out.GetStream().Events() {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				text.WriteString(d.Value)
			}
		case *types.ConverseStreamOutputMemberMessageStop:
			stopped = true
		case *types.ConverseStreamOutputMemberMetadata:
			usage = e.Value.Usage
		}
	}
	if err := out.GetStream().Err(); err != nil || text.Len() == 0 || !stopped || usage == nil || aws.ToInt32(usage.TotalTokens) == 0 {
		t.Fatalf("ConverseStream: %d bytes of text, stopped %v, usage %+v, err %v", text.Len(), stopped, usage, err)
	}

	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":200,"messages":[{"role":"user","content":"hello"}]}`
	inv, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String("claude"), Body: []byte(body), ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type    string
		Content []struct{ Type, Text string }
		Usage   struct {
			OutputTokens int `json:"output_tokens"`
		}
	}
	if err := json.Unmarshal(inv.Body, &msg); err != nil || msg.Type != "message" || len(msg.Content) != 1 || msg.Content[0].Text == "" || msg.Usage.OutputTokens == 0 {
		t.Fatalf("InvokeModel answered %s (%v)", inv.Body, err)
	}

	st, err := client.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String("claude"), Body: []byte(body), ContentType: aws.String("application/json")})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	text.Reset()
	for ev := range st.GetStream().Events() {
		chunk, ok := ev.(*types.ResponseStreamMemberChunk)
		if !ok {
			continue
		}
		var c struct {
			Type  string
			Delta struct{ Text string }
		}
		if err := json.Unmarshal(chunk.Value.Bytes, &c); err != nil {
			t.Fatalf("a chunk that is not JSON: %s", chunk.Value.Bytes)
		}
		kinds = append(kinds, c.Type)
		text.WriteString(c.Delta.Text)
	}
	if err := st.GetStream().Err(); err != nil || text.Len() == 0 || kinds[0] != "message_start" || kinds[len(kinds)-1] != "message_stop" {
		t.Fatalf("InvokeModelWithResponseStream: events %v, %d bytes of text, err %v", kinds, text.Len(), err)
	}
	resp, err := http.Post(url+"/model/claude/converse", "application/json", strings.NewReader(`{"messages":[`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("an unsigned request: %d", resp.StatusCode)
	}
}
