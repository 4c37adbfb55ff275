package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"spillway/engine/record"
	"spillway/engine/record/compare"
)

// compareUsage is the help of spillway compare.
const compareUsage = `Usage:
  spillway compare A.json B.json [--json] [--fail-if EXPR]

Sets two recorded runs side by side, A the first file and B the second; every Δ is
B − A. First what was set up differently: scenario, seed, speed, backend, starting
limits, limits retuned live, faults and interrupted runs. Then the outcomes of the whole
run and by tenant, deployment, account and Region: requests, success %, fallbacks, rate
limiting, throttling, failures, latency p50/p95/p99, and tokens and time to first token
where the runs have them. A record is what 'spillway run --json FILE' writes.

Flags:
  --json            write the comparison as JSON instead of tables
  --fail-if EXPR    a check for CI: when EXPR is true, say so and exit 1. EXPR reads run
                    B's whole-run figures by name, and A's, B's and B − A as a.NAME,
                    b.NAME and delta.NAME, with the operators of expr-lang
                    (< <= == != >= > && || ! + - * /)

Names (rates in %, times in ms; a figure a run cannot have, such as the latency when
nothing succeeded, is 0):
  requests succeeded success_rate fell_back fell_back_rate share rate_limited failed
  cancelled throttled skipped p50_ms p95_ms p99_ms input_tokens output_tokens streamed
  ttft_p50_ms ttft_p95_ms ttft_p99_ms
  success_rate is % of requests, fell_back_rate % of successes, share % of the run's
  successes; throttled and skipped count attempts

Exit status: 0; 1 when the --fail-if check fails; 2 when a file is not a run record or
EXPR is not a check.

Examples:
  spillway compare before.json after.json
  spillway compare before.json after.json --json > comparison.json
  spillway compare main.json branch.json --fail-if 'success_rate < 99 || p95_ms > 5000'
  spillway compare main.json branch.json --fail-if 'delta.fell_back_rate > 5 || failed > 0'
`

// compareCommand is spillway compare: two recorded runs side by side, as
// tables or JSON, with an optional check for a pipeline.
func compareCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, compareUsage) }
	asJSON := fs.Bool("json", false, "write the comparison as JSON")
	failIf := fs.String("fail-if", "", "fail when this expression is true")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(rest) != 2 {
		return usagef("compare takes two recorded runs, such as 'spillway compare before.json after.json', got %d (see 'spillway compare --help')", len(rest))
	}
	// The check is compiled first: a typo in a pipeline's expression is
	// reported before two large records are read.
	var check *compare.Check
	if given(fs, "fail-if") {
		if check, err = compare.NewCheck(*failIf); err != nil {
			return usagef("--fail-if %q: %v", *failIf, err)
		}
	}
	runs := make([]*record.Loaded, 2)
	for i, path := range rest {
		if runs[i], err = record.LoadRequests(path); err != nil {
			return usageError{err}
		}
	}
	c := compare.Runs(runs[0], runs[1])
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(c)
	} else {
		err = compare.WriteText(stdout, c)
	}
	if err != nil {
		return fmt.Errorf("writing the comparison: %w", err)
	}
	if check == nil {
		return nil
	}
	verdict, err := check.Eval(c)
	if err != nil {
		return err
	}
	// The values say why, so that a red pipeline needs no second run.
	why := ""
	if values := verdict.ValuesText(); values != "" {
		why = " (" + values + ")"
	}
	if verdict.Failed {
		return fmt.Errorf("check failed: %s%s", check, why)
	}
	fmt.Fprintf(stderr, "check passed: %s%s\n", check, why)
	return nil
}

// given reports whether the flag was on the command line, even as an
// empty string, which is a mistake to report rather than no check.
func given(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// compareWithRun is the dashboard's C for a run going on: the record at
// earlier is A, and B is the run as recorded so far, written with write to
// a file of its own and read back as any record is.
func compareWithRun(write func(path string) error) func(earlier string) (string, error) {
	return func(earlier string) (string, error) {
		a, err := record.LoadRequests(earlier)
		if err != nil {
			return "", err
		}
		f, err := os.CreateTemp("", "spillway-compare-*.json")
		if err != nil {
			return "", err
		}
		path := f.Name()
		f.Close()
		defer os.Remove(path)
		if err := write(path); err != nil {
			return "", err
		}
		b, err := record.LoadRequests(path)
		if err != nil {
			return "", err
		}
		b.Path = "this run, as recorded so far"
		return comparisonText(a, b)
	}
}

// compareWithRecord is the dashboard's C for a replay: A the record at
// earlier, B the whole record being played.
func compareWithRecord(played string) func(earlier string) (string, error) {
	return func(earlier string) (string, error) {
		runs := make([]*record.Loaded, 2)
		for i, path := range []string{earlier, played} {
			var err error
			if runs[i], err = record.LoadRequests(path); err != nil {
				return "", err
			}
		}
		return comparisonText(runs[0], runs[1])
	}
}

func comparisonText(a, b *record.Loaded) (string, error) {
	var text strings.Builder
	err := compare.WriteText(&text, compare.Runs(a, b))
	return text.String(), err
}
