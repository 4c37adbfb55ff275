package emulator

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"spillway/engine/simaws/fleet"
	"spillway/engine/wire"
	"spillway/scenarios"
)

// These tests hold a repeated stats query's running counts to what a full
// scan answers. They call the handler directly, on simulated time.

const (
	sonnet4  = "us.anthropic.claude-sonnet-4-20250514-v1:0"
	sonnet37 = "anthropic.claude-3-7-sonnet-20250219-v1:0"
	group    = "BedrockModelInvocation"
)

// runStart is when the simulated runs of these tests begin.
var runStart = time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)

// regionQuery is the engine's Region query (bedrock.RegionQuery) for the
// two models, as it polls it for a run that began at runStart.
var regionQuery = fmt.Sprintf("filter modelId like /(inference-profile\\/us\\.anthropic\\.claude-sonnet-4-20250514-v1:0|foundation-model\\/anthropic\\.claude-3-7-sonnet-20250219-v1:0)/\n"+
	"and toMillis(@timestamp) >= %d\n| stats count(*) as invocationCount by inferenceRegion\n| sort inferenceRegion", runStart.UnixMilli())

// handlerHarness drives one emulator through its handler.
type handlerHarness struct {
	t     testing.TB
	s     *Server
	clock *ManualClock
}

func newHandlerHarness(t testing.TB, seed uint64, opts Options) *handlerHarness {
	clock := NewManualClock(runStart)
	opts.Clock = clock.Now
	world := &scenarios.Scenario{
		Name:     "t",
		Accounts: []scenarios.Account{{Name: "acct", Region: "us-east-1", AccountID: "111122223333", QuotaRPM: scenarios.Unlimited}},
		Deployments: []scenarios.Deployment{
			{Name: "a", Model: sonnet4, Account: "acct"},
			{Name: "b", Model: sonnet37, Account: "acct"},
		},
		Logs: scenarios.Logs{Group: group, Delay: 20 * time.Second},
	}
	return &handlerHarness{t: t, s: New(world, nil, seed, runStart, opts), clock: clock}
}

// post sends a signed call at simulated time at, which must succeed.
func (h *handlerHarness) post(path, target, body string, at time.Time) []byte {
	h.t.Helper()
	code, reply := h.send(path, target, body, at)
	if code != http.StatusOK {
		h.t.Fatalf("%s %s: %d %s", path, target, code, reply)
	}
	return reply
}

