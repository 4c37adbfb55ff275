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
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/term"

	"spillway/engine"
	"spillway/engine/emulator"
	"spillway/engine/session"
	"spillway/scenarios"
	"spillway/tui"
	"spillway/tui/plain"
)

//go:embed scenarios.toml
var builtinScenarios []byte

const builtinName = "scenarios.toml (built in)"

// version is set at release time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

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
	case "emulator":
		return emulatorCommand(args[1:], stdout, stderr)
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
	return usagef("unknown command %q; commands are run, list, validate, emulator (see 'spillway --help')", args[0])
}

const usage = `Spillway: live resilience experiments on LLM inference with Amazon Bedrock.

Usage:
  spillway [run] [NAME] [flags]   run a scenario (default: the file's default, "fallback")
  spillway list [--scenarios FILE]
  spillway validate [FILE]        check a scenario file (default: the built-in one)
  spillway emulator [--addr 127.0.0.1:4599] [--scenarios FILE] [--speed X]
                                  serve the simulated Bedrock, CloudWatch Logs and STS
                                  on loopback for any AWS client
  spillway --version

Run flags:
  --headless          plain line-by-line output instead of the dashboard (automatic when
                      stdin or stdout is not a terminal, and with --json -)
  --json FILE|-       write the run as JSON (schema spillway/run/v1) to FILE, or stdout with -
  --speed X           simulated seconds per wall second: 1 is real time, 20 is 20× faster,
                      max runs as fast as possible (default 1)
  --seed N            seed for every simulated random choice (default 42)
  --scenarios FILE    use FILE instead of the built-in scenarios
  --backend sim|aws   sim (default): an embedded emulator on 127.0.0.1, reached through
                      the AWS SDK; no AWS account or credentials needed.
                      aws: real Amazon Bedrock and CloudWatch Logs with each account's
                      profile (scenario key account.profile); this costs money
  --endpoint URL      with --backend aws: send every AWS call to URL instead, such as
                      a 'spillway emulator'

Examples:
  spillway                                     the dashboard on the default scenario, in real
                                               time; press ? there for every key, q to quit
  spillway run quota-isolation --speed 20
  spillway run fallback --speed max --json run.json
  spillway run cris --backend aws               live, with the default AWS profile
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
	backend  string // "sim" or "aws"
	endpoint string
	headless bool
}

func parseRun(args []string, stderr io.Writer) (runOptions, error) {
	fs := newFlagSet("run", stderr)
	headless := fs.Bool("headless", false, "plain output")
	jsonPath := fs.String("json", "", "write the run as JSON to FILE, or - for stdout")
	speed := fs.String("speed", "1", "simulated seconds per wall second, or max")
	seed := fs.String("seed", "42", "seed for simulated randomness")
	file := fs.String("scenarios", "", "scenario file")
	backend := fs.String("backend", "sim", "sim or aws")
	endpoint := fs.String("endpoint", "", "AWS endpoint URL")
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
	o.backend, o.endpoint, o.headless = *backend, *endpoint, *headless
	switch {
	case o.backend != "sim" && o.backend != "aws":
		return o, usagef("--backend must be sim (the embedded emulator) or aws (real AWS), got %q", o.backend)
	case o.endpoint != "" && o.backend != "aws":
		return o, usagef("--endpoint goes with --backend aws; the sim backend starts its own emulator")
	case o.backend == "aws" && math.IsInf(o.speed, 1):
		return o, usagef("--speed max needs simulated time, which only --backend sim has; with --backend aws give a number such as 1 or 20")
	case o.endpoint != "":
		if u, err := url.Parse(o.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, usagef("--endpoint must be a URL such as http://127.0.0.1:4599, got %q", o.endpoint)
		}
	}
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	interactive := !o.headless && o.jsonPath != "-" && term.IsTerminal(os.Stdin.Fd()) && term.IsTerminal(os.Stdout.Fd())
	cfg := session.Config{File: o.file, Seed: o.seed, Speed: o.speed, Backend: o.backend, Endpoint: o.endpoint}
	if o.jsonPath != "" {
		if cfg.TimelineDir, err = timelineDir(o.jsonPath); err != nil {
			return err
		}
	} else if interactive {
		// The dashboard can export at any time, with the full timeline.
		cfg.TimelineDir = os.TempDir()
	}

	var last *session.Run
	if interactive {
		last, err = dashboard(ctx, cfg, o)
	} else {
		last, err = session.Start(ctx, cfg, o.scenario, nil)
		if err == nil {
			last.Engine.Subscribe(plain.New(human, o.scenario, last.Backend.Label))
			err = last.Engine.Run(ctx)
		}
	}
	if last != nil {
		defer last.Close()
	}
	stop() // a second Ctrl-C during the write-out kills the process as usual
	if err != nil {
		return err
	}

	rec := last.Recorder
	plain.WriteSummary(human, last.Scenario, rec.Summary(), rec.Interrupted())
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

// dashboard runs the live dashboard. Each run goes on in the background;
// the dashboard can stop it and start another (a re-run, or another
// scenario). Quitting stops the current run the way Ctrl-C does, and that
// run is returned, ended, so it is still summarised and written.
func dashboard(ctx context.Context, cfg session.Config, o runOptions) (*session.Run, error) {
	runs := &dashboardRuns{ctx: ctx, cfg: cfg}
	first, err := runs.Start(o.scenario.Name, nil, o.speed)
	if err != nil {
		return nil, err
	}
	model := tui.New(first, tui.Session{Runner: runs, ExportPath: o.jsonPath})
	_, uiErr := tea.NewProgram(model, tea.WithContext(ctx)).Run()
	last := runs.stop()
	if uiErr != nil && !errors.Is(uiErr, tea.ErrProgramKilled) && !errors.Is(uiErr, context.Canceled) {
		return last, fmt.Errorf("the dashboard stopped: %w; --headless gives plain output", uiErr)
	}
	return last, nil
}

// dashboardRuns starts the dashboard's runs, one at a time.
type dashboardRuns struct {
	ctx context.Context
	cfg session.Config

	mu      sync.Mutex
	current *session.Run
	cancel  context.CancelFunc
	done    chan error
}

// Scenarios lists what the picker offers.
func (d *dashboardRuns) Scenarios() []*scenarios.Scenario { return d.cfg.File.Scenarios }

// Start prepares the next run first, so a backend that cannot be reached
// leaves the current run on screen, then stops the current run and starts
// the new one.
func (d *dashboardRuns) Start(name string, rpm map[engine.BucketID]scenarios.RPM, speed float64) (*tui.Run, error) {
	s, err := d.cfg.File.Lookup(name)
	if err != nil {
		return nil, err
	}
	cfg := d.cfg
	cfg.Speed = speed
	next, err := session.Start(d.ctx, cfg, s, rpm)
	if err != nil {
		return nil, err
	}
	if prev := d.stop(); prev != nil {
		prev.Close()
	}
	feed := &tui.Feed{}
	next.Engine.Subscribe(feed)
	ctx, cancel := context.WithCancel(d.ctx)
	done := make(chan error, 1)
	d.mu.Lock()
	d.current, d.cancel, d.done = next, cancel, done
	d.mu.Unlock()
	go func() { done <- next.Engine.Run(ctx) }()

	return &tui.Run{
		Feed:     feed,
		Controls: next.Engine,
		Options: tui.Options{Scenario: s, Badge: next.Backend.Badge, Backend: next.Backend.Detail, Live: next.Backend.Live(),
			Seed: cfg.Seed, Speed: speed, AccountIDs: next.Backend.AccountIDs},
		Export: next.Recorder.WriteFile,
	}, nil
}

// stop interrupts the current run, waits for it to end, and returns it.
func (d *dashboardRuns) stop() *session.Run {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.current == nil {
		return nil
	}
	d.cancel()
	<-d.done
	return d.current
}

// timelineDir checks, before anything is sent, that the export can be
// written, and returns where to spool the event timeline: next to it, so
// the final rename stays on one file system.
func timelineDir(path string) (string, error) {
	dir := os.TempDir()
	if path != "-" {
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return "", usagef("--json %s is a directory; give a file name such as %s", path, filepath.Join(path, "run.json"))
		}
		dir = filepath.Dir(path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return "", usagef("--json %s cannot be written: directory %s does not exist; create it or choose another path", path, dir)
		}
	}
	probe, err := os.CreateTemp(dir, ".spillway-probe-*")
	if err != nil {
		return "", usagef("--json %s cannot be written: %s is not writable (%v); choose a path in a writable directory", path, dir, errors.Unwrap(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	return dir, nil
}

func emulatorCommand(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("emulator", stderr)
	addr := fs.String("addr", "127.0.0.1:4599", "loopback address to listen on")
	file := fs.String("scenarios", "", "scenario file")
	speed := fs.String("speed", "1", "divide simulated latencies and log delays by X")
	seed := fs.String("seed", "42", "seed for simulated randomness")
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(rest) > 0 {
		return usagef("emulator takes no arguments, got %q", rest)
	}
	x, err := parseSpeed(*speed)
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(*seed, 10, 64)
	if err != nil {
		return usagef("--seed must be a whole number, got %q", *seed)
	}
	f, err := loadScenarios(*file)
	if err != nil {
		return err
	}
	sleep := !math.IsInf(x, 1)
	emu := emulator.New(emulator.World(f, x), f.Models, n, time.Now(), emulator.Options{
		Sleep:     sleep,
		QueryTime: time.Duration(float64(500*time.Millisecond) / max(x, 1)),
	})
	endpoint, err := emu.Listen(*addr)
	if err != nil {
		return usageError{err}
	}
	defer emu.Close()
	dir, err := os.MkdirTemp("", "spillway-emulator-")
	if err != nil {
		return fmt.Errorf("creating a directory for the emulator's AWS profiles: %w", err)
	}
	defer os.RemoveAll(dir)
	creds, conf, err := emu.WriteProfiles(dir)
	if err != nil {
		return fmt.Errorf("writing the emulator's AWS profiles: %w", err)
	}

	fmt.Fprintf(stdout, "Spillway emulator — SIMULATED Amazon Bedrock Runtime, CloudWatch Logs and STS (not AWS)\n")
	fmt.Fprintf(stdout, "  endpoint   %s\n", endpoint)
	fmt.Fprintf(stdout, "  accounts   every account of every scenario in %s\n", f.Path)
	fmt.Fprintf(stdout, "  pace       speed %s (latencies and log delays divided by it), seed %d\n", plain.Speed(x), n)
	fmt.Fprintf(stdout, "  secret     %s (the same for every account; signatures are not checked)\n\n", emulator.SecretAccessKey)
	fmt.Fprintf(stdout, "  %-10s %-10s %-20s %-10s %s\n", "account", "profile", "access key id", "id", "region")
	for _, a := range emu.Accounts() {
		fmt.Fprintf(stdout, "  %-10s %-10s %-20s %-10s %s\n", a.Name, a.Profile, a.AccessKeyID, scenarios.MaskAccountID(a.AccountID), a.Region)
	}
	fmt.Fprintf(stdout, "\nProfiles for every account are in %s. In another shell:\n\n", dir)
	fmt.Fprintf(stdout, "  export AWS_SHARED_CREDENTIALS_FILE=%s AWS_CONFIG_FILE=%s\n", creds, conf)
	fmt.Fprintf(stdout, "  spillway run account-sharding --headless --backend aws --endpoint %s --speed %s\n", endpoint, *speed)
	fmt.Fprintf(stdout, "  aws sts get-caller-identity --endpoint-url %s\n", endpoint)
	fmt.Fprintf(stdout, "  aws bedrock-runtime converse --endpoint-url %s --model-id us.anthropic.claude-sonnet-4-20250514-v1:0 \\\n", endpoint)
	fmt.Fprintf(stdout, "      --messages '[{\"role\":\"user\",\"content\":[{\"text\":\"hello\"}]}]'\n")
	fmt.Fprintf(stdout, "\nServing until Ctrl-C.\n")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	fmt.Fprintf(stdout, "Emulator stopped.\n")
	return nil
}
