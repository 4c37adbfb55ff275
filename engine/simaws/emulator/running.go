package emulator

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"spillway/engine/simaws/fleet"
)

// The engine polls the Region histogram with a new StartQuery every few
// simulated seconds: the same stats query over a window that starts where
// the run began and ends at "now". Scanning every record since the run
// began at every poll made a long run quadratic. Counts add up, though:
// the counts over the records seen so far plus the counts over those new
// since are the counts over all of them. So the emulator keeps, for each
// such query, its counts and a fleet.LogTail saying which records they
// hold, and folds in only what the tail hands over.
//
// The answer is the one a full scan gives, except that counts already made
// stay when retention later drops their records: a poll counts every call
// since the run began, as it did before logs were bounded. Whenever that
// cannot be shown (not a stats query, a window or visibility time that
// moved back, too many groups or pending records), the full scan answers.

// Bounds on the running queries each emulator keeps: any client may start
// any number of distinct queries. A run keeps one per account.
const (
	maxRunningQueries = 64
	runningQueryBytes = 16 << 20 // all of them together
	// maxRunningGroups bounds the groups of one running query, well under
	// MaxResultRows, where a full scan starts dropping groups it meets late
	// and which groups those are depends on the order of the scan.
	maxRunningGroups = 1000
)

// runningKey names the polls that continue one another: same account,
// log group, query text and window start.
type runningKey struct {
	account, group, text string
	from                 int64 // unix ns
}

// runningQuery is one stats query kept between polls.
type runningQuery struct {
	key    runningKey
	tail   *fleet.LogTail
	x      *execution // the leading filter and fields commands, feeding counts
	counts *positionedCounts
	// scanned is how many records the tail has handed over: what a full
	// scan reports as recordsScanned.
	scanned int
	used    uint64 // runningQueries.runs when last run
	size    int    // bytes, as last measured
}

// runningQueries are an emulator's running queries, guarded by the query
// store's lock.
type runningQueries struct {
	byKey map[runningKey]*runningQuery
	bytes int
	runs  uint64
	// examined counts the records looked at by every incremental run: the
	// work they cost, which tests hold to the new records.
	examined int
}

func newRunningQueries() *runningQueries {
	return &runningQueries{byKey: map[runningKey]*runningQuery{}}
}

// run answers sq as a full scan at now would, folding into its running
// counts only what is new since the last poll of the same query. It
// reports false when a full scan must answer instead. Nil running queries
// keep nothing, so every query is scanned in full, as before there were
// any: the benchmarks compare the two.
func (rq *runningQueries) run(f *fleet.Fleet, sq *storedQuery, now time.Time) (rows []resultRow, matched, scanned int, ok bool) {
	if rq == nil {
		return nil, 0, 0, false
	}
	key := runningKey{sq.account, sq.group, sq.text, sq.from.UnixNano()}
	q := rq.byKey[key]
	if q == nil {
		if q = newRunningQuery(key, sq.parsed); q == nil {
			return nil, 0, 0, false // not a stats query
		}
	}
	var lr logRecord
	examined, read := f.ReadTail(q.tail, sq.to, now, func(pos uint64, r *fleet.Record) {
		q.scanned++
		q.counts.pos = pos
		lr = logRecord{rec: r}
		q.x.add(&lr)
	})
	rq.examined += examined
	switch {
	case !read:
		return nil, 0, 0, false // moved back: the kept counts stay for the polls that go on
	case q.counts.overflowed:
		rq.forget(key)
		return nil, 0, 0, false
	}
	rows, matched = q.x.finish()
	if q.tail.Lost() {
		rq.forget(key) // this answer is whole; the next could not be
	} else {
		rq.keep(q)
	}
	return rows, matched, q.scanned, true
}

// newRunningQuery starts the running counts of parsed, or returns nil when
// its first collecting command is not stats.
func newRunningQuery(key runningKey, parsed *query) *runningQuery {
	x := parsed.start()
	c, ok := x.keep.(*counter)
	if !ok {
		return nil
	}
	counts := newPositionedCounts(c.st)
	x.keep = counts
	return &runningQuery{key: key, tail: fleet.NewLogTail(key.account, key.group, time.Unix(0, key.from)), x: x, counts: counts}
}

// keep holds on to q, forgetting the least recently run queries past the
// bounds, q itself if it alone is past them.
func (rq *runningQueries) keep(q *runningQuery) {
	rq.runs++
	q.used = rq.runs
	if _, kept := rq.byKey[q.key]; kept {
		rq.bytes -= q.size
	}
	q.size = len(q.key.text) + q.tail.Size() + q.counts.bytes + 512
	rq.byKey[q.key] = q
	rq.bytes += q.size
	for len(rq.byKey) > maxRunningQueries || rq.bytes > runningQueryBytes {
		var oldest *runningQuery
		for _, k := range rq.byKey {
			if oldest == nil || k.used < oldest.used {
				oldest = k
			}
		}
		rq.forget(oldest.key)
	}
}

func (rq *runningQueries) forget(key runningKey) {
	if q, kept := rq.byKey[key]; kept {
		rq.bytes -= q.size
		delete(rq.byKey, key)
	}
}

// positionedCounts is stats count(*) by fields for records that arrive
// out of log order. Each group remembers the earliest log position it
// counted, and rows come in that order: the order in which a full scan,
// which reads the log in position order, first meets the groups. Past
// maxRunningGroups groups it overflows and counts no more.
type positionedCounts struct {
	st         statsStage
	groups     map[string]*positionedGroup
	pos        uint64   // the log position of the record being added
	key        []string // scratch
	overflowed bool
	bytes      int // about what the groups hold
}

type positionedGroup struct {
	values []string // the by fields, as the earliest record counted has them
	n      int
	first  uint64 // the earliest log position counted
}

func newPositionedCounts(st statsStage) *positionedCounts {
	return &positionedCounts{st: st, groups: map[string]*positionedGroup{}, key: make([]string, len(st.by))}
}

func (c *positionedCounts) add(r fieldSource) {
	if c.overflowed {
		return
	}
	for i, f := range c.st.by {
		c.key[i], _ = r.field(f)
	}
	k := strings.Join(c.key, "\x00") // as counter joins them, so groups are the same
	g := c.groups[k]
	switch {
	case g == nil && len(c.groups) == maxRunningGroups:
		c.overflowed = true
		return
	case g == nil:
		g = &positionedGroup{values: slices.Clone(c.key), first: c.pos}
		c.groups[k] = g
		c.bytes += 2*len(k) + 16*len(c.key) + 96
	case c.pos < g.first:
		// Keys that join alike can differ; a full scan shows the values
		// of the record it meets first.
		g.first, g.values = c.pos, slices.Clone(c.key)
	}
	g.n++
}

func (c *positionedCounts) rows() []resultRow {
	groups := make([]*positionedGroup, 0, len(c.groups))
	for _, g := range c.groups {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *positionedGroup) int { return cmp.Compare(a.first, b.first) })
	out := make([]resultRow, 0, len(groups))
	for _, g := range groups {
		row := make(resultRow, 0, len(c.st.by)+1)
		for i, f := range c.st.by {
			row = append(row, resultField{f, g.values[i]})
		}
		out = append(out, append(row, resultField{c.st.as, strconv.Itoa(g.n)}))
	}
	return out
}
