// Package compare sets two recorded runs side by side: what was set up
// differently (scenario, seed, speed, backend, starting limits, limits
// retuned live, faults, interruptions) and how the outcomes moved, for the
// whole run and per tenant, deployment, account and Region, as A, B and
// B − A.
//
// It reads only what a record keeps: the per-request outcomes and, for the
// Region split, the summary's counts from the invocation logs. It never
// needs the event timeline, so records exported without one compare too.
// The figures are taken the way the record's summary takes them (the same
// percentile sketch, the same rounding of rates), so a comparison agrees
// with what each run printed when it ended.
//
// Runs builds the Comparison; WriteText lays it out for a terminal, and it
// encodes as JSON for a pipeline. Check evaluates a --fail-if expression
// against it.
package compare

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"spillway/engine"
	"spillway/engine/record"
)

// Comparison is two runs side by side. Its JSON form is what
// "spillway compare --json" writes.
type Comparison struct {
	// A and B say which run is which: A is the first file given, B the
	// second, and every delta is B − A.
	A Run `json:"a"`
	B Run `json:"b"`
	// DifferentScenarios is set when the runs are not of the same
	// scenario: their numbers then measure different experiments.
	DifferentScenarios bool `json:"different_scenarios"`
	// Differences are what was set up or happened differently, worded as
	// the text output words them; empty when the runs were alike.
	Differences []Difference `json:"differences"`
	// Overall is the whole run.
	Overall Row `json:"overall"`
	// Tenants, Deployments and Accounts break the runs down, in the
	// scenario's order where the records give it, then by name.
	Tenants     []Row `json:"tenants"`
	Deployments []Row `json:"deployments"`
	Accounts    []Row `json:"accounts"`
	// Regions are the invocations each Region served, from the invocation
	// logs, summed over the accounts.
	Regions []RegionRow `json:"regions"`
	// Limits are, when either run was a fleet of replicas, what each
	// limit let through in its busiest minute, beside the limit (the
	// records' summary.fleet); absent otherwise.
	Limits []LimitRow `json:"limits,omitempty"`
	// Notes say where the numbers are incomplete, such as invocation logs
	// that had not caught up when a run ended.
	Notes []string `json:"notes"`
}

// Run identifies one of the two records.
type Run struct {
	Path     string `json:"path"`
	Scenario string `json:"scenario"`
	Title    string `json:"title"`
	// Backend is simulated, endpoint or aws.
	Backend string `json:"backend"`
	Seed    uint64 `json:"seed"`
	// Speed is simulated seconds per wall second, or "max".
	Speed      Speed     `json:"speed"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	// Interrupted is set when the run was stopped before its end.
	Interrupted bool `json:"interrupted"`
	// InProgress is set when the record was exported while the run went
	// on.
	InProgress bool `json:"in_progress"`
}

// Speed is a run's pace; +Inf is "max", as the export writes it.
type Speed float64

// MarshalJSON writes a number, or "max".
func (s Speed) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(s), 1) {
		return []byte(`"max"`), nil
	}
	if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(s), 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Speed) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"max"`:
		*s = Speed(math.Inf(1))
		return nil
	case "null":
		*s = Speed(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("speed: want a number or \"max\", got %s", b)
	}
	*s = Speed(v)
	return nil
}

func (s Speed) String() string { return engine.SpeedText(float64(s)) }

// Row is one scope in both runs.
type Row struct {
	// Name is the tenant, deployment or account; empty for the whole run.
	Name string `json:"name"`
	// InA and InB say whether the scope appears in each run at all; a
	// scope only one run has is still listed, with zeros for the other.
	InA bool    `json:"in_a"`
	InB bool    `json:"in_b"`
	A   Metrics `json:"a"`
	B   Metrics `json:"b"`
	// Delta is B − A; see Metrics for the rates and percentiles a run
	// cannot have.
	Delta Metrics `json:"delta"`
}

// RegionRow is one Region's invocations in both runs, from the invocation
// logs.
type RegionRow struct {
	Region string        `json:"region"`
	A      RegionMetrics `json:"a"`
	B      RegionMetrics `json:"b"`
	// Delta is B − A; its share is 0 when a run logged nothing, as with
	// Metrics.
	Delta RegionMetrics `json:"delta"`
}

