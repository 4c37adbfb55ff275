package emulator

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"spillway/engine/simaws/fleet"

	"spillway/engine/wire"
)

// logsTargetPrefix starts the X-Amz-Target of every CloudWatch Logs call.
const logsTargetPrefix = "Logs_20140328."

// maxConcurrentQueries is CloudWatch's per-account limit on running Logs
// Insights queries; past it StartQuery answers LimitExceededException.
const maxConcurrentQueries = 30

// MaxQueryLength is the longest query string StartQuery takes, in
// characters, as in CloudWatch.
const MaxQueryLength = 10_000

// What the emulator remembers of the queries it has started. CloudWatch
// keeps query results for 7 days; the emulator keeps the newest keptQueries
// started within keptFor on its own clock, holding at most keptQueryBytes of
// query text and results between them, and forgets the oldest first. A
// complete query keeps only its answer.
const (
	keptQueries    = 1000
	keptFor        = 24 * time.Hour
	keptQueryBytes = 64 << 20
)

// lastEpochSecond is the last whole second int64 nanoseconds hold, in 2262.
// A query's range is cut there: no record is later, and the range's
// arithmetic in nanoseconds must not overflow.
const lastEpochSecond = math.MaxInt64/int64(time.Second) - 1

// queries are the Logs Insights queries the emulator has started.
type queries struct {
	mu       sync.Mutex
	byID     map[string]*storedQuery
	order    []string // oldest first
	seq      uint64
	bytes    int // what the kept queries hold: their text and answers
	maxBytes int // keptQueryBytes
	// unfinished are the kept queries not yet complete, the only ones that
	// can be Running: StartQuery counts those, not every kept query.
	unfinished map[*storedQuery]struct{}
	// earliest is no later than when any kept query started, on the
	// emulator's own clock, so prune knows without a walk that none has
	// aged out.
	earliest time.Time
	// running are the stats queries clients poll again and again, kept so
	// that each poll reads only what is new.
	running *runningQueries
	// parsed are the texts of recent queries, parsed: a dashboard starts
	// the same query every poll, and compiling its regular expressions
	// again each time cost more than the poll's incremental count.
	parsed map[string]*query
}

// parsedQueriesKept bounds the parse cache; a client sending ever new
// query texts only makes it start over.
const parsedQueriesKept = 64

// parse returns text parsed, from the cache when it was seen lately. A
// parsed query is never changed after parsing, so sharing it is safe.
func (l *queries) parse(text string) (*query, error) {
	if q, ok := l.parsed[text]; ok {
		return q, nil
	}
	q, err := parseQuery(text)
	if err != nil {
		return nil, err
	}
	if len(l.parsed) >= parsedQueriesKept {
		clear(l.parsed)
	}
	l.parsed[text] = q
	return q, nil
}

type storedQuery struct {
	id, account, group, text string
	parsed                   *query    // nil once complete
	from, to                 time.Time // the query's time range
	created                  time.Time // when it started, on the clock of the call
	startedAt                time.Time // when it started, on the emulator's own clock
	done                     bool
	results                  json.RawMessage // the rows, once complete
	matched, scanned         int
}

// size is about what a stored query holds in memory.
func (sq *storedQuery) size() int { return len(sq.text) + len(sq.results) + 256 }

func newQueries() *queries {
	return &queries{byID: map[string]*storedQuery{}, maxBytes: keptQueryBytes,
		unfinished: map[*storedQuery]struct{}{}, running: newRunningQueries(),
		parsed: map[string]*query{}}
}

// add keeps a new query, forgetting old ones past the bounds.
func (l *queries) add(sq *storedQuery, now time.Time) {
	l.byID[sq.id] = sq
	l.order = append(l.order, sq.id)
	l.bytes += sq.size()
	if !sq.done {
		l.unfinished[sq] = struct{}{}
	}
	if len(l.order) == 1 || sq.startedAt.Before(l.earliest) {
		l.earliest = sq.startedAt
	}
	l.prune(now, sq)
}

