package fleet

import (
	"slices"
	"time"
)

// MaxTailPending bounds the records a LogTail remembers as not handed over
// yet. A dashboard polling "since the run began" up to now has only the
// records still inside their ingestion delay pending, a few hundred at 600
// calls a minute; a window that ends long before now would have every later
// record pending, and such a tail is given up instead (see LogTail.Lost).
const MaxTailPending = 1 << 16

// LogTail follows one account's log group for a reader that asks again and
// again over a window whose start stays put while its end and the time of
// visibility only move forward, as a dashboard polling the invocations
// since the run began does. Each read hands over only the records that
// qualify now (visible, stamped within the window) and did not at any
// earlier read: records that arrived since, and older ones that have since
// become visible or that the window's end has since reached. A record
// stamped early but visible only late is handed over at the first read at
// which it is visible, when a full scan would first count it too.
//
// So the records a tail has handed over are exactly those a full scan
// (EachRecord) over the latest window would see, plus those dropped by the
// log's retention since they were handed over. A tail belongs to one
// reader; the fleet's lock guards only the log it reads.
type LogTail struct {
	account, group string
	from           int64 // the window's start, unix ns

	read    bool  // a read has set to and now
	to, now int64 // the last read's window end and visibility time, unix ns

	// next is the position of the first record no read has looked at.
	next uint64
	// pending are positions below next, ascending, of records not handed
	// over yet that a later read may hand over: stamped at or after from,
	// but not visible or stamped after to at the last read.
	pending    []uint64
	maxPending int  // MaxTailPending; tests lower it
	lost       bool // pending outgrew maxPending
}

// NewLogTail follows account's log group over windows starting at from.
func NewLogTail(account, group string, from time.Time) *LogTail {
	return &LogTail{account: account, group: group, from: from.UnixNano(), maxPending: MaxTailPending}
}

// Continues reports whether a read up to to, visible at now, can carry on
// from the reads before: neither moves back, and the tail is not lost.
func (t *LogTail) Continues(to, now time.Time) bool {
	return !t.lost && (!t.read || to.UnixNano() >= t.to && now.UnixNano() >= t.now)
}

// Lost reports whether the tail stopped keeping track of its pending
// records, because there were more than MaxTailPending. The read that lost
// it still handed over every record it should have; later reads cannot.
func (t *LogTail) Lost() bool { return t.lost }

// Pending is how many records the tail remembers as not handed over yet.
func (t *LogTail) Pending() int { return len(t.pending) }

// Size is about how many bytes the tail holds.
func (t *LogTail) Size() int { return 8*cap(t.pending) + 96 }

// ReadTail hands fn, in no particular order, each record of t's log group
// that is visible at now and stamped within [t's start, to] and that no
// earlier read of t handed over, with its position in the log (positions
// number records in arrival order). It returns how many records it looked
// at: the records that arrived since the last read and those still pending,
// not the whole log. A read that does not continue the tail (see
// Continues) hands over nothing and returns false; a full scan must answer
// it. As in EachRecord, the record passed to fn is reused between calls.
func (f *Fleet) ReadTail(t *LogTail, to, now time.Time, fn func(pos uint64, r *Record)) (examined int, ok bool) {
	if !t.Continues(to, now) {
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	hi, visible := to.UnixNano(), now.UnixNano()
	t.read, t.to, t.now = true, hi, visible
	l := f.logs.accounts[t.account]
	if t.group != f.logs.group || l == nil {
		return 0, true // no record ever qualifies
	}
	var rec Record
	handOver := func(pos uint64, r *stored) bool {
		examined++
		if r.visibleAt > visible || r.at < t.from || r.at > hi {
			return false
		}
		rec = f.logs.record(r)
		fn(pos, &rec)
		return true
	}
	still := t.pending[:0]
	for _, pos := range t.pending {
		if pos < l.first {
			continue // dropped by retention before it qualified, so no scan sees it
		}
		if !handOver(pos, l.at(pos)) {
			still = append(still, pos)
		}
	}
	end := l.end()
	for pos := max(t.next, l.first); pos < end; pos++ {
		r := l.at(pos)
		if handOver(pos, r) || r.at < t.from || t.lost {
			continue
		}
		if len(still) == t.maxPending {
			t.lost, still = true, nil
			continue
		}
		still = append(still, pos)
	}
	if cap(still) > 2*len(still)+64 {
		still = slices.Clone(still) // a burst has passed; give its room back
	}
	t.pending, t.next = still, end
	return examined, true
}
