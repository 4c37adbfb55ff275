package fleet

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"spillway/engine/wire"
	"spillway/scenarios"
)

// Record is a model invocation log record in Bedrock's schema, as it lands in
// CloudWatch Logs.
type Record struct {
	SchemaType      string    `json:"schemaType"`
	SchemaVersion   string    `json:"schemaVersion"`
	Timestamp       time.Time `json:"timestamp"`
	AccountID       string    `json:"accountId"`
	Identity        Identity  `json:"identity"`
	Region          string    `json:"region"`
	InferenceRegion string    `json:"inferenceRegion"`
	RequestID       string    `json:"requestId"`
	Operation       string    `json:"operation"`
	ModelID         string    `json:"modelId"`
	Input           Tokens    `json:"input"`
	Output          Tokens    `json:"output"`
	ErrorCode       string    `json:"errorCode,omitempty"`
}

// Identity is the caller of a logged invocation.
type Identity struct {
	ARN string `json:"arn"`
}

// Tokens is the token count of one side of a logged invocation.
type Tokens struct {
	InputTokenCount  int `json:"inputTokenCount,omitempty"`
	OutputTokenCount int `json:"outputTokenCount,omitempty"`
}

// logStore keeps each account's invocation log group: the scenario's one
// group per account. Records are stored compactly, because a long run writes
// hundreds of thousands of them, and expanded to Bedrock's schema only when
// read.
type logStore struct {
	group     string                // the log group name every account logs to
	accounts  map[string]*recordLog // account name → records, oldest first
	retention LogRetention
	symbols   symbols // the strings records name
}

// LogRetention bounds the invocation logs the fleet keeps for each account,
// as a CloudWatch log group's retention setting does. The zero value keeps
// every record. A run's Region histogram counts every call since the run
// began even under a bound, as long as it reads the logs through a LogTail
// often enough that records are handed over before they are dropped.
type LogRetention struct {
	// MaxAge is how long ExpireLogs keeps a record after its call ended.
	// Zero keeps records of any age.
	MaxAge time.Duration
	// MaxRecords keeps at most this many records per account, dropping the
	// oldest as new ones arrive. Zero keeps any number.
	MaxRecords int
	// VisibleFor drops a record once it has been visible this long by the
	// calls' own clock: the newest call's end, less VisibleFor. A run's
	// embedded emulator has one client, whose polled query folds each
	// record into its counts within seconds of it becoming visible, so its
	// logs need not grow with the run's length (MaxAge counts on the wall
	// clock, which a run at --speed max hardly moves). Zero keeps records
	// however long they have been visible.
	VisibleFor time.Duration
}

// SetLogRetention bounds the logs from now on; records already past the
// bounds go at the next call or ExpireLogs.
func (f *Fleet) SetLogRetention(r LogRetention) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs.retention = r
}

// ExpireLogs drops the records received more than MaxAge before now. Age is
// measured on the emulator's clock (Call.ReceivedAt) rather than on the
// simulated times of calls, so that one client's calls far in the future
// can neither age out everyone else's records nor keep them forever.
func (f *Fleet) ExpireLogs(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.logs.retention.MaxAge <= 0 {
		return
	}
	cutoff := now.Add(-f.logs.retention.MaxAge).UnixNano()
	for _, l := range f.logs.accounts {
		l.expire(cutoff)
	}
}

// recordLog is one account's records in call order, in a ring that grows
// until it holds MaxRecords and then overwrites the oldest. Dropping a
// record is O(1) and nothing is ever copied except when the ring grows.
type recordLog struct {
	ring []stored
	head int // index of the oldest record
	n    int // how many records the ring holds
	// first is the log position of the oldest record: how many records
	// the log has dropped. Positions number records in arrival order and
	// never change, so a LogTail can find a record again after others
	// have come and gone.
	first uint64
}

// capacity is how many records the log has room for without growing.
func (l *recordLog) capacity() int { return len(l.ring) }

func (l *recordLog) oldest() *stored { return &l.ring[l.head] }

func (l *recordLog) dropOldest() {
	l.ring[l.head] = stored{}
	l.head = (l.head + 1) % len(l.ring)
	l.n--
	l.first++
}

// end is the position the next record will take.
func (l *recordLog) end() uint64 { return l.first + uint64(l.n) }

// at is the record at position pos, which must be within [first, end).
func (l *recordLog) at(pos uint64) *stored {
	return &l.ring[(l.head+int(pos-l.first))%len(l.ring)]
}

// push appends r, first dropping the oldest record when the log holds
// limit records (0: no limit).
func (l *recordLog) push(r stored, limit int) {
	for limit > 0 && l.n >= limit {
		l.dropOldest()
	}
	if l.n == len(l.ring) {
		l.grow(limit)
	}
	l.ring[(l.head+l.n)%len(l.ring)] = r
	l.n++
}

