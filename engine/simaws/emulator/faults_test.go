package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"spillway/engine/simaws/emulator"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// The tests in this file drive the fault API the ways it is meant to be
// driven: through FaultClient, and over plain HTTP as curl would.

func (f *fixture) faults() *emulator.FaultClient { return &emulator.FaultClient{Endpoint: f.url} }

// conversesByRegion makes n Converse calls through the fixture's SDK client
// and counts where the emulator says each ran.
func (f *fixture) conversesByRegion(t *testing.T, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		out, err := f.runtime.Converse(context.Background(), converseInput(profileID))
		if err != nil {
			t.Fatalf("Converse: %v (so far %v)", err, seen)
		}
		raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response)
		if !ok || raw.Header.Get(wire.RegionHeader) == "" {
			t.Fatalf("no %s on the reply", wire.RegionHeader)
		}
		seen[raw.Header.Get(wire.RegionHeader)]++
	}
	return seen
}

// A Region outage started through the API moves another client's
// cross-Region calls out of the Region; stopping it lets them back.
func TestRegionOutageThroughTheAPI(t *testing.T) {
	f := start(t, emulator.Options{})
	ctx := context.Background()
	const calls = 40
	if before := f.conversesByRegion(t, calls); before["us-east-1"] == 0 {
		t.Fatalf("before the outage no call ran in us-east-1 (%v), so the test would prove nothing", before)
	}
	id, err := f.faults().Start(ctx, scenarios.Fault{Kind: scenarios.RegionOutage, Region: "us-east-1"}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Minute) // the quotas refill
	during := f.conversesByRegion(t, calls)
	if during["us-east-1"] != 0 || during["us-east-2"]+during["us-west-2"] != calls {
		t.Fatalf("during the outage the calls ran in %v; want none in us-east-1", during)
	}
	if err := f.faults().Stop(ctx, id, time.Time{}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Minute)
	if after := f.conversesByRegion(t, calls); after["us-east-1"] == 0 {
		t.Fatalf("after the outage the calls ran in %v; want some in us-east-1 again", after)
	}
}

