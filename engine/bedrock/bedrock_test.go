package bedrock_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"spillway/engine"
	"spillway/engine/bedrock"
	"spillway/engine/simaws/emulator"
	"spillway/engine/simaws/fleet"
	"spillway/scenarios"
)

var epoch = time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)

const profileID = "us.anthropic.claude-sonnet-4-20250514-v1:0"

func scenario() *scenarios.Scenario {
	return &scenarios.Scenario{
		Name:        "t",
		Accounts:    []scenarios.Account{{Name: "acct", Profile: "spillway-test", Region: "us-east-1", AccountID: "111122223333", QuotaRPM: 100}},
		Deployments: []scenarios.Deployment{{Name: "a", Model: profileID, Account: "acct"}},
		Logs:        scenarios.Logs{Group: "BedrockModelInvocation", Delay: 20 * time.Second},
		FallbackOn:  scenarios.DefaultFallbackOn,
	}
}

func emulatorKeys(a scenarios.Account) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(emulator.AccessKeyID(a.Name), emulator.SecretAccessKey, "")
}

// canned answers every Bedrock call with one AWS error in the wire format.
func canned(code string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" { // STS, during Connect
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Account>111122223333</Account><Arn>arn:aws:sts::111122223333:assumed-role/x/y</Arn><UserId>x</UserId></GetCallerIdentityResult></GetCallerIdentityResponse>`)
			return
		}
		w.Header().Set("X-Amzn-ErrorType", code)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fleet.Status[code] + map[bool]int{true: 400}[fleet.Status[code] == 0])
		fmt.Fprintf(w, `{"__type":%q,"message":"message for %s"}`, code, code)
	}))
}

func TestEveryBedrockErrorMapsToItsTypeAndClass(t *testing.T) {
	cases := []struct {
		code   string
		target any
		class  scenarios.ErrorClass
	}{
		{"ThrottlingException", new(*brtypes.ThrottlingException), scenarios.ClassThrottled},
		{"ServiceUnavailableException", new(*brtypes.ServiceUnavailableException), scenarios.ClassThrottled},
		{"ModelNotReadyException", new(*brtypes.ModelNotReadyException), scenarios.ClassThrottled},
		{"InternalServerException", new(*brtypes.InternalServerException), scenarios.ClassServerError},
		{"ModelTimeoutException", new(*brtypes.ModelTimeoutException), scenarios.ClassServerError},
		{"AccessDeniedException", new(*brtypes.AccessDeniedException), scenarios.ClassAccessDenied},
		{"ValidationException", new(*brtypes.ValidationException), scenarios.ClassValidation},
		{"ResourceNotFoundException", new(*brtypes.ResourceNotFoundException), scenarios.ClassNotFound},
		{"ServiceQuotaExceededException", new(*brtypes.ServiceQuotaExceededException), scenarios.ClassQuota},
		{"ExpiredTokenException", nil, scenarios.ClassAccessDenied},
	}
	for _, c := range cases {
		srv := canned(c.code)
		cfg := aws.Config{Region: "us-east-1", Credentials: emulatorKeys(scenarios.Account{Name: "acct"})}
		sdk := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
			o.BaseEndpoint, o.Retryer = aws.String(srv.URL), aws.NopRetryer{}
		})
		_, err := sdk.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String(profileID)})
		if c.target != nil && !errors.As(err, c.target) {
			t.Errorf("%s: SDK error %T %v is not %T", c.code, err, err, c.target)
		}
		client, err := bedrock.Connect(context.Background(), scenario(), bedrock.Target{Endpoint: srv.URL, Credentials: emulatorKeys})
		if err != nil {
			t.Fatal(err)
		}
		r := client.Invoke(context.Background(), epoch, engine.Call{Account: "acct", SourceRegion: "us-east-1",
			ModelID: profileID, Operation: scenarios.OpConverse, Prompt: "x", MaxTokens: 10})
		if r.Code != c.code || r.Class != c.class || r.Message != "message for "+c.code {
			t.Errorf("%s: reply %s %q class %s, want class %s and the message as sent", c.code, r.Code, r.Message, r.Class, c.class)
		}
		srv.Close()
	}
}

// isolate points the SDK's shared files and instance metadata away from the
// machine's own, and clears credentials from the environment.
func isolate(t *testing.T, config, creds string) string {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("AWS_CONFIG_FILE", write("config", config))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", write("credentials", creds))
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EC2_METADATA_DISABLED", "AWS_BEARER_TOKEN_BEDROCK"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return dir
}

func TestMissingProfileIsNamed(t *testing.T) {
	isolate(t, "[profile other]\nregion = us-east-1\n", "")
	_, err := bedrock.Connect(context.Background(), scenario(), bedrock.Target{})
	if err == nil || !strings.Contains(err.Error(), `account "acct" (profile "spillway-test")`) ||
		!strings.Contains(err.Error(), "aws configure --profile spillway-test") {
		t.Fatalf("missing profile: %v", err)
	}
}

// No credentials anywhere, and an instance metadata service that accepts
// connections but never answers: Connect must give up within its deadline
// and say what to do, not hang.
func TestNoCredentialsAndNoIMDSFailsFast(t *testing.T) {
	isolate(t, "", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+ln.Addr().String())
	s := scenario()
	s.Accounts[0].Profile = scenarios.DefaultProfile
	done := make(chan error, 1)
	go func() {
		_, err := bedrock.Connect(context.Background(), s, bedrock.Target{SetupTimeout: 500 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "credentials") || !strings.Contains(err.Error(), "--backend sim") {
			t.Fatalf("no credentials: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Connect hung with no credentials and a silent metadata service")
	}
}

func TestExpiredTokenSaysRefresh(t *testing.T) {
	isolate(t, "[profile spillway-test]\nregion = us-east-1\n",
		"[spillway-test]\naws_access_key_id = AKIAEXPIRED000000000\naws_secret_access_key = x\naws_session_token = old\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
	}))
	defer srv.Close()
	_, err := bedrock.Connect(context.Background(), scenario(), bedrock.Target{Endpoint: srv.URL})
	if err == nil || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "aws sso login --profile spillway-test") {
		t.Fatalf("expired token: %v", err)
	}
}

func TestDeadEndpointIsNamed(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	_, err := bedrock.Connect(context.Background(), scenario(), bedrock.Target{Endpoint: dead, Credentials: emulatorKeys})
	if err == nil || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), "spillway emulator") {
		t.Fatalf("dead endpoint: %v", err)
	}
}

// emulated starts the emulator for s and connects to it on simulated time.
func emulated(t *testing.T, s *scenarios.Scenario, opts emulator.Options) (*bedrock.Client, *emulator.Server) {
	t.Helper()
	emu := emulator.New(s, nil, 1, epoch, opts)
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	client, err := bedrock.Connect(context.Background(), s, bedrock.Target{Endpoint: url, Credentials: emulatorKeys, Virtual: true})
	if err != nil {
		t.Fatal(err)
	}
	return client, emu
}

func TestRegionCountsMatchTheInvocations(t *testing.T) {
	s := scenario()
	client, emu := emulated(t, s, emulator.Options{})
	for i := range 30 {
		r := client.Invoke(context.Background(), epoch.Add(time.Duration(i)*time.Second), engine.Call{Account: "acct",
			SourceRegion: "us-east-1", ModelID: profileID, Operation: scenarios.OpInvokeModel, Prompt: "x", MaxTokens: 10})
		if r.Code != "" || r.Region == "" || r.Latency <= 0 {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	q := engine.LogQuery{Account: "acct", LogGroup: "BedrockModelInvocation", Models: []string{profileID},
		From: epoch.Add(-time.Minute), To: epoch.Add(5 * time.Minute), Since: epoch}
	counts, err := client.RegionCounts(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, r := range emu.Fleet().Records("acct", "BedrockModelInvocation", q.To) {
		want[r.InferenceRegion]++
	}
	n := 0
	for _, c := range counts {
		n += c.Count
		if want[c.Region] != c.Count {
			t.Errorf("%s: %d, logs hold %d", c.Region, c.Count, want[c.Region])
		}
	}
	if n != 30 {
		t.Fatalf("histogram %v adds up to %d, want 30", counts, n)
	}
	// Right after the calls, the delayed logs show only part of them.
	q.To = epoch.Add(30 * time.Second)
	early, err := client.RegionCounts(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if m := sum(early); m >= 30 {
		t.Fatalf("at +30s the histogram already holds %d of 30; logs must arrive late", m)
	}
}

func TestLogFailuresBecomeHistogramMessages(t *testing.T) {
	s := scenario()
	client, _ := emulated(t, s, emulator.Options{})
	q := engine.LogQuery{Account: "acct", LogGroup: "MissingGroup", Models: []string{profileID}, From: epoch, To: epoch}
	_, err := client.RegionCounts(context.Background(), q)
	if err == nil || !strings.Contains(err.Error(), `log group "MissingGroup" does not exist in account …3333`) ||
		!strings.Contains(err.Error(), "logs.group") {
		t.Fatalf("missing group: %v", err)
	}

	for status, want := range map[string]string{
		"Failed":    "ended Failed",
		"Cancelled": "ended Cancelled",
		"Timeout":   "ended Timeout",
		"throttle":  "throttled the query",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			switch target := r.Header.Get("X-Amz-Target"); {
			case target == "":
				w.Header().Set("Content-Type", "text/xml")
				fmt.Fprint(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`)
			case status == "throttle":
				w.Header().Set("X-Amzn-ErrorType", "LimitExceededException")
				w.WriteHeader(400)
				fmt.Fprint(w, `{"__type":"LimitExceededException","message":"Account maximum query concurrency limit of [30] reached."}`)
			case strings.HasSuffix(target, "StartQuery"):
				fmt.Fprint(w, `{"queryId":"q1"}`)
			default:
				fmt.Fprintf(w, `{"status":%q,"results":[]}`, status)
			}
		}))
		c, err := bedrock.Connect(context.Background(), s, bedrock.Target{Endpoint: srv.URL, Credentials: emulatorKeys})
		if err != nil {
			t.Fatal(err)
		}
		q.LogGroup = "BedrockModelInvocation"
		_, err = c.RegionCounts(context.Background(), q)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", status, err, want)
		}
		srv.Close()
	}
}