// grow doubles the ring, to at most limit records when there is one.
func (l *recordLog) grow(limit int) {
	size := max(2*len(l.ring), 64)
	if limit > 0 {
		size = min(size, limit)
	}
	ring := make([]stored, size)
	l.each(func(i int, r *stored) { ring[i] = *r })
	l.ring, l.head = ring, 0
}

// each calls fn with every record, oldest first, and its position.
func (l *recordLog) each(fn func(int, *stored)) {
	for i := range l.n {
		fn(i, &l.ring[(l.head+i)%len(l.ring)])
	}
}

// expire drops the records received before cutoff (Unix ns). Records are
// kept in the order they were received, so the first younger one ends the
// scan.
func (l *recordLog) expire(cutoff int64) {
	for l.n > 0 && l.oldest().receivedAt < cutoff {
		l.dropOldest()
	}
}

// stored is one record as the logs keep it. It holds no pointers: its
// strings are symbols, its request id is bits. The garbage collector then
// never scans the logs, which are most of what a long or fast run keeps
// alive, and each collection costs what the rest of the heap does.
type stored struct {
	at, visibleAt   int64 // unix ns; the ingestion delay hides a record until visibleAt
	receivedAt      int64 // unix ns on the emulator's clock, for retention
	requestID       requestID
	accountID       symbol
	sourceRegion    symbol
	inferenceRegion symbol
	operation       symbol
	modelARN        symbol
	identityARN     symbol
	inputTokens     int32
	outputTokens    int32
}

// record is r in Bedrock's schema.
func (ls *logStore) record(r *stored) Record {
	name := ls.symbols.name
	return Record{
		SchemaType:      "ModelInvocationLog",
		SchemaVersion:   "1.0",
		Timestamp:       time.Unix(0, r.at).UTC(),
		AccountID:       name(r.accountID),
		Identity:        Identity{ARN: name(r.identityARN)},
		Region:          name(r.sourceRegion),
		InferenceRegion: name(r.inferenceRegion),
		RequestID:       r.requestID.String(),
		Operation:       name(r.operation),
		ModelID:         name(r.modelARN),
		Input:           Tokens{InputTokenCount: int(r.inputTokens)},
		Output:          Tokens{OutputTokenCount: int(r.outputTokens)},
	}
}

// symbol is a string the logs hold many times over (an account id, a
// Region, an operation, a model ARN), as its number in the log store's
// table.
type symbol uint32

// symbols is the log store's table of the strings its records name. The
// values come from the scenario, the catalog and the fleet's Regions, so
// there are few; maxSymbols bounds it all the same, and a string met when
// the table is full is logged as overflowSymbol's.
type symbols struct {
	ids   map[string]symbol
	names []string
}

const (
	maxSymbols     = 1 << 16
	overflowSymbol = symbol(0)
	overflowName   = "(too many distinct values)"
)

func newSymbols() symbols {
	return symbols{ids: map[string]symbol{overflowName: overflowSymbol}, names: []string{overflowName}}
}

func (t *symbols) of(s string) symbol {
	if id, ok := t.ids[s]; ok {
		return id
	}
	if len(t.names) >= maxSymbols {
		return overflowSymbol
	}
	id := symbol(len(t.names))
	t.ids[s] = id
	t.names = append(t.names, s)
	return id
}

func (t *symbols) name(id symbol) string { return t.names[id] }

func (f *Fleet) store(at time.Time, acct scenarios.Account, call Call, r Reply) stored {
	modelARN := f.intern(internKey{"model", call.SourceRegion, acct.AccountID, call.ModelID}, func() string {
		switch {
		case strings.HasPrefix(call.ModelID, "arn:"):
			return call.ModelID
		case scenarios.Geography(call.ModelID) != "":
			return fmt.Sprintf("arn:aws:bedrock:%s:%s:inference-profile/%s", call.SourceRegion, acct.AccountID, call.ModelID)
		}
		return fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", call.SourceRegion, scenarios.BaseModelID(call.ModelID))
	})
	identity := f.intern(internKey{"identity", acct.AccountID, "", ""}, func() string {
		return fmt.Sprintf("arn:aws:sts::%s:assumed-role/spillway/simulated", acct.AccountID)
	})
	done := at.Add(r.Latency)
	received := call.ReceivedAt
	if received.IsZero() {
		received = done
	}
	sym := f.logs.symbols.of
	return stored{
		at:              done.UnixNano(),
		receivedAt:      received.UnixNano(),
		visibleAt:       done.Add(f.logDelay()).UnixNano(),
		requestID:       r.id,
		accountID:       sym(acct.AccountID),
		sourceRegion:    sym(call.SourceRegion),
		inferenceRegion: sym(r.Region),
		operation:       sym(call.Operation),
		modelARN:        sym(modelARN),
		identityARN:     sym(identity),
		inputTokens:     int32(r.InputTokens),
		outputTokens:    int32(r.OutputTokens),
	}
}

