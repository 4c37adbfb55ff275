package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"spillway/engine/record"
	"spillway/engine/record/report"
)

const reportUsage = `Usage:
  spillway report RUN.json [B.json] [-o FILE]

Writes one self-contained HTML page about a run recorded with
'spillway run --json': its configuration (buckets, faults, live limit changes,
the scenario file), its summary tables, and charts over simulated time
(throughput by outcome, latency p50/p95/p99, each bucket's fill, Region counts,
every request as a lane) with the faults shaded. Given two records, A and B, it
overlays them on every chart (B dashed) and sets their tables side by side.
The page embeds its charting library: it opens offline, from anywhere.

Flags:
  -o, --output FILE   where to write the page; - writes it to standard output
                      (default: SCENARIO-report.html in the working directory,
                      or A-vs-B-report.html for two records)

Examples:
  spillway run region-outage --speed max --json outage.json
  spillway report outage.json
  spillway report before.json after.json -o tuning.html
`

// reportCommand writes the HTML report of one recorded run, or of two side
// by side.
func reportCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, reportUsage) }
	var out string
	fs.StringVar(&out, "o", "", "where to write the report")
	fs.StringVar(&out, "output", "", "where to write the report")
	inputs, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v (see 'spillway report --help')", err)
	}
	if len(inputs) < 1 || len(inputs) > 2 {
		return usagef("report takes one recorded run, or two to compare, such as 'spillway report run.json' or 'spillway report a.json b.json'; got %d", len(inputs))
	}
	// An explicit -o is checked before the records are read, which may
	// take a while for a long run.
	if out != "" && out != "-" {
		if _, err := reportTarget(out, inputs); err != nil {
			return err
		}
	}
	records := make([]*record.Loaded, 0, len(inputs))
	for _, path := range inputs {
		l, err := record.Load(path)
		if err != nil {
			return usageError{err}
		}
		records = append(records, l)
	}
	if out == "-" {
		w := bufio.NewWriterSize(stdout, 256<<10)
		if err := report.Write(w, records...); err != nil {
			return fmt.Errorf("cannot write the report: %w", err)
		}
		return w.Flush()
	}
	if out == "" {
		out = defaultReportName(records)
	}
	target, err := reportTarget(out, inputs)
	if err != nil {
		return err
	}
	size, err := writeReport(target, records)
	if err != nil {
		return fmt.Errorf("cannot write the report to %s: %w", out, err)
	}
	shown := target
	if abs, err := filepath.Abs(target); err == nil {
		shown = abs
	}
	fmt.Fprintf(stdout, "report written to %s (%s)\n", shown, reportSizeText(size))
	return nil
}

// reportTarget resolves where the report to out lands, refusing what the
// atomic write would wrongly replace: a device, a pipe, a directory, or
// one of the records being reported on.
func reportTarget(out string, inputs []string) (string, error) {
	target, err := record.ExportTarget(out)
	var notRegular *record.NotRegularError
	switch {
	case errors.As(err, &notRegular) && notRegular.Kind == "a directory":
		return "", usagef("-o %s is a directory; give a file name such as %s", out, filepath.Join(out, "report.html"))
	case errors.As(err, &notRegular):
		return "", usagef("-o %s is %s, not a regular file, and writing the report would replace it; give a file name such as report.html, or -o - for standard output", out, notRegular.Kind)
	case err != nil:
		return "", usagef("-o %s cannot be written: %v; choose another path", out, err)
	}
	dir := filepath.Dir(target)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", usagef("-o %s cannot be written: directory %s does not exist; create it or choose another path", out, dir)
	}
	if st, err := os.Stat(target); err == nil {
		for _, in := range inputs {
			if ist, err := os.Stat(in); err == nil && os.SameFile(st, ist) {
				return "", usagef("-o %s is the record %s itself, which the report would replace; choose another name, such as report.html", out, in)
			}
		}
	}
	return target, nil
}

// defaultReportName is SCENARIO-report.html, or A-vs-B-report.html, in
// the working directory.
func defaultReportName(records []*record.Loaded) string {
	names := make([]string, len(records))
	for i, l := range records {
		names[i] = reportFileSafe(l.Scenario)
	}
	return strings.Join(names, "-vs-") + "-report.html"
}

// reportFileSafe keeps a scenario name to letters, digits, dots, dashes and
// underscores, so that it makes a file name on any system.
func reportFileSafe(name string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, name)
	safe = strings.Trim(safe, ".-")
	if safe == "" {
		return "spillway"
	}
	return safe
}

// writeReport writes the page atomically, so a reader never opens half a
// report.
func writeReport(target string, records []*record.Loaded) (int64, error) {
	return record.WriteAtomically(target, func(w io.Writer) error { return report.Write(w, records...) })
}

// reportSizeText is a file's size for a person: "1.2 MB, 1,234,567 bytes".
func reportSizeText(n int64) string {
	var human string
	switch {
	case n >= 1e6:
		human = fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		human = fmt.Sprintf("%.0f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%s, %d bytes", human, n)
}
