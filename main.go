// Command spillway runs live resilience experiments on LLM inference with
// Amazon Bedrock: cross-Region inference, account sharding, model fallback,
// weighted load balancing and per-tenant quota isolation, defined in
// scenarios.toml and run by an embedded routing engine against an embedded
// simulated Bedrock fleet.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"spillway/engine"
	"spillway/engine/record"
	"spillway/scenarios"
	"spillway/tui/plain"
)

//go:embed scenarios.toml
var builtinScenarios []byte

const builtinName = "scenarios.toml (built in)"

// version is set at release time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const simulatedBackend = "SIMULATED — embedded Bedrock fleet; no AWS calls, no credentials"

// usageError is bad input: exit status 2, nothing dispatched.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, so tests can drive the command.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "spillway: internal error: %v\nThis is a bug; please report it with the command you ran.\n%s", p, debug.Stack())
			status = 1
		}
	}()
	err := dispatch(args, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "spillway: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "spillway: %v\n", err)
		return 1
	}
}

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return runCommand(nil, stdout, stderr)
	}
	switch args[0] {
	case "run":
		return runCommand(args[1:], stdout, stderr)
	case "list":
		return listCommand(args[1:], stdout, stderr)
	case "validate":
		return validateCommand(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "spillway %s\n", version)
		return nil
	}
	if strings.HasPrefix(args[0], "-") {
		// Flags without a command: run the default scenario with them.
		return runCommand(args, stdout, stderr)
	}
	return usagef("unknown command %q; commands are run, list, validate (see 'spillway --help')", args[0])
}

const usage = `Spillway: live resilience experiments on LLM inference with Amazon Bedrock.

Usage:
  spillway [run] [NAME] [flags]   run a scenario (default: the file's default, "fallback")
  spillway list [--scenarios FILE]
  spillway validate [FILE]        check a scenario file (default: the built-in one)
  spillway --version

Run flags:
  --headless          plain line-by-line output (the only output until the dashboard lands)
  --json FILE|-       write the run as JSON (schema spillway/run/v1) to FILE, or stdout with -
  --speed X           simulated seconds per wall second: 1 is real time, 20 is 20× faster,
                      max runs as fast as possible (default 1)
  --seed N            seed for every simulated random choice (default 42)
  --scenarios FILE    use FILE instead of the built-in scenarios

The backend is the embedded simulated Bedrock fleet: no AWS account or credentials needed.
Examples:
  spillway                                     the default scenario, in real time
  spillway run quota-isolation --speed 20
  spillway run fallback --speed max --json run.json
`

// parseInterleaved parses flags that may come before, between or after
// positional arguments, so "run fallback --speed 20" works as people type it.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	return fs
}

func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{fmt.Errorf("%v (see 'spillway --help')", err)}
}

// loadScenarios reads --scenarios, or the built-in file.
func loadScenarios(path string) (*scenarios.File, error) {
	var f *scenarios.File
	var err error
	if path == "" {
		f, err = scenarios.Parse(builtinName, builtinScenarios)
	} else {
		f, err = scenarios.Load(path)
	}
	if err != nil {
		return nil, usageError{err}
	}
	return f, nil
}

func listCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list", stderr)
	file := fs.String("scenarios", "", "scenario file")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(rest) > 0 {
		return usagef("list takes no arguments, got %q", rest)
	}
	f, err := loadScenarios(*file)
	if err != nil {
		return err
	}
	width := 0
	for _, s := range f.Scenarios {
		width = max(width, len(s.Name))
	}
	for _, s := range f.Scenarios {
		mark := " "
		if s.Name == f.Default {
			mark = "*"
		}
		fmt.Fprintf(stdout, "%s %-*s  %s\n", mark, width, s.Name, s.Title)
	}
	fmt.Fprintf(stdout, "\n* default. Run one with: spillway run NAME\n")
	return nil
}

func validateCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(rest) > 1 {
		return usagef("validate takes one file, got %d", len(rest))
	}
	path := ""
	if len(rest) == 1 {
		path = rest[0]
	}
	f, err := loadScenarios(path)
	if err != nil {
		return err
	}
	name := path
	if name == "" {
		name = builtinName
	}
	fmt.Fprintf(stdout, "%s: ok, %d scenarios (%s)\n", name, len(f.Scenarios), strings.Join(f.Names(), ", "))
	return nil
}