// send sends a signed call at simulated time at.
func (h *handlerHarness) send(path, target, body string, at time.Time) (int, []byte) {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+AccessKeyID("acct")+"/20261121/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0")
	req.Header.Set(wire.TimeHeader, strconv.FormatInt(at.UnixNano(), 10))
	if target != "" {
		req.Header.Set("X-Amz-Target", logsTargetPrefix+target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	}
	w := httptest.NewRecorder()
	h.s.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

func (h *handlerHarness) converse(model string, at time.Time) {
	h.post("/model/"+model+"/converse", "", `{"messages":[{"role":"user","content":[{"text":"x"}]}]}`, at)
}

// answer is what GetQueryResults says.
type answer struct {
	Status     string             `json:"status"`
	Results    [][]resultField    `json:"results"`
	Statistics map[string]float64 `json:"statistics"`
}

// query starts text over [start, end] (epoch seconds) at startAt and reads
// its results at resultsAt.
func (h *handlerHarness) query(text string, start, end int64, startAt, resultsAt time.Time) answer {
	body, _ := json.Marshal(map[string]any{"logGroupName": group, "startTime": start, "endTime": end, "queryString": text})
	var started struct{ QueryID string }
	json.Unmarshal(h.post("/", "StartQuery", string(body), startAt), &started)
	var out answer
	if err := json.Unmarshal(h.post("/", "GetQueryResults", `{"queryId":"`+started.QueryID+`"}`, resultsAt), &out); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// running is the running query of key, or nil.
func (h *handlerHarness) running(key runningKey) *runningQuery {
	h.s.logs.mu.Lock()
	defer h.s.logs.mu.Unlock()
	return h.s.logs.running.byKey[key]
}

func (h *handlerHarness) examined() int {
	h.s.logs.mu.Lock()
	defer h.s.logs.mu.Unlock()
	return h.s.logs.running.examined
}

// window is a query's time range as the emulator takes it.
func window(start, end int64) (from, to time.Time) {
	return time.Unix(start, 0), time.Unix(end, 0).Add(time.Second - time.Nanosecond)
}

// chain is what the test knows of the polls that continue one another:
// the request ids a full scan saw at any of them.
type chain struct {
	to, now time.Time
	counted map[string]bool
}

// oracle answers text over the records of every one of log whose request
// id is counted, in log order: a full scan over exactly those.
func oracle(t *testing.T, text string, log []fleet.Record, counted map[string]bool) answer {
	parsed, err := parseQuery(text)
	if err != nil {
		t.Fatal(err)
	}
	x := parsed.start()
	scanned := 0
	for i := range log {
		if counted[log[i].RequestID] {
			scanned++
			x.add(&logRecord{rec: &log[i]})
		}
	}
	rows, matched := x.finish()
	out := answer{Results: [][]resultField{}, Statistics: map[string]float64{"recordsMatched": float64(matched), "recordsScanned": float64(scanned)}}
	for _, r := range rows {
		out.Results = append(out.Results, r)
	}
	return out
}

// Many random sequences of calls, stamped out of order and visible out of
// order, and of queries: the engine's Region query polled with growing
// windows, other stats queries, queries that are not stats, windows that
// end in the past or move back, under random retention. Every answer must
// be a full scan's: over the records kept now, or, for a poll that
// continues earlier ones, over every record a full scan saw at any of
// them, since running counts keep what retention later drops.
func TestRepeatedQueriesAnswerAsAFullScan(t *testing.T) {
	queries := []struct {
		text  string
		stats bool
	}{
		{regionQuery, true},
		{"stats count(*) by inferenceRegion", true},
		{"stats count(*) as n by modelId, inferenceRegion | sort n desc | limit 3", true},
		{"filter inferenceRegion != 'us-east-1' | stats count(*) as n", true},
		{"fields inferenceRegion, modelId | filter modelId like 'sonnet-4' | stats count(*) as c by inferenceRegion", true},
		{"stats count(*) by requestId", true},
		{"stats count(*) by inferenceRegion | filter inferenceRegion like /east/", true},
		{"fields requestId, inferenceRegion | sort requestId desc | limit 4", false},
		{"filter inferenceRegion like /west/ | limit 7", false},
	}
	seeds, steps := uint64(30), 60
	if testing.Short() {
		seeds = 8
	}
	incremental, outlived := 0, 0 // polls that continued a running query; that counted dropped records
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 11))
		var opts Options
		opts.MaxLogRecords = []int{0, 0, 25, 60}[rng.IntN(4)]
		if rng.IntN(3) == 0 {
			opts.LogRetention = 90 * time.Second
		}
		h := newHandlerHarness(t, seed, opts)
		shadow := newHandlerHarness(t, seed, Options{}) // the same calls, every record kept
		starts := []int64{runStart.Unix() - 60, runStart.Unix(), runStart.Unix() + 40}
		chains := map[runningKey]*chain{}
		now := runStart
		for step := range steps {
			for range rng.IntN(7) {
				at := now.Add(time.Duration(rng.IntN(65_000)-60_000) * time.Millisecond)
				model := []string{sonnet4, sonnet37}[rng.IntN(2)]
				h.converse(model, at)
				shadow.converse(model, at)
			}
			advance := time.Duration(rng.IntN(8)) * time.Second
			now = now.Add(advance)
			h.clock.Add(advance)
			shadow.clock.Add(advance)
			for range 1 + rng.IntN(3) {
				q := queries[rng.IntN(len(queries))]
				start := starts[rng.IntN(len(starts))]
				if rng.IntN(6) == 0 {
					start = now.Unix() - int64(rng.IntN(300))
				}
				startAt := now
				if rng.IntN(8) == 0 {
					startAt = now.Add(-time.Duration(rng.IntN(30)) * time.Second) // a client behind
				}
				end := startAt.Unix() + 1 // the engine's
				switch rng.IntN(6) {
				case 0:
					end = startAt.Unix() - int64(rng.IntN(120)) // ends in the past
				case 1:
					end = startAt.Unix() + 3600
				}
				end = max(end, start)
				resultsAt := startAt.Add(time.Duration(rng.IntN(3)) * time.Second)
				key := runningKey{"acct", group, q.text, time.Unix(start, 0).UnixNano()}
				c := chains[key]
				if c != nil && h.running(key) != nil {
					incremental++
				}

				got := h.query(q.text, start, end, startAt, resultsAt)

				from, to := window(start, end)
				seen := map[string]bool{} // what a full scan of the kept records sees
				h.s.fleet.EachRecord("acct", group, from, to, resultsAt, func(r *fleet.Record) { seen[r.RequestID] = true })
				counted := seen
				switch {
				case !q.stats:
				case c == nil:
					chains[key] = &chain{to: to, now: resultsAt, counted: seen}
				case !to.Before(c.to) && !resultsAt.Before(c.now):
					for id := range seen {
						c.counted[id] = true
					}
					c.to, c.now, counted = to, resultsAt, c.counted
					if len(counted) > len(seen) {
						outlived++
					}
				}
				want := oracle(t, q.text, shadow.s.fleet.Records("acct", group, time.Unix(0, math.MaxInt64)), counted)
				if !equalResults(got.Results, want.Results) || got.Statistics["recordsMatched"] != want.Statistics["recordsMatched"] ||
					got.Statistics["recordsScanned"] != want.Statistics["recordsScanned"] {
					t.Fatalf("seed %d step %d (retention %v, %d records): %q over [%d, %d] at %v:\n got %v %v\nwant %v %v",
						seed, step, opts.LogRetention, opts.MaxLogRecords, q.text, start-runStart.Unix(), end-runStart.Unix(), resultsAt.Sub(runStart),
						got.Results, got.Statistics, want.Results, want.Statistics)
				}
			}
		}
	}
	if incremental < int(seeds)*steps/4 || outlived < int(seeds) {
		t.Fatalf("%d polls continued a running query, %d counted records since dropped; the test does not exercise them", incremental, outlived)
	}
	t.Logf("%d polls continued a running query, %d counted records since dropped", incremental, outlived)
}

