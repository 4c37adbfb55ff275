package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"spillway/engine/simaws/emulator"

	"spillway/engine/wire"
)

// The tests in this file feed the emulator what a careless or hostile
// local process might, through real HTTP, and check that each is refused
// with an AWS error and that nothing it leaves behind grows without bound.

var logsHeaders = map[string]string{"X-Amz-Target": "Logs_20140328.StartQuery", "Content-Type": "application/x-amz-json-1.1"}

func (f *fixture) startQueryString(query string) (string, error) {
	out, err := f.logs.StartQuery(context.Background(), &cloudwatchlogs.StartQueryInput{
		LogGroupName: aws.String("BedrockModelInvocation"),
		StartTime:    aws.Int64(epoch.Add(-time.Hour).Unix()), EndTime: aws.Int64(epoch.Add(time.Hour).Unix()),
		QueryString: aws.String(query),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueryId), nil
}

// nested is a filter whose condition sits inside depth parentheses.
func nested(depth int) string {
	return "filter " + strings.Repeat("(", depth) + "inferenceRegion = 'us-east-2'" + strings.Repeat(")", depth)
}

func TestQueryStringsAreBoundedInLengthAndNesting(t *testing.T) {
	f := start(t, emulator.Options{})
	// A megabyte of parentheses once overflowed the parser's stack and
	// killed the process.
	_, err := f.startQueryString(nested(500_000))
	var invalid *logtypes.InvalidParameterException
	if !errors.As(err, &invalid) || !strings.Contains(invalid.ErrorMessage(), "10000") {
		t.Fatalf("a 1 MB query: %v; want InvalidParameterException naming the 10000-character limit", err)
	}
	atLimit := "filter inferenceRegion = 'us-east-2'"
	atLimit += strings.Repeat(" ", emulator.MaxQueryLength-len(atLimit))
	if _, err := f.startQueryString(atLimit); err != nil {
		t.Fatalf("a query of exactly %d characters: %v", emulator.MaxQueryLength, err)
	}
	if _, err := f.startQueryString(atLimit + " "); !errors.As(err, &invalid) {
		t.Fatalf("a query one character too long: %v, want InvalidParameterException", err)
	}
	// The limit counts characters, as CloudWatch does, not bytes.
	wide := "filter inferenceRegion = '" + strings.Repeat("é", emulator.MaxQueryLength-30) + "'"
	if _, err := f.startQueryString(wide); err != nil {
		t.Fatalf("a query of %d characters in %d bytes: %v", len([]rune(wide)), len(wide), err)
	}

	if _, err := f.startQueryString(nested(50)); err != nil {
		t.Fatalf("50 levels of parentheses: %v", err)
	}
	_, err = f.startQueryString(nested(51))
	var malformed *logtypes.MalformedQueryException
	if !errors.As(err, &malformed) || !strings.Contains(malformed.ErrorMessage(), "51") || !strings.Contains(malformed.ErrorMessage(), "50") {
		t.Fatalf("51 levels: %v; want MalformedQueryException naming the depth and the limit of 50", err)
	}
}

func TestLogsAndSTSBodiesOverOneMiBAreRefused(t *testing.T) {
	f := start(t, emulator.Options{})
	big := `{"queryString":"` + strings.Repeat(" ", emulator.MaxLogsBodyBytes) + `"}`
	status, code, body := raw(t, f.url, "/", logsHeaders, []byte(big))
	if status != 400 || code != "InvalidParameterException" || !strings.Contains(body, strconv.Itoa(emulator.MaxLogsBodyBytes)) {
		t.Fatalf("a Logs body over %d bytes: %d %s %s", emulator.MaxLogsBodyBytes, status, code, clip(body))
	}
	form := "Action=GetCallerIdentity&Version=2011-06-15&Pad=" + strings.Repeat("x", emulator.MaxLogsBodyBytes)
	status, _, body = raw(t, f.url, "/", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, []byte(form))
	if status != 400 || !strings.Contains(body, "<Code>") || !strings.Contains(body, strconv.Itoa(emulator.MaxLogsBodyBytes)) {
		t.Fatalf("an STS body over %d bytes: %d %s; want an STS XML error naming the limit", emulator.MaxLogsBodyBytes, status, clip(body))
	}
}

func TestFinishedQueriesAreForgottenAfterADay(t *testing.T) {
	f := start(t, emulator.Options{})
	old, err := f.startQueryString("stats count(*)")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(23 * time.Hour)
	if _, err := f.logs.GetQueryResults(context.Background(), &cloudwatchlogs.GetQueryResultsInput{QueryId: aws.String(old)}); err != nil {
		t.Fatalf("a query 23 hours old: %v", err)
	}
	f.clock.Add(2 * time.Hour)
	recent, err := f.startQueryString("stats count(*)")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.logs.GetQueryResults(context.Background(), &cloudwatchlogs.GetQueryResultsInput{QueryId: aws.String(old)})
	var notFound *logtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) || !strings.Contains(notFound.ErrorMessage(), "24 hours") {
		t.Fatalf("a query 25 hours old: %v; want ResourceNotFoundException that says how long queries are kept", err)
	}
	out, err := f.logs.DescribeQueries(context.Background(), &cloudwatchlogs.DescribeQueriesInput{})
	if err != nil || len(out.Queries) != 1 || aws.ToString(out.Queries[0].QueryId) != recent {
		t.Fatalf("DescribeQueries: %v %+v; want only the recent query", err, out)
	}
}

