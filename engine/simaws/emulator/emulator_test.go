package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"spillway/engine"
	"spillway/engine/bedrock"
	"spillway/engine/simaws/emulator"
	"spillway/scenarios"
)

var epoch = time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)

const profileID = "us.anthropic.claude-sonnet-4-20250514-v1:0"

// world is a small account with known quotas and a model it may not use.
func world() *scenarios.Scenario {
	return &scenarios.Scenario{
		Name: "t",
		Accounts: []scenarios.Account{{Name: "acct", Profile: "acct", Region: "us-east-1", AccountID: "111122223333",
			QuotaRPM: 100, RegionQuotaRPM: map[string]scenarios.RPM{"us-east-1": 100, "us-east-2": 300, "us-west-2": 100},
			DeniedModels: []string{"anthropic.claude-3-7-sonnet-20250219-v1:0"}}},
		Deployments: []scenarios.Deployment{
			{Name: "a", Model: profileID, Account: "acct"},
			{Name: "b", Model: "anthropic.claude-3-7-sonnet-20250219-v1:0", Account: "acct"},
			{Name: "c", Model: "anthropic.claude-3-haiku-20240307-v1:0", Account: "acct"},
		},
		Logs: scenarios.Logs{Group: "BedrockModelInvocation", Delay: 20 * time.Second},
	}
}

type fixture struct {
	emu      *emulator.Server
	url      string
	clock    *emulator.ManualClock
	cfg      aws.Config
	runtime  *bedrockruntime.Client
	logs     *cloudwatchlogs.Client
	sts      *sts.Client
	accessID string
}

func start(t testing.TB, opts emulator.Options) *fixture {
	t.Helper()
	clock := emulator.NewManualClock(epoch)
	if opts.Clock == nil {
		opts.Clock = clock.Now
	}
	emu := emulator.New(world(), nil, 1, epoch, opts)
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	key := emulator.AccessKeyID("acct")
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, emulator.SecretAccessKey, "")}
	return &fixture{
		emu: emu, url: url, clock: clock, cfg: cfg, accessID: key,
		runtime: bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
			o.BaseEndpoint, o.Retryer, o.AuthSchemePreference = aws.String(url), aws.NopRetryer{}, []string{"sigv4"}
		}),
		logs: cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
			o.BaseEndpoint, o.Retryer = aws.String(url), aws.NopRetryer{}
		}),
		sts: sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint, o.Retryer = aws.String(url), aws.NopRetryer{} }),
	}
}

func converseInput(model string) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{
		ModelId: aws.String(model),
		Messages: []brtypes.Message{{Role: brtypes.ConversationRoleUser,
			Content: []brtypes.ContentBlock{&brtypes.ContentBlockMemberText{Value: "Why resilience?"}}}},
		InferenceConfig: &brtypes.InferenceConfiguration{MaxTokens: aws.Int32(100)},
	}
}

func TestConverseThroughTheSDK(t *testing.T) {
	f := start(t, emulator.Options{})
	out, err := f.runtime.Converse(context.Background(), converseInput(profileID))
	if err != nil {
		t.Fatal(err)
	}
	text := out.Output.(*brtypes.ConverseOutputMemberMessage).Value.Content[0].(*brtypes.ContentBlockMemberText).Value
	// An answer cut at maxTokens says so; one that ended on its own, too.
	stop := brtypes.StopReasonEndTurn
	if aws.ToInt32(out.Usage.OutputTokens) == 100 {
		stop = brtypes.StopReasonMaxTokens
	}
	if out.StopReason != stop || !strings.Contains(text, "claude-sonnet-4") ||
		aws.ToInt32(out.Usage.OutputTokens) < 1 || aws.ToInt32(out.Usage.OutputTokens) > 100 ||
		aws.ToInt64(out.Metrics.LatencyMs) < 1000 {
		t.Fatalf("reply: stop %q text %q usage %+v latency %d", out.StopReason, text, *out.Usage, aws.ToInt64(out.Metrics.LatencyMs))
	}
	// The same call made again lands in the fleet's logs: one record so far.
	records := f.emu.Fleet().Records("acct", "BedrockModelInvocation", epoch.Add(time.Hour))
	if len(records) != 1 || records[0].Region != "us-east-1" || records[0].Operation != "Converse" ||
		!strings.HasSuffix(records[0].ModelID, "inference-profile/"+profileID) {
		t.Fatalf("log records %+v", records)
	}
}

