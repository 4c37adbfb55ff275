package record

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	gojson "github.com/goccy/go-json"
)

// RequestSpoolPattern names the spool of finished request records while
// it is being created; like the timeline's, the name is removed at once.
const RequestSpoolPattern = ".spillway-requests-*"

// requestBook holds every request's record. A request in flight is in
// memory, where its events still change it; once it has its final outcome
// its record goes to a finishedStore and nothing changes it any more.
type requestBook struct {
	open    map[int]*Request
	created int // ids 1 to created have been seen; ids are dense
	done    finishedStore
}

func newRequestBook() *requestBook {
	return &requestBook{open: map[int]*Request{}, done: &memoryStore{}}
}

// finishedStore keeps the records of finished requests.
type finishedStore interface {
	// add keeps q. A store that cannot keeps the error for cursor.
	add(q *Request)
	// cursor reads the records back in id order.
	cursor() (finishedCursor, error)
	close() error
}

// finishedCursor returns finished records in id order.
type finishedCursor interface {
	// next returns the record of request id, ids being asked in
	// increasing order: as a struct, or as the JSON line it was spooled as,
	// valid until the next call.
	next(id int) (*Request, []byte, error)
}

// request returns the record of request id, making it, and those of the
// ids before it not seen yet, on first sight. It returns nil for a request
// that has already finished: its record is closed.
func (b *requestBook) request(id int, startMS float64) *Request {
	for b.created < id {
		b.created++
		// Attempts starts empty, not nil, so a request its tenant's bucket
		// refused exports "attempts": [].
		b.open[b.created] = &Request{ID: b.created, Outcome: OutcomePending, StartMS: startMS, Attempts: []Attempt{}}
	}
	return b.open[id]
}

// finish moves q, which has its final outcome, out of memory.
func (b *requestBook) finish(q *Request) {
	delete(b.open, q.ID)
	b.done.add(q)
}

// each visits every request seen so far in id order: q for one in
// memory, line for one read back from the spool, valid during the call.
func (b *requestBook) each(visit func(q *Request, line []byte) error) error {
	finished, err := b.done.cursor()
	if err != nil {
		return err
	}
	for id := 1; id <= b.created; id++ {
		q, line := b.open[id], []byte(nil)
		if q == nil {
			if q, line, err = finished.next(id); err != nil {
				return err
			}
		}
		if err := visit(q, line); err != nil {
			return err
		}
	}
	return nil
}

// spoolTo sends the records of requests that finish from now on to s,
// and moves there those kept in memory so far.
func (b *requestBook) spoolTo(s *spool) error {
	kept, ok := b.done.(*memoryStore)
	if !ok {
		return errors.New("the request records are already spooled")
	}
	store := &spooledStore{spool: s}
	for i := range kept.byID {
		if kept.byID[i].ID != 0 {
			store.add(&kept.byID[i])
		}
	}
	b.done = store
	return nil
}

// memoryStore keeps finished records in memory, by id: for a recorder
// that was given no directory to spool to.
type memoryStore struct {
	byID []Request // by id − 1; the zero Request where a request is still in flight
}

func (m *memoryStore) add(q *Request) {
	for len(m.byID) < q.ID {
		m.byID = append(m.byID, Request{})
	}
	m.byID[q.ID-1] = *q
}

func (m *memoryStore) cursor() (finishedCursor, error) { return m, nil }

func (m *memoryStore) next(id int) (*Request, []byte, error) {
	if id > len(m.byID) || m.byID[id-1].ID != id {
		return nil, nil, fmt.Errorf("request %d has no record", id)
	}
	return &m.byID[id-1], nil, nil
}

func (m *memoryStore) close() error { return nil }

// spooledStore writes each finished record to a spool as one line of the
// JSON the export carries, in the order requests finish, so that memory
// holds only the requests in flight.
type spooledStore struct {
	spool *spool
	line  bytes.Buffer
	enc   *gojson.Encoder // writes to line; one for the run, not one per request
}

func (s *spooledStore) add(q *Request) {
	if s.enc == nil {
		s.enc = gojson.NewEncoder(&s.line)
	}
	s.line.Reset()
	// Encode is json.Marshal with a newline: the export's bytes exactly.
	// Every finished request pays for it, so the faster encoder writes
	// it; TestSpoolLinesAreEncodingJSONBytes holds it to the same bytes.
	if err := s.enc.Encode(q); err != nil {
		s.spool.fail(fmt.Errorf("request %d: %w", q.ID, err))
		return
	}
	s.spool.write(s.line.Bytes())
}

func (s *spooledStore) cursor() (finishedCursor, error) {
	contents, err := s.spool.contents()
	if err != nil {
		return nil, fmt.Errorf("request records: %w", err)
	}
	return &spoolCursor{src: contents, lines: newLineReader(contents)}, nil
}

func (s *spooledStore) close() error { return s.spool.close() }

// spoolCursor reads a spool written in finish order back in id order. It
// reads the spool through once; a line met before its turn (its request
// finished before one with a lower id) is remembered by where it is and
// read again when its turn comes. Requests finish nearly in the order they
// started, so few lines wait, and each costs a few bytes, not its record.
type spoolCursor struct {
	src   io.ReaderAt
	lines *lineReader
	early earlyLines
	buf   []byte
}

func (c *spoolCursor) next(id int) (*Request, []byte, error) {
	if len(c.early) > 0 && c.early[0].id == id {
		e := heap.Pop(&c.early).(earlyLine)
		c.buf = slices.Grow(c.buf[:0], e.length)[:e.length]
		if _, err := c.src.ReadAt(c.buf, e.at); err != nil {
			return nil, nil, fmt.Errorf("request records: %w", err)
		}
		return nil, c.buf, nil
	}
	for {
		line, at, err := c.lines.next()
		if err == io.EOF {
			return nil, nil, fmt.Errorf("request records: request %d is not in the spool", id)
		} else if err != nil {
			return nil, nil, fmt.Errorf("request records: %w", err)
		}
		got, ok := spooledID(line)
		switch {
		case !ok:
			return nil, nil, fmt.Errorf("request records: a line at byte %d is not a record", at)
		case got == id:
			return nil, line, nil
		case got < id:
			return nil, nil, fmt.Errorf("request records: request %d is in the spool twice", got)
		}
		heap.Push(&c.early, earlyLine{id: got, at: at, length: len(line)})
	}
}

// spooledID reads the id a spooled record opens with, as json.Marshal
// writes a Request: {"id":12,…
func spooledID(line []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"id":`))
	end := bytes.IndexByte(rest, ',')
	if !ok || end < 0 {
		return 0, false
	}
	id, err := strconv.Atoi(string(rest[:end]))
	return id, err == nil
}

// earlyLine is a spooled record read before its turn.
type earlyLine struct {
	id     int
	at     int64
	length int
}

// earlyLines is a heap of early lines, lowest id first.
type earlyLines []earlyLine

func (h earlyLines) Len() int           { return len(h) }
func (h earlyLines) Less(i, j int) bool { return h[i].id < h[j].id }
func (h earlyLines) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *earlyLines) Push(x any)        { *h = append(*h, x.(earlyLine)) }
func (h *earlyLines) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
