package report

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"spillway/engine/record"
)

// Write renders the report of one run, or of two side by side (the first
// is A, the second B), to w as one HTML page.
func Write(w io.Writer, records ...*record.Loaded) error {
	if len(records) < 1 || len(records) > 2 {
		return fmt.Errorf("a report shows one run or two, not %d", len(records))
	}
	if slices.Contains(records, nil) {
		return errors.New("a report needs a loaded record, got none")
	}
	return pageTemplate.Execute(w, newPage(newRuns(records)))
}

// page is what the template renders.
type page struct {
	Title, Heading, Legend string
	Runs                   []*runInfo
	Meta                   table
	Notes                  []string // what a record lacks, from record.Load
	Tables                 []table
	Sections               []section
	Data                   pageData
	Licenses               []license
	CSS                    template.CSS
	ChartJS, AnnotationJS  template.JS
	ReportJS               template.JS
}

// section is a part of the page with charts, or notes that say why it has
// none.
type section struct {
	ID, Title, Intro string
	Notes            []string
	Charts           []chartSpec
}

// chartSpec is one chart: the page's script draws it from the data by its
// kind, into the canvas the template gives its ID.
type chartSpec struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`             // throughput, latency, fill, regions or lanes
	Bucket  string `json:"bucket,omitempty"` // fill: the bucket it shows
	Run     int    `json:"run"`              // lanes: the run it shows
	Title   string `json:"-"`
	Caption string `json:"-"`
}

// pageData is the JSON the page's script reads: aggregated already, so the
// script only draws.
type pageData struct {
	End       float64     `json:"end"`       // seconds: the end of every time axis
	RateBin   float64     `json:"rateBin"`   // seconds per throughput and latency bin
	SampleBin float64     `json:"sampleBin"` // seconds per fill and Region bin
	Runs      []runData   `json:"runs"`
	Charts    []chartSpec `json:"charts"`
}

// runData is one run's series.
type runData struct {
	Label      string            `json:"label"`
	File       string            `json:"file"`
	Faults     []band            `json:"faults"`
	Limits     []limitMark       `json:"limits"`
	Throughput []named           `json:"throughput"`
	Latency    []named           `json:"latency"`
	Fill       map[string]series `json:"fill"`
	Regions    []named           `json:"regions"`
	Lanes      *lanes            `json:"lanes"`
}

// band is a fault as a shaded box on a time axis, in seconds.
type band struct {
	Name  string  `json:"name"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// limitMark is a limit change as a vertical line on a bucket's fill chart.
type limitMark struct {
	At     float64 `json:"at"` // seconds
	Bucket string  `json:"bucket"`
	Text   string  `json:"text"`
}

func newPage(runs []*runInfo) *page {
	ax := newAxis(records(runs))
	p := &page{
		Runs:         runs,
		Meta:         sideBySide("", "", []string{"value"}, runs, metaRows),
		Tables:       summaryTables(runs),
		Licenses:     licenses,
		CSS:          template.CSS(reportCSS),
		ChartJS:      template.JS(chartJS),
		AnnotationJS: template.JS(annotationJS),
		ReportJS:     template.JS(reportJS),
		// Empty, not nil, slices: the script reads JSON arrays, never null.
		Data: pageData{End: ax.End, RateBin: ax.RateBin, SampleBin: ax.SampleBin, Runs: []runData{}, Charts: []chartSpec{}},
	}
	p.Meta.Words = true
	p.Title, p.Heading = titles(runs)
	if len(runs) > 1 {
		p.Legend = fmt.Sprintf("A = %s: solid lines, red fault bands. B = %s: dashed lines, blue fault bands.", runs[0].File, runs[1].File)
	}
	for _, r := range runs {
		for _, n := range r.Record.Partial {
			p.Notes = append(p.Notes, prefix(r, n))
		}
		p.Data.Runs = append(p.Data.Runs, newRunData(r, ax))
	}
	p.Sections = []section{
		rateSection(runs, p.Data.Runs, ax),
		fillSection(runs, p.Data.Runs, ax),
		regionSection(runs, p.Data.Runs, ax),
		laneSection(runs),
	}
	for _, s := range p.Sections {
		p.Data.Charts = append(p.Data.Charts, s.Charts...)
	}
	return p
}