func TestModelAccessMessageComesThroughAsSent(t *testing.T) {
	s := scenario()
	s.Accounts[0].DeniedModels = []string{profileID}
	client, _ := emulated(t, s, emulator.Options{})
	r := client.Invoke(context.Background(), epoch, engine.Call{Account: "acct", SourceRegion: "us-east-1",
		ModelID: profileID, Operation: scenarios.OpConverse, Prompt: "x", MaxTokens: 10})
	if r.Code != "AccessDeniedException" || r.Class != scenarios.ClassAccessDenied ||
		!strings.Contains(r.Message, "Model access is not enabled for anthropic.claude-sonnet-4-20250514-v1:0 in account …3333") {
		t.Fatalf("denied model: %+v", r)
	}
}

func TestSeedQueryText(t *testing.T) {
	from := time.UnixMilli(1763735787000)
	got := bedrock.RegionQuery([]string{profileID}, from)
	want := "filter modelId like /inference-profile\\/us\\.anthropic\\.claude-sonnet-4-20250514-v1:0/\n" +
		"and toMillis(@timestamp) >= 1763735787000\n| stats count(*) as invocationCount by inferenceRegion\n| sort inferenceRegion"
	if got != want {
		t.Fatalf("query:\n%s\nwant:\n%s", got, want)
	}
	two := bedrock.RegionQuery([]string{profileID, "anthropic.claude-3-haiku-20240307-v1:0"}, from)
	if !strings.Contains(two, `/(inference-profile\/us\.anthropic\.claude-sonnet-4-20250514-v1:0|foundation-model\/anthropic\.claude-3-haiku-20240307-v1:0)/`) {
		t.Fatalf("two models: %s", two)
	}
}

