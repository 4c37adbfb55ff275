package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"spillway/scenarios"
)

// logPoller reads each account's Region histogram from the invocation logs
// every poll_every while requests run, and afterwards until the logs
// account for every success or the scenario's log timeout passes.
type logPoller struct {
	source      LogSource
	scenario    *scenarios.Scenario
	deployments []*deployment
	start       time.Time
	polls       int // made so far, at most scenarios.MaxLogPolls
	polling     bool
	inbox       chan []*RegionPoll // histograms read by a slow log source
	ended       <-chan struct{}
}

// progress is how far the requests have got, as the poller needs to know
// when the logs have caught up.
type progress struct {
	done       bool // every request has arrived and finished
	lastFinish time.Time
	ran        map[string]int // account → calls that ran: answers, and streams that broke after their first token
}

// finalPollTimeout bounds the last log query after an interrupt, so that
// Ctrl-C never waits long on a slow Logs endpoint.
const finalPollTimeout = 5 * time.Second

func (p *logPoller) begin(tl timeline, start time.Time) {
	p.start = start
	p.polling = true
	p.inbox = make(chan []*RegionPoll)
	tl.schedule(item{at: start.Add(p.scenario.Logs.PollEvery), kind: poll})
}

// poll reads every account's histogram up to at. A slow log source is read
// from its own goroutine, and its answer comes back through inbox; the
// last poll of an interrupted run waits for its answer, briefly.
func (p *logPoller) poll(ctx context.Context, tl timeline, at time.Time, pr progress, last bool) {
	p.polls++
	if last {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalPollTimeout)
		defer cancel()
		p.publish(tl, at, p.query(ctx, at), pr, true)
		return
	}
	if p.source.Instant() {
		p.publish(tl, at, p.query(ctx, at), pr, false)
		return
	}
	inbox, ended := p.inbox, p.ended
	go func() {
		polls := p.querySafely(ctx, at)
		select {
		case inbox <- polls:
		case <-ended:
		}
	}()
}

// querySafely is query on a goroutine of its own, where a panic in the log
// source would take the whole process down: it becomes a failed poll.
func (p *logPoller) querySafely(ctx context.Context, at time.Time) (polls []*RegionPoll) {
	defer func() {
		if r := recover(); r != nil {
			polls = []*RegionPoll{{Account: p.scenario.Accounts[0].Name,
				Error: fmt.Sprintf("the log source failed inside Spillway (%v); this is a bug, please report it", r)}}
		}
	}()
	return p.query(ctx, at)
}

// query asks the log source for each account's histogram up to at.
func (p *logPoller) query(ctx context.Context, at time.Time) []*RegionPoll {
	var polls []*RegionPoll
	for _, acct := range p.scenario.Accounts {
		models := p.modelsOf(acct.Name)
		if len(models) == 0 {
			continue
		}
		poll := &RegionPoll{Account: acct.Name}
		counts, err := p.source.RegionCounts(ctx, LogQuery{
			Account:  acct.Name,
			LogGroup: p.scenario.Logs.Group,
			Models:   models,
			From:     p.start.Add(-time.Minute),
			To:       at,
			Since:    p.start,
		})
		if err != nil {
			poll.Error = err.Error()
		}
		poll.Counts = counts
		polls = append(polls, poll)
	}
	return polls
}

// publish emits one round of histograms and decides whether to poll again.
func (p *logPoller) publish(tl timeline, at time.Time, polls []*RegionPoll, pr progress, last bool) {
	done := pr.done || last
	settled := true
	for _, poll := range polls {
		poll.Unaccounted = max(0, pr.ran[poll.Account]-poll.Total())
		if poll.Unaccounted > 0 && poll.Error == "" {
			settled = false
		}
	}
	// The file's check keeps a run's planned polls under the cap; a run
	// that outlasts its plan stops there rather than query without end.
	capped := p.polls >= scenarios.MaxLogPolls
	timedOut := !settled && (capped || done && at.Sub(pr.lastFinish) >= p.scenario.Logs.Timeout)
	final := capped || done && (settled || timedOut || last)
	for _, poll := range polls {
		poll.Final, poll.TimedOut = final, timedOut
		tl.emit(at, Event{Kind: RegionsPolled, Account: poll.Account, Regions: poll})
	}
	if final {
		p.polling = false
		return
	}
	tl.schedule(item{at: at.Add(p.scenario.Logs.PollEvery), kind: poll})
}

func (p *logPoller) modelsOf(account string) []string {
	var models []string
	for _, d := range p.deployments {
		if d.account.Name == account && !slices.Contains(models, d.spec.Model) {
			models = append(models, d.spec.Model)
		}
	}
	return models
}
