package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"spillway/engine/bedrock"
	"spillway/engine/simaws/emulator"
)

// The Go SDK streams from 'spillway emulator' over real HTTP: a whole
// answer, an exception event mid-stream and a cut connection, each faulted
// in with 'spillway fault start' as a presenter would.
func TestStreamingAgainstAStandaloneEmulator(t *testing.T) {
	endpoint := standaloneEmulator(t)
	cfg := aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKeyID("default"), emulator.SecretAccessKey, "")}
	client := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.BaseEndpoint, o.Retryer, o.AuthSchemePreference = aws.String(endpoint), aws.NopRetryer{}, []string{"sigv4"}
		o.HTTPClient = &http.Client{Transport: bedrock.OwnBodies{Next: http.DefaultTransport.(*http.Transport).Clone()}}
	})
	stream := func() (deltas int, ended bool, err error) {
		t.Helper()
		out, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
			ModelId: aws.String("us.anthropic.claude-haiku-4-5-20251001-v1:0"),
			Messages: []brtypes.Message{{Role: brtypes.ConversationRoleUser,
				Content: []brtypes.ContentBlock{&brtypes.ContentBlockMemberText{Value: "hello"}}}},
			InferenceConfig: &brtypes.InferenceConfiguration{MaxTokens: aws.Int32(300)},
		})
		if err != nil {
			t.Fatal(err)
		}
		s := out.GetStream()
		defer s.Close()
		for ev := range s.Events() {
			switch ev.(type) {
			case *brtypes.ConverseStreamOutputMemberContentBlockDelta:
				deltas++
			case *brtypes.ConverseStreamOutputMemberMetadata:
				ended = true
			}
		}
		return deltas, ended, s.Err()
	}
	if deltas, ended, err := stream(); err != nil || !ended || deltas == 0 {
		t.Fatalf("a whole answer: %d deltas, ended %v, %v", deltas, ended, err)
	}
	// InvokeModelWithResponseStream too, with Anthropic's streaming body.
	out, err := client.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId:     aws.String("us.anthropic.claude-haiku-4-5-20251001-v1:0"),
		ContentType: aws.String("application/json"),
		Body:        []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"hello"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	chunks, last := 0, ""
	for ev := range out.GetStream().Events() {
		if c, ok := ev.(*brtypes.ResponseStreamMemberChunk); ok {
			chunks++
			last = string(c.Value.Bytes)
		}
	}
	if err := out.GetStream().Close(); err != nil || chunks < 5 || !strings.Contains(last, `"message_stop"`) {
		t.Fatalf("invoke stream: %d chunks, last %s, %v", chunks, last, err)
	}
	fault := func(args ...string) {
		t.Helper()
		if status, out, errOut := spillwayCLI(t, append(append([]string{"fault", "start"}, args...), "--endpoint", endpoint)...); status != 0 {
			t.Fatalf("fault start %v: %d %s%s", args, status, out, errOut)
		}
	}
	fault("stream-error", "--tokens", "12", "--rate", "1", "--error", "modelStreamErrorException")
	deltas, _, err := stream()
	if err == nil || !strings.Contains(err.Error(), "ModelStreamErrorException") || deltas != 12 {
		t.Fatalf("with stream-error: %d deltas, %v; want a ModelStreamErrorException after 12", deltas, err)
	}
	if status, _, _ := spillwayCLI(t, "fault", "stop", "1", "--endpoint", endpoint); status != 0 {
		t.Fatal("fault stop")
	}
	fault("stream-cut", "--tokens", "25")
	if deltas, ended, _ := stream(); ended || deltas != 25 {
		t.Fatalf("with stream-cut: %d deltas, ended %v; want 25 and no end", deltas, ended)
	}
	if status, _, errOut := spillwayCLI(t, "fault", "start", "stream-cut", "--endpoint", endpoint); status != 2 || !strings.Contains(errOut, "needs --tokens") {
		t.Fatalf("stream-cut without --tokens: %d %s", status, errOut)
	}
}
