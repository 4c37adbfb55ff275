package fleet

import (
	"fmt"
	"sort"
	"strings"
	"time"

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

func (f *Fleet) record(at time.Time, acct scenarios.Account, call Call, r Reply) Record {
	modelARN := fmt.Sprintf("arn:aws:bedrock:%s::foundation-model/%s", call.SourceRegion, scenarios.BaseModelID(call.ModelID))
	if strings.HasPrefix(call.ModelID, "arn:") {
		modelARN = call.ModelID
	} else if scenarios.Geography(call.ModelID) != "" {
		modelARN = fmt.Sprintf("arn:aws:bedrock:%s:%s:inference-profile/%s", call.SourceRegion, acct.AccountID, call.ModelID)
	}
	return Record{
		SchemaType:      "ModelInvocationLog",
		SchemaVersion:   "1.0",
		Timestamp:       at.Add(r.Latency).UTC(),
		AccountID:       acct.AccountID,
		Identity:        Identity{ARN: fmt.Sprintf("arn:aws:sts::%s:assumed-role/spillway/simulated", acct.AccountID)},
		Region:          call.SourceRegion,
		InferenceRegion: r.Region,
		RequestID:       r.RequestID,
		Operation:       call.Operation,
		ModelID:         modelARN,
		Input:           Tokens{InputTokenCount: r.InputTokens},
		Output:          Tokens{OutputTokenCount: r.OutputTokens},
	}
}

// logStore keeps each account's invocation log group.
type logStore struct {
	groups map[string]map[string][]stored // account name → log group → records
}

type stored struct {
	Record
	visibleAt time.Time // ingestion delay: queries before this do not see it
}

func newLogStore(s *scenarios.Scenario) *logStore {
	ls := &logStore{groups: map[string]map[string][]stored{}}
	for _, a := range s.Accounts {
		ls.groups[a.Name] = map[string][]stored{s.Logs.Group: nil}
	}
	return ls
}

func (ls *logStore) add(account string, r Record, visibleAt time.Time) {
	for name, records := range ls.groups[account] {
		ls.groups[account][name] = append(records, stored{Record: r, visibleAt: visibleAt})
	}
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

// RegionCount is one bar of the Region histogram.
type RegionCount struct {
	Region string
	Count  int
}

// RegionCounts answers `stats count(*) by inferenceRegion | sort
// inferenceRegion` for q, seeing only records ingested by now.
func (f *Fleet) RegionCounts(q Query, now time.Time) ([]RegionCount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	groups, ok := f.logs.groups[q.Account]
	if !ok {
		return nil, &APIError{Code: AccessDeniedException, Message: fmt.Sprintf("account %q is not part of this simulated fleet", q.Account)}
	}
	records, ok := groups[q.LogGroup]
	if !ok {
		return nil, &APIError{Code: ResourceNotFoundException, Message: fmt.Sprintf(
			"Log group '%s' does not exist for account %s; enable model invocation logging to that group or set logs.group in the scenario", q.LogGroup, q.Account)}
	}
	counts := map[string]int{}
	for _, r := range records {
		if r.visibleAt.After(now) || r.Timestamp.Before(q.From) || r.Timestamp.After(q.To) || !matchesModel(r.ModelID, q.Models) {
			continue
		}
		counts[r.InferenceRegion]++
	}
	out := make([]RegionCount, 0, len(counts))
	for region, n := range counts {
		out = append(out, RegionCount{region, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

func matchesModel(arn string, models []string) bool {
	for _, m := range models {
		id := m
		if i := strings.LastIndexByte(m, '/'); i >= 0 {
			id = m[i+1:]
		}
		if strings.HasSuffix(arn, "inference-profile/"+id) || strings.HasSuffix(arn, "foundation-model/"+id) {
			return true
		}
	}
	return false
}
