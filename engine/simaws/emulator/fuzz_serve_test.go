package emulator_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"spillway/engine/simaws/emulator"

	"spillway/engine/wire"
)

// FuzzServeHTTP feeds the emulator's handler requests whose method, path,
// X-Amz-Target, Content-Type, credential-scope Region, X-Spillway-Time and
// body are fuzzed, parsed from the wire as net/http's server parses them.
// Every reply must be a well-formed AWS error or success, or the fault
// API's, and never the 500 a recovered panic turns into.
func FuzzServeHTTP(f *testing.F) {
	converse := `{"messages":[{"role":"user","content":[{"text":"Why resilience?"}]}],"inferenceConfig":{"maxTokens":100}}`
	invoke := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":[{"type":"text","text":"hello"}]}]}`
	seedQuery := `filter modelId like /inference-profile\\/us.anthropic.claude-sonnet-4-20250514-v1:0/ and toMillis(@timestamp) >= 1700000000000 | stats count(*) as invocationCount by inferenceRegion | sort inferenceRegion`
	simulated := strconv.FormatInt(epoch.UnixNano(), 10)
	for _, s := range []struct {
		method, path, target, contentType, region, time, body string
	}{
		{"POST", "/model/" + profileID + "/converse", "", "application/json", "us-east-1", "", converse},
		{"POST", "/model/" + profileID + "/converse", "", "application/json", "us-east-1", simulated, converse},
		{"POST", "/model/" + profileID + "/invoke", "", "application/json", "us-east-1", simulated, invoke},
		{"POST", "/model/" + profileID + "/converse", "", "application/json", "us-gov-west-1", simulated,
			`{"messages":[{"role":"user","content":[{"text":"x"}]}],"inferenceConfig":{"maxTokens":1000000}}`},
		{"POST", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A111122223333%3Ainference-profile%2F" + profileID + "/converse", "", "application/json", "us-east-1", "", converse},
		{"POST", "/model/anthropic.claude-3-haiku-20240307-v1:0/converse", "", "application/json", "us-west-2", "", converse},
		{"POST", "/", "Logs_20140328.StartQuery", "application/x-amz-json-1.1", "us-east-1", simulated,
			`{"logGroupName":"BedrockModelInvocation","startTime":1700000000,"endTime":1900000000,"queryString":"` + seedQuery + `"}`},
		{"POST", "/", "Logs_20140328.GetQueryResults", "application/x-amz-json-1.1", "us-east-1", "", `{"queryId":"5b111a40-0000-4000-8000-000000000001"}`},
		{"POST", "/", "Logs_20140328.DescribeQueries", "application/x-amz-json-1.1", "us-east-1", "", `{"maxResults":10,"status":"Complete"}`},
		{"POST", "/", "Logs_20140328.DescribeLogGroups", "application/x-amz-json-1.1", "eu-west-1", "", `{"logGroupNamePrefix":"Bed"}`},
		{"POST", "/", "", "application/x-www-form-urlencoded; charset=utf-8", "us-east-1", "", "Action=GetCallerIdentity&Version=2011-06-15"},
		{"GET", "/2023-09-30/foundation-models", "", "", "us-east-1", "", ""},
		{"POST", "/", "Logs_20140328.PutLogEvents", "application/x-amz-json-1.1", "us-east-1", "", `{}`},
		{"POST", emulator.FaultsPath, "", "application/json", "", "", `{"kind":"region-outage","region":"us-east-1","duration":"30s"}`},
		{"POST", emulator.FaultsPath, "", "application/json", "", simulated, `{"kind":"quota","account":"acct","quota_rpm":"unlimited","from_ns":1795271760000000000,"to_ns":1795271790000000000}`},
		{"POST", emulator.FaultsPath, "", "application/json; charset=utf-8", "", "", `{"kind":"errors","rate":0.2,"error":"ModelTimeoutException","model":"us.anthropic.claude-sonnet-4-20250514-v1:0"}`},
		{"GET", emulator.FaultsPath, "", "", "", simulated, ""},
		{"DELETE", emulator.FaultsPath + "/1", "", "", "", "", ""},
	} {
		f.Add(s.method, s.path, s.target, s.contentType, s.region, s.time, []byte(s.body))
	}
	// One emulator for the whole run, as a long-lived one sees a stream of
	// strangers; its retention keeps the fuzzing process's memory flat.
	emu := emulator.New(world(), nil, 1, epoch, emulator.Options{
		Clock: func() time.Time { return epoch }, LogRetention: time.Hour, MaxLogRecords: 1000})
	key := emulator.AccessKeyID("acct")
	f.Fuzz(func(t *testing.T, method, path, target, contentType, region, at string, body []byte) {
		for _, h := range []string{target, contentType, region, at} {
			if strings.ContainsAny(h, "\r\n") {
				return // one header line cannot hold these; the other fields cover extra headers
			}
		}
		var raw strings.Builder
		fmt.Fprintf(&raw, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:4599\r\nX-Amz-Target: %s\r\nContent-Type: %s\r\n", method, path, target, contentType)
		fmt.Fprintf(&raw, "Authorization: AWS4-HMAC-SHA256 Credential=%s/20261121/%s/bedrock/aws4_request, SignedHeaders=host, Signature=0\r\n", key, region)
		if at != "" {
			fmt.Fprintf(&raw, "%s: %s\r\n", wire.TimeHeader, at)
		}
		fmt.Fprintf(&raw, "Content-Length: %d\r\n\r\n%s", len(body), body)
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw.String())))
		if err != nil {
			return // net/http's server refuses it before any handler runs
		}
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, req)
		if err := wellFormed(req.URL.Path, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Fatalf("%s %s (target %q, type %q, region %q, time %q, body %q): %v", method, path, target, contentType, region, at, clip(string(body)), err)
		}
	})
}

// Every reply is an AWS error or success, or under the fault API's path
// its own, never the recovered panic of a handler: a fuzz target checks the
// same over random requests.
func wellFormed(path string, status int, header http.Header, body []byte) error {
	if status == http.StatusInternalServerError {
		return fmt.Errorf("status 500: %s", clip(string(body)))
	}
	switch ct := header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "text/xml"):
		if !bytes.Contains(body, []byte("GetCallerIdentityResponse")) && !bytes.Contains(body, []byte("<Code>")) {
			return fmt.Errorf("XML reply is neither a result nor an error: %s", clip(string(body)))
		}
	case ct == "application/json" || ct == "application/x-amz-json-1.1":
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			return fmt.Errorf("status %d with a body that is not a JSON object (%v): %s", status, err, clip(string(body)))
		}
		if fault := strings.HasPrefix(path, "/_spillway/"); fault && status >= 400 && (e.Message == "" || e.Type != "") {
			return fmt.Errorf("status %d: a fault API error without a message alone: %s", status, clip(string(body)))
		} else if !fault && status >= 400 && (e.Type == "" || e.Type != header.Get("X-Amzn-ErrorType") || e.Message == "") {
			return fmt.Errorf("status %d error without a matching __type, X-Amzn-ErrorType and message: %s / %s", status, header.Get("X-Amzn-ErrorType"), clip(string(body)))
		}
	default:
		return fmt.Errorf("status %d with Content-Type %q: %s", status, ct, clip(string(body)))
	}
	return nil
}
