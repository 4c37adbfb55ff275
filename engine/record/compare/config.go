package compare

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"spillway/engine"
	"spillway/engine/record"
	"spillway/scenarios"
)

// Difference is one way the two runs were set up, or went, differently.
type Difference struct {
	// Kind is what differs: scenario, title, seed, speed, backend,
	// replicas (a run as a fleet, and how it counted its limits), bucket
	// (a starting limit), rpm_change (a limit retuned live), rate_change
	// (a tenant's rate changed live), fault, interrupted or in_progress.
	Kind string `json:"kind"`
	// Run is "a" or "b" when only that run had it (a live change, a
	// fault, an interruption); empty when the runs had different values.
	Run string `json:"run,omitempty"`
	// Text is the difference in words, as the text output prints it.
	Text string `json:"text"`
}

// Kinds of Difference.
const (
	KindScenario    = "scenario"
	KindTitle       = "title"
	KindSeed        = "seed"
	KindSpeed       = "speed"
	KindBackend     = "backend"
	KindReplicas    = "replicas"
	KindBucket      = "bucket"
	KindRPMChange   = "rpm_change"
	KindRateChange  = "rate_change"
	KindFault       = "fault"
	KindInterrupted = "interrupted"
	KindInProgress  = "in_progress"
)

// Prominent reports whether the difference changes what the comparison
// means, and so belongs above everything else: the runs are of different
// scenarios, or of a scenario that changed between them.
func (d Difference) Prominent() bool { return d.Kind == KindScenario || d.Kind == KindTitle }

// differences lists how a and b differ in set-up and course, most
// fundamental first.
func differences(a, b *record.Loaded) []Difference {
	var out []Difference
	add := func(kind, run, format string, args ...any) {
		out = append(out, Difference{Kind: kind, Run: run, Text: fmt.Sprintf(format, args...)})
	}
	switch {
	case a.Scenario != b.Scenario:
		add(KindScenario, "", "these runs are of different scenarios: %s vs %s", orNone(a.Scenario), orNone(b.Scenario))
	case a.Title != b.Title:
		add(KindTitle, "", "these runs are of scenario %s with different titles, %q vs %q: the scenario may have changed between them",
			orNone(a.Scenario), a.Title, b.Title)
	}
	if a.Seed != b.Seed {
		add(KindSeed, "", "seed: A %d, B %d", a.Seed, b.Seed)
	}
	// NaN is no speed; compared as text so that two NaNs are alike.
	if sa, sb := engine.SpeedText(a.Speed), engine.SpeedText(b.Speed); sa != sb {
		add(KindSpeed, "", "speed: A %s, B %s", sa, sb)
	}
	if a.Backend != b.Backend {
		add(KindBackend, "", "backend: A %s, B %s", orNone(a.Backend), orNone(b.Backend))
	}
	if fa, fb := a.Summary.Fleet.Describe(), b.Summary.Fleet.Describe(); fa != fb {
		add(KindReplicas, "", "replicas: A %s, B %s", fa, fb)
	}
	out = append(out, bucketDifferences(a.Buckets, b.Buckets)...)
	out = append(out, onlyInOne(KindRPMChange, rpmChanges(a), rpmChanges(b))...)
	out = append(out, onlyInOne(KindRateChange, rateChanges(a), rateChanges(b))...)
	out = append(out, onlyInOne(KindFault, faults(a), faults(b))...)
	for _, r := range []struct {
		run, name string
		l         *record.Loaded
	}{{"a", "A", a}, {"b", "B", b}} {
		at := clock(float64(r.l.Duration) / 1e6)
		if r.l.Interrupted {
			add(KindInterrupted, r.run, "%s was interrupted at %s: its figures cover the run up to then", r.name, at)
		}
		if r.l.InProgress {
			add(KindInProgress, r.run, "%s was exported while it was still running, at %s: requests still in flight count as sent, not as ended", r.name, at)
		}
	}
	return out
}

// bucketDifferences compares the limits the runs started with.
func bucketDifferences(a, b []record.BucketSpec) []Difference {
	var out []Difference
	add := func(format string, args ...any) {
		out = append(out, Difference{Kind: KindBucket, Text: fmt.Sprintf(format, args...)})
	}
	inB := make(map[engine.BucketID]record.BucketSpec, len(b))
	for _, s := range b {
		inB[s.ID] = s
	}
	inA := make(map[engine.BucketID]bool, len(a))
	for _, sa := range a {
		inA[sa.ID] = true
		sb, ok := inB[sa.ID]
		switch {
		case !ok:
			add("%s: A starts at %s, B has no such limit", sa.ID, limitText(sa.Limit, sa.ID.PerMinute()))
			continue
		case !sameLimit(sa.Limit, sb.Limit):
			add("%s starts at %s in A, %s in B", sa.ID, limitText(sa.Limit, sa.ID.PerMinute()), limitText(sb.Limit, sb.ID.PerMinute()))
		}
		if sa.Semantic != sb.Semantic {
			add("%s limiter: A %s, B %s", sa.ID, orNone(string(sa.Semantic)), orNone(string(sb.Semantic)))
		}
		if sa.Counting != sb.Counting {
			add("%s counts tokens: A %s, B %s", sa.ID, orNone(string(sa.Counting)), orNone(string(sb.Counting)))
		}
	}
	for _, sb := range b {
		if !inA[sb.ID] {
			add("%s: A has no such limit, B starts at %s", sb.ID, limitText(sb.Limit, sb.ID.PerMinute()))
		}
	}
	return out
}

// sameLimit compares limits, unlimited included, without NaN surprises.
func sameLimit(a, b scenarios.RPM) bool { return a == b || (a != a && b != b) }

