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
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/charmbracelet/x/term"

	"spillway/engine"
	"spillway/engine/bedrock"
	"spillway/engine/emulator"
	"spillway/engine/record"
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
  --headless          plain line-by-line output (the only output until the dashboard lands)
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
  spillway                                     the default scenario, in real time
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
	rec := record.New(record.Meta{})
	defer rec.Close()
	if o.jsonPath != "" {
		if err := prepareJSON(rec, o.jsonPath); err != nil {
			return err
		}
	}
	conn, err := connectBackend(ctx, o)
	if err != nil {
		return err
	}
	defer conn.close()
	rec.SetMeta(conn.meta)

	eng, err := engine.New(o.scenario, engine.Options{
		Seed:    o.seed,
		Speed:   o.speed,
		Backend: conn.client,
		Logs:    conn.client,
	})
	if err != nil {
		return usageError{err}
	}
	eng.Subscribe(rec)
	if o.headless || o.jsonPath == "-" || !term.IsTerminal(os.Stdin.Fd()) || !term.IsTerminal(os.Stdout.Fd()) {
		eng.Subscribe(plain.New(human, o.scenario, conn.label))
		err = eng.Run(ctx)
	} else {
		err = dashboard(ctx, eng, o, conn)
	}
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

// dashboard runs the engine under the live dashboard. The run goes on in
// the background; quitting the dashboard stops it the way Ctrl-C does, so
// what was recorded is still summarised and written.
func dashboard(ctx context.Context, eng *engine.Engine, o runOptions, conn *backend) error {
	feed := &tui.Feed{}
	eng.Subscribe(feed)
	ids := map[string]string{}
	for _, a := range conn.client.Accounts() {
		ids[a.Spec.Name] = a.AccountID
	}
	model := tui.New(feed, eng, tui.Options{Scenario: o.scenario, Badge: conn.badge, Backend: conn.detail, Live: conn.meta.Backend == "aws",
		Seed: o.seed, Speed: o.speed, AccountIDs: ids})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	_, uiErr := tea.NewProgram(model, tea.WithContext(ctx)).Run()
	cancel()
	if err := <-done; err != nil {
		return err
	}
	if uiErr != nil && !errors.Is(uiErr, tea.ErrProgramKilled) && !errors.Is(uiErr, context.Canceled) {
		return fmt.Errorf("the dashboard stopped: %w; --headless gives plain output", uiErr)
	}
	return nil
}

// backend is what a run talks to: SDK clients, and the embedded emulator
// when there is one.
type backend struct {
	client *bedrock.Client
	badge  string // SIMULATED, EMULATOR or LIVE AWS
	detail string // the rest of the header line
	label  string // badge and detail: the header line that says which backend this is
	meta   record.Meta
	close  func()
}

// connectBackend starts the embedded emulator for --backend sim, and loads
// every account's SDK clients.
func connectBackend(ctx context.Context, o runOptions) (*backend, error) {
	b := &backend{close: func() {}}
	target := bedrock.Target{Endpoint: o.endpoint}
	if o.backend == "sim" {
		emu := emulator.New(o.scenario, o.file.Models, o.seed, time.Now(), emulator.Options{})
		url, err := emu.Listen("127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("starting the embedded emulator: %w", err)
		}
		b.close = func() { emu.Close() }
		target = bedrock.Target{
			Endpoint: url,
			Virtual:  true,
			Credentials: func(a scenarios.Account) aws.CredentialsProvider {
				return credentials.NewStaticCredentialsProvider(emulator.AccessKeyID(a.Name), emulator.SecretAccessKey, "")
			},
		}
	}
	client, err := bedrock.Connect(ctx, o.scenario, target)
	if err != nil {
		b.close()
		if o.backend == "sim" {
			return nil, fmt.Errorf("the embedded emulator did not answer: %w; this is a bug, please report it", err)
		}
		return nil, err
	}
	b.client = client
	var accounts []string
	for _, a := range client.Accounts() {
		accounts = append(accounts, fmt.Sprintf("%s %s (%s)", a.Spec.Name, a.Masked(), a.Spec.Region))
	}
	switch {
	case o.backend == "sim":
		b.badge, b.detail = "SIMULATED", "embedded emulator at "+target.Endpoint+" via aws-sdk-go-v2; no AWS calls, no credentials"
		b.meta = record.Meta{Backend: "simulated", Endpoint: target.Endpoint}
	case o.endpoint != "":
		b.badge, b.detail = "EMULATED ENDPOINT", o.endpoint+" via aws-sdk-go-v2, not AWS — accounts "+strings.Join(accounts, ", ")
		b.meta = record.Meta{Backend: "endpoint", Endpoint: o.endpoint}
	default:
		b.badge, b.detail = "LIVE AWS", "Amazon Bedrock and CloudWatch Logs; accounts "+strings.Join(accounts, ", ")
		b.meta = record.Meta{Backend: "aws"}
	}
	b.label = b.badge + " — " + b.detail
	if o.endpoint != "" {
		b.label = b.badge + " " + b.detail
	}
	return b, nil
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
