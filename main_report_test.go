package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"spillway/engine"
	"spillway/engine/record"
)

// TestReportInBrowser writes a report of one run and one of two, opens each
// in a real headless Chromium and checks that the page draws every chart
// it should, with no script error and no network request, and that the
// lanes scroll.
func TestReportInBrowser(t *testing.T) {
	browser := reportChromium(t)
	dir := t.TempDir()
	outage, tuning := filepath.Join(dir, "outage.json"), filepath.Join(dir, "tuning.json")
	reportRecordRun(t, "region-outage", outage)
	reportRecordRun(t, "tuning", tuning)
	// The headless run changes no limit; a change is added to the record,
	// as a dashboard user's would be, so that the page draws its mark.
	reportAddLimitChange(t, tuning, `{"t_ms": 300000, "bucket": "deployment/primary-a", "rpm": 30}`)

	one, two := filepath.Join(dir, "one.html"), filepath.Join(dir, "two.html")
	for _, args := range [][]string{{outage, "-o", one}, {outage, tuning, "-o", two}} {
		status, stdout, stderr := spillway(append([]string{"report"}, args...)...)
		if status != 0 || !strings.Contains(stdout, "report written to") || !strings.Contains(stdout, "bytes") {
			t.Fatalf("spillway report %v: status %d, stdout %q, stderr %q", args, status, stdout, stderr)
		}
	}
	for _, path := range []string{one, two} {
		reportAssertSelfContained(t, path)
	}

	ctx, events := reportStartChromium(t, browser)
	page := reportOpen(t, ctx, events, one, reportExpectedCharts(t, outage))
	t.Logf("one-run report (%s): %d charts, ready %v after navigation (%.0f ms in the page)", reportFileSize(t, one), page.charts, page.wall, page.inPage)
	reportAssertLanesScroll(t, ctx, "#lanes-1")

	page = reportOpen(t, ctx, events, two, reportExpectedCharts(t, outage, tuning))
	t.Logf("two-run report (%s): %d charts, ready %v after navigation (%.0f ms in the page)", reportFileSize(t, two), page.charts, page.wall, page.inPage)
	if got := reportEval[int](t, ctx, `document.querySelectorAll('figure.lanes').length`); got != 2 {
		t.Errorf("the two-run report has %d lanes views, want one per run", got)
	}
	legend := reportEval[string](t, ctx, `document.querySelector('.legend-note').textContent`)
	if !strings.Contains(legend, "outage.json") || !strings.Contains(legend, "tuning.json") {
		t.Errorf("the two-run report's legend %q does not name both files", legend)
	}
	reportAssertLanesScroll(t, ctx, "#lanes-2")

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	target := os.Getenv("SPILLWAY_REPORT_SCREENSHOT")
	if target == "" {
		target = filepath.Join(t.TempDir(), "report.png")
	}
	if err := os.WriteFile(target, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the two-run report: %s (%d bytes)", target, len(shot))
}

// TestReportOfAnEmptyRecord: a record with no requests and no timeline
// makes a page that says so, draws nothing and throws nothing.
func TestReportOfAnEmptyRecord(t *testing.T) {
	browser := reportChromium(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.json")
	if err := os.WriteFile(empty, []byte(`{"schema": "spillway/run/v1", "scenario": "nothing", "summary": {}, "requests": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "empty.html")
	if status, _, stderr := spillway("report", empty, "-o", out); status != 0 {
		t.Fatalf("spillway report of an empty record: status %d, stderr %q", status, stderr)
	}
	reportAssertSelfContained(t, out)
	ctx, events := reportStartChromium(t, browser)
	reportOpen(t, ctx, events, out, 0)
	text := reportEval[string](t, ctx, `document.body.innerText`)
	for _, want := range []string{"no bucket levels in this record", "no requests in this record"} {
		if !strings.Contains(text, want) {
			t.Errorf("the empty record's report does not say %q", want)
		}
	}
}

func TestReportCommandRefuses(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "run.json")
	reportRecordRun(t, "fallback", rec)
	notRecord := filepath.Join(dir, "notes.json")
	os.WriteFile(notRecord, []byte(`{"hello": "world"}`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "report takes one recorded run, or two"},
		{[]string{"report", rec, rec, rec}, "got 3"},
		{[]string{"report", filepath.Join(dir, "missing.json")}, "cannot open it"},
		{[]string{"report", notRecord}, "not a Spillway run record"},
		{[]string{"report", rec, "-o", "/dev/null"}, "-o /dev/null is a character device, not a regular file"},
		{[]string{"report", rec, "-o", dir}, "is a directory"},
		{[]string{"report", rec, "-o", rec}, "is the record " + rec + " itself"},
		{[]string{"report", rec, "-o", filepath.Join(dir, "nowhere", "r.html")}, "does not exist"},
		{[]string{"report", rec, "--bogus"}, "see 'spillway report --help'"},
	} {
		status, stdout, stderr := spillway(tc.args...)
		if status != 2 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("spillway %v: status %d, stdout %q, stderr %q; want 2 and %q", tc.args, status, stdout, stderr, tc.want)
		}
	}
	if status, _, stderr := spillway("report", "--help"); status != 0 || !strings.Contains(stderr, "spillway report RUN.json [B.json] [-o FILE]") {
		t.Errorf("spillway report --help: status %d, stderr %q", status, stderr)
	}
	status, stdout, _ := spillway("report", rec, "-o", "-")
	if status != 0 || !strings.HasPrefix(stdout, "<!DOCTYPE html>") || !strings.HasSuffix(stdout, "</html>") {
		t.Errorf("spillway report -o -: status %d, %d bytes starting %.40q", status, len(stdout), stdout)
	}

	// Without -o the report is named for the scenario, in the working
	// directory; it goes through a temporary file that is gone after.
	t.Chdir(dir)
	status, stdout, stderr := spillway("report", rec)
	want := filepath.Join(dir, "fallback-report.html")
	if status != 0 || !strings.Contains(stdout, want) {
		t.Fatalf("spillway report without -o: status %d, stdout %q, stderr %q; want %s", status, stdout, stderr, want)
	}
	if st, err := os.Stat(want); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("the report %s: %v, %v; want a file anyone can read", want, st, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*spillway-tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left behind: %q", leftovers)
	}
}

// reportChromium is the browser to test with, or a skip that says what to
// install.
func reportChromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("no Chromium to open the report in: install chromium (apt-get install chromium)")
	return ""
}

func reportRecordRun(t testing.TB, scenario, path string) {
	t.Helper()
	if status, _, stderr := spillway("run", scenario, "--speed", "max", "--json", path); status != 0 {
		t.Fatalf("spillway run %s: status %d, stderr %q", scenario, status, stderr)
	}
}

func reportAddLimitChange(t testing.TB, path, change string) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(text), `"rpm_changes": []`, `"rpm_changes": [`+change+`]`, 1)
	if edited == string(text) {
		t.Fatalf("%s has no empty rpm_changes to add a change to", path)
	}
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reportExpectedCharts counts, from the records themselves, the charts a report
// of them draws: throughput and latency, a fill chart for each limited
// bucket the levels sampled, Region counts when the logs were polled, and
// lanes for each run with requests.
func reportExpectedCharts(t testing.TB, paths ...string) int {
	t.Helper()
	limited := map[engine.BucketID]bool{}
	n, polled, succeeded := 0, false, false
	for _, path := range paths {
		l, err := record.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Requests) > 0 {
			n++ // its lanes
		}
		succeeded = succeeded || l.Summary.Succeeded > 0
		for _, ev := range l.Events {
			switch ev.Kind {
			case engine.RegionsPolled:
				polled = true
			case engine.Levels:
				for _, lv := range ev.Levels {
					if !math.IsInf(lv.Capacity, 1) && lv.Capacity > 0 {
						limited[lv.ID] = true
					}
				}
			}
		}
	}
	if n > 0 {
		n++ // throughput
	}
	if succeeded {
		n++ // latency
	}
	if polled {
		n++
	}
	return n + len(limited)
}

// reportAssertSelfContained checks that the page loads nothing from elsewhere:
// no script or style by reference, nothing from the web.
func reportAssertSelfContained(t testing.TB, path string) {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script[^>]*\ssrc\s*=`),
		regexp.MustCompile(`(?i)<link\b`),
		regexp.MustCompile(`(?i)\s(src|href)\s*=\s*["']?\s*(https?:)?//`),
		regexp.MustCompile(`(?i)@import|url\(\s*["']?\s*(https?:)?//`),
	} {
		if m := bad.Find(text); m != nil {
			t.Errorf("%s refers to something outside the page: %q", filepath.Base(path), m)
		}
	}
	if !strings.Contains(string(text), `<meta charset="utf-8">`) {
		t.Errorf("%s has no <meta charset>", filepath.Base(path))
	}
}

// reportPageEvents gathers what a page reports that a test must see: console
// errors, uncaught exceptions, log errors and every network request.
type reportPageEvents struct {
	mu       sync.Mutex
	errors   []string
	requests []string
}

func (p *reportPageEvents) handle(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				args = append(args, a.Description+string(a.Value))
			}
			p.errors = append(p.errors, "console.error: "+strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		p.errors = append(p.errors, "exception: "+(&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			p.errors = append(p.errors, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, ev.Request.URL)
	}
}

// take returns what was gathered since the last call, and forgets it.
func (p *reportPageEvents) take() (errs, requests []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	errs, requests = p.errors, p.requests
	p.errors, p.requests = nil, nil
	return errs, requests
}

// reportStartChromium starts a headless Chromium that cannot outlive a minute,
// so a page that never gets ready fails the test instead of hanging it.
func reportStartChromium(t testing.TB, path string) (context.Context, *reportPageEvents) {
	t.Helper()
	deadline, cancelDeadline := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancelDeadline)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.WindowSize(1300, 1000))
	if os.Geteuid() == 0 {
		// Chromium refuses to start its sandbox as root (in a container).
		opts = append(opts, chromedp.NoSandbox)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(deadline, opts...)
	t.Cleanup(cancelAlloc)
	events := &reportPageEvents{}
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithListener(events.handle))
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("cannot start %s: %v", path, err)
	}
	return ctx, events
}

