package emulator

import (
	"fmt"
	"testing"
)

// A dashboard starts the same query every poll: its text is parsed once and
// shared, a malformed text is never kept, and a client sending ever new
// texts holds at most parsedQueriesKept parsed queries.
func TestQueryTextsAreParsedOnceAndTheCacheIsBounded(t *testing.T) {
	l := newQueries()
	const text = `filter @message like /foundation-model/ | stats count(*) by inferenceRegion`
	first, err := l.parse(text)
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.parse(text)
	if err != nil || again != first {
		t.Fatalf("the same text parsed again: %p then %p (%v)", first, again, err)
	}
	if _, err := l.parse("stats avg(x)"); err == nil {
		t.Fatal("an unsupported stats expression parsed")
	}
	if _, kept := l.parsed["stats avg(x)"]; kept {
		t.Fatal("a malformed query was kept")
	}
	for i := range 3 * parsedQueriesKept {
		if _, err := l.parse(fmt.Sprintf("stats count(*) | limit %d", i+1)); err != nil {
			t.Fatal(err)
		}
		if len(l.parsed) > parsedQueriesKept {
			t.Fatalf("%d parsed queries kept after %d texts; the bound is %d", len(l.parsed), i+2, parsedQueriesKept)
		}
	}
}
