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

// serving counts the goroutines in callers.serve, from every stack.
func serving() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("(*callers).serve("))
}

// Calls one after another run on goroutines that are reused, whose stacks
// have grown already; calls at once each get one and never wait for
// another; the goroutines end with the run.
func TestCallersReuseGoroutinesAndEndWithTheRun(t *testing.T) {
	ended := make(chan struct{})
	c := newCallers(ended)

	ran := make(chan int)
	ids := map[int]bool{}
	for range 100 {
		c.run(func() { ran <- goroutineID() })
		ids[<-ran] = true
		// The caller goes back to wait for the next call; a call that
		// comes before it is back gets a goroutine of its own, which is
		// right, so give it the moment a busy machine may need.
		time.Sleep(time.Millisecond)
	}
	// A fresh goroutine per call would be 100.
	if len(ids) > 10 {
		t.Errorf("100 calls one after another ran on %d goroutines; want a few, reused", len(ids))
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
	deadline := time.Now().Add(10 * time.Second)
	for serving() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers still serving 10 s after the run ended", serving())
		}
		time.Sleep(time.Millisecond)
	}
}