func records(runs []*runInfo) []*record.Loaded {
	out := make([]*record.Loaded, len(runs))
	for i, r := range runs {
		out[i] = r.Record
	}
	return out
}

func titles(runs []*runInfo) (title, heading string) {
	name := func(r *runInfo) string {
		if r.Record.Scenario != "" {
			return r.Record.Scenario
		}
		return r.File
	}
	if len(runs) == 1 {
		heading = name(runs[0])
		if t := runs[0].Record.Title; t != "" {
			heading += ": " + t
		}
		return fmt.Sprintf("Spillway report: %s (%s)", name(runs[0]), runs[0].File), heading
	}
	a, b := name(runs[0]), name(runs[1])
	return fmt.Sprintf("Spillway report: %s vs %s", a, b), fmt.Sprintf("A: %s · B: %s", a, b)
}

// prefix puts a run's label before a note about it, when there are two.
func prefix(r *runInfo, note string) string {
	if r.Label == "" {
		return note
	}
	return r.Label + " (" + r.File + "): " + note
}

func newRunData(r *runInfo, ax axis) runData {
	l := r.Record
	d := runData{
		Label: r.Label, File: r.File,
		Faults: []band{}, Limits: []limitMark{}, Fill: map[string]series{},
		Throughput: orEmpty(throughput(l.Requests, ax)),
		Latency:    orEmpty(latency(l.Requests, ax)),
		Regions:    orEmpty(regionCounts(l.Events, ax)),
	}
	for _, f := range l.Faults {
		end := f.EndMS
		if end <= 0 {
			end = ax.End * 1000 // still on when the record was taken
		}
		d.Faults = append(d.Faults, band{Name: f.Fault, Start: f.StartMS / 1000, End: end / 1000})
	}
	for _, c := range l.RPMChanges {
		d.Limits = append(d.Limits, limitMark{At: c.AtMS / 1000, Bucket: c.Bucket, Text: limitText(c)})
	}
	for id, s := range fills(l.Events, ax) {
		d.Fill[string(id)] = s
	}
	end := runEnd(l)
	for _, s := range d.Throughput {
		cut(s.Values, ax.RateBin, end)
	}
	for _, s := range d.Regions {
		cut(s.Values, ax.SampleBin, end)
	}
	if len(l.Requests) > 0 {
		d.Lanes = newLanes(l.Requests)
	}
	return d
}

func orEmpty(s []named) []named {
	if s == nil {
		return []named{}
	}
	return s
}

// these names a note's subject: this record, or these records.
func these(runs []*runInfo) string {
	if len(runs) > 1 {
		return "these records"
	}
	return "this record"
}

func rateSection(runs []*runInfo, data []runData, ax axis) section {
	s := section{ID: "throughput", Title: "Throughput and latency",
		Intro: fmt.Sprintf("In %s bins of simulated time; shaded boxes are faults.", secondsText(ax.RateBin))}
	requests := 0
	for _, r := range runs {
		requests += len(r.Record.Requests)
		if len(r.Record.Requests) == 0 && len(runs) > 1 {
			s.Notes = append(s.Notes, prefix(r, "no requests in this record"))
		}
	}
	if requests == 0 {
		s.Notes = append(s.Notes, "no requests in "+these(runs)+", so there is no throughput or latency to show")
		return s
	}
	s.Charts = append(s.Charts, chartSpec{ID: "chart-throughput", Kind: "throughput", Title: "Throughput by outcome",
		Caption: fmt.Sprintf("Requests per minute by outcome, counted in the %s bin each request ended in.", secondsText(ax.RateBin))})
	if !slices.ContainsFunc(data, func(d runData) bool { return len(d.Latency) > 0 }) {
		s.Notes = append(s.Notes, "no request succeeded, so there is no latency to show")
		return s
	}
	s.Charts = append(s.Charts, chartSpec{ID: "chart-latency", Kind: "latency", Title: "Latency percentiles",
		Caption: fmt.Sprintf("End-to-end latency (ms) of the requests that succeeded, p50, p95 and p99 by the %s bin each request started in; in a bin of few requests p95 and p99 are often the same request.", secondsText(ax.RateBin))})
	return s
}

