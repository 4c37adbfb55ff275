// Package plain is Spillway's headless output: one line per finished
// request as the run goes, in the style of AWS's demo scripts, then the
// pattern's summary tables. It is what runs without a terminal, and what a
// presenter pastes into a slide.
package plain

import (
	"fmt"
	"io"
	"strings"
	"time"

	"spillway/engine"
	"spillway/scenarios"
)

// Printer writes a run's progress as it happens. It is an engine.Sink.
type Printer struct {
	w        io.Writer
	scenario *scenarios.Scenario
	backend  string
	start    time.Time
	fallback bool // whether any request can fall back, so PRIMARY and FALLBACK mean something
	done     int
	planned  int
	logSeen  map[string]int // account → invocations the last printed poll showed
	// why is, per request still going, why it moved on from its first
	// group: the bucket it found full, the throttle, the broken stream.
	why map[int]string
}

// New returns a printer for a run of s. backend labels the header so a
// simulated run is never mistaken for a live one.
func New(w io.Writer, s *scenarios.Scenario, backend string) *Printer {
	p := &Printer{w: w, scenario: s, backend: backend, logSeen: map[string]int{}, why: map[int]string{}}
	for _, t := range s.Tenants {
		p.fallback = p.fallback || len(s.Chain(t.Group)) > 1
	}
	return p
}

// Handle prints what a person watching the run wants to see of ev.
func (p *Printer) Handle(ev engine.Event) {
	switch ev.Kind {
	case engine.RunStarted:
		p.start, p.planned = ev.Info.Start, ev.Info.Planned
		p.header(ev.Info)
	case engine.Skipped:
		if ev.Reason == engine.SkipBudget && p.why[ev.Request] == "" {
			p.why[ev.Request] = ev.Message
		}
	case engine.FellBack:
		if ev.Code != "" || p.why[ev.Request] == "" {
			p.why[ev.Request] = ev.Message
		}
	case engine.Succeeded, engine.Failed, engine.RateLimited, engine.Cancelled:
		p.done++
		p.request(ev)
		delete(p.why, ev.Request)
	case engine.RPMChanged:
		fmt.Fprintf(p.w, "%s %s retuned to %s %s\n", p.stamp(ev.At), ev.Bucket, ev.RPM, ev.Bucket.PerMinute())
	case engine.FaultStarted:
		fmt.Fprintf(p.w, "%s FAULT: %s starts\n", p.stamp(ev.At), ev.Fault.Fault)
	case engine.SharedLimitsChanged:
		fmt.Fprintf(p.w, "%s SHARED LIMITS: %s\n", p.stamp(ev.At), ev.Message)
	case engine.FaultEnded:
		fmt.Fprintf(p.w, "%s FAULT: %s ends\n", p.stamp(ev.At), ev.Fault.Fault)
	case engine.Paused:
		fmt.Fprintf(p.w, "%s Paused\n", p.stamp(ev.At))
	case engine.Resumed:
		fmt.Fprintf(p.w, "%s Resumed\n", p.stamp(ev.At))
	case engine.RateChanged:
		fmt.Fprintf(p.w, "%s Tenant %s now sends %g requests a minute\n", p.stamp(ev.At), ev.Tenant, ev.Rate)
	case engine.SpeedChanged:
		fmt.Fprintf(p.w, "%s Speed %s\n", p.stamp(ev.At), engine.SpeedText(ev.Speed))
	case engine.RegionsPolled:
		p.poll(ev)
	case engine.RunEnded:
		switch {
		case ev.Interrupted && p.scenario.ServesClients():
			// A gateway serves until it is stopped: that is its end.
			requests := "requests"
			if p.done == 1 {
				requests = "request"
			}
			fmt.Fprintf(p.w, "%s Gateway stopped after %d %s from clients.\n", p.stamp(ev.At), p.done, requests)
		case ev.Interrupted:
			fmt.Fprintf(p.w, "%s Interrupted: stopped sending after %d of %d requests. Summary so far:\n",
				p.stamp(ev.At), p.done, p.planned)
		}
	}
}

