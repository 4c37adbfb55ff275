// Package tui is Spillway's live dashboard, built on Bubble Tea v2: one lane
// per request on a shared time axis, a gauge for every bucket, and the Region
// histogram read from the invocation logs.
//
// The engine never waits for the screen. Its events land in a Feed, a
// buffer the dashboard drains on a frame tick, so a burst of thousands of
// events costs one redraw, not thousands.
package tui

import (
	"sync"

	"spillway/engine"
)

// Feed buffers a run's events for the dashboard. It is an engine.Sink; Handle
// only appends under a lock, so a slow screen never slows the engine.
type Feed struct {
	mu      sync.Mutex
	pending []engine.Event
}

// Handle queues ev for the next frame.
func (f *Feed) Handle(ev engine.Event) {
	f.mu.Lock()
	f.pending = append(f.pending, ev)
	f.mu.Unlock()
}

// Drain returns the events queued since the last call, in order. The slice
// it returns is the caller's; the feed starts a new one.
func (f *Feed) Drain() []engine.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.pending
	f.pending = nil
	return out
}