// runOptions are the checked flags of a run.
type runOptions struct {
	scenario *scenarios.Scenario
	file     *scenarios.File
	seed     uint64
	speed    float64
	jsonPath string
}

func parseRun(args []string, stderr io.Writer) (runOptions, error) {
	fs := newFlagSet("run", stderr)
	fs.Bool("headless", false, "plain output")
	jsonPath := fs.String("json", "", "write the run as JSON to FILE, or - for stdout")
	speed := fs.String("speed", "1", "simulated seconds per wall second, or max")
	seed := fs.String("seed", "42", "seed for simulated randomness")
	file := fs.String("scenarios", "", "scenario file")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return runOptions{}, flagError(err)
	}
	var o runOptions
	if len(rest) > 1 {
		return o, usagef("run takes one scenario name, got %q", rest)
	}
	if o.speed, err = parseSpeed(*speed); err != nil {
		return o, err
	}
	if o.seed, err = strconv.ParseUint(*seed, 10, 64); err != nil {
		return o, usagef("--seed must be a whole number from 0 to %d, got %q", uint64(math.MaxUint64), *seed)
	}
	if o.file, err = loadScenarios(*file); err != nil {
		return o, err
	}
	name := o.file.Default
	if len(rest) == 1 {
		name = rest[0]
	}
	if o.scenario, err = o.file.Lookup(name); err != nil {
		return o, usageError{err}
	}
	o.jsonPath = *jsonPath
	return o, nil
}

func parseSpeed(s string) (float64, error) {
	if s == "max" {
		return math.Inf(1), nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || !(x > 0) || math.IsInf(x, 0) {
		return 0, usagef("--speed must be a number above 0 (1 is real time, 20 is 20× faster) or max, got %q", s)
	}
	return x, nil
}

func runCommand(args []string, stdout, stderr io.Writer) error {
	o, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	// With the JSON on stdout, people-facing output moves to stderr.
	human := stdout
	if o.jsonPath == "-" {
		human = stderr
	}

	rec := record.New(record.Meta{Backend: "simulated"})
	defer rec.Close()
	if o.jsonPath != "" {
		if err := prepareJSON(rec, o.jsonPath); err != nil {
			return err
		}
	}

	backend := engine.NewSimulated(o.scenario, o.file.Models, o.seed, time.Now())
	eng, err := engine.New(o.scenario, engine.Options{
		Seed:    o.seed,
		Speed:   o.speed,
		Backend: backend,
		Logs:    backend,
	})
	if err != nil {
		return usageError{err}
	}
	eng.Subscribe(plain.New(human, o.scenario, simulatedBackend))
	eng.Subscribe(rec)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = eng.Run(ctx)
	stop() // a second Ctrl-C during the write-out kills the process as usual
	if err != nil {
		return err
	}

	plain.WriteSummary(human, o.scenario, rec.Summary(), rec.Interrupted())
	switch o.jsonPath {
	case "":
	case "-":
		if err := rec.Encode(stdout); err != nil {
			return fmt.Errorf("writing JSON to stdout: %w", err)
		}
	default:
		if err := rec.WriteFile(o.jsonPath); err != nil {
			return fmt.Errorf("%w; the run finished but its record was not saved; check the directory's permissions and free space", err)
		}
		fmt.Fprintf(human, "\nRun recorded to %s\n", o.jsonPath)
	}
	return nil
}

// prepareJSON checks, before anything is sent, that the export can be
// written, and starts spooling the event timeline next to it.
func prepareJSON(rec *record.Recorder, path string) error {
	dir := os.TempDir()
	if path != "-" {
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return usagef("--json %s is a directory; give a file name such as %s", path, filepath.Join(path, "run.json"))
		}
		dir = filepath.Dir(path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return usagef("--json %s cannot be written: directory %s does not exist; create it or choose another path", path, dir)
		}
	}
	if err := rec.KeepTimeline(dir); err != nil {
		return usagef("--json %s cannot be written: %s is not writable (%v); choose a path in a writable directory", path, dir, errors.Unwrap(err))
	}
	return nil
}
