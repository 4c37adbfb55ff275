package engine

import (
	"bytes"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// goroutineID is the running goroutine's number, from its stack's header.
func goroutineID() int {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, _ := strconv.Atoi(string(buf[:bytes.IndexByte(buf, ' ')]))
	return id
}

// Calls one after another run on the same goroutine, whose stack has
// grown already; calls at once each get one and never wait for another;
// the goroutines end with the run.
func TestCallersReuseGoroutinesAndEndWithTheRun(t *testing.T) {
	before := runtime.NumGoroutine()
	ended := make(chan struct{})
	c := newCallers(ended)

	ran := make(chan int)
	for range 20 {
		c.run(func() { ran <- goroutineID() })
		if id := <-ran; id == 0 {
			t.Fatal("no goroutine id")
		}
		// Give the caller time to come back and wait for the next call.
		waitFor(t, func() bool { return runtime.NumGoroutine() == before+1 })
	}
	ids := map[int]bool{}
	for range 20 {
		c.run(func() { ran <- goroutineID() })
		ids[<-ran] = true
		waitFor(t, func() bool { return runtime.NumGoroutine() == before+1 })
	}
	if len(ids) != 1 {
		t.Errorf("20 calls one after another ran on %d goroutines, want 1 reused", len(ids))
	}

	// Three calls at once: none waits for another to finish.
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	for range 3 {
		c.run(func() { started <- struct{}{}; <-release })
	}
	for i := range 3 {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of 3 calls at once started: run made one wait for another", i)
		}
	}
	close(release)

	close(ended)
	waitFor(t, func() bool { return runtime.NumGoroutine() == before })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still %d goroutines after 5 s", runtime.NumGoroutine())
		}
		time.Sleep(time.Millisecond)
	}
}