func (p *Printer) header(info *engine.RunInfo) {
	s := p.scenario
	fmt.Fprintf(p.w, "Spillway · %s — %s\n", s.Name, s.Title)
	fmt.Fprintf(p.w, "  backend  %s\n", p.backend)
	requests := fmt.Sprintf("%d requests", info.Planned)
	if s.ServesClients() {
		requests = "requests from gateway clients"
	}
	fmt.Fprintf(p.w, "  run      seed %d · speed %s · %s\n", info.Seed, engine.SpeedText(info.Speed), requests)
	var buckets []string
	for _, b := range info.Buckets {
		buckets = append(buckets, fmt.Sprintf("%s %s", b.ID, describeLimit(b)))
	}
	fmt.Fprintf(p.w, "  buckets  %s\n", strings.Join(buckets, " · "))
	if f := info.Fleet; f != nil {
		how := "each counting every limit on its own: the fleet has each limit once per replica"
		if f.Limits == scenarios.ReplicaLimitsShared {
			how = "sharing every limit, in " + f.Where + ": the fleet has each limit once"
		}
		fmt.Fprintf(p.w, "  replicas %d, each tenant's requests handed to them in turn, %s\n", f.Replicas, how)
	}
	if s.Description != "" {
		fmt.Fprintln(p.w)
		for _, line := range strings.Split(s.Description, "\n") {
			fmt.Fprintf(p.w, "  %s\n", line)
		}
	}
	fmt.Fprintln(p.w)
}

// describeLimit is a bucket's limit with how it counts: "20 RPM
// fixed-window", or "20000 TPM token-bucket reserve".
func describeLimit(b engine.BucketLevel) string {
	if b.RPM.IsUnlimited() {
		return "unlimited"
	}
	text := fmt.Sprintf("%s %s %s", b.RPM, b.ID.PerMinute(), b.Semantic)
	if b.Counting != "" {
		text += " " + string(b.Counting)
	}
	return text
}

func (p *Printer) stamp(at time.Duration) string {
	return "[" + p.start.Add(at).Format("15:04:05.000") + "]"
}

func (p *Printer) request(ev engine.Event) {
	who := fmt.Sprintf("Request #%2d", ev.Request)
	if len(p.scenario.Tenants) > 1 {
		who = fmt.Sprintf("%s | Req #%2d", ev.Tenant, ev.Request)
	}
	var what string
	switch ev.Kind {
	case engine.Succeeded:
		label := "SUCCESS"
		if p.fallback {
			label = "PRIMARY"
			if ev.Fallback {
				label = "FALLBACK!"
			}
		}
		what = fmt.Sprintf("%-9s %s %s", label, ev.Deployment, ev.Model)
		if ev.Region != "" {
			what += " | " + ev.Region
		}
		if ev.Fallback && p.why[ev.Request] != "" {
			defer func() { fmt.Fprintf(p.w, "    ↳ fell back: %s\n", p.why[ev.Request]) }()
		}
	case engine.RateLimited:
		what = "RATE LIMITED  " + ev.Message
	case engine.Failed:
		what = fmt.Sprintf("FAILED    %s %s: %s", ev.Deployment, ev.Code, ev.Message)
	case engine.Cancelled:
		what = "CANCELLED " + ev.Message
	}
	line := fmt.Sprintf("%s %s → %s | Time: %.2fs", p.stamp(ev.At), who, what, ev.Latency.Seconds())
	if ev.TTFT > 0 {
		// A streamed answer: when its first token came, and for one that
		// broke, how many tokens the client had seen.
		line += fmt.Sprintf(" | TTFT %.2fs", ev.TTFT.Seconds())
		if ev.Kind == engine.Failed {
			line += fmt.Sprintf(" | %d tokens streamed", ev.Streamed)
		}
	}
	fmt.Fprintln(p.w, line)
}

// changed reports whether an account's visible invocation count differs
// from the last one printed, and remembers it.
func (p *Printer) changed(account string, total int) bool {
	last, printed := p.logSeen[account]
	p.logSeen[account] = total
	return !printed || last != total
}

// poll prints log progress once every request has finished, which is when
// people are waiting for it, and only when the count moved.
func (p *Printer) poll(ev engine.Event) {
	r := ev.Regions
	if p.done < p.planned && !r.Final {
		return
	}
	switch {
	case r.Error != "":
		if r.Final {
			fmt.Fprintf(p.w, "%s Logs %s: %s\n", p.stamp(ev.At), r.Account, r.Error)
		}
	case r.Final && r.TimedOut:
		fmt.Fprintf(p.w, "%s Logs %s: gave up waiting; %d successful request(s) are not in the logs yet (raise logs.timeout to wait longer)\n",
			p.stamp(ev.At), r.Account, r.Unaccounted)
	case r.Unaccounted > 0 && p.changed(r.Account, r.Total()):
		fmt.Fprintf(p.w, "%s Waiting for invocation logs (%s): %d in, %d to go…\n",
			p.stamp(ev.At), r.Account, r.Total(), r.Unaccounted)
	}
}
