package record_test

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"spillway/engine/record"
)

// BenchmarkHeapHeldPerRequest records synthetic runs of 100,000 and
// 400,000 requests (about 2.8 and 11 hours at 600 a minute) with the
// timeline kept, as 'spillway run --json' does, and reports the live heap
// the recorder holds at the end, after a collection, per request: what a
// long run's memory grows by. It also reports the heap the run left and
// how long an export of it takes. Run it with -benchtime 1x.
func BenchmarkHeapHeldPerRequest(b *testing.B) {
	for _, n := range []int{100_000, 400_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				before := liveHeap()
				rec := record.New(record.Meta{Backend: "simulated"})
				if err := rec.KeepTimeline(b.TempDir()); err != nil {
					b.Fatal(err)
				}
				syntheticRun(rec.Handle, n, 1)
				if sum := rec.Summary(); sum.Requests != n {
					b.Fatalf("%d requests in the summary, want %d", sum.Requests, n)
				}
				held := liveHeap() - before
				b.ReportMetric(float64(held)/float64(n), "heap-B/request")
				b.ReportMetric(float64(held)/(1<<20), "heap-MB")
				start := time.Now()
				if err := rec.Encode(io.Discard); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(time.Since(start).Seconds(), "export-s")
				runtime.KeepAlive(rec)
				rec.Close()
			}
		})
	}
}

func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
