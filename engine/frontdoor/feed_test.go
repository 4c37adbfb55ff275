package frontdoor

import (
	"strings"
	"testing"
)

// A client that reads more slowly than the model writes never holds the
// backend up: past the feed's bound the rest waits for the answer's end,
// and what the client gets, in order, is the whole answer once.
func TestAFullFeedLeavesTheRestForTheEnd(t *testing.T) {
	f := newTextFeed()
	big := strings.Repeat("x", maxFeedBytes-10)
	answer := "Hello" + big + "0123456789abcdef" + "tail"
	f.add("Hello")
	f.add(big)
	f.add("0123456789abcdef") // over the bound: left out, with all after it
	f.add("tail")
	var got strings.Builder
	for _, p := range f.take() {
		got.WriteString(p)
	}
	for _, p := range f.rest(answer) {
		got.WriteString(p)
	}
	if got.String() != answer {
		t.Fatalf("the client got %d bytes ending %q; want the %d-byte answer once, in order", got.Len(), got.String()[max(0, got.Len()-20):], len(answer))
	}
}

// Text that came through the feed is not sent again at the end; an answer
// that came whole, with nothing through the feed, is sent in word-sized
// pieces.
func TestTheEndSendsOnlyWhatTheFeedDidNot(t *testing.T) {
	f := newTextFeed()
	f.add("Hello")
	f.add(", world")
	if got := strings.Join(f.take(), ""); got != "Hello, world" {
		t.Fatalf("took %q", got)
	}
	if rest := f.rest("Hello, world"); len(rest) != 0 {
		t.Fatalf("the end would send %q again", rest)
	}
	whole := newTextFeed()
	if got := strings.Join(whole.rest("one two three"), "|"); got != "one| two| three" {
		t.Fatalf("an answer that came whole went out as %q", got)
	}
}