// LimitRow is one limit in runs as replicas: A's and B's busiest minute;
// nil for a run that was not a fleet or had no such limit.
type LimitRow struct {
	Bucket string        `json:"bucket"`
	Unit   string        `json:"unit"`
	A      *FleetFigures `json:"a"`
	B      *FleetFigures `json:"b"`
}

// FleetFigures are a limit's figures in one run as replicas.
type FleetFigures struct {
	Limit         int     `json:"limit"`
	BusiestMinute int     `json:"busiest_minute"`
	TimesLimit    float64 `json:"times_limit"`
}

// limitRows pairs the limits of two runs' fleets, A's order first.
func limitRows(a, b *record.Fleet) []LimitRow {
	var rows []LimitRow
	index := map[string]int{}
	add := func(f *record.Fleet, set func(*LimitRow, *FleetFigures)) {
		if f == nil {
			return
		}
		for _, bk := range f.Buckets {
			i, ok := index[bk.Bucket]
			if !ok {
				i = len(rows)
				index[bk.Bucket] = i
				rows = append(rows, LimitRow{Bucket: bk.Bucket, Unit: bk.Unit})
			}
			set(&rows[i], &FleetFigures{Limit: bk.Limit, BusiestMinute: bk.BusiestMinute, TimesLimit: bk.TimesLimit})
		}
	}
	add(a, func(r *LimitRow, f *FleetFigures) { r.A = f })
	add(b, func(r *LimitRow, f *FleetFigures) { r.B = f })
	return rows
}

// RegionMetrics is a Region's part of a run's logged invocations.
type RegionMetrics struct {
	Invocations int `json:"invocations"`
	// Share is Invocations as a percentage of the run's logged
	// invocations, to 0.1.
	Share float64 `json:"share"`
}

// Runs compares run a with run b. Either may be empty (no requests, no
// buckets, no Region counts); nothing in a record makes it fail.
func Runs(a, b *record.Loaded) *Comparison {
	if a == nil {
		a = &record.Loaded{}
	}
	if b == nil {
		b = &record.Loaded{}
	}
	fa, fb := measure(a), measure(b)
	// A tenant or deployment the run set up counts in it, with zeros if
	// nothing went through it: "only in A" is for what B does not have.
	fa.include(a)
	fb.include(b)
	c := &Comparison{
		A:                  runOf(a),
		B:                  runOf(b),
		DifferentScenarios: a.Scenario != b.Scenario,
		Differences:        differences(a, b),
		Overall:            Row{InA: true, InB: true, A: fa.overall, B: fb.overall, Delta: delta(fa.overall, fb.overall)},
		Tenants:            rows(fa.tenants, fb.tenants, order(engine.TenantBucket, a, b)),
		Deployments:        rows(fa.deployments, fb.deployments, order(engine.DeploymentBucket, a, b)),
		Accounts:           rows(fa.accounts, fb.accounts, nil),
		Regions:            regionRows(a.Summary.Regions, b.Summary.Regions),
		Limits:             limitRows(a.Summary.Fleet, b.Summary.Fleet),
		Notes:              append(logNotes("A", a), logNotes("B", b)...),
	}
	if c.Differences == nil {
		c.Differences = []Difference{}
	}
	if c.Notes == nil {
		c.Notes = []string{}
	}
	return c
}

func runOf(l *record.Loaded) Run {
	return Run{Path: l.Path, Scenario: l.Scenario, Title: l.Title, Backend: l.Backend, Seed: l.Seed, Speed: Speed(l.Speed),
		StartedAt: l.StartedAt, DurationMS: float64(l.Duration) / 1e6, Interrupted: l.Interrupted, InProgress: l.InProgress}
}

// figures are one run's metrics, whole and broken down.
type figures struct {
	overall                        Metrics
	tenants, deployments, accounts map[string]Metrics
}

