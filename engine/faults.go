package engine

import (
	"context"
	"fmt"
	"time"

	"spillway/scenarios"
)

// faultTimeline is the faults of a run: those the scenario declares, each
// handed to the backend with its whole window when the run starts, and
// those started and stopped live. The backend judges every call by the
// call's own simulated time, so a fault's effect does not depend on when
// the loop gets to its FaultStarted event.
type faultTimeline struct {
	injector    FaultInjector
	declared    []scenarios.Fault
	inEffectNow map[int]*FaultInfo // by id
	lastID      int
}

// declare hands the backend every declared fault and schedules its start
// and end events. Declared faults take the ids 1…n in file order.
func (f *faultTimeline) declare(ctx context.Context, tl timeline, start time.Time) error {
	f.inEffectNow = map[int]*FaultInfo{}
	for _, fault := range f.declared {
		f.lastID++
		from, to := start.Add(fault.At), time.Time{}
		if fault.Duration > 0 {
			to = from.Add(fault.Duration)
		}
		if err := f.injector.InjectFault(ctx, f.lastID, fault, from, to); err != nil {
			return err
		}
		tl.schedule(item{at: from, kind: faultOn, fault: f.lastID})
		if !to.IsZero() {
			tl.schedule(item{at: to, kind: faultOff, fault: f.lastID})
		}
	}
	return nil
}

// on reports declared fault id as started.
func (f *faultTimeline) on(tl timeline, at time.Time, id int) {
	info := &FaultInfo{ID: id, Fault: f.declared[id-1]}
	f.inEffectNow[id] = info
	tl.emit(at, Event{Kind: FaultStarted, Fault: info})
}

// startLive starts fault now, until it is stopped.
func (f *faultTimeline) startLive(ctx context.Context, tl timeline, at time.Time, fault scenarios.Fault) error {
	id := f.lastID + 1
	fault.At, fault.Duration = tl.since(at), 0
	if err := f.injector.InjectFault(ctx, id, fault, at, time.Time{}); err != nil {
		return err
	}
	f.lastID = id
	info := &FaultInfo{ID: id, Fault: fault, Live: true}
	f.inEffectNow[id] = info
	tl.emit(at, Event{Kind: FaultStarted, Fault: info})
	return nil
}

func (f *faultTimeline) inEffect(id int) bool {
	_, on := f.inEffectNow[id]
	return on
}

// off ends declared fault id on schedule. The backend was given its window
// when the run started, so it ends there whatever this call says; an error
// is only noted.
func (f *faultTimeline) off(ctx context.Context, tl timeline, at time.Time, id int) {
	info, on := f.inEffectNow[id]
	if !on {
		return // stopped early
	}
	delete(f.inEffectNow, id)
	ev := Event{Kind: FaultEnded, Fault: info}
	if err := f.injector.EndFault(ctx, id, at); err != nil {
		ev.Message = "the backend did not confirm the end: " + err.Error()
	}
	tl.emit(at, ev)
}

// stop ends fault id at at, before its time. If the backend cannot confirm,
// the fault stays in effect, so that it can be stopped again.
func (f *faultTimeline) stop(ctx context.Context, tl timeline, at time.Time, id int) error {
	info := f.inEffectNow[id]
	if err := f.injector.EndFault(ctx, id, at); err != nil {
		return fmt.Errorf("could not stop %s: %w", info.Fault, err)
	}
	delete(f.inEffectNow, id)
	tl.emit(at, Event{Kind: FaultEnded, Fault: info})
	return nil
}

// find is the fault in effect that is the same as fault, times aside.
func (f *faultTimeline) find(fault scenarios.Fault) (int, bool) {
	fault.At, fault.Duration = 0, 0
	found := 0
	for id, info := range f.inEffectNow {
		same := info.Fault
		same.At, same.Duration = 0, 0
		if same == fault && (found == 0 || id < found) {
			found = id // the oldest, whatever the map's order
		}
	}
	return found, found != 0
}