func sum(cs []engine.RegionCount) int {
	n := 0
	for _, c := range cs {
		n += c.Count
	}
	return n
}

// A quota throttle from the emulator carries Retry-After, and the client
// reads it into the reply, as it would from Bedrock.
func TestRetryAfterComesThroughTheSDK(t *testing.T) {
	s := scenario()
	s.Accounts[0].QuotaRPM = 1
	s.Accounts[0].Regions = []string{"us-east-1"}
	emu := emulator.New(s, nil, 1, epoch, emulator.Options{})
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	client, err := bedrock.Connect(context.Background(), s, bedrock.Target{Endpoint: url, Virtual: true, Credentials: emulatorKeys})
	if err != nil {
		t.Fatal(err)
	}
	call := engine.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: profileID, Operation: scenarios.OpConverse, Prompt: "x", MaxTokens: 10}
	if r := client.Invoke(context.Background(), epoch, call); r.Code != "" {
		t.Fatalf("first call: %s %s", r.Code, r.Message)
	}
	r := client.Invoke(context.Background(), epoch.Add(time.Second), call)
	if r.Code != "ThrottlingException" || r.RetryAfter < time.Second || r.RetryAfter > time.Minute || r.RetryAfter%time.Second != 0 {
		t.Fatalf("second call at 1 RPM: %s, Retry-After %v; want ThrottlingException with whole seconds up to a minute", r.Code, r.RetryAfter)
	}
}