// complete fixes a query's answer and lets go of its parsed form.
func (l *queries) complete(sq *storedQuery, results json.RawMessage, matched, scanned int, now time.Time) {
	l.bytes -= sq.size()
	sq.done, sq.parsed, sq.results, sq.matched, sq.scanned = true, nil, results, matched, scanned
	delete(l.unfinished, sq)
	l.bytes += sq.size()
	l.prune(now, sq)
}

// prune forgets, oldest first, the queries started more than keptFor
// before now on the emulator's own clock and those past the count and byte
// bounds, but never keep. The emulator's clock rather than a call's
// X-Spillway-Time, so that a client far in the future cannot age out every
// other client's queries.
func (l *queries) prune(now time.Time, keep *storedQuery) {
	cutoff := now.Add(-keptFor)
	if !l.earliest.Before(cutoff) {
		// None has aged out, so at most the oldest go, as the bounds ask:
		// found without a walk, as every poll comes here thrice and a long
		// run keeps the store full.
		for l.overBounds() && l.byID[l.order[0]] != keep {
			l.forget(l.byID[l.order[0]])
			l.order[0] = ""
			l.order = l.order[1:]
		}
		if !l.overBounds() {
			return
		}
	}
	excess := len(l.order) - keptQueries
	kept := l.order[:0]
	for _, id := range l.order {
		sq := l.byID[id]
		if sq != keep && (sq.startedAt.Before(cutoff) || excess > 0 || l.bytes > l.maxBytes) {
			l.forget(sq)
			excess--
			continue
		}
		if len(kept) == 0 || sq.startedAt.Before(l.earliest) {
			l.earliest = sq.startedAt
		}
		kept = append(kept, id)
	}
	clear(l.order[len(kept):])
	l.order = kept
}

// overBounds reports whether the store keeps more queries or bytes than
// it may.
func (l *queries) overBounds() bool { return len(l.order) > keptQueries || l.bytes > l.maxBytes }

// forget lets go of sq; the caller takes it out of order.
func (l *queries) forget(sq *storedQuery) {
	delete(l.byID, sq.id)
	delete(l.unfinished, sq)
	l.bytes -= sq.size()
}

// status is Running until the query's run time has passed, then Complete.
func (s *Server) status(q *storedQuery, now time.Time) string {
	if q.done || !now.Before(q.created.Add(s.opts.QueryTime)) {
		return "Complete"
	}
	return "Running"
}

func (s *Server) logsAPI(q *request) {
	body, ok := s.signedBody(q, jsonProtocol)
	if !ok {
		return
	}
	wait := time.NewTimer(s.busyWait)
	defer wait.Stop()
	select {
	case s.logsCalls <- struct{}{}:
		defer func() { <-s.logsCalls }()
	case <-wait.C:
		writeJSONError(q, jsonProtocol, wire.ThrottlingException, fmt.Sprintf(
			"Rate exceeded: the emulator serves %d Logs calls at once and they have all been busy for %v; try again shortly",
			maxConcurrentLogsCalls, s.busyWait))
		return
	case <-q.r.Context().Done():
		return
	}
	op := strings.TrimPrefix(q.r.Header.Get("X-Amz-Target"), logsTargetPrefix)
	handlers := map[string]func(*request, []byte){
		"StartQuery":        s.startQuery,
		"GetQueryResults":   s.getQueryResults,
		"DescribeQueries":   s.describeQueries,
		"DescribeLogGroups": s.describeLogGroups,
	}
	h, known := handlers[op]
	if !known {
		writeJSONError(q, jsonProtocol, "UnknownOperationException", fmt.Sprintf(
			"Logs operation %q is not served; the emulator answers StartQuery, GetQueryResults, DescribeQueries and DescribeLogGroups", clip(op)))
		return
	}
	h(q, body)
}

