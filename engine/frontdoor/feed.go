package frontdoor

import "sync"

// maxFeedBytes bounds the text a stream holds for a client that reads it
// more slowly than the model writes it. What comes after waits for the
// answer's end, whose text is whole, and goes out from there.
const maxFeedBytes = 8 << 20

// textFeed carries a streamed answer's text from the backend's goroutine,
// which must never wait for a client, to the handler writing it out.
type textFeed struct {
	mu       sync.Mutex
	pieces   []string
	held     int  // bytes in pieces
	taken    int  // bytes handed to the handler
	came     bool // any text came
	overflow bool // text came while the feed was full, and was left out
	ready    chan struct{}
}

func newTextFeed() *textFeed { return &textFeed{ready: make(chan struct{}, 1)} }

// add takes a piece of text; it never blocks. Once a piece is left out,
// so is every later one, so what the handler has is always a prefix of
// the answer.
func (f *textFeed) add(piece string) {
	f.mu.Lock()
	f.came = true
	if f.overflow || f.held+len(piece) > maxFeedBytes {
		f.overflow = true
		f.mu.Unlock()
		return
	}
	f.pieces = append(f.pieces, piece)
	f.held += len(piece)
	f.mu.Unlock()
	select {
	case f.ready <- struct{}{}:
	default:
	}
}

// take hands over the pieces that came since the last take.
func (f *textFeed) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.pieces
	f.taken += f.held
	f.pieces, f.held = nil, 0
	return out
}

// rest is what the handler still has to write of the whole answer text,
// once the answer has ended and every piece has been taken: all of it in
// word-sized pieces if none came through the feed (an instant backend),
// what the feed left out if it overflowed, nothing otherwise.
func (f *textFeed) rest(text string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.came:
		return pieces(text)
	case f.overflow && f.taken < len(text):
		return []string{text[f.taken:]}
	}
	return nil
}
