package emulator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func nest(depth int) string {
	return "filter " + strings.Repeat("(", depth) + "a = 1" + strings.Repeat(")", depth)
}

func TestParenthesesNestedDeeperThanTheLimitAreMalformed(t *testing.T) {
	if _, err := parseQuery(nest(maxQueryDepth)); err != nil {
		t.Fatalf("%d levels: %v", maxQueryDepth, err)
	}
	// A million levels once overflowed the parser's stack: a fatal error
	// no recover can catch.
	for _, depth := range []int{maxQueryDepth + 1, 1_000_000} {
		_, err := parseQuery(nest(depth))
		var bad *MalformedQuery
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), fmt.Sprintf("%d levels", maxQueryDepth+1)) ||
			!strings.Contains(err.Error(), fmt.Sprintf("at most %d", maxQueryDepth)) {
			t.Errorf("%d levels: %v; want a MalformedQuery naming the depth reached and the limit", depth, err)
		}
	}
}

func TestMalformedQueryMessagesQuoteAShortPart(t *testing.T) {
	long := strings.Repeat("x", 50_000)
	for _, src := range []string{
		"filter " + long + "(1)",      // an unknown function
		"filter a = 1 '" + long + "'", // a stray string
		"filter a ~ " + long,
		"stats " + long,
		"filter a like /" + long + "[/", // a regex that does not compile
	} {
		_, err := parseQuery(src)
		if err == nil || len(err.Error()) > 400 {
			t.Errorf("%q…: a %d-byte message; want a MalformedQuery that quotes at most a short part", src[:20], len(fmt.Sprint(err)))
		}
	}
}

// seqRecord is record i of a synthetic log, cheap to make a million of.
type seqRecord struct {
	i  int
	ts string
}

func (r seqRecord) field(name string) (string, bool) {
	switch name {
	case "@timestamp":
		return r.ts, true
	case "@message":
		return "message " + strconv.Itoa(r.i), true
	case "requestId":
		return strconv.Itoa(r.i), true
	case "third":
		return strconv.Itoa(r.i % 3), true
	}
	return "", false
}

// runOver runs src over n records whose timestamps are a shuffle of 0…n-1,
// zero-padded so they sort as text and as numbers alike.
func runOver(t *testing.T, src string, n int) ([]resultRow, int) {
	t.Helper()
	q, err := parseQuery(src)
	if err != nil {
		t.Fatal(err)
	}
	perm := rand.New(rand.NewPCG(1, 2)).Perm(n)
	x := q.start()
	for i := range n {
		x.add(seqRecord{i: i, ts: fmt.Sprintf("%07d", perm[i])})
	}
	return x.finish()
}

func column(rows []resultRow, field string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i], _ = r.get(field)
	}
	return out
}

func TestSortAndLimitStayExactOverAMillionRecords(t *testing.T) {
	rows, matched := runOver(t, "sort @timestamp desc | limit 20", 1_000_000)
	if matched != 1_000_000 || len(rows) != 20 {
		t.Fatalf("%d rows, %d matched; want 20 of 1000000", len(rows), matched)
	}
	for i, ts := range column(rows, "@timestamp") {
		if want := fmt.Sprintf("%07d", 999_999-i); ts != want {
			t.Fatalf("row %d is %s, want %s: the 20 latest, newest first", i, ts, want)
		}
	}
	// Without a limit a sort returns the first MaxResultRows in order.
	rows, _ = runOver(t, "sort @timestamp", 100_000)
	if len(rows) != MaxResultRows {
		t.Fatalf("%d rows, want %d", len(rows), MaxResultRows)
	}
	for i, ts := range column(rows, "@timestamp") {
		if want := fmt.Sprintf("%07d", i); ts != want {
			t.Fatalf("row %d is %s, want %s", i, ts, want)
		}
	}
}

// Rows that sort equal keep the order they arrived in, as a stable sort
// of every row would, across however many compactions.
func TestSortKeepsArrivalOrderAmongEqualRows(t *testing.T) {
	rows, _ := runOver(t, "fields requestId, third | sort third | limit 15000", 60_000)
	if len(rows) != MaxResultRows {
		t.Fatalf("%d rows, want %d", len(rows), MaxResultRows)
	}
	for i, r := range rows {
		if id, _ := r.get("requestId"); id != strconv.Itoa(3*i) {
			t.Fatalf("row %d is record %s, want record %d: the rows with third = 0 in arrival order", i, id, 3*i)
		}
	}
}

func TestRowsWithoutStatsAreCappedAtMaxResultRows(t *testing.T) {
	for _, c := range []struct {
		query      string
		rows, last int // how many rows, and the request id of the last
		matched    int
	}{
		{"fields @message", MaxResultRows, MaxResultRows - 1, 25_000},
		{"filter requestId >= 0", MaxResultRows, MaxResultRows - 1, 25_000},
		{"limit 20000", MaxResultRows, MaxResultRows - 1, 25_000},
		{"limit 5", 5, 4, 25_000},
		// Filters after fields see the fields' row, record by record.
		{"fields requestId | filter requestId < 100 | fields requestId", 100, 99, 100},
	} {
		rows, matched := runOver(t, c.query, 25_000)
		last := ""
		if len(rows) > 0 {
			last, _ = rows[len(rows)-1].get("requestId")
			if msg, ok := rows[len(rows)-1].get("@message"); ok {
				last = strings.TrimPrefix(msg, "message ")
			}
		}
		if len(rows) != c.rows || last != strconv.Itoa(c.last) || matched != c.matched {
			t.Errorf("%q: %d rows ending with record %s, %d matched; want %d ending with %d, %d matched",
				c.query, len(rows), last, matched, c.rows, c.last, c.matched)
		}
	}
}

func TestStatsKeepsAtMostMaxResultRowsGroups(t *testing.T) {
	rows, matched := runOver(t, "stats count(*) as n by requestId | sort requestId desc | limit 3", 25_000)
	if matched != 25_000 || strings.Join(column(rows, "requestId"), " ") != "9999 9998 9997" {
		t.Fatalf("%s, %d matched; want the first %d groups only", show(rows), matched, MaxResultRows)
	}
	rows, _ = runOver(t, "stats count(*) as n by requestId", 25_000)
	if len(rows) != MaxResultRows {
		t.Fatalf("%d groups, want %d", len(rows), MaxResultRows)
	}
	// Groups already counted keep counting past the cap.
	rows, _ = runOver(t, "stats count(*) as n by third", 25_000)
	if show(rows) != "third=0 n=8334 ; third=1 n=8333 ; third=2 n=8333 ; " {
		t.Fatalf("%s", show(rows))
	}
}