func decode(q *request, body []byte, v any) bool {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeJSONError(q, jsonProtocol, "SerializationException", fmt.Sprintf("request body is not valid JSON for this operation: %s", clip(err.Error())))
		return false
	}
	return true
}

func (s *Server) groupExists(name string) bool { return name == s.world.Logs.Group }

func (s *Server) noGroup(q *request, name string) {
	writeJSONError(q, jsonProtocol, wire.ResourceNotFoundException, fmt.Sprintf(
		"The specified log group does not exist: %q in account %s (this emulator's accounts log to %q)",
		clip(name), q.account.AccountID, s.world.Logs.Group))
}

func (s *Server) startQuery(q *request, body []byte) {
	var in struct {
		LogGroupName        string   `json:"logGroupName"`
		LogGroupNames       []string `json:"logGroupNames"`
		LogGroupIdentifiers []string `json:"logGroupIdentifiers"`
		StartTime           *int64   `json:"startTime"`
		EndTime             *int64   `json:"endTime"`
		QueryString         string   `json:"queryString"`
	}
	if !decode(q, body, &in) {
		return
	}
	groups := append(append([]string{}, in.LogGroupNames...), in.LogGroupIdentifiers...)
	if in.LogGroupName != "" {
		groups = append(groups, in.LogGroupName)
	}
	switch {
	case len(groups) == 0:
		writeJSONError(q, jsonProtocol, "InvalidParameterException", "give a log group with logGroupName, logGroupNames or logGroupIdentifiers")
		return
	case in.StartTime == nil || in.EndTime == nil:
		writeJSONError(q, jsonProtocol, "InvalidParameterException", "startTime and endTime (epoch seconds) are required")
		return
	case *in.StartTime < 0:
		writeJSONError(q, jsonProtocol, "InvalidParameterException", "startTime is before 1970: give epoch seconds, 0 or more")
		return
	case *in.EndTime < *in.StartTime:
		writeJSONError(q, jsonProtocol, "InvalidParameterException", "endTime is before startTime")
		return
	case strings.TrimSpace(in.QueryString) == "":
		writeJSONError(q, jsonProtocol, "InvalidParameterException", "queryString is empty")
		return
	case utf8.RuneCountInString(in.QueryString) > MaxQueryLength:
		writeJSONError(q, jsonProtocol, "InvalidParameterException", fmt.Sprintf(
			"1 validation error detected: Value at 'queryString' failed to satisfy constraint: Member must have length less than or equal to %d", MaxQueryLength))
		return
	}
	for _, g := range groups {
		name := g
		if i := strings.Index(g, ":log-group:"); i >= 0 { // an ARN identifier
			name = strings.TrimSuffix(g[i+len(":log-group:"):], ":*")
		}
		if !s.groupExists(name) {
			s.noGroup(q, name)
			return
		}
	}
	l := s.logs
	l.mu.Lock()
	defer l.mu.Unlock()
	parsed, err := l.parse(in.QueryString)
	if err != nil {
		writeJSONError(q, jsonProtocol, "MalformedQueryException", err.Error())
		return
	}
	running := 0
	for sq := range l.unfinished {
		if sq.account == q.account.Name && s.status(sq, q.now) == "Running" {
			running++
		}
	}
	if running >= maxConcurrentQueries {
		writeJSONError(q, jsonProtocol, "LimitExceededException", fmt.Sprintf(
			"Account maximum query concurrency limit of [%d] reached; wait for running queries to finish", maxConcurrentQueries))
		return
	}
	l.seq++
	sq := &storedQuery{
		id:        fmt.Sprintf("5b111a40-%04x-4000-8000-%012x", l.seq>>48&0xffff, l.seq&0xffffffffffff),
		account:   q.account.Name,
		group:     s.world.Logs.Group,
		text:      in.QueryString,
		parsed:    parsed,
		from:      time.Unix(min(*in.StartTime, lastEpochSecond), 0),
		to:        time.Unix(min(*in.EndTime, lastEpochSecond), 0).Add(time.Second - time.Nanosecond), // endTime's whole second
		created:   q.now,
		startedAt: s.opts.Clock(),
	}
	l.add(sq, sq.startedAt)
	writeJSON(q, jsonProtocol, http.StatusOK, map[string]string{"queryId": sq.id})
}

