package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"spillway/engine/bedrock"
	"spillway/engine/simaws/emulator"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// ownBodies gives the SDK client the transport Spillway's own client uses,
// which keeps a stream from being cut by the SDK closing its request body
// early (see bedrock.OwnBodies).
var ownBodies = func(o *bedrockruntime.Options) {
	o.HTTPClient = &http.Client{Transport: bedrock.OwnBodies{Next: http.DefaultTransport.(*http.Transport).Clone()}}
}

// converseStream makes one ConverseStream call and reads it to its end:
// the deltas' text, the events by kind, and the error the stream ended
// with, if any.
func converseStream(t *testing.T, f *fixture) (text string, kinds map[string]int, err error) {
	t.Helper()
	in := converseInput(profileID)
	out, err := f.runtime.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig}, ownBodies)
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	kinds = map[string]int{}
	var b strings.Builder
	for ev := range stream.Events() {
		switch e := ev.(type) {
		case *brtypes.ConverseStreamOutputMemberContentBlockDelta:
			kinds["delta"]++
			b.WriteString(e.Value.Delta.(*brtypes.ContentBlockDeltaMemberText).Value)
		case *brtypes.ConverseStreamOutputMemberMessageStop:
			kinds["stop"]++
		case *brtypes.ConverseStreamOutputMemberMetadata:
			kinds["metadata"]++
		}
	}
	return b.String(), kinds, stream.Err()
}

// Hundreds of streams in a row all end cleanly: with the SDK's own
// transport about one in a hundred was cut by the SDK itself, and the
// transport Spillway uses takes that race away.
func TestManyStreamsEndCleanly(t *testing.T) {
	f := start(t, emulator.Options{})
	for i := range 250 {
		if _, kinds, err := converseStream(t, f); err != nil || kinds["metadata"] != 1 {
			t.Fatalf("stream %d: %v, events %v", i, err, kinds)
		}
	}
}

// An exception event mid-stream reaches the SDK as the stream's error,
// of the documented type, after the tokens before it.
func TestAnExceptionEventMidStream(t *testing.T) {
	f := start(t, emulator.Options{})
	f.emu.Fleet().InjectFault(1, scenarios.Fault{Kind: scenarios.StreamError, Rate: 1, Tokens: 5, Error: "modelStreamErrorException"}, epoch, time.Time{})
	_, kinds, err := converseStream(t, f)
	var mse *brtypes.ModelStreamErrorException
	if !errors.As(err, &mse) || aws.ToInt32(mse.OriginalStatusCode) != 500 || kinds["delta"] != 5 || kinds["stop"] != 0 {
		t.Fatalf("error %v (%T), events %v; want a ModelStreamErrorException after 5 deltas and no end", err, err, kinds)
	}
	f.emu.Fleet().EndFault(1, epoch)
	f.emu.Fleet().InjectFault(2, scenarios.Fault{Kind: scenarios.StreamError, Rate: 1, Tokens: 3, Error: "throttlingException"}, epoch, time.Time{})
	_, kinds, err = converseStream(t, f)
	var te *brtypes.ThrottlingException
	if !errors.As(err, &te) || kinds["delta"] != 3 {
		t.Fatalf("error %v (%T), events %v; want a ThrottlingException after 3 deltas", err, err, kinds)
	}
}

// A stream cut mid-answer: the tokens before the cut arrive, then the
// connection drops with the chunked body unfinished (a plain HTTP read says
// "unexpected EOF"). The Go SDK's event-stream decoder (smithy-go 1.28)
// takes an unexpected EOF for the end of the stream, so to the SDK a cut
// looks like a short, clean answer: what tells it from one is the missing
// messageStop and metadata. A client that trusts the SDK's error alone
// counts a cut stream as a success.
func TestACutStreamEndsWithoutItsLastEvents(t *testing.T) {
	f := start(t, emulator.Options{})
	f.emu.Fleet().InjectFault(1, scenarios.Fault{Kind: scenarios.StreamCut, Rate: 1, Tokens: 7}, epoch, time.Time{})
	_, kinds, err := converseStream(t, f)
	if kinds["delta"] != 7 || kinds["stop"] != 0 || kinds["metadata"] != 0 {
		t.Fatalf("error %v, events %v; want 7 deltas and no end", err, kinds)
	}
	if err != nil {
		t.Logf("the SDK now reports a cut as an error (%v): the engine may use it", err)
	}
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":100}}`)
	req, _ := http.NewRequest(http.MethodPost, f.url+"/model/"+profileID+"/converse-stream", bytes.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+emulator.AccessKeyID("acct")+"/20261121/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a plain read of the cut stream: %v; want unexpected EOF", err)
	}
}