// event is something a run did at a moment, with a key that matches the
// same thing in the other run and the words for it.
type event struct {
	key  string
	text string
}

// onlyInOne keeps what happened in only one run: a change both runs made
// at the same moment to the same value is no difference.
func onlyInOne(kind string, a, b []event) []Difference {
	unmatched := map[string]int{}
	for _, e := range b {
		unmatched[e.key]++
	}
	var out []Difference
	var inBoth []string
	for _, e := range a {
		if unmatched[e.key] > 0 {
			unmatched[e.key]--
			inBoth = append(inBoth, e.key)
			continue
		}
		out = append(out, Difference{Kind: kind, Run: "a", Text: "A: " + e.text})
	}
	matched := map[string]int{}
	for _, k := range inBoth {
		matched[k]++
	}
	for _, e := range b {
		if matched[e.key] > 0 {
			matched[e.key]--
			continue
		}
		out = append(out, Difference{Kind: kind, Run: "b", Text: "B: " + e.text})
	}
	return out
}

// rpmChanges words a run's live limit changes, each from the limit it
// replaced: the run's starting limit, walked forward through its changes.
func rpmChanges(l *record.Loaded) []event {
	current := map[string]scenarios.RPM{}
	for _, b := range l.Buckets {
		current[string(b.ID)] = b.Limit
	}
	out := make([]event, 0, len(l.RPMChanges))
	for _, c := range l.RPMChanges {
		unit := engine.BucketID(c.Bucket).PerMinute()
		if c.Unit == "tokens" {
			unit = "TPM"
		}
		from, known := current[c.Bucket]
		current[c.Bucket] = c.RPM
		var change string
		switch {
		case !known:
			change = "set to " + limitText(c.RPM, unit)
		case sameLimit(from, c.RPM):
			change = "set to " + limitText(c.RPM, unit) + ", as it was"
		case c.RPM > from:
			change = "raised " + number(from) + " → " + limitText(c.RPM, unit)
		default:
			change = "lowered " + number(from) + " → " + limitText(c.RPM, unit)
		}
		out = append(out, event{
			key:  fmt.Sprint(c.AtMS, "\x00", c.Bucket, "\x00", float64(c.RPM)),
			text: fmt.Sprintf("%s %s at %s", c.Bucket, change, clock(c.AtMS)),
		})
	}
	return out
}

// rateChanges words a run's live changes of a tenant's arrival rate.
func rateChanges(l *record.Loaded) []event {
	var out []event
	for _, c := range l.Controls {
		if c.Kind != engine.RateChanged.String() {
			continue
		}
		out = append(out, event{
			key:  fmt.Sprint(c.AtMS, "\x00", c.Tenant, "\x00", c.Rate),
			text: fmt.Sprintf("tenant %s's rate set to %s a minute at %s", c.Tenant, strconv.FormatFloat(c.Rate, 'g', 4, 64), clock(c.AtMS)),
		})
	}
	return out
}

// faults words a run's faults by their name, with when they held.
func faults(l *record.Loaded) []event {
	out := make([]event, 0, len(l.Faults))
	for _, f := range l.Faults {
		until := "to the end"
		if f.EndMS > 0 {
			until = "to " + clock(f.EndMS)
		}
		how := ""
		if f.Live {
			how = " (started live)"
		}
		out = append(out, event{
			key:  fmt.Sprint(f.Fault, "\x00", f.StartMS, "\x00", f.EndMS, "\x00", f.Live),
			text: fmt.Sprintf("fault %s from %s %s%s", f.Fault, clock(f.StartMS), until, how),
		})
	}
	return out
}

// logNotes says where a run's Region counts fall short.
func logNotes(name string, l *record.Loaded) []string {
	var out []string
	for _, account := range sortedKeys(l.Summary.Logs) {
		st := l.Summary.Logs[account]
		switch {
		case st.Error != "":
			out = append(out, fmt.Sprintf("%s: account %s's invocation logs could not be read (%s), so its Region counts are missing", name, account, st.Error))
		case st.Unaccounted > 0:
			out = append(out, fmt.Sprintf("%s: %d successful request(s) of account %s were not in the invocation logs yet, so its Region counts are short", name, st.Unaccounted, account))
		case st.TimedOut:
			out = append(out, fmt.Sprintf("%s: the invocation logs of account %s were still catching up when the run ended", name, account))
		}
	}
	return out
}

// limitText is a limit with its unit: "15 RPM", or "unlimited".
func limitText(limit scenarios.RPM, unit string) string {
	if limit.IsUnlimited() {
		return "unlimited"
	}
	return number(limit) + " " + unit
}

// number is a limit without its unit.
func number(limit scenarios.RPM) string {
	if limit.IsUnlimited() {
		return "unlimited"
	}
	return strconv.FormatFloat(float64(limit), 'f', -1, 64)
}

// clock is a moment of a run, from its start: 45.3s, 2m10s, 1h02m05s.
func clock(ms float64) string {
	if math.IsNaN(ms) || ms < 0 {
		ms = 0
	}
	// Clamped so that a stranger's absurd time cannot overflow.
	d := time.Duration(math.Min(ms, float64(math.MaxInt64/int64(time.Millisecond))) * float64(time.Millisecond))
	if tenths := d.Round(100 * time.Millisecond); tenths < time.Minute {
		return strconv.FormatFloat(tenths.Seconds(), 'f', 1, 64) + "s"
	}
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	}
	return fmt.Sprintf("%dm%02ds", m, s)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// sortedKeys are m's keys in order, for output that does not change from
// one invocation to the next.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