// Start, List and Stop through the Go client, on the emulator's clock and
// on simulated times given explicitly.
func TestFaultClientStartsListsAndStops(t *testing.T) {
	f := start(t, emulator.Options{})
	ctx, c := context.Background(), f.faults()
	outage, err := c.Start(ctx, scenarios.Fault{Kind: scenarios.RegionOutage, Region: "us-east-2"}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	from, to := epoch.Add(time.Hour), epoch.Add(2*time.Hour)
	storm, err := c.Start(ctx, scenarios.Fault{Kind: scenarios.ThrottleStorm, Account: "acct", Rate: 0.5}, from, to)
	if err != nil {
		t.Fatal(err)
	}
	cut, err := c.Start(ctx, scenarios.Fault{Kind: scenarios.QuotaCut, Account: "acct", QuotaRPM: scenarios.Unlimited, Duration: 30 * time.Second},
		time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if outage != 1 || storm != 2 || cut != 3 {
		t.Fatalf("ids %d, %d, %d; want 1, 2, 3", outage, storm, cut)
	}
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("listed %+v", list)
	}
	if s := list[0]; s.ID != outage || s.Kind != scenarios.RegionOutage || s.Region != "us-east-2" ||
		!s.From().Equal(epoch) || !s.To().IsZero() || s.Description != "region-outage us-east-2" {
		t.Errorf("the outage is listed as %+v", s)
	}
	if s := list[1]; s.ID != storm || s.Fault() != (scenarios.Fault{Kind: scenarios.ThrottleStorm, Account: "acct", Rate: 0.5}) ||
		!s.From().Equal(from) || !s.To().Equal(to) || s.Description != "throttle acct 50%" {
		t.Errorf("the storm is listed as %+v", s)
	}
	if s := list[2]; s.QuotaRPM != scenarios.Unlimited || !s.From().Equal(epoch) || !s.To().Equal(epoch.Add(30*time.Second)) {
		t.Errorf("the quota cut is listed as %+v", s)
	}

	if err := c.Stop(ctx, outage, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var apiErr *emulator.FaultAPIError
	if err := c.Stop(ctx, outage, time.Time{}); !errors.As(err, &apiErr) || !apiErr.NotFound() || !strings.Contains(apiErr.Message, "no fault 1") {
		t.Fatalf("stopping it again: %v", err)
	}
	if err := c.Stop(ctx, 99, time.Time{}); !errors.As(err, &apiErr) || !apiErr.NotFound() {
		t.Fatalf("stopping an unknown id: %v", err)
	}
	// Stopped at a simulated time: the storm ends before it began, so is over.
	if err := c.Stop(ctx, storm, epoch.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(30 * time.Second) // the quota cut's duration is up
	if list, err := c.List(ctx); err != nil || len(list) != 1 || list[0].ID != storm || !list[0].To().Equal(epoch.Add(90*time.Minute)) {
		t.Fatalf("after the stops: %+v, %v", list, err)
	}
	// Ids keep increasing after stops.
	if id, err := c.Start(ctx, scenarios.Fault{Kind: scenarios.SlowDown, Factor: 2}, time.Time{}, time.Time{}); err != nil || id != 4 {
		t.Fatalf("the next id: %d, %v", id, err)
	}
}

// A fault started with X-Spillway-Time and no from_ns starts at that time,
// as Spillway's engine on simulated time sends it.
func TestFaultStartsAtTheRequestsSimulatedTime(t *testing.T) {
	f := start(t, emulator.Options{})
	at := epoch.Add(42 * time.Minute)
	status, body := f.faultRequest(t, "POST", emulator.FaultsPath, `{"kind":"latency","factor":3,"duration":"1m"}`,
		map[string]string{wire.TimeHeader: strconv.FormatInt(at.UnixNano(), 10)})
	var s emulator.FaultState
	if err := json.Unmarshal([]byte(body), &s); status != 201 || err != nil {
		t.Fatalf("%d %s", status, body)
	}
	if !s.From().Equal(at) || !s.To().Equal(at.Add(time.Minute)) || s.Factor != 3 || s.Description != "latency ×3" {
		t.Fatalf("started %+v", s)
	}
}

// faultRequest sends one fault API request over plain HTTP, as curl does.
func (f *fixture) faultRequest(t *testing.T, method, path, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Every refusal is a status and a JSON message that says what to change.
func TestFaultAPIRefusesBadRequests(t *testing.T) {
	f := start(t, emulator.Options{})
	start := strconv.FormatInt(epoch.UnixNano(), 10)
	cases := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		msg                      string
	}{
		{"rate out of range", "POST", "", `{"kind":"throttle","rate":2}`, nil, 400, "rate: rate is the fraction of calls affected"},
		{"unknown kind", "POST", "", `{"kind":"meteor"}`, nil, 400, `kind: fault kind "meteor" is not known`},
		{"unknown key", "POST", "", `{"kind":"throttle","rat":0.5}`, nil, 400, `unknown key "rat"; a fault's keys are kind, account`},
		{"kind not a string", "POST", "", `{"kind":5}`, nil, 400, "kind: must be a string, not a JSON number"},
		{"from_ns not a number", "POST", "", `{"kind":"latency","factor":2,"from_ns":"soon"}`, nil, 400, "from_ns: must be a whole number of Unix nanoseconds"},
		{"from_ns too early", "POST", "", `{"kind":"latency","factor":2,"from_ns":5}`, nil, 400, "from_ns: 5 is not Unix nanoseconds"},
		{"to_ns before from_ns", "POST", "", `{"kind":"latency","factor":2,"from_ns":` + start + `,"to_ns":` + start + `}`, nil, 400, "to_ns: the fault would end 0s after it starts"},
		{"duration and to_ns", "POST", "", `{"kind":"latency","factor":2,"duration":"1m","to_ns":` + start + `}`, nil, 400, "to_ns: give duration or to_ns, not both"},
		{"duration too long", "POST", "", `{"kind":"latency","factor":2,"duration":"169h"}`, nil, 400, `duration: "169h" is out of range; use a duration from 0s to 168h`},
		{"at", "POST", "", `{"kind":"latency","factor":2,"at":"1m"}`, nil, 400, "at: the fault API has no run to count from"},
		{"empty body", "POST", "", " ", map[string]string{"Content-Type": "application/json"}, 400, "the body is empty"},
		{"not JSON", "POST", "", `kind=throttle`, nil, 400, "the body is not one JSON object"},
		{"an array", "POST", "", `[{"kind":"throttle"}]`, nil, 400, "the body must be one JSON object, not a JSON array"},
		{"two objects", "POST", "", `{"kind":"latency","factor":2} {}`, nil, 400, "more follows the fault's JSON object"},
		{"a long account", "POST", "", `{"kind":"quota","quota_rpm":1,"account":"` + strings.Repeat("a", 300) + `"}`, nil, 400, "account: "},
		{"too large", "POST", "", `{"kind":"latency","factor":2,"model":"` + strings.Repeat("m", 20<<10) + `"}`, nil, 413, "larger than the 16384-byte limit"},
		{"form body", "POST", "", `kind=throttle`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "Content-Type: application/json"},
		{"a page's text/plain", "POST", "", `{"kind":"latency","factor":2}`, map[string]string{"Content-Type": "text/plain"}, 415, "Content-Type: application/json"},
		{"not loopback", "GET", "", "", map[string]string{"Host": "attacker.example:4599"}, 403, "loopback host"},
		{"PUT", "PUT", "", `{}`, nil, 405, "takes GET (list the faults) or POST (start one), not PUT"},
		{"GET one", "GET", "/1", "", nil, 405, "takes DELETE (stop the fault), not GET"},
		{"unknown id", "DELETE", "/7", "", nil, 404, "no fault 7 is in effect or scheduled"},
		{"id not a number", "DELETE", "/seven", "", nil, 404, `no fault "seven": ids are whole numbers`},
		{"another path", "GET", "/_spillway/status", "", nil, 404, "no such path"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := emulator.FaultsPath + c.path
			if strings.HasPrefix(c.path, "/_spillway/") {
				path = c.path
			}
			status, body := f.faultRequest(t, c.method, path, c.body, c.headers)
			var reply struct{ Message string }
			if err := json.Unmarshal([]byte(body), &reply); err != nil || status != c.status || !strings.Contains(reply.Message, c.msg) {
				t.Fatalf("%d %s; want %d with a message containing %q", status, body, c.status, c.msg)
			}
		})
	}
	if list, err := f.faults().List(context.Background()); err != nil || len(list) != 0 {
		t.Fatalf("a refused fault was started: %+v, %v", list, err)
	}
}

// The API refuses what a scenario file refuses, with the file's message:
// the same checker, not a copy of its rules.
func TestFaultAPIChecksFaultsAsAFileDoes(t *testing.T) {
	const file = `
[[scenario]]
name = "s"
title = "t"
  [[scenario.account]]
  name = "acct"
  [[scenario.deployment]]
  name = "d"
  model = "us.anthropic.claude-sonnet-4-20250514-v1:0"
  rpm = 10
  [[scenario.tenant]]
  name = "app"
  rpm = 10
  requests = 1
  [[scenario.fault]]
`
	cases := []struct{ toml, json string }{
		{"kind = \"quota\"\naccount = \"someone-else\"\nquota_rpm = 2", `{"kind":"quota","account":"someone-else","quota_rpm":2}`},
		{"kind = \"quota\"\naccount = \"acct\"\nquota_rpm = 0.5", `{"kind":"quota","account":"acct","quota_rpm":0.5}`},
		{"kind = \"errors\"\nrate = 0.2\nerror = \"ThrottlingException\"", `{"kind":"errors","rate":0.2,"error":"ThrottlingException"}`},
		{"kind = \"latency\"\nfactor = 0", `{"kind":"latency","factor":0}`},
		{"kind = \"region-outage\"\nregion = \"us-east-1\"\nfactor = 2", `{"kind":"region-outage","region":"us-east-1","factor":2}`},
		{"kind = \"region-outage\"", `{"kind":"region-outage"}`},
	}
	good, err := scenarios.Parse("good.toml", []byte(file+"  kind = \"throttle\"\n  rate = 0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	emu := emulator.New(good.Scenarios[0], nil, 1, epoch, emulator.Options{Clock: func() time.Time { return epoch }})
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	f := &fixture{emu: emu, url: url}
	for _, c := range cases {
		_, fileErr := scenarios.Parse("f.toml", []byte(file+"  "+strings.ReplaceAll(c.toml, "\n", "\n  ")+"\n"))
		var es scenarios.Errors
		if !errors.As(fileErr, &es) || len(es) != 1 {
			t.Fatalf("%s: the file gives %v; want one error", c.json, fileErr)
		}
		want := strings.TrimPrefix(es[0].Key, "scenario.fault.") + ": " + es[0].Msg
		status, body := f.faultRequest(t, "POST", emulator.FaultsPath, c.json, nil)
		var reply struct{ Message string }
		if json.Unmarshal([]byte(body), &reply); status != 400 || reply.Message != want {
			t.Errorf("%s: %d %q; the file says %q", c.json, status, reply.Message, want)
		}
	}
	// Latency factors multiply over the faults on, as over a file's.
	for range 2 {
		if status, body := f.faultRequest(t, "POST", emulator.FaultsPath, `{"kind":"latency","factor":100}`, nil); status != 201 {
			t.Fatalf("×100: %d %s", status, body)
		}
	}
	if status, body := f.faultRequest(t, "POST", emulator.FaultsPath, `{"kind":"latency","factor":2}`, nil); status != 400 ||
		!strings.Contains(body, "factor: latency faults multiply where they overlap") {
		t.Fatalf("×2 on top of ×10000: %d %s", status, body)
	}
}

// At most MaxFaults are on at once; stopping one makes room.
func TestFaultAPICapsTheFaultsOn(t *testing.T) {
	f := start(t, emulator.Options{})
	ctx, c := context.Background(), f.faults()
	storm := scenarios.Fault{Kind: scenarios.ThrottleStorm, Rate: 0.01}
	for i := range emulator.MaxFaults {
		if _, err := c.Start(ctx, storm, time.Time{}, time.Time{}); err != nil {
			t.Fatalf("fault %d: %v", i+1, err)
		}
	}
	var apiErr *emulator.FaultAPIError
	_, err := c.Start(ctx, storm, time.Time{}, time.Time{})
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || !strings.Contains(apiErr.Message, "256 faults are in effect or scheduled") {
		t.Fatalf("one more: %v", err)
	}
	if err := c.Stop(ctx, 7, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if id, err := c.Start(ctx, storm, time.Time{}, time.Time{}); err != nil || id != emulator.MaxFaults+1 {
		t.Fatalf("after a stop: %d, %v", id, err)
	}
}

// A client pointed where nothing listens says so, distinctly from a
// refusal.
func TestFaultClientWithNoEmulator(t *testing.T) {
	emu := emulator.New(world(), nil, 1, epoch, emulator.Options{})
	url, err := emu.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	emu.Close()
	_, err = (&emulator.FaultClient{Endpoint: url}).List(context.Background())
	if !errors.Is(err, emulator.ErrNoEmulator) || !strings.Contains(err.Error(), url) {
		t.Fatalf("List with nothing listening: %v", err)
	}
	// A server that answers, even one that is not the fault API, is there.
	f := start(t, emulator.Options{})
	err = (&emulator.FaultClient{Endpoint: f.url + "/model/x"}).Stop(context.Background(), 1, time.Time{})
	var apiErr *emulator.FaultAPIError
	if !errors.As(err, &apiErr) || apiErr.Status == 0 || errors.Is(err, emulator.ErrNoEmulator) {
		t.Fatalf("a path that is not the fault API: %v", err)
	}
}
