package engine

// callers runs a network backend's calls on goroutines that outlive them.
// A call goes deep into the SDK's middleware, so its goroutine's stack
// grows several times; a fresh goroutine for every call grew it (copied
// it) again each time, about a sixteenth of a gateway's CPU under load.
// A goroutine that has finished a call waits for the next one instead, so
// there are as many as there were calls at once at the busiest moment,
// and all of them end with the run.
type callers struct {
	calls chan func()     // unbuffered: a send succeeds only if a caller is waiting
	ended <-chan struct{} // closed when the run is over
}

func newCallers(ended <-chan struct{}) *callers {
	return &callers{calls: make(chan func()), ended: ended}
}

// run hands call to a waiting caller, or starts another. It never waits.
func (c *callers) run(call func()) {
	select {
	case c.calls <- call:
	default:
		go c.serve(call)
	}
}

func (c *callers) serve(call func()) {
	for {
		call()
		select {
		case call = <-c.calls:
		case <-c.ended:
			return
		}
	}
}