// measure takes one run's figures in a single pass over its requests.
func measure(l *record.Loaded) figures {
	overall := newTally()
	tenants, deployments, accounts := map[string]*tally{}, map[string]*tally{}, map[string]*tally{}
	for i := range l.Requests {
		q := &l.Requests[i]
		tallies := [4]*tally{overall, scope(tenants, q.Tenant), scope(deployments, q.Deployment), scope(accounts, q.Account)}
		for _, t := range tallies {
			t.addRequest(q)
		}
		for j := range q.Attempts {
			at := &q.Attempts[j]
			if at.Outcome != record.OutcomeThrottled && at.Outcome != record.OutcomeSkipped {
				continue
			}
			// The attempt counts where it was routed, which is not
			// where the request ended.
			for _, t := range [4]*tally{overall, tallies[1], scope(deployments, at.Deployment), scope(accounts, at.Account)} {
				t.addAttempt(at)
			}
		}
	}
	succeeded := overall.m.Succeeded
	finish := func(tallies map[string]*tally) map[string]Metrics {
		out := make(map[string]Metrics, len(tallies))
		for name, t := range tallies {
			if name != "" {
				out[name] = t.metrics(succeeded)
			}
		}
		return out
	}
	return figures{overall: overall.metrics(succeeded), tenants: finish(tenants), deployments: finish(deployments), accounts: finish(accounts)}
}

// include adds the tenants and deployments l sets up that no request
// reached, with zero figures.
func (f *figures) include(l *record.Loaded) {
	for _, b := range l.Buckets {
		if b.ID.Tokens() {
			continue
		}
		if name, ok := strings.CutPrefix(string(b.ID), engine.TenantBucket); ok {
			if _, seen := f.tenants[name]; !seen {
				f.tenants[name] = Metrics{}
			}
		}
		if name, ok := strings.CutPrefix(string(b.ID), engine.DeploymentBucket); ok {
			if _, seen := f.deployments[name]; !seen {
				f.deployments[name] = Metrics{}
			}
		}
	}
}

// scope is the tally for name, made on first use. Requests without a name
// in this breakdown (refused before reaching a deployment) gather under ""
// and are dropped when the tallies are finished.
func scope(tallies map[string]*tally, name string) *tally {
	t := tallies[name]
	if t == nil {
		t = newTally()
		tallies[name] = t
	}
	return t
}

// rows pairs a breakdown's scopes across the runs: first in the order
// given, then the rest by name.
func rows(a, b map[string]Metrics, first []string) []Row {
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, name := range first {
		_, inA := a[name]
		_, inB := b[name]
		if inA || inB {
			add(name)
		}
	}
	var rest []string
	for _, m := range []map[string]Metrics{a, b} {
		for name := range m {
			if !seen[name] && !slices.Contains(rest, name) {
				rest = append(rest, name)
			}
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		add(name)
	}
	out := make([]Row, 0, len(names))
	for _, name := range names {
		ma, inA := a[name]
		mb, inB := b[name]
		out = append(out, Row{Name: name, InA: inA, InB: inB, A: ma, B: mb, Delta: delta(ma, mb)})
	}
	return out
}

// order is the names of the buckets with prefix, A's then B's, which is
// the order the scenario declares its tenants or deployments in.
func order(prefix string, runs ...*record.Loaded) []string {
	var names []string
	for _, l := range runs {
		for _, b := range l.Buckets {
			name, ok := strings.CutPrefix(string(b.ID), prefix)
			if ok && !b.ID.Tokens() && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}

// regionRows pairs the Regions of the two runs' invocation logs.
func regionRows(a, b map[string]map[string]int) []RegionRow {
	ca, ta := regionTotals(a)
	cb, tb := regionTotals(b)
	var names []string
	for _, m := range []map[string]int{ca, cb} {
		for name := range m {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	out := make([]RegionRow, 0, len(names))
	for _, name := range names {
		ra := RegionMetrics{Invocations: ca[name], Share: percent(ca[name], ta)}
		rb := RegionMetrics{Invocations: cb[name], Share: percent(cb[name], tb)}
		d := RegionMetrics{Invocations: rb.Invocations - ra.Invocations}
		if ta > 0 && tb > 0 {
			// As with Metrics: no share change where a run logged nothing.
			d.Share = tenth(rb.Share - ra.Share)
		}
		out = append(out, RegionRow{Region: name, A: ra, B: rb, Delta: d})
	}
	return out
}

// regionTotals sums the per-account Region counts.
func regionTotals(byAccount map[string]map[string]int) (counts map[string]int, total int) {
	counts = map[string]int{}
	for _, regions := range byAccount {
		for region, n := range regions {
			counts[region] += n
			total += n
		}
	}
	return counts, total
}
