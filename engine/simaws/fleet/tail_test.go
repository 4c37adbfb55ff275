package fleet

import (
	"math/rand/v2"
	"testing"
	"time"

	"spillway/scenarios"
)

// scan is what a full scan sees: the request ids EachRecord gives.
func scan(f *Fleet, from, to, now time.Time) map[string]bool {
	out := map[string]bool{}
	f.EachRecord("a", group, from, to, now, func(r *Record) { out[r.RequestID] = true })
	return out
}

// Random calls, some stamped in the past so that records arrive out of
// timestamp order and become visible out of order; random retention;
// random reads, mostly moving forward, sometimes not. At every read the
// tail must hand over exactly what a full scan finds that no earlier read
// handed over, each record once, with its position in arrival order, and
// look only at what arrived since and what is still pending.
func TestLogTailHandsOverWhatAFullScanFindsNew(t *testing.T) {
	models := []string{profile, "anthropic.claude-3-7-sonnet-20250219-v1:0"}
	for seed := range uint64(150) {
		rng := rand.New(rand.NewPCG(seed, 7))
		f := New(scenario(scenarios.Unlimited, nil), nil, seed, epoch)
		retention := LogRetention{MaxRecords: []int{0, 0, 12, 40}[rng.IntN(4)]}
		if rng.IntN(3) == 0 {
			retention.MaxAge = time.Duration(30+rng.IntN(90)) * time.Second
		}
		f.SetLogRetention(retention)
		from := epoch.Add(time.Duration(rng.IntN(60)-30) * time.Second)
		tail := NewLogTail("a", group, from)
		position := map[string]uint64{} // request id → arrival order
		handed := map[string]bool{}
		clock, to, now := epoch, epoch, epoch
		arrived := 0
		for step := range 80 {
			for range rng.IntN(6) {
				at := clock.Add(time.Duration(rng.IntN(120)-90) * time.Second)
				r := f.Invoke(at, call(models[rng.IntN(len(models))]))
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				position[r.RequestID] = uint64(len(position))
				arrived++
			}
			clock = clock.Add(time.Duration(rng.IntN(8)) * time.Second)
			if retention.MaxAge > 0 {
				f.ExpireLogs(clock)
			}
			nextTo, nextNow := to.Add(time.Duration(rng.IntN(12))*time.Second), now.Add(time.Duration(rng.IntN(10))*time.Second)
			switch rng.IntN(8) {
			case 0: // moves back
				nextTo = to.Add(-time.Second)
			case 1:
				nextNow = now.Add(-time.Second)
			}
			continues := !nextTo.Before(to) && !nextNow.Before(now) || step == 0
			want := scan(f, from, nextTo, nextNow)
			pendingBefore := tail.Pending()
			got := map[string]bool{}
			examined, ok := f.ReadTail(tail, nextTo, nextNow, func(pos uint64, r *Record) {
				if handed[r.RequestID] || got[r.RequestID] {
					t.Fatalf("seed %d step %d: %s handed over twice", seed, step, r.RequestID)
				}
				if pos != position[r.RequestID] {
					t.Fatalf("seed %d step %d: %s at position %d, arrived %d", seed, step, r.RequestID, pos, position[r.RequestID])
				}
				got[r.RequestID] = true
			})
			if ok != continues {
				t.Fatalf("seed %d step %d: read made %v, want %v (to %v→%v, now %v→%v)", seed, step, ok, continues, to, nextTo, now, nextNow)
			}
			if !ok {
				if len(got) > 0 || examined > 0 {
					t.Fatalf("seed %d step %d: a refused read handed over %d, looked at %d", seed, step, len(got), examined)
				}
				continue
			}
			to, now = nextTo, nextNow
			for id := range got {
				if !want[id] {
					t.Fatalf("seed %d step %d: handed over %s, which a full scan does not see", seed, step, id)
				}
				handed[id] = true
			}
			for id := range want {
				if !handed[id] {
					t.Fatalf("seed %d step %d: a full scan sees %s, never handed over", seed, step, id)
				}
			}
			if limit := pendingBefore + arrived; examined > limit || retention == (LogRetention{}) && examined != limit {
				t.Fatalf("seed %d step %d: looked at %d records; %d were pending and %d arrived", seed, step, examined, pendingBefore, arrived)
			}
			arrived = 0
		}
	}
}

// A record stamped inside the window that becomes visible only after
// later ones is handed over by the read at which it becomes visible.
func TestLogTailHandsOverALateRecordWhenItBecomesVisible(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	early := f.Invoke(epoch, call(profile))
	f.scenario.Logs.Delay = 0
	late := f.Invoke(epoch.Add(time.Second), call(profile))
	earlyAt := epoch.Add(early.Latency)
	lateVisible := epoch.Add(time.Second + late.Latency)
	tail := NewLogTail("a", group, epoch)
	var got []string
	read := func(now time.Time) []string {
		got = nil
		f.ReadTail(tail, now.Add(time.Hour), now, func(_ uint64, r *Record) { got = append(got, r.RequestID) })
		return got
	}
	if ids := read(lateVisible); len(ids) != 1 || ids[0] != late.RequestID {
		t.Fatalf("at %v: %v, want only the later call's record, visible at once", lateVisible, ids)
	}
	if ids := read(earlyAt.Add(35 * time.Second)); len(ids) != 1 || ids[0] != early.RequestID {
		t.Fatalf("once past its ingestion delay: %v, want the earlier call's record", ids)
	}
	if ids := read(earlyAt.Add(time.Hour)); len(ids) != 0 {
		t.Fatalf("later: %v, want nothing more", ids)
	}
}

// A window that ends long before now leaves every later record pending;
// past the bound the tail is lost, but the read that lost it still hands
// over everything a full scan sees.
func TestLogTailPastItsPendingBoundIsLost(t *testing.T) {
	f := New(scenario(scenarios.Unlimited, nil), nil, 1, epoch)
	for i := range 50 {
		f.Invoke(epoch.Add(time.Duration(i)*time.Second), call(profile))
	}
	tail := NewLogTail("a", group, epoch)
	tail.maxPending = 10
	to, now := epoch.Add(20*time.Second), epoch.Add(time.Hour)
	n := 0
	if _, ok := f.ReadTail(tail, to, now, func(uint64, *Record) { n++ }); !ok {
		t.Fatal("the first read was refused")
	}
	if want := len(scan(f, epoch, to, now)); n != want || want == 0 {
		t.Fatalf("handed over %d records, a full scan sees %d", n, want)
	}
	if !tail.Lost() || tail.Continues(to, now) {
		t.Fatalf("with %d records after the window and room for 10 pending, the tail goes on", 50-n)
	}
	if _, ok := f.ReadTail(tail, to.Add(time.Hour), now, func(uint64, *Record) { t.Fatal("a lost tail handed over a record") }); ok {
		t.Fatal("a lost tail was read")
	}
}