func TestInvokeModelWithAnAnthropicBody(t *testing.T) {
	f := start(t, emulator.Options{})
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":50,"messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}]}`
	out, err := f.runtime.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(profileID), Body: []byte(body), ContentType: aws.String("application/json"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var msg struct {
		Type    string `json:"type"`
		Role    string `json:"role"`
		Content []struct{ Type, Text string }
		Usage   struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(out.Body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || msg.Role != "assistant" || len(msg.Content) != 1 || msg.Content[0].Type != "text" ||
		msg.Usage.OutputTokens < 30 || msg.Usage.OutputTokens > 50 {
		t.Fatalf("anthropic reply %+v", msg)
	}
	// A body in another shape is a ValidationException, as on Bedrock.
	_, err = f.runtime.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String(profileID), Body: []byte(`{"messages":[]}`), ContentType: aws.String("application/json"),
	})
	var v *brtypes.ValidationException
	if !errors.As(err, &v) || !strings.Contains(v.ErrorMessage(), "anthropic_version") {
		t.Fatalf("body without anthropic_version: %v", err)
	}
}

// Each error the fleet produces reaches the SDK as its own exception type,
// and Spillway's backend puts it in the right class.
func TestErrorsArriveAsTypedExceptions(t *testing.T) {
	s := world()
	s.Accounts[0].RegionQuotaRPM = map[string]scenarios.RPM{"us-east-1": 1}
	emu := emulator.New(s, nil, 1, epoch, emulator.Options{Clock: func() time.Time { return epoch }})
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	client, err := bedrock.Connect(context.Background(), s, bedrock.Target{Endpoint: url,
		Credentials: func(a scenarios.Account) aws.CredentialsProvider {
			return credentials.NewStaticCredentialsProvider(emulator.AccessKeyID(a.Name), emulator.SecretAccessKey, "")
		}})
	if err != nil {
		t.Fatal(err)
	}
	if got := client.Accounts()[0].AccountID; got != "111122223333" {
		t.Fatalf("account id from STS = %q", got)
	}
	foundation := "anthropic.claude-3-haiku-20240307-v1:0"
	call := func(model string) (code, msg string, class scenarios.ErrorClass) {
		r := client.Invoke(context.Background(), epoch, bedrockCall(model))
		return r.Code, r.Message, r.Class
	}
	if code, _, _ := call(foundation); code != "" {
		t.Fatalf("first call within quota: %s", code)
	}
	cases := []struct {
		model, code, msg string
		class            scenarios.ErrorClass
	}{
		{foundation, "ThrottlingException", "Too many requests", scenarios.ClassThrottled},
		{"anthropic.claude-3-7-sonnet-20250219-v1:0", "AccessDeniedException", "Model access is not enabled for anthropic.claude-3-7-sonnet", scenarios.ClassAccessDenied},
		{"anthropic.claude-nonexistent-v9:0", "ValidationException", "model identifier is invalid", scenarios.ClassValidation},
	}
	for _, c := range cases {
		code, msg, class := call(c.model)
		if code != c.code || class != c.class || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: got %s %q (%s), want %s containing %q (%s)", c.model, code, msg, class, c.code, c.msg, c.class)
		}
	}
}

func bedrockCall(model string) engine.Call {
	return engine.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: model, Operation: scenarios.OpConverse,
		Prompt: "hi", MaxTokens: 100}
}

// startQuery runs the seed's query, exactly as the seed's demo builds it.
func (f *fixture) startQuery(t *testing.T, from time.Time, end time.Time) string {
	t.Helper()
	q := "filter modelId like /inference-profile\\/" + profileID + "/\n" +
		"and toMillis(@timestamp) >= " + strconv.FormatInt(from.UnixMilli(), 10) + "\n" +
		"| stats count(*) as invocationCount by inferenceRegion\n| sort inferenceRegion"
	out, err := f.logs.StartQuery(context.Background(), &cloudwatchlogs.StartQueryInput{
		LogGroupName: aws.String("BedrockModelInvocation"),
		StartTime:    aws.Int64(from.Unix()), EndTime: aws.Int64(end.Unix()), QueryString: aws.String(q),
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueryId)
}

func (f *fixture) results(t *testing.T, id string) (logtypes.QueryStatus, map[string]int) {
	t.Helper()
	out, err := f.logs.GetQueryResults(context.Background(), &cloudwatchlogs.GetQueryResultsInput{QueryId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, row := range out.Results {
		var region string
		var n int
		for _, fld := range row {
			switch aws.ToString(fld.Field) {
			case "inferenceRegion":
				region = aws.ToString(fld.Value)
			case "invocationCount":
				n, _ = strconv.Atoi(aws.ToString(fld.Value))
			}
		}
		counts[region] = n
	}
	return out.Status, counts
}

func TestSeedQueryCountsInvocationsByRegion(t *testing.T) {
	f := start(t, emulator.Options{})
	want := map[string]int{}
	for range 40 {
		if _, err := f.runtime.Converse(context.Background(), converseInput(profileID)); err != nil {
			t.Fatal(err)
		}
	}
	// Another model's calls must not count.
	if _, err := f.runtime.Converse(context.Background(), converseInput("anthropic.claude-3-haiku-20240307-v1:0")); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.emu.Fleet().Records("acct", "BedrockModelInvocation", epoch.Add(time.Hour)) {
		if strings.Contains(r.ModelID, "inference-profile/") {
			want[r.InferenceRegion]++
		}
	}
	if len(want) < 2 {
		t.Fatalf("40 calls landed in %v; want a spread over the us Regions", want)
	}
	f.clock.Add(time.Minute) // every record ingested
	id := f.startQuery(t, epoch.Add(-time.Minute), f.clock.Now())
	status, got := f.results(t, id)
	if status != logtypes.QueryStatusComplete || !equal(got, want) {
		t.Fatalf("status %s counts %v, want Complete and %v", status, got, want)
	}
}

func TestQueryRunsThenCompletesAsDelayedLogsArrive(t *testing.T) {
	f := start(t, emulator.Options{QueryTime: 2 * time.Second})
	for range 10 {
		if _, err := f.runtime.Converse(context.Background(), converseInput(profileID)); err != nil {
			t.Fatal(err)
		}
	}
	// Calls end a few seconds after they start and their logs arrive 10–30 s
	// later, so right after the calls the logs hold nothing yet.
	id := f.startQuery(t, epoch.Add(-time.Minute), epoch.Add(time.Hour))
	status, counts := f.results(t, id)
	if status != logtypes.QueryStatusRunning || total(counts) != 0 {
		t.Fatalf("at once: %s %v, want Running with nothing yet", status, counts)
	}
	f.clock.Add(time.Second)
	if status, _ := f.results(t, id); status != logtypes.QueryStatusRunning {
		t.Fatalf("1s in: %s, want still Running", status)
	}
	f.clock.Add(time.Second)
	status, counts = f.results(t, id)
	if status != logtypes.QueryStatusComplete || total(counts) == 10 {
		t.Fatalf("2s in: %s %v, want Complete with the logs not all in yet", status, counts)
	}
	f.clock.Add(time.Minute)
	if status, again := f.results(t, id); status != logtypes.QueryStatusComplete || !equal(again, counts) {
		t.Fatalf("a completed query changed: %v → %v", counts, again)
	}
	later := f.startQuery(t, epoch.Add(-time.Minute), epoch.Add(time.Hour))
	f.clock.Add(2 * time.Second)
	if status, counts := f.results(t, later); status != logtypes.QueryStatusComplete || total(counts) != 10 {
		t.Fatalf("a minute later: %s %v, want all 10 invocations", status, counts)
	}
	// DescribeQueries lists both, newest first.
	out, err := f.logs.DescribeQueries(context.Background(), &cloudwatchlogs.DescribeQueriesInput{})
	if err != nil || len(out.Queries) != 2 || aws.ToString(out.Queries[0].QueryId) != later {
		t.Fatalf("DescribeQueries: %v %+v", err, out)
	}
}

func TestLogErrors(t *testing.T) {
	f := start(t, emulator.Options{})
	ctx := context.Background()
	_, err := f.logs.StartQuery(ctx, &cloudwatchlogs.StartQueryInput{LogGroupName: aws.String("/aws/bedrock/other"),
		StartTime: aws.Int64(0), EndTime: aws.Int64(1), QueryString: aws.String("stats count(*)")})
	var notFound *logtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) || !strings.Contains(notFound.ErrorMessage(), "does not exist") {
		t.Fatalf("missing log group: %v", err)
	}
	for query, part := range map[string]string{
		"parse @message 'x' as y":                                 `"parse"`,
		"stats avg(latency) by inferenceRegion":                   "avg(latency)",
		"filter modelId like /x/ | stats count(*) by x | dedup x": `"dedup"`,
		"filter modelId ~ 3":                                      `"~"`,
	} {
		_, err := f.logs.StartQuery(ctx, &cloudwatchlogs.StartQueryInput{LogGroupName: aws.String("BedrockModelInvocation"),
			StartTime: aws.Int64(0), EndTime: aws.Int64(1), QueryString: aws.String(query)})
		var bad *logtypes.MalformedQueryException
		if !errors.As(err, &bad) || !strings.Contains(bad.ErrorMessage(), part) {
			t.Errorf("%q: %v; want MalformedQueryException naming %s", query, err, part)
		}
	}
	groups, err := f.logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("Bedrock")})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToString(groups.LogGroups[0].LogGroupName) != "BedrockModelInvocation" {
		t.Fatalf("DescribeLogGroups: %v %+v", err, groups)
	}
}

func TestSTSGetCallerIdentity(t *testing.T) {
	f := start(t, emulator.Options{})
	out, err := f.sts.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "111122223333" || !strings.Contains(aws.ToString(out.Arn), "111122223333") {
		t.Fatalf("identity %s %s", aws.ToString(out.Account), aws.ToString(out.Arn))
	}
	stranger := sts.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIAUNKNOWNKEY000000", "x", "")},
		func(o *sts.Options) { o.BaseEndpoint, o.Retryer = aws.String(f.url), aws.NopRetryer{} })
	_, err = stranger.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") || !strings.Contains(err.Error(), f.accessID) {
		t.Fatalf("unknown key: %v; want InvalidClientTokenId listing the emulator's keys", err)
	}
}

// raw sends a hand-made request and returns status, error type and body.
func raw(t *testing.T, url, path string, header map[string]string, body []byte) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+emulator.AccessKeyID("acct")+"/20261121/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Type string `json:"__type"`
	}
	json.Unmarshal(b, &e)
	if e.Type != "" && resp.Header.Get("X-Amzn-ErrorType") != e.Type {
		t.Errorf("header X-Amzn-ErrorType %q, body __type %q", resp.Header.Get("X-Amzn-ErrorType"), e.Type)
	}
	return resp.StatusCode, e.Type, string(b)
}

func TestBadRequestsGetAWSErrors(t *testing.T) {
	f := start(t, emulator.Options{})
	logs := map[string]string{"X-Amz-Target": "Logs_20140328.StartQuery", "Content-Type": "application/x-amz-json-1.1"}
	cases := []struct {
		name, path string
		header     map[string]string
		body       []byte
		status     int
		code       string
	}{
		{"malformed Converse JSON", "/model/" + profileID + "/converse", nil, []byte(`{"messages":[`), 400, "ValidationException"},
		{"malformed Logs JSON", "/", logs, []byte(`{"queryString":`), 400, "SerializationException"},
		{"unknown Bedrock operation", "/model/" + profileID + "/converse-batch", nil, []byte(`{}`), 404, "UnknownOperationException"},
		{"unknown Logs operation", "/", map[string]string{"X-Amz-Target": "Logs_20140328.PutLogEvents"}, []byte(`{}`), 404, "UnknownOperationException"},
		{"unknown path", "/2023-09-30/foundation-models", nil, nil, 404, "UnknownOperationException"},
		{"unknown model", "/model/anthropic.claude-nine-v1:0/converse", nil,
			[]byte(`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`), 400, "ValidationException"},
		{"oversized body", "/model/" + profileID + "/converse", nil, bytes.Repeat([]byte("x"), emulator.MaxBodyBytes+1), 400, "ValidationException"},
		{"unsigned", "/model/" + profileID + "/converse", map[string]string{"Authorization": ""}, []byte(`{}`), 403, "MissingAuthenticationTokenException"},
	}
	for _, c := range cases {
		status, code, body := raw(t, f.url, c.path, c.header, c.body)
		if status != c.status || code != c.code {
			t.Errorf("%s: %d %s (%s), want %d %s", c.name, status, code, body, c.status, c.code)
		}
	}
}

func TestClientDisconnectDoesNotStopTheEmulator(t *testing.T) {
	f := start(t, emulator.Options{Sleep: true, Clock: time.Now})
	host := strings.TrimPrefix(f.url, "http://")
	for range 20 {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		// A Converse that takes seconds on the wall clock, abandoned at once.
		body := `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`
		io.WriteString(conn, "POST /model/"+profileID+"/converse HTTP/1.1\r\nHost: "+host+
			"\r\nAuthorization: AWS4-HMAC-SHA256 Credential="+emulator.AccessKeyID("acct")+"/20261121/us-east-1/bedrock/aws4_request\r\n"+
			"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
		conn.Close()
	}
	if _, err := f.sts.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("emulator stopped answering after clients hung up: %v", err)
	}
}

func TestListensOnLoopbackOnly(t *testing.T) {
	emu := emulator.New(world(), nil, 1, epoch, emulator.Options{})
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		if _, err := emu.Listen(addr); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("Listen(%q): %v, want a loopback-only refusal", addr, err)
		}
	}
}

func equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