// ConverseStream through the Go SDK's event-stream reader: messageStart,
// one contentBlockDelta per output token, contentBlockStop, messageStop
// and metadata with the usage, each decoded by the SDK.
func TestConverseStreamThroughTheSDK(t *testing.T) {
	f := start(t, emulator.Options{})
	in := converseInput(profileID)
	out, err := f.runtime.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig}, ownBodies)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
	stream := out.GetStream()
	defer stream.Close()
	var kinds []string
	var text strings.Builder
	deltas := 0
	var usage *brtypes.TokenUsage
	for ev := range stream.Events() {
		switch e := ev.(type) {
		case *brtypes.ConverseStreamOutputMemberMessageStart:
			kinds = append(kinds, "start:"+string(e.Value.Role))
		case *brtypes.ConverseStreamOutputMemberContentBlockDelta:
			deltas++
			text.WriteString(e.Value.Delta.(*brtypes.ContentBlockDeltaMemberText).Value)
		case *brtypes.ConverseStreamOutputMemberContentBlockStop:
			kinds = append(kinds, "block-stop")
		case *brtypes.ConverseStreamOutputMemberMessageStop:
			kinds = append(kinds, "stop:"+string(e.Value.StopReason))
		case *brtypes.ConverseStreamOutputMemberMetadata:
			kinds = append(kinds, "metadata")
			usage = e.Value.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(kinds) != 4 || kinds[0] != "start:assistant" || kinds[1] != "block-stop" || !strings.HasPrefix(kinds[2], "stop:") || kinds[3] != "metadata" {
		t.Fatalf("events %v", kinds)
	}
	if usage == nil || int(aws.ToInt32(usage.OutputTokens)) != deltas || deltas == 0 || !strings.Contains(text.String(), "claude-sonnet-4") {
		t.Fatalf("%d deltas, usage %+v, text %q", deltas, usage, text.String())
	}
	first, _ := strconv.Atoi(raw.Header.Get(wire.FirstTokenHeader))
	if raw.Header.Get(wire.RegionHeader) == "" || first <= 0 {
		t.Fatalf("headers: region %q, first token %q", raw.Header.Get(wire.RegionHeader), raw.Header.Get(wire.FirstTokenHeader))
	}
	records := f.emu.Fleet().Records("acct", "BedrockModelInvocation", epoch.Add(time.Hour))
	if len(records) != 1 || records[0].Operation != "ConverseStream" {
		t.Fatalf("logs: %+v", records)
	}
}

// InvokeModelWithResponseStream: chunks of Anthropic's streaming body, in
// order, the last with Bedrock's invocation metrics.
func TestInvokeModelWithResponseStreamThroughTheSDK(t *testing.T) {
	f := start(t, emulator.Options{})
	out, err := f.runtime.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
		ModelId:     aws.String(profileID),
		ContentType: aws.String("application/json"),
		Body:        []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":"Hello"}]}`),
	}, ownBodies)
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var types []string
	var last map[string]any
	for ev := range stream.Events() {
		chunk, ok := ev.(*brtypes.ResponseStreamMemberChunk)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		var body map[string]any
		if err := json.Unmarshal(chunk.Value.Bytes, &body); err != nil {
			t.Fatal(err)
		}
		if len(types) == 0 || types[len(types)-1] != body["type"] {
			types = append(types, body["type"].(string))
		}
		last = body
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	want := "message_start content_block_start content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("chunk types %q, want %q", got, want)
	}
	metrics, _ := last["amazon-bedrock-invocationMetrics"].(map[string]any)
	if metrics["outputTokenCount"] == nil || metrics["firstByteLatency"] == nil || metrics["invocationLatency"] == nil {
		t.Fatalf("message_stop %v", last)
	}
}

// On the wall clock the emulator paces a stream: no token before the
// model's time to first token, and the last not before the answer's
// length. (Lower bounds only: a loaded machine may be later, never
// earlier.)
func TestAStreamIsPacedOnTheWallClock(t *testing.T) {
	s := world()
	s.Models = []scenarios.Model{{ID: profileID, ModelSpeed: scenarios.ModelSpeed{TTFT: 300 * time.Millisecond,
		TokensPerSecond: 100, OutputTokens: scenarios.TokenCount{Median: 20, P95: 20}}}}
	emu := emulator.New(s, nil, 1, epoch, emulator.Options{Sleep: true})
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	f := start(t, emulator.Options{})
	client := bedrockruntime.NewFromConfig(f.cfg, func(o *bedrockruntime.Options) {
		o.BaseEndpoint, o.Retryer, o.AuthSchemePreference = aws.String(url), aws.NopRetryer{}, []string{"sigv4"}
	}, ownBodies)
	in := converseInput(profileID)
	began := time.Now()
	out, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig})
	if err != nil {
		t.Fatal(err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var first, last time.Duration
	for ev := range stream.Events() {
		if _, ok := ev.(*brtypes.ConverseStreamOutputMemberContentBlockDelta); ok {
			if first == 0 {
				first = time.Since(began)
			}
			last = time.Since(began)
		}
	}
	// 20 tokens at 100 a second after the first at 300 ms: the last at
	// 300 ms + 200 ms.
	if first < 300*time.Millisecond || last < 500*time.Millisecond {
		t.Fatalf("first token after %v, last after %v; want no sooner than 300ms and 500ms", first, last)
	}
}
