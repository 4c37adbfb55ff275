// Package frontdoor is the gateway's front for outside traffic: HTTP doors
// that take a client's request (an OpenAI-style chat completion, or a
// Bedrock Runtime Converse or InvokeModel call), send it
// into the engine as an engine.Arrive, follow it through the engine's
// events, and answer in the door's own format. Every answer says in
// headers what the gateway did: which deployment served it, the groups it
// went through, and what it passed over and why.
//
// The doors never touch the engine's state: requests go in through its
// control shell, answers come out of its events, as for every other part
// that talks to a running engine.
package frontdoor

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"spillway/engine"
	"spillway/scenarios"
)

// Limits on what a client can make the gateway hold.
const (
	// MaxBodyBytes caps a request body; OpenAI's own cap is larger, but a
	// gateway in front of a demo has no use for more.
	MaxBodyBytes = 4 << 20
	// MaxMessages caps the turns of one conversation.
	MaxMessages = 1000
	// ReadTimeout is how long a client has to send its request, headers
	// and body; a slow client is cut off, not waited for.
	ReadTimeout = 30 * time.Second
	// MaxWait is the longest a request waits for its answer in the engine
	// before the door gives up on it with a 504.
	MaxWait = 10 * time.Minute
)

// Door is the gateway's HTTP front for one running engine.
type Door struct {
	scenario *scenarios.Scenario
	controls *engine.Shell
	follow   *followers
	tickets  atomic.Uint64
	// open is true when no tenant has api_keys: any key, or none, is
	// let in, and the tenant comes from the x-spillway-tenant header or
	// is the first gateway tenant.
	open        bool
	firstTenant string
	maxWait     time.Duration
	handler     http.Handler
}

// New returns the doors to a run of s, which must have a gateway tenant
// (arrival = "gateway"). Subscribe the door to the engine before Run: it
// follows requests by the engine's events.
func New(s *scenarios.Scenario, controls *engine.Shell) (*Door, error) {
	d := &Door{scenario: s, controls: controls, follow: newFollowers(), open: true, maxWait: MaxWait}
	for _, t := range s.Tenants {
		if t.Arrival != scenarios.FromClients {
			continue
		}
		if d.firstTenant == "" {
			d.firstTenant = t.Name
		}
		if len(t.APIKeys) > 0 {
			d.open = false
		}
	}
	if d.firstTenant == "" {
		return nil, errors.New("scenario " + s.Name + " has no tenant for gateway clients; add a [[scenario.tenant]] with arrival = \"gateway\"")
	}
	d.handler = d.routes()
	return d, nil
}

// Handle takes the engine's events: it is the door's engine.Sink.
func (d *Door) Handle(ev engine.Event) { d.follow.Handle(ev) }

// Handler serves the doors.
func (d *Door) Handler() http.Handler { return d.handler }

func (d *Door) routes() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"/v1", ""} {
		mux.HandleFunc("POST "+prefix+"/chat/completions", d.chatCompletions)
		mux.HandleFunc("GET "+prefix+"/models", d.models)
	}
	d.bedrockRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		openAIError(w, http.StatusNotFound, "invalid_request_error", "unknown_url",
			"Spillway's gateway serves POST /v1/chat/completions, GET /v1/models and Bedrock Runtime's POST /model/{id}/converse, converse-stream, invoke and invoke-with-response-stream; "+r.Method+" "+r.URL.Path+" is not one of them")
	})
	return mux
}