type reportLoadedPage struct {
	charts int
	wall   time.Duration // from navigating to ready, as the test saw it
	inPage float64       // ms since navigation start, as the page saw it
}

// reportOpen loads the report, waits for its script to finish and checks
// it: no error, no request but the page's own, the charts expected, each
// canvas sized and painted.
func reportOpen(t testing.TB, ctx context.Context, events *reportPageEvents, path string, wantCharts int) reportLoadedPage {
	t.Helper()
	url := "file://" + path
	events.take()
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.body && document.body.dataset.ready === "1"`,
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		errs, _ := events.take()
		t.Fatalf("%s never got ready: %v; page errors: %q", filepath.Base(path), err, errs)
	}
	p := reportLoadedPage{wall: time.Since(start), inPage: reportEval[float64](t, ctx, `performance.now()`)}
	p.charts = reportEval[int](t, ctx, `Number(document.body.dataset.charts)`)
	errs, requests := events.take()
	for _, e := range errs {
		t.Errorf("%s: %s", filepath.Base(path), e)
	}
	for _, r := range requests {
		if r != url {
			t.Errorf("%s made a request for %s; a report must need nothing but itself", filepath.Base(path), r)
		}
	}
	if p.charts != wantCharts {
		t.Errorf("%s drew %d charts, want %d", filepath.Base(path), p.charts, wantCharts)
	}
	canvases := reportEval[[]reportCanvasState](t, ctx, reportCanvasStates)
	if len(canvases) != wantCharts {
		t.Errorf("%s has %d canvases, want one per chart, %d", filepath.Base(path), len(canvases), wantCharts)
	}
	for _, c := range canvases {
		switch {
		case c.Width == 0 || c.Height == 0 || c.ClientWidth == 0 || c.ClientHeight == 0:
			t.Errorf("%s: canvas %s is %d×%d (shown %d×%d); want it sized", filepath.Base(path), c.ID, c.Width, c.Height, c.ClientWidth, c.ClientHeight)
		case c.Painted < 100 || c.Colours < 3:
			t.Errorf("%s: canvas %s looks blank: %d painted pixels in %d colours", filepath.Base(path), c.ID, c.Painted, c.Colours)
		}
	}
	return p
}

// reportCanvasState is what reportCanvasStates says of one canvas.
type reportCanvasState struct {
	ID                        string
	Width, Height             int
	ClientWidth, ClientHeight int
	Painted, Colours          int
}

// reportCanvasStates counts, for every canvas, the pixels painted (not
// transparent, and not the background the lanes start from) and their
// distinct colours.
const reportCanvasStates = `Array.from(document.querySelectorAll('canvas')).map(c => {
  const s = {ID: c.id || c.closest('figure').id, Width: c.width, Height: c.height,
             ClientWidth: c.clientWidth, ClientHeight: c.clientHeight, Painted: 0, Colours: 0};
  if (!c.width || !c.height) return s;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const colours = new Set();
  for (let i = 0; i < d.length; i += 4) {
    if (d[i+3] === 0 || (d[i] === 255 && d[i+1] === 255 && d[i+2] === 255)) continue;
    s.Painted++;
    if (colours.size < 64) colours.add((d[i] << 16) | (d[i+1] << 8) | d[i+2]);
  }
  s.Colours = colours.size;
  return s;
})`

// reportAssertLanesScroll scrolls a lanes view and checks that the canvas drew
// the rows scrolled to.
func reportAssertLanesScroll(t testing.TB, ctx context.Context, figure string) {
	t.Helper()
	type lanesState struct {
		ScrollTop, ScrollHeight, ClientHeight int
		FirstRow, Draws                       int
		Image                                 string
	}
	state := fmt.Sprintf(`(() => {
  const s = document.querySelector(%q + ' .lanes-scroll'), c = s.querySelector('canvas');
  return {ScrollTop: Math.round(s.scrollTop), ScrollHeight: s.scrollHeight, ClientHeight: s.clientHeight,
          FirstRow: Number(c.dataset.firstRow), Draws: Number(c.dataset.draws), Image: c.toDataURL()};
})()`, figure)
	before := reportEval[lanesState](t, ctx, state)
	if before.ScrollHeight <= before.ClientHeight {
		t.Fatalf("%s: lanes of %d px in a box of %d px: nothing to scroll", figure, before.ScrollHeight, before.ClientHeight)
	}
	reportEval[chromedp.Void](t, ctx, fmt.Sprintf(`document.querySelector(%q + ' .lanes-scroll').scrollTop = 200`, figure))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`Number(document.querySelector(%q + ' canvas').dataset.draws) > %d`, figure, before.Draws),
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("%s: the lanes did not redraw after scrolling: %v", figure, err)
	}
	after := reportEval[lanesState](t, ctx, state)
	if after.ScrollTop != 200 || after.FirstRow <= before.FirstRow || after.Image == before.Image {
		t.Errorf("%s: after scrolling to 200 px, scrollTop %d, first row %d (was %d), image changed %v",
			figure, after.ScrollTop, after.FirstRow, before.FirstRow, after.Image != before.Image)
	}
}

func reportEval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("reportEval %.60q: %v", expr, err)
	}
	return v
}

func reportFileSize(t testing.TB, path string) string {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return reportSizeText(st.Size())
}

// BenchmarkReportInBrowserHour writes the report of an hour at 600 RPM
// (36,000 requests) and opens it in headless Chromium: the time from
// navigating to the page's charts all drawn, and the file's size.
func BenchmarkReportInBrowserHour(b *testing.B) {
	browser := reportChromium(b)
	dir := b.TempDir()
	hour, page := filepath.Join(dir, "hour.json"), filepath.Join(dir, "hour.html")
	if status, _, stderr := spillway("run", "hour", "--scenarios", "engine/testdata/steady-600rpm.toml", "--speed", "max",
		"--headless", "--json", hour); status != 0 {
		b.Fatalf("recording the hour: %s", stderr)
	}
	if status, _, stderr := spillway("report", hour, "-o", page); status != 0 {
		b.Fatalf("report: %s", stderr)
	}
	st, _ := os.Stat(page)
	charts := reportExpectedCharts(b, hour)
	ctx, events := reportStartChromium(b, browser)
	b.ResetTimer()
	var inPage float64
	for b.Loop() {
		inPage += reportOpen(b, ctx, events, page, charts).inPage
	}
	b.ReportMetric(inPage/float64(b.N), "ms-in-page/op")
	b.ReportMetric(float64(st.Size())/1e6, "MB")
}