func (s *Server) getQueryResults(q *request, body []byte) {
	var in struct {
		QueryID string `json:"queryId"`
	}
	if !decode(q, body, &in) {
		return
	}
	status, rows, matched, scanned, ok := s.results(q, in.QueryID)
	if !ok {
		writeJSONError(q, jsonProtocol, wire.ResourceNotFoundException, fmt.Sprintf(
			"Query %q does not exist in this account (the emulator keeps the newest %d queries of the last %g hours)",
			clip(in.QueryID), keptQueries, keptFor.Hours()))
		return
	}
	writeJSON(q, jsonProtocol, http.StatusOK, map[string]any{
		"status":  status,
		"results": rows,
		"statistics": map[string]float64{
			"recordsMatched": float64(matched),
			"recordsScanned": float64(scanned),
			"bytesScanned":   float64(scanned * 900),
		},
	})
}

// results are a query's status and rows, as JSON, as they stand at q.now.
func (s *Server) results(q *request, id string) (status string, rows json.RawMessage, matched, scanned int, ok bool) {
	l := s.logs
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(s.opts.Clock(), nil)
	sq, ok := l.byID[id]
	if !ok || sq.account != q.account.Name {
		return "", nil, 0, 0, false
	}
	status = s.status(sq, q.now)
	if sq.done {
		return status, sq.results, sq.matched, sq.scanned, true
	}
	// A running query shows what it has found so far: the records ingested
	// by now. Once complete, its answer is fixed.
	found, matched, scanned := s.execute(sq, q.now)
	if found == nil {
		found = []resultRow{} // the SDK expects a list, even an empty one
	}
	rows, err := json.Marshal(found)
	if err != nil {
		panic(err) // rows of strings always marshal
	}
	if status == "Complete" {
		l.complete(sq, rows, matched, scanned, s.opts.Clock())
	}
	return status, rows, matched, scanned, true
}

// execute runs a query over the records visible at now: from its running
// counts when it repeats an earlier stats query, else by a full scan. The
// caller holds the query store's lock.
func (s *Server) execute(sq *storedQuery, now time.Time) ([]resultRow, int, int) {
	// An account nobody has called lately still holds records past the
	// retention; a query must not see them.
	s.fleet.ExpireLogs(s.opts.Clock())
	if rows, matched, scanned, ok := s.logs.running.run(s.fleet, sq, now); ok {
		return rows, matched, scanned
	}
	x := sq.parsed.start()
	scanned := 0
	var lr logRecord
	s.fleet.EachRecord(sq.account, sq.group, sq.from, sq.to, now, func(r *fleet.Record) {
		scanned++
		lr = logRecord{rec: r}
		x.add(&lr)
	})
	rows, matched := x.finish()
	return rows, matched, scanned
}