// An endpoint may send any Retry-After; the wait the engine schedules is
// held to scenarios.MaxWait, never an overflowed or years-long one.
func TestAbsurdRetryAfterIsHeldToTheLongestWait(t *testing.T) {
	for _, header := range []string{"99999999999", "9223372036854775807", "3600"} {
		srv := canned("ThrottlingException")
		inner := srv.Config.Handler
		srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", header)
			inner.ServeHTTP(w, r)
		})
		s := scenario()
		client, err := bedrock.Connect(context.Background(), s, bedrock.Target{Endpoint: srv.URL, Virtual: true, Credentials: emulatorKeys})
		if err != nil {
			t.Fatal(err)
		}
		call := engine.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: profileID, Operation: scenarios.OpConverse, Prompt: "x", MaxTokens: 10}
		if r := client.Invoke(context.Background(), epoch, call); r.Code != "ThrottlingException" || r.RetryAfter != scenarios.MaxWait {
			t.Errorf("Retry-After %s: %s, wait %v; want ThrottlingException and %v", header, r.Code, r.RetryAfter, scenarios.MaxWait)
		}
		srv.Close()
	}
}

// InvokeModel sends each family its own body, and reads the tokens of
// either answer: a Nova model gets messages-v1, Claude the Messages API;
// the input is the prompt lengthened to the tokens the gateway counted.
func TestInvokeModelSpeaksEachFamilysBody(t *testing.T) {
	s := scenario()
	client, _ := emulated(t, s, emulator.Options{})
	for _, model := range []string{profileID, "us.amazon.nova-pro-v1:0"} {
		r := client.Invoke(context.Background(), epoch, engine.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: model,
			Operation: scenarios.OpInvokeModel, Prompt: "x", InputTokens: 700, MaxTokens: 50})
		if r.Code != "" || r.InputTokens != 700 || r.OutputTokens == 0 || r.OutputTokens > 50 {
			t.Errorf("%s: %+v; want an answer of 700 input tokens and up to 50 output", model, r)
		}
	}
}