func TestDescribeQueriesMaxResultsIsCloudWatchsRange(t *testing.T) {
	f := start(t, emulator.Options{})
	for _, n := range []int32{0, 1001} {
		_, err := f.logs.DescribeQueries(context.Background(), &cloudwatchlogs.DescribeQueriesInput{MaxResults: aws.Int32(n)})
		var invalid *logtypes.InvalidParameterException
		if !errors.As(err, &invalid) || !strings.Contains(invalid.ErrorMessage(), "1000") {
			t.Errorf("maxResults %d: %v; want InvalidParameterException naming 1 to 1000", n, err)
		}
	}
	if _, err := f.logs.DescribeQueries(context.Background(), &cloudwatchlogs.DescribeQueriesInput{MaxResults: aws.Int32(1000)}); err != nil {
		t.Fatalf("maxResults 1000: %v", err)
	}
}

// authorization is a SigV4 header whose credential scope names region.
func authorization(key, region string) string {
	return "AWS4-HMAC-SHA256 Credential=" + key + "/20261121/" + region + "/bedrock/aws4_request, SignedHeaders=host, Signature=0"
}

func TestCredentialScopeRegionsAreCheckedAndCapped(t *testing.T) {
	f := start(t, emulator.Options{})
	describe := func(region string) (int, string, string) {
		return raw(t, f.url, "/", map[string]string{"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
			"Authorization": authorization(f.accessID, region)}, []byte(`{}`))
	}
	for _, bad := range []string{"", "US-EAST-1", "us_east_1", "useast1", "us-east-", "x-1", strings.Repeat("us-east-", 10) + "1"} {
		if status, code, body := describe(bad); status != 403 || code != "InvalidSignatureException" || !strings.Contains(body, "valid region") {
			t.Errorf("region %q: %d %s %s; want 403 InvalidSignatureException", bad, status, code, clip(body))
		}
	}
	for _, good := range []string{"us-east-1", "us-gov-west-1", "ap-southeast-4", "eusc-de-east-1"} {
		if status, code, body := describe(good); status != 200 {
			t.Errorf("region %q: %d %s %s", good, status, code, clip(body))
		}
	}
	// Every Region name is kept for the emulator's life, so a stranger
	// inventing one a call is refused once the emulator has seen enough.
	refused := 0
	for i := range 2 * emulator.MaxSourceRegions {
		status, code, body := describe(fmt.Sprintf("zz-invented%c%c-1", 'a'+i/26, 'a'+i%26))
		switch {
		case status == 200:
		case status == 403 && code == "InvalidSignatureException" && strings.Contains(body, strconv.Itoa(emulator.MaxSourceRegions)):
			refused++
		default:
			t.Fatalf("invented Region %d: %d %s %s", i, status, code, clip(body))
		}
	}
	if accepted := 2*emulator.MaxSourceRegions - refused; accepted+4 != emulator.MaxSourceRegions {
		t.Fatalf("%d invented Regions accepted beside the 4 real ones, want %d in all", accepted, emulator.MaxSourceRegions)
	}
	if status, _, _ := describe("us-east-1"); status != 200 {
		t.Fatalf("a Region seen before the cap was reached is refused after it: %d", status)
	}
}