// The engine's poll series over a log that already holds 20,000 records:
// the first poll reads them all, each later one only the records that
// arrived since and those still inside their ingestion delay.
func TestEachPollReadsOnlyWhatIsNew(t *testing.T) {
	h := newHandlerHarness(t, 1, Options{})
	const rate = 10 // calls a second
	arrive := func(from, n int) {
		for i := range n {
			at := runStart.Add(time.Duration(from+i) * time.Second / rate)
			model := []string{sonnet4, sonnet37}[(from+i)%2]
			if r := h.s.fleet.Invoke(at, fleet.Call{Account: "acct", SourceRegion: "us-east-1", ModelID: model,
				Operation: scenarios.OpConverse, Prompt: "x", MaxTokens: 100}); r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
	const stored = 20_000
	arrive(0, stored)
	start := runStart.Unix() - 60
	key := runningKey{"acct", group, regionQuery, time.Unix(start, 0).UnixNano()}
	now := runStart.Add(stored / rate * time.Second)
	first := h.query(regionQuery, start, now.Unix()+1, now, now)
	if n := h.examined(); n != stored {
		t.Fatalf("the first poll looked at %d records, want all %d", n, stored)
	}
	total := first.Statistics["recordsScanned"]
	for poll := range 50 {
		const perPoll = 5 * rate
		arrive(stored+poll*perPoll, perPoll)
		now = now.Add(5 * time.Second)
		running := h.running(key)
		if running == nil {
			t.Fatalf("poll %d: the Region query keeps no running counts", poll)
		}
		pending := running.tail.Pending()
		before := h.examined()
		got := h.query(regionQuery, start, now.Unix()+1, now, now)
		examined := h.examined() - before
		// Records are visible 10 to 30 s after they end, so about 300
		// are pending at any poll, however many the log holds.
		if examined != pending+perPoll || pending > 40*rate {
			t.Fatalf("poll %d looked at %d records, with %d pending and %d new", poll, examined, pending, perPoll)
		}
		from, to := window(start, now.Unix()+1)
		full := 0
		h.s.fleet.EachRecord("acct", group, from, to, now, func(*fleet.Record) { full++ })
		if got.Statistics["recordsScanned"] != float64(full) || float64(full) <= total {
			t.Fatalf("poll %d: recordsScanned %v, a full scan reads %d (the poll before %v)", poll, got.Statistics["recordsScanned"], full, total)
		}
		total = float64(full)
	}
}

// A stranger's client may start any number of distinct stats queries, and
// group by anything: the running counts stay within their bounds, and every
// answer is still the full scan's, as an emulator that keeps no running
// counts gives it.
func TestRunningQueriesStayWithinTheirBounds(t *testing.T) {
	h := newHandlerHarness(t, 1, Options{})
	scanning := newHandlerHarness(t, 1, Options{})
	scanning.s.logs.running = nil
	for i := range 1500 {
		at := runStart.Add(time.Duration(i) * 100 * time.Millisecond)
		h.converse(sonnet4, at)
		scanning.converse(sonnet4, at)
	}
	now := runStart.Add(time.Hour)
	ask := func(text string) {
		t.Helper()
		got := h.query(text, runStart.Unix(), now.Unix(), now, now)
		want := scanning.query(text, runStart.Unix(), now.Unix(), now, now)
		if !equalResults(got.Results, want.Results) || got.Statistics["recordsScanned"] != want.Statistics["recordsScanned"] {
			t.Fatalf("%q: %d rows, %v; a full scan gives %d rows, %v", text, len(got.Results), got.Statistics, len(want.Results), want.Statistics)
		}
	}
	for i := range 2 * maxRunningQueries {
		ask(fmt.Sprintf("filter input.inputTokenCount >= %d | stats count(*) by inferenceRegion", i))
	}
	h.s.logs.mu.Lock()
	kept, held := len(h.s.logs.running.byKey), h.s.logs.running.bytes
	h.s.logs.mu.Unlock()
	if kept != maxRunningQueries || held > runningQueryBytes {
		t.Fatalf("%d running queries in %d bytes; want the newest %d within %d", kept, held, maxRunningQueries, runningQueryBytes)
	}
	// 1,500 groups, past maxRunningGroups: the full scan answers, and
	// nothing is kept.
	byRequest := "stats count(*) as n by requestId"
	ask(byRequest)
	if h.running(runningKey{"acct", group, byRequest, runStart.UnixNano()}) != nil {
		t.Fatal("a query of 1,500 groups keeps running counts")
	}
}
