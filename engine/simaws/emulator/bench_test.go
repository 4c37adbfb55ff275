package emulator_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"spillway/engine/simaws/emulator"
	"spillway/scenarios"
)

// benchWorld answers every call at once and never throttles, so the
// benchmarks measure the emulator's own work.
func benchWorld() *scenarios.Scenario {
	s := world()
	s.Accounts[0].QuotaRPM, s.Accounts[0].RegionQuotaRPM = scenarios.Unlimited, nil
	s.Models = []scenarios.Model{{ID: profileID}} // zero latency
	return s
}

const cannedConverse = `{"output":{"message":{"role":"assistant","content":[{"text":"(canned)"}]}},"stopReason":"end_turn","usage":{"inputTokens":13,"outputTokens":60,"totalTokens":73},"metrics":{"latencyMs":0}}`

// BenchmarkConverseRoundTrip compares one SDK Converse call to the emulator
// with the same call to a server that only returns a canned reply. The
// difference is the emulator's own cost; the SDK's is the floor.
func BenchmarkConverseRoundTrip(b *testing.B) {
	emu := emulator.New(benchWorld(), nil, 1, epoch, emulator.Options{})
	emuURL, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	canned := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-amzn-RequestId", "5b111a40-0000-4000-8000-000000000000")
		io.WriteString(w, cannedConverse)
	}))
	defer canned.Close()

	// The emulator over loopback TCP, the same emulator in process (no
	// socket), and the canned server over TCP, in one run.
	for _, target := range []struct {
		name, url string
		transport http.RoundTripper
	}{{"emulator", emuURL, nil}, {"emulator-in-process", emulator.InProcessEndpoint, emu.Transport()}, {"canned", canned.URL, nil}} {
		b.Run(target.name, func(b *testing.B) {
			cfg := aws.Config{Region: "us-east-1",
				Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKeyID("acct"), emulator.SecretAccessKey, "")}
			client := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
				o.BaseEndpoint, o.Retryer, o.AuthSchemePreference = aws.String(target.url), aws.NopRetryer{}, []string{"sigv4"}
				if target.transport != nil {
					o.HTTPClient = &http.Client{Transport: target.transport}
				}
			})
			in := converseInput(profileID)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.Converse(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEmulatorThroughput drives the emulator with concurrent plain
// net/http clients (no SDK) and reports Converse requests per second.
func BenchmarkEmulatorThroughput(b *testing.B) {
	for _, conc := range []int{16, 64} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			emu := emulator.New(benchWorld(), nil, 1, epoch, emulator.Options{})
			url, err := emu.Listen("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer emu.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
			body := []byte(`{"messages":[{"role":"user","content":[{"text":"Why resilience?"}]}],"inferenceConfig":{"maxTokens":100}}`)
			auth := "AWS4-HMAC-SHA256 Credential=" + emulator.AccessKeyID("acct") + "/20261121/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0"
			path := url + "/model/" + profileID + "/converse"
			b.SetParallelism((conc + 1) / 2) // ×GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, path, bytes.NewReader(body))
					req.Header.Set("Authorization", auth)
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkConverseStreamRoundTrip compares one SDK ConverseStream call of
// 100 tokens, read to its end, to the emulator with the same call to a
// server that replays the emulator's own recorded stream. The difference is
// the emulator's cost of planning and framing a stream.
func BenchmarkConverseStreamRoundTrip(b *testing.B) {
	world := benchWorld()
	world.Models[0].OutputTokens = scenarios.TokenCount{Median: 100, P95: 100}
	emu := emulator.New(world, nil, 1, epoch, emulator.Options{})
	emuURL, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	// Record one stream to replay.
	req, _ := http.NewRequest(http.MethodPost, emuURL+"/model/"+profileID+"/converse-stream",
		bytes.NewReader([]byte(`{"messages":[{"role":"user","content":[{"text":"Why resilience?"}]}],"inferenceConfig":{"maxTokens":100}}`)))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+emulator.AccessKeyID("acct")+"/20261121/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	recorded, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	canned := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Header().Set("x-amzn-RequestId", "5b111a40-0000-4000-8000-000000000000")
		w.Write(recorded)
	}))
	defer canned.Close()

	for _, target := range []struct {
		name, url string
		transport http.RoundTripper
	}{{"emulator", emuURL, nil}, {"emulator-in-process", emulator.InProcessEndpoint, emu.Transport()}, {"canned", canned.URL, nil}} {
		b.Run(target.name, func(b *testing.B) {
			cfg := aws.Config{Region: "us-east-1",
				Credentials: credentials.NewStaticCredentialsProvider(emulator.AccessKeyID("acct"), emulator.SecretAccessKey, "")}
			client := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
				o.BaseEndpoint, o.Retryer, o.AuthSchemePreference = aws.String(target.url), aws.NopRetryer{}, []string{"sigv4"}
			}, ownBodies)
			if target.transport != nil {
				client = bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
					o.BaseEndpoint, o.Retryer, o.AuthSchemePreference = aws.String(target.url), aws.NopRetryer{}, []string{"sigv4"}
					o.HTTPClient = &http.Client{Transport: target.transport}
				})
			}
			in := converseInput(profileID)
			stream := &bedrockruntime.ConverseStreamInput{ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				out, err := client.ConverseStream(ctx, stream)
				if err != nil {
					b.Fatal(err)
				}
				s := out.GetStream()
				deltas := 0
				for ev := range s.Events() {
					if _, ok := ev.(*brtypes.ConverseStreamOutputMemberContentBlockDelta); ok {
						deltas++
					}
				}
				if err := s.Close(); err != nil || deltas != 100 {
					b.Fatalf("%d deltas, %v", deltas, err)
				}
			}
		})
	}
}
