package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"spillway/scenarios"
)

// These tests look inside the emulator's query store, so they live in the
// package; they still reach it through real HTTP.

var start = time.Date(2026, 11, 21, 14, 36, 0, 0, time.UTC)

const model = "us.anthropic.claude-sonnet-4-20250514-v1:0"

func serve(t *testing.T, opts Options) (*Server, string, *ManualClock) {
	t.Helper()
	clock := NewManualClock(start)
	opts.Clock = clock.Now
	world := &scenarios.Scenario{
		Name:        "t",
		Accounts:    []scenarios.Account{{Name: "acct", Region: "us-east-1", AccountID: "111122223333", QuotaRPM: scenarios.Unlimited}},
		Deployments: []scenarios.Deployment{{Name: "a", Model: model, Account: "acct"}},
		Logs:        scenarios.Logs{Group: "BedrockModelInvocation", Delay: time.Second},
	}
	s := New(world, nil, 1, start, opts)
	url, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url, clock
}

// post sends a signed call and decodes its JSON reply into out.
func post(t *testing.T, url, path, target, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+AccessKeyID("acct")+"/20261121/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0")
	if target != "" {
		req.Header.Set("X-Amz-Target", logsTargetPrefix+target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(out); err != nil {
			t.Fatalf("%s %s: %v in %s", path, target, err, b)
		}
	}
	return resp.StatusCode
}

func startQuery(t *testing.T, url, query string) string {
	t.Helper()
	var out struct {
		QueryID string `json:"queryId"`
	}
	body, _ := json.Marshal(map[string]any{"logGroupName": "BedrockModelInvocation", "startTime": 0, "endTime": start.Add(time.Hour).Unix(), "queryString": query})
	if status := post(t, url, "/", "StartQuery", string(body), &out); status != 200 || out.QueryID == "" {
		t.Fatalf("StartQuery %q: %d", query, status)
	}
	return out.QueryID
}

type results struct {
	Status  string          `json:"status"`
	Results [][]resultField `json:"results"`
	Message string          `json:"message"`
}

func getResults(t *testing.T, url, id string) (int, results) {
	t.Helper()
	var out results
	status := post(t, url, "/", "GetQueryResults", `{"queryId":"`+id+`"}`, &out)
	return status, out
}

func TestFinishedQueriesKeepTheirAnswerNotTheirWork(t *testing.T) {
	s, url, clock := serve(t, Options{QueryTime: time.Second})
	for range 5 {
		post(t, url, "/model/"+model+"/converse", "", `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`, nil)
	}
	clock.Add(time.Minute)
	id := startQuery(t, url, "stats count(*) as n by inferenceRegion | sort inferenceRegion")
	if _, r := getResults(t, url, id); r.Status != "Running" {
		t.Fatalf("at once: %s, want Running", r.Status)
	}
	clock.Add(time.Second)
	_, done := getResults(t, url, id)
	if done.Status != "Complete" || len(done.Results) == 0 {
		t.Fatalf("after its run time: %+v", done)
	}
	s.logs.mu.Lock()
	parsed := s.logs.byID[id].parsed
	s.logs.mu.Unlock()
	if parsed != nil {
		t.Fatal("a complete query still holds its parsed form")
	}
	if _, again := getResults(t, url, id); again.Status != "Complete" || !equalResults(again.Results, done.Results) {
		t.Fatalf("asked again: %+v, want the same answer %+v", again, done)
	}
}

func equalResults(a, b [][]resultField) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// Each complete query keeps up to MaxResultRows rows; a thousand of them
// could hold gigabytes, so what they keep is bounded in bytes too.
func TestKeptQueriesAreBoundedInBytes(t *testing.T) {
	s, url, clock := serve(t, Options{})
	s.logs.maxBytes = 60_000
	for range 20 {
		post(t, url, "/model/"+model+"/converse", "", `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`, nil)
	}
	clock.Add(time.Minute)
	var ids []string
	for range 30 {
		id := startQuery(t, url, "fields @message") // 20 rows of about 500 bytes
		if _, r := getResults(t, url, id); r.Status != "Complete" || len(r.Results) != 20 {
			t.Fatalf("query: %s with %d rows", r.Status, len(r.Results))
		}
		ids = append(ids, id)
	}
	s.logs.mu.Lock()
	kept, held := len(s.logs.byID), s.logs.bytes
	s.logs.mu.Unlock()
	if held > s.logs.maxBytes || kept < 3 || kept > 10 {
		t.Fatalf("%d queries kept in %d bytes; want a handful within %d", kept, held, s.logs.maxBytes)
	}
	if status, r := getResults(t, url, ids[0]); status < 400 || !strings.Contains(r.Message, "does not exist") {
		t.Fatalf("the oldest query: %d %+v, want it forgotten", status, r)
	}
	if _, r := getResults(t, url, ids[len(ids)-1]); r.Status != "Complete" || len(r.Results) != 20 {
		t.Fatalf("the newest query: %+v", r)
	}
}