func newLogStore(s *scenarios.Scenario) *logStore {
	ls := &logStore{group: s.Logs.Group, accounts: map[string]*recordLog{}, symbols: newSymbols()}
	for _, a := range s.Accounts {
		ls.accounts[a.Name] = &recordLog{}
	}
	return ls
}

func (ls *logStore) add(account string, r stored) {
	l := ls.accounts[account]
	l.push(r, ls.retention.MaxRecords)
	if ls.retention.VisibleFor > 0 {
		// Oldest first: a record behind one still kept waits its turn,
		// which keeps a little more than needed and never less.
		cutoff := r.at - int64(ls.retention.VisibleFor)
		for l.n > 1 && l.oldest().visibleAt < cutoff {
			l.dropOldest()
		}
	}
}

// Records returns the records of one log group visible at now, in Bedrock's
// schema.
func (f *Fleet) Records(account, group string, now time.Time) []Record {
	var out []Record
	f.EachRecord(account, group, time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64), now, func(r *Record) {
		out = append(out, *r)
	})
	return out
}

// EachRecord calls fn with every record of one log group visible at now and
// stamped within [from, to], in Bedrock's schema. The record passed to fn is
// reused between calls, so a query over a long run allocates nothing per
// record; fn must copy what it keeps.
func (f *Fleet) EachRecord(account, group string, from, to, now time.Time, fn func(*Record)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if group != f.logs.group {
		return
	}
	lo, hi, visible := from.UnixNano(), to.UnixNano(), now.UnixNano()
	l := f.logs.accounts[account]
	if l == nil {
		return
	}
	var rec Record
	l.each(func(_ int, r *stored) {
		if r.visibleAt <= visible && r.at >= lo && r.at <= hi {
			rec = f.logs.record(r)
			fn(&rec)
		}
	})
}

// Query selects invocation records the way the seed's Logs Insights query
// does: records whose modelId names one of Models (as an inference profile
// or a foundation model), timestamped within [From, To].
type Query struct {
	Account  string
	LogGroup string
	Models   []string
	From, To time.Time
}

// RegionCount is one bar of the Region histogram, as the wire carries it.
type RegionCount = wire.RegionCount

// RegionCounts answers `stats count(*) by inferenceRegion | sort
// inferenceRegion` for q, seeing only records ingested by now.
func (f *Fleet) RegionCounts(q Query, now time.Time) ([]RegionCount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	records := f.logs.accounts[q.Account]
	if records == nil {
		return nil, &APIError{Code: wire.AccessDeniedException, Message: fmt.Sprintf("account %q is not part of this simulated fleet", q.Account)}
	}
	if q.LogGroup != f.logs.group {
		return nil, &APIError{Code: wire.ResourceNotFoundException, Message: fmt.Sprintf(
			"Log group '%s' does not exist for account %s; enable model invocation logging to that group or set logs.group in the scenario", q.LogGroup, q.Account)}
	}
	suffixes := modelSuffixes(q.Models)
	from, to, visible := q.From.UnixNano(), q.To.UnixNano(), now.UnixNano()
	counts := map[symbol]int{}
	matches := map[symbol]bool{} // by model ARN: a suffix test per ARN, not per record
	records.each(func(_ int, r *stored) {
		if r.visibleAt > visible || r.at < from || r.at > to {
			return
		}
		match, known := matches[r.modelARN]
		if !known {
			match = matchesModel(f.logs.symbols.name(r.modelARN), suffixes)
			matches[r.modelARN] = match
		}
		if match {
			counts[r.inferenceRegion]++
		}
	})
	out := make([]RegionCount, 0, len(counts))
	for region, n := range counts {
		out = append(out, RegionCount{Region: f.logs.symbols.name(region), Count: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

// modelSuffixes turns model ids into the ARN endings that name them, as the
// seed's `modelId like /inference-profile\/<id>/` filter does.
func modelSuffixes(models []string) []string {
	var out []string
	for _, m := range models {
		id := m
		if i := strings.LastIndexByte(m, '/'); i >= 0 {
			id = m[i+1:]
		}
		out = append(out, "inference-profile/"+id, "foundation-model/"+id)
	}
	return out
}

func matchesModel(arn string, suffixes []string) bool {
	for _, s := range suffixes {
		if strings.HasSuffix(arn, s) {
			return true
		}
	}
	return false
}