func fillSection(runs []*runInfo, data []runData, ax axis) section {
	s := section{ID: "fill", Title: "Bucket fill",
		Intro: "Each limited bucket's budget left, available ÷ capacity, from the levels the engine samples each simulated second; vertical lines are limit changes, shaded boxes faults."}
	if ax.SampleBin > 1 {
		s.Intro += fmt.Sprintf(" Each point is the lowest sample in its %s bin.", secondsText(ax.SampleBin))
	}
	levels := 0
	for _, r := range runs {
		if hasLevels(r.Record.Events) {
			levels++
		} else if len(runs) > 1 {
			s.Notes = append(s.Notes, prefix(r, "no bucket levels in this record"))
		}
	}
	if levels == 0 {
		s.Notes = []string{"no bucket levels in " + these(runs)}
		return s
	}
	var ids []string
	for _, r := range runs {
		for _, b := range r.Record.Buckets {
			if !slices.Contains(ids, string(b.ID)) {
				ids = append(ids, string(b.ID))
			}
		}
	}
	for _, d := range data {
		for _, id := range sortedKeys(d.Fill) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	for _, id := range ids {
		if !slices.ContainsFunc(data, func(d runData) bool { return d.Fill[id] != nil }) {
			continue
		}
		s.Charts = append(s.Charts, chartSpec{ID: fmt.Sprintf("chart-fill-%d", len(s.Charts)+1), Kind: "fill", Bucket: id,
			Title: id, Caption: bucketCaption(runs, id)})
	}
	if len(s.Charts) == 0 {
		s.Notes = append(s.Notes, "every bucket is unlimited, so none has a fill to show")
	}
	return s
}

// bucketCaption says what a bucket's limit was in each run.
func bucketCaption(runs []*runInfo, id string) string {
	var parts []string
	for _, r := range runs {
		for _, b := range r.Record.Buckets {
			if string(b.ID) != id {
				continue
			}
			row := bucketRow(b)
			text := row[1] + ", " + row[2]
			if row[3] != missing {
				text += ", counting " + row[3]
			}
			if r.Label != "" {
				text = r.Label + ": " + text
			}
			parts = append(parts, text)
		}
	}
	return strings.Join(parts, " · ")
}

func regionSection(runs []*runInfo, data []runData, ax axis) section {
	s := section{ID: "regions", Title: "Region counts",
		Intro: fmt.Sprintf("Invocations per Region as the invocation logs counted them, cumulative since the run started, summed over accounts; each point is the last poll in its %s bin. The logs lag the requests by a few seconds.", secondsText(ax.SampleBin))}
	polled := slices.ContainsFunc(data, func(d runData) bool { return len(d.Regions) > 0 })
	for i, r := range runs {
		if len(data[i].Regions) == 0 && (polled || len(runs) == 1) {
			note := "no Region polls in this record's timeline"
			if r.Record.Events == nil {
				note = "this record has no event timeline, so no Region counts over time"
			}
			s.Notes = append(s.Notes, prefix(r, note))
		}
	}
	if !polled {
		if len(runs) > 1 {
			s.Notes = []string{"no Region polls in these records' timelines"}
		}
		return s
	}
	s.Charts = []chartSpec{{ID: "chart-regions", Kind: "regions", Title: "Region counts over time (cumulative)",
		Caption: "Invocations counted per Region so far."}}
	return s
}

func laneSection(runs []*runInfo) section {
	s := section{ID: "lanes", Title: "Request lanes",
		Intro: "One row per request in arrival order, from its start to its end, coloured by outcome; a violet tick marks where a request fell back to a later group, the lighter part before it. Scroll inside the box; hover a row for the request."}
	for i, r := range runs {
		if len(r.Record.Requests) == 0 {
			s.Notes = append(s.Notes, prefix(r, "no requests in this record"))
			continue
		}
		title := "Requests"
		if r.Label != "" {
			title = r.Heading()
		}
		s.Charts = append(s.Charts, chartSpec{ID: fmt.Sprintf("lanes-%d", i+1), Kind: "lanes", Run: i, Title: title,
			Caption: fmt.Sprintf("%s requests.", count(len(r.Record.Requests)))})
	}
	return s
}

// secondsText is a bin width as a caption says it: "1-second", "5-minute".
func secondsText(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%d-hour", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d-minute", d/time.Minute)
	}
	return fmt.Sprintf("%g-second", s)
}