// streamWorld streams from one model: first token at 300 ms, then 100
// tokens a second, 100 tokens.
func streamWorld() *scenarios.Scenario {
	s := scenario()
	s.Models = []scenarios.Model{{ID: profileID, ModelSpeed: scenarios.ModelSpeed{TTFT: 300 * time.Millisecond,
		TokensPerSecond: 100, OutputTokens: scenarios.TokenCount{Median: 100, P95: 100}}}}
	return s
}

// A streamed call through the SDK's event-stream reader tells the engine
// its first token, its tokens and how it ended: whole, cut (no final
// event, though the SDK reports no error), an exception event by its
// type, and a pause, from the emulator's headers on simulated time.
func TestStreamedCallsSayHowTheyEnded(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    *scenarios.Fault
		broken   string
		streamed int
		stall    time.Duration
	}{
		{name: "whole", streamed: 100},
		{name: "cut", fault: &scenarios.Fault{Kind: scenarios.StreamCut, Tokens: 30, Rate: 1}, broken: engine.StreamCut, streamed: 30},
		{name: "exception", fault: &scenarios.Fault{Kind: scenarios.StreamError, Tokens: 10, Rate: 1, Error: "modelStreamErrorException"},
			broken: "modelStreamErrorException", streamed: 10},
		{name: "stall", fault: &scenarios.Fault{Kind: scenarios.StreamStall, Tokens: 50, Stall: 20 * time.Second}, streamed: 100, stall: 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, emu := emulated(t, streamWorld(), emulator.Options{})
			if tc.fault != nil {
				emu.Fleet().InjectFault(1, *tc.fault, epoch, time.Time{})
			}
			r := client.Invoke(context.Background(), epoch, engine.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: profileID,
				Operation: scenarios.OpConverse, Prompt: "x", MaxTokens: 500, Stream: true})
			if r.Code != "" || r.FirstToken != 300*time.Millisecond || r.Broken != tc.broken || r.Streamed != tc.streamed || r.Stall != tc.stall {
				t.Fatalf("%+v; want first token at 300ms, broken %q after %d tokens, stall %v", r, tc.broken, tc.streamed, tc.stall)
			}
			if tc.stall > 0 && (r.StallAfter != 50 || r.StallAt <= r.FirstToken) {
				t.Fatalf("stall after %d at %v", r.StallAfter, r.StallAt)
			}
		})
	}
}

// On the wall clock the client times a stream out itself: no first token
// within the TTFT timeout is a timeout the gateway may fall back on.
func TestTheClientTimesAWallClockStreamOut(t *testing.T) {
	s := streamWorld()
	s.Models[0].TTFT = 5 * time.Second
	emu := emulator.New(s, nil, 1, epoch, emulator.Options{Sleep: true})
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	client, err := bedrock.Connect(context.Background(), s, bedrock.Target{Endpoint: url, Credentials: emulatorKeys, CallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r := client.Invoke(context.Background(), epoch, engine.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: profileID,
		Operation: scenarios.OpConverse, Prompt: "x", MaxTokens: 500, Stream: true, TTFTTimeout: 200 * time.Millisecond})
	if r.Code != engine.NoFirstToken || r.Class != scenarios.ClassTimeout {
		t.Fatalf("%+v; want NoFirstTokenInTime, a timeout", r)
	}
}

// InvokeModelWithResponseStream reads each family's own streaming body:
// Anthropic's typed chunks, and Nova's Converse-shaped ones.
func TestInvokeModelStreamsEachFamilysChunks(t *testing.T) {
	client, _ := emulated(t, streamWorld(), emulator.Options{})
	for _, model := range []string{profileID, "us.amazon.nova-pro-v1:0"} {
		r := client.Invoke(context.Background(), epoch, engine.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: model,
			Operation: scenarios.OpInvokeModel, Prompt: "x", MaxTokens: 50, Stream: true})
		if r.Code != "" || r.Broken != "" || r.Streamed == 0 || r.OutputTokens != r.Streamed || r.FirstToken <= 0 {
			t.Errorf("%s: %+v; want a whole stream, its tokens counted", model, r)
		}
	}
}
