package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startAt starts text over the last hour at simulated time at and returns
// the status and reply.
func (h *handlerHarness) startAt(text string, at time.Time) (int, string) {
	body, _ := json.Marshal(map[string]any{"logGroupName": group, "startTime": at.Unix() - 3600, "endTime": at.Unix(), "queryString": text})
	code, reply := h.send("/", "StartQuery", string(body), at)
	return code, string(reply)
}

func queryID(t *testing.T, reply string) string {
	t.Helper()
	var out struct{ QueryID string }
	if err := json.Unmarshal([]byte(reply), &out); err != nil || out.QueryID == "" {
		t.Fatalf("StartQuery: %s", reply)
	}
	return out.QueryID
}

// An account runs at most maxConcurrentQueries queries at once; one that
// completes, by being read or by its run time passing, makes room.
func TestAnAccountRunsAtMostThirtyQueriesAtOnce(t *testing.T) {
	h := newHandlerHarness(t, 1, Options{QueryTime: time.Minute})
	var ids []string
	for i := range maxConcurrentQueries {
		code, reply := h.startAt(fmt.Sprintf("stats count(*) as n%d", i), runStart)
		if code != http.StatusOK {
			t.Fatalf("query %d: %d %s", i+1, code, reply)
		}
		ids = append(ids, queryID(t, reply))
	}
	if code, reply := h.startAt("stats count(*)", runStart); code != http.StatusBadRequest || !strings.Contains(reply, "LimitExceededException") {
		t.Fatalf("query %d: %d %s, want LimitExceededException", maxConcurrentQueries+1, code, reply)
	}
	h.post("/", "GetQueryResults", `{"queryId":"`+ids[0]+`"}`, runStart.Add(time.Minute)) // complete
	if code, reply := h.startAt("stats count(*)", runStart); code != http.StatusOK {
		t.Fatalf("after one completed: %d %s", code, reply)
	}
	if code, reply := h.startAt("stats count(*)", runStart); code != http.StatusBadRequest {
		t.Fatalf("thirty running again: %d %s, want LimitExceededException", code, reply)
	}
	// A minute on, every query's run time has passed, read or not.
	if code, reply := h.startAt("stats count(*)", runStart.Add(time.Minute)); code != http.StatusOK {
		t.Fatalf("a minute later: %d %s", code, reply)
	}
}

// Past keptQueries the oldest queries are forgotten first, one for each
// new one, and the rest stay.
func TestTheNewestQueriesAreKept(t *testing.T) {
	h := newHandlerHarness(t, 1, Options{})
	var ids []string
	for i := range keptQueries + 5 {
		_, reply := h.startAt(fmt.Sprintf("stats count(*) as n%d", i), runStart)
		ids = append(ids, queryID(t, reply))
	}
	for i, id := range ids {
		code, _ := h.send("/", "GetQueryResults", `{"queryId":"`+id+`"}`, runStart)
		if kept := code == http.StatusOK; kept != (i >= 5) {
			t.Fatalf("query %d of %d: %d; want the newest %d kept", i+1, len(ids), code, keptQueries)
		}
	}
	h.s.logs.mu.Lock()
	defer h.s.logs.mu.Unlock()
	if n, order := len(h.s.logs.byID), len(h.s.logs.order); n != keptQueries || order != keptQueries {
		t.Fatalf("%d queries kept, %d in order; want %d", n, order, keptQueries)
	}
}