func TestMaxTokensOverTheLimitIsAValidationException(t *testing.T) {
	f := start(t, emulator.Options{})
	path := "/model/" + profileID
	// The model's own limit (Claude Sonnet 4: 64,000), or, for a number no
	// model takes, the body's.
	for _, c := range []struct{ op, body, limit string }{
		{"/converse", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":4611686018427387904}}`, "64000"},
		{"/converse", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":64001}}`, "64000"},
		{"/invoke", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":64001,"messages":[{"role":"user","content":"x"}]}`, "64000"},
		{"/invoke", `{"anthropic_version":"bedrock-2023-05-31","max_tokens":4611686018427387904,"messages":[{"role":"user","content":"x"}]}`, "1000000"},
	} {
		status, code, body := raw(t, f.url, path+c.op, nil, []byte(c.body))
		if status != 400 || code != "ValidationException" || !strings.Contains(body, c.limit) {
			t.Errorf("%s %s: %d %s %s; want 400 ValidationException naming the limit of %s", c.op, clip(c.body), status, code, body, c.limit)
		}
	}
	ok := `{"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":64000}}`
	if status, code, body := raw(t, f.url, path+"/converse", nil, []byte(ok)); status != 200 {
		t.Fatalf("maxTokens at the limit: %d %s %s", status, code, body)
	}
}

func TestModelIDsLongerThanBedrocksLimitAreRefused(t *testing.T) {
	f := start(t, emulator.Options{})
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`)
	arn := func(pad int) string {
		return "arn:aws:bedrock:us-east-1:111122223333:inference-profile/" + strings.Repeat("x", pad) + "/" + profileID
	}
	long := arn(2048)
	status, code, resp := raw(t, f.url, "/model/"+strings.ReplaceAll(long, "/", "%2F")+"/converse", nil, body)
	if status != 400 || code != "ValidationException" || !strings.Contains(resp, "2048") {
		t.Fatalf("a %d-character model id: %d %s %s; want ValidationException naming 2048", len(long), status, code, clip(resp))
	}
	short := arn(100)
	if status, code, resp := raw(t, f.url, "/model/"+strings.ReplaceAll(short, "/", "%2F")+"/converse", nil, body); status != 200 {
		t.Fatalf("a %d-character model id: %d %s %s", len(short), status, code, resp)
	}
}

func TestSimulatedTimeHeaderIsBoundedToPlausibleYears(t *testing.T) {
	f := start(t, emulator.Options{})
	path := "/model/" + profileID + "/converse"
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`)
	for _, v := range []string{"9223372036854775807", "-9223372036854775808", "-1", "0",
		strconv.FormatInt(time.Date(2200, 1, 1, 0, 0, 0, 1, time.UTC).UnixNano(), 10)} {
		status, code, resp := raw(t, f.url, path, map[string]string{wire.TimeHeader: v}, body)
		if status != 400 || code != "ValidationException" || !strings.Contains(resp, "2000") || !strings.Contains(resp, "2200") {
			t.Errorf("%s %s: %d %s %s; want ValidationException naming the years allowed", wire.TimeHeader, v, status, code, resp)
		}
	}
	for _, at := range []time.Time{time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), epoch, time.Date(2199, 12, 31, 0, 0, 0, 0, time.UTC)} {
		if status, code, resp := raw(t, f.url, path, map[string]string{wire.TimeHeader: strconv.FormatInt(at.UnixNano(), 10)}, body); status != 200 {
			t.Errorf("%s at %v: %d %s %s", wire.TimeHeader, at, status, code, resp)
		}
	}
}

// Errors quote what the client sent so a person can see the mistake, but
// never all of it: a megabyte echoed back is a megabyte more to hold.
func TestErrorsQuoteAtMostAFewHundredCharactersOfInput(t *testing.T) {
	f := start(t, emulator.Options{})
	long := strings.Repeat("A", 20_000)
	cases := []struct {
		name   string
		path   string
		header map[string]string
		body   string
	}{
		{"access key", "/", map[string]string{"X-Amz-Target": "Logs_20140328.DescribeLogGroups", "Authorization": authorization(long, "us-east-1")}, `{}`},
		{"credential scope", "/", map[string]string{"X-Amz-Target": "Logs_20140328.DescribeLogGroups",
			"Authorization": "AWS4-HMAC-SHA256 Credential=" + strings.Repeat("a/", 10_000)}, `{}`},
		{"Logs operation", "/", map[string]string{"X-Amz-Target": "Logs_20140328." + long}, `{}`},
		{"path", "/" + long, nil, ``},
		{"Bedrock operation", "/model/" + profileID + "/" + long, nil, `{}`},
		{"log group", "/", logsHeaders, `{"logGroupName":"` + long + `","startTime":0,"endTime":1,"queryString":"stats count(*)"}`},
		{"query", "/", logsHeaders, `{"logGroupName":"BedrockModelInvocation","startTime":0,"endTime":1,"queryString":"filter ` + strings.Repeat("x", 9000) + `(1)"}`},
		{"query token", "/", logsHeaders, `{"logGroupName":"BedrockModelInvocation","startTime":0,"endTime":1,"queryString":"filter a = 1 '` + strings.Repeat("x", 9000) + `'"}`},
		{"query id", "/", map[string]string{"X-Amz-Target": "Logs_20140328.GetQueryResults"}, `{"queryId":"` + long + `"}`},
		{"JSON", "/", logsHeaders, `{"queryString":` + long + `}`},
	}
	for _, c := range cases {
		status, code, body := raw(t, f.url, c.path, c.header, []byte(c.body))
		if status < 400 || code == "" || len(body) > 1000 {
			t.Errorf("%s: %d %s, %d-byte body %s; want an AWS error of at most 1000 bytes", c.name, status, code, len(body), clip(body))
		}
	}
}

func TestOversizedHeadersAreRefused(t *testing.T) {
	f := start(t, emulator.Options{})
	req, _ := http.NewRequest(http.MethodPost, f.url+"/", bytes.NewReader([]byte(`{}`)))
	req.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
	req.Header.Set("X-Padding", strings.Repeat("x", 2*emulator.MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("%d bytes of headers: status %d, want 431", 2*emulator.MaxHeaderBytes, resp.StatusCode)
	}
}

func TestLogRetentionOptionsBoundTheInvocationLogs(t *testing.T) {
	f := start(t, emulator.Options{LogRetention: 24 * time.Hour, MaxLogRecords: 3})
	for range 5 {
		if _, err := f.runtime.Converse(context.Background(), converseInput(profileID)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.emu.Fleet().Records("acct", "BedrockModelInvocation", epoch.Add(time.Hour))); n != 3 {
		t.Fatalf("%d records after 5 calls with MaxLogRecords 3", n)
	}
	f.clock.Add(time.Hour)
	id, err := f.startQueryString("stats count(*) as n")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.logs.GetQueryResults(context.Background(), &cloudwatchlogs.GetQueryResultsInput{QueryId: aws.String(id)})
	if err != nil || len(out.Results) != 1 || aws.ToString(out.Results[0][0].Value) != "3" {
		t.Fatalf("Logs Insights sees %v %v, want the 3 records kept", out, err)
	}
	groups, err := f.logs.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToInt32(groups.LogGroups[0].RetentionInDays) != 1 {
		t.Fatalf("DescribeLogGroups: %v %+v, want retentionInDays 1 for a 24h retention", err, groups)
	}
	// Without a retention the group says nothing of one, as CloudWatch's
	// never-expire groups do.
	forever := start(t, emulator.Options{})
	groups, err = forever.logs.DescribeLogGroups(context.Background(), &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil || len(groups.LogGroups) != 1 || groups.LogGroups[0].RetentionInDays != nil {
		t.Fatalf("DescribeLogGroups without a retention: %v %+v", err, groups)
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// Retention is measured on the emulator's own clock: a client that sends
// a far-future X-Spillway-Time must not age out everyone else's logs and
// queries.
func TestFutureSimulatedTimeDoesNotExpireOtherClientsData(t *testing.T) {
	f := start(t, emulator.Options{LogRetention: 24 * time.Hour})
	for range 3 {
		if _, err := f.runtime.Converse(context.Background(), converseInput(profileID)); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Add(time.Minute)
	id, err := f.startQueryString("stats count(*) as n")
	if err != nil {
		t.Fatal(err)
	}
	future := strconv.FormatInt(time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), 10)
	body := `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`
	if status, code, resp := raw(t, f.url, "/model/"+profileID+"/converse", map[string]string{wire.TimeHeader: future}, []byte(body)); status != 200 {
		t.Fatalf("a call in 2150: %d %s %s", status, code, resp)
	}
	if status, code, resp := raw(t, f.url, "/", map[string]string{"X-Amz-Target": "Logs_20140328.DescribeQueries", wire.TimeHeader: future}, []byte(`{}`)); status != 200 {
		t.Fatalf("DescribeQueries in 2150: %d %s %s", status, code, resp)
	}
	out, err := f.logs.GetQueryResults(context.Background(), &cloudwatchlogs.GetQueryResultsInput{QueryId: aws.String(id)})
	if err != nil || len(out.Results) != 1 || aws.ToString(out.Results[0][0].Value) != "3" {
		t.Fatalf("after a stranger's calls in 2150: %+v %v; want the query kept and its 3 records counted", out, err)
	}
}

// CloudWatch takes any epoch second from 0 up; a time range reaching past
// the year 2262, where nanoseconds overflow int64, still covers the records
// in it.
func TestQueryTimeRangesReachingFarIntoTheFuture(t *testing.T) {
	f := start(t, emulator.Options{})
	for range 3 {
		if _, err := f.runtime.Converse(context.Background(), converseInput(profileID)); err != nil {
			t.Fatal(err)
		}
	}
	f.clock.Add(time.Minute)
	for _, end := range []int64{f.clock.Now().Unix(), 1 << 40, math.MaxInt64} {
		out, err := f.logs.StartQuery(context.Background(), &cloudwatchlogs.StartQueryInput{
			LogGroupName: aws.String("BedrockModelInvocation"), StartTime: aws.Int64(0), EndTime: aws.Int64(end),
			QueryString: aws.String("stats count(*) as n"),
		})
		if err != nil {
			t.Fatalf("endTime %d: %v", end, err)
		}
		res, err := f.logs.GetQueryResults(context.Background(), &cloudwatchlogs.GetQueryResultsInput{QueryId: out.QueryId})
		if err != nil || len(res.Results) != 1 || aws.ToString(res.Results[0][0].Value) != "3" {
			t.Errorf("endTime %d: %+v %v; want the 3 records", end, res, err)
		}
	}
	_, err := f.logs.StartQuery(context.Background(), &cloudwatchlogs.StartQueryInput{
		LogGroupName: aws.String("BedrockModelInvocation"), StartTime: aws.Int64(-1), EndTime: aws.Int64(10),
		QueryString: aws.String("stats count(*) as n"),
	})
	var invalid *logtypes.InvalidParameterException
	if !errors.As(err, &invalid) {
		t.Fatalf("a negative startTime: %v, want InvalidParameterException as CloudWatch answers", err)
	}
}
