package engine

import (
	"fmt"
	"sync/atomic"
)

// Relay is a Sink that hands events on to other sinks on a goroutine of its
// own, so that what they do with them (writing the record, printing lines)
// runs beside the engine instead of in its time. The sinks see every
// event, in order, exactly as if subscribed directly; only when differs.
//
// Events go over in batches: a full batch at once, a partial one whenever
// the engine is about to wait (the loop calls Flush), so a paced run's
// lines appear as they happen. On RunEnded the relay hands over the rest
// and waits until its sinks have handled it, so that when Run returns they
// have seen the whole run, as with direct subscribers. A sink that panics
// gets no more events, and the panic is raised again on the engine's
// goroutine at its next event, where Run reports it as an error.
type Relay struct {
	sinks   []Sink
	pending []Event
	batches chan []Event // to the relay's goroutine; a full channel holds the engine back
	spent   chan []Event // batches handled, for reuse
	ended   chan struct{}
	started bool
	failure atomic.Pointer[sinkPanic]
}

type sinkPanic struct{ value any }

// relayBatch is how many events a batch holds before it goes over. Each
// hand-over costs a channel send; a few hundred events amortise it while
// holding little memory.
const relayBatch = 256

// NewRelay returns a relay to sinks. Its goroutine starts with the first
// batch and ends after RunEnded, so a relay whose run never starts holds
// nothing.
func NewRelay(sinks ...Sink) *Relay {
	return &Relay{
		sinks:   sinks,
		pending: make([]Event, 0, relayBatch),
		batches: make(chan []Event, 2),
		spent:   make(chan []Event, 3),
		ended:   make(chan struct{}),
	}
}

// Handle queues ev for the sinks.
func (r *Relay) Handle(ev Event) {
	r.raise()
	r.pending = append(r.pending, ev)
	switch {
	case ev.Kind == RunEnded:
		r.Flush()
		<-r.ended
		r.raise()
	case len(r.pending) >= relayBatch:
		r.Flush()
	}
}

// Flush hands the events queued so far to the sinks without waiting for
// them to be handled.
func (r *Relay) Flush() {
	if len(r.pending) == 0 {
		return
	}
	if !r.started {
		r.started = true
		go r.deliver()
	}
	r.batches <- r.pending
	select {
	case b := <-r.spent:
		r.pending = b[:0]
	default:
		r.pending = make([]Event, 0, relayBatch)
	}
}

// raise panics with a sink's panic, on the caller's goroutine.
func (r *Relay) raise() {
	if p := r.failure.Load(); p != nil {
		panic(fmt.Sprintf("an event subscriber failed: %v", p.value))
	}
}

func (r *Relay) deliver() {
	defer close(r.ended)
	for batch := range r.batches {
		last := false
		for _, ev := range batch {
			if r.failure.Load() == nil {
				r.handle(ev)
			}
			last = last || ev.Kind == RunEnded
		}
		clear(batch) // the events' pointers are the sinks' to keep, not the spare batch's
		select {
		case r.spent <- batch:
		default:
		}
		if last {
			return
		}
	}
}

func (r *Relay) handle(ev Event) {
	defer func() {
		if p := recover(); p != nil {
			r.failure.Store(&sinkPanic{p})
		}
	}()
	for _, s := range r.sinks {
		s.Handle(ev)
	}
}