// Server is an http.Server for h, the doors, with the limits a server
// facing strangers needs: slow clients are cut off, headers are bounded.
func Server(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// tenantOf is the tenant an OpenAI request is sent as, from its API key or
// the x-spillway-tenant header; ok is false for a key no tenant has.
func (d *Door) tenantOf(r *http.Request) (string, bool) {
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if key == "" {
		key = r.Header.Get("x-api-key")
	}
	return d.tenantFor(strings.TrimSpace(key), r)
}

// tenantFor is the tenant of key, which a door read from the request its
// own way.
func (d *Door) tenantFor(key string, r *http.Request) (string, bool) {
	if name, ok := d.scenario.TenantOfKey(key); ok {
		return name, true
	}
	if !d.open {
		return "", false
	}
	name := r.Header.Get("x-spillway-tenant")
	if name == "" {
		return d.firstTenant, true
	}
	for _, t := range d.scenario.Tenants {
		if t.Name == name && t.Arrival == scenarios.FromClients {
			return name, true
		}
	}
	return "", false // no such gateway tenant: refused like an unknown key
}

// ask sends a request into the engine, to be followed by its story. A nil
// story means the engine refused it at once, with err saying why.
func (d *Door) ask(a engine.Arrive) (*story, error) {
	a.Ticket = d.tickets.Add(1)
	s, ok := d.follow.follow(a.Ticket)
	if !ok {
		return nil, engine.ErrRunOver
	}
	if a.Stream {
		s.feed = newTextFeed()
		a.Text = s.feed.add
	}
	if err := d.controls.Send(a); err != nil {
		d.follow.forget(s)
		return nil, err
	}
	return s, nil
}

// wait waits for s to end, or for its first token when stream is true.
// It reports false when the client went away or the wait ran out.
func (d *Door) wait(ctx context.Context, s *story, stream bool) (firstToken bool, ok bool) {
	timer := time.NewTimer(d.maxWait)
	defer timer.Stop()
	var first <-chan struct{}
	if stream {
		first = s.first
	}
	select {
	case <-s.done:
		return false, true
	case <-first:
		return true, true
	case <-ctx.Done():
	case <-timer.C:
	}
	d.giveUp(ctx, s)
	return false, false
}

// giveUp stops following s, whose answer will not be written: its client
// went away, or the wait ran out. A client that went away hangs up, and
// the engine cancels its request, and the call in flight, rather than
// spend a deployment's budget on an answer nobody reads; over already,
// the hang-up changes nothing.
func (d *Door) giveUp(ctx context.Context, s *story) {
	if ctx.Err() != nil {
		d.controls.Send(engine.Hangup{Ticket: s.ticket})
	}
	d.follow.forget(s)
}

// streamText waits for s to end, writing its text as it comes: piece by
// piece from a network backend as Bedrock streams it, or, from an
// instant backend whose answer comes whole, in word-sized pieces at the
// end. ok is false when the client went away or the wait ran out.
func (d *Door) streamText(ctx context.Context, s *story, write func(piece string)) (ok bool) {
	if s.feed == nil {
		s.feed = newTextFeed() // asked for whole: nothing will come through it
	}
	timer := time.NewTimer(d.maxWait)
	defer timer.Stop()
	for {
		select {
		case <-s.feed.ready:
			for _, piece := range s.feed.take() {
				write(piece)
			}
			continue
		case <-s.done:
		case <-ctx.Done():
			d.giveUp(ctx, s)
			return false
		case <-timer.C:
			d.giveUp(ctx, s)
			return false
		}
		break
	}
	for _, piece := range s.feed.take() {
		write(piece)
	}
	if s.final.Kind == engine.Succeeded {
		for _, piece := range s.feed.rest(s.final.Text) {
			write(piece)
		}
	}
	return true
}

// Switch serves the doors of whichever run is current, so that the
// dashboard can start another run (a re-run, another scenario) behind the
// same address. Until the first run's doors are set it answers 503.
type Switch struct{ door atomic.Pointer[Door] }

// Set makes d the doors served from now on.
func (s *Switch) Set(d *Door) { s.door.Store(d) }

// ServeHTTP hands the request to the current doors.
func (s *Switch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := s.door.Load()
	if d == nil {
		openAIError(w, http.StatusServiceUnavailable, "api_error", "gateway_starting", "The gateway's run is starting; try again in a moment.")
		return
	}
	d.Handler().ServeHTTP(w, r)
}
