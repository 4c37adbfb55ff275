package report

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/bucket"
	"spillway/engine/record"
)

// pageJSON is the data a written page hands its script, decoded.
func pageJSON(t *testing.T, html string) pageDataIn {
	t.Helper()
	const open = `<script type="application/json" id="data">`
	i := strings.Index(html, open)
	if i < 0 {
		t.Fatal("the page has no data script")
	}
	rest := html[i+len(open):]
	text := rest[:strings.Index(rest, "</script>")]
	var d pageDataIn
	if err := json.Unmarshal([]byte(text), &d); err != nil {
		t.Fatalf("the page's data is not JSON: %v\n%.300s", err, text)
	}
	return d
}

// pageDataIn reads back what pageData writes; series come back as
// pointers, nil for a gap.
type pageDataIn struct {
	End, RateBin, SampleBin float64
	Runs                    []struct {
		Label, File string
		Throughput  []struct {
			Name   string
			Values []*float64
		}
		Latency []struct{ Name string }
		Fill    map[string][]*float64
		Regions []struct {
			Name   string
			Values []*float64
		}
		Lanes *struct {
			Start, Dur, Code, Switch []int
			Tenants                  []string
		}
	}
	Charts []struct{ ID, Kind, Bucket string }
}

func write(t *testing.T, records ...*record.Loaded) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, records...); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestAnEmptyRecordSaysWhatItLacks(t *testing.T) {
	html := write(t, &record.Loaded{})
	for _, want := range []string{"no bucket levels in this record", "no requests in this record", "<meta charset=\"utf-8\">", "<title>Spillway report: record (record)</title>"} {
		if !strings.Contains(html, want) {
			t.Errorf("the page of an empty record does not say %q", want)
		}
	}
	d := pageJSON(t, html)
	if len(d.Charts) != 0 || d.End <= 0 {
		t.Errorf("an empty record gives charts %v on an axis to %v s; want none, on an axis of some length", d.Charts, d.End)
	}
}

func TestLevelsWithoutALimitedBucket(t *testing.T) {
	l := &record.Loaded{Events: []engine.Event{{At: time.Second, Kind: engine.Levels,
		Levels: []engine.BucketLevel{{ID: "tenant/a", Level: bucket.Level{Available: math.Inf(1), Capacity: math.Inf(1)}}}}}}
	html := write(t, l)
	if !strings.Contains(html, "every bucket is unlimited") {
		t.Error("a record whose buckets are all unlimited does not say why it has no fill chart")
	}
}

func TestWriteTakesOneRunOrTwo(t *testing.T) {
	l := &record.Loaded{}
	for _, records := range [][]*record.Loaded{nil, {l, l, l}, {nil}} {
		if err := Write(io.Discard, records...); err == nil {
			t.Errorf("Write of %d records (%v) succeeded", len(records), records)
		}
	}
}

func TestTwoRunsShareTheAxisAndStopAtTheirEnds(t *testing.T) {
	short, long := synthetic(600, time.Minute), synthetic(6000, 10*time.Minute)
	short.Path, long.Path = "/x/short.json", "/y/long.json"
	html := write(t, short, long)
	d := pageJSON(t, html)
	// The axis ends when the longer run's last request does, a little
	// after its ten minutes.
	if d.End < 600 || d.End > 700 || len(d.Runs) != 2 || d.Runs[0].Label != "A" || d.Runs[1].File != "long.json" {
		t.Fatalf("two runs: axis to %v s, %d runs", d.End, len(d.Runs))
	}
	for _, s := range d.Runs[0].Throughput {
		last := s.Values[len(s.Values)-1]
		if last != nil {
			t.Errorf("A's %s goes on to the end of B's run (%v); it should stop at A's end", s.Name, *last)
		}
	}
	for _, want := range []string{"A — short.json", "B — long.json", "A = short.json: solid lines"} {
		if !strings.Contains(html, want) {
			t.Errorf("the two-run page does not say %q", want)
		}
	}
}

func TestThroughputCountsEveryFinishedRequest(t *testing.T) {
	l := synthetic(5000, 20*time.Minute)
	ax := newAxis([]*record.Loaded{l})
	total := 0.0
	for _, s := range throughput(l.Requests, ax) {
		for _, v := range s.Values {
			total += v * ax.RateBin / 60
		}
	}
	if math.Abs(total-5000) > 1e-6 {
		t.Errorf("throughput adds up to %v requests, want 5000", total)
	}
}

func TestFillKeepsTheLowestSampleOfABin(t *testing.T) {
	level := func(sec int, available float64) engine.Event {
		return engine.Event{At: time.Duration(sec) * time.Second, Kind: engine.Levels, Levels: []engine.BucketLevel{
			{ID: "deployment/a", Level: bucket.Level{Available: available, Capacity: 10}},
			{ID: "tenant/t", Level: bucket.Level{Available: math.Inf(1), Capacity: math.Inf(1)}},
		}}
	}
	ax := axis{End: 4, SampleBin: 2}
	got := fills([]engine.Event{level(0, 10), level(1, 3), level(2, 5), level(3, 8)}, ax)
	if len(got) != 1 || got["deployment/a"][0] != 30 || got["deployment/a"][1] != 50 {
		t.Errorf("fills = %v; want deployment/a only, at 30%% then 50%%", got)
	}
}

