package frontdoor

import (
	"slices"
	"sync"

	"spillway/engine"
)

// followers are the requests the doors are waiting on, followed through
// the engine's events by ticket and then by request id. It is the doors'
// engine.Sink: the engine (or its relay) calls Handle, the HTTP handlers
// wait on what it hands back.
type followers struct {
	mu        sync.Mutex
	byTicket  map[uint64]*story
	byRequest map[int]*story
	over      bool // the run has ended: nothing more will be answered
}

func newFollowers() *followers {
	return &followers{byTicket: map[uint64]*story{}, byRequest: map[int]*story{}}
}

// story is what happened to one client's request, as far as the gateway
// tells it in headers: where it went, what it passed over, how it ended.
type story struct {
	ticket   uint64
	request  int
	tenant   string
	groups   []string // the groups it entered, in order
	attempts []engine.Event
	skipped  []engine.Event
	// first is closed when a streamed answer's first token came; done
	// when the request ended, with final set.
	first     chan struct{}
	firstSeen bool
	done      chan struct{}
	final     engine.Event
	// feed carries a streamed answer's text as a network backend reads
	// it; nil for an answer sent whole.
	feed *textFeed
}

// follow starts following ticket; the caller sends the Arrive after.
func (f *followers) follow(ticket uint64) (*story, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.over {
		return nil, false
	}
	s := &story{ticket: ticket, first: make(chan struct{}), done: make(chan struct{})}
	f.byTicket[ticket] = s
	return s, true
}

// forget stops following a request whose client has gone, or whose Arrive
// the engine refused at once.
func (f *followers) forget(s *story) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.byTicket, s.ticket)
	if s.request != 0 {
		delete(f.byRequest, s.request)
	}
}

// Handle takes one event of the run.
func (f *followers) Handle(ev engine.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev.Kind == engine.RunEnded {
		f.over = true
		for _, s := range f.byTicket {
			end(s, ev)
		}
		clear(f.byTicket)
		clear(f.byRequest)
		return
	}
	var s *story
	if ev.Ticket != 0 {
		s = f.byTicket[ev.Ticket]
		if s != nil && ev.Request != 0 && s.request == 0 {
			s.request = ev.Request
			f.byRequest[ev.Request] = s
		}
	} else if ev.Request != 0 {
		s = f.byRequest[ev.Request]
	}
	if s == nil {
		return // traffic of the scenario's own, or a client that has gone
	}
	if ev.Tenant != "" {
		s.tenant = ev.Tenant
	}
	switch ev.Kind {
	case engine.Attempt:
		s.entered(ev.Group)
		s.attempts = append(s.attempts, ev)
	case engine.Skipped:
		s.entered(ev.Group)
		s.skipped = append(s.skipped, ev)
	case engine.FirstToken:
		if !s.firstSeen {
			s.firstSeen = true
			close(s.first)
		}
	case engine.Throttled, engine.Errored:
		// The attempt's outcome: kept on its Attempt for the headers.
		for i := len(s.attempts) - 1; i >= 0; i-- {
			if s.attempts[i].Attempt == ev.Attempt {
				s.attempts[i].Code = ev.Code
				break
			}
		}
	case engine.ControlRefused, engine.RateLimited, engine.Succeeded, engine.Failed, engine.Cancelled:
		delete(f.byTicket, s.ticket)
		delete(f.byRequest, s.request)
		end(s, ev)
	}
}

// view is what is known of s so far, copied under the lock: a stream's
// headers go out at its first token, while the engine goes on adding to
// the story.
func (f *followers) view(s *story) story {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := *s
	v.groups = slices.Clone(s.groups)
	v.attempts = slices.Clone(s.attempts)
	v.skipped = slices.Clone(s.skipped)
	return v
}

// entered notes that the request is in group, if it was not already.
func (s *story) entered(group string) {
	if group != "" && (len(s.groups) == 0 || s.groups[len(s.groups)-1] != group) {
		s.groups = append(s.groups, group)
	}
}

func end(s *story, ev engine.Event) {
	s.final = ev
	close(s.done)
}
