package report

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"spillway/engine/record"
)

// runInfo is one run as the page introduces it: its label (A or B when
// there are two), its file, and what the header and the configuration
// section show.
type runInfo struct {
	Label  string // "A" or "B"; "" for a report of one run
	File   string // the record's base name
	Record *record.Loaded
}

// Heading names the run where two are shown: "A — before.json".
func (r *runInfo) Heading() string {
	if r.Label == "" {
		return r.File
	}
	return r.Label + " — " + r.File
}

// metaRows describe a run: what ran, where, how fast and when.
func metaRows(l *record.Loaded) []tableRow {
	one := func(k, v string) tableRow { return tableRow{k, []string{v}} }
	return []tableRow{
		one("scenario", orDash(l.Scenario)),
		one("title", orDash(l.Title)),
		one("backend", backend(l)),
		one("replicas", l.Summary.Fleet.Describe()),
		one("seed", strconv.FormatUint(l.Seed, 10)),
		one("speed", speed(l.Speed)),
		one("recorded", recorded(l)),
		one("duration", clock(float64(l.Duration)/float64(time.Millisecond))),
		one("requests", fmt.Sprintf("%s sent of %s planned", count(l.Summary.Requests), count(l.Summary.Planned))),
		one("state", state(l)),
	}
}

// grid is a plain table of the configuration: a heading per column.
type grid struct {
	Head []string
	Rows [][]string
}

// Buckets are the run's rate limits as its export lists them.
func (r *runInfo) Buckets() grid {
	g := grid{Head: []string{"bucket", "semantic", "limit", "counting"}}
	for _, b := range r.Record.Buckets {
		g.Rows = append(g.Rows, bucketRow(b))
	}
	return g
}

// bucketRow is a bucket as the configuration lists it: id, semantic,
// limit with its unit, and how a TPM bucket counts.
func bucketRow(b record.BucketSpec) []string {
	unit := "RPM"
	if b.ID.Tokens() {
		unit = "TPM"
	}
	limit := b.Limit.String()
	if !b.Limit.IsUnlimited() {
		limit += " " + unit
	}
	return []string{string(b.ID), orDash(string(b.Semantic)), limit, orDash(string(b.Counting))}
}

// Faults are the faults the fleet showed, with when.
func (r *runInfo) Faults() grid {
	g := grid{Head: []string{"fault", "from", "to", "how"}}
	for _, f := range r.Record.Faults {
		end := "still on at the end"
		if f.EndMS > 0 {
			end = clock(f.EndMS)
		}
		how := "declared"
		if f.Live {
			how = "started live"
		}
		g.Rows = append(g.Rows, []string{f.Fault, clock(f.StartMS), end, how})
	}
	return g
}

// Limits are the limits changed while the run went on.
func (r *runInfo) Limits() grid {
	g := grid{Head: []string{"at", "bucket", "new limit"}}
	for _, c := range r.Record.RPMChanges {
		g.Rows = append(g.Rows, []string{clock(c.AtMS), c.Bucket, limitText(c)})
	}
	return g
}

// Controls are the pauses, speed and rate changes made during the run.
func (r *runInfo) Controls() grid {
	g := grid{Head: []string{"at", "control", "detail"}}
	for _, c := range r.Record.Controls {
		detail := ""
		switch {
		case len(c.Speed) > 0:
			detail = "speed " + strings.Trim(string(c.Speed), `"`)
		case c.Tenant != "":
			detail = fmt.Sprintf("%s at %s per minute", c.Tenant, decimal(c.Rate))
		case c.Message != "":
			detail = strings.TrimSpace(c.Bucket + " " + c.Message)
		}
		g.Rows = append(g.Rows, []string{clock(c.AtMS), strings.ReplaceAll(c.Kind, "_", " "), detail})
	}
	return g
}

// limitText is a limit change as a mark on a chart says it: "→ 20 RPM".
func limitText(c record.RPMChange) string {
	unit := "RPM"
	if c.Unit == "tokens" {
		unit = "TPM"
	}
	if c.RPM.IsUnlimited() {
		return "→ unlimited"
	}
	return "→ " + c.RPM.String() + " " + unit
}

func backend(l *record.Loaded) string {
	b := orDash(l.Backend)
	if l.Endpoint != "" {
		b += " (" + l.Endpoint + ")"
	}
	return b
}

func speed(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "max (as fast as possible)"
	case v == 1:
		return "1× (real time)"
	}
	return strconv.FormatFloat(v, 'g', -1, 64) + "×"
}

// recorded is when the run started, in the zone the record gives, with its
// offset, so that a reader elsewhere can tell.
func recorded(l *record.Loaded) string {
	if l.StartedAt.IsZero() {
		return missing
	}
	return l.StartedAt.Format("2006-01-02 15:04:05 -07:00")
}

func state(l *record.Loaded) string {
	switch {
	case l.InProgress:
		return "exported while the run went on"
	case l.Interrupted:
		return "interrupted"
	}
	return "complete"
}

// clock writes a time since the run started: "42.5s", "3m05s", "1h02m03s".
func clock(ms float64) string {
	if math.IsNaN(ms) || math.IsInf(ms, 0) {
		return missing
	}
	d := time.Duration(math.Round(ms/100)) * 100 * time.Millisecond
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), (d % time.Minute).Seconds()
	sec := strconv.FormatFloat(s, 'f', -1, 64)
	if s < 10 {
		sec = "0" + sec
	}
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%ss", h, m, sec)
	}
	return fmt.Sprintf("%dm%ss", m, sec)
}

func orDash(s string) string {
	if s == "" {
		return missing
	}
	return s
}

// newRuns labels the records: A and B when there are two.
func newRuns(records []*record.Loaded) []*runInfo {
	runs := make([]*runInfo, len(records))
	for i, l := range records {
		r := &runInfo{File: filepath.Base(l.Path), Record: l}
		if l.Path == "" {
			r.File = "record"
		}
		if len(records) > 1 {
			r.Label = string(rune('A' + i))
		}
		runs[i] = r
	}
	return runs
}