func TestRegionCountsSumAccountsAndCarryOn(t *testing.T) {
	poll := func(sec int, acct string, n int) engine.Event {
		return engine.Event{At: time.Duration(sec) * time.Second, Kind: engine.RegionsPolled,
			Regions: &engine.RegionPoll{Account: acct, Counts: []engine.RegionCount{{Region: "us-east-1", Count: n}}}}
	}
	ax := axis{End: 6, SampleBin: 1}
	got := regionCounts([]engine.Event{poll(1, "a", 2), poll(1, "b", 3), poll(4, "a", 7)}, ax)
	want := []float64{math.NaN(), 5, 5, 5, 10, 10}
	if len(got) != 1 || !sameSeries(got[0].Values, want) {
		t.Errorf("regionCounts = %+v; want us-east-1 %v", got, want)
	}
}

func sameSeries(a series, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

func TestBinWidth(t *testing.T) {
	for _, tc := range []struct{ span, floor, want float64 }{
		{200, 1, 1}, {630, 1, 2}, {3600, 1, 10}, {3600, 30, 30}, {86400, 1, 300}, {1e9, 1, 1728000},
	} {
		if got := binWidth(tc.span, tc.floor); got != tc.want {
			t.Errorf("binWidth(%v, %v) = %v, want %v", tc.span, tc.floor, got, tc.want)
		}
	}
}

// TestTextFromTheRecordCannotEscape: a title, a scenario file or a name
// that holds markup stays text in the page and in its data.
func TestTextFromTheRecordCannotEscape(t *testing.T) {
	l := synthetic(50, time.Minute)
	evil := `</script><script>alert(1)</script><!--`
	l.Title, l.ScenarioFile.TOML, l.Requests[0].Tenant = evil, evil, evil
	l.Faults[0].Fault = evil
	html := write(t, l)
	if strings.Contains(html, "<script>alert") {
		t.Error("markup from the record reached the page unescaped")
	}
	if d := pageJSON(t, html); !strings.Contains(strings.Join(d.Runs[0].Lanes.Tenants, ","), evil) {
		t.Error("the tenant's name did not survive the trip through the page's data")
	}
}

// TestEmbeddedScriptsStayInTheirElements: a library holding "</script"
// would end its element early and spill the rest onto the page.
func TestEmbeddedScriptsStayInTheirElements(t *testing.T) {
	for name, js := range map[string]string{"chart.js": chartJS, "annotation": annotationJS, "report.js": reportJS} {
		if strings.Contains(strings.ToLower(js), "</script") || strings.Contains(js, "<!--") {
			t.Errorf("%s holds </script or <!--, which would break out of its <script> element", name)
		}
		if strings.Contains(js, "sourceMappingURL") {
			t.Errorf("%s still points at a source map the page does not carry", name)
		}
	}
	if len(chartJS) < 100_000 || len(annotationJS) < 10_000 {
		t.Errorf("embedded libraries are %d and %d bytes; the assets look truncated", len(chartJS), len(annotationJS))
	}
}

// TestA36kRunStaysSmall: a long run's page is a few MB at most, and its
// lanes hold every request.
func TestA36kRunStaysSmall(t *testing.T) {
	html := write(t, synthetic(36_000, time.Hour))
	if len(html) > 3<<20 {
		t.Errorf("the report of 36,000 requests is %d bytes; want under 3 MiB", len(html))
	}
	d := pageJSON(t, html)
	if lanes := d.Runs[0].Lanes; lanes == nil || len(lanes.Start) != 36_000 || len(lanes.Code) != 36_000 {
		t.Error("the lanes do not hold every request")
	}
	for _, s := range d.Runs[0].Throughput {
		if len(s.Values) > maxPoints {
			t.Errorf("%s has %d points; want at most %d", s.Name, len(s.Values), maxPoints)
		}
	}
	t.Logf("36,000 requests over an hour: %d bytes, rate bins of %v s, sample bins of %v s", len(html), d.RateBin, d.SampleBin)
}

// BenchmarkReport36k writes the report of a synthetic record of 36,000
// requests over an hour, with a Levels event each second and a Region poll
// every five seconds (see synthetic), and reports the page's size.
func BenchmarkReport36k(b *testing.B) {
	l := synthetic(36_000, time.Hour)
	var size int64
	for b.Loop() {
		c := &counter{}
		if err := Write(c, l); err != nil {
			b.Fatal(err)
		}
		size = c.n
	}
	b.ReportMetric(float64(size), "bytes")
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// A run as replicas shows each limit's busiest minute right after the
// totals; beside a single gateway, that run's cells are dashes.
func TestRunsAsReplicasShowTheirBusiestMinutes(t *testing.T) {
	own := synthetic(50, time.Minute)
	own.Summary.Fleet = &record.Fleet{Replicas: 3, Limits: "own", Buckets: []record.FleetBucket{
		{Bucket: "deployment/primary", Unit: "requests", Limiter: "fixed-window", Limit: 10, BusiestMinute: 30, TimesLimit: 3}}}
	one := synthetic(50, time.Minute)
	tables := summaryTables([]*runInfo{{Record: own}, {Record: one}})
	if tables[1].Title != "Limits, runs as replicas" || len(tables[1].Rows) != 1 {
		t.Fatalf("the second table: %q with %d rows", tables[1].Title, len(tables[1].Rows))
	}
	got := strings.Join(tables[1].Rows[0].Cells, " | ")
	if got != "3, each its own | 10 requests | 30 | 3.0× | — | — | — | —" {
		t.Fatalf("deployment/primary: %s", got)
	}
	if html := write(t, own); !strings.Contains(html, "Limits, runs as replicas") || !strings.Contains(html, "3.0×") {
		t.Fatal("the page does not show the replicas' limits")
	}
	if tables := summaryTables([]*runInfo{{Record: one}}); slices.ContainsFunc(tables, func(t table) bool { return t.Title == "Limits, runs as replicas" }) {
		t.Fatal("a single gateway's page has a replicas table")
	}
}