func (s *Server) describeQueries(q *request, body []byte) {
	var in struct {
		LogGroupName string `json:"logGroupName"`
		Status       string `json:"status"`
		MaxResults   *int   `json:"maxResults"`
	}
	if !decode(q, body, &in) {
		return
	}
	if in.LogGroupName != "" && !s.groupExists(in.LogGroupName) {
		s.noGroup(q, in.LogGroupName)
		return
	}
	maxResults := 1000
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			writeJSONError(q, jsonProtocol, "InvalidParameterException", fmt.Sprintf(
				"maxResults must be from 1 to 1000, got %d", *in.MaxResults))
			return
		}
		maxResults = *in.MaxResults
	}
	type info struct {
		QueryID      string `json:"queryId"`
		QueryString  string `json:"queryString"`
		Status       string `json:"status"`
		CreateTime   int64  `json:"createTime"`
		LogGroupName string `json:"logGroupName"`
	}
	out := []info{}
	l := s.logs
	l.mu.Lock()
	l.prune(s.opts.Clock(), nil)
	for i := len(l.order) - 1; i >= 0 && len(out) < maxResults; i-- {
		sq := l.byID[l.order[i]]
		st := s.status(sq, q.now)
		if sq.account != q.account.Name || (in.Status != "" && in.Status != st) {
			continue
		}
		out = append(out, info{sq.id, sq.text, st, sq.created.UnixMilli(), sq.group})
	}
	l.mu.Unlock()
	writeJSON(q, jsonProtocol, http.StatusOK, map[string]any{"queries": out})
}

func (s *Server) describeLogGroups(q *request, body []byte) {
	var in struct {
		LogGroupNamePrefix string `json:"logGroupNamePrefix"`
	}
	if !decode(q, body, &in) {
		return
	}
	groups := []map[string]any{}
	if name := s.world.Logs.Group; strings.HasPrefix(name, in.LogGroupNamePrefix) {
		arn := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", q.region, q.account.AccountID, name)
		group := map[string]any{
			"logGroupName": name,
			"arn":          arn + ":*",
			"logGroupArn":  arn,
			"creationTime": s.epoch.UnixMilli(),
			"storedBytes":  0,
		}
		if keep := s.opts.LogRetention; keep > 0 {
			// Whole days, as CloudWatch states retention; a group that
			// never expires has no retentionInDays at all.
			group["retentionInDays"] = int(math.Ceil(keep.Hours() / 24))
		}
		groups = append(groups, group)
	}
	writeJSON(q, jsonProtocol, http.StatusOK, map[string]any{"logGroups": groups})
}

// logRecord exposes an invocation log record's fields to queries, by the
// names Logs Insights discovers in Bedrock's JSON.
type logRecord struct {
	rec     *fleet.Record
	msg, ts string // @message and @timestamp, made once a query asks
}

// number gives toMillis(@timestamp) as a number, for comparisons.
func (l *logRecord) number(name string) (float64, bool) {
	if name == timestampMillis {
		return float64(l.rec.Timestamp.UnixMilli()), true
	}
	return 0, false
}

func (l *logRecord) field(name string) (string, bool) {
	r := l.rec
	switch name {
	case "@timestamp":
		if l.ts == "" {
			l.ts = r.Timestamp.UTC().Format("2006-01-02 15:04:05.000")
		}
		return l.ts, true
	case timestampMillis:
		return strconv.FormatInt(r.Timestamp.UnixMilli(), 10), true
	case "@message":
		if l.msg == "" {
			b, _ := json.Marshal(r)
			l.msg = string(b)
		}
		return l.msg, true
	case "@logStream":
		return "aws/bedrock/modelinvocations", true
	case "schemaType":
		return r.SchemaType, true
	case "schemaVersion":
		return r.SchemaVersion, true
	case "timestamp":
		return r.Timestamp.UTC().Format(time.RFC3339Nano), true
	case "accountId":
		return r.AccountID, true
	case "identity.arn":
		return r.Identity.ARN, true
	case "region":
		return r.Region, true
	case "inferenceRegion":
		return r.InferenceRegion, true
	case "requestId":
		return r.RequestID, true
	case "operation":
		return r.Operation, true
	case "modelId":
		return r.ModelID, true
	case "input.inputTokenCount":
		return strconv.Itoa(r.Input.InputTokenCount), true
	case "output.outputTokenCount":
		return strconv.Itoa(r.Output.OutputTokenCount), true
	case "errorCode":
		return r.ErrorCode, r.ErrorCode != ""
	}
	return "", false
}
